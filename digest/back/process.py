"""Applying what came back: map a report to the message we sent, then record it under the policy.

Nothing in an incoming message is believed until it is tied to something we
sent and signed: a VERP token (HMAC over the journal row and the address), a
signed unsubscribe token, or one of our Message-IDs (an HMAC too) together
with the address it went to. A DSN forged to suppress a reader, or a bounce
of somebody else's mail, ties to nothing and is left for a human.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from digest.back.parse import MAX_ADDRESSES, Finding, Report, parse_report, worst
from digest.back.policy import HARD, REFUSED, SOFT
from digest.compose.tokens import TokenError, verify_token
from digest.core.settings import Settings
from digest.store.bounces import BounceEvent, BounceVerdict, Delivery
from digest.store.issues import email_key
from digest.store.protocol import BackStore

__all__ = ["Outcome", "Policy", "process_message", "process_batch", "HANDLED"]

#: Categories that are recognised: the message may be filed away as handled.
HANDLED = ("dsn", "bounce", "complaint", "unsubscribe", "auto-reply")


@dataclass(frozen=True, slots=True)
class Policy:
    """What `process_message` needs besides the message: our keys and the soft-bounce limits."""

    secret: bytes
    return_path: str
    soft_limit: int = 3
    soft_window: float = 30 * 86400.0

    @classmethod
    def from_settings(cls, settings: Settings, secret: bytes) -> Policy:
        """The policy a workspace's [bounces] settings describe."""
        bounces = settings.bounces
        return cls(secret, bounces.return_path(settings.newsletter), bounces.soft_limit,
                   bounces.soft_window_days * 86400.0)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one message was and what it did."""

    category: str  # dsn | bounce | complaint | unsubscribe | auto-reply | unrecognised
    email: str = ""  # the reader it concerned
    kind: str = ""  # the event recorded: hard | soft | refused | delivered | complaint | unsubscribe
    status: str = ""
    suppressed: bool = False
    duplicate: bool = False
    why: str = ""

    @property
    def handled(self) -> bool:
        """Recognised (and applied, when it concerned a reader): it may be filed away."""
        return self.category in HANDLED

    def describe(self) -> str:
        """One line for humans."""
        if not self.handled:
            return f"left alone: {self.why}"
        if self.category == "auto-reply":
            return "auto-reply, ignored"
        if self.kind == "delayed":
            return f"{self.category}: {self.email} delayed (not counted)"
        text = f"{self.category}: {self.email} {self.kind}" + (f" {self.status}" if self.status else "")
        if self.duplicate:
            return text + " (already recorded)"
        return text + (" → suppressed" if self.suppressed else "")


@dataclass(frozen=True, slots=True)
class _Target:
    email: str
    issue: int | None
    signup: int | None = None  # a confirmation mail's signup: its bounces never count towards an issue's
    list_name: str = ""  # the list a signed unsubscribe token names


def _verified_targets(report: Report, store: BackStore, policy: Policy, known: dict[int, Delivery]) -> list[_Target]:
    """The readers this report provably concerns (a bounded number of lookups: parse_report caps the
    tokens and Message-IDs one message may name)."""
    targets: list[_Target] = []
    for token in report.tokens:
        if token.kind == "m":
            delivery = known.get(token.row) if token.row in known else store.delivery(token.row)
            if delivery is not None and delivery.issue == token.issue and token.verify(policy.secret,
                                                                                         delivery.email_key):
                targets.append(_Target(delivery.email, delivery.issue, list_name=delivery.list_name))
        else:
            signup = store.signup(token.row)
            if signup is not None and token.verify(policy.secret, email_key(signup.email)):
                targets.append(_Target(signup.email, None, signup.id))
    signed = []
    for text in report.unsubscribe_tokens:
        try:
            said = verify_token(policy.secret, text)
        except TokenError:
            continue
        signed.append(_Target(said.email, said.issue if said.issue > 0 else None, list_name=said.list))
    # An unsubscribe (by mail, or an ARF opt-out) leaves the list its signed token names, as the link does.
    targets = signed + targets if report.category == "unsubscribe" else targets + signed
    if not targets and report.message_ids:
        # No token: one of our Message-IDs, sent to an address the report names (one query per issue).
        named = sorted({email_key(a) for f in report.findings for a in (f.email, f.original) if a}
                       | {email_key(a) for a in report.original_to} | {email_key(a) for a in report.senders})
        wanted = dict((message_id, issue) for issue, message_id in report.message_ids)
        for issue in sorted(set(wanted.values())):
            for delivery in store.deliveries_for(issue, named[:MAX_ADDRESSES * 2]):
                if wanted.get(delivery.message_id) == issue:
                    targets.append(_Target(delivery.email, issue))
    unique: dict[str, _Target] = {}
    for target in targets:
        unique.setdefault(email_key(target.email), target)
    return list(unique.values())


def _finding_for(report: Report, target: _Target) -> Finding | None:
    """The finding about this reader.

    Theirs when it names the address we sent to as its Final-Recipient (or names only an
    Original-Recipient, and that is ours). A failure of another address — a member of a group
    or alias we sent to (Original-Recipient ours, Final-Recipient theirs), or where a reader's
    mail is forwarded — is no proof about the address we sent to: it is recorded as a refusal
    in the server's words, naming the other address, and never suppresses. A complaint's
    addresses are often redacted: the token alone ties it.
    """
    key = email_key(target.email)
    own = [f for f in report.findings if email_key(f.email) == key]
    if own:
        return worst(own)
    if report.category == "complaint" or report.category == "unsubscribe":
        return worst(report.findings)
    if report.category == "bounce":
        return None  # a heuristic found some other address: not proof about ours
    other = worst([f for f in report.findings if email_key(f.original) == key] or report.findings)
    if other is None:
        return None
    if other.kind in (HARD, SOFT):
        via = "expanded to" if email_key(other.original) == key else "forwarded to"
        return replace(other, kind=REFUSED, email=target.email,
                       diagnostic=f"{via} {other.email}: {other.diagnostic or other.status}")
    return replace(other, email=target.email)


def _plan(report: Report, store: BackStore, policy: Policy, known: dict[int, Delivery]) -> Outcome | list[BounceEvent]:
    """The events a report records, or its final outcome when it records none."""
    if report.category == "unrecognised":
        return Outcome("unrecognised", why=report.why)
    targets = _verified_targets(report, store, policy, known)
    if not targets:
        return Outcome("unrecognised", why=f"{_a(report.category)} that names no message of ours")
    if report.category == "auto-reply":
        return Outcome("auto-reply", targets[0].email)  # an answer to one of our messages: nothing to record
    events = []
    delayed = ""
    for target in targets:
        if report.category == "unsubscribe":
            kind, finding = "unsubscribe", Finding("unsubscribe", target.email)
        else:
            found = _finding_for(report, target)
            if found is None:
                continue
            kind, finding = found.kind, found
        if kind == "delayed":
            delayed = delayed or target.email  # a delay is no failure: never counted (RFC 3464 2.3.3)
            continue
        events.append(BounceEvent(target.email, kind, _SOURCES[report.category], report.key, issue=target.issue,
                                  status=finding.status, diagnostic=finding.diagnostic, signup=target.signup,
                                  list_name=target.list_name))
    if not events and delayed:
        return Outcome(report.category, delayed, "delayed")
    if not events:
        return Outcome("unrecognised", why=f"{_a(report.category)} about an address we did not send to")
    return events


def process_batch(messages: Sequence[tuple[bytes, Sequence[str]]], *, store: BackStore, policy: Policy,
                  clock: Callable[[], float] = time.time) -> list[Outcome]:
    """Classify messages (bytes, envelope recipients) and apply them in one transaction; one outcome each.

    Idempotent per message: a report applied before changes nothing the second time.
    """
    reports = [parse_report(raw, return_path=policy.return_path, envelope_to=list(envelope_to))
               for raw, envelope_to in messages]
    rows = [token.row for report in reports for token in report.tokens if token.kind == "m"]
    known = store.deliveries(rows) if rows else {}
    plans = [_plan(report, store, policy, known) for report in reports]
    events = [event for plan in plans if isinstance(plan, list) for event in plan]
    verdicts = iter(store.record_bounces(events, now=clock(), soft_limit=policy.soft_limit,
                                         soft_window=policy.soft_window))
    outcomes = []
    for report, plan in zip(reports, plans, strict=True):
        if isinstance(plan, Outcome):
            outcomes.append(plan)
            continue
        results = []
        for event in plan:
            verdict: BounceVerdict = next(verdicts)
            results.append(Outcome(report.category, event.email, event.kind, event.status, verdict.suppressed,
                                   verdict.duplicate))
        outcomes.append(max(results, key=lambda o: (o.suppressed, not o.duplicate)))
    return outcomes


def process_message(raw: bytes, *, store: BackStore, policy: Policy, envelope_to: Sequence[str] = (),
                    clock: Callable[[], float] = time.time) -> Outcome:
    """Classify one incoming message and apply it to the store; idempotent per message."""
    return process_batch([(raw, envelope_to)], store=store, policy=policy, clock=clock)[0]


def _a(category: str) -> str:
    return f"an {category}" if category[:1] in "aeiou" else f"a {category}"


_SOURCES = {"dsn": "dsn", "bounce": "bounce", "complaint": "arf", "unsubscribe": "mailto"}
