"""Every command has help; bad input gives one line, exit 2, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

import digest
from digest.cli import main

PACKAGE = Path(digest.__file__).resolve().parent  # the package's own folder, wherever it is checked out


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


ALL = list(_commands(main))


def test_the_command_tree_is_complete():
    names = {" ".join(path) for path in ALL}
    assert {"build", "collect", "send", "status", "templates init", "subscribers check", "subscribers import",
            "subscribers stats", "subscribers unsubscribe", "subscribers resubscribe",
            "subscribers export-suppressed"} <= names


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_every_command_has_help(runner, path):
    result = runner.invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), name)
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


def test_build_help_documents_the_lead_rule(runner):
    text = " ".join(runner.invoke(main, ["build", "--help"]).output.split())
    assert "most recent page or HTML article, ties broken by the longer body" in text
    assert "--week" in text and "--top" in text and "--excerpt-words" in text


@pytest.mark.parametrize(
    "toml, expected",
    [
        ('[newsletter]\nname = "x"\nfrom = \n', r"digest\.toml:3: "),
        ('[newsletter]\nnmae = "x"\n',
         r"digest\.toml:2: unknown key 'nmae' in \[newsletter\]; did you mean 'name'\? valid keys: base_url, "),
        ('[theme]\nwidth = 900\n', r"digest\.toml:2: \[theme\] width must be between 320 and 600"),
        ('[smtp]\nhost = "x"\nsecurity = "ssl"\n', r"digest\.toml:3: \[smtp\] security must be"),
        ('[theme]\nbrand_color = "red"\n', r"digest\.toml:2: \[theme\] brand_color must be a #rgb"),
    ],
)
def test_bad_config_is_one_line(workspace: Path, runner, toml, expected):
    import re

    (workspace / "digest.toml").write_text(toml)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert re.search(expected, line), line
    assert not (workspace / "issues").exists()


def test_init_makes_a_workspace_that_builds(tmp_path: Path, runner):
    import shutil

    from tests.conftest import SAMPLE

    folder = tmp_path / "weekly"
    result = runner.invoke(main, ["init", str(folder), "--name", "Harbour Weekly"])
    assert result.exit_code == 0, result.stderr
    assert (folder / "digest.toml").exists() and (folder / ".gitignore").read_text().startswith("# digest")
    shutil.copy(SAMPLE, folder / "pages")
    built = runner.invoke(main, ["-C", str(folder), "build"])
    assert built.exit_code == 0, built.stderr
    assert "Harbour Weekly: China" in built.output
    again = runner.invoke(main, ["init", str(folder)])
    assert again.exit_code == 2 and "already a workspace" in again.stderr


def test_unwritable_output_is_one_line_and_writes_nothing(workspace: Path, runner):
    (workspace / "blocker").write_text("a file, not a folder")
    for command in (["build", "--out", "blocker/issue"], ["archive", "--out", "blocker/site"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 2, result.output
        [line] = result.stderr.strip().splitlines()
        assert "blocker/" in line and "Not a directory" in line and "Traceback" not in result.stderr
    assert (workspace / "blocker").read_text() == "a file, not a folder"


def test_a_new_workspace_says_what_to_do_with_exit_codes_the_readme_gives(tmp_path: Path, runner):
    folder = tmp_path / "new"
    assert runner.invoke(main, ["init", str(folder)]).exit_code == 0
    # Nothing built yet: bad input (2), not a delivery problem (3).
    send = runner.invoke(main, ["-C", str(folder), "send", "--list", str(folder / "subscribers" / "list.csv")])
    assert send.exit_code == 2 and "no built issue in issues/; run digest build first" in send.stderr
    status = runner.invoke(main, ["-C", str(folder), "status"])
    assert status.exit_code == 2 and "run digest build first" in status.stderr


def test_status_exits_0_when_it_printed_and_check_exits_3_when_incomplete(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    status = runner.invoke(main, ["status"])
    assert status.exit_code == 0 and "Issue 1: not sent to any list yet" in status.output
    assert runner.invoke(main, ["status", "--check"]).exit_code == 3
    sent = runner.invoke(main, ["send", "--list", "subscribers/example.csv", "--limit", "1"])
    assert sent.exit_code == 3
    assert "via the embedded mailbox (outbox/)" in sent.output  # not "127.0.0.1:38269 (none)"
    assert "recipient(s)" not in sent.output
    status = runner.invoke(main, ["status"])
    assert status.exit_code == 0 and "pending 2, sent 1" in status.output
    assert runner.invoke(main, ["status", "--check"]).exit_code == 3
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    assert runner.invoke(main, ["status", "--check"]).exit_code == 0


def test_ctrl_c_while_digest_starts_exits_130_without_a_traceback(workspace: Path):
    """SIGINT in the first tenths of a second (imports still under way): a quiet exit 130, at every moment tried."""
    import signal
    import subprocess
    import sys
    import time

    digest = Path(sys.executable).parent / "digest"
    command = [str(digest), "status"]
    # What the command does when no signal comes: a run the signal missed must end just like it.
    finished = subprocess.run(command, cwd=workspace, capture_output=True, text=True, timeout=60)
    interrupted = 0
    for delay in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
        process = subprocess.Popen(command, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        if "Traceback" in err:
            # Python itself was still starting (site, the script's import of digest_entry, its first
            # lines): no handler can be in place before that. Nothing of the digest package had run:
            # no frame lies in its folder (the checkout's own name, often "digest" too, is no clue).
            frames = [Path(name).resolve() for name in re.findall(r'^\s*File "([^"]+)"', err, re.M)]
            assert not [f for f in frames if f.is_relative_to(PACKAGE)], (delay, err)
            continue
        if process.returncode in (130, -signal.SIGINT):
            # 130, or killed by the signal itself when it came as Python was already finishing (its
            # handlers are reset then): a shell reports both as 130.
            interrupted += 1
            continue
        # The signal came after the command had done its work: it ended as it does without one.
        assert (process.returncode, out, err) == (finished.returncode, finished.stdout, finished.stderr), delay
    assert interrupted, "every run finished before the signal: try shorter delays"
