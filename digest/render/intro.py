"""The editor's intro: a small Markdown subset (paragraphs, emphasis, links) as safe HTML and as plain text.

markdown-it-py parses with only the paragraph, emphasis, link, line-break and
escape rules enabled and raw HTML off, so `<script>` is text and a
`javascript:` link is not a link. nh3 then keeps only p, em, strong, a and br
(and on links only href, http/https/mailto): a second wall, not the first.
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from typing import TYPE_CHECKING

import nh3
from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

__all__ = ["intro_html", "intro_text", "ALLOWED_TAGS"]

ALLOWED_TAGS = {"p", "em", "strong", "a", "br"}
_SCHEMES = {"http", "https", "mailto"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # "zero" has paragraphs and text only, and html off; enable the rest of the subset.
    return MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False}).enable(
        ["emphasis", "link", "autolink", "newline", "escape"])


def _clean_source(markdown: str) -> str:
    return _CONTROL.sub("", markdown.replace("\r\n", "\n").replace("\r", "\n")).strip()


def intro_html(markdown: str) -> Markup:
    """The intro as sanitised HTML paragraphs; empty when there is no intro."""
    source = _clean_source(markdown)
    if not source:
        return Markup("")
    rendered = _parser().render(source)
    cleaned = nh3.clean(rendered, tags=ALLOWED_TAGS, attributes={"a": {"href"}}, url_schemes=_SCHEMES,
                        link_rel="noopener noreferrer", strip_comments=True)
    # nh3 returns well-formed HTML holding only the allowed tags and attributes.
    return Markup(cleaned.strip())  # nosec B704


def intro_text(markdown: str, *, width: int = 72) -> str:
    """The intro for the text part: paragraphs wrapped, *strong* and _em_ marked, links as `text (url)`."""
    source = _clean_source(markdown)
    if not source:
        return ""
    paragraphs = [_inline(token.children or []) for token in _parser().parse(source) if token.type == "inline"]
    return "\n\n".join(
        "\n".join(textwrap.fill(line, width=width, break_long_words=False, break_on_hyphens=False)
                  for line in paragraph.split("\n"))
        for paragraph in paragraphs if paragraph.strip())


def _inline(tokens: list[Token]) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []
    for token in tokens:
        kind = token.type
        if kind == "text":
            out.append(token.content)
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind in ("strong_open", "strong_close"):
            out.append("*")
        elif kind in ("em_open", "em_close"):
            out.append("_")
        elif kind == "link_open":
            links.append((str(token.attrs.get("href", "")), len(out)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            label = "".join(out[start:])
            if href.split(":", 1)[0].lower() in _SCHEMES and label not in (href, href.removeprefix("mailto:")):
                out.append(f" ({href.removeprefix('mailto:')})")
    return "".join(out).strip()
