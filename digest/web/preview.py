"""`digest preview`: the built email in a browser, rebuilt and refreshed live as files change."""

from __future__ import annotations

import asyncio
import html
import re
import shutil

# subprocess runs only spamassassin, with a fixed argument list and no shell.
import subprocess  # nosec B404
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from digest.app.build import GMAIL_CLIP_BYTES, build_issue
from digest.app.context import Context
from digest.core.errors import DigestError
from digest.core.sourcespec import SourceSpec
from digest.core.workspace import Workspace
from digest.web.guard import BodyRefused, HostGuard, RateLimit, SameOrigin, read_body, served_names

__all__ = ["PreviewState", "WatchPlan", "create_preview_app", "spam_score", "watch_plan", "watched_paths",
           "TEST_SENDS_PER_MINUTE"]

TEST_SENDS_PER_MINUTE = 10

_SHELL = (Path(__file__).parent / "preview.html").read_text(encoding="utf-8")
# The built email runs nothing and reaches nothing: a sandbox without scripts, in an origin of its own,
# in the page's iframe (its sandbox attribute) and when /email is opened on its own (this header).
# Links still open, in a new tab. Images and fonts load from anywhere, as in a mail client.
_EMAIL_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox allow-popups allow-popups-to-escape-sandbox; script-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
}


# The report page asks nothing of the network and runs nothing: the policy says so to the browser too.
_REPORT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
}


@dataclass
class PreviewState:
    """The latest build: version, error (one line) or sizes and spam score."""

    version: int = 0
    error: str | None = None
    html_bytes: int = 0
    subject: str = ""
    spam: str | None = None
    folder: Path | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def bump(self) -> None:
        """Record a new build and wake every waiting event stream."""
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seen: int, timeout: float) -> bool:
        """Wait until a build newer than `seen` exists; False on timeout."""
        if self.version > seen:
            return True
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True


def spam_score(eml: Path) -> str | None:
    """SpamAssassin's score and rules for a message, when spamassassin is installed."""
    executable = shutil.which("spamassassin")
    if executable is None:
        return None
    try:
        # Fixed arguments, no shell; the message goes in on stdin.
        completed = subprocess.run([executable, "-L", "-t"], input=eml.read_bytes(), capture_output=True, timeout=60)  # nosec B603
        report = completed.stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=([^\n]*(?:\n\t[^\n]*)*)", report)
    if not match:
        return None
    rules = " ".join(match.group(2).split()).split(" autolearn")[0]
    return f"{match.group(1)} ({rules})"


@dataclass(frozen=True)
class WatchPlan:
    """What the preview watches: folders with everything below them, and single files.

    A file is watched through its folder (not recursively), never by its inode: an editor or
    `sed -i` saves by writing a new file and renaming it over the old one, and a watch on the
    old inode would see that once and then nothing more.
    """

    folders: tuple[Path, ...]
    files: tuple[Path, ...]

    @property
    def file_folders(self) -> tuple[Path, ...]:
        """The folders holding the watched files."""
        return tuple(sorted({f.parent for f in self.files}))


def watch_plan(workspace: Workspace, sources: Sequence[Path]) -> WatchPlan:
    """Folders: sources, templates (workspace or built-in), issues/ (the plans); files: source files, digest.toml."""
    from digest.render.environment import BUILTIN_TEMPLATES

    folders = [p.resolve() for p in sources if p.is_dir()]
    folders.append(workspace.templates.resolve() if workspace.templates.is_dir() else BUILTIN_TEMPLATES)
    if workspace.issues.is_dir():
        folders.append(workspace.issues.resolve())  # an edited plan.toml rebuilds like a template
    files = [p.resolve() for p in sources if p.exists() and not p.is_dir()]
    files.append((workspace.root / "digest.toml").resolve())  # seen even when it is created later
    return WatchPlan(tuple(dict.fromkeys(folders)), tuple(dict.fromkeys(files)))


def watched_paths(workspace: Workspace, sources: Sequence[Path]) -> list[Path]:
    """Every folder and file the preview rebuilds on."""
    plan = watch_plan(workspace, sources)
    return [*plan.folders, *plan.files]


