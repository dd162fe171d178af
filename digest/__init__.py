"""digest: build a newsletter digest from the week's news pages and send it, fast and resumably."""

from digest.collect import Collection, collect
from digest.compose import ComposedMessage, MessageSkeleton, sign_token, verify_token
from digest.config import Settings, Workspace, load_settings
from digest.curate import CurateOptions, curate
from digest.deliver.sender import SendOptions, SendReport, send_issue
from digest.deliver.transport import MemoryTransport, Outcome, SMTPTransport, Transport
from digest.errors import (
    ConfigError,
    DeliveryError,
    DigestError,
    SourceError,
    StateError,
    SubscriberError,
    TemplateError,
)
from digest.model import Article, Image, Issue, Rendered, Subscriber, TopNewsItem
from digest.pipeline import build_issue, load_issue, send_to_lists
from digest.render import render_issue
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
    "send_issue",
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
    "DeliveryError",
]
