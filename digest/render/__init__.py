"""Render stage: Issue → inlined HTML + plain text, once per issue, with personal-field markers."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from html import escape as html_escape
from html import unescape as html_unescape
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from digest.core.errors import TemplateError
from digest.core.model import Issue, Rendered
from digest.core.settings import Settings
from digest.render.environment import make_environment, safe_url
from digest.render.mjml_check import check_tags, locate_parse_error
from digest.render.reading import format_date, meta_line, reading_context
from digest.render.tracking import CLICK_READER_FIELD, TrackedLink, add_pixel, rewrite_links

__all__ = [
    "render_issue",
    "render_web_version",
    "fill_markers",
    "compile_mjml",
    "inline_css",
    "PREVIEW_VALUES",
    "template_error",
]

HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"

# What `issue.html` and preview.eml show in place of a real subscriber.
PREVIEW_VALUES = {
    "email": "reader@example.com",
    "name": "Reader",
}


class _Slots:
    """Hands out one marker per personal field the templates use."""

    def __init__(self, marker: str | None = None) -> None:
        if marker is not None and not re.fullmatch(r"dgst[0-9a-f]{12}", marker):
            raise ValueError("a marker is 'dgst' and 12 lower-case hex digits")
        self.marker = marker or "dgst" + secrets.token_hex(6)
        self.fields: list[str] = []

    def slot(self, name: str) -> Markup:
        """The marker for a personal field, registering the field on first use."""
        if name not in self.fields:
            self.fields.append(name)
        # Markup: autoescape leaves the marker as it is; the value is escaped when filled.
        # Markup is safe here: the marker is our own random ASCII word, never content.
        return Markup(f"{self.marker}f{self.fields.index(name)}z")  # nosec B704

    def safe_url(self, value: object) -> object:
        """`| safe_url` that also holds for personal fields, whose values are only known at send time.

        A link made with any personal field, wherever it stands (`{{ subscriber.attrs.site | safe_url }}`,
        `{{ (subscriber.attrs.a ~ subscriber.attrs.b) | safe_url }}`), becomes one marker of its own,
        `url:<the link with its field markers>`: the whole link is put together and checked when the
        fields are filled in, and anything but http, https or mailto is left out then. Checking only the
        first field, or the scheme written here, would let `"" ~ "javascript:…"` through.
        """
        text = str(value or "").strip()
        found = [self.fields[int(m.group(1))] for m in re.finditer(re.escape(self.marker) + r"f(\d+)z", text)]
        if not found:
            if not safe_url(text):
                return ""
            return value if isinstance(value, Markup) else text
        if found in (["unsubscribe_url"], ["manage_url"]) and text.startswith(self.marker):
            return value  # ours, always an https URL, with the template's own text after it
        # The link as written, before escaping: the whole link's value is escaped once when filled in.
        raw = html_unescape(text) if isinstance(value, Markup) else text
        return self.slot(f"url:{raw}")


class _Attrs:
    """`subscriber.attrs.KEY` in a template: a marker for any attribute name."""

    def __init__(self, slots: _Slots) -> None:
        self._slots = slots

    def __getattr__(self, key: str) -> Markup:
        if key.startswith("_"):
            raise AttributeError(key)
        return self._slots.slot(f"attrs.{key}")

    def __getitem__(self, key: str) -> Markup:
        return self.__getattr__(str(key))


class _Subscriber:
    """`subscriber` in a template: markers filled per recipient at send time."""

    def __init__(self, slots: _Slots) -> None:
        self.email = slots.slot("email")
        self.name = slots.slot("name")
        self.attrs = _Attrs(slots)


def template_error(exc: Exception) -> TemplateError:
    """Turn a Jinja error into one line naming the template file and line."""
    name, line = getattr(exc, "filename", None) or getattr(exc, "name", None), getattr(exc, "lineno", None)
    if not line:
        # Runtime errors carry the template frame in their traceback.
        tb = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.endswith(".j2"):
                name, line = filename, tb.tb_lineno
            tb = tb.tb_next
    message = getattr(exc, "message", None) or str(exc)
    return TemplateError(f"{type(exc).__name__}: {message}", path=_display_path(name or "template"), line=line)


def _display_path(name: str) -> str:
    """A template path as the editor knows it: relative to the working folder when inside it."""
    path = Path(name)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return name
    return name


def _section_label(breadcrumb: tuple[str, ...]) -> str:
    crumbs = [c for c in breadcrumb if c.casefold() not in ("article", "articles", "home")]
    return crumbs[-1] if crumbs else ""


def _context(issue: Issue, settings: Settings, slots: _Slots, view_url: str, *, web: bool = False) -> dict[str, Any]:
    from digest.render.intro import intro_html, intro_text

    lead = issue.lead
    # The plan's date, else the lead's: the same issue renders the same bytes on any day.
    shown: date | None = issue.date or (lead.published.date() if lead.published else None)
    return {
        "issue": issue,
        "lead": lead,
        "section_label": _section_label(lead.breadcrumb),
        "meta_line": meta_line(lead),
        "issue_date": format_date(shown or datetime.now()),
        "intro_html": intro_html(issue.intro),
        "intro_text": intro_text(issue.intro),
        "newsletter": settings.newsletter,
        "theme": settings.theme,
        "subscriber": _Subscriber(slots),
        "unsubscribe_url": slots.slot("unsubscribe_url"),
        "manage_url": slots.slot("manage_url"),
        "view_url": view_url,
        "archive_url": f"{settings.newsletter.base_url.rstrip('/')}/archive/",
        "year": (shown or datetime.now()).year,
        "tracking": settings.tracking,  # the footer's privacy note says what is counted
        # excerpt, top_news, web, continue_url, continue_at, full_articles:
        **reading_context(issue, view_url, web=web),
    }


def _render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise template_error(exc) from None


def compile_mjml(source: str, name: str, *, template_dirs: Sequence[Path] = ()) -> str:
    """Compile MJML to HTML with mjml-python; errors name the template file and line."""
    import mjml

    check_tags(source, template_dirs=template_dirs, name=name)
    try:
        return str(mjml.mjml2html(source))
    except ValueError as exc:
        raise locate_parse_error(source, str(exc), template_dirs=template_dirs, name=name) from None


_PREVIEW_DIV = re.compile(r'(<div style="display:none;font-size:1px;)color:#ffffff;')


def _fix_preview_contrast(html: str, color: str) -> str:
    """mj-preview's hidden div is white text; on a light background SpamAssassin scores that
    as hidden low-contrast text (HTML_FONT_LOW_CONTRAST). It stays hidden in the theme's text colour."""
    return _PREVIEW_DIV.sub(lambda m: f"{m.group(1)}color:{color};", html, count=1)


