"""Reading a campaign's audience into the journal while sending has already begun.

The lists stream through in batches of a thousand rows, in a thread of their
own, under the campaign's reader lease: one process reads, any number send.
A campaign read whole is not read again while its list files keep their size
and mtime (its fingerprint); a run that stops or fails keeps what it journaled,
for this campaign only.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from digest.core.errors import DigestError, SubscriberError
from digest.core.model import Subscriber
from digest.deliver.leases import reap_dead_local_owners
from digest.store import Campaign
from digest.store.protocol import AudienceStore
from digest.subscribers import RowProblem, read_list

__all__ = ["AudienceRead", "SignedUpMembers", "Selection", "stream_subscribers", "fingerprint", "read_audience"]

BATCH = 1000


@dataclass
class AudienceRead:
    """What reading the audience did: "read", "done" (read before, unchanged) or "busy" (another reads it)."""

    state: str = "read"
    rows: int = 0
    added: int = 0
    suppressed: int = 0
    problems: int = 0
    left: int = 0  # people of an earlier reading no longer on the lists: not sent
    erased: int = 0  # rows of readers erased on request (a list file older than the erasure): skipped
    complete: bool = False
    error: DigestError | None = None


@dataclass(frozen=True)
class SignedUpMembers:
    """Confirmed signups (in the store) join the workspace list of the same name, `subscribers/NAME.csv`.

    The CSV file is optional: a list may live in the store alone.
    """

    store: AudienceStore
    folder: Path  # the workspace's subscribers/ folder

    def name_of(self, path: Path) -> str | None:
        """The signup list a list path stands for, or None for a file outside subscribers/."""
        if path.suffix != ".csv" or path.resolve().parent != self.folder.resolve():
            return None
        return path.stem

    def stream(self, path: Path) -> Iterator[Subscriber]:
        """The list's confirmed members, if it is a workspace list."""
        name = self.name_of(path)
        return self.store.member_subscribers(name) if name else iter(())

    def version(self, path: Path) -> str:
        """Changes whenever someone joins the list (part of the campaign's fingerprint)."""
        name = self.name_of(path)
        return self.store.members_version(name) if name else ""


def stream_subscribers(
    lists: Sequence[Path],
    *,
    on_problem: Callable[[RowProblem], None],
    tags: Sequence[str] = (),
    where: Sequence[tuple[str, str]] = (),
    members: SignedUpMembers | None = None,
    on_row: Callable[[], None] | None = None,
) -> Iterator[tuple[Subscriber, str]]:
    """Every valid subscriber of every list in the segment, with the list it came from (CSV rows, then signups).

    `on_row` is called for every row read, in the segment or not (a sparse segment must
    not keep a reader from noticing a stop, or from journaling what it has, for long).
    """
    for path in lists:
        rows: Iterator[Subscriber] = iter(())
        if members is None or path.exists():
            rows = read_list(path, on_problem=on_problem)
        for subscriber in itertools.chain(rows, members.stream(path) if members else ()):
            if on_row is not None:
                on_row()
            if tags and not set(tags) & set(subscriber.tags):
                continue
            if where and not all(segment_value(subscriber, k) == v for k, v in where):
                continue
            yield subscriber, path.stem


def segment_value(subscriber: Subscriber, key: str) -> str:
    """What `--where KEY=VALUE` compares: the name, the address, or an attribute."""
    if key == "name":
        return subscriber.name
    if key == "email":
        return subscriber.email
    return str(subscriber.attrs.get(key, ""))


def fingerprint(lists: Sequence[Path], members: SignedUpMembers | None = None) -> str:
    """Size and mtime of each list file, and its signups: an unchanged list need not be read again."""
    parts = []
    for path in lists:
        try:
            stat = path.stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
        except FileNotFoundError:
            if members is None or members.name_of(path) is None:
                raise SubscriberError("no such list file", path=str(path)) from None
            parts.append(f"{path}:absent")
        except OSError as exc:
            raise SubscriberError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
        if members is not None:
            parts[-1] += f":{members.version(path)}"
    return "|".join(parts)


@dataclass(frozen=True)
class Selection:
    """Who a send is for: the lists (and their signed-up members), narrowed by tags and attributes."""

    lists: Sequence[Path]
    tags: Sequence[str] = ()
    where: Sequence[tuple[str, str]] = ()
    members: SignedUpMembers | None = None
    erased: Container[str] = frozenset()  # address keys erased on request (keyed hashes behind `in`)


def read_audience(
    store: AudienceStore,
    campaign: Campaign,
    selection: Selection,
    *,
    message_id: Callable[[str], str],
    owner: str,
    lease: float,
    on_problem: Callable[[RowProblem], None],
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
    poll: float = 0.5,
) -> AudienceRead:
    """Journal the audience in batches (run it in a thread); never raises a DigestError, returns it."""
    lists, tags, where, members = selection.lists, selection.tags, selection.where, selection.members
    result = AudienceRead()
    generation = 0
    try:
        seen = fingerprint(lists, members)
        while True:
            result.state, generation = store.start_reading(campaign.id, owner=owner, until=clock() + lease,
                                                           now=clock(), fingerprint=seen)
            if result.state != "busy" or stop.is_set():
                break
            # Another process reads the lists: wait until it is done, or dead (then take over).
            reap_dead_local_owners(store, campaign.id, now=clock())
            stop.wait(poll)
    except DigestError as exc:
        result.error = exc
        return result
    if result.state != "read":
        return result

    def problem(p: RowProblem) -> None:
        result.problems += 1
        on_problem(p)

    batch: list[tuple[Subscriber, str]] = []
    flushed = [clock()]  # when the batch was last journaled (and the lease renewed)

    class _Stopped(Exception):
        pass

    def flush() -> None:
        _flush(store, campaign, batch, message_id, result, generation)
        batch.clear()
        flushed[0] = clock()
        store.renew_reading(campaign.id, owner=owner, until=flushed[0] + lease)

    def scanned() -> None:
        # Every row read, in the segment or not: journal what there is every half second, stop on time.
        if stop.is_set():
            raise _Stopped()
        if clock() - flushed[0] > 0.5:
            flush()

    finished: str | None = None
    try:
        for item in stream_subscribers(lists, on_problem=problem, tags=tags, where=where, members=members,
                                       on_row=scanned):
            if _erased(item[0], selection, result):
                continue
            batch.append(item)
            result.rows += 1
            if len(batch) >= BATCH:
                flush()
        flush()
        finished = seen
        result.complete = True
    except _Stopped:
        pass
    except DigestError as exc:
        result.error = exc
    finally:
        try:
            result.left = store.finish_reading(campaign.id, owner=owner, fingerprint=finished)
        except DigestError as exc:
            result.error = result.error or exc
            result.complete = False
    return result


def _erased(subscriber: Subscriber, selection: Selection, result: AudienceRead) -> bool:
    """A row of a reader erased on request (an old list file): counted, never journaled."""
    if subscriber.key in selection.erased:
        result.erased += 1
        return True
    return False


def _flush(store: AudienceStore, campaign: Campaign, batch: list[tuple[Subscriber, str]],
           message_id: Callable[[str], str], result: AudienceRead, generation: int) -> None:
    added, suppressed = store.enqueue(campaign, batch, message_id, generation=generation)
    result.added += added
    result.suppressed += suppressed
