"""Compose: every message parses back; quoted-printable stays within limits; values are escaped."""

from __future__ import annotations

import quopri
import re
from email import message_from_bytes, message_from_string
from email.policy import default

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.compose import MessageSkeleton, TokenError, sign_token, verify_token
from digest.compose.qp import qp_encode, qp_value
from digest.core.model import Rendered, Subscriber
from digest.core.settings import Newsletter

MARK = "dgsttest0000"


def rendered(html: str, text: str, fields: tuple[str, ...]) -> Rendered:
    return Rendered(number=7, subject="Weekly: Ünïcode & more", preheader="p", html=html, text=text,
                    marker=MARK, fields=fields)


def slot(n: int) -> str:
    return f"{MARK}f{n}z"


@given(st.text(max_size=300))
def test_qp_round_trips_and_never_starts_a_line_with_a_dot(text):
    encoded = qp_encode(text)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert not any(line.startswith(b".") for line in encoded.split(b"\r\n"))
    assert quopri.decodestring(encoded).decode("utf-8") == text.replace("\r\n", "\n").replace("\n", "\r\n")


@given(st.text(max_size=200).filter(lambda s: "\n" not in s and "\r" not in s))
def test_qp_value_round_trips(value):
    encoded = qp_value(value)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert not any(line.startswith(b".") for line in encoded.split(b"\r\n"))
    assert quopri.decodestring(encoded).decode("utf-8") == value


def test_hostile_values_are_escaped_and_never_add_headers():
    skeleton = MessageSkeleton(
        rendered(f"<p>Hi {slot(0)}</p><a href=\"{slot(1)}\">u</a>", f"Hi {slot(0)}\n{slot(1)}\n",
                 ("name", "unsubscribe_url")),
        Newsletter(), secret=b"k")
    evil = Subscriber("eve@example.com", "Eve <script>alert(1)</script>\r\nBcc: all@example.com")
    message = message_from_bytes(skeleton.compose(evil).data, policy=default)
    assert message["Bcc"] is None
    assert message["To"].addresses[0].addr_spec == "eve@example.com"
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    text = message.get_body(("plain",)).get_content()
    assert re.search(r"Hi Eve <script>alert\(1\)</script> +Bcc: all@example.com\r\n", text)  # one line
    assert message["Subject"] == "Weekly: Ünïcode & more"


def test_non_ascii_name_and_long_values():
    long_city = "Llanfair" + "pwllgwyngyll" * 20
    skeleton = MessageSkeleton(rendered(f"<p>{slot(0)} in {slot(1)}</p>", f"{slot(0)} / {slot(1)}",
                                        ("name", "attrs.city")), Newsletter(), secret=b"k")
    data = skeleton.compose(Subscriber("zoe@example.com", "Zoë Ørsted", attrs={"city": long_city})).data
    assert all(len(line) <= 76 for line in data.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))
    message = message_from_bytes(data, policy=default)
    assert message["To"].addresses[0].display_name == "Zoë Ørsted"
    assert f"Zoë Ørsted / {long_city}" in message.get_body(("plain",)).get_content()
    assert message.defects == [] and all(not part.defects for part in message.walk())


def test_message_id_is_deterministic_per_issue_and_recipient():
    r = rendered("<p>x</p>", "x", ())
    one = MessageSkeleton(r, Newsletter(), secret=b"k")
    two = MessageSkeleton(r, Newsletter(), secret=b"k")
    assert one.message_id("a@example.com") == two.message_id("a@example.com")
    assert one.message_id("a@example.com") != one.message_id("b@example.com")


def test_tokens_verify_and_refuse_tampering():
    token = sign_token(b"secret", email="a@example.com", list_name="weekly", issue=3)
    assert verify_token(b"secret", token).email == "a@example.com"
    body, mac = token.split(".")
    for forged in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), body + "." + body[:22], "x", "",
                   sign_token(b"other", email="a@example.com", list_name="weekly", issue=3), "a.b.c",
                   "!!!!.????"):
        with pytest.raises(TokenError):
            verify_token(b"secret", forged)


def test_internationalised_address_keeps_a_name_with_commas_and_quotes_whole():
    skeleton = MessageSkeleton(rendered("<p>x</p>", "x", ()), Newsletter(), secret=b"k")
    for name in ('Núñez, José', 'Ann "The" B\\', ""):
        composed = skeleton.compose(Subscriber("josé@exämple.com", name))
        assert composed.smtputf8
        # RFC 6532 headers are UTF-8 text; the bytes parser would surrogate-escape them.
        message = message_from_string(composed.data.decode("utf-8"), policy=default)
        [address] = message["To"].addresses
        assert (address.display_name, address.addr_spec) == (name, "josé@exämple.com")


