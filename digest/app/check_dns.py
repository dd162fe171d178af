"""`digest check`, DNS: the records receivers look up before they trust a newsletter.

Gmail and Yahoo (bulk-sender rules since 2024) want SPF or DKIM passing and aligned with the
From domain, and a DMARC record. The SPF record is evaluated by pyspf, a full RFC 7208
implementation, with its DNS lookups sent through the resolver chosen here (`--dns`).
"""

from __future__ import annotations

import base64
import contextvars
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver

from digest.app.check_items import FAIL, OK, WARN, CheckOptions, Item
from digest.core.errors import DigestError
from digest.core.settings import Settings

__all__ = ["DNSChecks", "DNSUnanswered", "organisational_domain"]

# pyspf looks records up through its module-level DNSLookup; ours sends them to this resolver.
_RESOLVER: contextvars.ContextVar[dns.resolver.Resolver | None] = contextvars.ContextVar("spf_resolver",
                                                                                         default=None)


class DNSUnanswered(Exception):
    """The resolver did not answer (a timeout, refused, no server)."""


def organisational_domain(domain: str) -> str:
    """The registrable domain by the Public Suffix List (news.example.co.uk → example.co.uk): DMARC's relaxed
    alignment compares these."""
    from digest.core.urls import site_of

    return site_of(f"http://{domain}/") or domain.lower()


def _txt_strings(rdata: Any) -> str:
    return b"".join(rdata.strings).decode("utf-8", "replace")


def _spf_lookup(name: str, qtype: str, strict: bool = True, timeout: float = 30) -> list[tuple[tuple[str, str], Any]]:
    """pyspf's DNSLookup contract: [((name, type), value)], TempError when DNS does not answer."""
    import spf

    resolver = _RESOLVER.get() or dns.resolver.get_default_resolver()
    out: list[tuple[tuple[str, str], Any]] = []
    try:
        answers = resolver.resolve(name, qtype, lifetime=min(timeout, resolver.lifetime))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return out
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
        raise spf.TempError(f"DNS {exc}") from None
    for rdata in answers:
        if qtype in ("A", "AAAA"):
            out.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            out.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            out.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            out.append(((name, qtype), rdata.strings))
    return out


