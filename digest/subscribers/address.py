"""Checking one address: a fast path for plain ASCII addresses, email-validator for everything else.

email-validator costs about 100 µs an address; a million-row list would take
minutes. Most addresses are plain ASCII dot-atoms at ordinary domains, and
for those the verdict and the normalised form are simple: the local part as
written, the domain in lower case. `fast_address` accepts only addresses it
is sure email-validator accepts with that same result (a Hypothesis test
checks the two agree); anything else, including every invalid address, goes
to email-validator, so the verdicts and the error messages are its own.
"""

from __future__ import annotations

import re

__all__ = ["MAX_EMAIL", "fast_address", "check_address"]

MAX_EMAIL = 254  # RFC 5321 4.5.3.1.3 path limit, less the angle brackets
_FAST_MAX = 200  # well inside every length limit email-validator applies

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST = re.compile(
    rf"(?P<local>{_ATEXT}{{1,64}}(?:\.{_ATEXT}{{1,64}})*)"
    rf"@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})"
)
# email-validator refuses these as special-use (RFC 6761 and friends), as the domain or a suffix.
_SPECIAL = frozenset(("arpa", "invalid", "local", "localhost", "onion", "test"))


def fast_address(raw: str) -> str | None:
    """The normalised address when it is a plain one email-validator surely accepts, else None."""
    if len(raw) > _FAST_MAX:
        return None
    match = _FAST.fullmatch(raw)
    if match is None:
        return None
    local, domain = match.group("local"), match.group("domain").lower()
    if len(local) > 64:
        return None
    # IDNA rules (A-labels, hyphens in the 3rd and 4th place) are email-validator's business.
    if "--" in domain and any(label[2:4] == "--" for label in domain.split(".")):
        return None
    # Every special-use name is one label, so "ends with .local" means "the last label is local".
    if domain.rpartition(".")[2] in _SPECIAL:
        return None
    return f"{local}@{domain}"


def check_address(raw: str, *, check_dns: bool = False) -> str:
    """Return the normalised address, or raise ValueError saying what is wrong with it."""
    if not raw:
        raise ValueError("empty email")
    if len(raw) > MAX_EMAIL:
        raise ValueError("email longer than 254 characters")
    if not check_dns:
        fast = fast_address(raw)
        if fast is not None:
            return fast
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(raw, check_deliverability=check_dns, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {raw!r}: {exc}") from None
    # Punycode the domain where the local part allows it: no SMTPUTF8 needed then.
    return str(result.ascii_email or result.normalized)
