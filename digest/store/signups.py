"""Store queries for signups: double opt-in requests with their abuse limits, confirmations, confirmed members.

Confirmed readers live here, in `list_members` keyed by (list, address): a
signup is one transaction, so any number at once lose nothing, on SQLite or
PostgreSQL. `digest send --list NAME` reads them after `subscribers/NAME.csv`;
`digest subscribers export NAME` writes them out as CSV. Consent is kept with
each member: when they asked, from which page and client, when they confirmed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from digest.core.model import Subscriber
from digest.store.base import SQLBase, now_iso
from digest.store.issues import email_key
from digest.store.suppressions import lift_for_list

__all__ = ["SignupRequest", "SignupLimits", "Signup", "Member", "SignupQueries", "client_networks"]

_PAGE = 1000
_KEEP_ATTEMPTS = 2 * 86400.0  # rate-limit bookkeeping older than the longest window is dropped


@dataclass(frozen=True, slots=True)
class SignupRequest:
    """A POST /subscribe that passed the form checks."""

    list: str
    email: str
    name: str = ""
    source: str = ""  # the page the form was on (Referer), for the consent record
    client: str = ""  # the client's address


@dataclass(frozen=True, slots=True)
class SignupLimits:
    """Abuse limits, checked and counted in the signup's own transaction."""

    per_address: int = 3  # confirmation mails to one address per day
    per_client: int = 20  # signup requests from one client network (IPv4 address, IPv6 /64) per hour
    max_pending: int = 50  # unconfirmed, unexpired signups from one network (IPv4 /24, IPv6 /48) at once
    ttl: float = 7 * 86400.0  # a confirmation link's life


def client_networks(client: str) -> tuple[str, str]:
    """(the network the hourly limit counts, the wider one the pending cap counts) of a client address.

    One IPv6 host may use every address of its /64 (RFC 4291 interface identifiers), and one
    customer usually gets a /48 or a /56: counting single addresses would let one machine pass
    any limit. IPv4 addresses are scarce and shared by neighbours behind carrier NAT: one address
    for the hourly limit, its /24 for the pending cap. Anything else (a test client) is itself.
    """
    try:
        address = ipaddress.ip_address(client.strip().strip("[]").split("%")[0])
    except ValueError:
        return client[:100], client[:100]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return str(address), str(ipaddress.ip_network(f"{address}/24", strict=False))
    return (str(ipaddress.ip_network(f"{address}/64", strict=False)),
            str(ipaddress.ip_network(f"{address}/48", strict=False)))


@dataclass(frozen=True, slots=True)
class Signup:
    """One signup request and where it stands."""

    id: int
    list: str
    email: str
    name: str
    state: str  # pending | confirmed | superseded
    expires_at: float
    requested_at: str
    source: str


@dataclass(frozen=True, slots=True)
class Member:
    """A confirmed reader of a list, with the record of their consent."""

    list: str
    email: str
    name: str
    consented_at: str
    confirmed_at: str
    source: str
    client: str