class DNSChecks:
    """The DNS items for one workspace's settings."""

    def __init__(self, settings: Settings, *, root: Path, options: CheckOptions) -> None:
        self.settings = settings
        self.root = root
        resolver = dns.resolver.Resolver(configure=options.dns is None)
        if options.dns is not None:
            resolver.nameservers = [options.dns[0]]
            resolver.port = options.dns[1]
        resolver.lifetime = options.timeout
        resolver.timeout = min(options.timeout, 3.0)
        self.resolver = resolver
        self.where = f"{options.dns[0]}:{options.dns[1]}" if options.dns else "the system resolver"
        self.from_domain = settings.newsletter.domain
        self.bounce_address = settings.bounces.return_path(settings.newsletter)
        self.bounce_domain = self.bounce_address.rpartition("@")[2]

    def txt(self, name: str) -> list[str]:
        """The TXT records at `name` ([] for none); DNSUnanswered when the resolver does not answer."""
        try:
            return [_txt_strings(r) for r in self.resolver.resolve(name, "TXT")]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise DNSUnanswered(f"{self.where} did not answer for {name} TXT ({type(exc).__name__})") from None

    def has_address(self, name: str, *types: str) -> str:
        """The first record type of `types` that `name` has, or ""."""
        for qtype in types:
            try:
                if self.resolver.resolve(name, qtype):
                    return qtype
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as exc:
                raise DNSUnanswered(f"{self.where} did not answer for {name} {qtype} ({type(exc).__name__})") \
                    from None
        return ""

    def items(self, *, relay_ip: str) -> Iterator[Item]:
        """SPF, DKIM, DMARC, bounce domain, alignment; the first unanswered query ends the DNS part."""
        for check in (lambda: self.spf(relay_ip), self.dkim, self.dmarc, self.bounce_mx):
            try:
                yield check()
            except DNSUnanswered as exc:
                yield Item("dns", FAIL, str(exc), "check the resolver (--dns HOST:PORT) and the network; "
                           "then run digest check again")
                return
        yield self.alignment()

    def spf(self, relay_ip: str) -> Item:
        """The envelope sender's domain has one SPF record and it permits the relay's address."""
        import spf

        domain = self.bounce_domain
        records = [r for r in self.txt(domain) if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]
        if not records:
            return Item("spf", FAIL, f"no SPF record at {domain}",
                        f'publish TXT "v=spf1 {_mechanism(relay_ip)} -all" at {domain} '
                        "(or the include: your mail provider documents)")
        if len(records) > 1:
            return Item("spf", FAIL, f"{domain} has {len(records)} SPF records (RFC 7208 makes that a permerror)",
                        "merge them into one TXT record")
        if not relay_ip:
            return Item("spf", WARN, f"{domain}: {records[0]!r}; the relay's address is not known (SMTP failed)",
                        "get the smtp item passing, or give the sending address with --sending-ip")
        token = _RESOLVER.set(self.resolver)
        try:
            helo = self.settings.smtp.local_hostname if self.settings.smtp else "localhost"
            # RFC 7208 4.6.4: at most 10 lookups; 11.1: give up after about 20 seconds in all.
            query = spf.query(i=relay_ip, s=self.bounce_address, h=helo, timeout=self.resolver.lifetime,
                              querytime=max(20.0, self.resolver.lifetime))
            result, _code, explanation = query.check()
        finally:
            _RESOLVER.reset(token)
        if result == "pass":
            return Item("spf", OK, f"{domain}: {records[0]!r} permits {relay_ip}")
        if result == "temperror":
            raise DNSUnanswered(f"{self.where}: SPF lookups for {domain} failed ({explanation})")
        if result == "permerror":  # the record itself is broken, whatever the address
            return Item("spf", FAIL, f"{domain}: {records[0]!r} gives permerror for {relay_ip}: {explanation}",
                        f"correct the SPF record of {domain} (one record, at most 10 DNS lookups, no loops)")
        status = WARN if _is_loopback(relay_ip) else FAIL
        note = (" (the relay is on this machine: its public address is what receivers see; give it with "
                "--sending-ip)" if status == WARN else "")
        return Item("spf", status, f"{domain}: {records[0]!r} gives {result} for {relay_ip}{note}",
                    f"add {_mechanism(relay_ip)} (or your provider's include:) to the SPF record of {domain}")

    def dkim(self) -> Item:
        """[dkim]'s selector publishes the public half of [dkim]'s private key."""
        d = self.settings.dkim
        if d is None:
            return Item("dkim", WARN, "no [dkim]: messages go out unsigned (unless the relay signs them); Gmail "
                        "and Yahoo require DKIM from bulk senders", "make a 2048-bit RSA key and set [dkim] "
                        "selector, domain and private_key_path (see docs/check.md)")
        from cryptography.hazmat.primitives import serialization

        from digest.compose.dkim import DKIMSigner

        try:
            key = DKIMSigner(d, root=self.root).key
        except DigestError as exc:
            return Item("dkim", FAIL, str(exc), "point [dkim] private_key_path at an unencrypted PEM RSA key")
        ours = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        wanted = f'"v=DKIM1; k=rsa; p={base64.b64encode(ours).decode("ascii")}"'
        name = f"{d.selector}._domainkey.{d.domain}"
        records = [r for r in self.txt(name) if "p=" in r]
        if not records:
            return Item("dkim", FAIL, f"no DKIM key at {name}", f"publish TXT {wanted} at {name}")
        problems = [_dkim_problem(record, ours) for record in records]
        if None in problems:  # one record that verifiers accept and that holds our key is enough
            return Item("dkim", OK, f"{name} holds the public key of {d.private_key_path}")
        return Item("dkim", FAIL, f"the key at {name} {problems[0]}", f"publish TXT {wanted} at {name}")

    def dmarc(self) -> Item:
        """A DMARC record for the From domain (or its organisational domain)."""
        domain = self.from_domain
        names = [f"_dmarc.{domain}"]
        org = organisational_domain(domain)
        if org != domain:
            names.append(f"_dmarc.{org}")
        for name in names:
            records = [r for r in self.txt(name) if r.replace(" ", "").lower().startswith("v=dmarc1")]
            fix = f'publish one TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}" at {name}'
            if len(records) > 1:
                # RFC 7489 §6.6.3: more than one record, and receivers apply no DMARC at all.
                return Item("dmarc", FAIL, f"{name} has {len(records)} DMARC records: receivers ignore them all",
                            fix)
            if records:
                policy = _tag(records[0], "p").lower()
                if policy not in ("none", "quarantine", "reject"):
                    return Item("dmarc", FAIL, f"{name}: p={policy[:40]!r} is no DMARC policy (none, quarantine or "
                                "reject): receivers ignore the record", fix)
                if policy == "none":
                    return Item("dmarc", WARN, f"{name}: p=none (receivers report, but enforce nothing)",
                                "once reports show your mail passing, move to p=quarantine")
                return Item("dmarc", OK, f"{name}: p={policy}")
        return Item("dmarc", FAIL, f"no DMARC record at _dmarc.{domain}",
                    f'publish TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}" at _dmarc.{org}')

    def bounce_mx(self) -> Item:
        """The bounce domain receives mail: it has an MX (or an address, RFC 5321's implicit MX)."""
        domain = self.bounce_domain
        found = self.has_address(domain, "MX", "A", "AAAA")
        if not found:
            return Item("bounce domain", FAIL, f"{domain} (of {self.bounce_address}) has no MX or address record: "
                        "bounces cannot come back", f"add an MX record for {domain} pointing at the mail server "
                        "whose mailbox digest inbox reads (or set [bounces] address)")
        return Item("bounce domain", OK, f"{domain} has an {found} record")

    def alignment(self) -> Item:
        """DMARC's relaxed alignment: the bounce (SPF) and DKIM domains share the From domain's org domain."""
        org = organisational_domain(self.from_domain)
        apart = []
        if organisational_domain(self.bounce_domain) != org:
            apart.append(f"the bounce domain {self.bounce_domain} (SPF)")
        d = self.settings.dkim
        if d is not None and organisational_domain(d.domain) != org:
            apart.append(f"the DKIM domain {d.domain}")
        if apart:
            return Item("alignment", FAIL, f"{' and '.join(apart)} not under {org}, the From domain's: DMARC "
                        "fails for them", f"use addresses and a [dkim] domain under {org}")
        which = "From, bounce and DKIM" if d else "From and bounce"
        return Item("alignment", OK, f"{which} domains align under {org}")


