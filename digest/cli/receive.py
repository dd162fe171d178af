"""`digest serve --smtp PORT`: the web app and the SMTP bounce receiver in one event loop."""

from __future__ import annotations

from typing import Any

import click

from digest.cli.output import printable, say
from digest.context import Context
from digest.deliver.transport import is_loopback

__all__ = ["serve_with_receiver"]


async def serve_with_receiver(ctx: Context, app: Any, *, host: str, port: int, smtp_host: str,
                              smtp_port: int) -> None:
    """Run uvicorn and the receiver until Ctrl-C; each received message is reported in one line."""
    import uvicorn

    from digest.back.process import Outcome, Policy
    from digest.back.receiver import BounceReceiver, serve_receiver

    def show(outcome: Outcome) -> None:
        say(f"received: {printable(outcome.describe())}")

    policy = Policy.from_settings(ctx.settings, ctx.secret)
    receiver = BounceReceiver(ctx.workspace.root / "bounces", store=ctx.store, policy=policy, on_outcome=show)
    for where in {host, smtp_host}:
        if not is_loopback(where):
            click.echo(f"digest: warning: listening on {where}: reachable from other machines", err=True)
    async with serve_receiver(receiver, host=smtp_host, port=smtp_port) as bound:
        click.echo(f"Receiving {policy.return_path} and its +tags by SMTP on {smtp_host}:{bound}")
        click.echo(f"Serving signups, unsubscribe links and the archive on http://{host}:{port}/  (Ctrl-C to stop)")
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
        await uvicorn.Server(config).serve()
