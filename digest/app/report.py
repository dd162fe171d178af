"""`digest report`: how each sent issue did, and the issues side by side, from the store and the issue folders.

The figures people read leave machine clicks out (they are shown apart); the click rate of an
issue is its human clicks per delivered message (per reader — distinct clickers per delivered —
when `[tracking] per_reader` is on). Link titles come from each issue folder's rendered.json;
a folder gone since leaves a link with its URL only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from digest.app.context import Context
from digest.app.issue_folder import load_issue
from digest.core.errors import DigestError, IssueError
from digest.store.clicks import LinkClicks
from digest.store.reports import IssueOutcome

__all__ = ["IssueReport", "LinkReport", "Report", "build_report"]


@dataclass(frozen=True, slots=True)
class LinkReport:
    """One counted link of an issue."""

    link: int
    url: str
    title: str
    human: int
    machine: int
    clickers: int


@dataclass(frozen=True, slots=True)
class IssueReport:
    """One sent issue: its subject, outcomes, and clicks per link."""

    outcome: IssueOutcome
    subject: str
    links: tuple[LinkReport, ...] = ()
    unique_clickers: int = 0
    opens: dict[str, int] = field(default_factory=dict)  # people (as far as one can tell), apple, machine

    @property
    def human_clicks(self) -> int:
        """Clicks people made on the issue's links."""
        return sum(link.human for link in self.links)

    @property
    def machine_clicks(self) -> int:
        """Clicks scanners and link checkers made."""
        return sum(link.machine for link in self.links)

    @property
    def click_rate(self) -> float:
        """Human clicks (or distinct clickers, per reader) per delivered message."""
        delivered = self.outcome.delivered
        clicks = self.unique_clickers or self.human_clicks
        return clicks / delivered if delivered else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """Every issue asked for, oldest first, and the stories readers chose most across them."""

    issues: tuple[IssueReport, ...]
    top_stories: tuple[LinkReport, ...] = ()
    tracking: dict[str, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `--json` form."""
        return {
            "tracking": self.tracking,
            "issues": [{"issue": i.outcome.issue, "subject": i.subject, **{
                k: v for k, v in asdict(i.outcome).items() if k != "issue"},
                "human_clicks": i.human_clicks, "machine_clicks": i.machine_clicks,
                "unique_clickers": i.unique_clickers, "click_rate": round(i.click_rate, 4), "opens": i.opens,
                "links": [asdict(x) for x in i.links]} for i in self.issues],
            "top_stories": [asdict(x) for x in self.top_stories],
        }


def _issue_report(ctx: Context, outcome: IssueOutcome, clicks: list[LinkClicks]) -> IssueReport:
    titles: dict[int, str] = {}
    subject = ""
    try:
        issue, rendered = load_issue(ctx.workspace.issues / str(outcome.issue))
        subject = issue.subject
        titles = {link.link: link.title for link in rendered.links}
    except (IssueError, DigestError):
        pass  # a folder removed since: the figures stay, the titles go
    links = tuple(LinkReport(c.link, c.url, titles.get(c.link, ""), c.human, c.machine, c.clickers)
                  for c in clicks if c.issue == outcome.issue)
    loads = ctx.store.opens(outcome.issue)
    opens = {"people": loads.get("", 0), "apple": loads.get("apple", 0), "machine": loads.get("agent", 0)}
    return IssueReport(outcome, subject, links, ctx.store.unique_clickers(outcome.issue), opens)


def build_report(ctx: Context, *, issue: int | None = None, top: int = 10) -> Report:
    """The report of every sent issue (or of one), with the `top` stories by human clicks across them."""
    outcomes = ctx.store.issue_outcomes()
    if issue is not None:
        outcomes = [o for o in outcomes if o.issue == issue]
        if not outcomes:
            raise IssueError(f"issue {issue} has not been sent", path=str(ctx.workspace.issues / str(issue)))
    clicks = ctx.store.link_clicks(issue)
    issues = tuple(_issue_report(ctx, o, clicks) for o in outcomes)
    ranked = sorted((link for i in issues for link in i.links if link.human), key=lambda x: -x.human)
    seen: Counter[str] = Counter()
    top_stories: list[LinkReport] = []
    for link in ranked:
        seen[link.url] += 1
        if seen[link.url] == 1 and len(top_stories) < top:
            top_stories.append(link)
    tracking = ctx.settings.tracking
    return Report(issues, tuple(top_stories),
                  {"clicks": tracking.clicks, "per_reader": tracking.per_reader, "opens": tracking.opens})
