"""The README and docs/ a newcomer reads: links that resolve, a quick start that runs, settings that match the code."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import typing
import unicodedata
from dataclasses import fields
from pathlib import Path

import pytest

from digest.cli import DigestGroup
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS_DIR = ROOT / "docs"
DOCS = [README, *sorted(DOCS_DIR.glob("*.md"))]
DIGEST = Path(sys.executable).parent / "digest"


def _prose(text: str) -> str:
    """The Markdown outside fenced code blocks (a `](x)` inside code is not a link)."""
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)


def _slug(heading: str) -> str:
    """A heading's anchor as MkDocs (Python-Markdown's toc) makes it; GitHub makes the same for these headings."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(doc: Path) -> set[str]:
    return {_slug(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _prose(doc.read_text(encoding="utf-8")),
                                         flags=re.M)}


def _links(doc: Path) -> list[str]:
    """Markdown links and images, and the src and href of raw HTML."""
    text = _prose(doc.read_text(encoding="utf-8"))
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"<[a-z]+ [^>]*?(?:src|href)=\"([^\"]+)\"", text)


def _shell_blocks(text: str, section: str) -> list[str]:
    """The ```sh blocks under the `## section` heading, up to the next `## ` heading."""
    part = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```", part, flags=re.M | re.S)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves_to_a_file_and_an_anchor(doc):
    """A link a reader follows lands on a file that is there, at a heading that is there."""
    broken = []
    for target in _links(doc):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        inside = DOCS_DIR if doc.parent == DOCS_DIR else ROOT  # the site is docs/ alone
        if not (path.is_relative_to(inside) and path.exists()):
            broken.append(f"{target} (no such file in {inside.name}/)")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target} (no heading #{anchor} in {path.name})")
    assert broken == [], f"{doc.name}: broken links: {broken}"


def test_the_readme_is_read_in_two_minutes_and_docs_has_the_rest():
    assert len(README.read_bytes()) <= 12 * 1024
    pages = sorted(p.name for p in DOCS_DIR.glob("*.md"))
    assert len(pages) >= 6, pages
    assert (DOCS_DIR / "img" / "issue.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_page_is_in_the_site_nav_and_every_nav_entry_is_a_page():
    """mkdocs.yml's nav and docs/ agree (`make docs` fails too, but this says which page)."""
    nav = set(re.findall(r"^\s*-\s[^:]+:\s*([\w./-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M))
    pages = {p.name for p in DOCS_DIR.glob("*.md")}
    assert nav == pages


def test_every_command_is_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    missing = [name for name in DigestGroup.lazy if f"digest {name}" not in readme]
    assert missing == []


def test_the_install_name_is_written_in_the_readme_and_the_install_page_only():
    """The PyPI name is a one-word change: README's Install section and docs/install.md, nowhere else."""
    readme = README.read_text(encoding="utf-8")
    install = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    name = re.search(r"pipx install (\S+)", install).group(1)
    assert f"pipx install {name}" in (DOCS_DIR / "install.md").read_text(encoding="utf-8")
    elsewhere = [p.name for p in DOCS if p.name not in ("README.md", "install.md")
                 and name in p.read_text(encoding="utf-8")]
    assert elsewhere == []


# --- The quick start, run as a newcomer runs it ------------------------------------------------

_POLL = """
import sys, time, urllib.request
url, want = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 120
while True:
    try:
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        if want in body:
            sys.exit(0)
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"the preview at {url} did not show {want!r}")
    time.sleep(0.3)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_quick_start_runs_as_written_in_a_new_folder(tmp_path):
    """Every shell block of the README's quick start, in order, in an empty folder, with `digest` on PATH.

    `digest preview` serves until Ctrl-C: the test starts it in the background, waits until its /email
    page shows the issue, and stops it, as the reader does. Sending goes to the embedded mailbox.
    """
    blocks = _shell_blocks(README.read_text(encoding="utf-8"), "Quick start")
    assert len(blocks) >= 4 and any("digest init" in b for b in blocks) and any("digest send" in b for b in blocks)
    port = _free_port()
    prelude = (
        "set -euo pipefail\n"
        "preview() {\n"
        f'  digest preview --port {port} "$@" >"$PREVIEW_LOG" 2>&1 & local pid=$!\n'
        f'  "$PYTHON" -c "$POLL" http://127.0.0.1:{port}/email "$PREVIEW_SHOWS" || {{ kill $pid; return 1; }}\n'
        "  kill $pid; wait $pid || true\n"
        "}\n"
    )
    script = prelude + "\n".join(re.sub(r"^digest preview\b", "preview", block, flags=re.M) for block in blocks)
    env = {**os.environ, "PATH": f"{DIGEST.parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHON": sys.executable, "POLL": _POLL, "PREVIEW_SHOWS": "Harbour Reopens After Storm",
           "PREVIEW_LOG": str(tmp_path / "preview.log")}
    env = {k: v for k, v in env.items() if not k.startswith("DIGEST_")}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    log = (tmp_path / "preview.log").read_text() if (tmp_path / "preview.log").exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + log
    workspace = tmp_path / "harbour-weekly"
    assert "Harbour Reopens After Storm" in (workspace / "issues" / "1" / "issue.html").read_text()
    delivered = list((workspace / "outbox" / "new").iterdir())
    assert len(delivered) == 1 and b"ada@example.com" in delivered[0].read_bytes()
    assert "sent 1" in done.stdout


def test_the_site_home_page_has_the_readme_quick_start():
    """docs/index.md shows the same commands the test above runs."""
    readme = _shell_blocks(README.read_text(encoding="utf-8"), "Quick start")
    index = _shell_blocks((DOCS_DIR / "index.md").read_text(encoding="utf-8"), "Quick start")
    assert index == readme


def test_the_page_dump_example_reads_as_the_docs_say(tmp_path):
    from digest.collect import collect

    text = (DOCS_DIR / "sources.md").read_text(encoding="utf-8")
    example = text.split("\n## Page dumps\n", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    (tmp_path / "page.txt").write_text(example, encoding="utf-8")
    collection = collect([tmp_path / "page.txt"])
    (article,) = collection.articles
    assert (article.title, article.source, article.author, article.editor) == (
        "Harbour Reopens After Storm", "Harbour Gazette", "Kari Nordmann", "Ola Nordmann")
    assert article.breadcrumb == ("Channel", "Section", "Article")
    assert article.caption == "The harbour wall, repaired." and len(article.paragraphs) == 2
    assert [item.title for item in article.top_news] == ["Council Approves New Library"]
    assert collection.warnings == []


# --- docs/settings.md against the settings code --------------------------------------------------

def _code_keys() -> dict[str, set[str]]:
    """Every table and key digest.toml may hold, read from the settings dataclasses."""
    from digest.core import settings as settings_module

    aliases = {code: toml for toml, code in settings_module._KEY_ALIASES.items()}
    hints = typing.get_type_hints(settings_module.Settings)
    tables: dict[str, set[str]] = {}
    for section in fields(settings_module.Settings):
        hint = hints[section.name]
        cls = next((a for a in typing.get_args(hint) if isinstance(a, type) and a is not type(None)), hint)
        name = f"[[{section.name}]]" if typing.get_origin(hint) is tuple else f"[{section.name}]"
        tables[name] = {aliases.get(f.name, f.name) for f in fields(cls)}
    return tables


def _documented_keys() -> dict[str, set[str]]:
    """The `## [table]` headings of docs/settings.md and the keys in the first column of their tables."""
    text = (DOCS_DIR / "settings.md").read_text(encoding="utf-8")
    tables: dict[str, set[str]] = {}
    for heading, body in re.findall(r"^## (\[\[?\w+\]\]?)\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S):
        tables[heading] = set(re.findall(r"^\| `(\w+)` \|", body, flags=re.M))
    return tables


def test_settings_reference_lists_every_key_of_the_code_and_no_other():
    code, documented = _code_keys(), _documented_keys()
    assert sorted(documented) == sorted(code), "tables: docs/settings.md vs digest/core/settings.py"
    for table, keys in code.items():
        missing, extra = sorted(keys - documented[table]), sorted(documented[table] - keys)
        assert (missing, extra) == ([], []), f"{table}: not in docs/settings.md {missing}, not in the code {extra}"


def test_the_settings_reference_examples_load(tmp_path):
    """The defaults docs/settings.md gives for [fetch] are what digest reads, so the page's TOML is real."""
    from digest.core.settings import load_settings

    text = (DOCS_DIR / "sources.md").read_text(encoding="utf-8")
    fetch = text.split("\n## Fetch limits\n", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "digest.toml").write_text(fetch, encoding="utf-8")
    assert load_settings(tmp_path).fetch == load_settings(tmp_path / "nowhere").fetch


# --- The crontab and the systemd units of docs/sending.md ------------------------------------------

def _crontab_and_a_new_workspace(tmp_path: Path) -> tuple[list[str], Path, Path]:
    """The crontab lines of docs/sending.md, the venv's digest, and a new `digest init` workspace (a page, a list)."""
    text = (DOCS_DIR / "sending.md").read_text(encoding="utf-8")
    block = text.split("```cron\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    workspace = tmp_path / "harbour-weekly"
    subprocess.run([str(DIGEST), "init", str(workspace), "--name", "Harbour Weekly"], check=True,
                   capture_output=True)
    shutil.copy(ROOT / "pages" / "stdaily-china-central-asia.txt", workspace / "pages")
    (workspace / "subscribers" / "weekly.csv").write_text("email,name\nada@example.com,Ada\n")
    return lines, DIGEST, workspace
def test_the_documented_crontab_works_in_a_fresh_workspace_with_nothing_but_what_cron_gives(tmp_path):
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


def test_the_documented_crontab_hands_a_password_to_digest_exactly_as_systemd_would(tmp_path):
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
