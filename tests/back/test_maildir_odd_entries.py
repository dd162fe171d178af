"""A folder or a FIFO dropped into the bounce Maildir is no message: skipped, never a stop or a hang."""

from __future__ import annotations

import os
from pathlib import Path

from digest.back.inbox import process_maildir
from digest.back.process import Policy
from digest.store import open_store


def test_a_folder_and_a_fifo_in_new_are_skipped(tmp_path: Path) -> None:
    maildir = tmp_path / "bounces"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "adir").mkdir()
    os.mkfifo(maildir / "new" / "afifo")
    (maildir / "new" / "1.msg").write_bytes(b"From: someone@example.org\r\nSubject: hello\r\n\r\nJust a note.\r\n")
    seen: list[str] = []
    with open_store(str(tmp_path / "state.sqlite3")) as store:
        policy = Policy(secret=b"k" * 32, return_path="bounces@news.example.com")
        report = process_maildir(maildir, store=store, policy=policy,
                                 on_outcome=lambda name, outcome: seen.append(name))
    assert seen == ["1.msg"], seen
    assert report is not None