def _dkim_setup(tmp_path, curve: bool = False):
    import base64 as b64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from digest.compose.dkim import DKIMSigner
    from digest.core.settings import DKIMSettings

    key = ec.generate_private_key(ec.SECP256R1()) if curve else rsa.generate_private_key(65537, 2048)
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (tmp_path / "k.pem").chmod(0o600)  # a key others can read is refused
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + b64.b64encode(public)
    return DKIMSigner(DKIMSettings("mail", "news.example.com", "k.pem"), root=tmp_path), (lambda *_a, **_k: record)


def test_dkim_signs_smtputf8_headers_and_trailing_blank_lines(tmp_path):
    import dkim

    signer, dns = _dkim_setup(tmp_path)
    skeleton = MessageSkeleton(rendered("<p>x</p>\n\n\n", "x\n\n\n", ()), Newsletter(), secret=b"k", signer=signer)
    for subscriber in (Subscriber("josé@exämple.com", "Núñez, José"), Subscriber("ann@example.com", "Ann")):
        data = skeleton.compose(subscriber).data
        assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=news.example.com; s=mail;")
        assert all(len(line) <= 998 for line in data.split(b"\r\n"))
        assert dkim.verify(data, dnsfunc=dns), subscriber.email
        assert not dkim.verify(data.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc=dns)


def test_dkim_key_problems_are_one_line_config_errors(tmp_path):
    from digest.compose.dkim import DKIMSigner
    from digest.core.errors import ConfigError
    from digest.core.settings import DKIMSettings

    with pytest.raises(ConfigError, match="cannot read"):
        DKIMSigner(DKIMSettings("mail", "x.example", "missing.pem"), root=tmp_path)
    (tmp_path / "bad.pem").write_text("not a key")
    (tmp_path / "bad.pem").chmod(0o600)
    with pytest.raises(ConfigError, match="not an unencrypted PEM"):
        DKIMSigner(DKIMSettings("mail", "x.example", "bad.pem"), root=tmp_path)
    with pytest.raises(ConfigError, match="must be an RSA key"):
        _dkim_setup(tmp_path, curve=True)


# -- the Subject header: first words on the first line (issue 13, item 7) -------------------------

SUBJECTS = [
    "Development Central Development Central Development China, Development",  # the stdlib's "Subject:" alone
    "Science & Cooperation Weekly: China, Central Asian Countries Share High-quality Development",
    "Weekly: Ünïcode & more",
    "Wöchentlich: Überraschung bei der Wahl in Bayern und Baden-Württemberg, die Grünen gewinnen deutlich",
    "科技周刊：中国与中亚国家共享高质量发展，合作共赢的新篇章正在展开",
    "A title quoting =?utf-8?q?an_encoded_word?= literally",
    "Short",
    "x" * 120,
]


def fits(line: bytes) -> bool:
    """At most 78 characters, unless the line holds one word that is longer (RFC 5322 allows 998)."""
    return len(line) <= 78 or len(line.removeprefix(b"Subject:").split()) == 1


def subject_lines(subject: str) -> list[bytes]:
    skeleton = MessageSkeleton(Rendered(number=1, subject=subject, preheader="p", html="<p>x</p>", text="x",
                                        marker=MARK, fields=()), Newsletter(), secret=b"k")
    data = skeleton.compose(Subscriber("a@example.com")).data
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.startswith(b"Subject:"))
    end = next(i for i in range(start + 1, len(head)) if not head[i].startswith(b" "))
    assert message_from_bytes(data, policy=default)["Subject"] == " ".join(subject.split())
    return head[start:end]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_subject_starts_on_its_own_line_and_folds_at_words(subject):
    lines = subject_lines(subject)
    first = lines[0].decode("ascii")
    assert first.startswith("Subject: ") and first[len("Subject: "):].strip()  # never "Subject:" alone
    assert all(fits(line) for line in lines)
    assert all(line.startswith(b" ") and line.strip() for line in lines[1:])


def test_ascii_subject_fills_the_first_line_like_a_mail_client():
    lines = subject_lines(SUBJECTS[0])
    assert lines == [b"Subject: Development Central Development Central Development China,",
                     b" Development"]


@given(st.text(st.sampled_from("ab xyz ü中"), min_size=1, max_size=250).filter(str.strip)
       | st.text(min_size=1, max_size=250).filter(lambda s: s.strip() and s.isprintable()))
def test_any_subject_round_trips_with_a_non_empty_first_line(subject):
    lines = subject_lines(subject)
    assert lines[0].startswith(b"Subject: ") and lines[0][9:].strip()
    assert all(fits(line) for line in lines)
