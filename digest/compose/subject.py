"""The Subject header, folded the way mail clients write it.

The standard library folds an unstructured header by moving all of it to a continuation line
when it does not fit after the name ("Subject:" alone, then the text), which some clients show
and some tools flag. Here the first line always carries the first words:

* plain ASCII is folded at spaces, each line at most MAX_LINE characters (a single word longer
  than that stays whole; RFC 5322 allows 998);
* other text becomes RFC 2047 encoded-words (Q for mostly Latin text, B for the rest), each at
  most 75 characters, broken after a space where there is one and never inside a character, the
  first one on the Subject line.
"""

from __future__ import annotations

import base64

__all__ = ["fold_subject", "MAX_LINE"]

MAX_LINE = 78  # RFC 5322 2.1.1: SHOULD be no more than 78 characters
_NAME = "Subject:"
_MAX_WORD = 75  # RFC 2047 2: an encoded-word is at most 75 characters
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def _q(char: str) -> str:
    return "".join(
        "_" if b == 0x20 else chr(b) if b in _Q_SAFE else f"={b:02X}" for b in char.encode("utf-8")
    )


def _encoded_words(text: str) -> list[str]:
    """Encode text as encoded-words; the first fits after "Subject: ", each later one after a space."""
    latin = sum(1 for c in text if c.isascii()) * 3 >= len(text) * 2
    prefix, suffix = ("=?utf-8?q?", "?=") if latin else ("=?utf-8?b?", "?=")
    rooms = [min(_MAX_WORD, MAX_LINE - len(_NAME) - 1), min(_MAX_WORD, MAX_LINE - 1)]
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


def fold_subject(subject: str) -> bytes:
    """The Subject header line(s) with CRLF: first words on the first line, folded at a space."""
    text = " ".join(subject.split())
    # "=?" in plain text could be read as an encoded-word by a decoder: encode such a subject too.
    plain = text.isascii() and text.isprintable() and "=?" not in text
    lines = _plain_words(text) if plain else _encoded_words(text)
    return (f"{_NAME} " + "\r\n ".join(lines) + "\r\n").encode("ascii")
