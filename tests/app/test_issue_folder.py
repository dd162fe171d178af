"""Issue folders are updated in place, each output whole, and `send` refuses one that is not complete."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.commands import run_digest
from tests.helpers.mounts import needs_mount, state_on

ISSUE_FILES = ("rendered.json", "issue.json", "issue.html", "issue.txt", "preview.eml")
PAGE = 4096


def _pages(size: int) -> int:
    return -(-size // PAGE)


def _fill_leaving(folder: Path, room: int) -> Path:
    """Fill the file system under `folder` until only about `room` bytes are free."""
    filler = folder / ".filler"
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("wb") as f:
        f.truncate(0)
        f.write(b"\0" * max(0, free - room))
    return filler


@needs_mount
def test_a_disk_filling_during_build_leaves_no_partial_issue(workspace: Path):
    # How big each file is, from a build elsewhere.
    probe = workspace.parent / "probe"
    shutil.copytree(workspace, probe)
    assert run_digest(probe, "build").returncode == 0
    sizes = {name: (probe / "issues" / "1" / name).stat().st_size for name in ISSUE_FILES}
    shutil.rmtree(probe)
    # Room for every file but the last one written (preview.eml), as a full disk does.
    room = (sum(_pages(sizes[n]) for n in ISSUE_FILES[:-1]) + 2) * PAGE
    assert room < sum(_pages(s) for s in sizes.values()) * PAGE

    issues = workspace / "issues"
    issues.mkdir()
    with state_on(issues, "size=2m"):
        filler = _fill_leaving(issues, room)
        result = run_digest(workspace, "build")
        assert result.returncode == 2, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "issues/1" in line and "No space left" in line, line
        assert sorted(p.name for p in issues.iterdir()) == [".filler"]  # no issues/1, no temporary left
        refused = run_digest(workspace, "send", "--dry-run", "--list", "subscribers/example.csv")
        assert refused.returncode == 2 and "digest build" in refused.stderr, refused.stdout + refused.stderr
        filler.unlink()
        assert run_digest(workspace, "build").returncode == 0
        assert sorted(p.name for p in (issues / "1").iterdir()) == sorted([*ISSUE_FILES, ".built", "plan.toml"])
        complete = {n: (issues / "1" / n).read_bytes() for n in ("issue.html", "issue.txt", "issue.json")}
        # A rebuild on a full disk leaves the complete folder as it was.
        (workspace / "pages" / "extra.txt").write_text(
            "Another Lead Story\n\nSource: Desk | 2023-05-25 09:00:00\n\nBody of the story.\n")
        filler = _fill_leaving(issues, PAGE)
        again = run_digest(workspace, "build", "--out", "issues/1")
        assert again.returncode == 2, again.stdout + again.stderr
        assert sorted(p.name for p in (issues / "1").iterdir()) == sorted([*ISSUE_FILES, ".built", "plan.toml"])
        assert {n: (issues / "1" / n).read_bytes() for n in complete} == complete
        assert sorted(p.name for p in issues.iterdir()) == [".filler", "1"]


@pytest.mark.parametrize("missing", ISSUE_FILES)
def test_send_refuses_an_incomplete_issue_folder_and_names_what_is_missing(workspace: Path, recorder, missing):
    from tests.conftest import point_smtp_at

    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert run_digest(workspace, "build").returncode == 0
    (workspace / "issues" / "1" / missing).unlink()
    for command in (["send", "--list", "subscribers/example.csv"],
                    ["send", "--dry-run", "--list", "subscribers/example.csv"],
                    ["send", "--test-to", "editor@example.net"]):
        result = run_digest(workspace, *command)
        assert result.returncode == 2, (command, result.stdout + result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert "issues/1" in line and missing in line and "incomplete" in line, line
    assert handler.received == []


def test_a_rebuild_updates_the_folder_in_place_and_keeps_what_else_is_there(workspace: Path):
    """A shell inside issues/1, the editor's notes and a plan.toml symlinked from elsewhere survive a rebuild."""
    assert run_digest(workspace, "build").returncode == 0
    folder = workspace / "issues" / "1"
    inode = folder.stat().st_ino
    (folder / "notes.md").write_text("call the harbour master\n")
    kept = workspace / "plans" / "1.toml"
    kept.parent.mkdir()
    (folder / "plan.toml").rename(kept)
    (folder / "plan.toml").symlink_to(kept)
    kept.write_text(kept.read_text().replace('intro = """\n"""', 'intro = """\nWritten in plans/.\n"""'))
    # A shell standing in the folder while the build runs, listing it afterwards.
    shell = subprocess.Popen(["/bin/sh", "-c", "read line; ls -a"], cwd=folder, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rebuilt = run_digest(workspace, "build")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    finally:
        listed, _ = shell.communicate("\n", timeout=30)
    assert {*ISSUE_FILES, "notes.md", "plan.toml"} <= set(listed.split())  # the shell's folder is the issue's
    assert folder.stat().st_ino == inode
    assert (folder / "notes.md").read_text() == "call the harbour master\n"
    assert (folder / "plan.toml").is_symlink() and (folder / "plan.toml").resolve() == kept.resolve()
    assert "Written in plans/." in (folder / "issue.txt").read_text()
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".built"]  # no temporary


