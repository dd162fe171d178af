"""A private Postfix instance for tests: its own config, queue and data in a temporary folder, loopback only.

It accepts mail on 127.0.0.1:PORT, bounces every recipient of dead.example.net
with a real RFC 3464 DSN that Postfix itself writes, and relays the other
domains by its transport map (ok.example.net to a recording server, the bounce
domain to the receiver under test). It never touches a system instance.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.web_helpers import free_port

MAIN_CF = """compatibility_level = 3.7
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.pfx.test
mydomain = pfx.test
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
mynetworks = 127.0.0.0/8
relay_domains = dead.example.net, ok.example.net, {bounce_domain}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
transport_maps = texthash:{dir}/conf/transport
default_transport = error:5.4.4 no route in test instance
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
maximal_queue_lifetime = 5m
bounce_queue_lifetime = 5m
maillog_file = {dir}/maillog
maillog_file_prefixes = /var, /dev/stdout, {dir}
smtpd_reject_unlisted_recipient = no
"""

MASTER_CF = """127.0.0.1:{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


def postfix_available() -> str | None:
    """Why a private Postfix cannot run here, or None when it can."""
    if shutil.which("postfix") is None:
        return "postfix is not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    return None


class PrivatePostfix:
    """Start with `with PrivatePostfix(folder, routes) as mta:`; mail goes to 127.0.0.1:mta.port."""

    def __init__(self, routes: dict[str, int], *, bounce_domain: str) -> None:
        # Its own folder outside pytest's (0700) tree: Postfix's daemons run as the postfix user.
        self.dir = Path(tempfile.mkdtemp(prefix="digest-postfix-")).resolve()
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.routes = routes
        self.bounce_domain = bounce_domain

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["postfix", "-c", str(self.dir / "conf"), *args], capture_output=True, text=True,
                                timeout=60)
        if check and result.returncode != 0:
            log = (self.dir / "maillog").read_text() if (self.dir / "maillog").exists() else ""
            raise RuntimeError(f"postfix {' '.join(args)} failed: {result.stdout}{result.stderr}{log[-2000:]}")
        return result

    def __enter__(self) -> PrivatePostfix:
        conf = self.dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (self.dir / "queue").mkdir(exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        shutil.chown(self.dir / "data", "postfix")
        (conf / "main.cf").write_text(MAIN_CF.format(dir=self.dir, bounce_domain=self.bounce_domain))
        (conf / "master.cf").write_text(MASTER_CF.format(port=self.port))
        lines = ["dead.example.net error:5.1.1 user unknown"]
        lines += [f"{domain} smtp:[127.0.0.1]:{port}" for domain, port in self.routes.items()]
        (conf / "transport").write_text("\n".join(lines) + "\n")
        self._postfix("check")
        self._postfix("start")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the private Postfix did not start listening")

    def log(self) -> str:
        """Postfix's own log, for failure messages."""
        path = self.dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        self._postfix("stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
