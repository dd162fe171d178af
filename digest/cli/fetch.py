"""`digest fetch`: fetch every web source into the workspace cache, one line per source."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import click

from digest.app.context import Context
from digest.app.fetching import cache_of, fetch_sources
from digest.cli.output import printable, say, warn
from digest.core.errors import SourceError
from digest.core.sourcespec import SourceSpec
from digest.sources import check_url
from digest.sources.fetch import FetchResult

__all__ = ["fetch", "describe", "InOrder", "PRUNE_GRACE"]

#: Bodies written in the last hour are kept by --prune: a fetch running now records its bodies when it ends.
PRUNE_GRACE = 3600.0

_LABELS = {"fetched": "fetched", "not_modified": "not modified", "cached": "cached", "failed": "failed",
           "refused": "refused", "gone": "gone", "skipped": "skipped"}


def describe(result: FetchResult) -> str:
    """One line: outcome, status, size, time, URL, and the reason (control characters made visible)."""
    status = str(result.status) if result.status else "—"
    size = f"{result.size / 1024:.1f} KB" if result.ok and result.size else ""
    line = (f"{_LABELS.get(result.outcome, result.outcome):<13}{status:>4}  {size:>10}  {result.seconds:6.2f} s  "
            f"{result.name}")
    extra = result.reason
    if result.pages:
        got = sum(1 for p in result.pages if p.body_sha256)
        extra = "; ".join(x for x in (extra, f"{got}/{len(result.pages)} article pages") if x)
    return printable(f"{line}  ({extra})" if extra else line)


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--strict", is_flag=True, help="Exit with an error when any source failed.")
@click.option("--prune", is_flag=True,
              help="Fetch nothing: delete the cached bodies no source's last answer is any more.")
@click.pass_obj
def fetch(ctx: Context, urls: tuple[str, ...], strict: bool, prune: bool) -> None:
    """Fetch the [[sources]] of digest.toml (or URLS) into the cache: fetched, not modified or failed, and why.

    Requests are conditional (ETag, Last-Modified), at most 2 at once per host
    and 16 in all; `digest build --offline` then builds from the cache alone.
    Lines come in the order of the sources.
    """
    if prune:
        if urls:
            raise SourceError("--prune fetches nothing: give no URLs with it")
        removed, freed = cache_of(ctx).prune(ctx.store.fetch_bodies(), older_than=PRUNE_GRACE)
        say(f"Pruned {removed} cached bod{'y' if removed == 1 else 'ies'} ({freed / 1024 / 1024:.1f} MB): "
            "answers superseded by newer ones; every source's last answer is kept")
        return
    specs = [SourceSpec(check_url(u, where="URL")) for u in urls] if urls else list(ctx.settings.sources)
    if not specs:
        raise SourceError("no sources: add [[sources]] to digest.toml or give URLs",
                          path=str(ctx.workspace.root / "digest.toml"))
    progress = _progress(len(specs)) if sys.stdout.isatty() else None
    with progress or nullcontext():
        task = progress.add_task("fetching", total=len(specs)) if progress else None

        def show(result: FetchResult) -> None:
            if progress is not None:
                progress.console.print(describe(result), markup=False, highlight=False, soft_wrap=True)
            else:
                say(describe(result))

        in_order = InOrder(specs, show)

        def done(result: FetchResult) -> None:
            if progress is not None:
                progress.advance(task)
            in_order.add(result)

        report = fetch_sources(ctx, specs, on_result=done)
    for result in report.results:
        if result.moved_to:
            warn(f"{result.name}: {result.reason}")
    failed = len(report.failed)
    say(f"{len(report.results)} source(s) in {report.seconds:.1f} s: {report.count('fetched')} fetched, "
        f"{report.count('not_modified')} not modified, {failed} failed")
    if failed and (strict or failed == len(report.results)):
        first = report.failed[0]
        raise SourceError(f"{'every source' if failed == len(report.results) else f'{failed} source(s)'} failed; "
                          f"first: {first.outcome}: {first.reason}", path=first.name)


class InOrder:
    """Print results in the order of the sources, each as soon as those before it are done."""

    def __init__(self, specs: list[SourceSpec], show: Callable[[FetchResult], None]) -> None:
        self._position = {id(spec): index for index, spec in enumerate(specs)}
        self._done: dict[int, FetchResult] = {}
        self._next = 0
        self._show = show

    def add(self, result: FetchResult) -> None:
        """Take a finished source; print it and any held back behind it."""
        position = self._position.get(id(result.spec))
        if position is None:
            self._show(result)
            return
        self._done[position] = result
        while self._next in self._done:
            self._show(self._done.pop(self._next))
            self._next += 1


def _progress(total: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True)
