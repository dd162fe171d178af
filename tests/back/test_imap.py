"""`digest inbox process` against a real IMAP server (a private Dovecot)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from imapclient import IMAPClient

from digest.app.context import Context
from digest.cli import main
from tests.back_helpers import fill, send_issue
from tests.dovecot import PrivateDovecot, dovecot_available

READERS = [f"r{i}@example.com" for i in range(4)]
PASSWORD = "imap test password"


def test_imap_mailbox_handled_mail_moves_and_the_rest_stays_untouched(workspace: Path, runner, monkeypatch):
    why = dovecot_available()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the IMAP test: {why}")
        pytest.skip(f"{why}; CI installs it and never skips")
    sent = send_issue(workspace, runner, READERS)
    with PrivateDovecot(PASSWORD) as imap:
        with IMAPClient("127.0.0.1", port=imap.port, ssl=False) as client:
            client.login(imap.user, PASSWORD)
            for name, reader in (("exim_dsn.eml", 0), ("arf_complaint.eml", 1), ("vacation.eml", 2),
                                 ("human_reply.eml", 3)):
                client.append("INBOX", fill(name, sent[READERS[reader]]))
        with (workspace / "digest.toml").open("a") as f:
            f.write(f'\n[inbox]\nhost = "127.0.0.1"\nport = {imap.port}\nsecurity = "none"\nusername = "bounces"\n')
        monkeypatch.setenv("DIGEST_IMAP_PASSWORD", PASSWORD)
        result = runner.invoke(main, ["inbox", "process", "-v"])
        assert result.exit_code == 0, result.output + result.stderr + imap.log()
        assert "4 message(s)" in result.output and "2 address(es) suppressed" in result.output
        assert "1 left in the mailbox" in result.output
        with IMAPClient("127.0.0.1", port=imap.port, ssl=False) as client:
            client.login(imap.user, PASSWORD)
            client.select_folder("INBOX")
            [left] = client.search("ALL")
            data = client.fetch([left], ["FLAGS", "BODY.PEEK[]"])[left]
            assert b"great issue" in data[b"BODY[]"]
            assert data[b"FLAGS"] == (b"$DigestSeen",)  # judged, never \Seen: a human still sees it as new
            client.select_folder("Processed")
            assert len(client.search("ALL")) == 3
        again = runner.invoke(main, ["inbox", "process"])
        assert "0 message(s)" in again.output  # what was judged is not read again
        reread = runner.invoke(main, ["inbox", "process", "--reread"])
        assert "1 message(s)" in reread.output and "0 address(es) suppressed" in reread.output
        # without a processed folder, handled mail stays, flagged, and is not read again
        toml = workspace / "digest.toml"
        toml.write_text(toml.read_text() + 'processed_folder = ""\n')
        with IMAPClient("127.0.0.1", port=imap.port, ssl=False) as client:
            client.login(imap.user, PASSWORD)
            client.append("INBOX", fill("office365_dsn.eml", sent[READERS[3]]))
        flagged = runner.invoke(main, ["inbox", "process"])
        assert "1 message(s)" in flagged.output and "1 address(es) suppressed" in flagged.output, flagged.output
        assert "0 message(s)" in runner.invoke(main, ["inbox", "process"]).output  # nothing new
        with IMAPClient("127.0.0.1", port=imap.port, ssl=False) as client:
            client.login(imap.user, PASSWORD)
            client.select_folder("INBOX")
            flags = [tuple(sorted(data[b"FLAGS"])) for data in client.fetch(client.search("ALL"), ["FLAGS"]).values()]
            assert sorted(flags) == [(b"$DigestProcessed", b"\\Seen"), (b"$DigestSeen",)]
        monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "wrong")
        refused = runner.invoke(main, ["inbox", "process"])
        assert refused.exit_code == 3 and "IMAP server" in refused.stderr and "Traceback" not in refused.stderr
    with Context(workspace) as ctx:
        assert {s.email: s.reason for s in ctx.store.suppressions()} == {
            READERS[0]: "bounced", READERS[1]: "complained", READERS[3]: "bounced"}
