"""Hypothesis fuzzing of every entry point: only our own errors, never a traceback."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.cli import main
from digest.collect import read_source
from digest.collect.feed import parse_feed
from digest.collect.htmlpage import parse_html
from digest.compose import TokenError, verify_token
from digest.config import load_settings
from digest.errors import ConfigError, DigestError, SourceError, SubscriberError
from digest.subscribers import read_list

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])

_xmlish = st.lists(st.sampled_from([
    "<?xml version='1.0'?>", "<rss version='2.0'>", "<channel>", "</channel>", "<item>", "</item>",
    "<title>", "</title>", "<link>", "</link>", "<feed xmlns='http://www.w3.org/2005/Atom'>", "</feed>",
    "<entry>", "</entry>", "<summary type='html'>", "</summary>", "&amp;", "&#0;", "&bogus;", "<![CDATA[",
    "]]>", "<script>", "javascript:", "http://x.example/", "\x00", "\ufeff", "é", "<", ">", "'", '"',
]) | st.text(max_size=20), max_size=40).map("".join)

_htmlish = st.lists(st.sampled_from([
    "<!DOCTYPE html>", "<html>", "<head>", "<title>", "</title>", "<body>", "<article>", "<p>", "</p>",
    "<img src='javascript:x' alt='a'>", "<meta property='og:title' content='T'>", "<nav>", "<script>", "</",
    "<div>", "Some words of body text here.", "\x00", "<", "&", "&nbsp;",
]) | st.text(max_size=30), max_size=40).map("".join)


@FAST
@given(_xmlish)
def test_feed_parser_raises_only_source_errors(text):
    try:
        for article in parse_feed(text, path="f.xml"):
            assert article.title and (not article.url or article.url.startswith(("http://", "https://")))
    except SourceError as exc:
        assert "\n" not in str(exc)


@FAST
@given(_htmlish)
def test_html_parser_raises_only_source_errors(text):
    try:
        article = parse_html(text, path="p.html")
        assert article.title and article.paragraphs
    except SourceError as exc:
        assert "\n" not in str(exc)


@FAST
@given(st.binary(max_size=600))
def test_any_bytes_as_a_source_file(data):
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".txt", ".html", ".xml"):
            path = Path(tmp) / f"x{suffix}"
            path.write_bytes(data)
            try:
                read_source(path)
            except SourceError as exc:
                assert "\n" not in str(exc) and str(path) in str(exc)


_csvish = st.lists(st.sampled_from([
    "email", "name", "tags", "attributes", "Email Address", "First Name", ",", ";", "\t", "\n", "\r\n", '"',
    "a@example.com", "A@EXAMPLE.com", "not-an-email", "{", "}", '{"k": 1}', "[1]", "\x00", "\x0b", "é",
    "用户@例子.广告", "x" * 300,
]) | st.text(max_size=10), max_size=50).map("".join)


@FAST
@given(_csvish, st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_csv_reader_raises_only_subscriber_errors(text, encoding):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.csv"
        path.write_bytes(text.encode(encoding, errors="replace"))
        problems = []
        try:
            for subscriber in read_list(path, on_problem=problems.append):
                assert "@" in subscriber.email
                assert not any(c in subscriber.name for c in "\r\n\x00")
        except SubscriberError as exc:
            assert "\n" not in str(exc)
        for problem in problems:
            assert "\n" not in str(problem) and problem.line >= 2


_toml_pieces = st.lists(st.sampled_from([
    "[newsletter]\n", "[theme]\n", "[smtp]\n", "[dkim]\n", "[bogus]\n", "name = ", "from = ", "width = ",
    "port = ", "security = ", '"x"', '"none"', '"weekly@example.com"', "600", "99999", "-1", "true", "[",
    "]", "\n", "=", '"\\u0000"', '"""', "brand_color = ", '"#fff"', '"red"', "base_url = ", '"https://x"',
]), max_size=30).map("".join)


@FAST
@given(_toml_pieces)
def test_config_loading_raises_only_config_errors(text):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "digest.toml").write_text(text, encoding="utf-8")
        try:
            load_settings(Path(tmp))
        except ConfigError as exc:
            assert "\n" not in str(exc) and "digest.toml" in str(exc)


@settings(max_examples=300)
@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.=!/%", max_size=120))
def test_token_parsing_only_token_errors(token):
    try:
        verify_token(b"secret", token)
    except TokenError:
        pass
    else:
        raise AssertionError(f"forged token accepted: {token!r}")


@FAST
@given(st.binary(min_size=1, max_size=300), st.sampled_from([
    ["collect", "--json"], ["build"], ["subscribers", "check"], ["subscribers", "import", "--list", "x"],
]))
def test_cli_on_fuzzed_files_is_one_line(data, command):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("fuzz.csv" if command[0] == "subscribers" else "fuzz.txt")
        path.write_bytes(data)
        result = CliRunner().invoke(main, ["-C", tmp, *command[:2], str(path), *command[2:]])
        assert "Traceback" not in result.output + result.stderr
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), repr(result.exception)
        if result.exit_code == 2:
            lines = [line for line in result.stderr.splitlines() if line.startswith("digest: error:")]
            assert len(lines) == 1, result.stderr


def test_digest_error_is_always_one_line():
    error = DigestError("line one\nline two\r\nBcc: x", path="a\nb.txt", line=3)
    assert "\n" not in str(error) and "\r" not in str(error)
