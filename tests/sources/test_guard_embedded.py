"""The fetch guard judges IPv6 addresses that carry an IPv4 address by the IPv4 address inside, and never
opens the cloud metadata addresses, not even with allow_private_networks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.app.fetching import fetch_sources
from digest.core.sourcespec import SourceSpec
from digest.sources.guard import GuardedBackend, RefusedAddress, is_metadata, is_public

METADATA_FORMS = ["169.254.169.254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "64:ff9b:1:a9fe:a9:fe00::",
                  "::a9fe:a9fe", "fd00:ec2::254"]


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b::a00:5",
                                     "64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1:7f00:0:100::", "::a9fe:a9fe",
                                     "::7f00:1", "::a00:5"])
def test_nat64_and_ipv4_compatible_forms_are_judged_by_the_ipv4_inside(address: str) -> None:
    assert not is_public(address)


def test_a_nat64_form_of_a_public_address_stays_public() -> None:
    assert is_public("64:ff9b::5db8:d70e")  # 93.184.215.14
    assert is_public("93.184.215.14")


@pytest.mark.parametrize("address", METADATA_FORMS)
def test_every_form_of_a_metadata_address_is_one(address: str) -> None:
    assert is_metadata(address)
    assert "cloud metadata" in str(RefusedAddress(address, address))
    assert "allow_private_networks" not in str(RefusedAddress(address, address))


@pytest.mark.parametrize("address", METADATA_FORMS)
def test_allow_private_networks_opens_loopback_but_never_the_metadata_service(address: str) -> None:
    backend = GuardedBackend(allow_private=True)

    async def connect(host: str) -> None:
        stream = await backend.connect_tcp(host, 80, timeout=2)
        await stream.aclose()

    with pytest.raises(RefusedAddress):
        asyncio.run(connect(address))


def test_a_fetch_with_allow_private_networks_refuses_the_metadata_address(workspace: Path) -> None:
    with (workspace / "digest.toml").open("a", encoding="utf-8") as f:
        f.write("\n[fetch]\nallow_private_networks = true\nconnect_timeout = 2\n")
    with Context(workspace) as ctx:
        report = fetch_sources(ctx, [SourceSpec(f"http://[{a}]/latest/meta-data/" if ":" in a else
                                                f"http://{a}/latest/meta-data/", kind="page")
                                     for a in ("64:ff9b::a9fe:a9fe", "169.254.169.254", "fd00:ec2::254")])
    outcomes = [(r.outcome, r.reason) for r in report.results]
    assert all(outcome == "refused" and "cloud metadata" in reason for outcome, reason in outcomes), \
        json.dumps(outcomes)


@pytest.mark.parametrize("address", ["::ffff:0:a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "169.254.170.2",
                                     "100.100.100.200"])
def test_translated_forms_local_nat64_readings_and_other_clouds_count_as_metadata(address: str) -> None:
    assert is_metadata(address) and not is_public(address)


def test_the_guard_says_an_before_a_vowel() -> None:
    assert "is an unspecified address" in str(RefusedAddress("0.0.0.0", "0.0.0.0"))