class _Preview:
    """The preview's state and its routes: what is built, how to rebuild, who may send a test."""

    def __init__(self, ctx: Context, sources: Sequence[Path], *, urls: Sequence[str], configured: bool,
                 watch: bool) -> None:
        self.ctx, self.sources, self.urls, self.configured, self.watch = ctx, sources, urls, configured, watch
        self.workspace = ctx.workspace
        self.same_origin = SameOrigin()
        self.test_sends = RateLimit(TEST_SENDS_PER_MINUTE, 60.0)
        self.state = PreviewState()
        self.current = {"ctx": ctx}
        self.out = ctx.workspace.state_dir / "preview"
        self.lock = asyncio.Lock()

    def _build(self) -> None:
        """Build into .digest/preview/ without reserving a number; keep the error line."""
        try:
            # digest.toml may have changed: read it again for this build; the store stays open.
            fresh = Context(self.workspace, store=self.ctx.store)
            web = [SourceSpec(url) for url in self.urls] + (list(fresh.settings.sources) if self.configured else [])
            result = build_issue(fresh, list(self.sources), web=web, offline=True, out=self.out, reserve_number=False,
                                 allow_large=True)
            self.current["ctx"] = fresh
        except DigestError as exc:
            self.state.error = str(exc)
            return
        self.state.error, self.state.folder = None, result.folder
        self.state.html_bytes, self.state.subject = result.html_bytes, result.issue.subject
        self.state.spam = spam_score(result.folder / "preview.eml")

    async def rebuild(self) -> None:
        """Rebuild in a worker thread, one at a time, then tell every open page."""
        async with self.lock:
            await asyncio.to_thread(self._build)
            self.state.bump()

    async def _watch(self, stop: asyncio.Event) -> None:
        """Rebuild whenever a watched folder's content or a watched file changes."""
        from watchfiles import Change, DefaultFilter, awatch

        plan = watch_plan(self.workspace, self.sources)
        # Our own output (.digest/preview/) must not trigger a rebuild, wherever the sources are.
        in_folders = DefaultFilter(ignore_paths=[str(self.workspace.state_dir.resolve())])
        names = {str(f) for f in plan.files}

        def is_watched_file(change: Change, path: str) -> bool:
            return path in names

        async def follow(paths: Sequence[Path], **options: object) -> None:
            async for _ in awatch(*paths, stop_event=stop, debounce=300, step=50, **options):  # type: ignore[arg-type]
                await self.rebuild()

        following = [follow(plan.folders, watch_filter=in_folders),
                     follow(plan.file_folders, watch_filter=is_watched_file, recursive=False)]
        cache = self.workspace.state_dir / "cache"
        if (self.urls or self.configured) and cache.is_dir():
            following.append(follow([cache], watch_filter=None))  # bodies a `digest fetch` brought
        await asyncio.gather(*following)

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Build once at start-up, then watch until shutdown."""
        await self.rebuild()
        stop = asyncio.Event()
        task = asyncio.create_task(self._watch(stop)) if self.watch else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                task.cancel()

    def _file(self, name: str) -> Path | None:
        if self.state.error is not None or self.state.folder is None:
            return None
        return self.state.folder / name

    async def shell(self, request: Request) -> Response:
        """GET /: the preview page with its view switches."""
        return HTMLResponse(_SHELL.replace("__SESSION_TOKEN__", self.same_origin.token),
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})

    async def email(self, request: Request) -> Response:
        """GET /email: the built HTML (?dark=1 forces the dark rules), or the build error."""
        path = self._file("issue.html")
        if path is None:
            return HTMLResponse(
                '<!DOCTYPE html><html><body style="font:16px/1.5 system-ui;padding:2rem;color:#b42318">'
                f'<h2>Build failed</h2><pre id="build-error" style="white-space:pre-wrap">'
                f"{html.escape(self.state.error or 'not built yet')}</pre></body></html>", headers=_EMAIL_HEADERS)
        page = path.read_text(encoding="utf-8")
        if request.query_params.get("dark") == "1":
            # Show the dark-mode rules whatever the browser prefers.
            page = page.replace("@media (prefers-color-scheme: dark)", "@media all")
        return HTMLResponse(page, headers=_EMAIL_HEADERS)

    async def part(self, request: Request) -> Response:
        """GET /part/{text|headers|raw}: the text part, the headers, or the whole message."""
        kind = request.path_params["kind"]
        path = self._file("issue.txt" if kind == "text" else "preview.eml")
        if path is None:
            return PlainTextResponse(f"Build failed: {self.state.error}", headers=_EMAIL_HEADERS)
        data = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
        if kind == "headers":
            data = data.split("\n\n", 1)[0]
        return PlainTextResponse(data, headers=_EMAIL_HEADERS)

    async def report(self, request: Request) -> Response:
        """GET /report: the page `digest report --html` writes, the latest sent issue first."""
        from digest.app.report import build_report
        from digest.web.report_page import report_page

        found = await run_in_threadpool(build_report, self.ctx)
        page = report_page(found, newsletter=self.ctx.settings.newsletter.name)
        return HTMLResponse(page, headers=_REPORT_HEADERS)

    async def status(self, request: Request) -> Response:
        """GET /status: version, error, subject, HTML size and spam score as JSON."""
        return JSONResponse({
            "version": self.state.version, "error": self.state.error, "subject": self.state.subject,
            "html_bytes": self.state.html_bytes, "clip_bytes": GMAIL_CLIP_BYTES, "spam": self.state.spam,
        })

    async def events(self, request: Request) -> Response:
        """GET /events: server-sent events, one `reload` per new build."""
        async def stream() -> AsyncIterator[str]:
            """Yield a reload event per new build, a keep-alive comment otherwise."""
            seen = self.state.version
            yield f"event: hello\ndata: {seen}\n\n"
            while not await request.is_disconnected():
                if await self.state.wait(seen, timeout=10):
                    seen = self.state.version
                    yield f"event: reload\ndata: {seen}\n\n"
                else:
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    async def send_test(self, request: Request) -> Response:
        """POST /send-test: send the previewed issue to one address."""
        from digest.app.testsend import send_one

        refusal = self.same_origin.refusal(request)  # CSRF: only the preview page itself may send
        if refusal is not None:
            return JSONResponse({"ok": False, "message": refusal}, status_code=403)
        try:
            body = await read_body(request, limit=2048)
        except BodyRefused as refused:
            return JSONResponse({"ok": False, "message": refused.message}, status_code=refused.status)
        if self.state.folder is None:
            return JSONResponse({"ok": False, "message": "nothing to send: the build failed"}, status_code=400)
        if not self.test_sends.allow():
            return JSONResponse({"ok": False, "message": f"at most {TEST_SENDS_PER_MINUTE} test sends a minute; "
                                 "try again shortly"}, status_code=429)
        address = parse_qs(body.decode("utf-8", "replace")).get("address", [""])[0]
        try:
            message = await send_one(self.current["ctx"], self.state.folder, address)
            return JSONResponse({"ok": True, "message": message})
        except DigestError as exc:
            return JSONResponse({"ok": False, "message": str(exc)}, status_code=400)


def create_preview_app(ctx: Context, sources: Sequence[Path], *, urls: Sequence[str] = (),
                       configured: bool = False, watch: bool = True, hosts: Iterable[str] = ()) -> Starlette:
    """The preview app: builds now, then on every change of a source, template or digest.toml.

    Web sources — `urls`, and with `configured` the [[sources]] of digest.toml as it
    is at each build — are read from the cache of the last `digest fetch`, as
    `build --offline` does: a keystroke never costs a request. A new body in the
    cache (a fetch in another terminal) rebuilds too.

    It answers to loopback names (and `hosts`) only; sending a test needs the page's own
    origin and its session token, at most TEST_SENDS_PER_MINUTE a minute.
    """
    preview = _Preview(ctx, sources, urls=urls, configured=configured, watch=watch)
    app = Starlette(routes=[
        Route("/", preview.shell),
        Route("/email", preview.email),
        Route("/part/{kind:str}", preview.part),
        Route("/status", preview.status),
        Route("/report", preview.report),
        Route("/events", preview.events),
        Route("/send-test", preview.send_test, methods=["POST"]),
    ], lifespan=preview.lifespan, middleware=[Middleware(
        HostGuard, allowed=served_names(extra=hosts),
        hint="open the preview as http://127.0.0.1:PORT/ (or the name given to --host)")])
    app.state.preview = preview.state
    app.state.rebuild = preview.rebuild
    return app
