"""The wheel, installed as a user would: built from the source, put into a clean venv outside the checkout, and
run there from a fresh folder (--version, init, build, preview, send). It takes a minute or two; CI runs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, SAMPLE

DISTRIBUTION = "digest-newsletter"
# What a release is built from: the package, its entry module and the metadata files.
SOURCE = ("digest", "digest_entry.py", "pyproject.toml", "README.md", "constraints.txt")


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)  # noqa: S603
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(tmp_path / "home")  # no user site-packages or config of the checkout's user
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _build_wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(path, source / name)
    dist = tmp_path / "dist"
    # Built with the setuptools the test extras pin (no build isolation: nothing fetched to build it).
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
          str(source)], cwd=tmp_path, env=env)
    [wheel] = dist.glob("digest_newsletter-*.whl")
    return wheel


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path):
    import zipfile

    env = _clean_env(tmp_path)
    wheel = _build_wheel(tmp_path, env)
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in ("digest/templates/digest.mjml.j2", "digest/templates/partials/footer.mjml.j2",
                     "digest/templates/confirm.txt.j2", "digest/web/preview.html", "digest_entry.py"):
        assert packaged in names, packaged
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
          "--find-links", str(wheel.parent), DISTRIBUTION], cwd=tmp_path, env=env, timeout=900)
    digest = str(venv / "bin" / "digest")
    home = tmp_path / "fresh"
    home.mkdir()
    where = _run([str(venv / "bin" / "python"), "-c", "import digest; print(digest.__file__)"], cwd=home, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # the installed copy, not the checkout

    assert _run([digest, "--version"], cwd=home, env=env).stdout.strip() == f"digest 0.1.0 ({DISTRIBUTION})"
    _run([digest, "init", "news", "--name", "Harbour Weekly"], cwd=home, env=env)
    news = home / "news"
    shutil.copy(SAMPLE, news / "pages" / SAMPLE.name)
    with (news / "subscribers" / "list.csv").open("a") as f:
        f.write("reader@example.net,Ada Reader,\n")
    built = _run([digest, "build"], cwd=news, env=env)
    assert "Issue 1:" in built.stdout and (news / "issues" / "1" / "issue.html").is_file()

    port = _free_port()
    preview = subprocess.Popen([digest, "preview", "--port", str(port)], cwd=news, env=env,  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page = ""
        deadline = time.monotonic() + 120  # a bound for a loaded machine, not a timing assertion
        while time.monotonic() < deadline and preview.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:  # noqa: S310
                    page = response.read().decode("utf-8")
                    break
            except OSError:
                time.sleep(0.2)
        assert "<title>digest preview</title>" in page and 'src="/email"' in page, (page[:300], preview.poll())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/email", timeout=30) as response:  # noqa: S310
            assert "Harbour Weekly" in response.read().decode("utf-8")  # the built issue, from the packaged templates
    finally:
        preview.terminate()
        preview.communicate(timeout=30)

    sent = _run([digest, "send", "--list", "subscribers/list.csv"], cwd=news, env=env)
    delivered = list((news / "outbox" / "new").iterdir())
    assert len(delivered) == 1, sent.stdout + sent.stderr
    assert b"To: Ada Reader <reader@example.net>" in delivered[0].read_bytes()
