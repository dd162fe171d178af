"""`digest check`: a workspace's set-up looked over before the first real send, item by item.

Each item says what was found and, when something is wrong, the fix. Items that fail stop a
real send from working (or from being delivered: a relay that refuses the login, a From domain
without SPF or DMARC); warnings are worth a look but need not block. Nothing here sends a
message or changes a setting; the one write is the store's own migration on open, as every
command does.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from digest.app.check_items import FAIL, OK, WARN, CheckOptions, Found, Item, latest_issue_html
from digest.core.errors import DigestError
from digest.core.settings import CONFIG_NAME, Settings, Workspace, load_settings

__all__ = ["Item", "CheckOptions", "run_checks", "OK", "FAIL", "WARN"]

# Names that can never be a public site: IANA's example domains and the special-use ones (RFC 2606, 6761).
_PLACEHOLDERS = ("example.com", "example.net", "example.org", "example", "invalid", "test", "localhost", "local")


def run_checks(workspace: Workspace, *, options: CheckOptions | None = None,
               on_item: Callable[[Item], None] | None = None) -> list[Item]:
    """Every item, in order; `on_item` sees each one as it is decided (for a live report)."""
    options = options or CheckOptions()
    found = Found()

    def add(item: Item) -> None:
        found.items.append(item)
        if on_item is not None:
            on_item(item)

    settings = _check_settings(workspace, add)
    if settings is None:
        return found.items
    found.settings = settings
    from digest.app.check_mail import check_dns, check_smtp

    steps: list[tuple[str, Callable[[], Iterable[Item]]]] = [
        ("secret", lambda: [_check_secret(workspace)]),
        ("store", lambda: [_check_store(workspace, settings)]),
        ("base_url", lambda: [_check_base_url(settings)]),
        ("links", lambda: [_check_links(workspace, settings)]),
        ("smtp", lambda: check_smtp(workspace, settings, found_relay=found, timeout=options.timeout)),
    ]
    if settings.smtp is not None:
        steps.append(("dns", lambda: check_dns(workspace, settings, relay_ip=options.sending_ip or found.relay_ip,
                                               options=options)))
    for name, step in steps:
        try:
            for item in step():
                add(item)
        except Exception as exc:  # noqa: BLE001 - a check reports what it could not check; never a traceback
            add(Item(name, FAIL, f"could not be checked: {type(exc).__name__}: {exc}",
                     "see the message; run digest check again once it is fixed"))
    return found.items


def _check_settings(workspace: Workspace, add: Callable[[Item], None]) -> Settings | None:
    path = workspace.root / CONFIG_NAME
    if not path.is_file():
        add(Item("settings", FAIL, f"no {CONFIG_NAME} in {workspace.root.resolve()}: not a digest workspace",
                 "run digest init there (or pass -C FOLDER to name the workspace)"))
        return None
    try:
        settings = load_settings(workspace.root)
    except DigestError as exc:
        add(Item("settings", FAIL, str(exc), f"correct {CONFIG_NAME} and run digest check again"))
        return None
    n = settings.newsletter
    add(Item("settings", OK, f"{CONFIG_NAME} is valid: {n.name!r} from {n.sender_address}, "
                             f"{len(settings.sources)} source(s)"))
    if _placeholder(n.domain):
        add(Item("from", FAIL if settings.smtp is not None else WARN,
                 f"{n.sender_address} is a placeholder address: receivers refuse mail from a domain that is not yours",
                 f'set [newsletter] from in {CONFIG_NAME} to an address at your own domain'))
    return settings


def _check_secret(workspace: Workspace) -> Item:
    from digest.core.secret import MIN_SECRET_BYTES

    env = os.environ.get("DIGEST_SECRET")
    if env is not None:
        if len(env.strip().encode("utf-8")) < MIN_SECRET_BYTES:
            return Item("secret", FAIL, f"DIGEST_SECRET is shorter than {MIN_SECRET_BYTES} bytes",
                        "set a longer one: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
        return Item("secret", OK, "DIGEST_SECRET is set")
    path = workspace.state_dir / "secret"
    try:
        info = path.stat()
        length = len(path.read_bytes().strip())
    except FileNotFoundError:
        return Item("secret", OK, f"{path} is made (private, 0600) on the first build")
    except OSError as exc:
        return Item("secret", FAIL, f"{path}: cannot read: {exc.strerror}", "give this user read access to it")
    if os.name == "posix" and info.st_mode & 0o077:
        return Item("secret", FAIL, f"{path} can be read by others (mode {info.st_mode & 0o777:o}): anyone who "
                    "reads it can forge unsubscribe links", f"chmod 600 {path}")
    if length < MIN_SECRET_BYTES:
        return Item("secret", FAIL, f"{path} holds {length} bytes, fewer than {MIN_SECRET_BYTES}",
                    "delete it (a new one is made) or set DIGEST_SECRET")
    return Item("secret", OK, f"{path} is present and private")


def _check_store(workspace: Workspace, settings: Settings) -> Item:
    from digest.app.context import Context
    from digest.store import open_store
    from digest.store.migrations import MIGRATIONS

    context = Context(workspace, settings=settings)
    try:
        location = context.database_location
    except DigestError as exc:
        return Item("store", FAIL, str(exc), "fix DIGEST_DATABASE_URL or unset it")
    shown = _redacted(location)
    if "://" not in location and not Path(location).exists():
        return Item("store", OK, f"{shown} is made on the first build (SQLite)")
    try:
        store = open_store(location)
    except DigestError as exc:
        return Item("store", FAIL, f"{shown}: {exc}", "start the database server or correct [state] url / "
                    "DIGEST_DATABASE_URL (PGPASSWORD for the password)")
    try:
        applied = set(store.migrations())
    finally:
        store.close()
    known = {name for name, _ in MIGRATIONS}
    if applied - known:
        return Item("store", WARN, f"{shown} has migrations this version does not know "
                    f"({', '.join(sorted(applied - known))}): a newer digest uses it",
                    "upgrade digest here to the version the other hosts run")
    return Item("store", OK, f"{shown} is reachable and migrated ({len(applied)} migrations)")


def _redacted(location: str) -> str:
    from digest.core.urls import redact_in

    return redact_in(location)


def _placeholder(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == name or host.endswith("." + name) for name in _PLACEHOLDERS)


def _not_public(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_private
    except ValueError:
        return host == "localhost"


def _check_base_url(settings: Settings) -> Item:
    url = settings.newsletter.base_url
    parts = urlsplit(url)
    host = parts.hostname or ""
    # Nothing leaves the machine without [smtp]: a placeholder is fine for the demo, not for a real send.
    bad = FAIL if settings.smtp is not None else WARN
    if _placeholder(host) or _not_public(host):
        return Item("base_url", bad, f"{url} is not a public web address: readers' unsubscribe and archive links "
                    "would lead nowhere", 'set [newsletter] base_url to where digest serve is reachable, such as '
                    '"https://news.yourdomain.org"')
    if parts.scheme != "https":
        return Item("base_url", bad, f"{url} is not https: Gmail and Yahoo ignore a one-click unsubscribe "
                    "(RFC 8058) that is not https", "serve digest behind TLS and set base_url to its https:// address")
    if parts.query or parts.fragment:
        return Item("base_url", FAIL, f"{url} has a query or fragment; links are made by appending paths to it",
                    "remove everything after the path")
    return Item("base_url", OK, f"{url} is a well-formed https address")


def _check_links(workspace: Workspace, settings: Settings) -> Item:
    """The unsubscribe and archive links of the latest issue lead to a host `digest serve` answers for."""
    import re

    from digest.compose.skeleton import unsubscribe_url
    from digest.core.hosts import served_names

    base = settings.newsletter.base_url
    served = served_names(base_url=base)
    wanted = [unsubscribe_url(base, "TOKEN"), f"{base.rstrip('/')}/archive/"]
    where = "the links digest makes"
    issue = latest_issue_html(workspace)
    if issue is not None:
        folder, html = issue
        # The archive link is written into the built issue; a base_url changed since points elsewhere.
        built = re.findall(r'href="(https?://[^"/]+)/archive/', html)
        if built:
            wanted.append(built[0] + "/archive/")
            where = f"the links in issue {folder.name}"
    for url in wanted:
        host = (urlsplit(url).hostname or "").lower()
        if host not in served:
            return Item("links", FAIL, f"{where} point at {host}, which digest serve does not answer for "
                        f"(it answers for {', '.join(sorted(served))})",
                        "run digest build again so the issue uses base_url, or set base_url to that host")
    host = urlsplit(base).hostname or base
    return Item("links", OK, f"one-click unsubscribe ({unsubscribe_url(base, '…')}) and archive links point at "
                             f"{host}, which digest serve answers for")


