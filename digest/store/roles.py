"""The store's roles: one small protocol per kind of state, so each stage names only what it uses.

Nothing outside `digest.store` touches SQL. A stage types its functions
against the role it needs (the fetcher a `FetchCacheStore`, the bounce
processor a `BounceStore` …); `Store` in digest.store.protocol is their
union, which `SQLiteStore` and `PostgresStore` implement over one schema and
one list of migrations. New state: a role here, its query module, a migration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from digest.core.model import Subscriber
from digest.store.bounces import BounceEvent, BounceSummary, BounceVerdict, Delivery
from digest.store.carried import CarriedItem
from digest.store.clicks import LinkClicks
from digest.store.fetchcache import FetchRecord
from digest.store.records import (
    Campaign,
    CampaignStatus,
    Claim,
    Failure,
    ListCheck,
    Result,
    SentIssue,
    Suppression,
)
from digest.store.reports import IssueOutcome
from digest.store.runlocks import RunLock
from digest.store.schedules import Schedule
from digest.store.signups import Member, Signup, SignupLimits, SignupRequest
from digest.store.tx import Tx

__all__ = ["StoreBasics", "IssueStore", "SuppressionStore", "CampaignJournal", "ListCheckStore",
           "FetchCacheStore", "ScheduleStore", "RunLockStore", "SignupStore", "BounceStore", "ClickStore",
           "ReportStore"]


class StoreBasics(Protocol):
    """What every role shares: which backend, where it lives, its migrations, workspace facts."""

    backend: str

    def describe(self) -> str:
        """Where the state lives, for humans (never a password)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def migrations(self) -> list[str]:
        """Names of the applied schema migrations."""
        ...

    def agree_on(self, name: str, value: str) -> str:
        """Record a workspace fact unless one is there; the one recorded."""
        ...


class IssueStore(Protocol):
    """Issue numbers, one per content, and the issues sent."""

    def number_for(self, content_key: str, subject: str) -> int:
        """The issue number for this content, reserved on first use."""
        ...

    def peek_number(self, content_key: str) -> int:
        """The number this content has or would get, without reserving it."""
        ...

    def sent_issues(self) -> list[SentIssue]:
        """Issues with at least one delivered message, newest first."""
        ...


