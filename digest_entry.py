"""The `digest` console script: Ctrl-C from its first instant exits 130, quietly, never with a traceback.

It lives outside the `digest` package on purpose: importing the package (and click,
the settings, the curation rules) takes a few tenths of a second, and a Ctrl-C in
that time would otherwise be a KeyboardInterrupt traceback from inside an import.
So the SIGINT handler goes in first; `digest.cli`'s group puts Python's usual one
back as a command starts, where Ctrl-C is handled per command.
"""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:  # nothing imported for a type: it costs time
    os.write(2, b"\nStopped.\n")
    raise SystemExit(130)  # 128 + SIGINT, as a shell reports it


_interrupted_while_starting._digest_starting = True  # type: ignore[attr-defined]  # DigestGroup looks for it


def main() -> None:
    """Install the start-up SIGINT handler, then import and run the command line."""
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from digest.cli import main as cli

    sys.exit(cli(prog_name="digest"))


if __name__ == "__main__":  # pragma: no cover
    main()
