"""`digest inbox process`: apply the bounces, complaints and unsubscribes waiting in the bounce mailbox."""

from __future__ import annotations

from pathlib import Path

import click

from digest.app.context import Context
from digest.cli.output import printable, say

__all__ = ["inbox"]


@click.group()
def inbox() -> None:
    """The bounce mailbox: DSNs, other bounces, complaints (ARF) and mailto unsubscribes."""


@inbox.command()
@click.option("--maildir", type=click.Path(file_okay=False, path_type=Path),
              help="Read this Maildir instead of the [inbox] IMAP mailbox (default without [inbox]: bounces/).")
@click.option("-v", "--verbose", is_flag=True,
              help="One line per message (file name or IMAP UID): what it was and what was done.")
@click.option("--reread", is_flag=True,
              help="IMAP: read again the mail judged before and left for a human (after an upgrade of digest).")
@click.pass_obj
def process(ctx: Context, maildir: Path | None, verbose: bool, reread: bool) -> None:
    """Apply what is recognised; file it away. Mail that is not recognised is left in place, never deleted;
    on IMAP it is remembered as judged ($DigestSeen) and not read again, and new mail is read first."""
    from digest.back.inbox import process_imap, process_maildir
    from digest.back.process import Outcome, Policy

    policy = Policy.from_settings(ctx.settings, ctx.secret)

    def show(where: str, outcome: Outcome) -> None:
        if verbose or outcome.suppressed:
            say(f"{printable(where)}: {printable(outcome.describe())}")

    settings = ctx.settings.inbox
    if maildir is None and settings is not None:
        report = process_imap(settings, store=ctx.store, policy=policy, on_outcome=show, reread=reread)
        where = f"IMAP {settings.username}@{settings.host} {settings.folder}"
    else:
        folder = maildir or ctx.workspace.root / "bounces"
        report = process_maildir(folder, store=ctx.store, policy=policy, on_outcome=show)
        where = str(folder)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.categories.items()))
    say(f"{printable(where)}: {report.seen} message(s): {kinds or 'none'}; {report.suppressed} address(es) "
        f"suppressed; {report.left} left in the mailbox")
