"""One registry of source formats: a new format is read from files, folders and fetched bodies alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.collect import collect, formats
from digest.collect.fetched import parse_fetched
from digest.core.model import Article


def _parse_notes(text: str, *, path: str, warn=None, base: str = "") -> list[Article]:
    title, _, body = text.partition("\n")
    return [Article(origin=path, kind="html", title=title.removeprefix("%note ").strip(), paragraphs=(body.strip(),))]


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> formats.Format:
    """A toy format, registered for one test only."""
    fmt = formats.Format(name="notes", kind="page", order=5, sniff=lambda text: text.startswith("%note "),
                         parse=_parse_notes, suffixes=(".note",), content_types=("text/x-note",),
                         accept=("text/x-note;q=0.7",))
    formats.formats()  # the built-in ones first
    monkeypatch.setitem(formats._REGISTRY, "notes", fmt)
    return fmt


def test_a_registered_format_is_read_from_a_folder_and_from_a_fetched_body(tmp_path: Path, notes) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "a.note").write_text("%note Harbour reopens\nShips are back in the bay.\n")
    found = collect([folder])
    assert [a.title for a in found.articles] == ["Harbour reopens"] and not found.skipped
    fetched = parse_fetched(b"Quiet week\nNothing happened.", url="https://example.com/n", content_type="text/x-note")
    assert fetched[0].title == "Quiet week" and fetched[0].url == "https://example.com/n"
    assert "text/x-note;q=0.7" in formats.accept_header("page")


def test_the_built_in_formats_keep_their_accept_headers_and_suffixes() -> None:
    assert formats.accept_header("feed") == ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
                                             "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5")
    assert formats.accept_header("page") == "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
    assert formats.suffixes() == {".txt", ".html", ".htm", ".xml", ".rss", ".atom", ".feed"}
