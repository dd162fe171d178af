"""Where a key stands in a TOML file: tomllib gives values, not positions, and a message should name the line.

A small scanner, not a parser: it follows table headers (`[theme]`, `[[sources]]`) and finds
`key =` (bare or quoted) under them. Multi-line strings are stepped over, so a line inside one
is never taken for a key. Good enough to point at a line; never used to read a value.
"""

from __future__ import annotations

import re
from typing import Any

from digest.core.errors import ConfigError

__all__ = ["KeyLines", "suggestion", "toml_type", "type_words", "with_line"]

_HEADER = re.compile(r"""^\s*\[\[?\s*([A-Za-z0-9_."' -]+?)\s*\]\]?\s*(#.*)?$""")
_KEY = re.compile(r"""^\s*("([^"\\]*)"|'([^']*)'|[A-Za-z0-9_-]+)\s*=""")


class KeyLines:
    """Line numbers (1-based) of the keys of each table in a TOML text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, str], int] = {}
        self._tables: dict[str, int] = {}
        table = ""
        in_string = ""
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string:
                if line.count(in_string) % 2 == 1:
                    in_string = ""
                continue
            header = _HEADER.match(line)
            if header:
                table = header.group(1).replace('"', "").replace("'", "").strip()
                self._tables.setdefault(table, number)
                if line.lstrip().startswith("[["):  # an array of tables: entry n is "name#n"
                    counts[table] = counts.get(table, 0) + 1
                    table = f"{table}#{counts[table]}"
                    self._tables[table] = number
                continue
            key = _KEY.match(line)
            if key:
                name = key.group(2) if key.group(2) is not None else key.group(3) or key.group(1)
                self._lines.setdefault((table, name), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_string = quote
                    break

    def key(self, table: str, key: str) -> int | None:
        """The line of `key` in `[table]` (its first occurrence), else the table's header line, else None."""
        return self._lines.get((table, key)) or self._tables.get(table)


_TYPE_WORDS = {"str": "a string (in quotes)", "int": "a whole number", "float": "a number",
               "tuple[str, ...]": "a list of strings",
               "bool": "true or false"}
_TOML_TYPES = ((bool, "true/false"), (int, "a whole number"), (float, "a decimal number"), (str, "a string"),
               (list, "a list"), (dict, "a table"))


def type_words(annotation: str) -> str:
    """A field's type in words: "a whole number", "a string (in quotes)" …"""
    return _TYPE_WORDS.get(annotation, annotation)


def toml_type(value: Any) -> str:
    """What kind of TOML value this is, in words."""
    return next((word for kind, word in _TOML_TYPES if isinstance(value, kind)), "a date or time")


def suggestion(given: str, names: list[str], *, what: str = "keys") -> str:
    """"; did you mean 'brand_color'? valid keys: …" to follow an "unknown key" message."""
    import difflib

    close = difflib.get_close_matches(given.lower(), names, n=1, cutoff=0.6)
    shown = (f"[{close[0]}]" if what == "sections" else repr(close[0])) if close else ""
    meant = f"; did you mean {shown}?" if close else ";"
    return f"{meant} valid {what}: {', '.join(names)}"


# "[theme] width must …", "[[sources]] #2 kind must …", "unknown key 'x' in [theme]": the table and key a message is
# about (an entry of an array of tables is "name#n").
_ABOUT = (re.compile(r"^\[\[?(\w+)\]\]?(?: #(\d+))? '?(\w+)\b"),
          re.compile(r"^unknown key '([^']+)' in \[\[?(\w+)\]\]?(?: #(\d+))?"),
          re.compile(r"^unknown section \[(\w+)\]"))


def with_line(exc: ConfigError, text: str) -> ConfigError:
    """The same error with the line of the key (or table) it is about, found in the file's text."""
    if exc.line is not None:
        return exc
    head, unknown, section = (m.match(exc.message) for m in _ABOUT)
    lines = KeyLines(text)
    if head:
        table = head.group(1) + (f"#{head.group(2)}" if head.group(2) else "")
        line = lines.key(table, head.group(3))
    elif unknown:
        table = unknown.group(2) + (f"#{unknown.group(3)}" if unknown.group(3) else "")
        line = lines.key(table, unknown.group(1))
    else:
        line = lines.key(section.group(1), "") if section else None
    if line is None:
        return exc
    return type(exc)(exc.message, path=exc.path, line=line)
