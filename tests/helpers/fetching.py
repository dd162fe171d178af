"""Web sources in tests: [fetch] and [[sources]] in digest.toml, a fetch through the real code, its one result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from digest.app.context import Context
from digest.app.fetching import fetch_sources
from digest.core.sourcespec import SourceSpec
from tests.http_sites import rss

FEED = rss("World", [("Harbour wall approved", "https://example.org/a/1", "Tue, 24 Nov 2026 08:00:00 GMT"),
                     ("Ferry timetable changes", "https://example.org/a/2", "Mon, 23 Nov 2026 08:00:00 GMT")])


def configure(root: Path, *, sources: list[dict[str, Any]] = (), **fetch: Any) -> None:  # type: ignore[assignment]
    """Append [fetch] (loopback allowed unless said otherwise) and [[sources]] to digest.toml."""
    fetch.setdefault("allow_private_networks", True)
    lines = ["", "[fetch]"] + [f"{k} = {json.dumps(v)}" for k, v in fetch.items()]
    for source in sources:
        lines += ["", "[[sources]]"] + [f"{k} = {json.dumps(v)}" for k, v in source.items()]
    with (root / "digest.toml").open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def fetch(root: Path, *urls: str, offline: bool = False, **spec: Any) -> Any:
    with Context(root) as ctx:
        specs = [SourceSpec(u, **spec) for u in urls] if urls else None
        return fetch_sources(ctx, specs, offline=offline)


def only(report: Any) -> Any:
    [result] = report.results
    return result
