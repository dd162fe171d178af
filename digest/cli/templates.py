"""`digest templates init`: copy the built-in templates into the workspace for editing."""

from __future__ import annotations

import click

from digest.app.context import Context
from digest.cli.output import printable, say
from digest.render.environment import BUILTIN_TEMPLATES, copy_default_templates

__all__ = ["templates"]


@click.group()
def templates() -> None:
    """Manage the workspace's email templates."""


@templates.command("init")
@click.option("--force", is_flag=True, help="Overwrite templates that already exist in the workspace.")
@click.pass_obj
def init(ctx: Context, force: bool) -> None:
    """Copy the built-in templates to templates/ (existing files are kept unless --force)."""
    if ctx.workspace.templates.resolve() == BUILTIN_TEMPLATES:
        say("templates/ here is the built-in set itself; nothing to copy")
        return
    copied = list(copy_default_templates(ctx.workspace.templates, force=force))
    for path in copied:
        say(f"  wrote {printable(path)}")
    say(f"{len(copied)} template(s) copied; edit them, digest build uses them first")
