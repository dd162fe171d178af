"""`digest report [ISSUE]`: how each sent issue did (tables, `--json`, or one self-contained `--html` page)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from digest.app.context import Context
from digest.app.report import IssueReport, Report, build_report
from digest.cli.output import print_rich, printable, say

__all__ = ["report"]


@click.command()
@click.argument("issue", required=False, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON, for scripts.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one self-contained page with the figures and charts to this file.")
@click.pass_obj
def report(ctx: Context, issue: int | None, as_json: bool, html_path: Path | None) -> None:
    """Show how each sent issue did: sent, delivered, bounces, complaints, unsubscribes, clicks per link."""
    from digest.core.errors import ConfigError
    from digest.core.settings import CONFIG_NAME

    if not (ctx.root / CONFIG_NAME).is_file():  # a report reads a workspace's store; it never makes one
        raise ConfigError("not a digest workspace: run digest init there first, or pass -C FOLDER",
                          path=str(ctx.root / CONFIG_NAME))
    if html_path is not None and not html_path.parent.is_dir():
        raise ConfigError("no such folder for the report", path=str(html_path.parent))
    found = build_report(ctx, issue=issue)
    if html_path is not None:
        from digest.core.files import write_atomically
        from digest.web.report_page import report_page

        write_atomically(html_path, report_page(found, newsletter=ctx.settings.newsletter.name).encode("utf-8"))
        say(f"Wrote {html_path}")
        return
    if as_json:
        say(json.dumps(found.to_json(), ensure_ascii=False, indent=2))
        return
    if not found.issues:
        say("No issue has been sent yet")
        return
    _tables(found)


def _tables(found: Report) -> None:
    from rich import box
    from rich.table import Table

    # Fits 80 columns: related figures share a column (hard/soft, link/mail/page, people/machines).
    outcomes = Table(title="Issues", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                     pad_edge=False, collapse_padding=True)
    for name in ("Issue", "Sent", "Deliv.", "Bounced\nhard/soft", "Compl.", "Unsub.\nlink/mail/page", "New",
                 "Clicks\nhuman/bot", "Rate"):
        outcomes.add_column(name, justify="left" if name == "Issue" else "right", no_wrap=True,
                            min_width=max(map(len, name.split("\n"))))
    for i in found.issues:
        o = i.outcome
        outcomes.add_row(str(o.issue), str(o.sent), str(o.delivered), f"{o.hard_bounces}/{o.soft_bounces}",
                         str(o.complaints), f"{o.unsub_link}/{o.unsub_mail}/{o.unsub_manage}", str(o.signups),
                         f"{i.human_clicks}/{i.machine_clicks}", f"{i.click_rate:.1%}")
    print_rich(outcomes)
    if found.tracking.get("opens"):
        for i in found.issues:
            loads = i.opens
            say(f"Issue {i.outcome.issue} opens: {loads.get('people', 0)} that may be people, "
                f"{loads.get('apple', 0)} by Apple Mail Privacy Protection, {loads.get('machine', 0)} by other "
                "machines (see docs/reports.md)")
    for i in found.issues:
        if i.links:
            print_rich(_links(i))
    if not found.tracking.get("clicks"):
        say("Clicks are not counted ([tracking] clicks = true turns it on; see docs/reports.md)")
    say("Deliv. = sent, no bounce; Compl. = spam complaints; New = readers confirmed since the issue before")


def _links(issue: IssueReport) -> object:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Issue {issue.outcome.issue}: clicks per link", title_justify="left")
    table.add_column("Story")
    table.add_column("People", justify="right")
    table.add_column("Machines", justify="right")
    table.add_column("Readers", justify="right")
    for link in issue.links:
        # Titles and URLs come from the sources: printable, and never rich markup.
        table.add_row(escape(printable(link.title or link.url)), str(link.human), str(link.machine),
                      str(link.clickers) if link.clickers else "—")
    return table