def test_a_build_stopped_half_way_is_refused_until_built_again(workspace: Path, monkeypatch):
    """Outputs of two builds never go out mixed: `.built` is written first and names each output's digest."""
    from digest.app.issue_folder import load_issue, write_issue_folder
    from digest.core import files

    assert run_digest(workspace, "build").returncode == 0
    folder = workspace / "issues" / "1"
    old = {name: (folder / name).read_bytes() for name in ISSUE_FILES}
    new = {name: data + (b"\n" if name.endswith((".txt", ".eml")) else b" ") for name, data in old.items()}
    renames = 0
    real_replace = os.replace

    def dies_after_two(src, dst):  # the process is killed after `.built` and one output are in place
        nonlocal renames
        renames += 1
        if renames > 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        write_issue_folder(folder, new)
    monkeypatch.undo()
    assert (folder / ISSUE_FILES[0]).read_bytes() == new[ISSUE_FILES[0]]  # half of the new build is in place
    for command in (["send", "--list", "subscribers/example.csv"], ["send", "--dry-run", "--list", "example"]):
        refused = run_digest(workspace, *command)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith("digest: error: ") and "issues/1" in line and "incomplete issue folder" in line
        assert "not as the last build wrote them" in line and "run digest build again" in line, line
    assert run_digest(workspace, "build").returncode == 0
    assert load_issue(folder)[1].number == 1
    assert {name: (folder / name).read_bytes() for name in ISSUE_FILES} == old


def test_a_plan_edited_but_not_built_again_is_sent_with_a_warning(workspace: Path, runner, recorder):
    from digest.cli import main
    from tests.conftest import point_smtp_at

    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    dry = runner.invoke(main, ["send", "--dry-run", "--list", "example"])
    assert "plan.toml" not in dry.stderr  # built from this plan: nothing to say
    plan = workspace / "issues" / "1" / "plan.toml"
    plan.write_text(plan.read_text().replace('intro = """\n"""', 'intro = """\nA note written too late.\n"""'))
    sent = runner.invoke(main, ["send", "--list", "example"])
    assert sent.exit_code == 0, sent.output + sent.stderr
    assert ("issues/1/plan.toml was edited after the last build: this sends the issue as built, without the edit "
            "(digest build first to send it)") in sent.stderr
    assert handler.received and all(b"A note written too late." not in r.data for r in handler.received)


def test_a_deleted_built_record_does_not_let_a_hand_edited_output_go_out(workspace: Path, runner):
    from digest.cli import main

    assert runner.invoke(main, ["build"]).exit_code == 0
    folder = workspace / "issues" / "1"
    html = folder / "issue.html"
    html.write_text(html.read_text().replace("</body>", "<p>edited by hand</p></body>"))
    (folder / ".built").unlink()
    refused = runner.invoke(main, ["send", "--list", "example"])
    assert refused.exit_code == 2
    assert refused.stderr.startswith("digest: error: ") and "issues/1" in refused.stderr
    assert ".built missing" in refused.stderr and "run digest build again" in refused.stderr
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert "edited by hand" not in html.read_text()
    assert runner.invoke(main, ["send", "--dry-run", "--list", "example"]).exit_code == 0