class SignupQueries(SQLBase):
    """Signups, their limits, confirmations and confirmed members."""

    def request_signup(self, request: SignupRequest, *, now: float, limits: SignupLimits) -> tuple[str, int | None]:
        """Check the limits and record a pending signup, in one transaction.

        Returns ("mail", id) when a confirmation should go out, else ("address", None)
        (this address had its confirmations for the day), ("client", None) (too many
        requests from this client's network this hour) or ("full", None) (too many
        unconfirmed signups from its wider network). A refused request writes nothing: a
        flood of them costs no storage.
        """
        key = email_key(request.email)
        rate_net, pending_net = client_networks(request.client)
        with self.transaction() as tx:
            self.lock_table(tx, "signup_attempts")
            tx.execute("DELETE FROM signup_attempts WHERE at < ?", (now - _KEEP_ATTEMPTS,))
            by_client = tx.execute("SELECT COUNT(*) FROM signup_attempts WHERE client = ? AND at >= ?",
                                   (rate_net, now - 3600)).fetchone()[0]
            if int(by_client) >= limits.per_client:
                return "client", None
            pending = tx.execute("SELECT COUNT(*) FROM signups WHERE network = ? AND state = 'pending' "
                                 "AND expires_at >= ?", (pending_net, now)).fetchone()[0]
            if int(pending) >= limits.max_pending:
                return "full", None
            tx.execute("INSERT INTO signup_attempts (email_key, client, at) VALUES (?, ?, ?)", (key, rate_net, now))
            # Requested within the last day: expires_at is the request time plus the link's life.
            mailed = tx.execute("SELECT COUNT(*) FROM signups WHERE email_key = ? AND expires_at >= ?",
                                (key, now - 86400 + limits.ttl)).fetchone()[0]
            if int(mailed) >= limits.per_address:
                return "address", None
            row = tx.execute(
                "INSERT INTO signups (list, email_key, email, name, source, client, network, requested_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (request.list, key, request.email, request.name, request.source[:500], request.client[:100],
                 pending_net, now_iso(), now + limits.ttl)).fetchone()
        return "mail", int(row[0])

    def signup(self, signup_id: int) -> Signup | None:
        """One signup by id."""
        row = self.one("SELECT id, list, email, name, state, expires_at, requested_at, source FROM signups "
                       "WHERE id = ?", (signup_id,))
        if row is None:
            return None
        sid, list_name, email, name, state, expires, requested, source = row
        return Signup(int(sid), str(list_name), str(email), str(name), str(state), float(expires), str(requested),
                      str(source))

    def signup_mailed(self, signup_id: int, *, error: str | None) -> None:
        """Note whether the confirmation mail went out (the error, if not)."""
        with self.transaction() as tx:
            tx.execute("UPDATE signups SET mail_error = ? WHERE id = ?", (error[:500] if error else None, signup_id))

    def confirm_signup(self, signup_id: int, *, now: float) -> str:
        """Confirm a pending signup: "confirmed", or "used", "expired", "unknown" (nothing changes then).

        Atomic: the signup leaves "pending" in the statement that confirms it, so a link posted
        many times at once confirms once. Confirming makes the reader a member of the list,
        lifts what stood between them and this list (see `suppressions.lift_for_list`: their
        other lists stay as they were) and supersedes the address's other pending links for it.
        """
        stamp = now_iso()
        with self.transaction() as tx:
            row = tx.execute(
                "UPDATE signups SET state = 'confirmed', confirmed_at = ? WHERE id = ? AND state = 'pending' "
                "AND expires_at >= ? RETURNING list, email_key, email, name, requested_at, source, client",
                (stamp, signup_id, now)).fetchone()
            if row is None:
                found = tx.execute("SELECT state FROM signups WHERE id = ?", (signup_id,)).fetchone()
                return "unknown" if found is None else "used" if found[0] != "pending" else "expired"
            list_name, key, email, name, requested, source, client = row
            tx.execute("UPDATE signups SET state = 'superseded' WHERE list = ? AND email_key = ? AND state = 'pending'",
                       (list_name, key))
            tx.execute(
                "INSERT INTO list_members (list, email_key, email, name, signup, consented_at, confirmed_at, source, "
                "client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (list, email_key) DO UPDATE SET "
                "email = excluded.email, name = excluded.name, signup = excluded.signup, "
                "consented_at = excluded.consented_at, confirmed_at = excluded.confirmed_at, "
                "source = excluded.source, client = excluded.client",
                (list_name, key, email, name, signup_id, requested, stamp, source, client))
            lift_for_list(tx, str(key), str(list_name))
            tx.execute("UPDATE bounce_events SET cleared = 1 WHERE email_key = ?", (key,))
        return "confirmed"

    def members(self, list_name: str) -> Iterator[Member]:
        """The confirmed members of a list, by address, a page at a time (a large list never sits in memory)."""
        after = ""
        while True:
            rows = self.query(
                "SELECT email_key, email, name, consented_at, confirmed_at, source, client FROM list_members "
                "WHERE list = ? AND email_key > ? ORDER BY email_key LIMIT ?", (list_name, after, _PAGE))
            for _, email, name, consented, confirmed, source, client in rows:
                yield Member(list_name, str(email), str(name), str(consented), str(confirmed), str(source),
                             str(client))
            if len(rows) < _PAGE:
                return
            after = str(rows[-1][0])

    def member_subscribers(self, list_name: str) -> Iterator[Subscriber]:
        """The confirmed members of a list as subscribers (origin `store:LIST`)."""
        for line, member in enumerate(self.members(list_name), start=1):
            yield Subscriber(member.email, member.name, origin=f"store:{list_name}", line=line)

    def members_version(self, list_name: str) -> str:
        """Changes whenever a member joins or confirms again (part of a campaign's fingerprint)."""
        row = self.one("SELECT COUNT(*), COALESCE(MAX(signup), 0) FROM list_members WHERE list = ?", (list_name,))
        return f"{row[0]}:{row[1]}" if row else "0:0"

    def member_lists(self) -> dict[str, int]:
        """Lists with confirmed members, and how many."""
        return {str(name): int(n) for name, n in self.query(
            "SELECT list, COUNT(*) FROM list_members GROUP BY list ORDER BY list")}
