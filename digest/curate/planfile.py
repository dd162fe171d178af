"""The plan file `issues/<n>/plan.toml`: read with every mistake located to its line, written for editing.

tomllib reports the line of a syntax error only; for a value of the wrong
type, an unknown key or a lead that is not there, `KeyLines` finds the line
of the key (or of the table header) by scanning the text itself.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from digest.core.errors import PlanError
from digest.curate.plan import IssuePlan, PlanEntry, PlanLead

__all__ = ["PLAN_NAME", "MAX_PLAN_BYTES", "KeyLines", "read_plan", "parse_plan", "plan_text"]

PLAN_NAME = "plan.toml"
MAX_PLAN_BYTES = 1024 * 1024
MAX_INTRO_CHARS = 10_000
MAX_SUBJECT_CHARS = 250

_TOP: dict[str, type] = {"subject": str, "preheader": str, "date": date, "intro": str, "lead": dict, "top": list,
                         "known": dict}
_LEAD: dict[str, type] = {"source": str, "title": str, "url": str, "headline": str, "words": int, "excerpt": str}
_ENTRY: dict[str, type] = {"source": str, "title": str, "summary": str, "url": str}
_KNOWN: dict[str, type] = {"articles": list}
_KIND: dict[type, str] = {str: "a string", int: "a whole number", date: "a date like 2026-12-04", dict: "a table",
         list: "an array"}

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_\-.\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-.]+)\s*=\s*(.*)$""")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Shown escaped in the plan: line breaks an editor would not see, and bidirectional
# overrides that would make a title read differently from what it holds.
_ESCAPED = {"\u2028", "\u2029", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


class KeyLines:
    """Where each key and table header of a TOML text is: (table, index, key) → line."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, int, str], int] = {}
        table, index = "", 0
        counts: dict[str, int] = {}
        closing: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if closing is not None:
                if _closes(line, closing):
                    closing = None
                continue
            header = _HEADER.match(line)
            if header:
                table = header.group(2).strip().strip("\"'")
                index = counts.get(table, 0) if header.group(1) == "[[" else 0
                counts[table] = index + 1 if header.group(1) == "[[" else counts.get(table, 0)
                self.lines.setdefault((table, index, ""), number)
                continue
            key = _KEY.match(line)
            if key:
                name = key.group(1).strip("\"'")
                self.lines.setdefault((table, index, name), number)
                value = key.group(2).lstrip()
                for quote in ('"""', "'''"):
                    if value.startswith(quote) and not _closes(value[3:], quote):
                        closing = quote

    def line(self, table: str = "", index: int = 0, key: str = "") -> int | None:
        """The line of a key in a table (index: which [[array]] entry), else of the table's header."""
        return (self.lines.get((table, index, key)) or self.lines.get((table, index, ""))
                or self.lines.get(("", 0, table))  # an inline table: the line of its key
                or self.lines.get((key, 0, "")) or None)  # a key written as a [table] header


def _closes(text: str, quote: str) -> bool:
    position = text.find(quote)
    while position > 0 and quote == '"""' and _escaped(text, position):
        position = text.find(quote, position + 1)
    return position >= 0


def _escaped(text: str, position: int) -> bool:
    backslashes = len(text[:position]) - len(text[:position].rstrip("\\"))
    return backslashes % 2 == 1


def read_plan(path: Path) -> IssuePlan:
    """Read and check a plan file; any mistake is one PlanError naming the file and line."""
    name = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise PlanError(f"cannot read the plan: {exc.strerror or exc}", path=name) from None
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(f"the plan is larger than {MAX_PLAN_BYTES // 1024} KB", path=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise PlanError("not UTF-8 text", path=name, line=line) from None
    return parse_plan(text, path=name)


def parse_plan(text: str, *, path: str) -> IssuePlan:
    """Parse and check a plan's text (a plan about to be written too: what read_plan refuses, this does)."""
    if len(text.encode("utf-8")) > MAX_PLAN_BYTES:
        raise PlanError(f"the plan is larger than {MAX_PLAN_BYTES // 1024} KB", path=path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line.*\)", "", str(exc)) or "not valid TOML"
        raise PlanError(f"{message} (TOML)", path=path, line=int(match.group(1)) if match else None) from None
    except RecursionError:  # tomllib recurses per nested array or table: `x = [[[[…]]]]`
        raise PlanError("values nested too deeply (TOML)", path=path) from None
    return _Checker(text, path).plan(raw)


class _Checker:
    """Turns parsed TOML into an IssuePlan, each mistake located."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = KeyLines(text)
        self.path = path

    def fail(self, message: str, table: str = "", index: int = 0, key: str = "") -> PlanError:
        return PlanError(message, path=self.path, line=self.lines.line(table, index, key))

    def values(self, raw: dict[str, Any], known: dict[str, type], where: str, table: str = "",
               index: int = 0) -> dict[str, Any]:
        for key, value in raw.items():
            if key not in known:
                raise self.fail(f"unknown key {key!r} in {where} (known keys: {', '.join(known)})", table, index, key)
            wanted = known[key]
            ok = type(value) is wanted if wanted is date else isinstance(value, wanted)
            if not ok or isinstance(value, bool):
                raise self.fail(f"{where} {key} must be {_KIND[wanted]}", table, index, key)
        return raw

    def text(self, raw: dict[str, Any], key: str, where: str, table: str = "", index: int = 0, *,
             required: bool = False, one_line: bool = True, limit: int = 2000) -> str:
        value = str(raw.get(key, ""))
        if one_line:
            value = " ".join(_CONTROL.sub(" ", value).replace("\n", " ").split())
        else:
            value = _CONTROL.sub("", value.replace("\r\n", "\n"))
        if required and not value.strip():
            raise self.fail(f"{where} {key} must not be empty", table, index, key)
        if len(value) > limit:
            raise self.fail(f"{where} {key} is longer than {limit} characters", table, index, key)
        return value

    def source(self, raw: dict[str, Any], where: str, table: str, index: int = 0) -> str:
        """A source file's name exactly as written: a file name may hold any character but NUL (and the
        plan writes control characters as \\u escapes), so nothing is folded, trimmed or replaced."""
        value = str(raw.get("source", ""))
        if "\x00" in value or len(value) > 4096:  # PATH_MAX: no file has such a name
            raise self.fail(f"{where} source is not a file name", table, index, "source")
        return value

    def url(self, raw: dict[str, Any], where: str, table: str, index: int = 0) -> str:
        value = str(raw.get("url", "")).strip()
        if value and (not re.match(r"^(https?|mailto):", value, re.IGNORECASE) or re.search(r"\s", value)):
            raise self.fail(f"{where} url must be an http(s) or mailto: address without spaces, not {value[:60]!r}",
                            table, index, "url")
        return value

    def plan(self, raw: dict[str, Any]) -> IssuePlan:
        self.values(raw, _TOP, "the plan")
        if "lead" not in raw:
            raise self.fail("the plan has no [lead] table")
        lead_raw = self.values(raw["lead"], _LEAD, "[lead]", "lead")
        words = int(lead_raw.get("words", 120))
        if not 20 <= words <= 2000:
            raise self.fail("[lead] words must be between 20 and 2000", "lead", 0, "words")
        if not any(str(lead_raw.get(k, "")).strip() for k in ("title", "url")):
            raise self.fail("[lead] needs the title (or url) of the article that leads", "lead")
        excerpt = self.text(lead_raw, "excerpt", "[lead]", "lead", one_line=False, limit=MAX_INTRO_CHARS)
        lead = PlanLead(
            title=self.text(lead_raw, "title", "[lead]", "lead"),
            url=self.url(lead_raw, "[lead]", "lead"),
            source=self.source(lead_raw, "[lead]", "lead"),
            headline=self.text(lead_raw, "headline", "[lead]", "lead"),
            words=words,
            excerpt=tuple(p for p in (" ".join(part.split()) for part in re.split(r"\n\s*\n", excerpt)) if p),
            line=self.lines.line("lead") or 0,
        )
        entries = []
        for index, entry in enumerate(raw.get("top", [])):
            where = f"[[top]] entry {index + 1}"
            if not isinstance(entry, dict):
                raise self.fail("top must be written as [[top]] tables", key="top")
            self.values(entry, _ENTRY, where, "top", index)
            entries.append(PlanEntry(
                title=self.text(entry, "title", where, "top", index, required=True),
                summary=self.text(entry, "summary", where, "top", index, limit=MAX_INTRO_CHARS),
                url=self.url(entry, where, "top", index),
                source=self.source(entry, where, "top", index),
                line=self.lines.line("top", index) or 0,
            ))
        known: list[str] = []
        if "known" in raw:
            for item in self.values(raw["known"], _KNOWN, "[known]", "known").get("articles", []):
                if not isinstance(item, str):
                    raise self.fail("[known] articles must be an array of strings", "known", 0, "articles")
                known.append(item)
        return IssuePlan(
            subject=self.text(raw, "subject", "the plan", limit=MAX_SUBJECT_CHARS),
            preheader=self.text(raw, "preheader", "the plan", limit=500),
            intro=self.text(raw, "intro", "the plan", one_line=False, limit=MAX_INTRO_CHARS).strip(),
            date=raw.get("date"),
            lead=lead,
            top=tuple(entries),
            known=tuple(known),
            path=self.path,
        )


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F or char in _ESCAPED:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def plan_text(plan: IssuePlan, *, number: int, newsletter: str, shown: IssuePlan | None = None) -> str:
    """The plan as the file `digest build` writes once, with the comments an editor needs.

    `subject`, `preheader` and `date` are overrides: a value in `plan` is written as set; otherwise the
    value they would have now (from `shown`) is written commented out, and they follow the lead.
    """
    shown = shown or plan
    lines = [
        f"# The plan of issue {number} of {' '.join(newsletter.split())}. `digest build` wrote it from the",
        "# curation rules and never overwrites it: edit it, then run `digest build` again.",
        "#",
        "#   * reorder or delete [[top]] entries; change their titles, summaries and URLs",
        "#   * swap the lead: name another article in [lead] (its source and its title or URL);",
        "#     headline = \"…\" shows it under another title, excerpt = \"\"\"…\"\"\" replaces its text",
        "#   * write an intro in Markdown: paragraphs, *emphasis*, **strong**, [links](https://…)",
        "#   * subject, preheader and date follow the lead and the day the issue is made; to fix one,",
        "#     remove the # in front of it and edit it",
        "#",
        "# Delete this file to start again from the rules.",
        "",
    ]
    for key, value, written in (("subject", plan.subject, shown.subject),
                                ("preheader", plan.preheader, shown.preheader)):
        lines.append(f"{key} = {toml_string(value)}" if value else f"# {key} = {toml_string(written)}")
    if plan.date is not None:
        lines.append(f"date = {plan.date.isoformat()}")
    elif shown.date is not None:
        lines.append(f"# date = {shown.date.isoformat()}")
    intro = plan.intro.replace("\\", "\\\\").replace('"""', '""\\"')
    lines += ['intro = """', *intro.splitlines(), '"""', "", "[lead]",
              f"source = {toml_string(plan.lead.source)}",
              f"title = {toml_string(plan.lead.title)}",
              f"url = {toml_string(plan.lead.url)}",
              f"words = {plan.lead.words}"]
    for entry in plan.top:
        lines += ["", "[[top]]",
                  f"source = {toml_string(entry.source)}",
                  f"title = {toml_string(entry.title)}",
                  f"summary = {toml_string(entry.summary)}",
                  f"url = {toml_string(entry.url)}"]
    lines += ["", "# Every article the sources held when this plan was made (a hash of its URL or title).",
              "# `digest build` lists any article that is neither here nor above as new. No need to edit this.",
              "[known]", "articles = ["]
    lines += [f"  {toml_string(item)}," for item in plan.known]
    lines += ["]", ""]
    return "\n".join(lines)

