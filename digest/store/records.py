"""Plain records that go in and out of the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.core.model import Subscriber

__all__ = [
    "SUPPRESSION_REASONS",
    "DELIVERY_STATUSES",
    "Suppression",
    "Audience",
    "Campaign",
    "CampaignStatus",
    "Claim",
    "ClaimedRow",
    "Result",
    "Failure",
    "SentIssue",
    "ListCheck",
]

SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "manual", "manage")  # manage: on the manage page
# pending → sent | deferred (4xx, retried) | failed (5xx) | unknown (lost after the final dot)
DELIVERY_STATUSES = ("pending", "sent", "deferred", "failed", "unknown")


@dataclass(frozen=True, slots=True)
class Suppression:
    """An address that must never be sent to again, and why."""

    email: str
    reason: str
    issue: int | None
    created_at: str
    list: str = ""  # "" for every list; else the one list the reader left


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a campaign goes to: the lists and the segment of one `digest send` command."""

    lists: tuple[str, ...]  # list names as given (workspace-relative paths)
    tags: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """A stable key: the same lists and segment, in any order, are the same audience."""
        import hashlib
        import json

        canonical = json.dumps([sorted(set(self.lists)), sorted(set(self.tags)), sorted(set(self.where))],
                               ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]

    def describe(self) -> str:
        """For humans: `subscribers/a.csv + subscribers/b.csv, tag news, where city=Oslo` (in a stable order)."""
        text = " + ".join(sorted(set(self.lists))) or "no list"
        if self.tags:
            text += ", tag " + " or ".join(self.tags)
        for key, value in self.where:
            text += f", where {key}={value}"
        return text


@dataclass(frozen=True, slots=True)
class Campaign:
    """One issue sent to one audience."""

    id: int
    issue: int
    audience_key: str
    audience: str
    created_at: str
    complete: bool  # the audience has been read whole
    fingerprint: str  # size and mtime of each list when it was last read whole
    generation: int = 0  # how many times the lists were (re)read; members of older readings are not sent
    closed: bool = False  # abandoned (or from before campaigns): nothing more is sent


@dataclass
class CampaignStatus:
    """A campaign's rows by status, and what its senders are doing."""

    campaign: Campaign
    counts: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0  # members not sent who are suppressed (skipped while they are)
    sent_elsewhere: int = 0  # sent through another campaign of the issue
    in_flight: int = 0  # claimed by a sender whose lease has not run out
    workers: int = 0  # senders with a recent heartbeat
    runs: int = 0
    run_sent: int = 0
    run_seconds: float = 0.0

    @property
    def total(self) -> int:
        """Every member row."""
        return sum(self.counts.values())

    @property
    def remaining(self) -> int:
        """Rows that may still be sent: pending, deferred and unknown, less the suppressed."""
        return max(0, sum(self.counts.get(s, 0) for s in ("pending", "deferred", "unknown")) - self.suppressed)


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A journal row this sender holds a lease on."""

    id: int
    subscriber: Subscriber
    list_name: str
    attempts: int
    unknown_attempts: int


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim took, and how far along the campaign it looked (where the next claim of a pass starts)."""

    rows: list[ClaimedRow]
    scanned_to: int


@dataclass(frozen=True, slots=True)
class Result:
    """An outcome to record against a journal row."""

    row_id: int
    status: str
    code: int
    reply: str
    retry_at: float = 0.0
    refusal: str = ""  # refused at RCPT (or the one recipient's DATA): hard | soft | refused, recorded with it


@dataclass(frozen=True, slots=True)
class Failure:
    """A recipient that is not (or not known to be) sent, with the server's last reply."""

    email: str
    status: str
    code: int | None
    reply: str


@dataclass(frozen=True, slots=True)
class SentIssue:
    """An issue with at least one delivered message."""

    number: int
    first_sent_at: str


@dataclass(frozen=True, slots=True)
class ListCheck:
    """A list file's validation, cached by its size, mtime and content hash."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    rows: int
    valid: int
    duplicates: int
    invalid: int
