"""`digest inbox process` on IMAP makes progress: new mail first, judged mail not read again, a dropped link
loses only the FETCH it was in — against the private Dovecot, through a local proxy that cuts the link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from imapclient import IMAPClient

from digest.app.context import Context
from digest.cli import main
from tests.back_helpers import fill, send_issue
from tests.dovecot import PrivateDovecot, dovecot_available
from tests.proxy import CuttingProxy

PASSWORD = "imap progress password"
READERS = ["dead@example.com", "other@example.com"]


@pytest.fixture()
def imap():  # type: ignore[no-untyped-def]
    why = dovecot_available()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the IMAP tests: {why}")
        pytest.skip(f"{why}; CI installs it and never skips")
    with PrivateDovecot(PASSWORD) as server:
        yield server


def _configure(workspace: Path, monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    text = (workspace / "digest.toml").read_text().split("\n[inbox]")[0]
    (workspace / "digest.toml").write_text(
        text + f'\n[inbox]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nusername = "bounces"\n')
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", PASSWORD)


def _append(imap: PrivateDovecot, messages: list[bytes]) -> None:
    with IMAPClient("127.0.0.1", port=imap.port, ssl=False) as client:
        client.login(imap.user, PASSWORD)
        for raw in messages:
            client.append("INBOX", raw)


def _flags(imap: PrivateDovecot) -> list[tuple[bytes, ...]]:
    with IMAPClient("127.0.0.1", port=imap.port, ssl=False) as client:
        client.login(imap.user, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        return [tuple(sorted(d[b"FLAGS"])) for d in client.fetch(client.search("ALL"), ["FLAGS"]).values()]


def _unplaceable(n: int) -> bytes:
    """A person's mail nobody can place (no bounce, no report), about 30 KB."""
    filler = "".join(f"line {i} of a long letter number {n}, nothing a bounce reader can use.\n" for i in range(450))
    return (f"From: someone{n}@example.org\nTo: bounces@news.example.com\nSubject: letter {n}\n"
            f"Message-ID: <letter{n}@example.org>\n\n{filler}").replace("\n", "\r\n").encode()


def test_a_link_that_drops_still_gets_further_each_run_and_new_mail_comes_first(
        workspace: Path, runner, monkeypatch, imap: PrivateDovecot):
    sent = send_issue(workspace, runner, READERS)
    _append(imap, [_unplaceable(n) for n in range(40)] + [fill("exim_dsn.eml", sent[READERS[0]])])
    with CuttingProxy(imap.port, cut_after=600_000) as proxy:
        _configure(workspace, monkeypatch, proxy.port)
        runs = []
        for _ in range(8):
            runs.append(runner.invoke(main, ["inbox", "process", "-v"]))
            if runs[-1].exit_code == 0:
                break
    first = runs[0]
    assert first.exit_code != 0 and proxy.cuts >= 1
    assert "IMAP server" in first.stderr and "Traceback" not in first.stderr
    # The bounce came in last, so it was read first: applied in the very first, cut, run.
    assert f"{READERS[0]} hard" in first.output and "→ suppressed" in first.output
    with Context(workspace) as ctx:
        assert {s.email for s in ctx.store.suppressions()} == {READERS[0]}
    judged = [sum(line.startswith("uid ") for line in run.output.splitlines()) for run in runs]
    assert all(n > 0 for n in judged), judged  # every run judged something new
    assert runs[-1].exit_code == 0 and len(runs) <= 5, [r.output[-200:] for r in runs]
    assert sum(judged) == 41  # each message judged once over all the runs
    assert sorted(_flags(imap)) == [(b"$DigestSeen",)] * 40  # the bounce moved; the letters stay, never \Seen
    _configure(workspace, monkeypatch, imap.port)
    assert "0 message(s)" in runner.invoke(main, ["inbox", "process"]).output


def test_without_keywords_the_store_remembers_uids_and_big_mail_gets_its_line(
        workspace: Path, runner, monkeypatch, imap: PrivateDovecot):
    sent = send_issue(workspace, runner, READERS)
    _append(imap, [_unplaceable(1), fill("office365_dsn.eml", sent[READERS[1]]), _unplaceable(2) * 4])
    monkeypatch.setattr("digest.back.inbox.MAX_MESSAGE", 100_000)  # the third (120 KB) is "too big" here
    # A server that keeps no keyword of ours: PERMANENTFLAGS without \* (the proxy takes it out).
    with CuttingProxy(imap.port, rewrite=lambda data: data.replace(b" \\*)]", b")]")) as proxy:
        _configure(workspace, monkeypatch, proxy.port)
        result = runner.invoke(main, ["inbox", "process", "-v"])
        assert result.exit_code == 0, result.output + result.stderr
        lines = [line for line in result.output.splitlines() if line.startswith("uid ")]
        assert len(lines) == 3 and lines[0].startswith("uid 3: left alone: larger than"), lines
        assert lines[1].startswith("uid 2: dsn: other@example.com hard") and "→ suppressed" in lines[1]
        assert lines[2].startswith("uid 1: left alone:")
        again = runner.invoke(main, ["inbox", "process", "-v"])
        assert again.exit_code == 0 and "0 message(s)" in again.output, again.output
        assert "3 message(s)" not in again.output
        reread = runner.invoke(main, ["inbox", "process", "--reread"])
        assert "2 message(s)" in reread.output, reread.output
    assert sorted(_flags(imap)) == [(), ()]  # nothing of ours on the two left: the store remembers them
