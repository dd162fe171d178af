"""Signups end to end: a real uvicorn, the embedded mailbox, the confirmation link, the next send."""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from digest.app.context import Context
from digest.back.signup import make_link_token
from digest.cli import main
from digest.store.signups import SignupLimits, SignupRequest
from digest.web.server import create_app
from tests.conftest import point_smtp_at
from tests.helpers.web import confirm_link, confirmations, http_request
from tests.web_helpers import ThreadedUvicorn


def test_signup_confirm_and_the_next_send_reaches_them(workspace: Path, runner, recorder):
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        form = http_request(web.url + "/subscribe")
        assert form[0] == 200 and 'name="email"' in form[1] and 'autocomplete="email"' in form[1]
        status, body = http_request(web.url + "/subscribe",
                                    b"email=New.Reader%40example.net&name=New+Reader&list=example",
                                    headers={"Referer": "https://blog.example.org/join"})
        assert status == 200 and "Check your inbox" in body
        [mail] = confirmations(workspace / "outbox", 1)
        assert mail["Message-ID"].startswith("<digest.confirm.")
        assert mail["To"] == "New.Reader@example.net" and "weekly@news.example.com" in mail["From"]
        assert mail["Auto-Submitted"] == "auto-generated"
        html_part = mail.get_body(("html",)).get_content()
        assert "Confirm your subscription" in html_part and "/confirm/" in html_part
        path = confirm_link(mail)
        page = http_request(web.url + path)
        assert page[0] == 200 and "Yes, subscribe me" in page[1]
        with Context(workspace) as ctx:
            assert list(ctx.store.members("example")) == []  # opening the link alone confirms nothing
        done = http_request(web.url + path, b"")
        assert done[0] == 200 and "You are subscribed" in done[1]
        assert http_request(web.url + path, b"")[0] == 410  # replayed
        assert http_request(web.url + path)[0] == 410
    with Context(workspace) as ctx:
        [member] = list(ctx.store.members("example"))
        assert (member.email, member.name, member.source) == ("New.Reader@example.net", "New Reader",
                                                              "https://blog.example.org/join")
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", "example"])  # the list by NAME: its CSV and its signups
    assert sent.exit_code == 0, sent.output + sent.stderr
    assert sorted(r.rcpt_tos[0] for r in handler.received) == [
        "New.Reader@example.net", "ada@example.com", "grace@example.org", "linus@example.com"]
    export = runner.invoke(main, ["subscribers", "export", "example", "--consent"])
    assert export.output.splitlines()[0] == "email,name,consented_at,confirmed_at,source,client"
    assert export.output.splitlines()[1].startswith("New.Reader@example.net,New Reader,")


def test_forged_expired_and_malformed_links_are_refused(workspace: Path):
    with Context(workspace) as ctx:
        now = time.time()
        _, old = ctx.store.request_signup(SignupRequest("example", "old@example.com"), now=now - 8 * 86400,
                                          limits=SignupLimits())
        _, fresh = ctx.store.request_signup(SignupRequest("example", "fresh@example.com"), now=now,
                                            limits=SignupLimits())
        expired = make_link_token(ctx.secret, ctx.store.signup(old))  # type: ignore[arg-type]
        good = make_link_token(ctx.secret, ctx.store.signup(fresh))  # type: ignore[arg-type]
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        assert http_request(f"{web.url}/confirm/{expired}", b"")[0] == 410
        assert http_request(f"{web.url}/confirm/{forged}", b"")[0] == 400
        assert http_request(f"{web.url}/confirm/{'1.' + good.split('.', 1)[1]}", b"")[0] == 400  # another signup
        assert http_request(f"{web.url}/confirm/%3Cscript%3E", b"")[0] == 400
        assert http_request(f"{web.url}/confirm/{good}", b"")[0] == 200
    with Context(workspace) as ctx:
        assert [m.email for m in ctx.store.members("example")] == ["fresh@example.com"]


