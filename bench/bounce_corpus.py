"""The bounce reader against a corpus of real bounces with a reference classifier's verdicts.

Each message is delivered to a Maildir the way an MTA delivers a bounce of
one of our messages: with a `Delivered-To:` naming the signed VERP address of
the reader it is about (one copy per reader the reference names). The
verdicts `digest inbox process` reaches are compared with the reference's:
recognised, hard where it says hard, never hard where it says the address is
alive or the message was refused, complaints, and no suppression at all from
mail that is no bounce (`not/`) or an auto-reply.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from digest.back.inbox import process_maildir
from digest.back.process import Outcome, Policy
from digest.core.model import Subscriber
from digest.core.verp import message_token, verp_address
from digest.store import Audience, Result, open_store

__all__ = ["corpus_report"]

_ALIVE = {"mailboxfull", "exceedlimit", "systemfull", "suspend", "expired", "networkerror", "systemerror",
          "toomanyconn", "speeding", "delivered", "onhold", "mailererror", "undefined"}
_REFUSED = {"blocked", "spamdetected", "policyviolation", "securityerror", "badreputation", "requireptr",
            "authfailure", "norelaying", "rejected", "contenterror", "mesgtoobig", "virusdetected"}
_NOBODY = "nobody@example.invalid"  # the reader of a message the reference names no recipient for


def _cases(corpus: Path) -> list[tuple[str, Path, str, dict[str, object]]]:
    """(name, file, reader, reference verdict) per copy to deliver."""
    expected = json.loads((corpus / "expected.json").read_text(encoding="utf-8"))
    cases = []
    for folder in ("bsd", "not"):
        for path in sorted((corpus / folder).glob("*.eml")):
            verdicts = expected.get(path.name, [])
            if not verdicts:
                cases.append((path.name, path, _NOBODY, {"reason": "", "hard": 0, "folder": folder}))
            for n, verdict in enumerate(verdicts):
                cases.append((f"{path.name}#{n}", path, str(verdict["rcpt"]).lower(), {**verdict, "folder": folder}))
    return cases


def _deliver(folder: Path, cases: list[tuple[str, Path, str, dict[str, object]]], *, secret: bytes,
             return_path: str) -> object:
    """A store where each case's reader was sent an issue, and its message in the Maildir's new/."""
    store = open_store(folder / "state.sqlite3")
    maildir = folder / "bounces"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    # One issue per round: a reader bounced for by several messages was sent several issues.
    rounds: list[dict[str, list[int]]] = []
    for index, (_, _, reader, _) in enumerate(cases):
        for wanted in rounds:
            if reader not in wanted:
                wanted[reader] = [index]
                break
        else:
            rounds.append({reader: [index]})
    now = time.time()
    for issue, wanted in enumerate(rounds, start=1):
        audience = Audience((f"corpus-{issue}.csv",))
        campaign = store.open_campaign(issue, audience.key, audience.describe())
        store.enqueue(campaign, [(Subscriber(reader), "corpus") for reader in wanted], lambda key: f"<{key}>")
        rows = store.claim(campaign.id, owner="bench", run=issue, limit=10_000, lease_until=now + 600, now=now,
                           max_attempts=5).rows
        store.record([Result(r.id, "sent", 250, "OK") for r in rows], run=issue, now=now)
        for row in rows:
            [index] = wanted[row.subscriber.email.lower()]
            name, path, _, _ = cases[index]
            verp = verp_address(return_path, message_token(secret, issue=issue, row=row.id,
                                                           email_key=row.subscriber.key))
            raw = f"Delivered-To: {verp}\n".encode() + path.read_bytes()
            (maildir / "new" / name.replace("#", "_")).write_bytes(raw)
    return store


def corpus_report(corpus: Path, *, secret: bytes, return_path: str, verbose: bool = False) -> int:
    """Print the agreement table for one corpus; 0 when the goals hold."""
    cases = _cases(corpus)
    by_file = {name.replace("#", "_"): verdict for name, _, _, verdict in cases}
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = _deliver(Path(tmp), cases, secret=secret, return_path=return_path)
        start = time.perf_counter()
        process_maildir(Path(tmp) / "bounces", store=store, policy=Policy(secret, return_path),  # type: ignore[arg-type]
                        on_outcome=lambda name, outcome: outcomes.__setitem__(name, outcome))
        seconds = time.perf_counter() - start
        store.close()  # type: ignore[attr-defined]
    tally: Counter[str] = Counter()
    tally_names: list[str] = []
    for name, verdict in sorted(by_file.items()):
        outcome = outcomes[name]
        reason, hard, folder = verdict["reason"], verdict["hard"], verdict["folder"]
        bounce = folder == "bsd" and reason not in ("", "vacation")
        tally["bounces"] += bounce
        tally["recognised"] += bounce and outcome.handled and outcome.kind != ""
        tally["hard expected"] += bool(hard)
        tally["hard agreed"] += bool(hard) and outcome.kind == "hard"
        wrong_hard = (reason in _ALIVE or reason in _REFUSED) and outcome.kind == "hard"
        tally["hard where alive or refused"] += wrong_hard
        tally["hard where the reference says not hard"] += not hard and outcome.kind == "hard"
        tally["complaints expected"] += reason == "feedback"
        tally["complaints found"] += reason == "feedback" and outcome.kind == "complaint"
        false = not bounce and (outcome.suppressed or outcome.kind in ("hard", "complaint", "unsubscribe"))
        tally["false suppressions"] += false
        if wrong_hard:
            tally_names.append(f"{name} (reference: {reason}; {outcome.describe()})")
        missed = bounce and (not outcome.handled or outcome.kind == "")
        if verbose and (missed or (outcome.kind == "hard") != bool(hard) or false):
            print(f"{name}: expected {reason} hard={hard}; {outcome.describe()}")
    bounces = tally["bounces"] or 1
    recognised = 100 * tally["recognised"] / bounces
    agreement = 100 * tally["hard agreed"] / (tally["hard expected"] or 1)
    print(f"corpus: {len(by_file)} deliveries of {len({p for _, p, _, _ in cases})} messages from {corpus}")
    print(f"  recognised                         {tally['recognised']}/{tally['bounces']} = {recognised:.1f} %"
          " (goal ≥ 97 %)")
    print(f"  hard agreement with the reference  {tally['hard agreed']}/{tally['hard expected']} = "
          f"{agreement:.1f} % (goal ≥ 95 %)")
    print(f"  hard where alive or refused        {tally['hard where alive or refused']} (goal 0)"
          + "".join(f"\n      {line}" for line in tally_names))
    print(f"  hard where the reference says not hard (any reason) {tally['hard where the reference says not hard']}")
    print(f"  complaints found                   {tally['complaints found']}/{tally['complaints expected']}")
    print(f"  false suppressions (not/, replies) {tally['false suppressions']} (goal 0)")
    print(f"  time for the whole corpus          {seconds:.2f} s (goal < 2 s)")
    ok = (recognised >= 97 and agreement >= 95 and tally["hard where alive or refused"] == 0
          and tally["false suppressions"] == 0)
    return 0 if ok else 1
