"""Collect stage: turn source files and folders into Article records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digest.collect import formats
from digest.collect.textio import decode, read_bytes
from digest.core.errors import SourceError
from digest.core.model import Article

__all__ = ["Collection", "collect", "read_source", "expand_sources"]


@dataclass
class Collection:
    """What a collect run found: articles, warnings, per-file errors, skipped files."""

    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def expand_sources(sources: Iterable[Path], skipped: list[str]) -> Iterator[Path]:
    """Yield files: folders expand to the files a registered format reads, sorted by name."""
    known = formats.suffixes()
    for source in sources:
        if source.is_dir():
            for child in sorted(source.iterdir(), key=lambda p: p.name):
                if child.name.startswith("."):
                    continue
                if child.is_file() and child.suffix.lower() in known:
                    yield child
                else:
                    skipped.append(str(child))
        else:
            yield source


def read_source(
    path: Path, *, encoding: str | None = None, warnings: list[str] | None = None
) -> list[Article]:
    """Read one file of any registered format, detected by content and suffix (digest.collect.formats)."""
    name = str(path)
    data = read_bytes(path)
    if not data.strip():
        raise SourceError("empty file, no article in it", path=name)
    decoded = decode(data, path=name, encoding=encoding)
    if decoded.guessed and warnings is not None:
        warnings.append(f"{name}: not UTF-8, decoded as {decoded.encoding}")
    warn = warnings.append if warnings is not None else None
    fmt = formats.for_file(decoded.text, path.suffix.lower())
    return fmt.parse(decoded.text, path=name, warn=warn, base="")


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
