"""DKIM hardening, each case checked with dkimpy: oversigning, IDN domains, tag injection, LF, t=."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.compose import MessageSkeleton
from digest.compose.dkim import DKIMSigner
from digest.core.errors import ConfigError
from digest.core.model import Rendered, Subscriber
from digest.core.settings import DKIMSettings, Newsletter, load_settings

CLOCK = 1_790_000_000.0


def _rendered() -> Rendered:
    return Rendered(number=7, subject="Issue seven", preheader="p", html="<p>Hello</p>\n", text="Hello\n",
                    marker="dgst000000000000", fields=(), view_url="https://x.example/archive/7")


def _signer(tmp_path: Path, domain: str = "news.example.com",
            selector: str = "mail") -> tuple[DKIMSigner, Callable[..., bytes], list[bytes]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (tmp_path / "k.pem").chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    return DKIMSigner(DKIMSettings(selector, domain, "k.pem"), root=tmp_path), dns, asked


def _message(signer: DKIMSigner, newsletter: Newsletter | None = None) -> bytes:
    skeleton = MessageSkeleton(_rendered(), newsletter or Newsletter(), secret=b"k" * 32, signer=signer,
                               clock=lambda: CLOCK)
    return skeleton.compose(Subscriber("ann@example.com", "Ann")).data


def _add_header(data: bytes, field: bytes, *, on_top: bool) -> bytes:
    """A header field added by someone on the way: before the others, or at the end of the block."""
    signature_end = data.index(b"\r\n", data.index(b" b=")) + 2
    while data[signature_end:signature_end + 1] in (b" ", b"\t"):
        signature_end = data.index(b"\r\n", signature_end) + 2
    if on_top:
        return data[:signature_end] + field + b"\r\n" + data[signature_end:]
    head, _, body = data.partition(b"\r\n\r\n")
    return head + b"\r\n" + field + b"\r\n\r\n" + body


@pytest.mark.parametrize("field, on_top", [
    (b"Subject: You won a prize", True),  # a second Subject shown in place of ours
    (b"Subject: You won a prize", False),
    (b"Reply-To: thief@evil.example", False),  # absent from our message, added on the way
    (b"From: Bank <help@bank.example>", True),
    (b"List-Unsubscribe: <https://evil.example/u>", True),
    (b"To: someone-else@example.net", True),
])
def test_added_or_repeated_important_headers_break_the_signature(tmp_path: Path, field: bytes, on_top: bool):
    signer, dns, _ = _signer(tmp_path)
    data = _message(signer)
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(_add_header(data, field, on_top=on_top), dnsfunc=dns), field


def test_reply_to_present_is_signed_and_a_second_one_breaks_it(tmp_path: Path):
    signer, dns, _ = _signer(tmp_path)
    data = _message(signer, Newsletter(reply_to="Desk <desk@example.com>"))
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(_add_header(data, b"Reply-To: thief@evil.example", on_top=True), dnsfunc=dns)


def test_an_idn_domain_signs_in_its_ascii_form(tmp_path: Path):
    signer, dns, asked = _signer(tmp_path, domain="bücher.example")
    data = _message(signer)
    assert b" d=xn--bcher-kva.example;" in data
    assert dkim.verify(data, dnsfunc=dns)
    assert asked == [b"mail._domainkey.xn--bcher-kva.example."]


@pytest.mark.parametrize("selector, domain", [
    ("mail", "a.example; x=1"), ("mail; l=0", "news.example.com"), ("mail", "news example.com"),
    ("ma il", "news.example.com"), ("mail", ""), ("", "news.example.com"), ("mail", "-bad-.example"),
])
def test_selector_and_domain_cannot_inject_tags(tmp_path: Path, selector: str, domain: str):
    with pytest.raises(ConfigError, match=r"\[dkim\]"):
        _signer(tmp_path, domain=domain, selector=selector)
    (tmp_path / "digest.toml").write_text(f'[dkim]\nselector = "{selector}"\ndomain = "{domain}"\n'
                                          'private_key_path = "k.pem"\n')
    with pytest.raises(ConfigError, match=r"digest.toml:\d+: \[dkim\]"):
        load_settings(tmp_path)


def test_lf_only_input_is_refused(tmp_path: Path):
    signer, dns, _ = _signer(tmp_path)
    data = _message(signer).split(b"\r\n", 8)[-1]  # the unsigned message
    with pytest.raises(ValueError, match="CRLF"):
        signer.sign(data.replace(b"\r\n", b"\n"))
    with pytest.raises(ValueError, match="CRLF"):
        signer.sign(data.replace(b"\r\n", b"\n", 3))


def test_t_comes_from_the_skeleton_clock(tmp_path: Path):
    signer, dns, _ = _signer(tmp_path)
    data = _message(signer)
    assert f" t={int(CLOCK)};".encode() in data
    assert b"Date: Mon, 21 Sep 2026" in data  # the same clock as the Date header
    assert dkim.verify(data, dnsfunc=dns)


@pytest.mark.parametrize("field, on_top", [
    (b"Sender: Bank <help@bank.example>", True),
    (b"Cc: everyone@example.net", False),
    (b"Content-Transfer-Encoding: base64", False),  # re-reads the whole body as something else
])
def test_sender_cc_and_content_transfer_encoding_are_oversigned(tmp_path: Path, field: bytes, on_top: bool):
    signer, dns, _ = _signer(tmp_path)
    data = _message(signer)
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(_add_header(data, field, on_top=on_top), dnsfunc=dns), field


def _small_rsa_key(bits: int) -> bytes:
    """An RSA key of `bits` bits as PEM (cryptography only generates 1024 and more; this one is on purpose)."""
    import secrets

    def probable_prime(size: int) -> int:
        while True:
            n = secrets.randbits(size) | (1 << (size - 1)) | 1
            if all(n % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)) and all(
                    pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)):
                return n

    e = 65537
    while True:
        p, q = probable_prime(bits // 2), probable_prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and (p * q).bit_length() == bits and phi % e:
            break
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                    rsa.RSAPublicNumbers(e, p * q))
    key = numbers.private_key(unsafe_skip_rsa_key_validation=True)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_a_key_under_1024_bits_is_refused_and_under_2048_warned_about(workspace: Path, runner):
    from digest.cli import main

    key = workspace / "dkim.pem"
    key.write_bytes(_small_rsa_key(512))
    key.chmod(0o600)
    with (workspace / "digest.toml").open("a") as f:
        f.write('\n[dkim]\nselector = "mail"\ndomain = "news.example.com"\nprivate_key_path = "dkim.pem"\n')
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "digest: error: dkim.pem: [dkim] the key has 512 bits; receivers ignore DKIM keys under 1024 bits "
        "(RFC 8301): make a 2048-bit key"], result.stderr
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    key.write_bytes(small.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    assert "the DKIM key has 1024 bits; use 2048 or more (RFC 8301)" in result.stderr
    public = small.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    eml = (workspace / "issues" / "1" / "preview.eml").read_bytes()
    assert dkim.verify(eml, dnsfunc=lambda name, timeout=5: b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))
