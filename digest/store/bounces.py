"""Store queries for what comes back: bounces, complaints and mailto unsubscribes, and the soft-bounce policy.

Every event is kept (`bounce_events`) with the server's words; one report is
applied once, however often it is read (`report_key`, unique per address),
so two `digest inbox process` runs over one mailbox, or a receiver and a run,
never count a bounce twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from digest.core.status import enhanced_status
from digest.store.base import SQLBase, Tx, now_iso
from digest.store.issues import email_key
from digest.store.records import Result
from digest.store.suppressions import suppress_everywhere, unsubscribe_from

__all__ = ["BounceEvent", "BounceVerdict", "BounceSummary", "Delivery", "BounceQueries", "EVENT_KINDS"]

EVENT_KINDS = ("hard", "soft", "refused", "complaint", "unsubscribe", "delivered")
_SUPPRESS_FOR = {"hard": "bounced", "complaint": "complained"}
_TEXT_MAX = 1000


@dataclass(frozen=True, slots=True)
class BounceEvent:
    """One thing a report said about one address."""

    email: str
    kind: str  # one of EVENT_KINDS
    source: str  # rcpt | dsn | bounce | arf | mailto
    report_key: str  # the same report read twice has the same key
    issue: int | None = None
    status: str = ""  # RFC 3463 code, or the feedback type of a complaint
    diagnostic: str = ""  # the server's own words
    signup: int | None = None  # a bounce of this signup's confirmation mail (never counted as an issue's)
    list_name: str = ""  # an unsubscribe: the list the reader's signed token names


@dataclass(frozen=True, slots=True)
class BounceVerdict:
    """What recording an event did."""

    duplicate: bool = False  # this report was applied before
    suppressed: bool = False  # the address was put on the suppression list now
    soft_count: int = 0  # soft bounces counted towards the limit


@dataclass(frozen=True, slots=True)
class BounceSummary:
    """An address's bounce history, for `digest subscribers bounces`."""

    email: str
    hard: int
    soft: int
    refused: int
    complaints: int
    last_kind: str
    last_status: str
    last_diagnostic: str
    last_at: str
    last_issue: int | None
    suppressed: str | None  # the suppression reason, if suppressed


@dataclass(frozen=True, slots=True)
class Delivery:
    """A journal row a VERP token or a Message-ID points at."""

    email: str
    email_key: str
    issue: int
    message_id: str
    list_name: str = ""  # the list the issue went out to this reader from (an opt-out leaves that one)


_State = tuple[Any, Any, Any]  # a global suppression's (reason, issue, created_at), all None when there is none


def _suppression_state(tx: Tx, key: str) -> tuple[_State, list[str]]:
    """An address's global suppression and the lists exempted from it, as they are now."""
    row = tx.execute("SELECT reason, issue, created_at FROM suppressions WHERE email_key = ?", (key,)).fetchone()
    lists = sorted(str(r[0]) for r in tx.execute(
        "SELECT list FROM suppression_exemptions WHERE email_key = ?", (key,)).fetchall())
    return (tuple(row) if row else (None, None, None)), lists


def _restore(tx: Tx, key: str, had: _State, made: _State, exemptions: list[str]) -> None:
    """Put an address's suppression back as it was before a refusal, if the refusal's change still stands."""
    now, _ = _suppression_state(tx, key)
    if tuple(now) != tuple(made):
        return  # changed since (a complaint, an unsubscribe, `resubscribe`): that is the newer word
    if had[0] is None:
        tx.execute("DELETE FROM suppressions WHERE email_key = ?", (key,))
    else:
        tx.execute("UPDATE suppressions SET reason = ?, issue = ?, created_at = ? WHERE email_key = ?",
                   (*had, key))
        for list_name in exemptions:
            tx.execute("INSERT INTO suppression_exemptions (list, email_key, created_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (list, email_key) DO NOTHING", (list_name, key, now_iso()))


def _clip(text: str) -> str:
    return " ".join(text.split())[:_TEXT_MAX]


