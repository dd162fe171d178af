"""What a message may carry: its own Message-ID for a test copy, bounded size, escaped and checked links."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

from digest.app.build import build_issue
from digest.app.context import Context
from digest.cli import main
from digest.compose import MessageSkeleton
from digest.core.model import Subscriber
from digest.core.settings import Newsletter, Settings
from digest.render import render_issue
from tests.conftest import point_smtp_at


def test_test_sends_get_their_own_message_id(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    assert runner.invoke(main, ["build"]).exit_code == 0
    assert runner.invoke(main, ["send", "--test-to", "ada@example.com"]).exit_code == 0
    assert runner.invoke(main, ["send", "--test-to", "ada@example.com"]).exit_code == 0
    assert runner.invoke(main, ["send", "--list", "subscribers/example.csv"]).exit_code == 0
    ids = [r.message["Message-ID"] for r in handler.received if r.rcpt_tos == ["ada@example.com"]]
    assert len(ids) == 3 and len(set(ids)) == 3, ids  # two tests and the real one, all different
    from digest.app.issue_folder import load_issue

    with Context(workspace) as ctx:  # the real one is the deterministic Message-ID of (issue, address)
        _, rendered = load_issue(workspace / "issues" / "1")
        assert ids[-1] == ctx.skeleton(rendered, list_name="example").message_id(Subscriber("ada@example.com").key)


def _page(root: Path, body: str) -> None:
    (root / "pages").mkdir(exist_ok=True)
    for old in (root / "pages").iterdir():
        old.unlink()
    (root / "pages" / "big.txt").write_text(
        f"Position: News > Article\n\nA Big Page\n\nSource: Desk | 2026-11-20 10:00:00\n\n{body}\n")


def test_an_unbroken_19_mb_line_does_not_make_a_19_mb_message(workspace: Path, runner):
    _page(workspace, "x" * 19_000_000 + "\n\nA second paragraph.")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    folder = workspace / "issues" / "1"
    assert (folder / "preview.eml").stat().st_size < 100_000
    text = (folder / "issue.txt").read_text()
    assert max(len(line) for line in text.splitlines()) <= 998
    page = (folder / "issue.html").read_text()
    assert "x" * 500 in page and "x" * 500 in text  # shown cut short, not silently dropped
    assert "…" in text


def test_the_whole_message_is_bounded(workspace: Path, runner):
    (workspace / "templates").mkdir()
    (workspace / "templates" / "digest.txt.j2").write_text(
        "{% for p in lead.paragraphs %}{{ p }}\n{% endfor %}\n{{ unsubscribe_url }}\n")
    paragraph = "A sentence of the long report that goes on. " * 12
    _page(workspace, "\n\n".join([paragraph] * 20_000))  # about 11 MB of text
    refused = runner.invoke(main, ["build"])
    assert refused.exit_code == 2
    [line] = refused.stderr.strip().splitlines()
    assert "preview.eml" in line and "10 MB" in line and "--allow-large" in line, line
    assert not (workspace / "issues").exists()
    forced = runner.invoke(main, ["build", "--allow-large"])
    assert forced.exit_code == 0, forced.stderr
    assert "warning:" in forced.stderr and "MB" in forced.stderr


def test_issue_html_has_the_same_escaped_unsubscribe_link_as_the_mail(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    config = workspace / "digest.toml"
    config.write_text(config.read_text().replace('base_url = "https://news.example.com"',
                                                  'base_url = "https://news.example.com/a&b"'))
    assert runner.invoke(main, ["build"]).exit_code == 0
    page = (workspace / "issues" / "1" / "issue.html").read_text()
    assert [h for h in re.findall(r'href="([^"]*)"', page) if "/u/" in h][0].startswith(
        "https://news.example.com/a&amp;b/u/")
    assert runner.invoke(main, ["send", "--test-to", "ada@example.com"]).exit_code == 0
    [mail] = handler.received
    mailed = mail.message.get_body(("html",)).get_content()
    assert [h for h in re.findall(r'href="([^"]*)"', mailed) if "/u/" in h][0].startswith(
        "https://news.example.com/a&amp;b/u/")


def test_issue_html_escapes_the_unsubscribe_link_like_the_mail(workspace: Path):
    with Context(workspace) as ctx:
        settings = dataclasses.replace(ctx.settings, newsletter=dataclasses.replace(
            ctx.settings.newsletter, base_url='https://news.example.com/a?b=1&c="><script>x</script>'))
        ctx.__dict__["settings"] = settings
        result = build_issue(ctx, [workspace / "pages"])
    page = (result.folder / "issue.html").read_text()
    assert "<script>x</script>" not in page
    hrefs = [h for h in re.findall(r'href="([^"]*)"', page) if "/u/" in h]
    assert hrefs and all(html.unescape(h).startswith('https://news.example.com/a?b=1&c="><script>') for h in hrefs)


SITE_TEMPLATES = {
    "digest.txt.j2": "site: {{ subscriber.attrs.site | safe_url }}\n"
                     "later: {{ ('https://x.example/?who=' ~ subscriber.email) | safe_url }}\n"
                     "bad: [{{ ('javascript:' ~ subscriber.name) | safe_url }}]\n{{ unsubscribe_url }}\n",
    "digest.mjml.j2": '<mjml><mj-body><mj-section><mj-column><mj-text>'
                      '<a href="{{ subscriber.attrs.site | safe_url }}">site</a><a href="{{ unsubscribe_url }}">u</a>'
                      '</mj-text></mj-column></mj-section></mj-body></mjml>',
}
SITES = {
    "javascript:alert(document.cookie)": "",
    " JavaScript:alert(1)": "",
    "data:text/html,<script>x</script>": "",
    "https://ok.example/me": "https://ok.example/me",
}


def _templates_and_list(workspace: Path, port: int, templates: dict[str, str], list_name: str,
                        columns: list[str], values: list[list[str]]) -> None:
    """Point the workspace at the server, override templates, and write a list: reader N gets values[N]."""
    import csv

    point_smtp_at(workspace, port)
    (workspace / "templates").mkdir()
    for name, text in templates.items():
        (workspace / "templates" / name).write_text(text)
    with (workspace / "subscribers" / list_name).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", *columns])
        for n, row in enumerate(values):
            writer.writerow([f"reader{n}@example.com", f"Reader {n}", *row])


def test_safe_url_on_a_personal_field_is_checked_at_send_time(workspace: Path, runner, recorder):
    server, handler = recorder
    _templates_and_list(workspace, server.port, SITE_TEMPLATES, "sites.csv", ["site"], [[site] for site in SITES])
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", "subscribers/sites.csv"])
    assert sent.exit_code == 0, sent.stderr
    by_address = {r.rcpt_tos[0]: r.message for r in handler.received}
    for n, (site, expected) in enumerate(SITES.items()):
        message = by_address[f"reader{n}@example.com"]
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        page = message.get_body(("html",)).get_content()
        assert f"site: {expected}\n" in text, (site, text)
        assert f'href="{html.escape(expected)}"' in page, (site, page)
        assert "bad: []" in text and f"later: https://x.example/?who=reader{n}@example.com" in text
        assert "javascript" not in (text + page).lower() and "data:text" not in text + page


def test_personalised_previews_check_links_too(tmp_path: Path):
    from digest.collect import collect
    from digest.curate import curate
    from tests.conftest import ROOT

    for name, text in SITE_TEMPLATES.items():
        (tmp_path / name).write_text(text)
    issue = dataclasses.replace(curate(collect([ROOT / "pages"]).articles).issue, number=1)
    skeleton = MessageSkeleton(render_issue(issue, Settings(), templates=tmp_path), Newsletter(), secret=b"k" * 32)
    for site, expected in SITES.items():
        page, text = skeleton.personalised(Subscriber("ann@example.com", "Ann", attrs={"site": site}), "https://u")
        assert f"site: {expected}\n" in text and f'href="{html.escape(expected)}"' in page, site


JOINED_TEMPLATES = {
    "digest.txt.j2": "joined: [{{ (subscriber.attrs.a ~ subscriber.attrs.b) | safe_url }}]\n"
                     "later: [{{ ('https://x.example/' ~ subscriber.attrs.a ~ subscriber.attrs.b) | safe_url }}]\n"
                     "{{ unsubscribe_url }}\n",
    "digest.mjml.j2": '<mjml><mj-body><mj-section><mj-column><mj-text>'
                      '<a id="joined" href="{{ (subscriber.attrs.a ~ subscriber.attrs.b) | safe_url }}">j</a>'
                      '<a href="{{ (subscriber.attrs.a ~ "&" ~ subscriber.attrs.b) | safe_url }}">amp</a>'
                      '<a href="{{ unsubscribe_url }}">u</a></mj-text></mj-column></mj-section></mj-body></mjml>',
}
JOINED = [  # (a, b, the joined link as sent)
    ("", "javascript:alert(2)", ""),
    ("java", "script:alert(3)", ""),
    ("", "data:text/html,<script>x</script>", ""),
    ("https://ok.example/", "me", "https://ok.example/me"),
]


def test_safe_url_checks_the_whole_link_whatever_field_it_starts_with(workspace: Path, runner, recorder):
    server, handler = recorder
    _templates_and_list(workspace, server.port, JOINED_TEMPLATES, "joined.csv", ["a", "b"],
                        [[a, b] for a, b, _ in JOINED])
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", "subscribers/joined.csv"])
    assert sent.exit_code == 0, sent.stderr
    by_address = {r.rcpt_tos[0]: r.message for r in handler.received}
    for n, (a, b, expected) in enumerate(JOINED):
        message = by_address[f"reader{n}@example.com"]
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        page = message.get_body(("html",)).get_content()
        assert f"joined: [{expected}]\n" in text, (a, b, text)
        assert f'id="joined" href="{html.escape(expected)}"' in page, (a, b, page)
        assert f"later: [https://x.example/{a}{b}]" in text  # a link that starts with our text is still checked
        if expected:
            assert f'href="{html.escape(a + "&" + b)}"' in page  # the template's own text is escaped once
        assert not re.search(r'(?i)(href="|\[)\s*(javascript|data):', text + page), (a, b)
