"""The report as one self-contained page: figures, and charts drawn by pygal as inline SVG beside their tables.

No script and no external request: pygal's own script (tooltips, fetched from a CDN by default) is
turned off, the SVG goes inline, and the page's styles are in the page. Colours follow the reader's
light or dark preference (`prefers-color-scheme`); the charts draw their text in `currentColor`, so
they follow too. Every chart has a table beside it with the same figures, for screen readers and
for anyone who would rather read numbers. Titles and URLs come from the sources: escaped everywhere.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.app.report import Report

__all__ = ["report_page"]

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)
_SERIES = ("#2b7bd1", "#d9822b", "#3a9a5b", "#c2416b", "#8a63d2", "#6b7785")
_CSS = """
:root{color-scheme:light dark;--fg:#1d2127;--bg:#ffffff;--muted:#505862;--line:#d5dae0;--card:#f5f7fa}
@media (prefers-color-scheme: dark){:root{--fg:#e8ebef;--bg:#15181c;--muted:#b4bcc6;--line:#3a414a;--card:#1e2329}}
body{font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:70rem;
padding:1.5rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.25rem;margin:2rem 0 .5rem}
p.note{color:var(--muted)}
.pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1.5rem;align-items:start}
@media (max-width:50rem){.pair{grid-template-columns:1fr}}
figure{margin:0;background:var(--card);border-radius:8px;padding:.5rem;color:var(--fg)}
figure svg{width:100%;height:auto;display:block}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.wide{overflow-x:auto}
"""


def _style() -> object:
    from pygal.style import Style

    return Style(background="transparent", plot_background="transparent", foreground="currentColor",
                 foreground_strong="currentColor", foreground_subtle="#8a939e", opacity=".9",
                 opacity_hover="1", colors=_SERIES, font_family="system-ui, sans-serif",
                 label_font_size=13, major_label_font_size=13, legend_font_size=13, title_font_size=16,
                 value_font_size=12)


def _svg(chart: object, label: str) -> str:
    """The chart as inline SVG with no script; the figure names it for screen readers."""
    svg = str(chart.render(is_unicode=True))  # type: ignore[attr-defined]
    # pygal writes its settings into a <script> even with js=[]: nothing reads it here, and a page
    # that runs no script has nothing to trust. The SVG is pygal's own markup (it escapes our text).
    svg = _SCRIPT.sub("", svg)
    return f'<figure role="img" aria-label="{html.escape(label)}">{svg}</figure>'


def _config(kind: str, title: str, labels: Sequence[str], *, width: int = 720) -> object:
    import pygal

    chart = getattr(pygal, kind)(style=_style(), js=[], disable_xml_declaration=True, no_prefix=False,
                                 title=title, x_labels=list(labels), legend_at_bottom=True, height=360,
                                 width=width, truncate_label=40, print_values=False, show_y_guides=True)
    return chart


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(
        (f'<th scope="row">{html.escape(str(row[0]))}</th>' if n == 0 else f"<td>{html.escape(str(v))}</td>")
        for n, v in enumerate(row)) + "</tr>" for row in rows)
    # A wide table scrolls sideways: the keyboard must reach it (tabindex), and the region has a name.
    name = html.escape(caption)
    return (f'<div class="wide" tabindex="0" role="region" aria-label="{name}"><table><caption>{name}</caption>'
            f"<thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>")


def _growth(report: Report) -> str:
    labels = [f"#{i.outcome.issue}" for i in report.issues]
    chart = _config("Line", "List size and new readers per issue", labels)
    chart.add("Sent to", [i.outcome.sent for i in report.issues])  # type: ignore[attr-defined]
    chart.add("New readers", [i.outcome.signups for i in report.issues])  # type: ignore[attr-defined]
    chart.add("Left", [i.outcome.unsub_link + i.outcome.unsub_mail + i.outcome.unsub_manage  # type: ignore[attr-defined]
                       + i.outcome.hard_bounces + i.outcome.complaints for i in report.issues])
    rows = [(f"Issue {i.outcome.issue}", i.outcome.sent, i.outcome.signups,
             i.outcome.unsub_link + i.outcome.unsub_mail + i.outcome.unsub_manage,
             i.outcome.hard_bounces, i.outcome.complaints) for i in report.issues]
    table = _table("List size per issue", ("Issue", "Sent to", "New readers", "Unsubscribed", "Hard bounces",
                                           "Complaints"), rows)
    return f'<h2>List growth</h2><div class="pair">{_svg(chart, "Line chart: list size per issue")}{table}</div>'


def _outcomes(report: Report) -> str:
    labels = [f"#{i.outcome.issue}" for i in report.issues]
    # Side by side, not stacked: a complaint or an unsubscribe comes from a delivered message.
    chart = _config("Bar", "What happened to each issue's messages", labels, width=1100)
    chart.add("Delivered", [i.outcome.delivered for i in report.issues])  # type: ignore[attr-defined]
    chart.add("Bounced", [i.outcome.hard_bounces + i.outcome.soft_bounces  # type: ignore[attr-defined]
                          for i in report.issues])
    chart.add("Complaints", [i.outcome.complaints for i in report.issues])  # type: ignore[attr-defined]
    chart.add("Unsubscribed", [i.outcome.unsub_link + i.outcome.unsub_mail  # type: ignore[attr-defined]
                               + i.outcome.unsub_manage for i in report.issues])
    rows = [(f"Issue {i.outcome.issue}", i.outcome.sent, i.outcome.delivered, i.outcome.hard_bounces,
             i.outcome.soft_bounces, i.outcome.complaints, i.outcome.unsub_link, i.outcome.unsub_mail,
             i.outcome.unsub_manage, i.human_clicks, i.machine_clicks, f"{i.click_rate:.1%}") for i in report.issues]
    table = _table("Outcomes per issue", ("Issue", "Sent", "Delivered", "Hard", "Soft", "Complaints",
                                          "Unsub. link", "Unsub. mail", "Unsub. manage", "Clicks",
                                          "Machine clicks", "Click rate"), rows)
    return (f'<h2>Outcomes per issue</h2>{_svg(chart, "Stacked bar chart: outcomes per issue")}{table}')


def _stories(report: Report) -> str:
    if not report.top_stories:
        note = ("No clicks counted yet." if report.tracking.get("clicks") else
                "Clicks are not counted: <code>[tracking] clicks = true</code> turns it on.")
        return f'<h2>Stories readers chose</h2><p class="note">{note}</p>'
    stories = report.top_stories
    chart = _config("HorizontalBar", "Clicks per story (people only)", [])
    for story in stories:
        chart.add((story.title or story.url)[:60], [story.human])  # type: ignore[attr-defined]
    rows = [(s.title or s.url, s.human, s.machine) for s in stories]
    table = _table("Clicks per story", ("Story", "People", "Machines"), rows)
    return f'<h2>Stories readers chose</h2><div class="pair">{_svg(chart, "Bar chart: clicks per story")}{table}</div>'


def _latest(report: Report) -> str:
    """The latest issue's links, each with its article's title: what this week's readers chose."""
    latest = report.issues[-1]
    heading = f"Issue {latest.outcome.issue}: clicks per link"
    if not latest.links:
        return f'<h2>{heading}</h2><p class="note">No clicks counted for this issue.</p>'
    rows = [(x.title or x.url, x.human, x.machine, x.clickers if report.tracking.get("per_reader") else "—")
            for x in latest.links]
    table = _table(f"{heading} ({latest.subject})" if latest.subject else heading,
                   ("Story", "People", "Machines", "Readers"), rows)
    return f"<h2>{heading}</h2>{table}"


def report_page(report: Report, *, newsletter: str) -> str:
    """The whole page: one file, opened anywhere, asking nothing of the network."""
    title = f"{newsletter}: how the issues did"
    if not report.issues:
        body = "<p>No issue has been sent yet.</p>"
    else:
        body = _latest(report) + _growth(report) + _outcomes(report) + _stories(report)
        body += ('<p class="note">Machine clicks (link scanners, HEAD requests) are counted apart and left out of '
                 "the click figures. Opens are not shown: they say little (see docs/reports.md).</p>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")
