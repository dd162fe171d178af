"""`digest check`: one line per item of the set-up (✓, ✗ or !), what was found and the fix; exit 0 when all pass."""

from __future__ import annotations

import sys

import click

from digest.app.context import Context
from digest.cli.output import printable, say

__all__ = ["check"]

_MARKS = {"ok": "✓", "fail": "✗", "warn": "!"}
_PLAIN = {"ok": "ok  ", "fail": "FAIL", "warn": "warn"}  # for a terminal that cannot show ✓ and ✗


def _short(text: str, limit: int = 600) -> str:
    """A found record or reply quoted within reason: a 50 KB SPF record is not a line of a report."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _resolver(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    """HOST:PORT, [IPv6]:PORT or an address alone (port 53) → (address, port)."""
    if value is None:
        return None
    import ipaddress

    text = value.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise click.BadParameter(f"{value!r} is not ADDRESS[:PORT] (like 127.0.0.1:5353 or [::1]:53)")
        port = rest[1:] if rest else "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ADDRESS[:PORT] (like 127.0.0.1:5353 or [::1]:53)") from None
    return host, number


def _sending_ip(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if not value:
        return ""
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address") from None


@click.command()
@click.option("--dns", "resolver", metavar="ADDRESS[:PORT]", callback=_resolver,
              help="Ask this DNS resolver instead of the system's (split-horizon DNS, a test server).")
@click.option("--sending-ip", metavar="ADDRESS", callback=_sending_ip,
              help="Evaluate SPF for this address instead of the relay's (a relay on this machine sends from "
                   "the machine's public address).")
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=10.0, show_default=True,
              help="Seconds to wait for the relay and for each DNS answer.")
@click.pass_obj
def check(ctx: Context, resolver: tuple[str, int] | None, sending_ip: str, timeout: float) -> None:
    """Check the set-up before the first real send: settings, secret, store, links, SMTP relay, SPF, DKIM, DMARC.

    Nothing is sent. Exits 0 when every required item passes (warnings marked ! do not count), 1 otherwise.
    """
    from digest.app.check import CheckOptions, Item, run_checks

    marks = _MARKS if _can_show("✓✗") else _PLAIN

    def show(item: Item) -> None:
        line = f"{marks[item.status]} {item.name}: {printable(_short(item.found))}"
        if item.fix:
            line += f" — fix: {printable(_short(item.fix))}"
        say(line)

    items = run_checks(ctx.workspace, options=CheckOptions(dns=resolver, sending_ip=sending_ip, timeout=timeout),
                       on_item=show)
    failed = sum(1 for item in items if item.status == "fail")
    warned = sum(1 for item in items if item.status == "warn")
    if failed:
        say(f"{failed} item(s) to fix before a real send" + (f", {warned} warning(s)" if warned else ""))
        sys.exit(1)
    say("Ready to send" + (f" ({warned} warning(s) worth a look)" if warned else ""))


def _can_show(text: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
