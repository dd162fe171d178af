"""Versioned schema migrations, applied in name order; each runs once per database.

A database made before migrations existed (the single-file SQLite of earlier
versions) already has the tables of `0001_base`; its `CREATE … IF NOT EXISTS`
statements change nothing there, and the later steps upgrade it in place.
Features add their own steps; names are ordered, never reused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from digest.store import feature_steps
from digest.store.tx import run_script

if TYPE_CHECKING:
    from digest.store.tx import Schema, Tx

__all__ = ["MIGRATIONS"]

Step = Callable[["Schema", "Tx"], None]


def base(store: Schema, tx: Tx) -> None:
    """Issue numbers, the per-issue journal, suppressions and runs (the original schema)."""
    run_script(store, tx, """
CREATE TABLE IF NOT EXISTS issues (
    number {pk},
    content_key TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    built_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id {pk},
    issue INTEGER NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    attrs TEXT NOT NULL DEFAULT '{}',
    list TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'deferred', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    attempts_run INTEGER NOT NULL DEFAULT 0,
    retry_at {real} NOT NULL DEFAULT 0,
    last_code INTEGER,
    last_reply TEXT,
    message_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (issue, email_key)
);
CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (issue, status, id);
CREATE TABLE IF NOT EXISTS suppressions (
    email_key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    reason TEXT NOT NULL,
    issue INTEGER,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id {pk},
    issue INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    sent INTEGER NOT NULL DEFAULT 0,
    seconds {real} NOT NULL DEFAULT 0
)""")


_DELIVERIES_V2 = """
CREATE TABLE deliveries_v2 (
    id {pk},
    issue INTEGER NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    attrs TEXT NOT NULL DEFAULT '{}',
    list TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'deferred', 'failed', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0,
    attempts_run INTEGER NOT NULL DEFAULT 0,
    unknown_attempts INTEGER NOT NULL DEFAULT 0,
    retry_at {real} NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until {real} NOT NULL DEFAULT 0,
    run_id {bigint},
    sent_by {bigint},
    last_code INTEGER,
    last_reply TEXT,
    message_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (issue, email_key)
)"""

_COPY = ("id, issue, email, email_key, name, attrs, list, status, attempts, attempts_run, retry_at, "
         "last_code, last_reply, message_id, created_at, updated_at")


def campaigns(store: Schema, tx: Tx) -> None:
    """Campaigns keyed by (issue, audience), their members, leases on rows, unknown outcomes."""
    if store.backend == "sqlite":
        # SQLite cannot change a CHECK constraint in place: rebuild the table, keeping ids.
        run_script(store, tx, _DELIVERIES_V2)
        tx.execute(f"INSERT INTO deliveries_v2 ({_COPY}) SELECT {_COPY} FROM deliveries")  # nosec B608
        tx.execute("DROP TABLE deliveries")
        tx.execute("ALTER TABLE deliveries_v2 RENAME TO deliveries")
        tx.execute("CREATE INDEX deliveries_by_status ON deliveries (issue, status, id)")
    else:
        run_script(store, tx, """
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sent', 'deferred', 'failed', 'unknown'));
ALTER TABLE deliveries ADD COLUMN unknown_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until {real} NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN run_id {bigint};
ALTER TABLE deliveries ADD COLUMN sent_by {bigint}""")
    run_script(store, tx, """
