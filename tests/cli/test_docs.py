"""The README a newcomer reads: every command documented, no link that is dead in a clone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.cli import DigestGroup
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_stays_in_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)", text) + re.findall(r"`(\.\./[^`]+)`", text)
    for target in targets:
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {target} is not in the repository"


def test_every_command_is_in_the_readme():
    # The README or a page under docs/ (where the README links to for each task).
    readme = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    missing = [name for name in DigestGroup.lazy if f"digest {name}" not in readme]
    assert missing == []


def _crontab_and_a_new_workspace(tmp_path: Path) -> tuple[list[str], Path, Path]:
    """The README's crontab lines, the venv's digest, and a new `digest init` workspace with a page and a list."""
    import shutil
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```cron\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    digest = Path(sys.executable).parent / "digest"
    workspace = tmp_path / "harbour-weekly"
    subprocess.run([str(digest), "init", str(workspace), "--name", "Harbour Weekly"], check=True,
                   capture_output=True)
    shutil.copy(ROOT / "pages" / "stdaily-china-central-asia.txt", workspace / "pages")
    (workspace / "subscribers" / "weekly.csv").write_text("email,name\nada@example.com,Ada\n")
    return lines, digest, workspace


def test_the_readme_crontab_works_in_a_fresh_workspace_with_nothing_but_what_cron_gives(tmp_path):
    """The exact crontab lines, run as cron runs them: /bin/sh, an empty environment, a new `digest init`."""
    import subprocess

    (weekly, boot), digest, workspace = _crontab_and_a_new_workspace(tmp_path)
    secrets = tmp_path / "harbour-weekly.env"
    secrets.write_text("DIGEST_SMTP_PASSWORD=not-needed-by-the-local-mailbox\n")
    secrets.chmod(0o600)

    def as_cron(line: str, fields: int) -> subprocess.CompletedProcess[str]:
        command = line.split(None, fields)[fields]
        command = (command.replace("/srv/harbour-weekly", str(workspace))
                   .replace("/etc/digest/harbour-weekly.env", str(secrets))
                   .replace("/opt/digest/bin/digest", str(digest))
                   .replace(" --at 07:00", ""))  # now, not at 07:00
        return subprocess.run(["env", "-i", "/bin/sh", "-c", command], capture_output=True, text=True, timeout=180)

    assert not (workspace / ".digest").exists()
    first = as_cron(weekly, 5)
    log = (workspace / ".digest" / "run.log").read_text()
    assert first.returncode == 0, first.stderr + log
    assert "Issue 1:" in log and "Send summary" in log
    assert len(list((workspace / "outbox" / "new").iterdir())) == 1
    assert (workspace / ".digest").stat().st_mode & 0o777 == 0o700
    at_boot = as_cron(boot, 1)
    assert at_boot.returncode == 0, at_boot.stderr
    assert "nothing to do (--resume builds nothing)" in (workspace / ".digest" / "run.log").read_text()


def test_the_readme_crontab_hands_a_password_to_digest_exactly_as_systemd_would(tmp_path):
    """A password with $, !, backticks, & and spaces, in the env file both cron and systemd read: it logs in."""
    import subprocess

    from aiosmtpd.smtp import AuthResult

    from tests.conftest import point_smtp_at
    from tests.servers import RecordingHandler, ThreadedSMTP

    password = "Tr0ub4dor$3x! a`id`b & $HOME x"
    seen: list[bytes] = []

    def remember(server, session, envelope, mechanism, auth_data) -> AuthResult:
        seen.append(auth_data.password)
        return AuthResult(success=auth_data.password == password.encode())

    (weekly, _), digest, workspace = _crontab_and_a_new_workspace(tmp_path)
    secrets = tmp_path / "harbour-weekly.env"
    secrets.write_text(f"# secrets\nDIGEST_SMTP_PASSWORD={password}\n")
    handler = RecordingHandler()
    with ThreadedSMTP(handler, authenticator=remember, auth_require_tls=False) as server:
        point_smtp_at(workspace, server.port)
        with (workspace / "digest.toml").open("a") as f:
            f.write('username = "digest"\n')
        command = (weekly.split(None, 5)[5].replace("/srv/harbour-weekly", str(workspace))
                   .replace("/etc/digest/harbour-weekly.env", str(secrets))
                   .replace("/opt/digest/bin/digest", str(digest)).replace(" --at 07:00", ""))
        done = subprocess.run(["env", "-i", "/bin/sh", "-c", command], capture_output=True, text=True, timeout=180)
    log = (workspace / ".digest" / "run.log").read_text()
    assert seen and seen[0] == password.encode(), log
    assert done.returncode == 0, done.stderr + log
    assert [r.rcpt_tos for r in handler.received] == [["ada@example.com"]]


@pytest.mark.parametrize("line", ['DIGEST_SMTP_PASSWORD="quoted"', "DIGEST_SMTP_PASSWORD=back\\slash",
                                  "not a pair", "1KEY=x"])
def test_an_env_file_line_systemd_would_read_differently_is_refused_with_its_line(tmp_path, runner, line):
    from digest.cli import main

    secrets = tmp_path / "x.env"
    secrets.write_text(f"# comment\n\nDIGEST_SECRET=ok\n{line}\n")
    result = runner.invoke(main, ["--env-file", str(secrets), "status"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"digest: error: {secrets}:4: ")
