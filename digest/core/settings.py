"""Workspace settings from `digest.toml`, checked key by key; secrets come from the environment."""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.core.errors import ConfigError
from digest.core.espsettings import ESPSettings, check_esp
from digest.core.tomllines import suggestion, toml_type, type_words, with_line
from digest.sources.config import FetchSettings, SourceSpec, parse_fetch, parse_sources

__all__ = [
    "Newsletter",
    "Theme",
    "SMTPSettings",
    "DKIMSettings",
    "StateSettings",
    "BounceSettings",
    "SignupSettings",
    "InboxSettings",
    "Settings",
    "Workspace",
    "load_settings",
]

CONFIG_NAME = "digest.toml"


@dataclass(frozen=True, slots=True)
class Newsletter:
    """[newsletter]: who sends, what it is called, where it lives on the web."""

    name: str = "Digest"
    sender: str = "Digest <digest@example.com>"
    reply_to: str = ""
    postal_address: str = "Example Media, 1 Example Street, 10000 Example City"
    base_url: str = "https://digest.example.com"
    language: str = "en"
    direction: str = "ltr"
    subject: str = "{newsletter}: {lead_title}"
    list_id: str = ""
    reason: str = "You receive this email because you subscribed to our newsletter."
    timezone: str = "UTC"  # IANA name: `send --at` times and the issue date are read in it

    @property
    def zone(self) -> ZoneInfo:
        """The newsletter's time zone (checked when digest.toml is read)."""
        return ZoneInfo(self.timezone)

    @property
    def sender_address(self) -> str:
        """The bare address of `sender`, used as the envelope sender."""
        return parseaddr(self.sender)[1]

    @property
    def domain(self) -> str:
        """The sender's domain in its ASCII form, used in Message-IDs and the default List-Id."""
        domain = self.sender_address.rpartition("@")[2]
        if domain.isascii():
            return domain or "localhost"
        from digest.core.names import ascii_domain

        try:
            return ascii_domain(domain)
        except ValueError:
            return "localhost"


@dataclass(frozen=True, slots=True)
class Theme:
    """[theme]: colours, fonts and width of the email."""

    brand_color: str = "#0b5cab"
    text_color: str = "#1f2328"
    muted_color: str = "#59636e"
    background_color: str = "#f3f4f6"
    content_background: str = "#ffffff"
    dark_text_color: str = "#e6edf3"
    dark_muted_color: str = "#9198a1"
    dark_background_color: str = "#0d1117"
    dark_content_background: str = "#161b22"
    dark_brand_color: str = "#6cb6ff"
    font_family: str = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif"
    logo_url: str = ""
    width: int = 600


@dataclass(frozen=True, slots=True)
class SMTPSettings:
    """[smtp]: the relay to send through; the password comes from DIGEST_SMTP_PASSWORD."""

    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"  # none | starttls | tls
    username: str = ""
    timeout: float = 30.0  # connect, greeting and each command
    # RFC 5321 §4.5.3.2.6: the reply to the final "." may take 10 minutes; giving up
    # sooner leaves a message the server may have accepted (an unknown outcome).
    data_timeout: float = 600.0
    local_hostname: str = "localhost"

    @property
    def password(self) -> str:
        """The SMTP password, read from the environment only when needed."""
        return os.environ.get("DIGEST_SMTP_PASSWORD", "")


@dataclass(frozen=True, slots=True)
class DKIMSettings:
    """[dkim]: sign every message with this selector, domain and private key."""

    selector: str
    domain: str
    private_key_path: str


@dataclass(frozen=True, slots=True)
class StateSettings:
    """[state]: where the store lives; DIGEST_DATABASE_URL overrides it (and is where a password goes)."""

    url: str = ""  # "" = the embedded SQLite file .digest/state.sqlite3


@dataclass(frozen=True, slots=True)
class BounceSettings:
    """[bounces]: the VERP return path (bounces+TOKEN@domain) and the soft-bounce policy."""

    address: str = ""  # "" = bounces@<the domain of [newsletter] from>
    soft_limit: int = 3  # soft bounces (distinct issues in a row) that suppress an address …
    soft_window_days: int = 30  # … within this many days

    def return_path(self, newsletter: Newsletter) -> str:
        """The bounce mailbox; each message's envelope sender is its local part + "+TOKEN"."""
        return self.address or f"bounces@{newsletter.domain}"


@dataclass(frozen=True, slots=True)
class SignupSettings:
    """[signup]: the lists the subscribe form offers and its abuse limits."""

    lists: tuple[str, ...] = ()  # () = the names of subscribers/*.csv
    confirm_days: int = 7  # a confirmation link's life
    per_address: int = 3  # confirmation mails to one address per day
    per_client: int = 20  # signup requests from one client network (IPv4 address, IPv6 /64) per hour
    max_pending: int = 50  # unconfirmed signups from one network (IPv4 /24, IPv6 /48) at once


