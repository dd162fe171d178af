"""Say where an MJML problem is: unknown tags and parse errors, traced to the template file and line.

mjml-python reports a failed compile without a position and passes unknown tags
silently (a typo like <mj-txt> just vanishes). Content is escaped, so every tag
in the rendered MJML comes from a template: the offending line can be found there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from digest.core.errors import TemplateError

__all__ = ["KNOWN_TAGS", "check_tags", "locate_parse_error"]

# MJML 4 core components (https://documentation.mjml.io).
KNOWN_TAGS = frozenset("""
mjml mj-head mj-body mj-attributes mj-all mj-class mj-breakpoint mj-font mj-html-attributes
mj-html-attribute mj-selector mj-preview mj-style mj-title mj-accordion mj-accordion-element
mj-accordion-title mj-accordion-text mj-button mj-carousel mj-carousel-image mj-column mj-divider
mj-group mj-hero mj-image mj-navbar mj-navbar-link mj-raw mj-section mj-social mj-social-element
mj-spacer mj-table mj-text mj-wrapper mj-include
""".split())

_EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
_TAG = re.compile(r"<(mj(?:ml|-[a-z-]+))\b")
_VOID = re.compile(r"<(area|base|br|col|embed|hr|img|input|link|meta|source|track|wbr)\b([^>]*?)/?>", re.I)


def _find(needle: str, template_dirs: Iterable[Path]) -> tuple[str, int] | None:
    """The first template line that renders to `needle`: its literal text equal, its {{ … }} anything."""
    needle = needle.strip()
    for folder in template_dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.mjml.j2")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                parts = _EXPRESSION.split(line.strip())
                if len(parts) == 1:
                    if needle and needle == line.strip():
                        return str(path), number
                elif "".join(parts).strip() and re.fullmatch(".*?".join(map(re.escape, parts)), needle):
                    return str(path), number
    return None


def _error(message: str, needle: str, rendered_line: int, template_dirs: Iterable[Path], name: str) -> TemplateError:
    found = _find(needle, template_dirs)
    if found:
        return TemplateError(message, path=found[0], line=found[1])
    return TemplateError(f"{message} (line {rendered_line} of the rendered MJML)", path=name)


def check_tags(source: str, *, template_dirs: Iterable[Path], name: str) -> None:
    """Raise TemplateError for the first tag that is not an MJML component."""
    for number, line in enumerate(source.splitlines(), start=1):
        for tag in _TAG.findall(line):
            if tag not in KNOWN_TAGS:
                raise _error(f"MJML: unknown tag <{tag}>", line, number, template_dirs, name)


def locate_parse_error(source: str, reason: str, *, template_dirs: Iterable[Path], name: str) -> TemplateError:
    """Turn mjml-python's position-less error into one naming the template file and line."""
    from lxml import etree

    # Entities MJML accepts but XML does not would hide the real error.
    xml = re.sub(r"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)", "&amp;", source)
    # HTML void elements (in mj-raw, mj-text) are not closed; XML needs them to be.
    xml = _VOID.sub(lambda m: f"<{m.group(1)}{m.group(2)}/>", xml)
    try:
        etree.fromstring(xml.encode("utf-8"), etree.XMLParser(recover=False, resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        # A mismatch names the line where the unclosed tag opened: that is where to look.
        opened = re.search(r"Opening and ending tag mismatch: [\w-]+ line (\d+)", str(exc.msg))
        number = int(opened.group(1)) if opened else exc.lineno or 1
        lines = source.splitlines()
        text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
        detail = str(exc.msg).split(", line")[0]
        return _error(f"MJML: {reason} ({detail})", text, number, template_dirs, name)
    return TemplateError(f"MJML: {reason}", path=name)
