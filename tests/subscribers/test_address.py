"""The fast path for plain addresses gives exactly email-validator's verdicts (Hypothesis, against the real thing)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.subscribers.address import check_address, fast_address

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
LABEL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
TLDS = ["com", "org", "net", "io", "de", "c", "co", "test", "local", "localhost", "onion", "arpa", "invalid",
        "example", "123", "xn--p1ai", "COM", "a1", "museum"]


def _slow(raw: str) -> str | None:
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return None
    return str(result.ascii_email or result.normalized)


def _verdict(raw: str) -> str | None:
    try:
        return check_address(raw)
    except ValueError:
        return None


local_parts = st.lists(st.text(ATEXT, min_size=0, max_size=20), min_size=1, max_size=4).map(".".join)
labels = st.text(LABEL_CHARS, min_size=0, max_size=20) | st.sampled_from(["xn--80ak6aa92e", "ab--cd", "-x", "x-"])
domains = st.builds(lambda parts, tld: ".".join([*parts, tld]), st.lists(labels, min_size=0, max_size=4),
                    st.sampled_from(TLDS) | st.text(LABEL_CHARS, min_size=1, max_size=8))
addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
anything = st.text(ATEXT + ".@ \"()[]\\,;:<>é\u00a0\u200b", max_size=70)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(addresses | anything)
def test_the_fast_path_agrees_with_email_validator(raw: str):
    fast = fast_address(raw)
    slow = _slow(raw)
    if fast is not None:
        assert slow == fast, raw  # whatever it accepts, email-validator accepts with the same result
    assert _verdict(raw) == (slow if len(raw) <= 254 else None), raw  # the combined check: same verdicts


def test_the_fast_path_takes_ordinary_addresses_and_leaves_the_rest():
    assert fast_address("Ada.Lovelace+news@Example.COM") == "Ada.Lovelace+news@example.com"
    for odd in ("a@b.c", "x@foo.test", "x@xn--80ak6aa92e.com", "\"quoted\"@example.com", "ü@example.com",
                "a..b@example.com", "a@b.123"):
        assert fast_address(odd) is None, odd


def test_plain_addresses_never_reach_email_validator():
    import digest.subscribers.address as address

    calls = []
    real = validate_email

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    import email_validator

    email_validator.validate_email = counting
    try:
        for i in range(1000):
            address.check_address(f"reader{i}@example.com")
        assert calls == []
        address.check_address("ü@example.com")
        assert len(calls) == 1
    finally:
        email_validator.validate_email = real
