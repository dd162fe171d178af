"""Extraction on real pages: digest's article text against a careful extractor's and trafilatura's.

Usage: `python bench/extract.py CORPUS_DIR` where CORPUS_DIR holds one folder per page with
`source.html`, `expected.html` (the text a careful extractor keeps: Mozilla Readability's test
pages) and `expected-metadata.json` (title, byline, lang).

For every page it runs digest's extraction (`digest.collect.htmlpage.parse_html`) and trafilatura's
own plain-text extraction with the same settings, and prints:

* recall: the share of the expected words (a multiset of lower-cased word tokens) that a tool keeps;
  pages under half of the expected words are named;
* precision: the share of the words digest keeps that are in the expected text (what is not is
  boilerplate or text the careful extractor left out);
* title right: digest's title equals the expected one, or the expected one without what stands
  before or after one of its `|`, `-`, `–`, `·` (Readability keeps a site's name, digest drops it);
  any title is right for a page that declares none;
* byline right: both empty, or every name in digest's byline is in the expected one
  ("By Jane Doe" holds "Jane Doe"); a byline digest adds where none is expected is wrong;
* lang right: digest's lang is the expected one (its primary subtag), or empty (never a wrong one);
  a page with no expected lang (Readability reads only `<html lang>`) cannot be wrong;
* time per page, digest and trafilatura.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _sample import Row, machine  # noqa: E402

from digest.collect.htmlpage import parse_html  # noqa: E402
from digest.core.errors import SourceError  # noqa: E402

_WORD = re.compile(r"\w+")
_TITLE_SPLIT = re.compile(r"\s+[-–—·•]\s+|\s*[|｜]\s*|\s+::\s+")
GOAL_RECALL = 0.95


def words(text: str) -> Counter[str]:
    """Word tokens, case-folded and NFKC-normalised, counted."""
    return Counter(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def overlap(a: Counter[str], b: Counter[str]) -> int:
    """How many tokens two multisets share."""
    return sum((a & b).values())


def html_text(markup: str) -> str:
    """The text of an HTML fragment, blocks separated by spaces."""
    import lxml.html

    if not markup.strip():
        return ""
    root = lxml.html.fromstring(markup)
    for element in root.iter():
        if isinstance(element.tag, str):
            element.tail = f" {element.tail or ''}"
    return " ".join(root.itertext())


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def title_right(ours: str, expected: str) -> bool:
    """Equal, or the expected title with a part after or before a separator that digest dropped
    ("Friday Facts #282 - 0.17 in sight | Factorio"); any title when the page declares none."""
    if not _key(expected):
        return True
    if _key(ours) == _key(expected):
        return True
    spans = [m.span() for m in _TITLE_SPLIT.finditer(expected)]
    heads = {_key(expected[:start]) for start, _ in spans}
    tails = {_key(expected[end:]) for _, end in spans}
    return bool(_key(ours)) and _key(ours) in heads | tails


def byline_right(ours: str, expected: str | None) -> bool:
    """Both empty, or ours is the expected byline or a part of it."""
    if not expected or not _key(expected):
        return not ours
    names = [n for n in re.split(r",|;|\band\b", ours) if _key(n)]
    return bool(names) and all(_key(n) in _key(expected) for n in names)


def lang_right(ours: str, expected: str | None) -> bool:
    """Ours is empty or the expected language (primary subtag); unknown when none is expected."""
    if not ours or not expected:
        return True
    return bool(expected) and ours.split("-")[0].lower() == str(expected).split("-")[0].lower()


@dataclass
class Page:
    """One page's figures."""

    name: str
    expected: int
    ours_recall: float
    trafilatura_recall: float
    precision: float
    title: bool
    byline: bool
    lang: bool
    lang_set: bool
    error: str = ""


@dataclass
class Totals:
    """All pages, and the time each tool took."""

    pages: list[Page] = field(default_factory=list)
    ours_seconds: float = 0.0
    trafilatura_seconds: float = 0.0


def _trafilatura_text(source: str) -> str:
    import trafilatura

    return trafilatura.extract(source, include_comments=False, include_tables=True, favor_precision=True) or ""


