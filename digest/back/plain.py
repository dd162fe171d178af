"""Bounces that are no RFC 3464 report: the human-readable notices mail systems write in their own shapes.

Every mail system words its notice differently, but they share a shape: an
opening paragraph, the failed recipients each with the server's reply near
it (after it for sendmail, qmail, Exim, OpenSMTPD, ezweb, X3; before it for
Lotus Notes' "User not listed in public Name & Address Book"), and then a
copy of the original after a marker line. So the notice is cut at the first
marker of the copy (each MTA's own: "----- Unsent message follows -----",
"------- Returned Message --------", "--- Below this line is a copy", …),
the recipients are the addresses left in it (not ours, not the mail
system's, not the original's sender), and the words around each decide why.
Some systems (Amazon WorkMail, some gateways) put RFC 3464 fields into the
plain text: those are read as fields first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from digest.back.mime import Headers

__all__ = ["notice_text", "plain_failures", "embedded_fields", "is_warning", "inline_copy"]

_MAX_TEXT = 32 * 1024
_MAX_RECIPIENTS = 1000
# The line that starts the copy of the original, per mail system.
_COPY = re.compile(
    r"^[ \t>]*(?:"
    r"-+\s*(?:the\s+)?(?:original|unsent|returned|undelivered)\s+(?:message|mail)"  # sendmail, Notes, Domino
    r"|-+\s*(?:below\s+this\s+line\s+is\s+a\s+copy|this\s+is\s+a\s+copy\s+of)"  # qmail, Exim
    r"|-+\s*(?:original\s+message\s+(?:header|follows)|message\s+headers?\s+follow|header\s+of\s+the\s+original)"
    r"|original\s+message\s+(?:headers|follows)|\*+\s*original\s+message"
    r"|the\s+(?:original\s+message|headers?\s+of\s+the\s+original)\s+(?:follows?|(?:is|are|was|were)\s+attached)"
    r"|received:\s+from\s|content-type:\s*message/rfc822|return-path:\s*<"
    r")", re.IGNORECASE | re.MULTILINE)
_AT = re.compile("@")
_MAX_AT = 2000  # "@" signs looked at in one notice
_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_SYSTEM = re.compile(r"^(?:mailer-daemon|postmaster|mail\.delivery\.system|mdaemon|noreply|no-reply|bounce[sd]?)$",
                     re.IGNORECASE)
_FIELD = re.compile(r"^(Final-Recipient|Original-Recipient|Action|Status|Diagnostic-Code|Remote-MTA)\s*:\s*(.*)$",
                    re.IGNORECASE | re.MULTILINE)
_WARNING = re.compile(
    r"\bthis\s+is\s+(?:only\s+)?a\s+warning|\bwarning:\s+message\s+\S+\s+delayed|\bwill\s+(?:continue\s+to\s+)?"
    r"(?:retry|try)\b|\bstill\s+(?:be\s+)?(?:trying|retrying)|\bno\s+action\s+is\s+required|\bhas\s+been\s+delayed"
    r"|\bdelivery\s+delayed|\bdelayed\s+mail", re.IGNORECASE)
_PERMANENT = re.compile(r"(?<!\d)5\d\d(?!\d)|\bpermanent", re.IGNORECASE)


def notice_text(text: str) -> str:
    """The notice without the copy of the original that follows it."""
    text = text[:_MAX_TEXT]
    match = _COPY.search(text)
    return text[:match.start()] if match else text


def inline_copy(text: str) -> str:
    """The header block of the original a single-part notice quotes after its marker line ("" if none)."""
    text = text[:_MAX_TEXT]
    match = _COPY.search(text)
    if match is None:
        return ""
    rest = text[match.end():].partition("\n")[2] if not match.group(0).lower().startswith(("received", "return")) \
        else text[match.start():]
    rest = rest.lstrip("\r\n")
    return re.split(r"\r?\n[ \t]*\r?\n", rest, maxsplit=1)[0]


def is_warning(text: str) -> bool:
    """A notice that only says delivery is delayed (and will be retried), with no permanent failure."""
    return bool(_WARNING.search(text)) and not _PERMANENT.search(text)


def embedded_fields(text: str) -> list[Headers]:
    """RFC 3464 per-recipient fields written into a plain text (joined per Final-Recipient)."""
    blocks: list[list[str]] = []
    for match in _FIELD.finditer(text):
        name = match.group(1).lower()
        if name in ("final-recipient", "original-recipient") and (not blocks or any(
                line.lower().startswith(name) for line in blocks[-1])):
            blocks.append([])
        if not blocks:
            blocks.append([])
        blocks[-1].append(f"{match.group(1)}: {match.group(2).strip()}")
        if len(blocks) > _MAX_RECIPIENTS:
            break
    return [Headers("\n".join(lines)) for lines in blocks if lines]


def _addresses_in(text: str) -> Iterator[tuple[str, int, int]]:
    """(address, start, end) around each "@" — each looked at within an address's bounds (64 before, 255
    after), so a hostile run of letters without one costs linear time, not quadratic."""
    for at in _AT.finditer(text):
        index = at.start()
        local = _LOCAL.search(text, max(0, index - 64), index)
        domain = _DOMAIN.match(text, index + 1, index + 256)
        if local is not None and domain is not None:
            yield text[local.start():domain.end()], local.start(), domain.end()


# Exim's "(generated from carol@…)", Postfix's "(expanded from <carol@…>)": the address a forward or
# alias came from. It did not fail itself: the address before it did (a refusal of another address).
_ORIGIN_OF = re.compile(r"\(\s*(?:generated|expanded)\s+from\s*<?\s*$", re.IGNORECASE)


def _candidates(text: str, exclude: set[str]) -> list[tuple[str, int, int]]:
    """(address, start, end) of each recipient-like address in the notice, each address once."""
    found: dict[str, tuple[str, int, int]] = {}
    for address, start, _ in itertools.islice(_addresses_in(text), _MAX_AT):
        address = address.rstrip(".")
        key = address.lower()
        local = key.partition("@")[0]
        if key in exclude or _SYSTEM.match(local) or key in found:
            continue
        if _ORIGIN_OF.search(text, max(0, start - 40), start):
            continue
        found[key] = (address, start, start + len(address))
        if len(found) >= _MAX_RECIPIENTS:
            break
    return list(found.values())


def _context(text: str, start: int, end: int, next_start: int, previous_end: int = -1) -> str:
    """The server's words about one address: its line, the lines after it up to the next recipient or a
    blank line, and the line before it (Notes and Domino write the reason first) unless that line still
    belongs to the recipient before (no blank line between them: qmail and Exim write the reason after)."""
    line_start = text.rfind("\n", 0, start) + 1
    before_end = line_start - 1
    before_start = text.rfind("\n", 0, max(before_end - 1, 0)) + 1 if before_end > 0 else line_start
    before = text[before_start:max(before_end, before_start)]
    if "@" in before or (previous_end >= 0 and not re.search(r"\n[ \t]*\n", text[previous_end:start])):
        before = ""  # another recipient's words, not about this one
    after_limit = min(next_start if next_start > end else len(text), end + 800)
    after = text[end:after_limit]
    cut = re.search(r"\n[ \t]*\n", after)
    after = after[:cut.start()] if cut and cut.start() > 0 else after
    line_prefix = text[line_start:start]
    return " ".join(f"{before} {line_prefix} {text[start:end]} {after}".split())


def plain_failures(text: str, *, exclude: set[str], wanted: list[str]) -> list[tuple[str, str]]:
    """(address, the server's words about it) for each failed recipient a plain notice names.

    Every address the notice names is a candidate (a stray one — a help desk's address — matches
    no reader of ours and is never applied); `wanted` (the returned original's one recipient) is
    taken when the notice names nobody. `exclude` are addresses that are never recipients (ours,
    the sender's, the notice's own From).
    """
    candidates = _candidates(text, exclude)
    if not candidates and len(wanted) == 1:
        # A notice that names nobody ("Cannot send message for 4 days") is about the one recipient
        # of the original it returns.
        return [(wanted[0], " ".join(text.split())[:2000])]
    result = []
    for address, start, end in candidates:
        following = [c[1] for c in candidates if c[1] > end]
        preceding = [c[2] for c in candidates if c[2] <= start]
        result.append((address, _context(text, start, end, following[0] if following else len(text),
                                          preceding[-1] if preceding else -1)))
    return result