def _dkim_problem(record: str, ours: bytes) -> str | None:
    """Why a verifier would not use this DKIM key record for our key (RFC 6376 §3.6.1), or None."""
    version = _tag(record, "v")
    if version and version != "DKIM1":
        return f"says v={version[:20]!r}: verifiers discard a record that is not DKIM1"
    if _tag(record, "k").lower() not in ("", "rsa"):
        return f"is of type k={_tag(record, 'k')[:20]!r}, not the rsa key [dkim] signs with"
    hashes = _tag(record, "h").lower()
    if hashes and "sha256" not in [h.strip() for h in hashes.split(":")]:
        return f"allows only h={hashes[:40]!r}: digest signs with sha256"
    published = _tag(record, "p")
    try:
        theirs = base64.b64decode("".join(published.split()), validate=True)
    except ValueError:
        theirs = b""
    if theirs != ours:
        return "is revoked (empty p=)" if not published else "is not the public key of [dkim] private_key_path"
    return None


def _tag(record: str, name: str) -> str:
    for part in record.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip()
    return ""


def _mechanism(address: str) -> str:
    if ":" in address:
        return f"ip6:{address}"
    return f"ip4:{address}" if address else "ip4:<the relay's address>"


def _is_loopback(address: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback


def _install() -> None:
    import spf

    spf.DNSLookup = _spf_lookup


_install()
