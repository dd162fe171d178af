"""Schema steps of the features added after the list loop: the weekly cycle, the IMAP mailbox's memory,
ESP calls. Their queries live in digest.store.carried, .inbox and .espcalls; the order is MIGRATIONS'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.store.tx import run_script

if TYPE_CHECKING:
    from digest.store.tx import Schema, Tx

__all__ = ["weekly_cycle", "inbox_judged", "esp_calls", "erasure", "clicks"]


def weekly_cycle(store: Schema, tx: Tx) -> None:
    """What each issue carried, where its window ended, and when each source was first seen."""
    run_script(store, tx, """
CREATE TABLE issue_items (
    issue INTEGER NOT NULL,
    position INTEGER NOT NULL,
    url_key TEXT NOT NULL,
    title_key TEXT NOT NULL,
    origin TEXT NOT NULL,
    title TEXT NOT NULL,
    summary_key TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (issue, position)
);
CREATE TABLE issue_windows (
    issue INTEGER PRIMARY KEY,
    cutoff {real} NOT NULL
);
CREATE TABLE first_seen (
    key TEXT PRIMARY KEY,
    seen_at {real} NOT NULL
)""")


def inbox_judged(store: Schema, tx: Tx) -> None:
    """The IMAP messages `inbox process` has judged, where the server allows no keyword of ours."""
    run_script(store, tx, """
CREATE TABLE inbox_judged (
    mailbox TEXT NOT NULL,
    uidvalidity {bigint} NOT NULL,
    uid {bigint} NOT NULL,
    judged_at TEXT NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
)""")


def esp_calls(store: Schema, tx: Tx) -> None:
    """Signed calls from an ESP already acted on: a replay is refused."""
    run_script(store, tx, """
CREATE TABLE esp_calls (
    provider TEXT NOT NULL,
    name TEXT NOT NULL,
    seen_at {real} NOT NULL,
    PRIMARY KEY (provider, name)
);
CREATE INDEX esp_calls_by_age ON esp_calls (seen_at)""")


def erasure(store: Schema, tx: Tx) -> None:
    """Readers erased on request: only a keyed hash of the address (HMAC with the workspace secret)."""
    run_script(store, tx, """
CREATE TABLE erased_readers (
    keyed_hash TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
)""")


def clicks(store: Schema, tx: Tx) -> None:
    """Counted clicks and opens ([tracking]): per link and issue, a reader only with per_reader."""
    run_script(store, tx, """
CREATE TABLE clicks (
    id {pk},
    kind TEXT NOT NULL DEFAULT 'click' CHECK (kind IN ('click', 'open')),
    issue INTEGER NOT NULL,
    link INTEGER NOT NULL,
    url TEXT NOT NULL,
    machine TEXT NOT NULL DEFAULT '',
    email_key TEXT,
    at {real} NOT NULL
);
CREATE INDEX clicks_by_issue ON clicks (issue, link);
CREATE INDEX clicks_by_reader ON clicks (email_key)""")
