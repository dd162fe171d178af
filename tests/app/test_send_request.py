"""One send request, one listener, and a channel beside email that plugs in without touching send."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.app.send import SendListener, send, send_request
from digest.cli import main
from digest.core.errors import ConfigError
from digest.core.model import Rendered
from digest.deliver import channels
from digest.deliver.sender import SendOptions
from digest.deliver.transport import MemoryTransport


class _Recorder(SendListener):
    def __init__(self) -> None:
        self.heard: list[str] = []

    def on_start(self, where, status) -> None:
        self.heard.append(f"start via {where}")

    def on_notice(self, text: str) -> None:
        self.heard.append(text)


class _Posts:
    """A channel beside email: it records what it would post."""

    name = "posts"

    def __init__(self) -> None:
        self.posted: list[int] = []

    async def publish(self, rendered: Rendered, listener, *, stop: asyncio.Event) -> str:
        self.posted.append(rendered.number)
        return f"posted issue {rendered.number}"


def test_a_send_is_heard_by_one_listener_and_a_registered_channel_goes_out_after_email(
        workspace: Path, runner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(main, ["build"]).exit_code == 0
    posts = _Posts()
    monkeypatch.setattr(channels, "_FACTORIES", {"posts": lambda settings, store: posts})
    transport = MemoryTransport()
    listener = _Recorder()
    with Context(workspace) as ctx:
        request = send_request(ctx, workspace / "issues" / "1", [Path("example")], options=SendOptions(),
                               transport=transport)
        outcome = asyncio.run(send(request, listener))
    assert outcome.state == "sent" and outcome.report is not None and outcome.report.sent == 3
    assert len(transport.delivered) == 3 and posts.posted == [1]
    assert listener.heard == ["start via memory", "posted issue 1"]


def test_a_mistyped_list_fails_before_anything_is_recorded(workspace: Path, runner) -> None:
    assert runner.invoke(main, ["build"]).exit_code == 0
    with Context(workspace) as ctx, pytest.raises(ConfigError, match="no such list"):
        send_request(ctx, workspace / "issues" / "1", [Path("exampel")], options=SendOptions())
    with Context(workspace) as ctx:
        assert ctx.store.campaigns_of(1) == []


class _Broken:
    name = "broken"

    async def publish(self, rendered: Rendered, listener, *, stop: asyncio.Event) -> str:
        raise ConnectionRefusedError("the webhook's server is down")


def test_a_channel_that_fails_does_not_fail_the_send_that_went_out(workspace: Path, runner,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(main, ["build"]).exit_code == 0
    monkeypatch.setattr(channels, "_FACTORIES", {"broken": lambda settings, store: _Broken()})
    transport = MemoryTransport()
    listener = _Recorder()
    with Context(workspace) as ctx:
        request = send_request(ctx, workspace / "issues" / "1", [Path("example")], options=SendOptions(),
                               transport=transport)
        outcome = asyncio.run(send(request, listener))
    assert outcome.state == "sent" and len(transport.delivered) == 3
    assert any("broken: issue 1 not published: ConnectionRefusedError" in line for line in listener.heard)
