"""A circuit breaker for refusals: when most recipients are refused, the relay is at fault, not the list.

A relay that denies relaying (Exim's `550 relay not permitted`), rejects our
sender, or has run out of its sending quota refuses every recipient alike.
Recording each refusal against its reader would count a soft bounce (or
worse) for the whole list in one run. So a send watches its last WINDOW
answers about recipients: once more than half of them, and at least MINIMUM,
are permanent refusals, it stops, records no more refusals and takes back
the ones of that stretch (their events and any suppression they made).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from digest.deliver.transport import Outcome

__all__ = ["RefusalBreaker", "WINDOW", "MINIMUM"]

WINDOW = 20
MINIMUM = 5


@dataclass
class RefusalBreaker:
    """Feed it every outcome of a send; ask it whether a refusal may be recorded."""

    window: int = WINDOW
    minimum: int = MINIMUM
    tripped: str | None = None  # why the send stopped, for the person running it
    withdraw: list[int] = field(default_factory=list)  # rows whose recorded refusals are taken back
    _recent: deque[tuple[int, bool]] = field(default_factory=deque)

    def observe(self, row_id: int, outcome: Outcome) -> bool:
        """Count one outcome; True when its refusal (if any) may be recorded against the reader."""
        if self.tripped is not None:
            return False
        if outcome.status == "sent":
            refused = False
        elif outcome.status == "failed" and outcome.stage in ("mail", "rcpt", "data"):
            refused = True
        else:
            return True  # a 4xx is tried again, an unknown outcome says nothing: neither counts
        self._recent.append((row_id, refused))
        if len(self._recent) > self.window:
            self._recent.popleft()
        count = sum(1 for _, r in self._recent if r)
        if count >= self.minimum and count * 2 > len(self._recent):
            self.tripped = (f"stopped: {count} of the last {len(self._recent)} recipients were refused (last: "
                            f"{outcome.code} {outcome.reply[:200]}). That is the relay or the sending setup, "
                            "not the readers: nothing was recorded against them. Fix it, then run the same "
                            "command with --retry-failed")
            self.withdraw = [row for row, r in self._recent if r]
            return False
        return True