CREATE INDEX deliveries_by_owner ON deliveries (owner);
CREATE TABLE campaigns (
    id {pk},
    issue INTEGER NOT NULL,
    audience_key TEXT NOT NULL,
    audience TEXT NOT NULL,
    created_at TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    fingerprint TEXT NOT NULL DEFAULT '',
    reader TEXT,
    reader_until {real} NOT NULL DEFAULT 0,
    UNIQUE (issue, audience_key)
);
CREATE TABLE campaign_members (
    campaign {bigint} NOT NULL,
    delivery {bigint} NOT NULL,
    PRIMARY KEY (campaign, delivery)
);
CREATE INDEX campaign_members_by_delivery ON campaign_members (delivery);
ALTER TABLE runs ADD COLUMN campaign {bigint};
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN heartbeat {real} NOT NULL DEFAULT 0;
CREATE TABLE list_checks (
    id {pk},
    path TEXT NOT NULL UNIQUE,
    size {bigint} NOT NULL,
    mtime_ns {bigint} NOT NULL,
    sha256 TEXT NOT NULL,
    rows INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    invalid INTEGER NOT NULL,
    checked_at TEXT NOT NULL
);
CREATE TABLE list_check_lines (
    check_id {bigint} NOT NULL,
    line INTEGER NOT NULL,
    email TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (check_id, line)
)""")
    # Rows journaled before campaigns existed: one campaign per issue holds them, complete.
    tx.execute(
        "INSERT INTO campaigns (issue, audience_key, audience, created_at, complete) "
        "SELECT DISTINCT issue, 'before-campaigns', 'lists sent before campaigns existed', MIN(created_at), 1 "
        "FROM deliveries GROUP BY issue")
    tx.execute(
        "INSERT INTO campaign_members (campaign, delivery) SELECT c.id, d.id FROM deliveries d "
        "JOIN campaigns c ON c.issue = d.issue AND c.audience_key = 'before-campaigns'")


def ledger(store: Schema, tx: Tx) -> None:
    """Campaign generations (a list read again drops who left it), closed campaigns, workspace facts."""
    run_script(store, tx, """
ALTER TABLE campaigns ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaign_members ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
CREATE TABLE workspace_facts (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL
)""")
    # The rows journaled before campaigns existed are history: their campaign is closed.
    tx.execute("UPDATE campaigns SET closed = 1 WHERE audience_key = 'before-campaigns'")


def fetch_cache(store: Schema, tx: Tx) -> None:
    """Per fetched URL: the validators to ask again conditionally and the key of its cached body."""
    run_script(store, tx, """
CREATE TABLE fetch_cache (
    url TEXT PRIMARY KEY,
    final_url TEXT NOT NULL,
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL DEFAULT '',
    body_sha256 TEXT NOT NULL,
    size {bigint} NOT NULL,
    fetched_at TEXT NOT NULL,
    checked_at TEXT NOT NULL
)""")


def schedule(store: Schema, tx: Tx) -> None:
    """Scheduled campaigns (`send --at`) and run locks (one `digest run` at a time, on any host)."""
    run_script(store, tx, """
CREATE TABLE schedules (
    campaign {bigint} PRIMARY KEY,
    send_at {real} NOT NULL,
    timezone TEXT NOT NULL,
    local_time TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'started', 'cancelled')),
    waiter TEXT,
    waiter_until {real} NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX schedules_by_state ON schedules (state, send_at);
CREATE TABLE run_locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until {real} NOT NULL,
    started_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
)""")


def list_loop(store: Schema, tx: Tx) -> None:
    """Signups (double opt-in, consent), confirmed list members, and bounce/complaint events."""
    run_script(store, tx, """
