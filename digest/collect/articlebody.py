"""The article's blocks from trafilatura's XML tree: paragraphs, subheadings and list items, in order.

trafilatura's `bare_extraction` gives the body as an XML tree of its own vocabulary: `p`, `head`
(a subheading), `list`/`item`, `quote`, `code`, `table`/`row`/`cell`, `graphic` (an image), `lb`
(a line break) and inline `hi`/`ref`/`del`. Paragraphs sit at any depth (inside a `div` the
extractor kept, a `quote`, an `item`), and loose text may sit directly in a container. Every block
is kept wherever it is: its own text and its inline children's become one line; a block nested in
it (a list inside a paragraph) is a block of its own, and the text after it goes on as a new one.
Two line breaks in a row end a paragraph (pages that write paragraphs as `text<br><br>text`), and
so does one before a line that starts like a list item (`+ Added …<br>+ Fixed …`).

`plain_words` counts the words of trafilatura's own plain-text output of the same tree, so the
loss check compares like with like without extracting the page twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from digest.collect.textio import clean_line

__all__ = ["Block", "Body", "body_blocks", "count_words", "plain_words"]

# Elements that start a block of their own; the rest are inline and join their parent's line.
_BLOCK_KINDS = {"p": "p", "head": "head", "item": "item", "quote": "p", "code": "p", "row": "p"}
_IMAGE_MARKDOWN = re.compile(r"!\[[^\]\n]*\]\([^)\s]*\)")
_MARKER = re.compile(r"\s*(?:[-+*•–—]|\d{1,2}[.)])\s+\S")
_CONTAINERS = {"body", "div", "list", "table", "article", "main", "section", "span", "doc", "text"}


@dataclass(frozen=True, slots=True)
class Block:
    """One line of the article: a paragraph ("p"), a subheading ("head") or a list item ("item")."""

    kind: str
    text: str


@dataclass
class Body:
    """The blocks in reading order and the images' elements (`graphic`) in the order they appear."""

    blocks: list[Block] = field(default_factory=list)
    graphics: list[Any] = field(default_factory=list)


def count_words(text: str) -> int:
    """Words as digest counts them everywhere: runs between spaces that hold a letter or digit."""
    return sum(1 for word in text.split() if any(ch.isalnum() for ch in word))


class _Walker:
    """Walks the tree once, filling `body`; `pieces` is the text of the block being written."""

    def __init__(self) -> None:
        self.body = Body()
        self.pieces: list[str] = []
        self.breaks = 0  # line breaks in a row since the last text

    def flush(self, kind: str) -> None:
        line = clean_line("".join(self.pieces))
        self.pieces.clear()
        self.breaks = 0
        if line:
            self.body.blocks.append(Block(kind, line))

    def text(self, value: str | None, kind: str = "p") -> None:
        if value:
            # After a line break, a line that starts like a list item ("+ Added …") is one.
            if self.breaks and _MARKER.match(value):
                self.flush(kind)
            self.pieces.append(value)
            if value.strip():
                self.breaks = 0

    def walk(self, element: Any, kind: str) -> None:
        """Write `element`'s own text into the current block of `kind`, its nested blocks as their own."""
        self.text(element.text, kind)
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "graphic":
                self.body.graphics.append(child)
            elif tag == "lb":
                self.breaks += 1
                if self.breaks >= 2:
                    self.flush(kind)
                else:
                    self.pieces.append(" ")
            elif tag in _BLOCK_KINDS or tag in _CONTAINERS or tag == "list":
                self.flush(kind)
                inner = _BLOCK_KINDS.get(tag, "p")
                self.walk(child, inner)
                self.flush(inner)
            elif tag == "cell":
                if self.pieces:
                    self.pieces.append(" · ")  # a table row is one line, its cells apart
                self.walk(child, kind)
            elif tag:
                self.walk(child, kind)  # inline (hi, ref, del, …): its text joins this line
            self.text(child.tail, kind)


def body_blocks(root: Any) -> Body:
    """Every paragraph, subheading and list item under `root`, with the images met on the way."""
    walker = _Walker()
    walker.walk(root, "p")
    walker.flush("p")
    return walker.body


def _itertext_blocks(root: Any) -> Iterator[str]:
    """Fallback when trafilatura's own serialiser is missing: all text of the tree."""
    yield from root.itertext()


def plain_words(root: Any) -> int:
    """Words in trafilatura's plain-text output of this tree (what `trafilatura.extract` prints).

    Call it after `body_blocks`: trafilatura's serialiser may rewrite parts of the tree (line
    breaks in code), and copying the tree first would cost more than the check is worth.
    """
    try:
        from trafilatura.xml import xmltotxt
    except ImportError:  # an older or newer trafilatura without it: count the tree's text
        return count_words(" ".join(_itertext_blocks(root)))
    # With images on, its text carries each as Markdown ("![alt](src)"): words of no article.
    return count_words(_IMAGE_MARKDOWN.sub(" ", xmltotxt(root, False) or ""))
