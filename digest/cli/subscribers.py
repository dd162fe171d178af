"""`digest subscribers …`: check, import, stats, unsubscribe, resubscribe, export-suppressed."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import click

from digest.cli import warn
from digest.config import Workspace
from digest.errors import ConfigError, SubscriberError
from digest.pipeline import write_atomically
from digest.state import SUPPRESSION_REASONS, State
from digest.subscribers import RowProblem, check_address, read_list
from digest.subscribers.dedupe import SeenAddresses

__all__ = ["subscribers"]


@click.group()
def subscribers() -> None:
    """Check, import and manage subscriber lists and the suppression list."""


def _file(path: Path) -> Path:
    if not path.exists():
        raise SubscriberError("no such file", path=str(path))
    return path


@subscribers.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--check-dns", is_flag=True, help="Also check that each domain can receive mail (DNS).")
@click.option("--encoding", help="Read the file in this encoding instead of detecting it.")
def check(file: Path, check_dns: bool, encoding: str | None) -> None:
    """Report valid rows, duplicates and invalid rows (file:line: reason); exit 1 if any is invalid."""
    invalid: list[RowProblem] = []
    valid = duplicates = 0
    with SeenAddresses() as seen:
        for sub in read_list(_file(file), on_problem=invalid.append, warn=warn, check_dns=check_dns,
                             encoding=encoding):
            first = seen.add(sub.key, sub.line)
            if first is not None:
                duplicates += 1
                click.echo(f"{file}:{sub.line}: duplicate of line {first} ({sub.email})")
            else:
                valid += 1
    for problem in invalid:
        click.echo(str(problem))
    click.echo(f"{valid} valid, {duplicates} duplicate(s), {len(invalid)} invalid")
    if invalid:
        sys.exit(1)


@subscribers.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--list", "list_name", required=True, help="Name of the list to write: subscribers/NAME.csv.")
@click.option("--check-dns", is_flag=True, help="Also check that each domain can receive mail (DNS).")
@click.option("--encoding", help="Read the file in this encoding instead of detecting it.")
@click.pass_obj
def import_(workspace: Workspace, file: Path, list_name: str, check_dns: bool, encoding: str | None) -> None:
    """Write a clean subscribers/NAME.csv from any supported list; report what was left out."""
    if not list_name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"--list {list_name!r}: use letters, digits, - and _ only")
    target = workspace.root / "subscribers" / f"{list_name}.csv"
    left_out: list[RowProblem] = []
    keys: list[str] = []
    kept = 0
    buffer = io.StringIO()
    rows: list[dict[str, str]] = []
    with SeenAddresses() as seen:
        for sub in read_list(_file(file), on_problem=left_out.append, warn=warn, check_dns=check_dns,
                             encoding=encoding):
            first = seen.add(sub.key, sub.line)
            if first is not None:
                left_out.append(RowProblem(str(file), sub.line, f"duplicate of line {first}", sub.email))
                continue
            row = {"email": sub.email, "name": sub.name, "tags": ";".join(sub.tags)}
            row.update({k: v for k, v in sub.attrs.items() if k not in ("email", "name", "tags")})
            keys.extend(k for k in row if k not in keys)
            rows.append(row)
            kept += 1
    writer = csv.DictWriter(buffer, fieldnames=keys or ["email", "name", "tags"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(target, buffer.getvalue())
    for problem in left_out:
        click.echo(f"left out {problem}")
    click.echo(f"Wrote {target}: {kept} subscriber(s), {len(left_out)} left out")


@subscribers.command()
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def stats(workspace: Workspace, file: Path | None) -> None:
    """Counts by status (valid, duplicate, invalid, suppressed) and by tag, for a list or all lists."""
    files = [_file(file)] if file else sorted((workspace.root / "subscribers").glob("*.csv"))
    with State(workspace.database) as state:
        for path in files:
            status: Counter[str] = Counter()
            tags: Counter[str] = Counter()
            with SeenAddresses() as seen:
                for sub in read_list(path, on_problem=_counter(status, "invalid"), warn=warn):
                    if seen.add(sub.key, sub.line) is not None:
                        status["duplicate"] += 1
                    elif state.is_suppressed(sub.email):
                        status["suppressed"] += 1
                    else:
                        status["active"] += 1
                        tags.update(sub.tags)
            click.echo(f"{path}: " + ", ".join(f"{k} {status[k]}" for k in
                                                ("active", "suppressed", "duplicate", "invalid")))
            for tag, n in tags.most_common():
                click.echo(f"  tag {tag}: {n}")


def _counter(counter: Counter[str], key: str) -> Callable[[RowProblem], None]:
    def count(_: RowProblem) -> None:
        """Count one more row under `key`."""
        counter[key] += 1

    return count


def _addresses(emails: tuple[str, ...]) -> list[str]:
    out = []
    for email in emails:
        try:
            out.append(check_address(email.strip()))
        except ValueError as exc:
            raise SubscriberError(str(exc)) from None
    return out


@subscribers.command()
@click.argument("emails", nargs=-1, required=True)
@click.option("--reason", type=click.Choice(SUPPRESSION_REASONS), default="manual", show_default=True)
@click.option("--issue", type=int, help="The issue that led to it, if any.")
@click.pass_obj
def unsubscribe(workspace: Workspace, emails: tuple[str, ...], reason: str, issue: int | None) -> None:
    """Add addresses to the suppression list: no send will reach them again."""
    with State(workspace.database) as state:
        for email in _addresses(emails):
            added = state.suppress(email, reason=reason, issue=issue)
            click.echo(f"{email}: {'suppressed' if added else 'already suppressed'} ({reason})")


@subscribers.command()
@click.argument("emails", nargs=-1, required=True)
@click.pass_obj
def resubscribe(workspace: Workspace, emails: tuple[str, ...]) -> None:
    """Take addresses off the suppression list."""
    with State(workspace.database) as state:
        for email in _addresses(emails):
            removed = state.unsuppress(email)
            click.echo(f"{email}: {'resubscribed' if removed else 'was not suppressed'}")


@subscribers.command("export-suppressed")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of CSV.")
@click.pass_obj
def export_suppressed(workspace: Workspace, as_json: bool) -> None:
    """Print the suppression list as CSV (email, reason, issue, created_at)."""
    with State(workspace.database) as state:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        if not as_json:
            writer.writerow(["email", "reason", "issue", "created_at"])
        for s in state.suppressions():
            if as_json:
                click.echo(json.dumps({"email": s.email, "reason": s.reason, "issue": s.issue,
                                       "created_at": s.created_at}))
            else:
                writer.writerow([s.email, s.reason, s.issue or "", s.created_at])
