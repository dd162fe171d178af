"""The `digest` command line: a thin click shell over the library; errors are one line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from digest.app.context import Context
from digest.cli.output import printable, say
from digest.cli.output import warn as warn
from digest.core.about import DISTRIBUTION
from digest.core.errors import DigestError
from digest.core.workspace import Workspace

__all__ = ["main", "DigestGroup", "warn"]


class DigestGroup(click.Group):
    """A click group that prints a DigestError as one line and exits with its code.

    Commands are imported when used, so `digest build` does not load the sender.
    """

    lazy: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, loaded or not."""
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Import a lazily registered command on first use."""
        if name in self.lazy and name not in self.commands:
            module, attribute = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; our errors become `digest: error: …` on stderr, no traceback."""
        _usual_interrupt()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Ctrl-C before a command set up its own handling (a send still starting): nothing half-done.
            say("\nStopped.", err=True)
            ctx.exit(130)
        except DigestError as exc:
            say(f"digest: error: {_in_workspace(ctx, printable(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            # A file system refusal that no stage translated: still one line naming the path.
            where = f"{exc.filename}: " if exc.filename else ""
            say(f"digest: error: {_in_workspace(ctx, printable(where) + printable(exc.strerror or exc))}", err=True)
            ctx.exit(2)


# Commands that work on any file (collect), make a workspace (init) or say this themselves (check).
_ANYWHERE = frozenset({"init", "collect", "check"})


def _in_workspace(ctx: click.Context, message: str) -> str:
    """The error, led by "FOLDER is not a digest workspace" when the command failed in a folder without digest.toml.

    `digest build` in the wrong folder would otherwise say only `pages: no such file or folder`.
    """
    from digest.core.settings import CONFIG_NAME

    root = ctx.params.get("root")
    if not ctx.meta.get("digest.command_started") or ctx.invoked_subcommand in _ANYWHERE \
            or not isinstance(root, Path) or (root / CONFIG_NAME).exists():
        return message
    return (f"{printable(root.resolve())} is not a digest workspace (no {CONFIG_NAME}): run digest init there "
            f"first, or pass -C FOLDER ({message})")


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C", "--workspace", "root", type=click.Path(file_okay=False, path_type=Path), default=".",
    show_default=True, help="The newsletter workspace folder (digest.toml, pages/, subscribers/ …).",
)
@click.option(
    "--env-file", type=click.Path(dir_okay=False, path_type=Path), envvar="DIGEST_ENV_FILE",
    help="Read secrets (DIGEST_SMTP_PASSWORD=…) from this KEY=value file, literally, as systemd's "
         "EnvironmentFile= does (for cron).",
)
@click.version_option(package_name=DISTRIBUTION, prog_name="digest", message="%(prog)s %(version)s (%(package)s)")
@click.pass_context
def main(ctx: click.Context, root: Path, env_file: Path | None) -> None:
    """Build a newsletter digest from the week's news pages and send it to your lists."""
    _standard_streams_open()
    if env_file is not None:
        from digest.core.envfile import load_env_file

        load_env_file(env_file)
    context = Context(Workspace(root))
    ctx.obj = context
    ctx.call_on_close(context.close)
    ctx.meta["digest.command_started"] = True  # errors from here on may come from a missing workspace


def _usual_interrupt() -> None:
    """Put Python's SIGINT handler back in place of digest_entry's start-up one (commands handle Ctrl-C)."""
    import signal

    if getattr(signal.getsignal(signal.SIGINT), "_digest_starting", False):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _standard_streams_open() -> None:
    """Give a closed stdin, stdout or stderr (`digest … >&-`) /dev/null, so no socket takes its number.

    A socket on descriptor 1 or 2 would receive our output, and libuv refuses to close
    descriptors 0-2 (it aborts the process).
    """
    import os

    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:  # lower ones were open: this one is now taken by the loop above
                os.dup2(opened, fd)
                os.close(opened)


DigestGroup.lazy = {
    "build": "digest.cli.build:build",
    "collect": "digest.cli.build:collect_command",
    "fetch": "digest.cli.fetch:fetch",
    "send": "digest.cli.send:send",
    "status": "digest.cli.status:status",
    "report": "digest.cli.report:report",
    "subscribers": "digest.cli.subscribers:subscribers",
    "templates": "digest.cli.templates:templates",
    "serve": "digest.cli.web:serve",
    "preview": "digest.cli.web:preview",
    "archive": "digest.cli.web:archive",
    "init": "digest.cli.init:init",
    "run": "digest.cli.run:run",
    "inbox": "digest.cli.inbox:inbox",
    "check": "digest.cli.check:check",
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
