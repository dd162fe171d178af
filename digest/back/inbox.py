"""`digest inbox process`: read a bounce mailbox (a local Maildir or IMAP), apply what is recognised.

Handled mail is filed away (Maildir: into the `.Processed` folder; IMAP:
moved to `processed_folder`, or flagged `$DigestProcessed` when that is
empty); mail that is not recognised is left exactly where and as it is —
never moved, never flagged, never deleted (IMAP reads use BODY.PEEK, so not
even \\Seen is set). Two runs over one mailbox at once are safe: each report
is applied once (the store keys events by message), and a message another
run already filed is simply gone from this run's view.
"""

from __future__ import annotations

import os
import ssl
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digest.back.parse import MAX_MESSAGE
from digest.back.process import Outcome, Policy, process_batch
from digest.core.errors import ConfigError, DeliveryError, StateError
from digest.core.settings import InboxSettings
from digest.deliver.transport import is_loopback
from digest.store.protocol import BackStore

__all__ = ["InboxReport", "process_maildir", "process_imap", "PROCESSED_FOLDER", "PROCESSED_KEYWORD"]

PROCESSED_FOLDER = ".Processed"  # Maildir++ subfolder: IMAP servers show it as "Processed"
PROCESSED_KEYWORD = "$DigestProcessed"
_BATCH = 100


@dataclass
class InboxReport:
    """What a run over a mailbox did."""

    seen: int = 0
    handled: int = 0
    left: int = 0
    suppressed: int = 0
    categories: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        """Count one message's outcome."""
        self.seen += 1
        self.categories[outcome.category] += 1
        if outcome.handled:
            self.handled += 1
        else:
            self.left += 1
        self.suppressed += int(outcome.suppressed)


def _maildir_files(root: Path) -> Iterator[Path]:
    for sub in ("new", "cur"):
        folder = root / sub
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            continue
        for name in names:
            if not name.startswith("."):
                yield folder / name


def process_maildir(root: Path, *, store: BackStore, policy: Policy,
                    on_outcome: Callable[[str, Outcome], None] | None = None) -> InboxReport:
    """Process every message in a Maildir's new/ and cur/; file handled ones into `.Processed/cur/`."""
    if not (root / "new").is_dir() or not (root / "cur").is_dir():
        raise ConfigError("not a Maildir (no new/ and cur/ folders)", path=str(root))
    done = root / PROCESSED_FOLDER
    try:
        for sub in ("new", "cur", "tmp"):
            (done / sub).mkdir(parents=True, exist_ok=True)
        (done / "maildirfolder").touch()
    except OSError as exc:
        raise StateError(f"cannot create the processed folder: {exc.strerror or exc}", path=str(done)) from None
    report = InboxReport()
    batch: list[tuple[Path, bytes]] = []

    def flush() -> None:
        # One store transaction per batch; a message is filed away only after its batch committed.
        outcomes = process_batch([(raw, ()) for _, raw in batch], store=store, policy=policy)
        for (path, _), outcome in zip(batch, outcomes, strict=True):
            report.add(outcome)
            if on_outcome:
                on_outcome(path.name, outcome)
            if outcome.handled:
                base = path.name.split(":", 1)[0]
                try:
                    os.rename(path, done / "cur" / f"{base}:2,S")  # atomic, same file system
                except FileNotFoundError:
                    pass  # another run filed it a moment ago
                except OSError as exc:
                    raise StateError(f"cannot file the message away: {exc.strerror or exc}", path=str(path)) from None
        batch.clear()

    for path in _maildir_files(root):
        try:
            with path.open("rb") as f:
                raw = f.read(MAX_MESSAGE + 1)
        except FileNotFoundError:
            continue  # another run filed it a moment ago
        except OSError as exc:
            raise StateError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
        batch.append((path, raw))
        if len(batch) >= _BATCH:
            flush()
    flush()
    return report


def _connect_imap(settings: InboxSettings):  # type: ignore[no-untyped-def]
    from imapclient import IMAPClient

    secure = settings.security in ("tls", "starttls")
    if not secure and not is_loopback(settings.host):
        raise ConfigError(f"refusing to send the IMAP password unencrypted to {settings.host}; "
                          'set security = "tls" or "starttls" in [inbox]')
    if not settings.password:
        raise ConfigError("[inbox] needs DIGEST_IMAP_PASSWORD in the environment")
    context = ssl.create_default_context() if secure else None
    where = f"{settings.host}:{settings.port}"
    try:
        client = IMAPClient(settings.host, port=settings.port, ssl=settings.security == "tls", ssl_context=context,
                            timeout=settings.timeout)
        if settings.security == "starttls":
            client.starttls(context)
        client.login(settings.username, settings.password)
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS with IMAP server {where} failed: {exc.reason or exc}", retryable=False) from None
    except Exception as exc:  # imapclient raises imaplib's and socket errors alike
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise DeliveryError(f"IMAP server {where}: {text[:300]}") from None
    return client


def process_imap(settings: InboxSettings, *, store: BackStore, policy: Policy,
                 on_outcome: Callable[[str, Outcome], None] | None = None) -> InboxReport:
    """Process the IMAP folder: handled mail moved (or flagged), the rest left untouched."""
    client = _connect_imap(settings)
    report = InboxReport()
    try:
        client.select_folder(settings.folder)
        target = settings.processed_folder
        if target and not client.folder_exists(target):
            client.create_folder(target)
        uids = client.search(["NOT", "KEYWORD", PROCESSED_KEYWORD])
        can_move = client.has_capability("MOVE")
        for start in range(0, len(uids), _BATCH):
            batch = uids[start:start + _BATCH]
            sizes = client.fetch(batch, ["RFC822.SIZE"])
            small = [uid for uid in batch if int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0)) <= MAX_MESSAGE]
            report.left += len(batch) - len(small)  # too large to be a bounce we read: left alone
            report.seen += len(batch) - len(small)
            fetched = [(uid, data.get(b"BODY[]")) for uid, data in client.fetch(small, ["BODY.PEEK[]"]).items()]
            fetched = [(uid, raw) for uid, raw in fetched if isinstance(raw, bytes)]
            outcomes = process_batch([(raw, ()) for _, raw in fetched], store=store, policy=policy)
            handled = []
            for (uid, _), outcome in zip(fetched, outcomes, strict=True):
                report.add(outcome)
                if on_outcome:
                    on_outcome(f"uid {uid}", outcome)
                if outcome.handled:
                    handled.append(uid)
            if handled:
                _file_away(client, handled, target, can_move)
    except (DeliveryError, StateError, ConfigError):
        raise
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise DeliveryError(f"IMAP server {settings.host}:{settings.port}: {text[:300]}") from None
    finally:
        try:
            client.logout()
        except Exception:  # nosec B110 - the session is over either way
            pass
    return report


def _file_away(client, uids: list[int], target: str, can_move: bool) -> None:  # type: ignore[no-untyped-def]
    client.add_flags(uids, [PROCESSED_KEYWORD, b"\\Seen"])
    if not target:
        return
    if can_move:
        client.move(uids, target)
    elif client.has_capability("UIDPLUS"):
        client.copy(uids, target)
        client.delete_messages(uids)
        client.uid_expunge(uids)  # only these: never another client's \Deleted mail
    # Without MOVE or UIDPLUS the handled mail stays, flagged: expunging could take others' mail.
