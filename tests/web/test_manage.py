"""The manage page end to end: the link in the email, lists on and off, the data download, erasure."""

from __future__ import annotations

import base64
import json
import logging
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from starlette.testclient import TestClient

from digest.app.context import Context
from digest.cli import main
from digest.compose import sign_manage_token, sign_token
from digest.web.server import create_app
from tests.conftest import SAMPLE

LOCAL = "http://127.0.0.1"
SAME_ORIGIN = {"Origin": LOCAL, "Content-Type": "application/x-www-form-urlencoded"}
READER = "grace@example.org"


def _mails_to(outbox: Path, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted((outbox / "new").iterdir()):
        message = message_from_bytes(path.read_bytes(), policy=default)
        if address in str(message["To"]):
            found.append(message)
    return found  # type: ignore[return-value]


def _two_lists(workspace: Path, runner) -> None:
    """example.csv and monthly.csv both have the reader; issue 1 goes to `example`."""
    (workspace / "subscribers" / "monthly.csv").write_text("email,name\ngrace@example.org,Grace Hopper\n"
                                                           "ada@example.com,Ada Lovelace\n")
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", "example"])
    assert sent.exit_code == 0, sent.output + sent.stderr


def _next_issue(workspace: Path, runner) -> None:
    (workspace / "pages" / SAMPLE.name).write_text("A Second Story\n\nSource: Wire | 2026-11-27\n\n"
                                                   "Something else happened this week.\n")
    assert runner.invoke(main, ["build"]).exit_code == 0


def test_every_email_carries_its_readers_manage_link(workspace: Path, runner):
    _two_lists(workspace, runner)
    [mail] = _mails_to(workspace / "outbox", READER)
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    with Context(workspace) as ctx:
        url = f"https://news.example.com/manage/{sign_manage_token(ctx.secret, email=READER)}"
    assert f'href="{url}"' in html and "Manage your subscription" in html
    assert f"Manage your subscription: {url}" in text
    [other] = _mails_to(workspace / "outbox", "ada@example.com")
    assert url not in other.get_body(("html",)).get_content()  # each reader their own link


def test_untick_a_list_and_only_that_list_stops(workspace: Path, runner):
    _two_lists(workspace, runner)
    ws = Context(workspace)
    token = sign_manage_token(ws.secret, email=READER)
    client = TestClient(create_app(ws), base_url=LOCAL)
    page = client.get(f"/manage/{token}")
    assert page.status_code == 200
    assert "g***@e***.org" in page.text and READER not in page.text  # masked
    assert re.search(r'value="example" checked', page.text) and re.search(r'value="monthly" checked', page.text)
    assert client.post(f"/manage/{token}", content=b"list=monthly&action=save",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 403  # no Origin
    assert client.post(f"/manage/{token}", content=b"list=monthly&action=save",
                       headers={**SAME_ORIGIN, "Origin": "https://evil.example"}).status_code == 403
    assert ws.store.is_suppressed(READER) is False  # refused POSTs changed nothing
    saved = client.post(f"/manage/{token}", content=b"list=monthly&action=save", headers=SAME_ORIGIN)
    assert saved.status_code == 200 and "Your choice is saved" in saved.text
    assert 'value="example">' in saved.text and 'value="monthly" checked' in saved.text
    assert ws.store.is_suppressed(READER, list_name="example")
    assert not ws.store.is_suppressed(READER, list_name="monthly")
    ws.close()
    _next_issue(workspace, runner)
    before = len(_mails_to(workspace / "outbox", READER))
    assert runner.invoke(main, ["send", "--list", "example"]).exit_code == 0
    assert len(_mails_to(workspace / "outbox", READER)) == before  # left example
    assert runner.invoke(main, ["send", "--list", "monthly"]).exit_code == 0
    assert len(_mails_to(workspace / "outbox", READER)) == before + 1  # monthly still reaches them
    ws = Context(workspace)
    client = TestClient(create_app(ws), base_url=LOCAL)
    back = client.post(f"/manage/{token}", content=b"list=monthly&list=example&action=save", headers=SAME_ORIGIN)
    assert back.status_code == 200 and not ws.store.is_suppressed(READER, list_name="example")
    everything = client.post(f"/manage/{token}", content=b"action=everything", headers=SAME_ORIGIN)
    assert "every list" in everything.text
    assert ws.store.is_suppressed(READER, list_name="example") and ws.store.is_suppressed(READER, list_name="monthly")


def test_bad_tokens_get_one_answer_and_get_changes_nothing(workspace: Path, runner):
    _two_lists(workspace, runner)
    ws = Context(workspace)
    client = TestClient(create_app(ws), base_url=LOCAL)
    unsubscribe = sign_token(ws.secret, email=READER, list_name="example", issue=1)
    token = sign_manage_token(ws.secret, email=READER)
    for bad in (unsubscribe, token[:-2] + "AA", "x", token + ".x"):
        assert client.get(f"/manage/{bad}").status_code == 400
        assert client.post(f"/manage/{bad}/erase", content=b"confirm=yes", headers=SAME_ORIGIN).status_code == 400
    assert client.get(f"/manage/{token}/erase").status_code == 200  # asks, and that is all
    assert "grace" in (workspace / "subscribers" / "example.csv").read_text()
    assert client.post(f"/manage/{token}/erase", content=b"", headers=SAME_ORIGIN).status_code == 400  # no confirm
    assert client.post(f"/manage/{token}/erase", content=b"confirm=yes",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 403
    assert "grace" in (workspace / "subscribers" / "example.csv").read_text()


def test_data_download_names_the_address_and_what_was_sent(workspace: Path, runner):
    _two_lists(workspace, runner)
    ws = Context(workspace)
    client = TestClient(create_app(ws), base_url=LOCAL)
    got = client.get(f"/manage/{sign_manage_token(ws.secret, email=READER)}/data")
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    assert "attachment" in got.headers["content-disposition"]
    data = json.loads(got.text)
    assert data["email"] == READER
    assert data["lists"] == {"example": True, "monthly": True}
    assert data["list_files"] == {"example": 1, "monthly": 1}
    assert [(s["issue"], s["list"], s["status"]) for s in data["sends"]] == [(1, "example", "sent")]


def _files_naming(root: Path, address: str) -> list[str]:
    needle = address.encode()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "outbox" not in p.relative_to(root).parts and needle in p.read_bytes().lower())


def test_erasure_leaves_the_address_in_no_file_and_an_old_list_skips_them(workspace: Path, runner):
    _two_lists(workspace, runner)
    old_list = (workspace / "subscribers" / "example.csv").read_bytes()
    bounces = workspace / "bounces" / "new"
    bounces.mkdir(parents=True)
    (bounces / "1.report").write_bytes(b"From: MAILER-DAEMON@mx.example\r\nSubject: failure\r\n\r\n"
                                       b"550 5.1.1 <Grace@Example.org>: no such user\r\n")
    (bounces / "2.other").write_bytes(b"From: MAILER-DAEMON@mx.example\r\n\r\n550 <linus@example.com>\r\n")
    encoded = base64.b64encode(b"Final-Recipient: rfc822; grace@example.org\r\n").decode()
    (bounces.parent / "cur").mkdir()
    (bounces.parent / "cur" / "3.encoded").write_bytes(
        b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + encoded.encode() + b"\r\n")
    ws = Context(workspace)
    assert ws.store.suppress(READER, reason="unsubscribed", list_name="monthly")
    client = TestClient(create_app(ws), base_url=LOCAL)
    token = sign_manage_token(ws.secret, email=READER)
    assert _files_naming(workspace, READER)  # the lists, the database, the bounce report
    done = client.post(f"/manage/{token}/erase", content=b"confirm=yes", headers=SAME_ORIGIN)
    assert done.status_code == 200 and "Your data is erased" in done.text
    ws.close()
    assert _files_naming(workspace, READER) == []
    assert (workspace / "subscribers" / "example.csv").read_bytes() == old_list.replace(
        b"grace@example.org,Grace Hopper\n", b"")
    assert (bounces / "2.other").exists() and not (bounces / "1.report").exists()
    assert not (bounces.parent / "cur" / "3.encoded").exists()  # named only inside an encoded part
    (workspace / "subscribers" / "example.csv").write_bytes(old_list)  # an old copy of the list comes back
    check = runner.invoke(main, ["subscribers", "check", "subscribers/example.csv"])
    assert "1 row(s) skipped as erased" in check.output
    imported = runner.invoke(main, ["subscribers", "import", "subscribers/example.csv", "--list", "again"])
    assert "1 skipped as erased" in imported.output
    assert READER not in (workspace / "subscribers" / "again.csv").read_text()
    _next_issue(workspace, runner)
    dry = runner.invoke(main, ["send", "--list", "example", "--dry-run"])
    assert "2 message(s) would be sent" in dry.output and "1 erased on request" in dry.output, dry.output
    sent = runner.invoke(main, ["send", "--list", "example"])
    assert sent.exit_code == 0 and "1 row(s) of the lists skipped: erased on request" in sent.output
    assert len(_mails_to(workspace / "outbox", READER)) == 1  # only issue 1, from before the erasure
    with Context(workspace) as ctx:
        assert ctx.store.campaign_status(ctx.store.campaigns_of(1)[0], now=0).counts["sent"] == 3  # counts kept


def test_operator_erases_by_command(workspace: Path, runner, caplog):
    _two_lists(workspace, runner)
    with caplog.at_level(logging.INFO, logger="digest.erase"):
        result = runner.invoke(main, ["subscribers", "erase", "Grace@Example.org", "--yes"])
    assert result.exit_code == 0 and "erased" in result.output, result.output + result.stderr
    [logged] = [r.getMessage() for r in caplog.records if r.name == "digest.erase"]
    assert "erased one reader" in logged and "list row(s) removed" in logged and "grace" not in logged.lower()
    assert _files_naming(workspace, READER) == []
    refused = runner.invoke(main, ["subscribers", "erase", "not an address", "--yes"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output + refused.stderr


def test_an_erased_reader_who_opts_in_again_is_sent_again(workspace: Path, runner):
    import time

    from digest.back.signup import limits_for, make_link_token
    from digest.store.signups import SignupRequest

    _two_lists(workspace, runner)
    assert runner.invoke(main, ["subscribers", "erase", READER, "--yes"]).exit_code == 0
    ws = Context(workspace)
    assert ws.store.erased_hashes()
    _, signup_id = ws.store.request_signup(SignupRequest("example", READER, "Grace", "https://x", "10.0.0.9"),
                                           now=time.time(), limits=limits_for(ws.settings.signup))
    signup = ws.store.signup(signup_id)
    client = TestClient(create_app(ws), base_url=LOCAL)
    assert "You are subscribed" in client.post(f"/confirm/{make_link_token(ws.secret, signup)}").text
    assert ws.store.erased_hashes() == set()
    ws.close()
    _next_issue(workspace, runner)
    sent = runner.invoke(main, ["send", "--list", "example"])
    assert sent.exit_code == 0 and "erased on request" not in sent.output
    assert len(_mails_to(workspace / "outbox", READER)) == 2


def test_a_manage_post_without_the_pages_own_action_changes_nothing(workspace: Path, runner):
    _two_lists(workspace, runner)
    ws = Context(workspace)
    token = sign_manage_token(ws.secret, email=READER)
    client = TestClient(create_app(ws), base_url=LOCAL)
    for body in (b"action=typo", b"%%%%", b"list=monthly"):
        assert client.post(f"/manage/{token}", content=body, headers=SAME_ORIGIN).status_code == 400
    assert ws.store.is_suppressed(READER, list_name="example") is False
    assert ws.store.is_suppressed(READER, list_name="monthly") is False


def test_erasure_keeps_other_readers_bounces_the_files_mode_and_odd_line_breaks(workspace: Path, runner):
    import os
    import stat

    _two_lists(workspace, runner)
    for sub in ("new", "cur", "tmp"):
        (workspace / "bounces" / sub).mkdir(parents=True, exist_ok=True)
    (workspace / "bounces" / "new" / "other").write_text("Subject: f\n\nCould not deliver to <joann@example.org>\n"
                                                          "nor to grace@example.org.au\n")
    (workspace / "bounces" / "new" / "hers").write_text("Subject: f\n\nCould not deliver to <grace@example.org>\n")
    private = workspace / "subscribers" / "private.csv"
    private.write_text("email,name\ngrace@example.org,Gra\u2028ce\nkim@example.com,Kim\n")
    private.chmod(0o600)
    result = runner.invoke(main, ["subscribers", "erase", READER, "--yes"])
    assert result.exit_code == 0, result.output + result.stderr
    assert sorted(p.name for p in (workspace / "bounces" / "new").iterdir()) == ["other"]
    assert private.read_text() == "email,name\nkim@example.com,Kim\n"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600


def test_two_erasures_at_once_both_leave_the_list(workspace: Path):
    import subprocess
    import sys

    rows = "".join(f"user{i}@example.com,U{i}\n" for i in range(60000))
    (workspace / "subscribers" / "big.csv").write_text("email,name\n" + rows)
    erasers = [subprocess.Popen([sys.executable, "-m", "digest", "subscribers", "erase", "--yes", address],
                                cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for address in ("user111@example.com", "user112@example.com")]
    for eraser in erasers:
        _, err = eraser.communicate(timeout=300)
        assert eraser.returncode == 0, err
    text = (workspace / "subscribers" / "big.csv").read_text()
    assert "user111@example.com" not in text and "user112@example.com" not in text
    assert "user113@example.com" in text


def test_an_unsubscribe_on_the_manage_page_counts_as_such_in_the_report(workspace: Path, runner):
    _two_lists(workspace, runner)
    ws = Context(workspace)
    token = sign_manage_token(ws.secret, email=READER)
    client = TestClient(create_app(ws), base_url=LOCAL)
    assert client.post(f"/manage/{token}", content=b"list=monthly&action=save", headers=SAME_ORIGIN).status_code == 200
    report = runner.invoke(main, ["report", "--json"])
    assert report.exit_code == 0, report.output + report.stderr
    [issue] = [i for i in json.loads(report.output)["issues"] if i["issue"] == 1]
    assert issue["unsub_manage"] == 1 and issue["unsub_link"] == 0, issue
