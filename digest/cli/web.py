"""`digest serve`, `digest preview` and `digest archive`."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path

import click

from digest.app.context import Context
from digest.cli.build import split_sources
from digest.cli.output import printable, say, warn
from digest.core.errors import ConfigError
from digest.deliver.transport import is_loopback

__all__ = ["serve", "preview", "archive"]


def _run(app: object, host: str, port: int, what: str) -> None:
    import uvicorn

    from digest.web.listen import bind_listener, server_config

    listener = bind_listener(host, port)  # a port in use is a one-line error before anything says "serving"
    if not is_loopback(host):
        warn(f"listening on {printable(host)}: reachable from other machines")
    say(f"{what} on http://{printable(host if ':' not in host else f'[{host}]')}:{port}/  (Ctrl-C to stop)")
    uvicorn.Server(server_config(app, host=host, port=port)).run(sockets=[listener])


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535))
@click.option("--allow-host", "allowed", multiple=True, metavar="NAME",
              help="Also answer to this Host name (repeatable): a name, an address, *.example.com (any name "
                   "under it) or .example.com (it and any name under it). Loopback names, the host of base_url "
                   "and --host are always served; any other Host header gets a 400.")
@click.option("--smtp", "smtp_port", type=click.IntRange(1, 65535),
              help="Also receive the bounce mailbox by SMTP on this port (bounces, complaints, mailto unsubscribes).")
@click.option("--smtp-host", default="127.0.0.1", show_default=True, help="Address the SMTP receiver listens on.")
@click.pass_obj
def serve(ctx: Context, host: str, port: int, allowed: tuple[str, ...], smtp_port: int | None, smtp_host: str) -> None:
    """Serve signups (/subscribe), one-click unsubscribe (/u/TOKEN), the archive (/archive/) and /manage/TOKEN.

    With --smtp, also receive the bounce mailbox: DSNs, complaints and mailto
    unsubscribes are applied as they arrive (see `digest inbox process`).
    """
    from digest.web.guard import allowed_host
    from digest.web.server import create_app

    try:
        names = [allowed_host(value) for value in allowed]
    except ValueError as exc:
        raise ConfigError(f"--allow-host {printable(exc)}") from None
    app = create_app(ctx, hosts=(host, *names))
    if smtp_port is None:
        esp = ctx.settings.esp
        extra = f" and {esp.provider} notifications (/esp/{esp.provider})" if esp else ""
        _run(app, host, port, "Serving signups, unsubscribe links and the archive" + extra)
        return
    from digest.cli.receive import serve_with_receiver
    from digest.core import aio

    aio.run(serve_with_receiver(ctx, app, host=host, port=port, smtp_host=smtp_host, smtp_port=smtp_port))


@click.command()
@click.argument("sources", nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback address to listen on (127.0.0.1, ::1 or localhost).")
@click.option("--port", default=8024, show_default=True, type=click.IntRange(1, 65535))
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in the default browser.")
@click.pass_obj
def preview(ctx: Context, sources: tuple[str, ...], host: str, port: int, open_browser: bool) -> None:
    """Preview the issue built from SOURCES (as for build); it rebuilds and refreshes as files change.

    Web sources come from the cache of the last `digest fetch` (as with
    `build --offline`): the preview never fetches. The preview is a local tool
    and listens on loopback only: its page carries the token that sends test
    mail, and anybody who can reach the port can read it. From another
    machine, use an SSH tunnel (ssh -L 8024:127.0.0.1:8024 HOST).
    """
    from digest.web.preview import create_preview_app

    if not is_loopback(host):
        raise ConfigError(f"digest preview listens on loopback only, not {printable(host)}: its page can send test "
                          f"mail; from another machine use an SSH tunnel (ssh -L {port}:127.0.0.1:{port} HOST)")
    paths, web = split_sources(ctx, sources)
    # Without SOURCES the [[sources]] of digest.toml are read again at each build (it may change).
    urls = [spec.url for spec in web] if sources else []
    app = create_preview_app(ctx, paths, urls=urls, configured=not sources, hosts=(host,))
    if open_browser:
        where = f"[{host}]" if ":" in host else host
        threading.Timer(1.0, webbrowser.open, args=(f"http://{where}:{port}/",)).start()
    _run(app, host, port, "Previewing")


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the static archive into.")
@click.pass_obj
def archive(ctx: Context, out: Path) -> None:
    """Write the archive as static files: index.html, page/N/, N/index.html, feed.xml, sitemap.xml."""
    from digest.web.archive import export_archive

    written = export_archive(ctx, out)
    issues = sum(1 for p in written if p.parent.name.isdigit() and p.parent.parent == out)
    say(f"Wrote {len(written)} file(s) to {printable(out)} ({issues} issue(s))")
