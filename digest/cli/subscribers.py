"""`digest subscribers …`: check, import, stats, unsubscribe, resubscribe, erase, bounces, export, export-suppressed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.app.context import Context
from digest.app.erase import erased_readers
from digest.cli.output import printable, say, warn
from digest.core.errors import ConfigError, SubscriberError
from digest.store import SUPPRESSION_REASONS
from digest.subscribers import check_address
from digest.subscribers.checking import (
    ERASED,
    check_list,
    count_erased,
    import_list,
    list_stats,
    write_suppressions,
)

__all__ = ["subscribers"]


@click.group()
def subscribers() -> None:
    """Check, import and manage subscriber lists and the suppression list."""


@subscribers.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--check-dns", is_flag=True, help="Also check that each domain can receive mail (DNS).")
@click.option("--encoding", help="Read the file in this encoding instead of detecting it.")
@click.pass_obj
def check(ctx: Context, file: Path, check_dns: bool, encoding: str | None) -> None:
    """Report valid rows, duplicates and invalid rows (file:line: reason); exit 1 if any is invalid.

    The result is cached: an unchanged file is not validated again.
    """
    report = check_list(file, store=ctx.store, check_dns=check_dns, encoding=encoding, warn=warn)
    for line, _, reason in report.lines:
        say(f"{printable(file)}:{line}: {printable(reason)}")
    c = report.check
    say(f"{c.valid} valid, {c.duplicates} duplicate(s), {c.invalid} invalid"
        + (" (unchanged since the last check)" if report.cached else ""))
    erased = count_erased(file, erased_readers(ctx), encoding=encoding)
    if erased:
        say(f"{erased} row(s) skipped as erased on request: no send or import includes them")
    if c.invalid:
        sys.exit(1)


@subscribers.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--list", "list_name", required=True, help="Name of the list to write: subscribers/NAME.csv.")
@click.option("--check-dns", is_flag=True, help="Also check that each domain can receive mail (DNS).")
@click.option("--encoding", help="Read the file in this encoding instead of detecting it.")
@click.pass_obj
def import_(ctx: Context, file: Path, list_name: str, check_dns: bool, encoding: str | None) -> None:
    """Write a clean subscribers/NAME.csv from any supported list; report what was left out."""
    if not list_name.replace("-", "").replace("_", "").isalnum() or not list_name.isascii():
        raise ConfigError(f"--list {list_name!r}: use letters, digits, - and _ only")
    target = ctx.workspace.subscribers / f"{list_name}.csv"
    kept, left_out = import_list(file, target, check_dns=check_dns, encoding=encoding, warn=warn,
                                 erased=erased_readers(ctx))
    erased = sum(1 for p in left_out if p.reason == ERASED)
    for problem in left_out:
        if problem.reason != ERASED:
            say(f"left out {printable(problem)}")
    say(f"Wrote {printable(target)}: {kept} subscriber(s), {len(left_out)} left out"
        + (f" ({erased} skipped as erased on request)" if erased else ""))


@subscribers.command()
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def stats(ctx: Context, file: Path | None) -> None:
    """Counts by status (valid, duplicate, invalid, suppressed) and by tag, for a list or all lists."""
    files = [file] if file else sorted(ctx.workspace.subscribers.glob("*.csv"))
    for path in files:
        status, tags = list_stats(path, ctx.store, warn=warn)
        say(f"{printable(path)}: " + ", ".join(f"{k} {status[k]}" for k in
                                                ("active", "suppressed", "duplicate", "invalid")))
        for tag, n in tags.most_common():
            say(f"  tag {printable(tag)}: {n}")


def _addresses(emails: tuple[str, ...]) -> list[str]:
    out = []
    for email in emails:
        try:
            out.append(check_address(email.strip()))
        except ValueError as exc:
            raise SubscriberError(str(exc)) from None
    return out


@subscribers.command()
@click.argument("emails", nargs=-1, required=True)
@click.option("--reason", type=click.Choice(SUPPRESSION_REASONS), default="manual", show_default=True)
@click.option("--issue", type=int, help="The issue that led to it, if any.")
@click.option("--list", "list_name", metavar="NAME",
              help="Only for this list: a NAME or a list file, as `digest send --list` takes it; their other lists "
                   "still reach them.")
@click.pass_obj
def unsubscribe(ctx: Context, emails: tuple[str, ...], reason: str, issue: int | None, list_name: str | None) -> None:
    """Add addresses to the suppression list: no send (or none of one list) will reach them again."""
    if list_name is not None:
        from digest.app.audiences import list_name_of

        if not list_name.strip():
            raise SubscriberError("--list needs a list name")
        list_name = list_name_of(ctx, list_name)  # the name a send checks, whether a NAME or a path
    where = f", list {printable(list_name)}" if list_name else ""
    for email in _addresses(emails):
        added = ctx.store.suppress(email, reason=reason, issue=issue, list_name=list_name)
        say(f"{printable(email)}: {'suppressed' if added else 'already suppressed'} ({reason}{where})")


@subscribers.command()
@click.argument("emails", nargs=-1, required=True)
@click.pass_obj
def resubscribe(ctx: Context, emails: tuple[str, ...]) -> None:
    """Take addresses off the suppression list (undo a mistake); their past bounces no longer count."""
    for email in _addresses(emails):
        removed = ctx.store.resubscribe(email)
        say(f"{printable(email)}: {'resubscribed' if removed else 'was not suppressed'}")


@subscribers.command()
@click.argument("emails", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def erase(ctx: Context, emails: tuple[str, ...], yes: bool) -> None:
    """Erase readers on request: the store, subscribers/*.csv rows, the bounce mailbox; only a keyed hash stays.

    A later import or send of an old list skips them, and says how many rows it skipped.
    """
    from digest.app.erase import erase_reader

    _addresses(emails)  # every address checked before anything is erased
    if not yes:
        click.confirm(f"Erase {len(emails)} reader(s) from this workspace? This cannot be undone", abort=True,
                      err=True)
    for email in emails:
        done = erase_reader(ctx, email.strip())
        say(f"{printable(email.strip())}: erased ({done.summary()})")


@subscribers.command("export-suppressed")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of CSV.")
@click.pass_obj
def export_suppressed(ctx: Context, as_json: bool) -> None:
    """Print the suppression list as CSV (email, reason, issue, created_at, list: empty for every list)."""
    try:
        write_suppressions(sys.stdout, ctx.store.suppressions(), as_json=as_json)
    except BrokenPipeError:
        say("")  # marks stdout closed; the rest is dropped


@subscribers.command()
@click.option("--all", "show_all", is_flag=True, help="Also addresses whose bounces were cleared (resubscribed).")
@click.pass_obj
def bounces(ctx: Context, show_all: bool) -> None:
    """Addresses that bounced, were refused or complained: counts, the latest event in the server's words."""
    found = 0
    for s in ctx.store.bounce_summaries(include_cleared=show_all):
        found += 1
        counts = ", ".join(f"{n} {k}" for k, n in (("hard", s.hard), ("soft", s.soft), ("refused", s.refused),
                                                    ("complaint", s.complaints)) if n)
        state = f"suppressed ({s.suppressed})" if s.suppressed else "active"
        issue = f" issue {s.last_issue}" if s.last_issue is not None else ""
        say(f"{printable(s.email)}: {state}; {counts}; last {s.last_at}{issue}: {s.last_kind} "
            f"{printable(s.last_status)} {printable(s.last_diagnostic)}".rstrip())
    if not found:
        say("No bounces, refusals or complaints recorded.")


@subscribers.command("export")
@click.argument("list_name")
@click.option("--consent", is_flag=True, help="Add the consent record: when asked, confirmed, from which page.")
@click.pass_obj
def export(ctx: Context, list_name: str, consent: bool) -> None:
    """Print the confirmed signups of LIST_NAME as CSV (email,name), suppressed addresses left out."""
    from digest.subscribers.checking import write_members

    try:
        write_members(sys.stdout, ctx.store, list_name, consent=consent)
    except BrokenPipeError:
        say("")  # marks stdout closed; the rest is dropped