def measure_page(folder: Path, totals: Totals) -> Page:
    """Extract one page both ways and compare with the expected text and metadata."""
    source = (folder / "source.html").read_text(encoding="utf-8", errors="replace")
    expected = words(html_text((folder / "expected.html").read_text(encoding="utf-8", errors="replace")))
    meta = json.loads((folder / "expected-metadata.json").read_text(encoding="utf-8"))
    total = sum(expected.values()) or 1
    start = time.perf_counter()
    try:
        article = parse_html(source, path=folder.name, warn=lambda _message: None)
    except SourceError as exc:
        article, error = None, exc.message
    totals.ours_seconds += time.perf_counter() - start
    start = time.perf_counter()
    theirs = words(_trafilatura_text(source))
    totals.trafilatura_seconds += time.perf_counter() - start
    traf_recall = overlap(expected, theirs) / total
    if article is None:
        return Page(folder.name, total, 0.0, traf_recall, 0.0, False, False, True, False, error)
    kept = words(" ".join((article.caption, *article.paragraphs)))
    shared = overlap(expected, kept)
    return Page(
        name=folder.name,
        expected=total,
        ours_recall=shared / total,
        trafilatura_recall=traf_recall,
        precision=shared / (sum(kept.values()) or 1),
        title=title_right(article.title, meta.get("title") or ""),
        byline=byline_right(article.author, meta.get("byline")),
        lang=lang_right(getattr(article, "lang", ""), meta.get("lang")),
        lang_set=bool(getattr(article, "lang", "")),
    )


def run(corpus: Path, *, verbose: bool = True) -> Totals:
    """Measure every page folder of the corpus."""
    totals = Totals()
    for folder in sorted(p for p in corpus.iterdir() if (p / "source.html").is_file()):
        totals.pages.append(measure_page(folder, totals))
    if verbose:
        report(totals)
    return totals


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def report(totals: Totals) -> None:
    """Print the figures, the pages under half of the expected words and the wrong titles/bylines."""
    pages = totals.pages
    n = len(pages)
    ours = [p.ours_recall for p in pages]
    theirs = [p.trafilatura_recall for p in pages]
    low = [p for p in pages if p.ours_recall < 0.5]
    low_theirs = sum(r < 0.5 for r in theirs)
    print(f"pages: {n}")
    print(f"pages under 50 % of expected words: digest {len(low)}, trafilatura {low_theirs}")
    for p in low:
        why = f" ({p.error})" if p.error else ""
        print(f"  {p.name}: digest {p.ours_recall:.0%}, trafilatura {p.trafilatura_recall:.0%}{why}")
    print(f"recall of expected words, median: digest {statistics.median(ours):.1%}, "
          f"trafilatura {statistics.median(theirs):.1%} (goal ≥ {GOAL_RECALL:.0%})")
    print(f"recall of expected words, mean:   digest {statistics.fmean(ours):.1%}, "
          f"trafilatura {statistics.fmean(theirs):.1%}")
    precision = [p.precision for p in pages]
    print(f"precision (digest's words that are in expected), median: "
          f"{statistics.median(precision):.1%}, mean {statistics.fmean(precision):.1%}")
    print(f"titles right: {_pct(sum(p.title for p in pages), n)}; "
          f"wrong: {', '.join(p.name for p in pages if not p.title) or 'none'}")
    print(f"bylines right: {_pct(sum(p.byline for p in pages), n)}; "
          f"wrong: {', '.join(p.name for p in pages if not p.byline) or 'none'}")
    print(f"lang set on {sum(p.lang_set for p in pages)} pages, never wrong: "
          f"{_pct(sum(p.lang for p in pages), n)}; wrong: {', '.join(p.name for p in pages if not p.lang) or 'none'}")
    print(f"time per page: digest {1000 * totals.ours_seconds / n:.1f} ms, "
          f"trafilatura {1000 * totals.trafilatura_seconds / n:.1f} ms")


def measure(corpus: Path | None = None) -> list[Row]:
    """Rows for bench/report.py: median recall and time per page, digest against trafilatura."""
    if corpus is None or not corpus.is_dir():
        print(f"  extract: skipped, no corpus at {corpus}" if corpus else "  extract: skipped, no corpus given")
        return []
    totals = run(corpus)
    n = len(totals.pages) or 1
    return [
        Row(f"extraction, median recall of expected words ({n} pages, vs trafilatura)",
            100 * statistics.median(p.ours_recall for p in totals.pages),
            100 * statistics.median(p.trafilatura_recall for p in totals.pages), "%"),
        Row("extraction, time per page (vs trafilatura's extract)", 1000 * totals.ours_seconds / n,
            1000 * totals.trafilatura_seconds / n, "ms", higher_is_better=False),
    ]


def main() -> None:
    """`python bench/extract.py CORPUS_DIR`."""
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("usage: python bench/extract.py CORPUS_DIR (a folder of page folders with source.html)")
    print(f"machine: {machine()}")
    run(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
