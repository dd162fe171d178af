"""The checks of digest.toml that span keys: colours, addresses, hosts, time zones, the list loop.

Each failure is one ConfigError naming the file and the key; values that pass
come back in their ASCII form (IDNA host names, addresses).
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.core.errors import ConfigError

if TYPE_CHECKING:
    from digest.core.settings import Settings

__all__ = ["check_settings", "check_subject", "SUBJECT_FIELDS", "DATABASE_URL_SCHEMES"]

_COLOR = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_FONTS = re.compile(r"[\w\s,'\".-]+")
SUBJECT_FIELDS = ("newsletter", "lead_title")
#: The URL schemes of the SQL servers the store speaks (digest.store.open_store): one place to add one.
DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def check_settings(settings: Settings, path: str) -> Settings:
    """Every check across keys; the settings with addresses and hosts in their ASCII form."""
    return _check_list_loop(_check(settings, path), path)


def check_subject(template: str) -> None:
    """Only plain {newsletter} and {lead_title} references: no format spec, conversion or attribute.

    `{lead_title:>999999999999}` would ask for a terabyte; `{lead_title.__class__}` reads attributes.
    """
    import string

    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{exc} (write {{{{ and }}}} for a literal brace)") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in SUBJECT_FIELDS:
            raise ValueError(f"unknown field {shown} (known: {{newsletter}}, {{lead_title}})")
        if spec or conversion:
            raise ValueError(f"{shown}: no format spec or conversion; write {{{name}}} as it is")


def _normalised(settings: Settings, path: str) -> Settings:
    """Addresses, URLs and hosts checked and in their ASCII form; list ids and names checked."""
    from dataclasses import replace

    from digest.core.names import check_host, check_list_id, check_selector, mail_address, web_url

    def check(section: str, key: str, value: str, fix: Any) -> Any:
        try:
            return fix(value)
        except ValueError as exc:
            raise ConfigError(f"[{section}] {key}: {exc}", path=path) from None

    n = settings.newsletter
    newsletter = replace(
        n,
        sender=check("newsletter", "from", n.sender, mail_address),
        reply_to=check("newsletter", "reply_to", n.reply_to, mail_address) if n.reply_to else "",
        base_url=check("newsletter", "base_url", n.base_url, web_url),
    )
    check("newsletter", "subject", n.subject, check_subject)
    if n.list_id:
        check("newsletter", "list_id", n.list_id, check_list_id)
    if not _LANGUAGE.fullmatch(n.language):
        raise ConfigError("[newsletter] language must be a language tag like en or pt-BR", path=path)
    if not n.name.strip():
        raise ConfigError("[newsletter] name must not be empty", path=path)
    if len(n.description) > 500 or re.search(r"[\x00-\x1f\x7f]", n.description):
        raise ConfigError("[newsletter] description must be one paragraph (no line breaks or control "
                          "characters) of at most 500 characters", path=path)
    if not _FONTS.fullmatch(settings.theme.font_family):
        raise ConfigError("[theme] font_family must be a list of font names (letters, spaces, commas, quotes)",
                          path=path)
    smtp = settings.smtp
    if smtp is not None:
        smtp = replace(smtp, host=check("smtp", "host", smtp.host, check_host),
                       local_hostname=check("smtp", "local_hostname", smtp.local_hostname, check_host))
    dkim = settings.dkim
    if dkim is not None:
        from digest.core.names import ascii_domain

        dkim = replace(dkim, selector=check("dkim", "selector", dkim.selector, check_selector),
                       domain=check("dkim", "domain", dkim.domain, ascii_domain))
    return replace(settings, newsletter=newsletter, smtp=smtp, dkim=dkim)


def _check(settings: Settings, path: str) -> Settings:
    theme = settings.theme
    for f in fields(theme):
        value = getattr(theme, f.name)
        if f.name.endswith("_color") or f.name.endswith("_background"):
            if not _COLOR.match(value):
                raise ConfigError(f"[theme] {f.name} must be a #rgb or #rrggbb colour", path=path)
    if not 320 <= theme.width <= 600:
        raise ConfigError("[theme] width must be between 320 and 600 pixels", path=path)
    if theme.logo_url and (not theme.logo_url.startswith("https://") or not theme.logo_url.isascii()
                           or re.search(r"[\s\"'<>\\`]", theme.logo_url)):
        raise ConfigError("[theme] logo_url must be an https:// URL (ASCII, no spaces or quotes)", path=path)
    if settings.newsletter.direction not in ("ltr", "rtl"):
        raise ConfigError("[newsletter] direction must be ltr or rtl", path=path)
    _check_timezone(settings.newsletter.timezone, path)
    smtp = settings.smtp
    if smtp is not None:
        if smtp.security not in ("none", "starttls", "tls"):
            raise ConfigError('[smtp] security must be "none", "starttls" or "tls"', path=path)
        if not 0 < smtp.port < 65536:
            raise ConfigError("[smtp] port must be between 1 and 65535", path=path)
        for name in ("timeout", "data_timeout"):
            value = getattr(smtp, name)
            if not math.isfinite(value) or not 0 < value <= 3600:
                raise ConfigError(f"[smtp] {name} must be a number of seconds between 0 and 3600", path=path)
    url = settings.state.url
    if url:
        if not url.startswith(DATABASE_URL_SCHEMES):
            raise ConfigError('[state] url must be a postgresql:// URL (or leave it out for SQLite)', path=path)
        if _has_password(url):
            raise ConfigError("[state] url must not hold a password: set PGPASSWORD, or put the whole URL in "
                              "DIGEST_DATABASE_URL", path=path)
    return _normalised(settings, path)


def _check_timezone(name: str, path: str) -> None:
    # ZoneInfo also accepts file paths; an IANA name is letters, digits, "_", "-", "+" and "/".
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", name):
        raise ConfigError(f"[newsletter] timezone {name!r} is not an IANA time zone name such as "
                          '"Europe/Oslo" or "UTC"', path=path)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"[newsletter] timezone {name!r} is not a known IANA time zone "
                          '(for example "Europe/Oslo", "America/New_York", "UTC")', path=path) from None
_LIST_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The VERP token is at most 40 characters; RFC 5321 4.5.3.1.1 caps a local part at 64.
_MAX_BOUNCE_LOCAL = 64 - 1 - 40


def _check_list_loop(settings: Settings, path: str) -> Settings:
    """[bounces], [signup] and [inbox]; the bounce address with its domain in ASCII."""
    from dataclasses import replace

    from digest.core.names import ascii_domain

    bounces = settings.bounces
    local, at, domain = bounces.address.rpartition("@")
    if bounces.address and (not at or not local or not domain or "+" in local or len(local) > _MAX_BOUNCE_LOCAL
                            or not re.fullmatch(r"[A-Za-z0-9._-]+", local)):
        raise ConfigError(f"[bounces] address must be a plain address like bounces@example.com (letters, digits, "
                          f". _ - before the @, at most {_MAX_BOUNCE_LOCAL} of them, no +)", path=path)
    if bounces.address:
        # It goes into MAIL FROM and a mailto: link as it is: a plain domain (IDNA A-labels), nothing after it.
        try:
            bounces = replace(bounces, address=f"{local}@{ascii_domain(domain)}")
        except ValueError as exc:
            raise ConfigError(f"[bounces] address: {exc}", path=path) from None
    if not 1 <= bounces.soft_limit <= 100 or not 1 <= bounces.soft_window_days <= 365:
        raise ConfigError("[bounces] soft_limit must be 1–100 and soft_window_days 1–365", path=path)
    signup = settings.signup
    for name in signup.lists:
        if not _LIST_NAME.match(name):
            raise ConfigError(f"[signup] lists: {name!r} is not a list name (letters, digits, - and _)", path=path)
    for name in ("confirm_days", "per_address", "per_client", "max_pending"):
        if getattr(signup, name) < 1:
            raise ConfigError(f"[signup] {name} must be at least 1", path=path)
    if signup.confirm_days > 365:  # a link's expiry is in every confirmation link; a year is plenty
        raise ConfigError("[signup] confirm_days must be 1–365", path=path)
    inbox = settings.inbox
    if inbox is not None:
        if not inbox.host:
            raise ConfigError("[inbox] host is missing", path=path)
        if inbox.security not in ("none", "starttls", "tls"):
            raise ConfigError('[inbox] security must be "none", "starttls" or "tls"', path=path)
        if not 0 < inbox.port < 65536:
            raise ConfigError("[inbox] port must be between 1 and 65535", path=path)
        # Checked like [smtp]: a host name or an address (an IDN in its A-labels), seconds that are a number.
        if not math.isfinite(inbox.timeout) or not 0 < inbox.timeout <= 3600:
            raise ConfigError("[inbox] timeout must be a number of seconds between 0 and 3600", path=path)
        from digest.core.names import check_host

        try:
            inbox = replace(inbox, host=check_host(inbox.host))
        except ValueError as exc:
            raise ConfigError(f"[inbox] host: {exc}", path=path) from None
    return replace(settings, bounces=bounces, inbox=inbox)


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password is not None or "password=" in url.lower()
    except ValueError:
        return True
