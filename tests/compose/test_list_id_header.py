"""List-Id as RFC 2919 wants it, whatever the newsletter's name and however long the id: checked strictly."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default
from pathlib import Path

import pytest

from digest.cli import main
from digest.compose import MessageSkeleton
from digest.core.model import Rendered, Subscriber
from digest.core.settings import Newsletter
from tests.conftest import point_smtp_at
from tests.helpers.settings import set_value

_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_ENCODED_WORD = r"=\?utf-8\?[qQbB]\?[A-Za-z0-9!*+/=_-]+\?="  # RFC 2047 5(3): the characters a phrase allows
_PHRASE = (rf"(?:{_ENCODED_WORD}(?: {_ENCODED_WORD})*"  # encoded-words replace the whole phrase
           r'|"(?:[^"\\\r\n]|\\.)*"'  # a quoted-string
           r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)")  # atoms
_LIST_ID = re.compile(rf"List-Id:(?: ({_PHRASE}))? <({_DOT_ATOM})>")

NAMES = [
    "Bücher, Kunst & Co",
    'Dr. Who, <Weekly> "Special"',
    "Weekly News",
    "Новости недели: всё, что важно, коротко и по делу, каждую пятницу утром",
    "A very long ASCII newsletter name that goes on and on past the line length of seventy-eight",
    "Ümlaut " * 20,
    "=?utf-8?q?not_an_encoded_word?=",
]
IDS = ["weekly.news.example.com", "l" * 200 + ".news.example.com", "x" * 237 + ".news.example.com"]


def strict_list_id(raw_message: bytes) -> tuple[str, str]:
    """(decoded phrase, id) of the message's List-Id, parsed by the RFC 2919 / 2047 / 5322 grammar."""
    head = raw_message.split(b"\r\n\r\n", 1)[0].decode("ascii")
    found = re.search(r"(?m)^List-Id:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", head)
    assert found is not None
    lines = found.group().split("\r\n")
    assert all(len(line) <= 78 or line.strip().startswith("<") for line in lines), lines  # folded before <
    assert all(len(line) <= 998 for line in lines)
    unfolded = "".join(lines)  # RFC 5322 2.2.3: unfolding removes the CRLFs only
    match = _LIST_ID.fullmatch(unfolded)
    assert match, unfolded
    phrase, list_id = match.groups()
    if phrase is None:
        return "", list_id
    if phrase.startswith('"'):
        return re.sub(r"\\(.)", r"\1", phrase[1:-1]), list_id
    return str(make_header(decode_header(phrase))), list_id


def _rendered() -> Rendered:
    return Rendered(number=3, subject="S", preheader="p", html="<p>x</p>\n", text="x\n", marker="dgst000000000000",
                    fields=(), view_url="https://x.example/archive/3")


@pytest.mark.parametrize("list_id", IDS)
@pytest.mark.parametrize("name", NAMES)
def test_list_id_parses_strictly_and_with_the_stdlib(name: str, list_id: str):
    skeleton = MessageSkeleton(_rendered(), Newsletter(name=name, list_id=list_id), secret=b"k" * 32)
    data = skeleton.compose(Subscriber("ann@example.com", "Ann")).data
    phrase, found_id = strict_list_id(data)
    assert found_id == list_id
    assert phrase == " ".join(name.split())
    parsed = message_from_bytes(data, policy=default)
    assert str(parsed["List-Id"]).endswith(f" <{list_id}>")  # the stdlib reads the id as it is
    assert not parsed["List-Id"].defects


def test_a_non_ascii_name_with_a_comma_and_a_long_list_are_sent_well_formed(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    set_value(workspace, "newsletter", 'name = "Bücher, Kunst & Co"')
    stem = "Our " + "very long list name " * 4
    (workspace / "subscribers" / f"{stem}.csv").write_text("email,name\nann@example.com,Ann\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", f"subscribers/{stem}.csv"])
    assert sent.exit_code == 0, sent.stderr
    [received] = handler.received
    phrase, list_id = strict_list_id(received.data)
    assert phrase == "Bücher, Kunst & Co"
    assert list_id == "our" + "-very-long-list-name" * 4 + ".news.example.com"


@pytest.mark.parametrize("subject", ["Harbour \u202eReopens\u202c After Storm", "Harbour\x85Reopens \x9b2J",
                                     "Harbour \u2066Reopens\u2069 \u2028After"])
def test_bidi_overrides_and_c1_controls_never_reach_the_subject(subject: str):
    rendered = Rendered(number=3, subject=subject, preheader="p", html="<p>x</p>\n", text="x\n",
                        marker="dgst000000000000", fields=(), view_url="https://x.example/archive/3")
    data = MessageSkeleton(rendered, Newsletter(), secret=b"k" * 32).compose(Subscriber("a@example.com", "A")).data
    shown = str(message_from_bytes(data, policy=default)["Subject"])
    assert not re.search(r"[\x80-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", shown), ascii(shown)
    assert shown.replace(" ", "").startswith("HarbourReopens")
