"""[bounces], [inbox] and [signup] values an attack pass found loose: an error naming the key, or a safe form."""

from __future__ import annotations

import pytest

from digest.cli import main
from digest.core.errors import ConfigError
from digest.core.settings import load_settings
from tests.conftest import point_smtp_at
from tests.test_config_validation import set_value


@pytest.mark.parametrize("section, line, words", [
    ("bounces", 'address = "b@x.example> NOTIFY=NEVER"', "address"),
    ("bounces", 'address = "b@x.example NOTIFY=NEVER"', "address"),
    ("bounces", 'address = "b@x.example>"', "address"),
    ("bounces", 'address = "b@[127.0.0.1]"', "address"),
    ("bounces", 'address = "b@exa mple.com"', "address"),
    ("bounces", 'address = "b@example.com,c@example.com"', "address"),
    ("inbox", "timeout = nan", "timeout"),
    ("inbox", "timeout = -5", "timeout"),
    ("inbox", "timeout = 0", "timeout"),
    ("inbox", "timeout = 1e300", "timeout"),
    ("inbox", "timeout = inf", "timeout"),
    ("inbox", 'host = "a b;c"', "host"),
    ("inbox", 'host = "imap.example.com:993"', "host"),
    ("inbox", 'host = "-imap.example.com"', "host"),
])
def test_bad_values_are_one_line_errors_naming_the_key(workspace, runner, section: str, line: str, words: str):
    if section == "inbox":
        set_value(workspace, "inbox", 'host = "imap.example.com"')
    set_value(workspace, section, line)
    with pytest.raises(ConfigError) as caught:
        load_settings(workspace)
    message = str(caught.value)
    assert "digest.toml" in message and f"[{section}] {words}" in message and "\n" not in message, message
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2 and "Traceback" not in result.output + result.stderr
    [error] = result.stderr.strip().splitlines()
    assert error.startswith("digest: error: ") and "digest.toml" in error


def test_an_idn_bounce_address_is_sent_in_its_ascii_form(workspace, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    set_value(workspace, "bounces", 'address = "bounces@bücher.example"')
    assert load_settings(workspace).bounces.address == "bounces@xn--bcher-kva.example"
    assert runner.invoke(main, ["build"]).exit_code == 0
    sent = runner.invoke(main, ["send", "--list", "subscribers/example.csv"])
    assert sent.exit_code == 0, sent.output + sent.stderr
    first = handler.received[0]
    assert first.mail_from.startswith("bounces+") and first.mail_from.endswith("@xn--bcher-kva.example")
    assert "<mailto:bounces+" in " ".join(first.message["List-Unsubscribe"].split())
    assert "@xn--bcher-kva.example?subject=" in first.message["List-Unsubscribe"]


def test_an_idn_inbox_host_is_read_in_its_ascii_form(workspace):
    set_value(workspace, "inbox", 'host = "imap.bücher.example"')
    set_value(workspace, "inbox", "timeout = 12.5")
    inbox = load_settings(workspace).inbox
    assert inbox is not None and (inbox.host, inbox.timeout) == ("imap.xn--bcher-kva.example", 12.5)
