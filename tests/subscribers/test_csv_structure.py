"""Hostile CSV structure: unclosed quotes, huge fields, NUL bytes, stray CRs, binary files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from digest.core.errors import SubscriberError
from tests.helpers.lists import read_rows


def rows_of(count: int) -> list[str]:
    """Row n (counting the header as line 1) is on line n."""
    return [f"u{n}@example.com,User {n}\n" for n in range(2, count + 2)]


def write(path: Path, rows: list[str]) -> Path:
    path.write_bytes(("email,name\n" + "".join(rows)).encode("utf-8"))
    return path


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", "subscribers", "check", str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("where", [40, 990, 1000])
def test_an_unterminated_quote_is_an_error_at_its_line(tmp_path: Path, where: int):
    rows = rows_of(999)  # lines 2 … 1000
    rows[where - 2] = f'u{where}@example.com,"Broken name\n'
    path = write(tmp_path / "list.csv", rows)
    with pytest.raises(SubscriberError) as caught:
        read_rows(path)
    assert caught.value.line == where and "quote" in str(caught.value), str(caught.value)
    result = check(path)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"list.csv:{where}:" in line and "quote" in line, line
    assert "valid" not in result.stdout  # no count that silently leaves out the rows after it


def test_a_long_quoted_note_that_closes_is_kept(tmp_path: Path):
    rows = rows_of(20)
    rows[3] = 'u5@example.com,"Ann\nSmith"\n'  # a line break in a quoted field is that row's problem only
    got, problems = read_rows(write(tmp_path / "list.csv", rows))
    emails = [row.email for row in got]
    assert len(emails) == 19 and [(p.line, "control character" in p.reason) for p in problems] == [(5, True)]


@pytest.mark.parametrize("layout", ["one line", "quoted, many lines"])
def test_a_10_mb_field_is_that_rows_problem(tmp_path: Path, layout: str):
    rows = rows_of(999)
    huge = "x" * 10_000_000 if layout == "one line" else '"' + ("x" * 999 + "\n") * 10_000 + '"'
    rows[40 - 2] = f"u40@example.com,{huge}\n"
    path = write(tmp_path / "list.csv", rows)
    got, problems = read_rows(path)
    emails = [row.email for row in got]
    assert len(emails) == 998 and "u41@example.com" in emails and "u1000@example.com" in emails
    [problem] = problems
    assert problem.line == 40 and ("longer" in problem.reason or "larger" in problem.reason), problem
    result = check(path)
    assert result.returncode == 1, result.stderr
    assert "list.csv:40:" in result.stdout and "998 valid, 0 duplicate(s), 1 invalid" in result.stdout


def test_nul_bytes_are_the_rows_problem_early_or_late(tmp_path: Path):
    rows = rows_of(5000)  # about 130 KB: line 4000 is far past the first 64 KB
    for line in (3, 7, 4000):
        rows[line - 2] = f"u{line}@exa\0mple.com,User\n"
    rows[20 - 2] = "u20@example.com,Us\0er\n"
    path = write(tmp_path / "list.csv", rows)
    got, problems = read_rows(path)
    emails = [row.email for row in got]
    assert len(emails) == 4996
    assert [(p.line, "control character" in p.reason) for p in problems] == [(n, True) for n in (3, 7, 20, 4000)]
    result = check(path)
    assert result.returncode == 1 and "4996 valid, 0 duplicate(s), 4 invalid" in result.stdout, result.stderr


def test_many_nul_rows_early_are_still_rows_not_a_binary_file(tmp_path: Path):
    rows = rows_of(2000)
    for n in range(2, 1000, 2):  # half the first 64 KB's rows carry a NUL
        rows[n - 2] = f"u{n}@example.com,Us\0er\n"
    got, problems = read_rows(write(tmp_path / "list.csv", rows))
    emails = [row.email for row in got]
    assert len(problems) == 499 and len(emails) == 2000 - 499


def test_a_stray_carriage_return_is_the_rows_problem(tmp_path: Path):
    rows = rows_of(50)
    rows[10 - 2] = "u10@example.com,Ann\rSmith\n"
    got, problems = read_rows(write(tmp_path / "list.csv", rows))
    emails = [row.email for row in got]
    assert len(emails) == 49 and [(p.line, "control character" in p.reason) for p in problems] == [(10, True)]


def test_classic_mac_line_ends_are_read(tmp_path: Path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"email,name\rann@example.com,Ann\rbob@example.com,Bob\r")
    got, problems = read_rows(path)
    emails = [row.email for row in got]
    assert emails == ["ann@example.com", "bob@example.com"] and problems == []


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n" + b"\0" * 64 + bytes(range(256)) * 64,
    b"email,name\n" + bytes(range(256)) * 300,
    b"PK\x03\x04" + bytes(range(256)) * 40,
    b"email,na\0me\nann@example.com,Ann\n",
])
def test_real_binary_files_are_binary(tmp_path: Path, content: bytes):
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with pytest.raises(SubscriberError, match="binary file"):
        read_rows(path)
