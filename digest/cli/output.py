"""Writing to the terminal: never stopped by a closed pipe, never a raw control character.

`digest send … | head -1` closes stdout after one line; a send must go on
regardless, so output to a closed pipe is dropped (stdout is pointed at
/dev/null once, which also silences Python's complaint at exit). Text from
outside (SMTP replies, list cells, page titles) may carry terminal escapes;
`printable` turns every control character into a visible `\\xNN`.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

import click

from digest.core.text import printable

__all__ = ["say", "warn", "printable", "stdout_closed", "print_rich"]

_closed = {"out": False, "err": False}
_GONE = (errno.EPIPE, errno.ECONNRESET, errno.EIO)  # the reader left: a closed pipe, socket or terminal


def _silence(err: bool) -> None:
    stream = sys.stderr if err else sys.stdout
    _closed["err" if err else "out"] = True
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests): dropping is enough


def stdout_closed() -> bool:
    """True once a write to stdout found the pipe closed."""
    return _closed["out"]


def say(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """click.echo that drops the line instead of failing when the reader went away."""
    if _closed["err" if err else "out"]:
        return
    try:
        click.echo(message, err=err, nl=nl)
    except (BrokenPipeError, ConnectionResetError):
        _silence(err)
    except OSError as exc:
        if exc.errno not in _GONE:
            raise
        _silence(err)


def warn(message: str) -> None:
    """A one-line warning on stderr, control characters made visible."""
    say(f"digest: warning: {printable(message)}", err=True)


def print_rich(renderable: Any, **console: Any) -> None:
    """Print a rich table or bar to stdout, dropped when the pipe is closed."""
    if _closed["out"]:
        return
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich's own handler exits with status 1; a closed pipe is not a failed send.
            _silence(False)

    try:
        _Console(**console).print(renderable)
    except (BrokenPipeError, ConnectionResetError):
        _silence(False)
    except OSError as exc:
        if exc.errno not in _GONE:
            raise
        _silence(False)
