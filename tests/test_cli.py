"""Every command has help; bad input gives one line, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from digest.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", list(_commands(main)), ids=" ".join)
def test_every_command_has_help(runner, path):
    result = runner.invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    command = main
    for name in path:
        command = command.commands[name]
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help text"


def _bad_files(tmp: Path) -> dict[str, Path]:
    empty = tmp / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    return {"missing": tmp / "missing.txt", "empty": empty, "binary": binary}


@pytest.mark.parametrize("kind", ["missing", "empty", "binary"])
def test_bad_source_is_one_line_exit_2(workspace: Path, runner, kind):
    path = _bad_files(workspace)[kind]
    result = runner.invoke(main, ["build", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert "Traceback" not in result.output + result.stderr
    assert not (workspace / "issues").exists(), "nothing may be written on error"
