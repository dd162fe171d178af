"""robots.txt for article pages (RFC 9309), parsed with protego, fetched once per host per run.

Feeds are made to be polled and are fetched regardless; an article page is
fetched only where the site's robots.txt allows our user agent. Per RFC 9309
§2.3.1: a robots.txt that is missing (4xx) allows everything; one that cannot
be reached (5xx, network error) means "disallow everything" for now.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

from digest.sources.client import FetchFailure, HTTPClient

__all__ = ["RobotsCache", "ROBOTS_AGENT"]

ROBOTS_AGENT = "digest"


class RobotsCache:
    """robots.txt per scheme://host:port, fetched on first need and shared by every source."""

    def __init__(self, client: HTTPClient, *, agent: str = ROBOTS_AGENT) -> None:
        self.client = client
        self.agent = agent
        self._rules: dict[str, asyncio.Task[object]] = {}

    async def refusal(self, url: str) -> str | None:
        """None when the page may be fetched, else why not (one line).

        A host that cannot be reached at all raises its FetchFailure: the page
        would fail the same way, and that is the clearer reason.
        """
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))
        task = self._rules.get(origin)
        if task is None:
            task = self._rules[origin] = asyncio.ensure_future(self._load(origin))
        rules = await task
        if isinstance(rules, FetchFailure):
            raise rules
        if isinstance(rules, str):
            return rules
        if rules is None or rules.can_fetch(url, self.agent):  # type: ignore[attr-defined]
            return None
        return f"disallowed by {origin}/robots.txt"

    async def _load(self, origin: str) -> object:
        from protego import Protego

        try:
            fetched = await self.client.get(f"{origin}/robots.txt", accept="text/plain, */*;q=0.5")
        except FetchFailure as failure:
            if failure.status is not None and 400 <= failure.status < 500 and failure.status != 429:
                return None  # no robots.txt: everything is allowed
            if failure.status is None:
                return failure  # the host itself is unreachable (or refused by the guard)
            return f"robots.txt of {origin} unreachable ({failure.reason}); not fetched this time"
        text = (fetched.body or b"").decode("utf-8", errors="replace")
        return Protego.parse(text)
