"""Collect stage: turn source files and folders into Article records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digest.collect.feed import looks_like_feed, parse_feed
from digest.collect.htmlpage import looks_like_html, parse_html
from digest.collect.pagedump import looks_like_page, parse_page
from digest.collect.textio import decode, read_bytes
from digest.core.errors import SourceError
from digest.core.model import Article

__all__ = ["Collection", "collect", "read_source", "expand_sources"]

SUPPORTED_SUFFIXES = {".txt", ".html", ".htm", ".xml", ".rss", ".atom", ".feed"}


@dataclass
class Collection:
    """What a collect run found: articles, warnings, per-file errors, skipped files."""

    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def expand_sources(sources: Iterable[Path], skipped: list[str]) -> Iterator[Path]:
    """Yield files: folders expand to their supported files, sorted by name."""
    for source in sources:
        if source.is_dir():
            for child in sorted(source.iterdir(), key=lambda p: p.name):
                if child.name.startswith("."):
                    continue
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
                else:
                    skipped.append(str(child))
        else:
            yield source


def read_source(
    path: Path, *, encoding: str | None = None, warnings: list[str] | None = None
) -> list[Article]:
    """Read one file of any supported kind, detected by suffix and content."""
    name = str(path)
    data = read_bytes(path)
    if not data.strip():
        raise SourceError("empty file, no article in it", path=name)
    decoded = decode(data, path=name, encoding=encoding)
    if decoded.guessed and warnings is not None:
        warnings.append(f"{name}: not UTF-8, decoded as {decoded.encoding}")
    text = decoded.text
    suffix = path.suffix.lower()
    warn = warnings.append if warnings is not None else None
    if looks_like_feed(text) or suffix in {".rss", ".atom", ".feed"}:
        return parse_feed(text, path=name, warn=warn)
    if looks_like_html(text) or suffix in {".html", ".htm"}:
        return [parse_html(text, path=name, warn=warn)]
    if suffix == ".xml":
        return parse_feed(text, path=name, warn=warn)
    if warn is not None and not looks_like_page(text):
        # Say what a page dump looks like: the label names alone meant nothing to a new user.
        warn(f"{name}: not a feed or HTML, and no 'Position: …' or 'Source: name | date' line as a page dump "
             "has; read as plain text anyway: first line the title, each other line a paragraph "
             "(the format: docs/sources.md, Page dumps)")
    return [parse_page(text, path=name, warn=warn)]


def collect(
    sources: Iterable[Path], *, encoding: str | None = None, strict: bool = False
) -> Collection:
    """Collect every source; a bad file is recorded (or raised when strict) and the rest go on."""
    result = Collection()
    for path in expand_sources(sources, result.skipped):
        try:
            result.articles.extend(read_source(path, encoding=encoding, warnings=result.warnings))
        except SourceError as exc:
            if strict:
                raise
            result.errors.append(exc)
    return result
