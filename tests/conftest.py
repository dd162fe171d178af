"""Shared fixtures: a fresh workspace copied from the repository, real SMTP servers."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.pg import PostgresServer
from tests.servers import RecordingHandler, ThreadedSMTP

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "pages" / "stdaily-china-central-asia.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LIST = "subscribers/example.csv"  # the sample workspace's list of three readers


@pytest.fixture(autouse=True)
def _away_from_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts in an empty folder: none writes state into the repository's own workspace."""
    away = tmp_path / "cwd"
    away.mkdir()
    monkeypatch.chdir(away)
    # Web sources honour the proxy variables: the machine's own must not carry the tests' local requests.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A newsletter workspace like the repository's, in a temporary folder (also the cwd)."""
    root = tmp_path / "ws"
    (root / "pages").mkdir(parents=True)
    shutil.copy(SAMPLE, root / "pages" / SAMPLE.name)
    shutil.copytree(ROOT / "subscribers", root / "subscribers")
    shutil.copy(ROOT / "digest.toml", root / "digest.toml")
    monkeypatch.chdir(root)
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("DIGEST_DATABASE_URL", raising=False)
    return root


@pytest.fixture
def desk(workspace: Path) -> Path:
    """The workspace with a week of local news: two pages (one with a Top News block) and a feed."""
    from tests.helpers.desk import make_desk

    return make_desk(workspace)


@pytest.fixture
def runner() -> CliRunner:
    """click's runner; stderr is kept apart from stdout."""
    return CliRunner()


@pytest.fixture
def recorder() -> Iterator[tuple[ThreadedSMTP, RecordingHandler]]:
    """A real aiosmtpd server on 127.0.0.1 that records every message."""
    handler = RecordingHandler()
    with ThreadedSMTP(handler) as server:
        yield server, handler


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | str]:
    """One private PostgreSQL server for the session (or DIGEST_TEST_POSTGRES).

    Without PostgreSQL on the machine the tests that need it skip, except under CI,
    where they fail: .ci/run makes sure it is there.
    """
    import os

    given = os.environ.get("DIGEST_TEST_POSTGRES")
    if given:
        yield given
        return
    server = PostgresServer()
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL cannot start here ({exc}); CI installs it and never skips")
    try:
        yield server
    finally:
        server.stop()


def fresh_database(postgres: PostgresServer | str) -> str:
    """The URL of a new, empty database on the test server."""
    if isinstance(postgres, str):
        import uuid

        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return postgres.rsplit("/", 1)[0] + "/" + name
    return postgres.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store test keeps its state: each store test runs on both backends."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "state.sqlite3")
    return fresh_database(request.getfixturevalue("postgres"))


@pytest.fixture
def pg_workspace(workspace: Path, postgres: PostgresServer | str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workspace fixture with its store in a fresh PostgreSQL database (DIGEST_DATABASE_URL)."""
    monkeypatch.setenv("DIGEST_DATABASE_URL", fresh_database(postgres))
    return workspace


def write_list(path: Path, n: int, *, prefix: str = "reader", domain: str = "example.com") -> list[str]:
    """A subscriber CSV of n readers (prefix00000@domain, …); their addresses in order."""
    emails = [f"{prefix}{i:05d}@{domain}" for i in range(n)]
    path.write_text("email,name\n" + "".join(f"{e},Reader {i}\n" for i, e in enumerate(emails)))
    return emails


def point_smtp_at(root: Path, port: int) -> None:
    """Add an [smtp] section for a local test server to the workspace's digest.toml."""
    with (root / "digest.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 10\n')


def needs_tool(name: str, install: str) -> pytest.MarkDecorator:
    """Skip when a system peer is missing on a developer's machine; never under CI.

    .ci/run installs every such peer, and with CI set a missing one fails the test
    instead of skipping it, so a green CI run has run it.
    """
    import os

    missing = shutil.which(name) is None
    return pytest.mark.skipif(missing and not os.environ.get("CI"),
                              reason=f"{name} is not installed here ({install}); CI installs it and never skips")
