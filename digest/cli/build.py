"""`digest build` and `digest collect`."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import click

from digest.app.build import WARN_BYTES, BuildResult, build_issue, gather_articles
from digest.app.context import Context
from digest.cli.output import print_rich, printable, say, warn
from digest.core.errors import ConfigError, IssueError, NothingNewError, SourceError
from digest.core.model import Article
from digest.core.sourcespec import SourceSpec
from digest.curate import LEAD_RULE, CurateOptions
from digest.curate.planfile import PLAN_NAME
from digest.sources import check_url, is_url

__all__ = ["build", "collect_command", "period_from", "sources_or_default", "split_sources", "report_build"]


def period_from(week: str | None, since: date | None, until: date | None) -> tuple[date | None, date | None]:
    """Turn --week 2026-W48 or --since/--until into a date range."""
    if week:
        if since or until:
            raise ConfigError("--week cannot be combined with --since/--until")
        try:
            year, number = week.upper().split("-W")
            start = date.fromisocalendar(int(year), int(number), 1)
            return start, date.fromisocalendar(int(year), int(number), 7)
        except ValueError:
            raise ConfigError(f"--week {week!r}: expected an ISO week like 2026-W48") from None
    if since and until and since > until:
        raise ConfigError(f"--since {since} is after --until {until}: no day is in that period")
    return since, until


def sources_or_default(ctx: Context, sources: tuple[Path, ...]) -> list[Path]:
    """The given sources, or pages/; each must exist."""
    chosen = list(sources) or [ctx.workspace.pages]
    for path in chosen:
        if not path.exists():
            raise SourceError("no such file or folder", path=str(path))
    return chosen


def split_sources(ctx: Context, given: tuple[str, ...]) -> tuple[list[Path], list[SourceSpec]]:
    """SOURCES split into files/folders and URLs; none given: pages/ (if there) and the [[sources]] of digest.toml."""
    if not given:
        configured = list(ctx.settings.sources)
        if configured and not ctx.workspace.pages.exists():
            return [], configured
        return sources_or_default(ctx, ()), configured
    paths: list[Path] = []
    specs: list[SourceSpec] = []
    for text in given:
        if is_url(text):
            specs.append(SourceSpec(check_url(text, where="SOURCE")))
        else:
            paths.append(Path(text))
    return (sources_or_default(ctx, tuple(paths)) if paths else []), specs


def report_fetch(result: object) -> None:
    """Warn about web sources that moved permanently (the failures are printed as skipped sources)."""
    fetched = getattr(result, "fetched", None)
    if fetched is None:
        return
    for item in fetched.results:
        if item.moved_to:
            warn(f"{item.name}: {item.reason}")
    what = "read from the cache" if fetched.offline else "fetched"
    total = len(fetched.results)
    say(f"Web sources: {total - len(fetched.failed)} of {total} {what} in {fetched.seconds:.1f} s", err=True)


date_option = click.DateTime(formats=["%Y-%m-%d"])


@click.command(epilog=LEAD_RULE)
@click.argument("sources", nargs=-1)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write (default issues/<number>/).")
@click.option("--week", help="Only articles of this ISO week, e.g. 2026-W48.")
@click.option("--since", type=date_option, help="Only articles published on or after this date.")
@click.option("--until", type=date_option, help="Only articles published on or before this date.")
@click.option("--lead", "lead_text", help="Pick the lead by a piece of its title.")
@click.option("--top", default=6, show_default=True, type=click.IntRange(0, 50), help="How many Top News items.")
@click.option("--excerpt-words", default=120, show_default=True, type=click.IntRange(20, 2000),
              help="Length of the lead's excerpt, ending on a whole sentence.")
@click.option("--encoding", help="Read every source in this encoding instead of detecting it.")
@click.option("--strict", is_flag=True, help="Stop at the first bad or failed source instead of skipping it.")
@click.option("--offline", is_flag=True, help="Fetch nothing: web sources come from the cache of the last fetch.")
@click.option("--allow-large", is_flag=True,
              help="Build even when the HTML is over Gmail's 102 KB clip or the message over 10 MB.")
@click.option("--screenshots", is_flag=True, help="Also open the email in headless Chromium and save screenshots.")
@click.option("--issue", "issue_number", type=click.IntRange(1, None),
              help="Render issue N again from its plan (a correction after it went out: the archive and later "
                   "sends get it).")
@click.option("--new-issue", is_flag=True,
              help="Start a new issue by the rules even when the latest one is unsent (its plan is kept).")
@click.pass_context
def build(click_ctx: click.Context, sources: tuple[str, ...], out: Path | None, week: str | None,
          since: object, until: object, lead_text: str | None, top: int, excerpt_words: int,
          encoding: str | None, strict: bool, offline: bool, allow_large: bool, screenshots: bool,
          issue_number: int | None, new_issue: bool) -> None:
    """Build the issue from SOURCES: files, folders and URLs (default: pages/ and the [[sources]] of digest.toml).

    Web sources are fetched first (conditionally: unchanged ones cost a 304),
    or with --offline read from the cache, so an issue can be rebuilt exactly.
    The first build of an issue writes its plan (issues/<n>/plan.toml); edit it
    and build again: the issue is rendered from the plan until its sending begins.

    A new issue holds only what is new since the last issue sent to readers (feed
    entries published after it, files first seen after it) and nothing an earlier
    issue sent. Exit status: 0 built; 4 nothing new (nothing built); 2 bad input.
    """
    ctx: Context = click_ctx.obj
    start, end = period_from(week, as_date(since), as_date(until))
    options = CurateOptions(lead=lead_text, top=top, excerpt_words=excerpt_words, since=start, until=end)
    paths, web = split_sources(ctx, sources)
    plan_folder = _issue_with_plan(ctx, issue_number) if issue_number is not None else None
    try:
        result = build_issue(ctx, paths, web=web, offline=offline, options=options, out=out, encoding=encoding,
                             strict=strict, allow_large=allow_large, new_issue=new_issue, plan_folder=plan_folder)
    except NothingNewError as nothing:
        # Not a failure: said plainly, with its own exit status (4) for scripts.
        say(printable(str(nothing)).capitalize(), err=True)
        raise SystemExit(NothingNewError.exit_code) from None
    report_fetch(result)
    given = [f"--{name.replace('_text', '').replace('_', '-')}"
             for name in ("lead_text", "top", "excerpt_words", "week", "since", "until")
             if click_ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    report_build(result, ignored=given)
    folder = result.folder
    if screenshots:
        from digest.render.screenshots import check_in_browser

        seen = check_in_browser(folder / "issue.html", out=folder)
        if seen.mobile_scroll_width > 375:
            warn(f"at 375 px the email scrolls sideways ({seen.mobile_scroll_width} px wide)")
        for shot in seen.screenshots:
            say(f"  screenshot {printable(shot)}")


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _issue_with_plan(ctx: Context, number: int) -> Path:
    """issues/N, which must hold a plan (`build --issue N`)."""
    folder = ctx.workspace.issues / str(number)
    if not (folder / PLAN_NAME).is_file():
        raise IssueError(f"issue {number} has no plan to render: no {PLAN_NAME} there", path=str(folder))
    return folder


def json_for_terminal(value: object) -> str:
    """JSON whose strings carry no raw C1 control, line separator or bidi override (all \\u-escaped).

    json.dumps escapes C0 controls itself; these others stay raw with ensure_ascii=False and a
    terminal may act on them (\\x9b is CSI). They occur only inside strings, so escaping keeps it JSON.
    """
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def report_build(result: BuildResult, *, ignored: Sequence[str] = ()) -> None:
    """Print what a build made: warnings, the issue, its files, and its plan."""
    for message in result.warnings:
        warn(message)
    for error in result.errors:
        warn(f"skipped {error}")
    size = result.html_bytes
    if size > WARN_BYTES:
        warn(f"the HTML is {size / 1024:.1f} KB, close to Gmail's 102 KB clip")
    plan = result.plan
    if plan is not None and ignored and not plan.created:
        warn(f"{', '.join(ignored)} ignored: the plan decides ({plan.path}); edit it, or delete it to start "
             "again from the rules")
    issue, folder = result.issue, result.folder
    report_news(result)
    say(f"Issue {issue.number}: {printable(issue.subject)}")
    say(f"  lead      {printable(issue.lead.title)} ({printable(issue.lead.origin)})")
    say(f"  top news  {len(issue.top_news)} item(s)")
    for merge in result.merged:
        say(f"  merged    {printable(merge.describe())}")
    say(f"  html      {printable(folder / 'issue.html')} ({size / 1024:.1f} KB of Gmail's 102 KB)")
    say(f"  text      {printable(folder / 'issue.txt')}")
    say(f"  preview   {printable(folder / 'preview.eml')}")
    if plan is None:
        return
    if plan.created:
        say(f"  plan      {printable(plan.path)} (new: edit it and build again)")
    else:
        say(f"  plan      {printable(plan.path)} (rendered from it)")
    if plan.why:
        say(f"  open      issue {issue.number} is still the open issue: {printable(plan.why)} "
            "(digest build --new-issue starts the next)")
    if plan.new:
        say(f"  new since the plan: {len(plan.new)} article(s), not in the issue (add a [[top]] entry to include one)")
        for item in plan.new:
            say(f"            {printable(item.title)} ({printable(item.origin)})")


def report_news(result: BuildResult) -> None:
    """Say what the weekly cycle left out and why (seen before the window, already sent)."""
    news = result.news
    if news is None:
        return
    if news.window is not None and (news.older or news.dated_before):
        parts = [f"{len(news.older)} article(s) seen before it"] if news.older else []
        if news.dated_before:
            parts.append(f"{len(news.dated_before)} feed entr{'y' if len(news.dated_before) == 1 else 'ies'} "
                         f"dated before it ({printable('; '.join(news.dated_before[:3]))}"
                         f"{' …' if len(news.dated_before) > 3 else ''})")
        say(f"New since issue {news.window.after_issue}: left out {' and '.join(parts)} "
            "(--since/--week choose by hand)")
    by_issue: dict[int, list[str]] = {}
    for title, number in news.already_sent:
        by_issue.setdefault(number, []).append(title)
    for number, titles in sorted(by_issue.items()):
        say(f"Skipped {len(titles)} already sent in issue {number}: "
            f"{printable('; '.join(titles[:4]))}{' …' if len(titles) > 4 else ''}")
    if news.overflow:
        warn(f"{len(news.overflow)} new article(s) did not fit the Top News (--top) and go in no issue unless the "
             f"plan names them: {printable('; '.join(news.overflow[:5]))}{' …' if len(news.overflow) > 5 else ''}")
    for title, number in news.pinned:
        say(f"Kept on purpose (the plan names it): {printable(title)}, sent before in issue {number}")


def as_date(value: object) -> date | None:
    return value.date() if hasattr(value, "date") else None  # click gives datetimes


@click.command("collect")
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per article.")
@click.option("--encoding", help="Read every source in this encoding instead of detecting it.")
@click.option("--strict", is_flag=True, help="Stop at the first bad source instead of skipping it.")
@click.option("--offline", is_flag=True, help="Fetch nothing: URLs come from the cache of the last fetch.")
@click.pass_obj
def collect_command(ctx: Context, sources: tuple[str, ...], as_json: bool,
                    encoding: str | None, strict: bool, offline: bool) -> None:
    """Read SOURCES (page dumps, HTML pages, RSS/Atom feeds, folders, URLs) and show the articles."""
    paths, web = split_sources(ctx, sources)
    found, _ = gather_articles(ctx, paths, web=web, offline=offline, encoding=encoding, strict=strict)
    for message in found.warnings:
        warn(message)
    for path in found.skipped:
        warn(f"{path}: skipped, not a supported source")
    for error in found.errors:
        say(f"digest: error: {printable(error)}", err=True)
    if as_json:
        say(json_for_terminal([a.to_json() for a in found.articles]))
    elif found.articles and not sys.stdout.isatty():
        # To a file or a pipe: one article per line, tab-separated, so grep, sort and cut see whole rows.
        say("\t".join(_COLUMNS))
        for a in found.articles:
            say("\t".join(" ".join(printable(cell).split()) for cell in _row(a)))
    elif found.articles:  # no empty table above an error
        from rich.table import Table
        from rich.text import Text

        table = Table(*_COLUMNS)
        for a in found.articles:
            kind, published, title, source, paragraphs, top = _row(a)
            # Text, not str: rich would read "[link=…]" in a page title as markup.
            table.add_row(kind, published, Text(printable(title)), Text(printable(source)), paragraphs, top)
        print_rich(table, soft_wrap=False)
    if found.errors:
        raise SystemExit(2)


_COLUMNS = ("kind", "published", "title", "source", "paragraphs", "top news")


def _row(article: Article) -> tuple[str, str, str, str, str, str]:
    return (article.kind, shown_date(article.published), article.title, article.source,
            str(len(article.paragraphs)), str(len(article.top_news)))


def shown_date(value: datetime | None) -> str:
    """A publication time as a reader writes it: a date alone when the source gave no time (`2026-05-18`)."""
    if value is None:
        return "—"
    if value.time() == time(0) and not value.utcoffset():  # page dumps and feeds that give a date only
        return value.date().isoformat()
    return value.isoformat(" ")
