"""`digest send` throughput: 10,000 recipients × ~40 KB to aiosmtpd and to Postfix's smtp-sink.

For each server it runs, in the same session: digest's sender (journal on,
--concurrency 8, uvloop) and a baseline of stdlib smtplib on one reused
connection sending prebuilt bytes. Servers run in their own processes.
Set BENCH_N to change the number of recipients.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _sample import Row, issue_sample, run_script

from digest.app.context import Context
from digest.app.send import send_to_lists
from digest.compose import MessageSkeleton
from digest.core import aio
from digest.core.model import Subscriber
from digest.core.settings import Newsletter
from digest.deliver.sender import SendOptions

N = int(os.environ.get("BENCH_N", "10000"))
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"

AIOSMTPD_SINK = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(), hostname="sink"), "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def start_server(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "aiosmtpd":
        command = [sys.executable, "-c", AIOSMTPD_SINK, str(port)]
    else:
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink refuses to run as root
        command = [SMTP_SINK, *user, "-c", f"127.0.0.1:{port}", "1000"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return process


def make_workspace(folder: Path, port: int, issue, rendered, *, database_url: str = "") -> Context:
    (folder / "subscribers").mkdir(parents=True)
    (folder / "issues" / "1").mkdir(parents=True)
    (folder / "digest.toml").write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n', encoding="utf-8")
    with (folder / "subscribers" / "bench.csv").open("w", encoding="utf-8") as f:
        f.write("email,name\n")
        for i in range(N):
            f.write(f"reader{i}@example.com,Reader {i}\n")
    (folder / "issues" / "1" / "issue.json").write_text(json.dumps(issue.to_json()), encoding="utf-8")
    (folder / "issues" / "1" / "rendered.json").write_text(json.dumps(rendered.to_json()), encoding="utf-8")
    for name in ("issue.html", "issue.txt", "preview.eml"):
        (folder / "issues" / "1" / name).write_text("bench", encoding="utf-8")
    if database_url:
        with (folder / "digest.toml").open("a", encoding="utf-8") as f:
            f.write(f'[state]\nurl = "{database_url}"\n')
    return Context(folder)


def ours(port: int, issue, rendered) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_workspace(Path(tmp), port, issue, rendered)
        start = time.perf_counter()
        report = aio.run(send_to_lists(
            ctx, ctx.workspace.issues / "1", [ctx.root / "subscribers" / "bench.csv"],
            options=SendOptions(concurrency=8), on_problem=print))
        ctx.close()
        seconds = time.perf_counter() - start
        assert report.counts["sent"] == N, report.counts
        return N / seconds


def baseline(port: int, rendered) -> float:
    skeleton = MessageSkeleton(rendered, Newsletter(), secret=b"bench")
    data = skeleton.compose(Subscriber("reader@example.com", "Reader")).data
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench") as smtp:
        start = time.perf_counter()
        for i in range(N):
            smtp.sendmail("weekly@news.example.com", [f"reader{i}@example.com"], data)
        return N / (time.perf_counter() - start)


def measure() -> list[Row]:
    """digest send vs smtplib to each server, and the journal's cost."""
    issue, rendered = issue_sample(40)
    size = len(MessageSkeleton(rendered, Newsletter(), secret=b"x").compose(Subscriber("a@b.c")).data)
    print(f"  send: {N} recipients, message {size / 1024:.1f} KB")
    rows = []
    targets = ["aiosmtpd"] + (["smtp-sink"] if Path(SMTP_SINK).exists() else [])
    if "smtp-sink" not in targets:
        print("  smtp-sink: not installed (Debian package postfix); skipped")
    for kind in targets:
        port = free_port()
        server = start_server(kind, port)
        try:
            base = baseline(port, rendered)
            mine = ours(port, issue, rendered)
        finally:
            server.terminate()
            server.wait(10)
        rows.append(Row(f"digest send → {kind} (vs smtplib, 1 connection)", mine, base, "msg/s"))
    return rows


if __name__ == "__main__":
    run_script(measure)