class SuppressionStore(Protocol):
    """Who must not be mailed again, everywhere or on one list."""

    def suppress(self, email: str, *, reason: str, issue: int | None = None, list_name: str | None = None) -> bool:
        """Suppress an address for every list, or for one; False when it already was."""
        ...

    def unsubscribe(self, email: str, *, list_name: str, issue: int | None) -> bool:
        """A reader's own unsubscribe from the list their signed token names."""
        ...

    def unsuppress(self, email: str) -> bool:
        """Take an address off the suppression list, for every list; False when it was on none."""
        ...

    def is_suppressed(self, email: str, *, list_name: str | None = None) -> bool:
        """True when the address must not be sent the list (without one: suppressed anywhere)."""
        ...

    def suppressed_among(self, keys: Iterable[str], *, list_name: str | None = None) -> set[str]:
        """Which of these address keys may not be sent the list (without one: the global suppressions)."""
        ...

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppression (global, and of one list), oldest first."""
        ...


class CampaignJournal(Protocol):
    """Campaigns and their journal: one row per recipient, claimed, sent, recorded once."""

    def open_campaign(self, issue: int, audience_key: str, audience: str) -> Campaign:
        """The campaign for (issue, audience), made on first use."""
        ...

    def find_campaign(self, issue: int, audience_key: str) -> Campaign | None:
        """The campaign for (issue, audience), if started."""
        ...

    def campaign(self, campaign_id: int) -> Campaign:
        """One campaign by id."""
        ...

    def campaigns_of(self, issue: int) -> list[Campaign]:
        """Every campaign of an issue."""
        ...

    def start_reading(self, campaign_id: int, *, owner: str, until: float, now: float,
                      fingerprint: str) -> tuple[str, int]:
        """Take the reader's lease: ("read" | "done" | "busy", the generation to journal under)."""
        ...

    def renew_reading(self, campaign_id: int, *, owner: str, until: float) -> None:
        """Keep the reader's lease."""
        ...

    def finish_reading(self, campaign_id: int, *, owner: str, fingerprint: str | None) -> int:
        """Give the reader's lease back (with a fingerprint: read whole; returns how many left the lists)."""
        ...

    def reading_state(self, campaign_id: int, *, now: float) -> tuple[bool, bool]:
        """(read whole, being read now)."""
        ...

    def enqueue(self, campaign: Campaign, batch: Sequence[tuple[Subscriber, str]],
                message_id: Callable[[str], str], *, generation: int | None = None) -> tuple[int, int]:
        """Journal a batch of the audience under a reading; (members, of them suppressed)."""
        ...

    def reconfirm(self, row_id: int, *, owner: str, lease_until: float) -> bool:
        """Extend the lease on one row if this owner still holds it."""
        ...

    def close_campaign(self, campaign_id: int) -> int:
        """Abandon a campaign; how many were left unsent."""
        ...

    def journal_states(self, issue: int, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        """(status, unknown attempts) of these people's rows for an issue."""
        ...

    def claim(self, campaign_id: int, *, owner: str, run: int, limit: int, lease_until: float, now: float,
              max_attempts: int, after: int = 0) -> Claim:
        """Take due rows under a lease."""
        ...

    def renew(self, *, owner: str, lease_until: float, run: int, now: float) -> int:
        """Extend this owner's leases; the number of rows held."""
        ...

    def release(self, *, owner: str) -> int:
        """Give back unrecorded rows."""
        ...

    def record(self, results: Sequence[Result], *, run: int, now: float, soft_limit: int = 3,
               soft_window: float = 30 * 86400.0) -> None:
        """Record outcomes and release their rows; refusals of the recipient go under the bounce policy."""
        ...

    def next_due(self, campaign_id: int, *, run: int, max_attempts: int) -> float | None:
        """When the next deferred or unknown row this run may try is due."""
        ...

    def held_by_others(self, campaign_id: int, *, owner: str, now: float) -> int:
        """Rows another live sender holds."""
        ...

    def holders(self, campaign_id: int, *, now: float) -> set[str]:
        """Owners with live leases on the campaign's rows or its reading."""
        ...

    def expire(self, owner: str) -> None:
        """End a dead owner's leases at once."""
        ...

    def start_run(self, campaign: Campaign, *, owner: str, host: str, now: float, retry_failed: bool = False,
                  retry_unknown: bool = False) -> int:
        """Register a sender run."""
        ...

    def open_runs(self, campaign_id: int, *, now: float) -> list[tuple[int, str]]:
        """(run id, owner) of unfinished, recently heard-from runs."""
        ...

    def finish_run(self, run: int, *, seconds: float) -> None:
        """Close a sender run."""
        ...

    def campaign_progress(self, campaign_id: int, *, now: float) -> tuple[int, int]:
        """(sent by all runs, senders at work): cheap enough to poll."""
        ...

    def campaign_status(self, campaign: Campaign, *, now: float) -> CampaignStatus:
        """Counts by status and live senders."""
        ...

    def failures(self, campaign_id: int) -> Iterator[Failure]:
        """Failed, deferred and unknown recipients with the server's reply."""
        ...

    def journal(self, issue: int) -> Iterator[Failure]:
        """Every journal row of an issue with its status and the server's last reply."""
        ...

    def already_sent(self, issue: int, keys: Sequence[str]) -> set[str]:
        """Which address keys were already sent this issue."""
        ...


class ListCheckStore(Protocol):
    """What a subscriber list's last check found, kept while the file is unchanged."""

    def list_check(self, path: str, *, size: int, mtime_ns: int) -> ListCheck | None:
        """The cached check of an unchanged file."""
        ...

    def list_check_lines(self, path: str) -> Iterator[tuple[int, str, str]]:
        """The rows the cached check left out."""
        ...

    def save_list_check(self, check: ListCheck, lines: Iterable[tuple[int, str, str]]) -> None:
        """Cache a check."""
        ...


class FetchCacheStore(Protocol):
    """The validators and body digests of fetched web sources."""

    def fetch_records(self, urls: Iterable[str]) -> dict[str, FetchRecord]:
        """The cached validators and body keys of these URLs."""
        ...

    def save_fetches(self, records: Sequence[FetchRecord]) -> None:
        """Insert or replace fetch records in one transaction."""
        ...

    def fetch_bodies(self) -> set[str]:
        """The SHA-256 of every cached body a fetch record still points to."""
        ...

    def forget_fetch(self, url: str) -> bool:
        """Drop a URL's fetch record."""


class ScheduleStore(Protocol):
    """Sends scheduled for later, and who waits on them."""

    def schedule_campaign(self, campaign_id: int, *, send_at: float, timezone: str, local_time: str) -> Schedule:
        """Record (or move) the campaign's start time."""
        ...

    def schedule_of(self, campaign_id: int) -> Schedule | None:
        """The campaign's schedule, in whatever state."""
        ...

    def scheduled_campaigns(self) -> list[Schedule]:
        """Every schedule still waiting for its time, soonest first."""
        ...

    def start_schedule(self, campaign_id: int) -> bool:
        """Mark the schedule started; False when it was not waiting."""
        ...

    def cancel_schedule(self, campaign_id: int) -> bool:
        """Cancel a schedule that has not started."""
        ...

    def wait_on_schedule(self, campaign_id: int, *, owner: str, until: float) -> None:
        """Say that `owner` waits for this schedule."""
        ...

    def stop_waiting(self, campaign_id: int, *, owner: str) -> None:
        """`owner` no longer waits for this schedule."""
        ...


class RunLockStore(Protocol):
    """Named locks with a lease, so one `digest run` works at a time."""

    def take_lock(self, name: str, *, owner: str, until: float, now: float, note: str = "") -> RunLock | None:
        """Take a named lock: None when taken, else its live holder."""
        ...

    def renew_lock(self, name: str, *, owner: str, until: float, note: str | None = None) -> bool:
        """Extend our lease on a lock; False when it is no longer ours."""
        ...

    def release_lock(self, name: str, *, owner: str) -> None:
        """Give a lock up."""
        ...

    def lock_holder(self, name: str, *, now: float) -> RunLock | None:
        """The live holder of a lock."""
        ...

    def expire_lock(self, name: str, *, owner: str) -> None:
        """End a dead holder's lease at once."""


class SignupStore(Protocol):
    """Double opt-in signups and the confirmed members of each list."""

    def request_signup(self, request: SignupRequest, *, now: float, limits: SignupLimits) -> tuple[str, int | None]:
        """Check the abuse limits and record a pending signup: ("mail", id) or a refusal."""
        ...

    def signup(self, signup_id: int) -> Signup | None:
        """One signup by id."""
        ...

    def signup_mailed(self, signup_id: int, *, error: str | None) -> None:
        """Note whether the confirmation mail went out."""
        ...

    def confirm_signup(self, signup_id: int, *, now: float) -> str:
        """Confirm a pending signup: "confirmed", "used", "expired" or "unknown"."""
        ...

    def members(self, list_name: str) -> Iterator[Member]:
        """The confirmed members of a list, with their consent records."""
        ...

    def member_subscribers(self, list_name: str) -> Iterator[Subscriber]:
        """The confirmed members of a list as subscribers."""
        ...

    def members_version(self, list_name: str) -> str:
        """Changes whenever a member joins or confirms again."""
        ...

    def member_lists(self) -> dict[str, int]:
        """Lists with confirmed members, and how many."""
        ...


class BounceStore(Protocol):
    """Bounces, complaints and mailto unsubscribes, mapped back to their deliveries."""

    def delivery(self, row_id: int) -> Delivery | None:
        """The journal row a VERP token names."""
        ...

    def delivery_for(self, issue: int, email: str) -> Delivery | None:
        """The journal row of an issue and address."""
        ...

    def deliveries(self, row_ids: Sequence[int]) -> dict[int, Delivery]:
        """Many journal rows by id at once."""
        ...

    def deliveries_for(self, issue: int, emails: Sequence[str]) -> list[Delivery]:
        """The journal rows of an issue for these addresses, in one query."""
        ...

    def record_bounces(self, events: Sequence[BounceEvent], *, now: float, soft_limit: int = 3,
                       soft_window: float = 30 * 86400.0) -> list[BounceVerdict]:
        """record_bounce for many events in one transaction."""
        ...

    def record_bounce(self, event: BounceEvent, *, now: float, soft_limit: int = 3,
                      soft_window: float = 30 * 86400.0) -> BounceVerdict:
        """Record one event and apply the suppression policy (once per report)."""
        ...

    def record_refusals(self, tx: Tx, results: Sequence[Result], *, now: float, soft_limit: int = 3,
                        soft_window: float = 30 * 86400.0) -> None:
        """Record the refusals of recipients under the bounce policy, inside the send's transaction."""
        ...

    def withdraw_refusals(self, row_ids: Sequence[int], *, now: float | None = None, soft_limit: int = 3,
                          soft_window: float = 30 * 86400.0) -> int:
        """Forget these rows' refusals and put each address back as it was (the relay refused everyone);
        what came in since (a bounce, a complaint) still counts."""
        ...

    def resubscribe(self, email: str) -> bool:
        """Off the suppression list, and past bounces no longer count."""
        ...

    def bounce_summaries(self, *, include_cleared: bool = False) -> Iterator[BounceSummary]:
        """Every address with bounces, refusals or complaints, newest first."""
        ...

    def bounce_events(self, email: str) -> list[BounceEvent]:
        """Every event of one address, oldest first."""
        ...


class InboxStore(Protocol):
    """What `inbox process` remembers of an IMAP mailbox whose server keeps no keyword of ours."""

    def inbox_judged(self, mailbox: str, uidvalidity: int) -> set[int]:
        """The UIDs of an IMAP mailbox already judged under this UIDVALIDITY."""
        ...

    def mark_inbox_judged(self, mailbox: str, uidvalidity: int, uids: Sequence[int]) -> None:
        """Remember IMAP UIDs as judged (forgetting those of any other UIDVALIDITY)."""
        ...


class ESPCallStore(Protocol):
    """Signed calls from an ESP already acted on (a replay is refused)."""

    def first_sight(self, provider: str, name: str, *, now: float, keep: float) -> bool:
        """Record an ESP's signed call; True the first time, False for a replay (within `keep` seconds)."""
        ...


class CarriedStore(Protocol):
    """The weekly cycle: what issues carried, where their windows ended, first sightings of sources."""

    def record_carried(self, issue: int, items: Sequence[CarriedItem]) -> None:
        """Replace what `issue` carries."""
        ...

    def carried_items(self, issues: Iterable[int]) -> list[CarriedItem]:
        """What these issues carried, oldest issue first."""
        ...

    def issues_carrying(self) -> list[int]:
        """Every issue with recorded stories."""
        ...

    def set_cutoff(self, issue: int, cutoff: float) -> float:
        """Record where the issue's window ended unless recorded already; return the one recorded."""
        ...

    def cutoffs(self) -> dict[int, float]:
        """Each issue's recorded cut-off (unix time)."""
        ...

    def mark_seen(self, keys: Iterable[str], *, now: float) -> dict[str, float]:
        """Record `now` as the first sighting of every key not seen before; return each key's first sighting."""
        ...


class ClickStore(Protocol):
    """Counted clicks: the redirect records them, the report reads them, erasure forgets a reader's."""

    def record_click(self, *, issue: int, link: int, url: str, machine: str = "", reader: str = "",
                     at: float | None = None) -> None:
        """One click; `machine` says why it is not a person's ("" = a person's); `reader` an email or ""."""
        ...

    def link_clicks(self, issue: int | None = None) -> list[LinkClicks]:
        """Human and machine clicks per link (of one issue, or of all)."""
        ...

    def unique_clickers(self, issue: int) -> int:
        """Distinct readers with a human click in an issue (per-reader counting only)."""
        ...

    def record_open(self, *, issue: int, machine: str = "", reader: str = "", at: float | None = None) -> None:
        """One load of an issue's open pixel; `machine` "apple" (Mail Privacy Protection) or "agent"."""
        ...

    def opens(self, issue: int) -> dict[str, int]:
        """An issue's pixel loads by who made them: "" (a person, as far as one can tell), apple, agent."""
        ...

    def delivered_at(self, issue: int, email: str = "") -> float | None:
        """When the issue last left for this reader (or anyone), Unix time; None when it never did."""
        ...

    def forget_clicks(self, email: str) -> int:
        """Erasure: drop every click naming this reader (an address or its email key)."""
        ...

    def reader_clicks(self, email: str) -> list[tuple[int, int, str, float]]:
        """A reader's clicks (issue, link, URL, when), for their data download."""
        ...


class ReportStore(ClickStore, Protocol):
    """`digest report`: what happened to each sent issue, and its clicks."""

    def issue_outcomes(self) -> list[IssueOutcome]:
        """Every issue with a sent message, oldest first."""
        ...
