"""Which issue a build makes, and from which plan: the open issue's plan, a folder's plan, or a new one.

`digest build` renders the *open issue* from its plan when there is one: the
latest issue folder holding a `plan.toml` that has not gone to readers yet. So
an editor can build on Monday, edit the plan all week, send a proof, see new
articles listed (not added), and the issue keeps its number. Once sending to
readers has begun, the next build curates a new issue by the rules (new content
gets the next number) and writes its plan. A plan file is written only when
none exists, never over one.

A *proof* does not end the open issue: a campaign whose lists are all proof
lists, named `proof` or `test` (subscribers/proof.csv, proofs, tests, test-team,
proof_desk; not testers or proofreaders).
Any other campaign that has journaled a recipient has begun sending to readers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

from digest.app.context import Context
from digest.app.issue_folder import latest_issue
from digest.core.errors import IssueError, NothingNewError
from digest.core.model import Article
from digest.curate import AlreadySent, CurateOptions, curate, in_period
from digest.curate.plan import IssuePlan, plan_from_curated
from digest.curate.planfile import PLAN_NAME, parse_plan, plan_text, read_plan
from digest.store.records import Campaign

__all__ = ["PlanTarget", "plan_target", "open_issue", "sending_began", "is_proof_list", "proof_sends"]

# List names whose sends are proofs (they leave the issue open): proof, proofs, test, tests, and those words
# followed by a separator (test-team, proof_desk). "testers" or "proofreaders" are readers' lists.
_PROOF_NAME = re.compile(r"(proof|test)s?([-_. ].*)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PlanTarget:
    """The issue a build renders: its number, output folder, plan, and the plan's text when new."""

    number: int
    folder: Path
    plan: IssuePlan
    plan_path: Path  # where the plan is (or will be) kept
    new_text: str | None = None  # the plan file to write: only when none exists yet
    why: str = ""  # why this issue is rendered from its plan (the open issue), for the build's output
    already_sent: tuple[tuple[str, int], ...] = ()  # stories the rules left out: (title, issue that sent it)
    overflow: tuple[str, ...] = ()  # new stories past --top, not in the issue


def is_proof_list(name: str) -> bool:
    """True for a proof list: its name (without .csv) is proof(s) or test(s), alone or before a separator."""
    stem = PurePosixPath(name.replace("\\", "/")).name
    stem = stem[:-4] if stem.lower().endswith(".csv") else stem
    return _PROOF_NAME.fullmatch(stem) is not None


def _proof_only(campaign: Campaign) -> bool:
    """True when every list of the campaign is a proof list (read from its description, see Audience.describe)."""
    lists = re.split(r", (?:tag|where) ", campaign.audience, maxsplit=1)[0].split(" + ")
    return all(is_proof_list(name) for name in lists)


def _begun(ctx: Context, campaign: Campaign) -> bool:
    return campaign.complete or bool(ctx.store.campaign_status(campaign, now=time.time()).total)


def sending_began(ctx: Context, number: int) -> bool:
    """True once a campaign of the issue to readers (not a proof) journaled a recipient or read its lists whole."""
    if not ctx.has_store():
        return False
    return any(not _proof_only(c) and _begun(ctx, c) for c in ctx.store.campaigns_of(number))


def proof_sends(ctx: Context, number: int) -> list[str]:
    """The audiences of the proofs of the issue that have begun (to say why the issue is still open)."""
    if not ctx.has_store():
        return []
    return [c.audience for c in ctx.store.campaigns_of(number) if _proof_only(c) and _begun(ctx, c)]


def open_issue(ctx: Context) -> Path | None:
    """The latest issue folder with a plan that has not gone to readers (proofs aside), if there is one."""
    try:
        folder = latest_issue(ctx.workspace.issues)
    except IssueError:
        return None
    if not (folder / PLAN_NAME).is_file() or sending_began(ctx, int(folder.name)):
        return None
    return folder


def _why_open(ctx: Context, number: int) -> str:
    proofs = proof_sends(ctx, number)
    if proofs:
        return f"not sent to readers yet, only proofs ({', '.join(proofs)})"
    return "not sent yet"


def plan_target(ctx: Context, articles: Sequence[Article], options: CurateOptions, *, out: Path | None = None,
                reserve_number: bool = True, new_issue: bool = False, plan_folder: Path | None = None,
                sent: AlreadySent | None = None) -> PlanTarget:
    """Choose the issue to render and its plan (see the module's docstring).

    With `out`, the plan lives in that folder. Without `reserve_number` (the
    preview) nothing is reserved and no plan is written: the open issue's plan
    is read if there is one. With `plan_folder` (an issue folder holding a plan),
    that issue is rendered from its plan, whether its sending began or not.
    A new plan is curated from `articles` (the new ones), leaving out what `sent`
    holds; NothingNewError when there is nothing to curate.
    """
    root = ctx.workspace.root
    if plan_folder is not None and (plan_folder / PLAN_NAME).is_file() and plan_folder.name.isdigit():
        path = plan_folder / PLAN_NAME
        return PlanTarget(int(plan_folder.name), plan_folder, read_plan(path), path)
    if out is None or not reserve_number:
        folder = None if new_issue else open_issue(ctx)
        if folder is not None:
            path = folder / PLAN_NAME
            number = int(folder.name)
            return PlanTarget(number, out or folder, read_plan(path), path, why=_why_open(ctx, number))
    if not articles:
        raise NothingNewError("no new article")
    curated = curate(articles, options, sent=sent)
    key = curated.issue.content_key
    number = ctx.store.number_for(key, curated.issue.subject) if reserve_number else ctx.store.peek_number(key)
    home = ctx.workspace.issues / str(number)
    path = (out if out is not None and reserve_number else home) / PLAN_NAME
    already, overflow = tuple(curated.already_sent), tuple(curated.overflow)
    if path.is_file():
        return PlanTarget(number, out or home, read_plan(path), path, already_sent=already, overflow=overflow)
    today = datetime.now(ctx.settings.newsletter.zone).date()
    made = plan_from_curated(curated, in_period(articles, options), root=root, words=options.excerpt_words)
    shown = replace(made, subject=curated.issue.subject, preheader=curated.issue.preheader, date=today)
    text = plan_text(made, number=number, newsletter=ctx.settings.newsletter.name, shown=shown)
    # Rendered from the text as written, so the first build and every rebuild from the file agree.
    return PlanTarget(number, out or home, parse_plan(text, path=str(path)), path,
                      text if reserve_number else None, already_sent=already, overflow=overflow)