CREATE TABLE signups (
    id {pk},
    list TEXT NOT NULL,
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'confirmed', 'superseded')),
    source TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT '',
    requested_at TEXT NOT NULL,
    expires_at {real} NOT NULL,
    confirmed_at TEXT,
    mail_error TEXT
);
CREATE INDEX signups_by_address ON signups (email_key, list, state);
CREATE INDEX signups_by_state ON signups (state, expires_at);
CREATE TABLE signup_attempts (
    id {pk},
    email_key TEXT NOT NULL,
    client TEXT NOT NULL,
    at {real} NOT NULL
);
CREATE INDEX signup_attempts_by_address ON signup_attempts (email_key, at);
CREATE INDEX signup_attempts_by_client ON signup_attempts (client, at);
CREATE INDEX signup_attempts_by_time ON signup_attempts (at);
CREATE TABLE list_members (
    list TEXT NOT NULL,
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    signup {bigint} NOT NULL,
    consented_at TEXT NOT NULL,
    confirmed_at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (list, email_key)
);
CREATE TABLE bounce_events (
    id {pk},
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    issue INTEGER,
    kind TEXT NOT NULL
        CHECK (kind IN ('hard', 'soft', 'refused', 'complaint', 'unsubscribe', 'delivered')),
    status TEXT NOT NULL DEFAULT '',
    diagnostic TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    report_key TEXT NOT NULL,
    at {real} NOT NULL,
    created_at TEXT NOT NULL,
    cleared INTEGER NOT NULL DEFAULT 0,
    UNIQUE (report_key, email_key)
);
CREATE INDEX bounce_events_by_address ON bounce_events (email_key, at)""")


def suppression_scopes(store: Schema, tx: Tx) -> None:
    """Unsubscribes per list, lists a confirmed signup exempts from a global suppression, bounces of
    confirmation mails kept apart from an issue's, signups' client networks (their abuse limits)."""
    run_script(store, tx, """
CREATE TABLE list_suppressions (
    list TEXT NOT NULL,
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    reason TEXT NOT NULL,
    issue INTEGER,
    created_at TEXT NOT NULL,
    PRIMARY KEY (list, email_key)
);
CREATE INDEX list_suppressions_by_address ON list_suppressions (email_key);
CREATE TABLE suppression_exemptions (
    list TEXT NOT NULL,
    email_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (list, email_key)
);
CREATE INDEX suppression_exemptions_by_address ON suppression_exemptions (email_key);
ALTER TABLE bounce_events ADD COLUMN signup {bigint};
ALTER TABLE signups ADD COLUMN network TEXT NOT NULL DEFAULT '';
CREATE INDEX signups_by_network ON signups (network, state, expires_at)""")


def member_lists(store: Schema, tx: Tx) -> None:
    """Every list through which a campaign reaches a reader (a journal row names one list; a reader who
    left that one may still be on another that gets the same issue)."""
    run_script(store, tx, """
CREATE TABLE member_lists (
    campaign {bigint} NOT NULL,
    delivery {bigint} NOT NULL,
    list TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, delivery, list)
)""")
    # Members journaled before: the one list their row names.
    tx.execute("INSERT INTO member_lists (campaign, delivery, list, generation) "
               "SELECT m.campaign, m.delivery, d.list, m.generation FROM campaign_members m "
               "JOIN deliveries d ON d.id = m.delivery")


def refusal_changes(store: Schema, tx: Tx) -> None:
    """What a refusal at send time changed in an address's suppression (and the list exemptions it ended),
    so a send that finds the relay at fault can put back exactly what was there."""
    run_script(store, tx, """
CREATE TABLE refusal_changes (
    report_key TEXT NOT NULL,
    email_key TEXT NOT NULL,
    had_reason TEXT,
    had_issue INTEGER,
    had_created TEXT,
    set_reason TEXT,
    set_issue INTEGER,
    set_created TEXT,
    exemptions TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (report_key, email_key)
)""")


MIGRATIONS: list[tuple[str, Step]] = [
    ("0001_base", base),
    ("0002_campaigns", campaigns),
    ("0003_ledger", ledger),
    ("0100_fetch_cache", fetch_cache),
    ("0200_list_loop", list_loop),
    ("0300_schedule", schedule),
    ("0400_suppression_scopes", suppression_scopes),
    ("0410_member_lists", member_lists),
    ("0420_refusal_changes", refusal_changes),
    ("0500_weekly_cycle", feature_steps.weekly_cycle),
    ("0510_inbox_judged", feature_steps.inbox_judged),
    ("0520_esp_calls", feature_steps.esp_calls),
    ("0530_erasure", feature_steps.erasure),
    ("0540_clicks", feature_steps.clicks),
]
