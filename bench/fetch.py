"""Fetching 200 web sources from a local server that answers each after 50 ms (vs urllib, one after another).

The server runs in its own process on 20 loopback addresses (127.0.0.1–20, one
port), 10 feeds each, so the per-host limit (2 at once) and the global one (16)
both apply as they would on the web. Every answer waits 50 ms, the feeds carry
an ETag, and a request with the matching If-None-Match gets a 304. Ours and the
baseline each run in a fresh process (peak RSS is theirs alone): ours is
`digest.app.fetching.fetch_sources` with a SQLite store and the body cache on disk;
the baseline is what a simple script does, `urllib.request.urlopen` one source
after the other, with the same validators on the second pass.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _sample import ROOT, Row, run_script  # noqa: E402

HOSTS = 20
SOURCES = int(os.environ.get("BENCH_SOURCES", "200"))
DELAY = 0.05

SERVER = r'''
import asyncio, sys
port, delay, hosts = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
items = "".join(f"<item><title>Story {i}</title><link>https://example.org/{i}</link>"
                f"<pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate><description>{'Words of the story. ' * 10}"
                "</description></item>" for i in range(8))
FEED = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>{items}</channel></rss>'.encode()
ETAG = b'"bench-1"'

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(delay)
            if b"if-none-match: " + ETAG in head.lower():
                writer.write(b"HTTP/1.1 304 Not Modified\r\nETag: " + ETAG + b"\r\nContent-Length: 0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: " + ETAG +
                             b"\r\nContent-Length: " + str(len(FEED)).encode() + b"\r\n\r\n" + FEED)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    servers = [await asyncio.start_server(handle, f"127.0.0.{i}", port, backlog=512) for i in range(1, hosts + 1)]
    print("ready", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
'''

OURS = r'''
import json, resource, sys, time
from pathlib import Path
from digest.app.context import Context
from digest.app.fetching import fetch_sources
from digest.core.sourcespec import SourceSpec
root, urls = Path(sys.argv[1]), json.loads(sys.argv[2])
specs = [SourceSpec(u, kind="feed") for u in urls]
figures = {}
for name in ("first", "again"):
    with Context(root) as ctx:
        started = time.perf_counter()
        report = fetch_sources(ctx, specs)
        figures[name] = time.perf_counter() - started
        figures[name + "_outcomes"] = sorted({r.outcome for r in report.results})
figures["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(figures))
'''

BASELINE = r'''
import json, resource, sys, time, urllib.error, urllib.request
urls = json.loads(sys.argv[1])
figures, etags = {}, {}
for name in ("first", "again"):
    started = time.perf_counter()
    for url in urls:
        request = urllib.request.Request(url, headers={"If-None-Match": etags[url]} if url in etags else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
                response.read()
                etags[url] = response.headers["ETag"]
        except urllib.error.HTTPError as exc:
            assert exc.code == 304
    figures[name] = time.perf_counter() - started
figures["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(figures))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(code: str, *args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


def measure() -> list[Row]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(DELAY), str(HOSTS)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        urls = [f"http://127.0.0.{i % HOSTS + 1}:{port}/feed/{i}.xml" for i in range(SOURCES)]
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "digest.toml").write_text("[fetch]\nallow_private_networks = true\n", encoding="utf-8")
            ours = run(OURS, str(root), json.dumps(urls))
        assert ours["first_outcomes"] == ["fetched"] and ours["again_outcomes"] == ["not_modified"], ours
        base = run(BASELINE, json.dumps(urls))
    finally:
        server.terminate()
        server.wait(timeout=10)
    n = len(urls)
    return [
        *_big_feed(),
        Row(f"fetch {n} sources, 50 ms each, first (vs urllib in turn)", ours["first"], base["first"], "s",
            higher_is_better=False),
        Row(f"fetch {n} sources again, all 304 (vs urllib in turn)", ours["again"], base["again"], "s",
            higher_is_better=False),
        Row(f"fetch {n} sources, peak RSS (vs urllib in turn)", ours["rss"], base["rss"], "MiB",
            higher_is_better=False),
    ]


BIG_FEED_ENTRIES = 20_000


def _big_feed() -> list[Row]:
    """A feed of 20,000 entries (3 MB): ours reads its first 1000 entries; the baseline, feedparser, all of it."""
    import io

    import feedparser

    from digest.collect.feed import parse_feed

    items = "".join(f"<item><title>Story {i}</title><link>https://example.org/{i}</link>"
                    f"<pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate><description>Summary of story {i}, "
                    f"a few words long.</description></item>" for i in range(BIG_FEED_ENTRIES))
    text = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    started = time.perf_counter()
    articles = parse_feed(text, path="big.xml")
    ours = time.perf_counter() - started
    started = time.perf_counter()
    whole = feedparser.parse(io.BytesIO(text.encode()))
    base = time.perf_counter() - started
    assert len(articles) == 1000 and len(whole.entries) == BIG_FEED_ENTRIES
    return [Row(f"parse a {len(text) / 1e6:.0f} MB feed of {BIG_FEED_ENTRIES:,} entries (vs feedparser, whole)",
                ours, base, "s", higher_is_better=False)]


if __name__ == "__main__":
    started = time.perf_counter()
    run_script(measure)
    print(f"({time.perf_counter() - started:.0f} s)")
