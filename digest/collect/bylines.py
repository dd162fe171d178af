"""Bylines are people's names: what a page's author field says, without what is not a person.

trafilatura joins every author it finds with "; " and often finds more than people: the site's
name, a dateline ("SPIEGEL ONLINE; Hamburg; Germany"), a news agency, the same name twice in
capitals ("Jeffrey Gettleman; JEFFREY GETTLEMAN"), a month run into the name ("Joshua Sokol May"),
or a form label ("Username"). `clean_byline` keeps the names and joins them as a reader would
("Jane Doe and John Roe"); with nothing left it gives "" — no byline rather than a wrong one.

No list of cities or countries is needed: a part of the field that is the site's name, an
agency or an organisation ends the names, and what follows it is a dateline.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from digest.collect.boilerplate import site_keys

__all__ = ["clean_byline", "split_authors"]

_SPLIT = re.compile(r"\s*(?:;|\||\n|•|·|/)\s*|\s*,\s*(?=\S+\s+\S)|\s+(?:and|und|et|&)\s+", re.IGNORECASE)
_BY = re.compile(r"^(?:(?:written\s+)?by|von|par|por|door)[:\s]+", re.IGNORECASE)
_MONTHS_DAYS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}
# Words that make a part an organisation or a label, not a person.
_NOT_PERSON_WORDS = {
    "online", "news", "newsroom", "staff", "redaktion", "editorial", "team", "desk", "agency", "agencies",
    "press", "media", "magazine", "admin", "administrator", "username", "user", "author", "authors",
    "guest", "contributor", "contributors", "correspondent", "reporters", "editors", "wire", "wires",
    "afp", "ap", "dpa", "reuters", "apa", "sid", "kna", "epd", "ansa", "efe", "pa", "ians", "pti",
    "作者", "编辑", "記者", "来源",
}
_JOBS = {"editor", "reporter", "writer", "correspondent", "columnist", "photographer", "redakteur", "redakteurin"}
_MAX_NAME_WORDS = 5


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def _is_cjk(text: str) -> bool:
    return any(unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")) for ch in text)


def _name(part: str) -> str:
    """The part without "By", an e-mail address or a trailing month or weekday trafilatura ran in."""
    part = _BY.sub("", re.sub(r"\S+@\S+", "", part).strip(" .,:-–—[]"))
    # "Anna Berg (dpa)", "Anna Berg (ab)": an agency or the writer's initials in brackets after the name.
    tail = re.search(r"\s*\(([^()]{1,30})\)\s*$", part)
    if tail and all(w.casefold() in _NOT_PERSON_WORDS or (w.islower() and len(w) <= 4)
                    for w in re.split(r"[\s/,]+", tail.group(1).strip()) if w):
        part = part[: tail.start()]
    part = part.strip(" .,:-–—()[]")
    words = part.split()
    while len(words) > 2 and words[-1].strip(".,").casefold() in _MONTHS_DAYS:
        words.pop()
    if len(words) > 3 and words[-1].casefold() in _JOBS:
        words = words[:-2]  # "Ben Silverman Games Editor": the desk and the job
    elif len(words) > 2 and words[-1].casefold() in _JOBS:
        words.pop()
    return " ".join(words)


def _is_person(name: str) -> bool:
    """Two to five words, letters only, none of them an organisation's; a CJK name may be one run."""
    words = name.split()
    if not words or len(words) > _MAX_NAME_WORDS or any(ch.isdigit() for ch in name):
        return False
    if any(w.strip(".,'’()").casefold() in _NOT_PERSON_WORDS for w in words):
        return False
    if _is_cjk(name):
        return len(name) <= 12
    bare = [w.strip("()[]'’\".,") for w in words]  # "Bruno (Henrique Zecchin) Rodrigues"
    return len(words) >= 2 and all(w and (w[0].isupper() or w.islower() and len(w) <= 3) for w in bare)


def _join(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def split_authors(author: str) -> list[str]:
    """The parts of an author field, as written ("A; B and C" → ["A", "B", "C"])."""
    return [name for name in (_name(part) for part in _SPLIT.split(author or "")) if name]


def clean_byline(author: str, *, site_names: Sequence[str] = ()) -> str:
    """The people's names in an author field, joined ("A, B and C"); "" when none is a person.

    A part that is the site's name or an organisation ends the list: what follows it is a
    dateline (city, country), never an author.
    """
    keys = site_keys(site_names)
    names: list[str] = []
    seen: set[str] = set()
    for part in _SPLIT.split(author or ""):
        name = _name(part)
        if not name:
            continue
        key = _key(name)
        # A blog named after its author ("Haki Benita"): the site's name is the person's, first.
        own_blog = key in keys and not names and _is_person(name)
        if (key in keys and not own_blog) or any(w.casefold() in _NOT_PERSON_WORDS for w in name.split()):
            break
        if key in seen or not _is_person(name):
            continue
        seen.add(key)
        names.append(name)
    return _join(names)
