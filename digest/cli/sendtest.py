"""`digest send --test-to` and `--dry-run`: one real message, or every message composed and checked."""

from __future__ import annotations

from collections.abc import Sequence
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import click

from digest import aio
from digest.cli import warn
from digest.config import Workspace
from digest.deliver.campaign import stream_subscribers
from digest.errors import SubscriberError
from digest.pipeline import load_issue, skeleton_for

__all__ = ["send_test", "dry_run_lists", "check_message"]


def check_message(data: bytes) -> str | None:
    """Why these message bytes are not fit to send, or None when they are."""
    if any(len(line) > 998 for line in data.split(b"\r\n")):
        return "a line is longer than 998 bytes"
    if b"\n." in data:
        return "a line starts with '.'"
    parsed = message_from_bytes(data, policy=default_policy)
    if parsed.defects:
        return f"MIME defect: {parsed.defects[0]!r}"
    return None


def send_test(workspace: Workspace, folder: Path, address: str) -> None:
    """Send one message for the issue to `address` through the configured SMTP (or the mailbox)."""
    from digest.deliver.testsend import send_one

    click.echo(aio.run(send_one(workspace, folder, address)).capitalize())


def dry_run_lists(workspace: Workspace, folder: Path, lists: Sequence[Path], tags: Sequence[str],
                  where: Sequence[tuple[str, str]]) -> None:
    """Compose every recipient's message and check it; send nothing, journal nothing."""
    if not lists:
        raise SubscriberError("give at least one --list FILE for --dry-run")
    settings = workspace.settings()
    _, rendered = load_issue(folder)
    skeleton = skeleton_for(workspace, settings, rendered, list_name="dry-run")
    count = bad = 0
    total_bytes = 0
    for subscriber, list_name in stream_subscribers(lists, on_problem=lambda p: warn(f"left out {p}"),
                                                    tags=tags, where=where):
        message = skeleton.compose(subscriber, list_name=list_name)
        count += 1
        total_bytes += len(message.data)
        # Parsing every message back is slow; the first ones and a sample suffice for structure.
        problem = check_message(message.data) if count <= 100 or count % 1000 == 0 else None
        if problem:
            bad += 1
            warn(f"{subscriber.origin}:{subscriber.line}: {subscriber.email}: {problem}")
    average = total_bytes // count if count else 0
    click.echo(f"Dry run: {count} message(s) composed, {bad} with problems, {average} bytes on average; "
               "nothing sent")
    if bad:
        raise SystemExit(3)