def test_the_answer_is_the_same_whatever_the_address(workspace: Path):
    with Context(workspace) as ctx:
        ctx.store.suppress("gone@example.com", reason="bounced")
        _, sid = ctx.store.request_signup(SignupRequest("example", "member@example.com"), now=time.time(),
                                          limits=SignupLimits())
        ctx.store.confirm_signup(sid, now=time.time())  # type: ignore[arg-type]
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        answers = set()
        for address in ("member@example.com", "gone@example.com", "nobody@example.com", "member@example.com",
                        "member@example.com", "member@example.com"):  # the last ones pass the daily limit
            status, body = http_request(web.url + "/subscribe", f"email={address}&list=example".encode())
            answers.add((status, body.replace(address, "ADDRESS")))
            status, body = http_request(web.url + "/subscribe",
                                        json.dumps({"email": address, "list": "example"}).encode(), "application/json")
            answers.add((status, body.replace(address, "ADDRESS")))
        # a bot filling the honeypot gets the same answer, and nothing is recorded
        status, body = http_request(web.url + "/subscribe",
                                    b"email=bot%40example.com&list=example&website=http%3A%2F%2Fx")
        answers.add((status, body.replace("bot@example.com", "ADDRESS")))
        assert len({a for a in answers if a[1].startswith("<")}) == 1
        assert len({a for a in answers if a[1].startswith("{")}) == 1
        assert http_request(web.url + "/subscribe", b"email=not-an-address&list=example")[0] == 400
        assert http_request(web.url + "/subscribe", b"email=a%40example.com&list=secret")[0] == 400
        assert http_request(web.url + "/subscribe", b"x" * 10_000)[0] == 413
    with Context(workspace) as ctx:
        assert ctx.store.signup(99) is None
        assert {m.email for m in ctx.store.members("example")} == {"member@example.com"}
        assert ctx.store.is_suppressed("gone@example.com")  # only a confirmed new opt-in lifts it


def test_a_hundred_concurrent_signups_lose_nothing(workspace: Path):
    with (workspace / "digest.toml").open("a") as f:
        f.write("\n[signup]\nper_client = 1000\nmax_pending = 1000\n")
    emails = [f"reader{i:03d}@example.com" for i in range(100)]
    # Every request comes from 127.0.0.1, and one client may have 32 requests in progress at once
    # (digest serve's flood limit, tested in tests/web/test_flood.py): 30 at a time stay under it.
    at_once = threading.BoundedSemaphore(30)
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        results: list[int] = []

        def sign_up(email: str) -> None:
            with at_once:
                results.append(http_request(web.url + "/subscribe", f"email={email}&list=example".encode())[0])

        threads = [threading.Thread(target=sign_up, args=(e,)) for e in emails]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 100
        mails = confirmations(workspace / "outbox", 100, timeout=120)
        assert sorted(str(m["To"]) for m in mails) == emails
        confirmed: list[int] = []

        def confirm(path: str) -> None:
            with at_once:
                confirmed.append(http_request(web.url + path, b"")[0])

        threads = [threading.Thread(target=confirm, args=(confirm_link(m),)) for m in mails]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert confirmed == [200] * 100
    with Context(workspace) as ctx:
        assert sorted(m.email for m in ctx.store.members("example")) == emails


def test_the_client_limit_answers_429(workspace: Path):
    with (workspace / "digest.toml").open("a") as f:
        f.write("\n[signup]\nper_client = 2\n")
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        codes = [http_request(web.url + "/subscribe", f"email=c{i}%40example.com&list=example".encode())[0]
                 for i in range(3)]
    assert codes == [200, 200, 429]


def test_the_confirmation_templates_are_overridable_and_escape_what_they_fill(workspace: Path):
    from digest.back.signup import ConfirmationMail

    (workspace / "templates").mkdir()
    (workspace / "templates" / "confirm.txt.j2").write_text("Hello from {{ newsletter.name }}: {{ confirm_url }}\n")
    with Context(workspace) as ctx:
        _, sid = ctx.store.request_signup(SignupRequest("example", 'x"<b>@example.com'), now=time.time(),
                                          limits=SignupLimits())
        signup = ctx.store.signup(sid)  # type: ignore[arg-type]
        message = ConfirmationMail(ctx).compose(signup, "https://news.example.com/confirm/t?a=1&b=2")  # type: ignore[arg-type]
    mail = message_from_bytes(message.data, policy=default)
    assert mail.get_body(("plain",)).get_content().startswith("Hello from Science & Cooperation Weekly: https://")
    page = mail.get_body(("html",)).get_content()
    assert "confirm/t?a=1&amp;b=2" in page and "<b>@" not in page
    assert message.sender.startswith("bounces+c0.") and message.message_id.startswith("<digest.confirm.")