class BounceQueries(SQLBase):
    """Bounce events, the policy that turns them into suppressions, and the lookups that map reports back."""

    # -- mapping a report back to what we sent --------------------------------------------

    def delivery(self, row_id: int) -> Delivery | None:
        """The journal row with this id (what a VERP token names)."""
        row = self.one("SELECT email, email_key, issue, message_id, list FROM deliveries WHERE id = ?", (row_id,))
        return Delivery(str(row[0]), str(row[1]), int(row[2]), str(row[3]), str(row[4] or "")) if row else None

    def delivery_for(self, issue: int, email: str) -> Delivery | None:
        """The journal row of this issue and address (a Message-ID found in a report names the issue)."""
        row = self.one("SELECT email, email_key, issue, message_id FROM deliveries WHERE issue = ? AND email_key = ?",
                       (issue, email_key(email)))
        return Delivery(str(row[0]), str(row[1]), int(row[2]), str(row[3])) if row else None

    def deliveries_for(self, issue: int, emails: Sequence[str]) -> list[Delivery]:
        """The journal rows of an issue for these addresses, in one query (at most 500 addresses)."""
        keys = sorted({email_key(e) for e in emails})[:500]
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        # Only "?" placeholders are formatted in; the values are bound. Probes the (issue, email_key) index.
        return [Delivery(str(e), str(k), int(i), str(m)) for e, k, i, m in self.query(
            f"SELECT email, email_key, issue, message_id FROM deliveries WHERE issue = ? AND email_key IN ({marks})",  # nosec B608
            (issue, *keys))]

    # -- recording -------------------------------------------------------------------------

    def deliveries(self, row_ids: Sequence[int]) -> dict[int, Delivery]:
        """Many journal rows by id at once (a batch of VERP tokens)."""
        found: dict[int, Delivery] = {}
        ids = sorted(set(row_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for rid, email, key, issue, message_id, list_name in self.query(
                    f"SELECT id, email, email_key, issue, message_id, list FROM deliveries "  # nosec B608
                    f"WHERE id IN ({marks})", chunk):
                found[int(rid)] = Delivery(str(email), str(key), int(issue), str(message_id), str(list_name or ""))
        return found

    def record_bounce(self, event: BounceEvent, *, now: float, soft_limit: int = 3,
                      soft_window: float = 30 * 86400.0) -> BounceVerdict:
        """Record one event and apply the policy, in one transaction; a report already applied changes nothing.

        hard → suppressed "bounced" at once; complaint → "complained"; unsubscribe →
        "unsubscribed"; soft → suppressed "bounced" once `soft_limit` issues in a row
        soft-bounced within `soft_window` seconds (a confirmation mail's soft bounce is kept
        with its signup and never counted); delivered → the soft count starts over.
        """
        return self.record_bounces([event], now=now, soft_limit=soft_limit, soft_window=soft_window)[0]

    def record_bounces(self, events: Sequence[BounceEvent], *, now: float, soft_limit: int = 3,
                       soft_window: float = 30 * 86400.0) -> list[BounceVerdict]:
        """`record_bounce` for many events in one transaction (a batch of a mailbox), in order."""
        if not events:
            return []
        with self.transaction() as tx:
            # Soft counting reads then writes: one writer at a time (SQLite's write lock does it already).
            self.lock_table(tx, "bounce_events")
            return [self._apply(tx, event, now=now, soft_limit=soft_limit, soft_window=soft_window)
                    for event in events]

    def _apply(self, tx: Tx, event: BounceEvent, *, now: float, soft_limit: int, soft_window: float) -> BounceVerdict:
        key = email_key(event.email)
        inserted = tx.execute(
            "INSERT INTO bounce_events (email_key, email, issue, kind, status, diagnostic, source, report_key, "
            "at, created_at, signup) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (report_key, email_key) DO NOTHING",
            (key, event.email.strip(), event.issue, event.kind, event.status[:64], _clip(event.diagnostic),
             event.source, event.report_key[:200], now, now_iso(), event.signup)).rowcount
        if int(inserted) != 1:
            return BounceVerdict(duplicate=True)
        if event.kind == "delivered":
            tx.execute("UPDATE bounce_events SET cleared = 1 WHERE email_key = ? AND kind = 'soft' AND at <= ?",
                       (key, now))
            return BounceVerdict()
        if event.kind == "soft" and event.signup is not None:
            # A confirmation mail to an address that fails for now (anyone may ask for one): kept with the
            # signup, never counted against a reader's issues.
            return BounceVerdict()
        if event.kind == "soft":
            count = self._soft_count(tx, key, since=now - soft_window)
            if count < soft_limit:
                return BounceVerdict(soft_count=count)
            return BounceVerdict(suppressed=self._suppress(tx, event.email, "bounced", event.issue), soft_count=count)
        if event.kind == "unsubscribe":
            return BounceVerdict(suppressed=unsubscribe_from(tx, event.email, event.list_name, event.issue))
        reason = _SUPPRESS_FOR.get(event.kind)
        if reason is None:
            return BounceVerdict()
        return BounceVerdict(suppressed=self._suppress(tx, event.email, reason, event.issue))

    def _suppress(self, tx: Tx, email: str, reason: str, issue: int | None) -> bool:
        return suppress_everywhere(tx, email, reason, issue)

    def _soft_count(self, tx: Tx, key: str, *, since: float) -> int:
        """Soft bounces since the last clean delivery: distinct issues (a delayed notice and the final
        failure of one message count once), reset by a later issue that was sent and did not bounce."""
        rows = tx.execute("SELECT id, issue FROM bounce_events WHERE email_key = ? AND kind = 'soft' "
                          "AND cleared = 0 AND signup IS NULL AND at >= ?", (key, since)).fetchall()
        issues = sorted({int(issue) for _, issue in rows if issue is not None})
        loose = sum(1 for _, issue in rows if issue is None)
        if len(issues) >= 2:
            between = [int(n) for (n,) in tx.execute(
                "SELECT number FROM issues WHERE number > ? AND number < ?", (issues[0], issues[-1])).fetchall()
                if int(n) not in issues]
            clean = self._clean_issues(tx, key, between)
            if clean:
                issues = [n for n in issues if n > max(clean)]
        return len(issues) + loose

    def _clean_issues(self, tx: Tx, key: str, candidates: list[int]) -> set[int]:
        """Which of these issues went to the address (accepted) and never bounced."""
        clean: set[int] = set()
        for start in range(0, len(candidates), 200):
            chunk = candidates[start:start + 200]
            marks = ",".join("?" * len(chunk))
            # Only "?" placeholders are formatted in; the values are bound. Probes the (issue, email_key) index.
            sent = {int(r[0]) for r in tx.execute(
                f"SELECT issue FROM deliveries WHERE email_key = ? AND status = 'sent' AND issue IN ({marks})",  # nosec B608
                (key, *chunk)).fetchall()}
            bounced = {int(r[0]) for r in tx.execute(
                f"SELECT DISTINCT issue FROM bounce_events WHERE email_key = ? AND issue IN ({marks})",  # nosec B608
                (key, *chunk)).fetchall()}
            clean |= sent - bounced
        return clean

    def record_refusals(self, tx: Tx, results: Sequence[Result], *, now: float, soft_limit: int = 3,
                        soft_window: float = 30 * 86400.0) -> None:
        """In the send's own transaction: a 5xx for the recipient is an event under the policy — a dead
        address suppressed at once, a soft one counted, a refusal of the message only recorded."""
        for result in results:
            if not result.refusal:
                continue
            row = tx.execute("SELECT email, issue FROM deliveries WHERE id = ?", (result.row_id,)).fetchone()
            if row is None:
                continue
            reply = f"{result.code} {result.reply}"
            event = BounceEvent(str(row[0]), result.refusal, "rcpt", f"rcpt:{result.row_id}", issue=int(row[1]),
                                status=enhanced_status(result.reply) or str(result.code), diagnostic=reply)
            key = email_key(event.email)
            had = _suppression_state(tx, key)
            if self._apply(tx, event, now=now, soft_limit=soft_limit, soft_window=soft_window).suppressed:
                # Kept so `withdraw_refusals` can put back what was there (the relay may turn out at fault).
                now_set = _suppression_state(tx, key)
                tx.execute(
                    "INSERT INTO refusal_changes (report_key, email_key, had_reason, had_issue, had_created, "
                    "set_reason, set_issue, set_created, exemptions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (report_key, email_key) DO NOTHING",
                    (event.report_key, key, *had[0], *now_set[0], json.dumps(had[1])))

    def withdraw_refusals(self, row_ids: Sequence[int], *, now: float | None = None, soft_limit: int = 3,
                          soft_window: float = 30 * 86400.0) -> int:
        """Forget what these rows' refusals recorded (the relay refused everyone: not the readers' fault).

        Each address's suppression, and the lists a signup had exempted, are put back as they were
        before the refusal (a soft limit reached by the withdrawn event, a hard bounce) — unless
        something else has changed the suppression since (a complaint that came in meanwhile stays).
        Then the events that remain decide again: a bounce or a complaint that came in after the
        refusal, or soft bounces that reach the limit without it, suppress as they would have.
        Returns the events removed."""
        removed = 0
        now = time.time() if now is None else now
        with self.transaction() as tx:
            self.lock_table(tx, "bounce_events")
            for start in range(0, len(row_ids), 500):
                keys = [f"rcpt:{r}" for r in row_ids[start:start + 500]]
                marks = ",".join("?" * len(keys))
                # Per address: the first withdrawn event (what came after it is judged again below).
                after = {str(k): int(i) for k, i in tx.execute(
                    f"SELECT email_key, MIN(id) FROM bounce_events WHERE source = 'rcpt' "  # nosec B608
                    f"AND report_key IN ({marks}) GROUP BY email_key", keys).fetchall()}
                # Only "?" placeholders are formatted in; the values are bound parameters.
                changes = tx.execute(
                    "SELECT email_key, had_reason, had_issue, had_created, set_reason, set_issue, set_created, "  # nosec B608
                    f"exemptions FROM refusal_changes WHERE report_key IN ({marks}) ORDER BY report_key DESC",
                    keys).fetchall()
                for key, *states, exemptions in changes:
                    _restore(tx, str(key), (states[0], states[1], states[2]), (states[3], states[4], states[5]),
                             json.loads(exemptions))
                tx.execute(f"DELETE FROM refusal_changes WHERE report_key IN ({marks})", keys)  # nosec B608
                removed += int(tx.execute(
                    f"DELETE FROM bounce_events WHERE source = 'rcpt' AND report_key IN ({marks})",  # nosec B608
                    keys).rowcount)
                for key, first in after.items():
                    self._judge_again(tx, key, after=first, now=now, soft_limit=soft_limit, soft_window=soft_window)
        return removed

    def _judge_again(self, tx: Tx, key: str, *, after: int, now: float, soft_limit: int, soft_window: float) -> None:
        """After a withdrawal: the events of an address recorded since `after` suppress it as they would have."""
        later = tx.execute("SELECT kind, email, issue FROM bounce_events WHERE email_key = ? AND id > ? "
                           "AND cleared = 0 AND kind IN ('hard', 'complaint', 'soft') ORDER BY id",
                           (key, after)).fetchall()
        for kind, email, issue in later:
            if kind in _SUPPRESS_FOR:
                suppress_everywhere(tx, str(email), _SUPPRESS_FOR[str(kind)], issue)
        soft = [(email, issue) for kind, email, issue in later if kind == "soft"]
        if soft and self._soft_count(tx, key, since=now - soft_window) >= soft_limit:
            suppress_everywhere(tx, str(soft[-1][0]), "bounced", soft[-1][1])

    def resubscribe(self, email: str) -> bool:
        """Undo a mistake: off the suppression list (every list's too), and past bounces no longer count;
        False if it was not suppressed anywhere."""
        key = email_key(email)
        with self.transaction() as tx:
            removed = int(tx.execute("DELETE FROM suppressions WHERE email_key = ?", (key,)).rowcount)
            removed += int(tx.execute("DELETE FROM list_suppressions WHERE email_key = ?", (key,)).rowcount)
            tx.execute("DELETE FROM suppression_exemptions WHERE email_key = ?", (key,))
            tx.execute("UPDATE bounce_events SET cleared = 1 WHERE email_key = ?", (key,))
        return removed > 0

    # -- reading back ------------------------------------------------------------------------

    def bounce_summaries(self, *, include_cleared: bool = False) -> Iterator[BounceSummary]:
        """Every address with a bounce, refusal or complaint: counts and the latest event, newest first."""
        cleared = "" if include_cleared else "AND e.cleared = 0 "
        for row in self.query(
                "SELECT e.email_key, "
                "SUM(CASE WHEN e.kind = 'hard' THEN 1 ELSE 0 END), SUM(CASE WHEN e.kind = 'soft' THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN e.kind = 'refused' THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN e.kind = 'complaint' THEN 1 ELSE 0 END), MAX(e.id) FROM bounce_events e "
                f"WHERE e.kind IN ('hard', 'soft', 'refused', 'complaint') {cleared}"  # nosec B608
                "GROUP BY e.email_key ORDER BY MAX(e.id) DESC"):
            key, hard, soft, refused, complaints, last = row
            detail = self.one("SELECT e.email, e.kind, e.status, e.diagnostic, e.created_at, e.issue, s.reason "
                              "FROM bounce_events e LEFT JOIN suppressions s ON s.email_key = e.email_key "
                              "WHERE e.id = ?", (last,))
            if detail is None:
                continue
            email, kind, status, diagnostic, created, issue, reason = detail
            yield BounceSummary(str(email), int(hard or 0), int(soft or 0), int(refused or 0), int(complaints or 0),
                                str(kind), str(status), str(diagnostic), str(created),
                                int(issue) if issue is not None else None, reason)

    def bounce_events(self, email: str) -> list[BounceEvent]:
        """Every event of one address, oldest first."""
        return [BounceEvent(str(e), str(k), str(src), str(rk), int(i) if i is not None else None, str(s), str(d))
                for e, k, src, rk, i, s, d in self.query(
                    "SELECT email, kind, source, report_key, issue, status, diagnostic FROM bounce_events "
                    "WHERE email_key = ? ORDER BY id", (email_key(email),))]