@dataclass(frozen=True, slots=True)
class InboxSettings:
    """[inbox]: the IMAP mailbox `digest inbox process` reads; the password comes from DIGEST_IMAP_PASSWORD."""

    host: str = ""
    port: int = 993
    security: str = "tls"  # tls | starttls | none (loopback only)
    username: str = ""
    folder: str = "INBOX"
    processed_folder: str = "Processed"  # handled mail moves here; "" = flag it instead
    timeout: float = 30.0

    @property
    def password(self) -> str:
        """The IMAP password, read from the environment only when needed."""
        return os.environ.get("DIGEST_IMAP_PASSWORD", "")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `digest.toml` sets."""

    newsletter: Newsletter = field(default_factory=Newsletter)
    theme: Theme = field(default_factory=Theme)
    smtp: SMTPSettings | None = None
    dkim: DKIMSettings | None = None
    state: StateSettings = field(default_factory=StateSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    sources: tuple[SourceSpec, ...] = ()
    bounces: BounceSettings = field(default_factory=BounceSettings)
    signup: SignupSettings = field(default_factory=SignupSettings)
    inbox: InboxSettings | None = None
    esp: ESPSettings | None = None


_COLOR = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")
# C0 and C1 controls and the Unicode line and paragraph separators: a header or a line of output
# must never fold or break on a setting.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_FONTS = re.compile(r"[\w\s,'\".-]+")
SUBJECT_FIELDS = ("newsletter", "lead_title")
_KEY_ALIASES = {"from": "sender"}


def _toml_name(field_name: str) -> str:
    """A field's name as digest.toml writes it (`sender` is `from`)."""
    return next((alias for alias, name in _KEY_ALIASES.items() if name == field_name), field_name)


def _build(cls: type, table: Any, section: str, path: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table", path=path)
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _KEY_ALIASES.get(raw_key, raw_key)
        if key not in known:
            names = sorted(_toml_name(k) for k in known)
            raise ConfigError(f"unknown key {raw_key!r} in [{section}]{suggestion(raw_key, names)}", path=path)
        expected = known[key].type
        ok = {
            "str": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "tuple[str, ...]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }.get(str(expected), True)
        if not ok:
            raise ConfigError(f"[{section}] {raw_key} must be {type_words(str(expected))}, "
                              f"not {toml_type(value)}", path=path)
        if isinstance(value, str) and _NOT_ONE_LINE.search(value):
            raise ConfigError(f"[{section}] {raw_key} must be one line of text (no control characters)", path=path)
        if isinstance(value, list):
            value = tuple(value)
        values[key] = float(value) if expected == "float" else value
    try:
        return cls(**values)
    except TypeError as exc:
        missing = str(exc).split("argument")[-1].strip(": ")
        raise ConfigError(f"[{section}] is missing {missing}", path=path) from None


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
        if not url.startswith(("postgresql://", "postgres://")):
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


def load_settings(root: Path) -> Settings:
    """Read `digest.toml` in the workspace; defaults when there is none."""
    config_path = root / CONFIG_NAME
    path = str(config_path)
    try:
        text = config_path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        return Settings()
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line.*\)", "", str(exc))
        raise ConfigError(message, path=path, line=int(match.group(1)) if match else None) from None
    try:
        return _from_tables(raw, path)
    except ConfigError as exc:
        raise with_line(exc, text) from None


_SECTIONS = ("newsletter", "theme", "smtp", "dkim", "state", "fetch", "sources", "bounces", "signup", "inbox", "esp")


def _from_tables(raw: dict[str, Any], path: str) -> Settings:
    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(f"unknown section [{name}]{suggestion(name, sorted(_SECTIONS), what='sections')}",
                          path=path)
    settings = Settings(
        newsletter=_build(Newsletter, raw.get("newsletter", {}), "newsletter", path),
        theme=_build(Theme, raw.get("theme", {}), "theme", path),
        smtp=_build(SMTPSettings, raw["smtp"], "smtp", path) if "smtp" in raw else None,
        dkim=_build(DKIMSettings, raw["dkim"], "dkim", path) if "dkim" in raw else None,
        state=_build(StateSettings, raw.get("state", {}), "state", path),
        fetch=parse_fetch(raw.get("fetch", {}), path),
        sources=parse_sources(raw.get("sources", []), path),
        bounces=_build(BounceSettings, raw.get("bounces", {}), "bounces", path),
        signup=_build(SignupSettings, raw.get("signup", {}), "signup", path),
        inbox=_build(InboxSettings, raw["inbox"], "inbox", path) if "inbox" in raw else None,
        esp=check_esp(_build(ESPSettings, raw["esp"], "esp", path), path) if "esp" in raw else None,
    )
    settings = _check(settings, path)
    return _check_list_loop(settings, path)


@dataclass(frozen=True, slots=True)
class Workspace:
    """A newsletter folder: settings, pages, templates, subscribers, outbox and state."""

    root: Path

    @property
    def pages(self) -> Path:
        """Default sources for `digest build`."""
        return self.root / "pages"

    @property
    def templates(self) -> Path:
        """Templates here override the built-in ones file by file."""
        return self.root / "templates"

    @property
    def issues(self) -> Path:
        """Where `digest build` writes issues/<number>/."""
        return self.root / "issues"

    @property
    def outbox(self) -> Path:
        """The embedded mailbox (a Maildir) used when no [smtp] is configured."""
        return self.root / "outbox"

    @property
    def state_dir(self) -> Path:
        """Private state: the database and the generated secret; never committed."""
        return self.root / ".digest"

    @property
    def database(self) -> Path:
        """The embedded SQLite store: issue numbers, campaigns and journal, suppressions."""
        return self.state_dir / "state.sqlite3"

    @property
    def subscribers(self) -> Path:
        """Subscriber lists (CSV)."""
        return self.root / "subscribers"