def inline_css(html: str) -> str:
    """Inline CSS with premailer, keeping media queries, !important, MSO comments and the doctype."""
    from premailer import Premailer

    # premailer keeps the doctype only when it reads it in upper case.
    html = re.sub(r"^<!doctype html>", "<!DOCTYPE html>", html, flags=re.IGNORECASE)
    inliner = Premailer(
        html=html,
        allow_network=False,
        allow_loading_external_files=False,
        strip_important=False,  # media queries and dark mode need their !important
        keep_style_tags=False,
        remove_classes=False,  # dark-mode rules select by class
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    )
    return str(inliner.transform())


def template_dirs(overrides: Path | None) -> list[Path]:
    """Where templates are looked up, workspace first, for error locations."""
    from digest.render.environment import BUILTIN_TEMPLATES

    return [p for p in (overrides, BUILTIN_TEMPLATES) if p is not None]


def render_issue(issue: Issue, settings: Settings, *, templates: Path | None = None,
                 marker: str | None = None, secret: bytes | None = None) -> Rendered:
    """Render the issue once: MJML template → HTML → CSS inlined; and the text part.

    `marker` makes the output reproducible; it must be unguessable by whoever
    wrote the content (see `Rendered`), e.g. an HMAC of the issue under a secret.
    With `[tracking] clicks = true` the HTML part's article links are signed with `secret`
    and rewritten here, once for every reader (digest.render.tracking).
    """
    env = make_environment(templates)
    slots = _Slots(marker)
    env.filters["safe_url"] = slots.safe_url  # this render's markers are checked when filled in
    view_url = f"{settings.newsletter.base_url.rstrip('/')}/archive/{issue.number}"
    context = _context(issue, settings, slots, view_url)
    mjml_source = _render_template(env, HTML_TEMPLATE, context)
    html = compile_mjml(mjml_source, HTML_TEMPLATE, template_dirs=template_dirs(templates))
    html = inline_css(_fix_preview_contrast(html, settings.theme.text_color))
    links: tuple[TrackedLink, ...] = ()
    if settings.tracking.clicks and secret is not None:
        html, links = _track(html, issue, settings, context, slots, secret)
    if settings.tracking.opens and secret is not None:
        reader = str(slots.slot(CLICK_READER_FIELD)) if settings.tracking.per_reader else ""
        html = add_pixel(html, secret=secret, issue=issue.number, base_url=settings.newsletter.base_url,
                         reader_slot=reader)
    text = _render_template(env, TEXT_TEMPLATE, context)
    text = "\n".join(_cut(line.rstrip()) for line in text.strip().split("\n")) + "\n"
    return Rendered(
        number=issue.number,
        subject=issue.subject,
        preheader=issue.preheader,
        html=html,
        text=text,
        marker=slots.marker,
        fields=tuple(slots.fields),
        view_url=view_url,
        links=links,
    )


