"""Subscriber lists: formats, validation, duplicates, suppression, segments."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from digest.cli import main
from tests.conftest import FIXTURES, point_smtp_at
from tests.helpers.lists import read_rows

LISTS = FIXTURES / "lists"


def test_mailchimp_export(runner):
    result = runner.invoke(main, ["subscribers", "check", str(LISTS / "mailchimp.csv")])
    assert result.exit_code == 1
    out = result.output
    assert f"{LISTS / 'mailchimp.csv'}:3: duplicate of line 2" in out
    assert ":4: invalid email 'not-an-address'" in out
    assert ":5: control character (CR, LF, …) in First Name" in out
    assert ":9: empty email" in out
    assert "4 valid, 1 duplicate(s), 3 invalid" in out
    rows, _ = read_rows(LISTS / "mailchimp.csv")
    by_email = {r.email: r for r in rows}
    ada = by_email["ada@example.com"]
    assert ada.name == "Ada Lovelace" and ada.tags == ("VIP", "Science")
    assert ada.attrs["address"] == "12 St James's Square, London"
    assert ada.attrs["member_rating"] == "5"
    assert by_email["quote@example.org"].name == 'Dwayne "The Rock" Johnson, Jr.'
    assert "josé@exämple.com" in by_email  # internationalised local part and domain
    assert "用户@例子.广告" in by_email
    assert not any("Bcc" in r.name for r in rows)


def test_listmonk_import(workspace: Path, runner):
    result = runner.invoke(main, ["subscribers", "import", str(LISTS / "listmonk.csv"), "--list", "weekly"])
    assert result.exit_code == 0, result.stderr
    assert ":3: duplicate of line 2" in result.output
    assert ":4: attributes is not valid JSON" in result.output
    assert ":5: attributes must be a JSON object" in result.output
    assert "2 subscriber(s), 3 left out" in result.output
    written = workspace / "subscribers" / "weekly.csv"
    rows = list(csv.DictReader(written.open(encoding="utf-8")))
    assert [r["email"] for r in rows] == ["lin@example.net", "ok@example.net"]
    assert rows[0]["name"] == "Lin Ma" and rows[0]["city"] == "Lyon" and rows[0]["plan"] == "pro"
    assert rows[1]["name"] == "Comma, Inside"
    again, problems = read_rows(written)  # the clean list reads back without a problem
    assert problems == [] and again[0].attrs["score"] == "7"


def test_semicolons_and_latin1(runner):
    rows, problems = read_rows(LISTS / "semicolon.csv")
    assert problems == []
    assert rows[0].tags == ("news", "tech") and rows[0].attrs == {"city": "Berlin"}
    result = runner.invoke(main, ["subscribers", "check", str(LISTS / "latin1.csv")])
    assert result.exit_code == 0
    assert "read as cp1252" in result.stderr
    rows, _ = read_rows(LISTS / "latin1.csv")
    assert [r.name for r in rows] == ["François Müller", "Zoë Brontë"]


@pytest.mark.parametrize("name", ["mailchimp.csv", "listmonk.csv", "semicolon.csv", "latin1.csv"])
def test_no_traceback_on_any_fixture(runner, name):
    for command in (["subscribers", "check"], ["subscribers", "stats"]):
        result = runner.invoke(main, [*command, str(LISTS / name)])
        assert "Traceback" not in result.output + result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("content", [None, b"", b"\x00\x01binary\x00", b"name,city\nAda,Paris\n"])
def test_unusable_files_are_one_line(workspace: Path, runner, content):
    path = workspace / "list.csv"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(main, ["subscribers", "check", str(path)])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert str(path) in line and "Traceback" not in result.stderr


def test_suppression_commands(workspace: Path, runner):
    assert "suppressed (bounced)" in runner.invoke(
        main, ["subscribers", "unsubscribe", "ada@example.com", "--reason", "bounced"]).output
    # what the operator writes outranks a bounce (see README: the strongest reason shows); once is enough
    assert "suppressed (manual)" in runner.invoke(main, ["subscribers", "unsubscribe", "ADA@example.com"]).output
    assert "already suppressed" in runner.invoke(main, ["subscribers", "unsubscribe", "ADA@example.com"]).output
    assert "already suppressed" in runner.invoke(
        main, ["subscribers", "unsubscribe", "ada@example.com", "--reason", "bounced"]).output
    exported = runner.invoke(main, ["subscribers", "export-suppressed"]).output.splitlines()
    assert exported[0] == "email,reason,issue,created_at,list" and exported[1].startswith("ada@example.com,manual,")
    stats = runner.invoke(main, ["subscribers", "stats"]).output
    assert "active 2, suppressed 1, duplicate 0, invalid 0" in stats
    assert "resubscribed" in runner.invoke(main, ["subscribers", "resubscribe", "ada@example.com"]).output
    assert runner.invoke(main, ["subscribers", "unsubscribe", "not an address"]).exit_code == 2
    bad_reason = runner.invoke(main, ["subscribers", "unsubscribe", "a@example.com", "--reason", "x"])
    assert bad_reason.exit_code == 2


def test_segments_by_tag_and_attribute(workspace: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    (workspace / "subscribers" / "tagged.csv").write_text(
        "email,name,tags,city\n"
        "a@example.com,A,news;tech,Paris\n"
        "b@example.com,B,tech,Lyon\n"
        "c@example.com,C,sport,Paris\n")
    runner.invoke(main, ["build"])
    result = runner.invoke(main, ["send", "--list", "subscribers/tagged.csv", "--tag", "tech", "--where", "city=Paris"])
    assert result.exit_code == 0, result.stderr
    assert [r.rcpt_tos[0] for r in handler.received] == ["a@example.com"]


def test_leaving_one_list_counts_for_that_list_only_in_stats_dry_run_export_and_send(workspace: Path, runner,
                                                                                        recorder):
    server, handler = recorder
    point_smtp_at(workspace, server.port)
    for name in ("weekly", "monthly"):
        (workspace / "subscribers" / f"{name}.csv").write_text("email\nada@example.com\nbob@example.com\n")
    left = runner.invoke(main, ["subscribers", "unsubscribe", "ada@example.com", "--reason", "unsubscribed",
                                "--list", "weekly"])
    assert "ada@example.com: suppressed (unsubscribed, list weekly)" in left.output
    stats = runner.invoke(main, ["subscribers", "stats"]).output
    assert "weekly.csv: active 1, suppressed 1" in stats and "monthly.csv: active 2, suppressed 0" in stats
    assert runner.invoke(main, ["build"]).exit_code == 0
    dry = runner.invoke(main, ["send", "--list", "subscribers/weekly.csv", "--dry-run"])
    assert "1 message(s) would be sent" in dry.output and "1 suppressed" in dry.output
    dry = runner.invoke(main, ["send", "--list", "subscribers/monthly.csv", "--dry-run"])
    assert "2 message(s) would be sent" in dry.output
    exported = runner.invoke(main, ["subscribers", "export-suppressed"]).output.splitlines()
    assert exported[1].startswith("ada@example.com,unsubscribed,") and exported[1].endswith(",weekly")
    assert runner.invoke(main, ["send", "--list", "subscribers/weekly.csv"]).exit_code == 0
    assert [r.rcpt_tos for r in handler.received] == [["bob@example.com"]]
