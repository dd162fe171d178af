"""Workspace settings from `digest.toml`, checked key by key; secrets come from the environment.

The section types and the reading live here; the checks across keys in
digest.core.settingscheck, the folder layout in digest.core.workspace.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest.core.errors import ConfigError
from digest.core.espsettings import ESPSettings, check_esp
from digest.core.settingscheck import check_settings, check_subject
from digest.core.sourcespec import FetchSettings, SourceSpec, parse_fetch, parse_sources
from digest.core.tomllines import suggestion, toml_type, type_words, with_line
from digest.core.workspace import Workspace

__all__ = [
    "Newsletter",
    "Theme",
    "SMTPSettings",
    "DKIMSettings",
    "StateSettings",
    "BounceSettings",
    "SignupSettings",
    "InboxSettings",
    "TrackingSettings",
    "Settings",
    "Workspace",
    "load_settings",
    "check_subject",
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
    description: str = ""  # one or two sentences: the archive's home page and its meta description

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
class TrackingSettings:
    """[tracking]: what is counted about reading; everything is off unless turned on here."""

    clicks: bool = False  # article links in the HTML part go through {base_url}/c/TOKEN
    per_reader: bool = False  # a click also names the reader (part of their data and erasure); needs clicks
    opens: bool = False  # a 1x1 image at {base_url}/o/TOKEN; Apple Mail Privacy Protection is counted apart

    @property
    def on(self) -> bool:
        """Anything counted at all (the footer's privacy note says what)."""
        return self.clicks or self.opens


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
    tracking: TrackingSettings = field(default_factory=TrackingSettings)


# C0 and C1 controls and the Unicode line and paragraph separators: a header or a line of output
# must never fold or break on a setting.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: No setting is a paragraph: a 5 MB newsletter name would be printed, signed and sent in every header.
MAX_SETTING_CHARS = 4096
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
            "bool": isinstance(value, bool),
            "tuple[str, ...]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }.get(str(expected), True)
        if not ok:
            raise ConfigError(f"[{section}] {raw_key} must be {type_words(str(expected))}, "
                              f"not {toml_type(value)}", path=path)
        if isinstance(value, str) and _NOT_ONE_LINE.search(value):
            raise ConfigError(f"[{section}] {raw_key} must be one line of text (no control characters or bidi "
                              "overrides)", path=path)
        if isinstance(value, str) and len(value) > MAX_SETTING_CHARS:
            raise ConfigError(f"[{section}] {raw_key} is longer than {MAX_SETTING_CHARS} characters", path=path)
        if isinstance(value, list):
            value = tuple(value)
        values[key] = float(value) if expected == "float" else value
    try:
        return cls(**values)
    except TypeError as exc:
        missing = str(exc).split("argument")[-1].strip(": ")
        raise ConfigError(f"[{section}] is missing {missing}", path=path) from None


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
    except RecursionError:  # tomllib recurses per nested array or table: `x = [[[[…]]]]`
        raise ConfigError("values nested too deeply (TOML)", path=path) from None
    try:
        return _from_tables(raw, path)
    except ConfigError as exc:
        raise with_line(exc, text) from None


_SECTIONS = ("newsletter", "theme", "smtp", "dkim", "state", "fetch", "sources", "bounces", "signup", "inbox", "esp",
             "tracking")


def _tracking(table: Any, path: str) -> TrackingSettings:
    """[tracking], with per_reader meaning nothing without clicks said out loud."""
    tracking: TrackingSettings = _build(TrackingSettings, table, "tracking", path)
    if tracking.per_reader and not tracking.clicks:
        raise ConfigError("[tracking] per_reader = true needs clicks = true (it counts clicks per reader)", path=path)
    return tracking


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
        tracking=_tracking(raw.get("tracking", {}), path),
    )
    return check_settings(settings, path)