def _track(html: str, issue: Issue, settings: Settings, context: dict[str, Any], slots: _Slots,
           secret: bytes) -> tuple[str, tuple[TrackedLink, ...]]:
    """The article links (lead, "Continue reading", Top News) rewritten to signed click links."""
    lead = issue.lead
    pairs = [(lead.url, lead.title), (str(context["continue_url"]), lead.title)]
    pairs += [(item.url, item.title) for item in context["top_news"]]
    reader = str(slots.slot(CLICK_READER_FIELD)) if settings.tracking.per_reader else ""
    return rewrite_links(html, secret=secret, issue=issue.number, base_url=settings.newsletter.base_url,
                         links=pairs, reader_slot=reader,
                         never=(context["view_url"], context["archive_url"], settings.newsletter.base_url))


def render_web_version(issue: Issue, settings: Settings, *, templates: Path | None = None) -> str:
    """The issue's web version: not personalised, the lead and the Top News articles in full.

    The same template as the email, with `web` true; a page is no email, so its CSS stays in a
    <style> element (no inlining) and nobody's name, address or unsubscribe link is in it.
    """
    env = make_environment(templates)
    slots = _Slots()
    env.filters["safe_url"] = slots.safe_url  # a personal field in a link: left out (nobody's values here)
    base = settings.newsletter.base_url.rstrip("/")
    context = _context(issue, settings, slots, f"{base}/archive/{issue.number}", web=True)
    source = _render_template(env, HTML_TEMPLATE, context)
    page = compile_mjml(source, HTML_TEMPLATE, template_dirs=template_dirs(templates))
    values = [html_escape(base, quote=True) if field in ("unsubscribe_url", "manage_url") else ""
              for field in slots.fields]
    return fill_markers(page, slots.marker, values)


MAX_TEXT_LINE = 998  # RFC 5322 2.1.1: no line of a message is longer; none of ours is read that long


def _cut(line: str) -> str:
    """An absurd line of the text part (an unbroken blob in a source) cut short, never sent whole."""
    return line if len(line) <= MAX_TEXT_LINE else line[: MAX_TEXT_LINE - 1] + "…"


def fill_markers(text: str, marker: str, values: list[str]) -> str:
    """Replace every marker by its (already escaped) value: for previews, not the send path."""
    return re.sub(re.escape(marker) + r"f(\d+)z", lambda m: values[int(m.group(1))], text)
