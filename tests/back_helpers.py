"""Helpers for the list-loop tests: a workspace that has sent an issue, and fixture mail filled in for a reader."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.cli import main
from digest.deliver.sender import SendOptions
from digest.deliver.transport import MemoryTransport

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "back"


@dataclass(frozen=True)
class SentMessage:
    """What a reader was sent: the envelope sender, the Message-ID, the signed unsubscribe token."""

    recipient: str
    verp: str
    message_id: str
    unsubscribe: str


def send_issue(workspace: Path, runner, emails: list[str], *, list_name: str = "readers") -> dict[str, SentMessage]:
    """Build the sample issue and send it to `emails` through a memory transport; what each got."""
    path = workspace / "subscribers" / f"{list_name}.csv"
    path.write_text("email,name\n" + "".join(f"{e},Reader {i}\n" for i, e in enumerate(emails)))
    if not (workspace / "issues").exists():
        assert runner.invoke(main, ["build"]).exit_code == 0
    transport = MemoryTransport()
    with Context(workspace) as ctx:
        asyncio.run(send_to_lists(ctx, workspace / "issues" / "1", [path], options=SendOptions(), on_problem=print,
                                  transport=transport))
    sent = {}
    for sender, message in transport.delivered:
        token = re.search(rb"/u/([A-Za-z0-9_.-]+)>", message.data)
        assert token is not None
        sent[message.recipient] = SentMessage(message.recipient, sender, message.message_id, token.group(1).decode())
    return sent


def fill(name: str, sent: SentMessage, return_path: str = "bounces@news.example.com") -> bytes:
    """A fixture message about one reader's message."""
    local, _, domain = return_path.rpartition("@")
    text = (FIXTURES / name).read_text()
    for key, value in (("{VERP}", sent.verp), ("{RCPT}", sent.recipient), ("{MSGID}", sent.message_id),
                       ("{UNSUB}", sent.unsubscribe), ("{RETURN_PATH_UNSUBSCRIBE}", f"{local}+unsubscribe@{domain}"),
                       ("{RETURN_PATH}", return_path)):
        text = text.replace(key, value)
    return text.replace("\n", "\r\n").encode()


def drop(maildir: Path, name: str, data: bytes) -> Path:
    """Deliver a message into a Maildir's new/."""
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    path = maildir / "new" / name
    path.write_bytes(data)
    return path
