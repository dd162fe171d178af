"""Pacing a send: a token bucket for --rate, and backoff with jitter for retries."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

__all__ = ["TokenBucket", "backoff"]


class TokenBucket:
    """At most `rate` messages per second on average, in bursts of at most `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 10)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        """Wait for one token."""
        async with self._lock:
            while True:
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                # A hair under one token counts: float rounding must not spin forever.
                if self.tokens >= 1 - 1e-9:
                    self.tokens = max(0.0, self.tokens - 1)
                    return
                await self.sleep((1 - self.tokens) / self.rate)


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (attempt 1 → up to `base` seconds)."""
    # Jitter spreads retries out; it needs no cryptographic randomness.
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))  # nosec B311
