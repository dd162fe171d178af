"""The email itself: standards, inlining, dark mode, size, untrusted content, templates."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from digest.cli import main
from digest.collect import collect
from digest.core.settings import Settings
from digest.curate import curate
from digest.render import compile_mjml, inline_css, render_issue
from digest.render.environment import make_environment
from tests.conftest import ROOT, needs_tool


@pytest.fixture(scope="module")
def sample_issue():
    issue = curate(collect([ROOT / "pages"]).articles).issue
    return dataclasses.replace(issue, number=1)


@pytest.fixture(scope="module")
def html(sample_issue) -> str:
    return render_issue(sample_issue, Settings()).html


def test_document_standards(html):
    assert html.startswith("<!DOCTYPE html>")
    assert re.search(r'<html[^>]* lang="en"', html) and 'dir="ltr"' in html
    for img in re.findall(r"<img\b[^>]*>", html):
        assert re.search(r'\balt="[^"]+"', img), img
    tables = re.findall(r"<table\b[^>]*>", html)
    assert tables and all('role="presentation"' in t for t in tables)
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html


def test_inlining_keeps_media_queries_important_and_mso(sample_issue):
    env = make_environment(None)
    from digest.render import _context, _Slots  # the same context render_issue uses

    source = env.get_template("digest.mjml.j2").render(_context(sample_issue, Settings(), _Slots(), "https://x"))
    compiled = compile_mjml(source, "digest.mjml.j2")
    inlined = inline_css(compiled)
    assert inlined.count("<!--[if") == compiled.count("<!--[if") > 0
    assert inlined.count("<![endif]-->") == compiled.count("<![endif]-->")
    assert "@media only screen and (max-width: 480px)" in inlined
    assert "prefers-color-scheme: dark" in inlined
    dark = inlined[inlined.index("prefers-color-scheme"):]
    assert "!important" in dark[:2000]
    assert "[data-ogsc] .dg-text div" in inlined and "[data-ogsb] .dg-body" in inlined
    assert 'data-premailer' not in inlined
    assert re.search(r'<h1 style="[^"]*font-size:\s*28px', inlined), "class rules were not inlined"


def test_build_writes_preview_eml_for_a_placeholder_reader(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    data = (workspace / "issues" / "1" / "preview.eml").read_bytes()
    message = message_from_bytes(data, policy=default)
    assert message["To"].addresses[0].addr_spec == "reader@example.com"
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    # The email's HTML is the previewed file, line ends aside (CRLF on the wire).
    assert html.replace("\r\n", "\n") == (workspace / "issues" / "1" / "issue.html").read_text(encoding="utf-8")


HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(2)> {{ 7*7 }} {% if true %}yes{% endif %}'


def test_untrusted_content_is_inert(workspace: Path, runner):
    page = (f"Position: News > World\n\n{HOSTILE}\n\nSource: Wire | 2030-01-01 10:00:00\n\n"
            "Body with <b>tags</b> and {{ config }} and a javascript:alert(3) mention.\n")
    (workspace / "pages" / "evil.txt").write_text(page)
    # A feed title may carry a CR/LF (as entities): it must never become a header.
    (workspace / "pages" / "evil.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Evil</title><item>'
        "<title>Injected&#13;&#10;Bcc: victim@example.com</title><link>javascript:alert(4)</link>"
        "<pubDate>Tue, 01 Jan 2030 12:00:00 GMT</pubDate><description>x</description></item></channel></rss>")
    result = runner.invoke(main, ["build", "--lead", "script"])
    assert result.exit_code == 0, result.stderr
    folder = workspace / "issues" / "1"
    html = (folder / "issue.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "{{ 7*7 }}" in html and ">49<" not in html
    assert "{% if true %}yes{% endif %}" in html
    assert "javascript:" not in html.replace("javascript:alert(3) mention", "")  # only as text, never a link
    assert "Injected Bcc: victim@example.com" in html
    text = " ".join((folder / "issue.txt").read_text(encoding="utf-8").split())
    assert HOSTILE in text
    message = message_from_bytes((folder / "preview.eml").read_bytes(), policy=default)
    assert message["Bcc"] is None
    evil_lead = runner.invoke(main, ["build", "--new-issue", "--lead", "injected"])
    assert evil_lead.exit_code == 0, evil_lead.stderr
    message = message_from_bytes((workspace / "issues" / "2" / "preview.eml").read_bytes(), policy=default)
    assert message["Bcc"] is None and message["Subject"].endswith("Injected Bcc: victim@example.com")


def _override(workspace: Path, name: str, content: str) -> None:
    path = workspace / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("digest.txt.j2", "line one\n{% if %}\n", r"templates/digest.txt.j2:2: TemplateSyntaxError"),
        ("digest.txt.j2", "ok\n\n{{ no_such_thing }}\n", r"templates/digest.txt.j2:3: UndefinedError: 'no_such_thing'"),
        ("digest.txt.j2", "{{ ''.__class__.__mro__ }}\n", r"templates/digest.txt.j2:1: SecurityError"),
        ("digest.mjml.j2", "<mjml><mj-body><mj-section>\n", r"digest.mjml.j2.*MJML"),
    ],
)
def test_template_errors_are_one_line(workspace: Path, runner, name, content, expected):
    _override(workspace, name, content)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert re.search(expected, line), line
    assert not (workspace / "issues" / "1" / "issue.html").exists()


def test_templates_init_then_override_file_by_file(workspace: Path, runner):
    result = runner.invoke(main, ["templates", "init"])
    assert result.exit_code == 0 and "partials/footer.mjml.j2" in result.output
    footer = workspace / "templates" / "partials" / "footer.mjml.j2"
    footer.write_text(footer.read_text().replace("{{ newsletter.reason }}", "Edited footer for {{ subscriber.name }}"))
    (workspace / "templates" / "digest.txt.j2").unlink()  # the built-in text template is used again
    assert runner.invoke(main, ["build"]).exit_code == 0
    html = (workspace / "issues" / "1" / "issue.html").read_text()
    assert "Edited footer for Reader" in html
    assert "TOP NEWS" in html.upper()
    assert "Top News\n--------" in (workspace / "issues" / "1" / "issue.txt").read_text()
    again = runner.invoke(main, ["templates", "init"])
    # Only the missing file comes back; the edited footer is never overwritten without --force.
    assert "1 template(s) copied" in again.output and "digest.txt.j2" in again.output
    assert "Edited footer" in footer.read_text()


def test_size_warning_and_gmail_clip(workspace: Path, runner):
    _override(workspace, "partials/footer.mjml.j2",
              '<mj-section><mj-column><mj-text>' + "x" * 95_000 + '</mj-text></mj-column></mj-section>')
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2 and "over Gmail's 102 KB clip" in result.stderr
    assert not (workspace / "issues" / "1").exists()
    allowed = runner.invoke(main, ["build", "--allow-large"])
    assert allowed.exit_code == 0 and "KB, close to Gmail's 102 KB clip" in allowed.stderr


def test_text_part_is_designed_for_reading(workspace: Path, runner):
    runner.invoke(main, ["build"])
    text = (workspace / "issues" / "1" / "issue.txt").read_text()
    lines = text.splitlines()
    title = "China, Central Asian Countries Share High-quality Development"
    assert lines[lines.index(title) + 1] == "=" * len(title)
    assert all(len(line) <= 72 for line in lines if " " in line.strip() and "http" not in line)
    assert "Unsubscribe: https://news.example.com/u/" in text
    assert "View in your browser: https://news.example.com/archive/1" in text


@needs_tool("chromium", "apt-get install chromium")
def test_chromium_mobile_desktop_and_dark(workspace: Path, runner):
    result = runner.invoke(main, ["build", "--screenshots"])
    assert result.exit_code == 0, result.stderr
    from digest.render.screenshots import check_in_browser

    folder = workspace / "issues" / "1"
    seen = check_in_browser(folder / "issue.html", out=folder)
    assert seen.mobile_scroll_width <= 375
    assert seen.desktop_scroll_width <= 600
    assert seen.title_visible_on_mobile
    assert seen.light_background != seen.dark_background
    for shot in seen.screenshots:
        assert shot.stat().st_size > 10_000  # a real picture, not an empty page


@needs_tool("spamassassin", "apt-get install spamassassin")
def test_spamassassin_score(workspace: Path, runner):
    assert runner.invoke(main, ["build"]).exit_code == 0
    eml = (workspace / "issues" / "1" / "preview.eml").read_bytes()
    report = subprocess.run(["spamassassin", "-L", "-t"], input=eml, capture_output=True, timeout=120).stdout.decode()
    status = re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+).*?tests=([^\n]*(?:\n\t[^\n]*)*)", report)
    assert status, report[:500]
    rules = " ".join(status.group(2).split())
    print(f"SpamAssassin score {status.group(1)}; rules hit: {rules}")
    assert float(status.group(1)) <= 0.5, rules


@pytest.mark.parametrize(
    "partial, old, new, expected",
    [
        ("partials/header.mjml.j2", "</mj-section>", "", r"^templates/partials/header.mjml.j2:1: MJML: .*mj-section"),
        ("partials/top_news.mjml.j2", "<mj-column>", "<mj-column><mj-text>oops",
         r"^templates/partials/top_news.mjml.j2:2: MJML: "),
        ("partials/lead.mjml.j2", '<mj-text css-class="dg-title dg-pad" padding-bottom="8px">', "<mj-txt>",
         r"^templates/partials/lead.mjml.j2:6: MJML: unknown tag <mj-txt>$"),
    ],
)
def test_mjml_errors_name_the_template_file_and_line(workspace: Path, runner, partial, old, new, expected):
    assert runner.invoke(main, ["templates", "init"]).exit_code == 0
    path = workspace / "templates" / partial
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new, 1))
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert re.search(expected, line.removeprefix("digest: error: ")), line


def test_theme_logo_and_colours(workspace: Path, runner):
    with (workspace / "digest.toml").open("a") as f:
        f.write('\n[theme]\nlogo_url = "https://cdn.example.com/logo.png"\nbrand_color = "#aa3300"\n'
                'dark_background_color = "#101010"\n')
    text = (workspace / "digest.toml").read_text().replace('[theme]\nbrand_color = "#0b5cab"\nwidth = 600\n', "")
    (workspace / "digest.toml").write_text(text)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    html = (workspace / "issues" / "1" / "issue.html").read_text()
    logo = re.search(r'<img[^>]+src="https://cdn.example.com/logo.png"[^>]*>', html)
    assert logo and 'alt="Science &amp; Cooperation Weekly"' in logo.group(0)
    assert "#aa3300" in html.lower() and "#101010" in html
