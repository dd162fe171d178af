"""The Subject and List-Id headers, folded the way mail clients write them.

The standard library folds an unstructured header by moving all of it to a continuation line
when it does not fit after the name ("Subject:" alone, then the text), which some clients show
and some tools flag. Here the first line always carries the first words:

* plain ASCII is folded at spaces, each line at most MAX_LINE characters (a single word longer
  than that stays whole; RFC 5322 allows 998);
* other text becomes RFC 2047 encoded-words (Q for mostly Latin text, B for the rest), each at
  most 75 characters, broken after a space where there is one and never inside a character, the
  first one on the Subject line.

Bidirectional overrides and isolates and C1 controls are left out of a Subject: in a page title
they would make the inbox line read differently from what it holds (U+202E), or act on a terminal.

List-Id (RFC 2919) is built here too rather than by the standard library, which encodes the
whole value — `<id>` included — once it is long or not ASCII, and can leave a quote inside an
encoded-word. Here the phrase is an atom phrase, a quoted-string, or RFC 2047 encoded-words that
replace the whole phrase (RFC 2047 5(3): never inside quotes); the `<id>` is always literal;
lines are folded at whitespace only, the id on a line of its own when it does not fit.
"""

from __future__ import annotations

import base64
import re

__all__ = ["fold_subject", "list_id_field", "MAX_LINE"]

MAX_LINE = 78  # RFC 5322 2.1.1: SHOULD be no more than 78 characters
_NAME = "Subject:"
_MAX_WORD = 75  # RFC 2047 2: an encoded-word is at most 75 characters
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def _q(char: str) -> str:
    return "".join(
        "_" if b == 0x20 else chr(b) if b in _Q_SAFE else f"={b:02X}" for b in char.encode("utf-8")
    )


def _encoded_words(text: str, name: str = _NAME) -> list[str]:
    """Encode text as encoded-words; the first fits after "Subject: " (`name`), each later one after a space.

    Q keeps only letters, digits and ! * + - / as they are: the set RFC 2047 5(3) allows in a phrase,
    so the same words serve a Subject and a List-Id phrase.
    """
    latin = sum(1 for c in text if c.isascii()) * 3 >= len(text) * 2
    prefix, suffix = ("=?utf-8?q?", "?=") if latin else ("=?utf-8?b?", "?=")
    rooms = [min(_MAX_WORD, MAX_LINE - len(name) - 1), min(_MAX_WORD, MAX_LINE - 1)]
    words: list[str] = []
    chunk: list[str] = []

    def encoded(chars: list[str]) -> str:
        data = "".join(chars)
        body = "".join(_q(c) for c in data) if latin else base64.b64encode(data.encode("utf-8")).decode("ascii")
        return prefix + body + suffix

    for char in text:
        room = rooms[min(len(words), 1)]
        if chunk and len(encoded([*chunk, char])) > room:
            # Break after the chunk's last space when it has one, so each word ends whole.
            cut = max((i + 1 for i, c in enumerate(chunk) if c == " " and i > 0), default=len(chunk))
            words.append(encoded(chunk[:cut]))
            chunk = chunk[cut:]
        chunk.append(char)
    if chunk:
        words.append(encoded(chunk))
    return words


def _plain_words(text: str) -> list[str]:
    """Lines of whole words: the first fits after "Subject: ", each later one after a space."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        room = MAX_LINE - len(_NAME) - 1 if not lines else MAX_LINE - 1
        if line and len(line) + 1 + len(word) > room:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return lines


_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def fold_subject(subject: str) -> bytes:
    """The Subject header line(s) with CRLF: first words on the first line, folded at a space."""
    text = " ".join(_INVISIBLE.sub(" ", subject).split())
    # "=?" in plain text could be read as an encoded-word by a decoder: encode such a subject too.
    plain = text.isascii() and text.isprintable() and "=?" not in text
    lines = _plain_words(text) if plain else _encoded_words(text)
    return (f"{_NAME} " + "\r\n ".join(lines) + "\r\n").encode("ascii")


_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+( [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LIST_ID = "List-Id:"


def list_id_field(name: str, list_id: str) -> bytes:
    """The List-Id header line(s) with CRLF: `phrase <list_id>` (RFC 2919), folded at whitespace only.

    `list_id` must already be an RFC 2919 id (dot-atom text, at most 255 characters).
    """
    text = " ".join(_INVISIBLE.sub(" ", name).split())
    if not text:
        words: list[str] = []
    elif text.isascii() and text.isprintable() and "=?" not in text and max(map(len, text.split())) <= 60:
        phrase = text if _ATOM_PHRASE.fullmatch(text) else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words = phrase.split(" ")  # inside a quoted-string a fold is FWS too (RFC 5322 3.2.4)
    else:
        # Adjacent encoded-words are decoded as one text (RFC 2047 6.2): spaces stay inside them.
        words = _encoded_words(text, _LIST_ID)
    lines: list[str] = []
    line = _LIST_ID
    for word in [*words, f"<{list_id}>"]:
        if line != _LIST_ID and len(line) + 1 + len(word) > MAX_LINE:
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
