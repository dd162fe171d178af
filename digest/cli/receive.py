"""`digest serve --smtp PORT`: the web app and the SMTP bounce receiver in one event loop."""

from __future__ import annotations

from typing import Any

from digest.app.context import Context
from digest.cli.output import printable, say, warn
from digest.deliver.transport import is_loopback

__all__ = ["serve_with_receiver"]


async def serve_with_receiver(ctx: Context, app: Any, *, host: str, port: int, smtp_host: str,
                              smtp_port: int) -> None:
    """Run uvicorn and the receiver until Ctrl-C; each received message is reported in one line."""
    import uvicorn

    from digest.back.process import Outcome, Policy
    from digest.back.receiver import BounceReceiver, serve_receiver
    from digest.web.listen import bind_listener, server_config

    def show(outcome: Outcome) -> None:
        say(f"received: {printable(outcome.describe())}")

    policy = Policy.from_settings(ctx.settings, ctx.secret)
    receiver = BounceReceiver(ctx.workspace.root / "bounces", store=ctx.store, policy=policy, on_outcome=show)
    for where in {host, smtp_host}:
        if not is_loopback(where):
            warn(f"listening on {where}: reachable from other machines")
    listener = bind_listener(host, port)
    async with serve_receiver(receiver, host=smtp_host, port=smtp_port) as bound:
        say(f"Receiving {printable(policy.return_path)} and its +tags by SMTP on {printable(smtp_host)}:{bound}")
        say(f"Serving signups, unsubscribe links and the archive on http://{printable(host)}:{port}/  (Ctrl-C to stop)")
        # The same guarded server as `digest serve` alone: header and idle deadlines.
        await uvicorn.Server(server_config(app, host=host, port=port)).serve(sockets=[listener])
