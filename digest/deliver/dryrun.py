"""`digest send --dry-run`: compose and check exactly the messages a real send would send, and count them.

The counts match the real send: duplicates across the lists, suppressed
addresses and people already sent this issue (through any campaign) are
left out, and nothing is journaled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default as default_policy

from digest.compose import MessageSkeleton
from digest.core.model import Subscriber
from digest.deliver.audience import Selection, stream_subscribers
from digest.store.campaigns import MAX_UNKNOWN_ATTEMPTS
from digest.store.protocol import DryRunStore
from digest.store.seen import SeenAddresses
from digest.subscribers import RowProblem

__all__ = ["DryRunReport", "dry_run", "check_message"]

_BATCH = 500


@dataclass
class DryRunReport:
    """What a send would do now."""

    would_send: int = 0
    duplicates: int = 0
    suppressed: int = 0
    already_sent: int = 0
    failed_before: int = 0  # failed permanently on an earlier run: a send leaves them (without --retry-failed)
    unknown_before: int = 0  # sent twice with no answer: a send leaves them (without --retry-unknown)
    over_limit: int = 0  # beyond --limit
    erased: int = 0  # rows of readers erased on request: never sent
    bad: int = 0
    total_bytes: int = 0

    @property
    def average_bytes(self) -> int:
        """Mean size of a composed message."""
        return self.total_bytes // self.would_send if self.would_send else 0


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


def dry_run(
    store: DryRunStore,
    skeleton: MessageSkeleton,
    issue: int,
    selection: Selection,
    *,
    on_problem: Callable[[RowProblem], None],
    on_bad_message: Callable[[Subscriber, str], None],
    limit: int | None = None,
    retry_failed: bool = False,
    retry_unknown: bool = False,
) -> DryRunReport:
    """Compose every message a send with these options would send now; journal nothing, send nothing.

    Every such message is composed; the first hundred and every thousandth are parsed back
    to check their structure (parsing each one is slow and finds nothing the sample does not).
    """
    lists, tags, where, members = selection.lists, selection.tags, selection.where, selection.members
    report = DryRunReport()
    batch: list[tuple[Subscriber, str]] = []
    # Suppressed on the list they came through: counted at the end, unless another list reaches them.
    blocked_keys: set[str] = set()

    def flush() -> None:
        keys = [s.key for s, _ in batch]
        # Suppressed for the list each reader comes from, as the send decides: leaving one list keeps the others.
        blocked = {(name, key) for name in {n for _, n in batch}
                   for key in store.suppressed_among([s.key for s, n in batch if n == name], list_name=name)}
        states = store.journal_states(issue, keys)
        for subscriber, list_name in batch:
            state, unknown = states.get(subscriber.key, ("pending", 0))
            if (list_name, subscriber.key) in blocked:
                if subscriber.key in blocked_keys:
                    report.duplicates += 1
                blocked_keys.add(subscriber.key)
            elif seen.add(subscriber.key, subscriber.line) is not None:
                report.duplicates += 1
            elif state == "sent":
                report.already_sent += 1
            elif state == "failed" and not retry_failed:
                report.failed_before += 1
            elif state == "unknown" and unknown >= MAX_UNKNOWN_ATTEMPTS and not retry_unknown:
                report.unknown_before += 1
            elif limit is not None and report.would_send >= limit:
                report.over_limit += 1
            else:
                message = skeleton.compose(subscriber, list_name=list_name)
                report.would_send += 1
                report.total_bytes += len(message.data)
                # Parsing every message back is slow; the first ones and a sample suffice for structure.
                n = report.would_send
                problem = check_message(message.data) if n <= 100 or n % 1000 == 0 else None
                if problem:
                    report.bad += 1
                    on_bad_message(subscriber, problem)
        batch.clear()

    with SeenAddresses() as seen:
        for subscriber, list_name in stream_subscribers(lists, on_problem=on_problem, tags=tags, where=where,
                                                             members=members):
            if subscriber.key in selection.erased:
                report.erased += 1
                continue
            batch.append((subscriber, list_name))
            if len(batch) >= _BATCH:
                flush()
        flush()
        for key in blocked_keys:  # reached through another list: a duplicate there; else suppressed
            if seen.add(key, 0) is not None:
                report.duplicates += 1
            else:
                report.suppressed += 1
    return report
