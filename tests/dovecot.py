"""A private Dovecot IMAP server for tests: its own config, state and mail in a temporary folder, loopback only.

One user (`bounces`, password given) whose mail lives in a Maildir; the test
puts mail in with IMAP APPEND, like any client. It never touches a system
instance.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.web_helpers import free_port

CONF = """
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:{dir}/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def dovecot_available() -> str | None:
    """Why a private Dovecot cannot run here, or None when it can."""
    if shutil.which("dovecot") is None:
        return "dovecot is not installed (apt-get install dovecot-imapd)"
    if os.geteuid() != 0:
        return "a private Dovecot instance needs root"
    return None


class PrivateDovecot:
    """`with PrivateDovecot("secret") as imap:` → IMAP on 127.0.0.1:imap.port, user "bounces"."""

    user = "bounces"

    def __init__(self, password: str) -> None:
        self.password = password
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="digest-dovecot-")).resolve()
        os.chmod(self.dir, 0o755)

    def __enter__(self) -> PrivateDovecot:
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir()
        shutil.chown(self.dir / "mail", "dovecot", "dovecot")
        (self.dir / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (self.dir / "dovecot.conf").write_text(CONF.format(dir=self.dir, port=self.port))
        # The daemon keeps its standard streams: hand it none we would wait on.
        with (self.dir / "start.log").open("wb") as out:
            result = subprocess.run(["dovecot", "-c", str(self.dir / "dovecot.conf")], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {(self.dir / 'start.log').read_text()}{self.log()}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("dovecot did not start listening: " + self.log())

    def log(self) -> str:
        """Dovecot's log."""
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)
