"""digest: build a newsletter digest from the week's news pages and send it, fast and resumably."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# `collect` and `curate` share their names with subpackages: importing a subpackage
# sets the package attribute to the module, so these two are bound eagerly (both light).
from digest.collect import collect
from digest.curate import curate

if TYPE_CHECKING:
    from digest.app.build import build_issue
    from digest.app.context import Context
    from digest.app.issue_folder import load_issue
    from digest.app.send import send_to_lists
    from digest.collect import Collection
    from digest.compose import ComposedMessage, MessageSkeleton, sign_token, verify_token
    from digest.core.errors import (
        ConfigError,
        DeliveryError,
        DigestError,
        IssueError,
        SourceError,
        StateError,
        SubscriberError,
        TemplateError,
    )
    from digest.core.model import Article, Image, Issue, Rendered, Subscriber, TopNewsItem
    from digest.core.settings import Settings, load_settings
    from digest.core.workspace import Workspace
    from digest.curate import CurateOptions
    from digest.deliver.sender import SendOptions, SendReport, send_campaign
    from digest.deliver.transport import MemoryTransport, Outcome, SMTPTransport, Transport
    from digest.render import render_issue
    from digest.store import Audience, Store, open_store
    from digest.subscribers import read_list

__all__ = [
    # data
    "Article",
    "Image",
    "Issue",
    "Rendered",
    "Subscriber",
    "TopNewsItem",
    "Settings",
    "Workspace",
    "Context",
    "Audience",
    # state
    "Store",
    "open_store",
    # stages
    "collect",
    "Collection",
    "curate",
    "CurateOptions",
    "render_issue",
    "MessageSkeleton",
    "ComposedMessage",
    "sign_token",
    "verify_token",
    "send_campaign",
    "SendOptions",
    "SendReport",
    "Transport",
    "SMTPTransport",
    "MemoryTransport",
    "Outcome",
    "read_list",
    # whole pipeline
    "build_issue",
    "load_issue",
    "send_to_lists",
    "load_settings",
    # errors
    "DigestError",
    "SourceError",
    "ConfigError",
    "TemplateError",
    "SubscriberError",
    "StateError",
    "IssueError",
    "DeliveryError",
]

# Where each public name lives: loaded on first use (PEP 562), so that
# `digest build` does not import the sending machinery and vice versa.
# (bandit B105 below: "sign_token" maps to a module name, not a password.)
_HOME = {
    "Collection": "digest.collect",
    "ComposedMessage": "digest.compose", "MessageSkeleton": "digest.compose",
    "sign_token": "digest.compose", "verify_token": "digest.compose",  # nosec B105
    "Settings": "digest.core.settings", "Workspace": "digest.core.workspace", "load_settings": "digest.core.settings",
    "CurateOptions": "digest.curate",
    "SendOptions": "digest.deliver.sender", "SendReport": "digest.deliver.sender",
    "send_campaign": "digest.deliver.sender", "Context": "digest.app.context",
    "Store": "digest.store", "open_store": "digest.store", "Audience": "digest.store",
    "MemoryTransport": "digest.deliver.transport", "Outcome": "digest.deliver.transport",
    "SMTPTransport": "digest.deliver.transport", "Transport": "digest.deliver.transport",
    "build_issue": "digest.app.build", "load_issue": "digest.app.issue_folder", "send_to_lists": "digest.app.send",
    "render_issue": "digest.render", "read_list": "digest.subscribers",
}
_HOME.update(dict.fromkeys(
    ("ConfigError", "DeliveryError", "DigestError", "IssueError", "SourceError", "StateError", "SubscriberError",
     "TemplateError"),
    "digest.core.errors"))
_HOME.update(dict.fromkeys(("Article", "Image", "Issue", "Rendered", "Subscriber", "TopNewsItem"), "digest.core.model"))


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is used."""
    if name not in _HOME:
        raise AttributeError(f"module 'digest' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
