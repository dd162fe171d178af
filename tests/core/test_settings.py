"""digest.toml values that used to give tracebacks or malformed mail: an error naming the key, or a safe form.

Every section: [newsletter], [smtp], [theme], [bounces], [inbox], [signup].
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.cli import main
from digest.core.errors import ConfigError
from digest.core.settings import load_settings
from tests.conftest import point_smtp_at
from tests.helpers.settings import set_value


@pytest.mark.parametrize("section, line, words", [
    ("smtp", "timeout = nan", "timeout"),
    ("smtp", "timeout = inf", "timeout"),
    ("smtp", "timeout = -1", "timeout"),
    ("smtp", "timeout = 0", "timeout"),
    ("smtp", "data_timeout = -inf", "data_timeout"),
    ("newsletter", 'name = "Weekly\u2028Bcc: x@evil.example"', "name"),
    ("newsletter", 'name = "Weekly\u0085News"', "name"),
    ("newsletter", 'subject = "{lead_title:>999999999999}"', "subject"),
    ("newsletter", 'subject = "{lead_title!r}"', "subject"),
    ("newsletter", 'subject = "{lead_title.__class__}"', "subject"),
    ("newsletter", 'from = "a@b.c, evil@x.y"', "from"),
    ("newsletter", 'from = "News <a@b.c> evil@x.y"', "from"),
    ("newsletter", 'reply_to = "a@b.c, evil@x.y"', "reply_to"),
    ("newsletter", 'from = "nobody"', "from"),
    ("newsletter", 'list_id = "bad id <x@y>"', "list_id"),
    ("newsletter", 'list_id = "nodots"', "list_id"),
    ("newsletter", f'list_id = "{"a" * 250}.example.com"', "list_id"),
    ("newsletter", 'base_url = "https://news.example.com/?x=1"', "base_url"),
    ("newsletter", 'base_url = "https://news.example.com/\\"onclick=\\"x"', "base_url"),
    ("newsletter", 'base_url = "javascript:alert(1)"', "base_url"),
    ("newsletter", 'language = "en\\" onload=\\"x"', "language"),
    ("smtp", 'host = "smtp.example.com; rm -rf"', "host"),
    ("theme", 'font_family = "Arial; } body { display:none"', "font_family"),
    ("bounces", 'address = "b@x.example> NOTIFY=NEVER"', "address"),
    ("bounces", 'address = "b@x.example NOTIFY=NEVER"', "address"),
    ("bounces", 'address = "b@x.example>"', "address"),
    ("bounces", 'address = "b@[127.0.0.1]"', "address"),
    ("bounces", 'address = "b@exa mple.com"', "address"),
    ("bounces", 'address = "b@example.com,c@example.com"', "address"),
    ("inbox", "timeout = nan", "timeout"),
    ("inbox", "timeout = -5", "timeout"),
    ("inbox", "timeout = 0", "timeout"),
    ("inbox", "timeout = 1e300", "timeout"),
    ("inbox", "timeout = inf", "timeout"),
    ("inbox", 'host = "a b;c"', "host"),
    ("inbox", 'host = "imap.example.com:993"', "host"),
    ("inbox", 'host = "-imap.example.com"', "host"),
])
def test_bad_values_are_one_line_errors_naming_the_key(workspace: Path, runner, section: str, line: str,
                                                        words: str):
    if section == "inbox":  # [inbox] is read only once it names a host
        set_value(workspace, "inbox", 'host = "imap.example.com"')
    set_value(workspace, section, line)
    with pytest.raises(ConfigError) as caught:
        load_settings(workspace)
    message = str(caught.value)
    assert "digest.toml" in message and f"[{section}] {words}" in message and "\n" not in message, message
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2 and "Traceback" not in result.output + result.stderr
    [error] = result.stderr.strip().splitlines()
    assert error.startswith("digest: error: ") and "digest.toml" in error


def test_idn_sender_and_non_ascii_base_url_build_and_send(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    set_value(workspace, "newsletter", 'from = "Bücherbrief <news@bücher.example>"')
    set_value(workspace, "newsletter", 'base_url = "https://новости.example/архив"')
    settings = load_settings(workspace)
    assert settings.newsletter.sender == "Bücherbrief <news@xn--bcher-kva.example>"
    assert settings.newsletter.base_url == "https://xn--b1amnebsh.example/%D0%B0%D1%80%D1%85%D0%B8%D0%B2"
    built = runner.invoke(main, ["build"])
    assert built.exit_code == 0, built.stderr
    sent = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert sent.exit_code == 0, sent.stderr
    [first, *_] = handler.received
    assert first.mail_from.startswith("bounces+") and first.mail_from.endswith("@xn--bcher-kva.example")  # VERP
    message = first.message
    assert message["From"].addresses[0].domain == "xn--bcher-kva.example"
    assert message["List-Unsubscribe"].startswith("<https://xn--b1amnebsh.example/%D0%B0")
    assert message["Message-ID"].endswith("@xn--bcher-kva.example>")


@pytest.mark.parametrize("stem, expected", [
    ("My List (2026)", "my-list-2026.news.example.com"),
    ("x" * 240, "x" * (255 - len(".news.example.com")) + ".news.example.com"),
    ("Ünïcode list", "n-code-list.news.example.com"),
])
def test_list_ids_from_any_file_name_are_rfc_2919(workspace: Path, runner, recorder, stem: str, expected: str):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    (workspace / "subscribers" / f"{stem}.csv").write_text("email,name\nann@example.com,Ann\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", f"subscribers/{stem}.csv"])
    assert sent.exit_code == 0, sent.stderr
    [received] = handler.received
    header = " ".join(received.message["List-Id"].split())
    match = re.fullmatch(r'(?:"[^"]*"|[^<>"]*) <([^<>]+)>', header)
    assert match, header
    assert match.group(1) == expected
    assert re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+", match.group(1))
    assert len(match.group(1)) <= 255


def test_a_list_id_setting_and_a_name_with_specials(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    set_value(workspace, "newsletter", 'list_id = "weekly.news.example.com"')
    set_value(workspace, "newsletter", 'name = "Dr. Who, <Weekly>"')
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    header = " ".join(handler.received[0].message["List-Id"].split())
    assert header == '"Dr. Who, <Weekly>" <weekly.news.example.com>', header


def test_init_names_with_specials_make_a_valid_workspace(tmp_path: Path, runner):
    for n, name in enumerate(["Smith, Jones Weekly", "Dr. Who's Notes", "Ünïcode <Weekly>"]):
        folder = tmp_path / f"news{n}"
        assert runner.invoke(main, ["init", str(folder), "--name", name]).exit_code == 0
        settings = load_settings(folder)
        assert settings.newsletter.name == name and settings.newsletter.sender_address == "newsletter@example.com"
    refused = runner.invoke(main, ["init", str(tmp_path / "bad"), "--name", "A\u2028Bcc: x"])
    assert refused.exit_code == 2 and not (tmp_path / "bad" / "digest.toml").exists()


def test_an_idn_bounce_address_is_sent_in_its_ascii_form(workspace, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    set_value(workspace, "bounces", 'address = "bounces@bücher.example"')
    assert load_settings(workspace).bounces.address == "bounces@xn--bcher-kva.example"
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert sent.exit_code == 0, sent.output + sent.stderr
    first = handler.received[0]
    assert first.mail_from.startswith("bounces+") and first.mail_from.endswith("@xn--bcher-kva.example")
    assert "<mailto:bounces+" in " ".join(first.message["List-Unsubscribe"].split())
    assert "@xn--bcher-kva.example?subject=" in first.message["List-Unsubscribe"]


def test_an_idn_inbox_host_is_read_in_its_ascii_form(workspace):
    set_value(workspace, "inbox", 'host = "imap.bücher.example"')
    set_value(workspace, "inbox", "timeout = 12.5")
    inbox = load_settings(workspace).inbox
    assert inbox is not None and (inbox.host, inbox.timeout) == ("imap.xn--bcher-kva.example", 12.5)
