"""Lines a site puts around every article that are not the article: calls to action and promos.

Each rule drops a whole line only when every sentence in it is such a call, and only in the words
sites use for it; a sentence that merely mentions a letter, a newsletter or a print edition stays:

* letters-page calls: "Submit your letter to the editor via this form.", "Read more Letters to the
  Editor.", "Send us a letter";
* "read more" rows: "Read more", "Read more: <another headline>", "READ MORE", "Lesen Sie auch: …",
  "See also: …", "Related: …" of at most 15 words;
* newsletter sign-ups: "Sign up for our newsletter", "Subscribe to the … newsletter", "Get our
  newsletter …", "Newsletter abonnieren", "Melden Sie sich für unseren Newsletter an";
* promo trailers for a print edition: "Den kompletten Beitrag lesen Sie in der neuen Juli-Ausgabe …",
  "Read the full story in our print edition", "This article appears in the July issue of …";
* an editor's initials at the very end of the last line: "… (grh)", "(dpa/sm)" — the initials go,
  the sentence stays.

`strip_image_junk` removes what a feed summary keeps of its images once the tags are gone: image
URLs, resize parameters and "enlarge" labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["is_promo", "drop_promos", "strip_initials", "strip_image_junk"]

_SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=\S)")
_MAX_PROMO_WORDS = 40  # a call to action is short; a longer line is an article's paragraph
_MAX_ROW_WORDS = 15

_CALLS = [
    # Letters pages.
    r"(?:submit|send|e-?mail|write)\s+(?:us\s+)?(?:your|a)\s+letters?\b.*",
    r"read\s+more\s+letters(?:\s+to\s+the\s+editor)?\W*",
    r"(?:letters|leserbriefe)\s+(?:to\s+the\s+editor\s+)?(?:can|may|should)\s+be\s+(?:sent|submitted|e-?mailed)\b.*",
    # Newsletter sign-ups.
    r"(?:sign\s+up|subscribe|register)\s+(?:now\s+)?(?:for|to)\s+(?:our|the|this|a)\b.{0,60}\bnewsletters?\b.*",
    r"(?:get|receive)\s+(?:our|the)\b.{0,40}\bnewsletters?\b.{0,60}",
    r"newsletter\s+(?:abonnieren|bestellen)\W*.*",
    r"(?:melden\s+sie\s+sich|abonnieren\s+sie)\b.{0,40}\bnewsletter\b.*",
    # Print-edition trailers.
    r"(?:den|die|das)\s+(?:kompletten?|ganzen?|vollständigen?)\s+(?:beitrag|artikel|text|reportage|interview)\s+"
    r"lesen\s+sie\s+in\b.*",
    r"(?:mehr|alles)\s+(?:dazu|darüber)\s+lesen\s+sie\s+in\s+der\s+(?:neuen|aktuellen)\b.*ausgabe\b.*",
    r"(?:read|find)\s+(?:the\s+)?(?:full|complete|whole)\s+(?:story|article|interview|feature)\s+in\s+"
    r"(?:the|our)\s+(?:print|latest|new|current|[a-z]+)\s+(?:edition|issue|magazine)\b.*",
    r"this\s+(?:article|story)\s+(?:appears|appeared|was\s+published)\s+in\s+the\s+.{0,60}\b(?:edition|issue)\s+of\b.*",
]
_ROWS = r"(?:read\s+more|more\s+from\s+[\w ]+|see\s+also|related|lesen\s+sie\s+(?:auch|mehr)|mehr\s+zum\s+thema)"
_CALL = re.compile(rf"^(?:{'|'.join(_CALLS)})$", re.IGNORECASE | re.DOTALL)
# A row's link text follows a colon or an arrow, never a dash: "Related - and unrelated - issues …" is prose.
_ROW = re.compile(rf"^{_ROWS}(?:\s*(?:[:»›→…]|\.\.\.)\s*.*|[\s.!»›→…]*)$", re.IGNORECASE | re.DOTALL)
# Editors' initials in brackets, after the last sentence: "(grh)", "(dpa/sm)", "(ak, dpa)".
_INITIALS = re.compile(r"(?<=[.!?…\"”’])\s*\((?:[a-zäöüß]{2,4}|dpa|afp|apa|kna|epd)(?:\s*[/,]\s*[a-zäöüß]{2,4})*\)\s*$")


def _sentences(line: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(line.strip()) if s.strip()]


def is_promo(line: str) -> bool:
    """True when every sentence of a short line is a call to action, a "read more" row or a promo."""
    words = len(line.split())
    if not words or words > _MAX_PROMO_WORDS:
        return False
    if words <= _MAX_ROW_WORDS and _ROW.match(line.strip()):
        return True
    sentences = _sentences(line)
    # "Read more Letters to the Editor." after a call is part of the call; alone it is a row.
    return all(_CALL.match(s) or (len(s.split()) <= _MAX_ROW_WORDS and _ROW.match(s)) for s in sentences) and any(
        _CALL.match(s) for s in sentences)


def strip_initials(line: str) -> str:
    """The line without an editor's initials in brackets at its very end ("… Juli-Ausgabe. (grh)")."""
    return _INITIALS.sub("", line).rstrip() or line


def drop_promos(lines: Sequence[str]) -> list[int]:
    """The indices of `lines` that are promos (see `is_promo`); the caller keeps at least one line."""
    return [n for n, line in enumerate(lines) if is_promo(strip_initials(line))]


# Bounded: a hostile summary of one long run of "http://http://…" must not take quadratic time.
_IMAGE_URL = re.compile(r"https?://[^\s/]{1,255}/\S{0,500}?\.(?:jpe?g|png|gif|webp|avif)(?:[?#]\S{0,500})?(?=\s|$)",
                        re.IGNORECASE)
_RESIZE = re.compile(
    r"(?:\?|&amp;|&)(?:resize|fit|w|h|width|height|quality|crop)=[\w%,.:-]+|"
    r"\b(?:click\s+to\s+enlarge|enlarge\s+(?:this\s+)?image|expand\s+image|toggle\s+caption|"
    r"bild\s+vergrößern|zum\s+vergrößern\s+klicken)\b",
    re.IGNORECASE,
)


def strip_image_junk(text: str) -> str:
    """A feed summary without image URLs, resize parameters and "enlarge" labels; spaces folded."""
    cleaned = _RESIZE.sub(" ", _IMAGE_URL.sub(" ", text))
    return re.sub(r"\s{2,}", " ", cleaned).strip(" |,;") or text.strip()
