"""Signups under attack (a real uvicorn): altered links, absurd settings, hostile bodies, replies and Referers."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from digest.app.context import Context
from digest.back.signup import make_link_token
from digest.cli import main
from digest.core.errors import ConfigError
from digest.core.settings import load_settings
from digest.store.signups import SignupLimits, SignupRequest
from digest.web.server import create_app
from tests.conftest import point_smtp_at
from tests.helpers.settings import set_value
from tests.helpers.web import confirm_link, confirmations, http_request
from tests.web_helpers import ThreadedUvicorn

_SAME_BITS = "AQgw"  # base64url characters whose low 4 bits are 0: the last one of a 128-bit MAC is one of them


def _respellings(token: str) -> list[str]:
    """The same id, expiry and MAC bytes written differently: each decodes as the original did before."""
    signup, expires, mac = token.split(".")
    last = mac[-1]
    index = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(last)
    sibling = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[index + 1]
    return [
        f"{signup}.{expires}.{mac[:-1]}{sibling}",  # unused low bits of the last character
        f"0{signup}.{expires}.{mac}",
        f"{signup}.0{expires}.{mac}",
        f"00{signup}.000{expires}.{mac}",
    ]


def test_a_confirmation_link_has_exactly_one_spelling(workspace: Path):
    with Context(workspace) as ctx:
        _, sid = ctx.store.request_signup(SignupRequest("example", "fresh@example.com"), now=time.time(),
                                          limits=SignupLimits())
        good = make_link_token(ctx.secret, ctx.store.signup(sid))  # type: ignore[arg-type]
    assert good.split(".")[2][-1] in _SAME_BITS
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        for altered in _respellings(good):
            assert http_request(f"{web.url}/confirm/{altered}")[0] == 400, altered
            assert http_request(f"{web.url}/confirm/{altered}", b"")[0] == 400, altered
        with Context(workspace) as ctx:
            assert list(ctx.store.members("example")) == []
        assert http_request(f"{web.url}/confirm/{good}", b"")[0] == 200
    with Context(workspace) as ctx:
        assert [m.email for m in ctx.store.members("example")] == ["fresh@example.com"]


@pytest.mark.parametrize("days", ["0", "366", "1000000000000000"])
def test_confirm_days_is_bounded(workspace: Path, runner, days: str):
    set_value(workspace, "signup", f"confirm_days = {days}")
    with pytest.raises(ConfigError, match=r"\[signup\] confirm_days must be"):
        load_settings(workspace)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2 and "confirm_days" in result.stderr and "Traceback" not in result.output


def test_the_longest_confirm_days_still_makes_working_links(workspace: Path):
    set_value(workspace, "signup", "confirm_days = 365")
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        assert http_request(web.url + "/subscribe", b"email=year%40example.net&list=example")[0] == 200
        path = confirm_link(confirmations(workspace / "outbox", 1)[0])
        assert http_request(web.url + path)[0] == 200
        assert http_request(web.url + path, b"")[0] == 200
    with Context(workspace) as ctx:
        assert [m.email for m in ctx.store.members("example")] == ["year@example.net"]


def test_a_deeply_nested_json_body_is_a_400(workspace: Path):
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        for body in ("[" * 4000 + "]" * 4000, '{"a":' * 1300 + "1" + "}" * 1300, json.dumps({"email": 1})):
            status, text = http_request(web.url + "/subscribe", body.encode(), "application/json")
            assert status == 400, (status, text[:200])
            assert json.loads(text)["status"] == "error"
        ok = http_request(web.url + "/subscribe", json.dumps({"email": "j@example.net", "list": "example"}).encode(),
                          "application/json")
        assert ok[0] == 200


class RefusingHandler:
    """An SMTP server whose refusal carries terminal escapes (OSC: set the window title; BEL)."""

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        return "550 5.7.1 \x1b]0;PWNED\x07\x1b[2J go away"


def test_a_relay_refusal_reaches_the_log_printable(workspace: Path):
    from tests.helpers.web import running
    from tests.servers import ThreadedSMTP

    with ThreadedSMTP(RefusingHandler()) as smtp:
        point_smtp_at(workspace, smtp.port)
        with running(workspace, "serve") as serve:
            status, _ = serve.request("POST", "/subscribe", body=b"email=ann%40example.net&list=example",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert status == 200
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(serve.process.stderr), daemon=True)  # type: ignore[arg-type]
            reader.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any("not sent" in line for line in lines):
                time.sleep(0.1)
            serve.process.terminate()
            serve.process.wait(30)
            reader.join(10)
            stderr = "".join(lines)
    assert "confirmation mail for signup 1 not sent" in stderr, stderr
    assert "\x1b" not in stderr and "\x07" not in stderr
    assert "\\x1b]0;PWNED\\x07" in stderr


def test_consent_exports_are_text_on_a_terminal_and_in_a_spreadsheet(workspace: Path, runner):
    with ThreadedUvicorn(create_app(Context(workspace))) as web:
        # A Referer with C1 controls (CSI, a terminal escape in 8-bit mode) and a UTF-8 bidi override.
        status, _ = http_request(web.url + "/subscribe", b"email=web%40example.net&list=example",
                                 headers={"Referer": "https://x.example/\x9b2J\u202eevil".encode().decode("latin-1")})
        assert status == 200
        # email-validator takes this address; a spreadsheet would run it: refused at signup.
        formula = "=cmd|'/Ccalc'!A0@example.org"
        assert http_request(web.url + "/subscribe", f"email={quote(formula)}&list=example".encode())[0] == 400
    with Context(workspace) as ctx:
        assert ctx.store.signup(1).source == "https://x.example/2Jevil"  # type: ignore[union-attr]
        ctx.store.confirm_signup(1, now=time.time())
        # Members that came in before (or another way): an old raw Referer, a formula address and name.
        for email, name, source in [(formula, "@SUM(1+1)", "https://y.example/\x1b]0;PWNED\x07"),
                                    ("-2+3@example.org", "\tTab", "+evil")]:
            _, sid = ctx.store.request_signup(SignupRequest("example", email, name, source, "1.2.3.4"),
                                              now=time.time(), limits=SignupLimits())
            ctx.store.confirm_signup(sid, now=time.time())  # type: ignore[arg-type]
    result = runner.invoke(main, ["subscribers", "export", "example", "--consent"])
    assert result.exit_code == 0, result.output
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", result.output), repr(result.output)
    rows = list(csv.reader(io.StringIO(result.output)))[1:]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    cells = {cell for row in rows for cell in row}
    assert {"'" + formula, "'@SUM(1+1)", "'-2+3@example.org", "'\tTab", "'+evil"} <= cells
    assert "https://y.example/\\x1b]0;PWNED\\x07" in cells
