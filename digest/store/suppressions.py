"""The suppression list: addresses no send may reach, and why — for every list, or for one.

Two scopes (migration 0400_suppression_scopes):

* global (`suppressions`): bounces (the address is dead), complaints, what
  `digest subscribers unsubscribe` adds, and unsubscribes recorded before
  lists had their own. No list reaches the address.
* one list (`list_suppressions`): a reader who left a list by its one-click
  link or its mailto address (the signed token names the list). Their other
  lists still reach them.

A confirmed signup to list X is the reader asking again, for X only: it
lifts X's own suppression and exempts X from a global one, whatever its
reason (`suppression_exemptions`) — the other lists stay suppressed. A new
global suppression (another complaint, a bounce) ends every exemption, and
a stronger reason replaces a weaker one (`REASON_RANK`).
A journal row is suppressed by `SUPPRESSED_ROW`, the one condition every
query of the send uses: only when every list that reaches the reader in
that campaign is suppressed for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from digest.core.errors import StateError
from digest.store.base import SQLBase, Tx, now_iso
from digest.store.issues import email_key
from digest.store.records import SUPPRESSION_REASONS, Suppression

__all__ = ["SuppressionQueries", "SUPPRESSED_ROW", "REASON_RANK", "suppressed_on", "suppress_everywhere",
           "unsubscribe_from", "lift_for_list"]

_IN_CHUNK = 500

def suppressed_on(list_sql: str, key_sql: str) -> str:
    """SQL true when the address `key_sql` may not be sent list `list_sql` (both SQL expressions):
    suppressed everywhere and that list not exempted, or suppressed on that list."""
    # Called with fixed column names only, never with values: those are bound parameters.
    return (f"(EXISTS (SELECT 1 FROM suppressions s WHERE s.email_key = {key_sql} AND NOT EXISTS ("  # nosec B608
            f"SELECT 1 FROM suppression_exemptions x WHERE x.list = {list_sql} AND x.email_key = {key_sql})) "
            f"OR EXISTS (SELECT 1 FROM list_suppressions l WHERE l.list = {list_sql} AND l.email_key = {key_sql}))")


#: True when journal row `d`, member `m` of a campaign, may not be sent for that campaign: suppressed on
#: every list through which the campaign's latest reading reaches them (migration 0410_member_lists).
#: A reader who left `weekly` still gets the issue through `monthly`, in the same campaign or another.
SUPPRESSED_ROW = (
    "(NOT EXISTS (SELECT 1 FROM member_lists ml WHERE ml.campaign = m.campaign AND ml.delivery = m.delivery "  # nosec B608
    f"AND ml.generation = m.generation AND NOT {suppressed_on('ml.list', 'd.email_key')}))")


#: How strong a global suppression's reason is: a stronger one replaces a weaker, never the reverse.
#: A complaint is the reader's loudest word (mailbox providers count it against the sender); an
#: unsubscribe, or what the operator wrote, is the reader's or the operator's decision; a bounce only
#: says the address failed once, and a later complaint or unsubscribe must not hide behind it.
REASON_RANK = {"bounced": 1, "unsubscribed": 2, "manage": 2, "manual": 2, "complained": 3}
_RANK_SQL = "CASE {col} " + " ".join(f"WHEN '{r}' THEN {n}" for r, n in REASON_RANK.items()) + " ELSE 0 END"


def suppress_everywhere(tx: Tx, email: str, reason: str, issue: int | None) -> bool:
    """In a transaction: suppress an address for every list; True when that changed anything.

    An address already suppressed keeps its reason unless the new one is stronger
    (`REASON_RANK`: a complaint after a bounce is a complaint); lists a signup had exempted
    are suppressed again (a complaint or a bounce after the signup counts).
    """
    key = email_key(email)
    # Only the fixed rank CASE is formatted in; the values are bound parameters.
    changed = int(tx.execute(
        "INSERT INTO suppressions (email_key, email, reason, issue, created_at) VALUES (?, ?, ?, ?, ?) "  # nosec B608
        "ON CONFLICT (email_key) DO UPDATE SET reason = excluded.reason, issue = excluded.issue, "
        f"created_at = excluded.created_at WHERE {_RANK_SQL.format(col='excluded.reason')} > "
        f"{_RANK_SQL.format(col='suppressions.reason')}",
        (key, email.strip(), reason, issue, now_iso())).rowcount) == 1
    lifted = int(tx.execute("DELETE FROM suppression_exemptions WHERE email_key = ?", (key,)).rowcount) > 0
    return changed or lifted


def unsubscribe_from(tx: Tx, email: str, list_name: str, issue: int | None) -> bool:
    """In a transaction: a reader leaves the list their signed token names; True when that changed anything.

    The list counts when we sent that issue to the address from that list (the journal says so);
    a token naming no such list (an old or test message) unsubscribes from every list.
    """
    key = email_key(email)
    sent_from = list_name and issue is not None and tx.execute(
        "SELECT 1 FROM deliveries WHERE issue = ? AND email_key = ? AND list = ?", (issue, key, list_name)).fetchone()
    if not sent_from:
        return suppress_everywhere(tx, email, "unsubscribed", issue)
    tx.execute("DELETE FROM suppression_exemptions WHERE list = ? AND email_key = ?", (list_name, key))
    return int(tx.execute(
        "INSERT INTO list_suppressions (list, email_key, email, reason, issue, created_at) "
        "VALUES (?, ?, ?, 'unsubscribed', ?, ?) ON CONFLICT (list, email_key) DO NOTHING",
        (list_name, key, email.strip(), issue, now_iso())).rowcount) == 1


def lift_for_list(tx: Tx, key: str, list_name: str) -> None:
    """In a confirmation's transaction: what the reader's new opt-in to this list lifts, and no more.

    Their unsubscribe from this list goes; a global suppression (a bounce, a complaint, an
    unsubscribe from everything) stays for every other list and only this one is exempted,
    until the next bounce or complaint (`suppress_everywhere` ends every exemption)."""
    tx.execute("DELETE FROM list_suppressions WHERE list = ? AND email_key = ?", (list_name, key))
    tx.execute("INSERT INTO suppression_exemptions (list, email_key, created_at) SELECT ?, ?, ? "
               "WHERE EXISTS (SELECT 1 FROM suppressions WHERE email_key = ?) "
               "ON CONFLICT (list, email_key) DO NOTHING", (list_name, key, now_iso(), key))


class SuppressionQueries(SQLBase):
    """The suppression list: addresses no send may reach, and why."""

    def suppress(self, email: str, *, reason: str, issue: int | None = None, list_name: str | None = None) -> bool:
        """Suppress an address for every list, or only for `list_name`; False when it already was."""
        if reason not in SUPPRESSION_REASONS:
            raise StateError(f"unknown reason {reason!r}; use one of {', '.join(SUPPRESSION_REASONS)}")
        with self.transaction() as tx:
            if list_name is None:
                return suppress_everywhere(tx, email, reason, issue)
            return int(tx.execute(
                "INSERT INTO list_suppressions (list, email_key, email, reason, issue, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (list, email_key) DO NOTHING",
                (list_name, email_key(email), email.strip(), reason, issue, now_iso())).rowcount) == 1

    def unsubscribe(self, email: str, *, list_name: str, issue: int | None) -> bool:
        """A reader's own unsubscribe (one-click, mailto) from the list of their token; see `unsubscribe_from`."""
        with self.transaction() as tx:
            return unsubscribe_from(tx, email, list_name, issue)

    def unsuppress(self, email: str) -> bool:
        """Take an address off the suppression list, for every list; False when it was on none."""
        key = email_key(email)
        with self.transaction() as tx:
            removed = int(tx.execute("DELETE FROM suppressions WHERE email_key = ?", (key,)).rowcount)
            removed += int(tx.execute("DELETE FROM list_suppressions WHERE email_key = ?", (key,)).rowcount)
            tx.execute("DELETE FROM suppression_exemptions WHERE email_key = ?", (key,))
            return removed > 0

    def is_suppressed(self, email: str, *, list_name: str | None = None) -> bool:
        """True when the address must not be sent `list_name`; without a list: when it is suppressed anywhere."""
        key = email_key(email)
        if list_name is not None:
            return key in self.suppressed_among([key], list_name=list_name)
        return self.one("SELECT 1 FROM suppressions WHERE email_key = ? UNION ALL "
                        "SELECT 1 FROM list_suppressions WHERE email_key = ?", (key, key)) is not None

    def suppressed_among(self, keys: Iterable[str], *, list_name: str | None = None) -> set[str]:
        """Which of these address keys may not be sent `list_name` (without a list: the global suppressions)."""
        keys = list(keys)
        found: set[str] = set()
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start:start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            # Only "?" placeholders are formatted in; the values are bound parameters.
            if list_name is None:
                found.update(row[0] for row in self.query(
                    f"SELECT email_key FROM suppressions WHERE email_key IN ({marks})", chunk))  # nosec B608
                continue
            found.update(row[0] for row in self.query(
                f"SELECT s.email_key FROM suppressions s WHERE s.email_key IN ({marks}) "  # nosec B608
                "AND NOT EXISTS (SELECT 1 FROM suppression_exemptions x "
                "WHERE x.list = ? AND x.email_key = s.email_key) "
                f"UNION SELECT email_key FROM list_suppressions WHERE list = ? AND email_key IN ({marks})",
                [*chunk, list_name, list_name, *chunk]))
        return found

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppression, oldest first: global ones (list "") and those of one list."""
        for email, reason, issue, created, list_name in self.query(
                "SELECT email, reason, issue, created_at, '' FROM suppressions UNION ALL "
                "SELECT email, reason, issue, created_at, list FROM list_suppressions ORDER BY 4, 1, 5"):
            yield Suppression(email, reason, issue, created, str(list_name))
