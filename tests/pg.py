"""A private PostgreSQL server for the tests: initdb in a temporary folder, pg_ctl on a free port.

`DIGEST_TEST_POSTGRES` (a postgresql:// URL of a server the tests may create
databases on) skips the start-up. Otherwise the binaries of the machine's
PostgreSQL are used; as root, initdb and the server run as the `postgres`
user, which owns the temporary folder. With CI set, a missing PostgreSQL
fails the tests that need it; elsewhere they skip and say why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

__all__ = ["PostgresServer", "postgres_bin"]


def postgres_bin(name: str) -> str | None:
    """Path of a PostgreSQL server binary (PATH first, then Debian's versioned folders)."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """Start, use and stop one throwaway server."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []

    def start(self) -> PostgresServer:
        initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed (initdb, pg_ctl not found)")
        if os.geteuid() == 0:
            # initdb refuses to run as root: the server runs as postgres, in a folder it owns.
            shutil.chown(self.folder, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        subprocess.run([*self._as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                        "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run([*self._as, pg_ctl, "-D", str(data), "-o", options, "-l", str(self.folder / "log"),
                        "-w", "-t", "60", "start"], check=True, capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)
        return self

    def database(self) -> str:
        """A fresh, empty database on the server; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def restart(self) -> None:
        """Stop (dropping every connection) and start again, as an operator's restart does."""
        pg_ctl = postgres_bin("pg_ctl")
        assert pg_ctl is not None
        # -l again: the server started anew must not hold our pipes (pg_ctl restart forgets the log file).
        subprocess.run([*self._as, pg_ctl, "-D", str(self.folder / "data"), "-l", str(self.folder / "log"),
                        "-m", "fast", "-w", "-t", "60", "restart"], check=True, capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        pg_ctl = postgres_bin("pg_ctl")
        if pg_ctl and (self.folder / "data").exists():
            subprocess.run([*self._as, pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        for _ in range(20):
            try:
                shutil.rmtree(self.folder)
                return
            except OSError:
                time.sleep(0.1)
