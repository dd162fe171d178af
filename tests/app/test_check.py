"""`digest check` against real servers: a local DNS server (dnslib) and aiosmtpd relays; no test leaves 127.0.0.1."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.app.check import CheckOptions, Item, run_checks
from digest.cli import main
from digest.core.settings import Workspace
from tests.dnsserver import Zone, dns_server, silent_dns
from tests.helpers.tls import self_signed
from tests.servers import RecordingHandler, ThreadedSMTP

DOMAIN = "digest-check.org"
PASSWORD = "relay-password-1"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def dkim_key() -> rsa.RSAPrivateKey:
    return _key()


def _public(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def good_zone(key: rsa.RSAPrivateKey) -> Zone:
    return {
        (DOMAIN, "TXT"): ["v=spf1 include:_spf.relay-provider.net -all", "google-site-verification=abc"],
        ("_spf.relay-provider.net", "TXT"): ["v=spf1 ip4:127.0.0.0/8 ~all"],
        (f"s1._domainkey.{DOMAIN}", "TXT"): [f"v=DKIM1; k=rsa; p={_public(key)}"],
        (f"_dmarc.{DOMAIN}", "TXT"): ["v=DMARC1; p=quarantine; rua=mailto:d@digest-check.org"],
        (DOMAIN, "MX"): [f"mx.{DOMAIN}"],
    }


def _accept(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = auth_data.login == b"digest" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dkim_key: rsa.RSAPrivateKey) -> Path:
    root = tmp_path / "news"
    root.mkdir()
    key = root / "dkim.pem"
    key.write_bytes(dkim_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key.chmod(0o600)
    monkeypatch.chdir(root)
    for name in ("DIGEST_SECRET", "DIGEST_DATABASE_URL", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", PASSWORD)
    return root


def configure(root: Path, port: int, *, security: str = "none", username: str = "digest", extra: str = "") -> None:
    (root / "digest.toml").write_text(
        f'[newsletter]\nname = "Check Weekly"\nfrom = "Check Weekly <weekly@{DOMAIN}>"\n'
        f'base_url = "https://news.{DOMAIN}"\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\ntimeout = 10\n'
        + (f'username = "{username}"\n' if username else "")
        + f'\n[dkim]\nselector = "s1"\ndomain = "{DOMAIN}"\nprivate_key_path = "dkim.pem"\n' + extra,
        encoding="utf-8")


@pytest.fixture
def relay() -> Iterator[tuple[ThreadedSMTP, RecordingHandler]]:
    handler = RecordingHandler()
    with ThreadedSMTP(handler, authenticator=_accept, auth_require_tls=False) as server:
        yield server, handler


def check(root: Path, resolver: str | None = None, **options: Any) -> dict[str, Item]:
    dns = None
    if resolver is not None:
        host, port = resolver.split(":")
        dns = (host, int(port))
    items = run_checks(Workspace(root), options=CheckOptions(dns=dns, timeout=options.pop("timeout", 5.0),
                                                             **options))
    return {item.name: item for item in items}


def test_a_good_setup_passes_every_item_and_sends_nothing(ws: Path, relay, dkim_key, runner):
    server, handler = relay
    configure(ws, server.port)
    with dns_server(good_zone(dkim_key)) as resolver:
        result = runner.invoke(main, ["check", "--dns", resolver, "--timeout", "5"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("settings", "secret", "store", "base_url", "links", "smtp", "spf", "dkim", "dmarc",
                 "bounce domain", "alignment"):
        assert any(line.startswith(f"✓ {name}:") for line in lines), (name, result.output)
    assert "✗" not in result.output
    assert "AUTH as digest" in result.output and "permits 127.0.0.1" in result.output
    assert lines[-1] == "Ready to send"
    assert handler.received == []  # a check never sends a message


def test_no_smtp_is_the_embedded_mailbox_and_passes(ws: Path, runner):
    (ws / "digest.toml").write_text(f'[newsletter]\nfrom = "weekly@{DOMAIN}"\nbase_url = "https://news.{DOMAIN}"\n')
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert "✓ smtp: no [smtp]: messages go to the embedded mailbox" in result.output
    assert "spf" not in result.output  # nothing leaves the machine: no DNS asked


def test_smtp_down(ws: Path, dkim_key):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    configure(ws, port)
    with dns_server(good_zone(dkim_key)) as resolver:
        items = check(ws, resolver)
    assert items["smtp"].status == "fail"
    assert items["smtp"].found.startswith(f"cannot connect to 127.0.0.1:{port}")
    assert "check [smtp] host and port" in items["smtp"].fix
    # SPF cannot be tested against an unknown relay address: said, with the way round it.
    assert items["spf"].status == "warn" and "--sending-ip" in items["spf"].fix


def test_auth_refused(ws: Path, relay, dkim_key, monkeypatch: pytest.MonkeyPatch):
    server, _ = relay
    configure(ws, server.port)
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
    with dns_server(good_zone(dkim_key)) as resolver:
        items = check(ws, resolver)
    assert items["smtp"].status == "fail"
    assert "refused the login of 'digest': 535" in items["smtp"].found
    assert items["smtp"].fix == "check [smtp] username and DIGEST_SMTP_PASSWORD"


def test_a_username_without_password(ws: Path, relay, monkeypatch: pytest.MonkeyPatch):
    server, _ = relay
    configure(ws, server.port)
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD")
    with silent_dns() as resolver:
        items = check(ws, resolver, timeout=1.0)
    assert items["smtp"].status == "fail" and "DIGEST_SMTP_PASSWORD is empty" in items["smtp"].found


def test_bad_certificate_then_trusted(ws: Path, dkim_key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import ssl

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with ThreadedSMTP(RecordingHandler(), tls_context=context, require_starttls=True, authenticator=_accept) as server:
        configure(ws, server.port, security="starttls")
        with dns_server(good_zone(dkim_key)) as resolver:
            items = check(ws, resolver)
            assert items["smtp"].status == "fail"
            assert "the TLS certificate is not valid: self-signed certificate" in items["smtp"].found
            assert "certificate for this host name" in items["smtp"].fix
            monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # a private CA, trusted
            items = check(ws, resolver)
    assert items["smtp"].status == "ok", items["smtp"]
    assert "STARTTLS (certificate valid), AUTH as digest" in items["smtp"].found


def test_spf_missing(ws: Path, relay, dkim_key):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    zone[(DOMAIN, "TXT")] = ["google-site-verification=abc"]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["spf"].status == "fail" and items["spf"].found == f"no SPF record at {DOMAIN}"
    assert items["spf"].fix.startswith(f'publish TXT "v=spf1 ip4:127.0.0.1 -all" at {DOMAIN}')


def test_spf_not_permitting_the_relay(ws: Path, relay, dkim_key):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    zone[(DOMAIN, "TXT")] = ["v=spf1 ip4:192.0.2.1 include:_spf.relay-provider.net -all"]
    zone[("_spf.relay-provider.net", "TXT")] = ["v=spf1 ip4:192.0.2.0/28 ~all"]
    with dns_server(zone) as resolver:
        items = check(ws, resolver, sending_ip="198.51.100.7")
        assert items["spf"].status == "fail"
        assert "gives fail for 198.51.100.7" in items["spf"].found
        assert items["spf"].fix.startswith("add ip4:198.51.100.7")
        # The relay on this machine (127.0.0.1) sends from an address not known here: a warning, not a failure.
        items = check(ws, resolver)
        assert items["spf"].status == "warn" and "--sending-ip" in items["spf"].found
        # The same record does permit an address its include: lists (evaluated, not pattern-matched).
        items = check(ws, resolver, sending_ip="192.0.2.9")
    assert items["spf"].status == "ok"


def test_dkim_key_mismatch(ws: Path, relay, dkim_key):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    zone[(f"s1._domainkey.{DOMAIN}", "TXT")] = [f"v=DKIM1; k=rsa; p={_public(_key())}"]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["dkim"].status == "fail"
    assert items["dkim"].found == f"the key at s1._domainkey.{DOMAIN} is not the public key of [dkim] private_key_path"
    assert items["dkim"].fix == f'publish TXT "v=DKIM1; k=rsa; p={_public(dkim_key)}" at s1._domainkey.{DOMAIN}'


def test_dkim_missing_record(ws: Path, relay, dkim_key):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    del zone[(f"s1._domainkey.{DOMAIN}", "TXT")]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["dkim"].status == "fail" and items["dkim"].found == f"no DKIM key at s1._domainkey.{DOMAIN}"


def test_no_dmarc_and_p_none(ws: Path, relay, dkim_key):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    del zone[(f"_dmarc.{DOMAIN}", "TXT")]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
        assert items["dmarc"].status == "fail" and items["dmarc"].found == f"no DMARC record at _dmarc.{DOMAIN}"
        assert items["dmarc"].fix == f'publish TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{DOMAIN}" at ' \
                                     f"_dmarc.{DOMAIN}"
    zone[(f"_dmarc.{DOMAIN}", "TXT")] = ["v=DMARC1; p=none"]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["dmarc"].status == "warn" and "p=quarantine" in items["dmarc"].fix


def test_dns_not_answering(ws: Path, relay, runner):
    configure(ws, relay[0].port)
    with silent_dns() as resolver:
        result = runner.invoke(main, ["check", "--dns", resolver, "--timeout", "1"])
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if line.startswith("✗ dns:"))
    assert f"{resolver} did not answer for {DOMAIN} TXT" in line
    assert "fix: check the resolver (--dns HOST:PORT)" in line
    assert "Traceback" not in result.output


def test_bounce_domain_without_mx_and_not_aligned(ws: Path, relay, dkim_key):
    configure(ws, relay[0].port, extra='\n[bounces]\naddress = "bounces@mailer-elsewhere.net"\n')
    zone = good_zone(dkim_key)
    zone[("mailer-elsewhere.net", "TXT")] = ["v=spf1 ip4:127.0.0.1 -all"]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["spf"].status == "ok"  # SPF is the envelope sender's: the bounce domain
    assert items["bounce domain"].status == "fail" and "add an MX record for mailer-elsewhere.net" in \
        items["bounce domain"].fix
    assert items["alignment"].status == "fail"
    assert items["alignment"].found.startswith("the bounce domain mailer-elsewhere.net (SPF) not under " + DOMAIN)


def test_relay_size_limit_against_the_latest_issue(ws: Path, dkim_key):
    with ThreadedSMTP(RecordingHandler(), data_size_limit=4000, authenticator=_accept,
                      auth_require_tls=False) as server:
        configure(ws, server.port)
        (ws / "issues" / "3").mkdir(parents=True)
        (ws / "issues" / "3" / "preview.eml").write_bytes(b"x" * 5000)
        with dns_server(good_zone(dkim_key)) as resolver:
            items = check(ws, resolver)
    assert items["smtp size"].status == "fail"
    assert items["smtp size"].found == "issue 3 is 5,000 bytes; the relay takes at most 4,000"


def test_local_items_fail_with_their_fix(ws: Path, relay, runner):
    configure(ws, relay[0].port)
    text = (ws / "digest.toml").read_text().replace(f"https://news.{DOMAIN}", "http://localhost:8000")
    (ws / "digest.toml").write_text(text)
    (ws / ".digest").mkdir()
    (ws / ".digest" / "secret").write_text("x" * 64)
    os.chmod(ws / ".digest" / "secret", 0o644)
    with silent_dns() as resolver:
        items = check(ws, resolver, timeout=1.0)
    assert items["secret"].status == "fail" and items["secret"].fix == f"chmod 600 {ws / '.digest' / 'secret'}"
    assert items["base_url"].status == "fail" and "is not a public web address" in items["base_url"].found


def test_an_issue_built_for_another_host(ws: Path, relay):
    configure(ws, relay[0].port)
    (ws / "issues" / "1").mkdir(parents=True)
    (ws / "issues" / "1" / "issue.html").write_text('<a href="https://old-site.org/archive/1">view online</a>')
    with silent_dns() as resolver:
        items = check(ws, resolver, timeout=1.0)
    assert items["links"].status == "fail"
    assert items["links"].found.startswith("the links in issue 1 point at old-site.org, which digest serve does not")
    assert items["links"].fix.startswith("run digest build again")


def test_not_a_workspace_and_bad_settings(tmp_path: Path, runner, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1
    assert "✗ settings: no digest.toml in" in result.output and "fix: run digest init" in result.output
    (tmp_path / "digest.toml").write_text('[theme]\nbrand_colour = "#000"\n')
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1 and "unknown key 'brand_colour'" in result.output


def test_a_malformed_dns_option_is_a_usage_error(ws: Path, runner):
    result = runner.invoke(main, ["check", "--dns", "resolver.example:53"])
    assert result.exit_code == 2 and "is not ADDRESS[:PORT]" in result.output


def test_hostile_records_are_shown_as_data(ws: Path, relay, dkim_key, runner):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    zone[(DOMAIN, "TXT")] = ["v=spf1 include:\x1b[2J.loop.digest-check.org -all"]
    zone[(f"_dmarc.{DOMAIN}", "TXT")] = ["v=DMARC1; p=\x1b]0;owned\x07none"]
    with dns_server(zone) as resolver:
        result = runner.invoke(main, ["check", "--dns", resolver, "--timeout", "5"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[2J" in result.output  # shown, not obeyed
    assert any(line.startswith("✗ spf:") and "permerror" in line for line in result.output.splitlines()), \
        result.output


def test_an_spf_loop_is_a_permerror_not_a_hang(ws: Path, relay, dkim_key):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    zone[(DOMAIN, "TXT")] = [f"v=spf1 include:{DOMAIN} -all"]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["spf"].status == "fail" and "gives permerror for 127.0.0.1" in items["spf"].found


def test_a_placeholder_from_address_fails_once_smtp_is_set(ws: Path, relay):
    configure(ws, relay[0].port)
    (ws / "digest.toml").write_text((ws / "digest.toml").read_text().replace(f"weekly@{DOMAIN}",
                                                                             "newsletter@example.com"))
    with silent_dns() as resolver:
        items = check(ws, resolver, timeout=1.0)
    assert items["from"].status == "fail" and items["from"].found.startswith("newsletter@example.com is a placeholder")


def test_implicit_tls_with_a_trusted_certificate(ws: Path, dkim_key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import ssl

    from aiosmtpd.controller import Controller

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(RecordingHandler(), hostname="127.0.0.1", port=port, ssl_context=context,
                            authenticator=_accept, auth_require_tls=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    controller.start()
    try:
        configure(ws, port, security="tls")
        with dns_server(good_zone(dkim_key)) as resolver:
            items = check(ws, resolver)
            monkeypatch.delenv("SSL_CERT_FILE")
            untrusted = check(ws, resolver)
    finally:
        controller.stop()
    assert items["smtp"].status == "ok" and "TLS (certificate valid), AUTH as digest" in items["smtp"].found
    assert untrusted["smtp"].status == "fail" and "the TLS certificate is not valid" in untrusted["smtp"].found


def _echoing(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    # A relay with debugging left on: its refusal repeats the credentials, in several spellings.
    password = auth_data.password.decode("utf-8", "replace")
    return AuthResult(success=False, handled=False,
                      message=f"535 5.7.8 failed for {auth_data.login!r} with password {password} "
                              f"({password.upper()}, {password[:-1]}…)")


def test_a_relay_that_echoes_the_password_never_puts_it_in_the_report(ws: Path, dkim_key,
                                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "S3cr3t-Pa55w0rd!")
    with ThreadedSMTP(RecordingHandler(), authenticator=_echoing, auth_require_tls=False) as server:
        configure(ws, server.port)
        items = check(ws)
    found = items["smtp"].found
    assert items["smtp"].status == "fail" and "535" in found and "[password]" in found, found
    assert "s3cr3t" not in found.lower() and "Pa55w0rd" not in found, found


@pytest.mark.parametrize("records", [["v=DMARC1; rua=mailto:d@digest-check.org"], ["v=DMARC1; p=banana"],
                                     ["v=DMARC1; p=reject", "v=DMARC1; p=none"]])
def test_a_dmarc_record_receivers_would_ignore_fails(ws: Path, relay, dkim_key, records: list[str]):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    zone[(f"_dmarc.{DOMAIN}", "TXT")] = records
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["dmarc"].status == "fail", items["dmarc"]


@pytest.mark.parametrize("prefix", ["v=DKIM9; ", "v=DKIM1; k=ed25519; ", "v=DKIM1; h=md5; "])
def test_a_dkim_record_verifiers_would_discard_fails(ws: Path, relay, dkim_key, prefix: str):
    configure(ws, relay[0].port)
    zone = good_zone(dkim_key)
    zone[(f"s1._domainkey.{DOMAIN}", "TXT")] = [f"{prefix}p={_public(dkim_key)}"]
    with dns_server(zone) as resolver:
        items = check(ws, resolver)
    assert items["dkim"].status == "fail", items["dkim"]
    zone[(f"s1._domainkey.{DOMAIN}", "TXT")] = [f"v=DKIM1; p={_public(rsa.generate_private_key(65537, 2048))}",
                                                f"v=DKIM1; k=rsa; p={_public(dkim_key)}"]
    with dns_server(zone) as resolver:
        assert check(ws, resolver)["dkim"].status == "ok"  # a stale record first, ours second


def test_deeply_nested_toml_is_a_one_line_error(ws: Path, runner):
    (ws / "digest.toml").write_text("x = " + "[" * 1000 + "]" * 1000 + "\n")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2 and "nested too deeply" in result.stderr and "Traceback" not in result.output
