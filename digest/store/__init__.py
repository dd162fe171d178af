"""The store: all of digest's state behind one protocol, in SQLite (embedded) or PostgreSQL (shared)."""

from __future__ import annotations

from pathlib import Path

from digest.core.errors import ConfigError
from digest.core.settingscheck import DATABASE_URL_SCHEMES
from digest.store.protocol import Store
from digest.store.records import (
    DELIVERY_STATUSES,
    SUPPRESSION_REASONS,
    Audience,
    Campaign,
    CampaignStatus,
    Claim,
    ClaimedRow,
    Failure,
    ListCheck,
    Result,
    SentIssue,
    Suppression,
)

__all__ = [
    "Store",
    "open_store",
    "Audience",
    "Campaign",
    "CampaignStatus",
    "Claim",
    "ClaimedRow",
    "Failure",
    "ListCheck",
    "Result",
    "SentIssue",
    "Suppression",
    "SUPPRESSION_REASONS",
    "DELIVERY_STATUSES",
]


def open_store(location: str | Path) -> Store:
    """Open (and migrate) the store: a `postgresql://` URL, or the path of a SQLite file."""
    text = str(location)
    if text.startswith(DATABASE_URL_SCHEMES):
        from digest.store.postgres import PostgresStore

        return PostgresStore(text)
    if "://" in text:
        raise ConfigError(f"unsupported database URL scheme in {text.split('://')[0]!r}://…; "
                          "use postgresql:// or a SQLite file path")
    from digest.store.sqlite import SQLiteStore

    return SQLiteStore(Path(text))
