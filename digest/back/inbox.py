"""`digest inbox process`: read a bounce mailbox (a local Maildir or IMAP), apply what is recognised.

Handled mail is filed away (Maildir: into the `.Processed` folder; IMAP:
moved to `processed_folder`, or flagged `$DigestProcessed` when that is
empty); mail that is not recognised is left where it is — never moved, never
deleted, never marked \\Seen (IMAP reads use BODY.PEEK) — and remembered as
judged: the IMAP keyword `$DigestSeen`, or, where the server keeps no
keywords, its UIDVALIDITY and UID in the store. The next run reads only new
mail, newest first, so a mailbox full of mail nobody can place never stalls
the run behind it, and a link that drops mid-run loses only the FETCH it was
in. Two runs over one mailbox at once are safe: each report
is applied once (the store keys events by message), and a message another
run already filed is simply gone from this run's view.
"""

from __future__ import annotations

import os
import ssl
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.back.parse import MAX_MESSAGE
from digest.back.process import Outcome, Policy, process_batch
from digest.core.errors import ConfigError, DeliveryError, StateError
from digest.core.settings import InboxSettings
from digest.deliver.transport import is_loopback
from digest.store.protocol import BackStore

__all__ = ["InboxReport", "process_maildir", "process_imap", "PROCESSED_FOLDER", "PROCESSED_KEYWORD", "JUDGED_KEYWORD"]

PROCESSED_FOLDER = ".Processed"  # Maildir++ subfolder: IMAP servers show it as "Processed"
PROCESSED_KEYWORD = "$DigestProcessed"
JUDGED_KEYWORD = "$DigestSeen"  # judged and left for a human: not read again
_BATCH = 100
_FETCH_BYTES = 256 * 1024  # message bytes one FETCH brings: a dropped link loses at most this much work


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
    """The messages of new/ and cur/: regular files only (a folder or a FIFO dropped there is no message,
    and opening a FIFO would wait forever)."""
    for sub in ("new", "cur"):
        folder = root / sub
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            continue
        for name in names:
            path = folder / name
            try:
                regular = stat.S_ISREG(os.lstat(path).st_mode)
            except OSError:
                continue  # filed away by another run a moment ago
            if not name.startswith(".") and regular:
                yield path


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


def _keywords_allowed(selected: dict[bytes, Any]) -> bool:
    """Whether the server keeps a keyword of ours on a message (PERMANENTFLAGS lists it or `\\*`)."""
    flags = selected.get(b"PERMANENTFLAGS") or ()
    return b"\\*" in flags or JUDGED_KEYWORD.encode() in flags


def _chunks(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """UIDs in groups of at most _FETCH_BYTES (one message at least): what one FETCH brings."""
    chunk: list[int] = []
    total = 0
    for uid in uids:
        if chunk and total + sizes.get(uid, 0) > _FETCH_BYTES:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += sizes.get(uid, 0)
    if chunk:
        yield chunk


@dataclass
class _Session:
    """One run over an IMAP folder: the connection, where handled mail goes, how judged mail is remembered."""

    client: Any
    store: BackStore
    policy: Policy
    report: InboxReport
    on_outcome: Callable[[str, Outcome], None] | None
    target: str
    can_move: bool
    keywords: bool
    mailbox: str
    uidvalidity: int

    def tell(self, uid: int, outcome: Outcome) -> None:
        """Count one message's outcome and report it by its UID."""
        self.report.add(outcome)
        if self.on_outcome:
            self.on_outcome(f"uid {uid}", outcome)

    def remember(self, uids: list[int]) -> None:
        """Judged and left: not read again (a keyword of ours on the message, or its UID in the store)."""
        if not uids:
            return
        if self.keywords:
            self.client.add_flags(uids, [JUDGED_KEYWORD])  # never \\Seen: a human still sees it as new
        else:
            self.store.mark_inbox_judged(self.mailbox, self.uidvalidity, uids)

    def judge(self, uids: list[int]) -> None:
        """Fetch, classify and apply a group of messages; file away what was handled, remember the rest."""
        fetched = [(uid, data.get(b"BODY[]")) for uid, data in self.client.fetch(uids, ["BODY.PEEK[]"]).items()]
        fetched = [(uid, raw) for uid, raw in fetched if isinstance(raw, bytes)]
        outcomes = process_batch([(raw, ()) for _, raw in fetched], store=self.store, policy=self.policy)
        handled: list[int] = []
        left: list[int] = []
        for (uid, _), outcome in zip(fetched, outcomes, strict=True):
            self.tell(uid, outcome)
            (handled if outcome.handled else left).append(uid)
        if handled:
            _file_away(self.client, handled, self.target, self.can_move)
        self.remember(left)


def process_imap(settings: InboxSettings, *, store: BackStore, policy: Policy,
                 on_outcome: Callable[[str, Outcome], None] | None = None, reread: bool = False) -> InboxReport:
    """Process the IMAP folder, newest mail first: handled mail moved (or flagged), the rest left where it
    is and remembered as judged, so the next run reads only what is new (`reread` reads it all again).

    Progress is kept after every FETCH of at most _FETCH_BYTES: over a link that drops, each run
    gets further than the last.
    """
    client = _connect_imap(settings)
    report = InboxReport()
    try:
        selected = client.select_folder(settings.folder)
        if settings.processed_folder and not client.folder_exists(settings.processed_folder):
            client.create_folder(settings.processed_folder)
        session = _Session(client, store, policy, report, on_outcome, settings.processed_folder,
                           client.has_capability("MOVE"), _keywords_allowed(selected),
                           f"{settings.username}@{settings.host}:{settings.port}/{settings.folder}",
                           int(selected.get(b"UIDVALIDITY", 0)))
        criteria = ["NOT", "KEYWORD", PROCESSED_KEYWORD]
        if session.keywords and not reread:
            criteria += ["NOT", "KEYWORD", JUDGED_KEYWORD]
        uids = sorted(client.search(criteria), reverse=True)  # new mail first
        if not session.keywords and not reread:
            judged = store.inbox_judged(session.mailbox, session.uidvalidity)
            uids = [uid for uid in uids if uid not in judged]
        for start in range(0, len(uids), _BATCH):
            batch = uids[start:start + _BATCH]
            sizes = {uid: int(data.get(b"RFC822.SIZE", 0))
                     for uid, data in client.fetch(batch, ["RFC822.SIZE"]).items()}
            big = [uid for uid in batch if sizes.get(uid, 0) > MAX_MESSAGE]
            for uid in big:  # too large to be a bounce we read: left alone, and said so
                session.tell(uid, Outcome("unrecognised", why=f"larger than {MAX_MESSAGE // (1024 * 1024)} MB "
                                                             f"({sizes[uid]:,} bytes): not read"))
            session.remember(big)
            for chunk in _chunks([uid for uid in batch if uid not in big], sizes):
                session.judge(chunk)
    except (DeliveryError, StateError, ConfigError):
        raise
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise DeliveryError(f"IMAP server {settings.host}:{settings.port}: {text[:300]} "
                            f"(after {report.seen} message(s); what was judged is kept)") from None
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
