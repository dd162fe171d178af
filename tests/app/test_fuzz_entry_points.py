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
from digest.core.errors import ConfigError, DigestError, SourceError, SubscriberError
from digest.core.settings import load_settings
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


# digest.toml: every key of every section, hostile values of every TOML type.

_SECTIONS = {
    "newsletter": ["name", "from", "reply_to", "postal_address", "base_url", "language", "direction", "subject",
                   "list_id", "reason"],
    "theme": ["brand_color", "text_color", "background_color", "dark_background_color", "font_family", "logo_url",
              "width"],
    "smtp": ["host", "port", "security", "username", "timeout", "data_timeout", "local_hostname"],
    "dkim": ["selector", "domain", "private_key_path"],
    "state": ["url"],
}
_hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "", " ", "a@b.c, evil@x.y", "News <news@bücher.example>", "ü@x.y", "{lead_title:>999999999999}",
        "{lead_title!r}", "{lead_title.__class__}", "{newsletter}: {lead_title}", "{", "}", "{{x}}", "x\u2028y",
        "x\x85y", "x\x1b[2Jy", "\u202egnp", "https://новости.example/путь", "https://x.example/?a=1#f",
        'https://x.example/"><script>', "javascript:alert(1)", "bad id <x@y>", "a.example; x=1", "-bad-.example",
        "smtp.example.com", "127.0.0.1", "::1", "[::1]", "localhost", "#fff", "#12345g", "red", "none", "starttls",
        "tls", "postgresql://u:p@h/db", "postgresql://h/db", "weekly.news.example.com", "x" * 300, "日本語",
    ]),
)
_hostile_value = st.one_of(
    _hostile_text,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


def _toml(value: object) -> str:
    import json
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_digest_toml_key_with_hostile_values(data):
    from digest.compose import MessageSkeleton
    from digest.core.model import Article, Rendered, Subscriber
    from digest.curate import CurateOptions, curate

    sections = data.draw(st.lists(st.sampled_from(sorted(_SECTIONS)), unique=True, max_size=5))
    text = ""
    for section in sections:
        keys = data.draw(st.lists(st.sampled_from(_SECTIONS[section]), unique=True, max_size=4))
        text += f"[{section}]\n" + "".join(f"{k} = {_toml(data.draw(_hostile_value))}\n" for k in keys)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "digest.toml").write_text(text, encoding="utf-8")
        try:
            loaded = load_settings(Path(tmp))
        except ConfigError as exc:
            assert "\n" not in str(exc) and "digest.toml" in str(exc)
            return
    # Whatever loads must work downstream: a subject, headers, a message.
    newsletter = loaded.newsletter
    article = Article(kind="page", title="Lead \u2028 title", source="Desk", origin="p.txt",
                      paragraphs=("Body text. More.",))
    issue = curate([article], CurateOptions(newsletter=newsletter.name,
                                            subject_template=newsletter.subject)).issue
    rendered = Rendered(number=1, subject=issue.subject, preheader="p", html="<p>x</p>\n", text="x\n",
                        marker="dgst000000000000", fields=(), view_url=newsletter.base_url + "/archive/1")
    message = MessageSkeleton(rendered, newsletter, secret=b"k" * 32, list_name="My List (2026)").compose(
        Subscriber("ann@example.com", "Ann"))
    head = message.data.split(b"\r\n\r\n")[0]
    assert head.isascii() and all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert head.count(b"\r\nFrom: ") + head.startswith(b"From: ") == 1


# CSV structure: quotes, embedded line breaks, NULs, stray CRs, unclosed quotes, huge fields.

_cell = st.one_of(
    st.sampled_from(["a@example.com", "b@example.org", "Ann", "", "not-an-email", "x\x00y", "x\ry", "x\ny",
                     '"', '""', 'a"b', "\u2028", "HUGE", "é", "用户@例子.广告", ",", ";"]),
    st.text(max_size=8),
)


def _field(value: str, quoted: bool) -> str:
    value = "x" * 70_000 if value == "HUGE" else value
    return '"' + value.replace('"', '""') + '"' if quoted else value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(st.tuples(_cell, st.booleans()), min_size=1, max_size=4),
                          st.sampled_from(["\n", "\r\n", ""])), max_size=12),
       st.sampled_from(["email,name", "email,name,tags", "Email Address,First Name"]),
       st.booleans())
def test_csv_structure_raises_only_subscriber_errors(rows, header, unclosed):
    body = header + "\n" + "".join(",".join(_field(v, q) for v, q in cells) + end for cells, end in rows)
    if unclosed:
        body += 'late@example.com,"never closed\nmore@example.com,x\n'
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.csv"
        path.write_bytes(body.encode("utf-8"))
        lines = body.count("\n") + 1
        problems = []
        try:
            for subscriber in read_list(path, on_problem=problems.append):
                assert "@" in subscriber.email and 2 <= subscriber.line <= lines
                assert not any(c in subscriber.name for c in "\r\n\x00\u2028")
        except SubscriberError as exc:
            assert "\n" not in str(exc) and (exc.line is None or 1 <= exc.line <= lines)
        for problem in problems:
            assert "\n" not in str(problem) and 2 <= problem.line <= lines


# Tokens: any string, and every small change to a real one.

_SECRET = b"k" * 32


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_as_a_token_is_refused(token):
    try:
        verify_token(_SECRET, token)
    except TokenError:
        return
    raise AssertionError(f"accepted {token!r}")


@settings(max_examples=500, deadline=None)
@given(st.emails(), st.text(max_size=20).filter(lambda s: "\x1f" not in s), st.integers(0, 10**6),
       st.lists(st.tuples(st.sampled_from(["insert", "delete", "replace", "pad", "case"]), st.integers(0, 400),
                          st.sampled_from(list(string.ascii_letters + string.digits + "-_=.!~+/ %\x00é"))),
                min_size=1, max_size=3))
def test_every_altered_token_is_refused(email, list_name, issue, edits):
    from digest.compose import sign_token

    token = sign_token(_SECRET, email=email, list_name=list_name, issue=issue)
    assert verify_token(_SECRET, token).email == email
    altered = token
    for kind, at, char in edits:
        at %= len(altered) + 1
        if kind == "insert":
            altered = altered[:at] + char + altered[at:]
        elif kind == "delete" and altered:
            altered = altered[:at] + altered[at + 1:]
        elif kind == "replace" and at < len(altered):
            altered = altered[:at] + char + altered[at + 1:]
        elif kind == "pad":
            altered += "="
        elif kind == "case":
            altered = altered.swapcase()
    if altered == token:
        return
    try:
        verify_token(_SECRET, altered)
    except TokenError:
        return
    raise AssertionError(f"altered token accepted: {token!r} → {altered!r}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_host_headers_parse_or_are_refused(value):
    from digest.web.guard import host_name

    name = host_name(value)
    assert name is None or (name == name.lower() and not any(c in name for c in " /\\@?#[]"))
