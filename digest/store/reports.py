"""Store queries for `digest report`: what happened to each sent issue, read from the journal and the events.

Sent is a delivery the relay accepted; delivered, sent with no bounce since; bounces, complaints and
mailed unsubscribes are `bounce_events` (a mailed unsubscribe has kind 'unsubscribe'); an unsubscribe
by link is a suppression with reason 'unsubscribed' naming the issue that is not a mailed one; one
from the manage page a suppression whose reason starts with 'manage'.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.store.base import SQLBase

__all__ = ["ReportQueries", "IssueOutcome"]


@dataclass(frozen=True, slots=True)
class IssueOutcome:
    """What happened to one issue's messages, counted once per address."""

    issue: int
    first_sent: str
    sent: int
    delivered: int
    hard_bounces: int
    soft_bounces: int
    complaints: int
    unsub_link: int
    unsub_mail: int
    unsub_manage: int
    signups: int  # readers confirmed between the previous issue and this one


def _events(rows: list[tuple[object, ...]]) -> dict[tuple[int, str], int]:
    return {(int(str(i)), str(k)): int(str(n)) for i, k, n in rows}


class ReportQueries(SQLBase):
    """Counts per issue for the report (digest.app.report)."""

    def issue_outcomes(self) -> list[IssueOutcome]:
        """Every issue with a sent message, oldest first."""
        sent = self.query("SELECT issue, MIN(updated_at), COUNT(DISTINCT email_key) FROM deliveries "
                          "WHERE status = 'sent' GROUP BY issue ORDER BY issue")
        events = _events(self.query("SELECT issue, kind, COUNT(DISTINCT email_key) FROM bounce_events "
                                    "WHERE issue IS NOT NULL GROUP BY issue, kind"))
        bounced = {int(i): int(n) for i, n in self.query(
            "SELECT d.issue, COUNT(DISTINCT d.email_key) FROM deliveries d JOIN bounce_events b "
            "ON b.email_key = d.email_key AND b.issue = d.issue AND b.kind IN ('hard', 'soft') "
            "WHERE d.status = 'sent' GROUP BY d.issue")}
        how = "CASE WHEN SUBSTR(reason, 1, 6) = 'manage' THEN 'manage' ELSE 'link' END"
        suppressed = _events(self.query(
            f"SELECT issue, {how}, COUNT(DISTINCT email_key) "  # nosec B608 (no input in it)
            "FROM (SELECT issue, email_key, reason FROM suppressions UNION ALL "
            "SELECT issue, email_key, reason FROM list_suppressions) s "
            "WHERE issue IS NOT NULL AND (reason = 'unsubscribed' OR SUBSTR(reason, 1, 6) = 'manage') AND NOT EXISTS "
            "(SELECT 1 FROM bounce_events b WHERE b.email_key = s.email_key AND b.issue = s.issue "
            f"AND b.kind = 'unsubscribe') GROUP BY issue, {how}"))
        confirmed = [str(c) for (c,) in self.query("SELECT confirmed_at FROM signups WHERE confirmed_at IS NOT NULL")]
        outcomes, previous = [], ""
        for issue, first, count in sent:
            number, first = int(issue), str(first)
            joined = sum(1 for c in confirmed if previous < c <= first)
            outcomes.append(IssueOutcome(
                number, first, int(count), int(count) - bounced.get(number, 0), events.get((number, "hard"), 0),
                events.get((number, "soft"), 0), events.get((number, "complaint"), 0),
                suppressed.get((number, "link"), 0), events.get((number, "unsubscribe"), 0),
                suppressed.get((number, "manage"), 0), joined))
            previous = first
        return outcomes
