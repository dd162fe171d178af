"""The registry of source formats: one place that says which parser reads a file, a folder's files or a fetched body.

A format is one module that registers itself (its name, the kind of source it
is, how to sniff it, its suffixes and content types, its parse function); its
module is named in BUILTIN. Files, folders and fetched bodies all ask the
registry, and so do the `Accept` headers the fetcher sends:

    register(Format(name="jsonfeed", kind="feed", order=15, sniff=looks_like_json_feed,
                    parse=parse_json_feed, suffixes=(".json",), content_types=("application/feed+json",),
                    accept=("application/feed+json",)))

`kind` is what a [[sources]] entry calls it ("feed": entries with links, which
`full_text` follows; "page": one article); formats are tried in `order`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from digest.core.errors import SourceError
from digest.core.model import Article

__all__ = ["Format", "register", "formats", "for_file", "for_body", "for_kind", "suffixes", "accept_header",
           "WarningSink"]

WarningSink = Callable[[str], None]
Parse = Callable[..., list[Article]]  # (text, *, path, warn, base) -> articles

#: The modules of the built-in formats: importing one registers it. A new format is one line here.
BUILTIN = ("digest.collect.feed", "digest.collect.htmlpage", "digest.collect.pagedump")


@dataclass(frozen=True, slots=True)
class Format:
    """One source format."""

    name: str
    kind: str  # "feed" | "page"
    order: int  # formats are tried lowest first
    sniff: Callable[[str], bool]  # does the decoded text look like this format?
    parse: Parse  # (text, *, path, warn, base) -> articles; raises SourceError naming path (and line)
    suffixes: tuple[str, ...] = ()  # a file with one of these is read as this format
    weak_suffixes: tuple[str, ...] = ()  # … unless another format's sniff or suffix claims it first
    content_types: tuple[str, ...] = ()  # media types of a fetched body in this format; none: files only
    accept: tuple[str, ...] = ()  # media ranges (with q) asked for when fetching a source of this kind
    fallback_accept: str = ""  # the range offered when a source of another kind is fetched
    fallback: bool = False  # a file nothing else claims is read as this format


_REGISTRY: dict[str, Format] = {}
_loaded = False


def register(fmt: Format) -> Format:
    """Add (or replace) a format; returns it, so a module can keep its own."""
    _REGISTRY[fmt.name] = fmt
    return fmt


def formats() -> list[Format]:
    """Every registered format, in the order they are tried."""
    global _loaded
    if not _loaded:
        for module in BUILTIN:
            importlib.import_module(module)
        _loaded = True
    return sorted(_REGISTRY.values(), key=lambda f: (f.order, f.name))


def suffixes() -> set[str]:
    """The file suffixes a folder's files are read for."""
    return {s for f in formats() for s in (*f.suffixes, *f.weak_suffixes)}


def for_file(text: str, suffix: str) -> Format:
    """The format of a file: sniffed or claimed by suffix, then weakly by suffix, then the fallback."""
    known = formats()
    for fmt in known:
        if fmt.sniff(text) or suffix in fmt.suffixes:
            return fmt
    for fmt in known:
        if suffix in fmt.weak_suffixes:
            return fmt
    return next(f for f in known if f.fallback)


def for_body(text: str, content_type: str) -> Format:
    """The format of a fetched body: sniffed from its start, then by its Content-Type."""
    web = [f for f in formats() if f.content_types]
    for fmt in web:
        if fmt.sniff(text):
            return fmt
    media = content_type.split(";")[0].strip().lower()
    for fmt in web:
        if media in fmt.content_types:
            return fmt
    raise SourceError(f"neither a feed nor an HTML page (Content-Type {media or 'missing'})")


def for_kind(kind: str, text: str = "", content_type: str = "") -> Format:
    """The web format of a [[sources]] kind ("feed" or "page"): of several formats of that kind (RSS/Atom,
    JSON Feed …) the one the body's start or Content-Type says, else the first."""
    mine = [f for f in formats() if f.kind == kind and f.content_types]
    media = content_type.split(";")[0].strip().lower()
    for fmt in mine:
        if text and fmt.sniff(text):
            return fmt
    return next((f for f in mine if media in f.content_types), mine[0])


def accept_header(kind: str) -> str:
    """The Accept header for fetching a source of this kind: its formats first, then the others' fallbacks."""
    known = formats()
    ranges = [r for f in known if f.kind == kind for r in f.accept]
    ranges += [f.fallback_accept for f in known if f.kind != kind and f.fallback_accept]
    return ", ".join([*ranges, "*/*;q=0.5"])
