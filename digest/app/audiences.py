"""Which lists a command means, and the campaign they make: one resolution for send, run, --at and --abandon.

`--list` takes a NAME (`weekly`: `subscribers/weekly.csv` plus the confirmed
signups of `weekly`, the file optional) or a path. A relative path is read in
the workspace when it is there (so `digest -C /srv/news run --list
subscribers/weekly.csv` works from anywhere), else in the current folder.
Every command resolves lists the same way before it records anything, so a
schedule, a run lock and a send of the same lists name the same campaign.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from digest.app.context import Context
from digest.core.errors import ConfigError
from digest.deliver.audience import SignedUpMembers
from digest.store import Audience, Campaign

__all__ = ["list_paths", "resolve_lists", "known_lists", "list_name_of", "audience_for", "signed_up_members",
           "find_campaign"]


def signed_up_members(ctx: Context) -> SignedUpMembers:
    """Confirmed signups join `subscribers/NAME.csv` (which may not exist: the list lives in the store)."""
    return SignedUpMembers(ctx.store, ctx.workspace.subscribers)


def _is_name(given: Path) -> bool:
    return len(given.parts) == 1 and not given.suffix


def _did_you_mean(ctx: Context, given: Path) -> str:
    """`; did you mean subscribers/weekly.csv (or just weekly)?` when the file is there under subscribers/."""
    candidate = ctx.workspace.subscribers / given.name
    if given.is_absolute() or not candidate.is_file() or not given.name.endswith(".csv"):
        return ""
    shown = candidate.relative_to(ctx.workspace.root).as_posix() if candidate.is_relative_to(ctx.workspace.root) \
        else str(candidate)
    return f"; did you mean {shown} (or just {given.name[:-4]})?"


def list_paths(ctx: Context, lists: Sequence[Path]) -> list[Path]:
    """Where each `--list` points, whether it exists or not (see the module's docstring)."""
    paths = []
    for given in lists:
        if _is_name(given):
            path = ctx.workspace.subscribers / f"{given}.csv"
        elif not given.is_absolute() and (ctx.workspace.root / given).exists():
            path = ctx.workspace.root / given
        else:
            path = given
        paths.append(path)
    return paths


def resolve_lists(ctx: Context, lists: Sequence[Path]) -> list[Path]:
    """The lists' files (see `list_paths`), each checked: a file, or a workspace list with signups in the store."""
    members = signed_up_members(ctx)
    resolved = []
    for given, path in zip(lists, list_paths(ctx, lists), strict=True):
        if not path.is_file():
            name = members.name_of(path)
            if path.exists() or name is None or name not in ctx.store.member_lists():
                what = "no such list file, and no signups for a list of that name" if _is_name(given) or \
                    name is not None else "no such list file"
                raise ConfigError(what + _did_you_mean(ctx, given), path=str(given))
        resolved.append(path)
    return resolved


def known_lists(ctx: Context) -> list[str]:
    """The list names of the workspace: `subscribers/NAME.csv` files and lists with confirmed signups."""
    folder = ctx.workspace.subscribers
    files = {p.stem for p in folder.glob("*.csv") if p.is_file()} if folder.is_dir() else set()
    return sorted(files | set(ctx.store.member_lists()))


def list_name_of(ctx: Context, given: str) -> str:
    """The list name a send gives the rows of `given` (a NAME or a path, as `digest send --list` takes it).

    What leaving a list names must be what a send checks: `subscribers/weekly.csv`,
    `weekly` and `./subscribers/weekly.csv` are all `weekly`; a list that is not there is an error.
    """
    try:
        [path] = resolve_lists(ctx, [Path(given)])
    except ConfigError:
        known = ", ".join(known_lists(ctx)) or "none"
        raise ConfigError(f"no list {given!r} in this workspace; its lists: {known}") from None
    return path.stem


def audience_for(ctx: Context, lists: Sequence[Path], *, tags: Sequence[str] = (),
                 where: Sequence[tuple[str, str]] = ()) -> Audience:
    """The audience of a send command: its lists (named relative to the workspace) and segment.

    Give it lists already resolved (`resolve_lists`): it only names them.
    """
    root = ctx.workspace.root.resolve()
    names = []
    for path in lists:
        resolved = path.resolve()
        names.append(resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved))
    return Audience(tuple(names), tuple(tags), tuple(where))


def find_campaign(ctx: Context, number: int, lists: Sequence[Path], *, tags: Sequence[str] = (),
                  where: Sequence[tuple[str, str]] = ()) -> tuple[Campaign | None, Audience]:
    """The campaign of the issue for these lists, even when a list file is gone since.

    The lists are named as every command names them now; failing that, as they were
    written (campaigns that an earlier version recorded under a list NAME taken as a path).
    """
    audience = audience_for(ctx, list_paths(ctx, lists), tags=tags, where=where)
    found = ctx.store.find_campaign(number, audience.key)
    if found is None:
        literal = audience_for(ctx, lists, tags=tags, where=where)
        found = ctx.store.find_campaign(number, literal.key)
    return found, audience
