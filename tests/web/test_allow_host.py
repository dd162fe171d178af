"""`digest serve --allow-host`: names, addresses and wildcards that work, anything else refused up front."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.web import running
from tests.web_helpers import free_port


def test_wildcards_answer_for_the_names_under_them_only(workspace: Path):
    with running(workspace, "serve", "--allow-host", "*.example.org", "--allow-host", ".Example.NET",
                 "--allow-host", "bücher.example") as serve:
        for host in ("a.example.org", "a.b.example.org:8080", "example.net", "b.example.net", "xn--bcher-kva.example"):
            assert serve.request("GET", "/archive/", headers={"Host": host})[0] == 200, host
        for host in ("example.org", "evil-example.org", "example.org.evil.example", "xexample.net",
                     "example.net.evil"):
            assert serve.request("GET", "/archive/", headers={"Host": host})[0] == 400, host


@pytest.mark.parametrize("value", ["bad host!", "*.", "*.*.example.com", "a b", "*example.com", "exa_mple..com"])
def test_a_value_that_names_no_host_is_a_one_line_error(workspace: Path, value: str):
    try:
        result = subprocess.run([sys.executable, "-m", "digest", "serve", "--port", str(free_port()),
                                 "--allow-host", value], cwd=workspace, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"--allow-host {value!r} was accepted (the server ran)") from None
    assert result.returncode == 2, result
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"digest: error: --allow-host {value!r} is not a host name"), line
