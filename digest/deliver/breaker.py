"""A circuit breaker for refusals: when nearly every recipient is refused, the relay is at fault, not the list.

A relay that denies relaying (Exim's `550 relay not permitted`), rejects our
sender, or has run out of its sending quota refuses every recipient alike.
Recording each refusal against its reader would count a soft bounce (or
worse) for the whole list in one run. So a send watches its last WINDOW
answers about recipients: once the window is full and at least MINIMUM of
them are permanent refusals, spread over at least DOMAINS recipient domains,
it stops, records no more refusals and takes back the ones of that window
(their events and any suppression they made).

Ordinary dead addresses must never trip it: a list with many of them (an old
list, a company that closed its domain) is exactly what the refusals are for.
Hence a full window (no verdict on the first few answers), nearly all refused
(a list where 40% of the addresses are dead has 18 of 20 refused in a row
about once in 200,000 windows), and several domains (twenty dead addresses
at one defunct company, listed together, are that company, not the relay).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from digest.deliver.transport import Outcome

__all__ = ["RefusalBreaker", "WINDOW", "MINIMUM", "DOMAINS"]

WINDOW = 20
MINIMUM = 18
DOMAINS = 3


def _domain(recipient: str) -> str:
    return recipient.rpartition("@")[2].strip().lower()


@dataclass
class RefusalBreaker:
    """Feed it every outcome of a send; ask it whether a refusal may be recorded."""

    window: int = WINDOW
    minimum: int = MINIMUM
    domains: int = DOMAINS
    tripped: str | None = None  # why the send stopped, for the person running it
    withdraw: list[int] = field(default_factory=list)  # rows whose recorded refusals are taken back
    _recent: deque[tuple[int, bool, str]] = field(default_factory=deque)

    def observe(self, row_id: int, outcome: Outcome, *, recipient: str = "") -> bool:
        """Count one outcome for `recipient`; True when its refusal (if any) may be recorded against the reader."""
        if self.tripped is not None:
            return False
        if outcome.status == "sent":
            refused = False
        elif outcome.status == "failed" and outcome.stage in ("mail", "rcpt", "data"):
            refused = True
        else:
            return True  # a 4xx is tried again, an unknown outcome says nothing: neither counts
        self._recent.append((row_id, refused, _domain(recipient)))
        if len(self._recent) > self.window:
            self._recent.popleft()
        if len(self._recent) < self.window:
            return True
        count = sum(1 for _, r, _ in self._recent if r)
        spread = len({d for _, r, d in self._recent if r})
        if count >= self.minimum and spread >= self.domains:
            self.tripped = (f"stopped: {count} of the last {len(self._recent)} recipients were refused, at "
                            f"{spread} domains (last: {outcome.code} {outcome.reply[:200]}). That is the relay "
                            "or the sending setup, not the readers: nothing was recorded against them. Fix it, "
                            "then run the same command with --retry-failed")
            self.withdraw = [row for row, r, _ in self._recent if r]
            return False
        return True
