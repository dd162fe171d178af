"""The public API is small and pinned."""

from __future__ import annotations

import digest

PINNED = {
    "Article", "Image", "Issue", "Rendered", "Subscriber", "TopNewsItem", "Settings", "Workspace", "Context",
    "Audience", "Store", "open_store",
    "collect", "Collection", "curate", "CurateOptions", "render_issue", "MessageSkeleton", "ComposedMessage",
    "sign_token", "verify_token", "send_campaign", "SendOptions", "SendReport", "Transport", "SMTPTransport",
    "MemoryTransport", "Outcome", "read_list", "build_issue", "load_issue", "send_to_lists", "load_settings",
    "DigestError", "SourceError", "ConfigError", "TemplateError", "SubscriberError", "StateError", "DeliveryError",
    "IssueError",
}


def test_all_is_pinned_and_every_name_resolves():
    assert set(digest.__all__) == PINNED
    for name in digest.__all__:
        assert getattr(digest, name) is not None, name


def test_every_error_is_a_digest_error_with_an_exit_code():
    for name in ("SourceError", "ConfigError", "TemplateError", "SubscriberError", "StateError", "DeliveryError",
                 "IssueError"):
        error = getattr(digest, name)("boom", path="f.txt", line=3)
        assert isinstance(error, digest.DigestError)
        assert str(error) == "f.txt:3: boom" and error.exit_code in (2, 3)


def test_the_pipeline_runs_from_python_without_the_cli(tmp_path):
    from tests.conftest import SAMPLE

    articles = digest.collect([SAMPLE]).articles
    issue = digest.curate(articles).issue
    rendered = digest.render_issue(issue, digest.Settings())
    skeleton = digest.MessageSkeleton(rendered, digest.Settings().newsletter, secret=b"k")
    message = skeleton.compose(digest.Subscriber("ann@example.com", "Ann"))
    assert b"To: Ann <ann@example.com>" in message.data
