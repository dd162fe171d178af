"""A campaign: the lists' recipients journaled for an issue, then sent to everyone not yet sent to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

from digest.config import Workspace
from digest.deliver.journal import Journal
from digest.deliver.mailbox import embedded_mailbox
from digest.deliver.sender import SendOptions, SendReport, send_issue
from digest.deliver.transport import SMTPTransport, Transport
from digest.model import Subscriber
from digest.pipeline import load_issue, skeleton_for
from digest.state import State
from digest.subscribers import RowProblem, read_list

__all__ = ["stream_subscribers", "send_to_lists"]


def stream_subscribers(
    lists: Sequence[Path],
    *,
    on_problem: Callable[[RowProblem], None],
    tags: Sequence[str] = (),
    where: Sequence[tuple[str, str]] = (),
) -> Iterator[tuple[Subscriber, str]]:
    """Every valid subscriber of every list in the segment, with the list it came from."""
    for path in lists:
        for subscriber in read_list(path, on_problem=on_problem):
            if tags and not set(tags) & set(subscriber.tags):
                continue
            if any(subscriber.attrs.get(k) != v for k, v in where):
                continue
            yield subscriber, path.stem


async def send_to_lists(
    workspace: Workspace,
    folder: Path,
    lists: Sequence[Path],
    *,
    options: SendOptions,
    on_problem: Callable[[RowProblem], None],
    tags: Sequence[str] = (),
    where: Sequence[tuple[str, str]] = (),
    transport: Transport | None = None,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[SendReport], None] | None = None,
    on_start: Callable[[str, dict[str, int]], None] | None = None,
) -> SendReport:
    """Journal the lists' recipients for the issue, then send to everyone not yet sent to."""
    settings = workspace.settings()
    _, rendered = load_issue(folder)
    list_name = "+".join(p.stem for p in lists) or "list"
    skeleton = skeleton_for(workspace, settings, rendered, list_name=list_name)
    with State(workspace.database) as state:
        journal = Journal(state, rendered.number)
        stream = stream_subscribers(lists, on_problem=on_problem, tags=tags, where=where)
        journal.enqueue(stream, skeleton.message_id)
        async with AsyncExitStack() as stack:
            if transport is None:
                smtp = settings.smtp
                if smtp is None:
                    smtp = await stack.enter_async_context(embedded_mailbox(workspace.outbox))
                transport = SMTPTransport(smtp)
            if on_start:
                on_start(transport.describe(), journal.counts())
            return await send_issue(
                journal=journal,
                skeleton=skeleton,
                transport=transport,
                sender=settings.newsletter.sender_address,
                options=options,
                stop=stop,
                on_progress=on_progress,
            )
