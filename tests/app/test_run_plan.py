"""`digest run` sends what the editor planned: after a proof, after a reboot, for lists given by name."""

from __future__ import annotations

import os
import signal
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from digest.app.context import Context
from digest.cli import main
from tests.conftest import LIST, point_smtp_at
from tests.helpers.commands import start_digest, wait_for_line
from tests.helpers.desk import build
from tests.helpers.settings import in_seconds

LATE = "Late Story About Bridges\n\nSource: Desk | 2026-11-27 08:00:00\n\nThe bridge opens on Monday.\n"


def _texts(handler, address: str) -> list[str]:
    """The text part of every message `address` received."""
    found = []
    for received in handler.received:
        if address in received.rcpt_tos:
            message = message_from_bytes(received.data, policy=default)
            found.append(message.get_body(("plain",)).get_content())
    return found


def _edit_intro(desk: Path, number: int, intro: str) -> None:
    path = desk / "issues" / str(number) / "plan.toml"
    path.write_text(path.read_text().replace('intro = """\n"""', f'intro = """\n{intro}\n"""'))


def _edit_proof_then_a_late_article(desk: Path, runner, port: int, proof_list: str) -> None:  # type: ignore[no-untyped-def]
    """Build, write an intro, build, send a proof to the editor, then a late article arrives."""
    point_smtp_at(desk, port)
    build(runner)
    _edit_intro(desk, 1, "Edited by hand for this week.")
    build(runner)
    (desk / "subscribers" / "proof.csv").write_text("email,name\neditor@example.net,Editor\n")
    proof = runner.invoke(main, ["send", "--list", proof_list])
    assert proof.exit_code == 0, proof.output + proof.stderr
    (desk / "pages" / "d-late.txt").write_text(LATE)


def test_a_proof_send_and_a_late_article_do_not_let_run_replace_the_plan(desk: Path, runner, recorder):
    server, handler = recorder
    _edit_proof_then_a_late_article(desk, runner, server.port, "subscribers/proof.csv")
    result = runner.invoke(main, ["run", "--list", LIST])
    assert result.exit_code == 0, result.output + result.stderr
    assert "Issue 1:" in result.output and "new since the plan: 1 article(s)" in result.output
    assert not (desk / "issues" / "2").exists()  # no issue made by the rules behind the editor's back
    [text] = _texts(handler, "ada@example.com")
    assert "Edited by hand for this week." in text and "Late Story About Bridges" not in text
    assert len(handler.received) == 4
    # Once it went to this list, the next run makes the next issue, by the rules: the late story leads it.
    nxt = runner.invoke(main, ["run", "--list", LIST])
    assert nxt.exit_code == 0 and "Issue 2:" in nxt.output, nxt.output + nxt.stderr
    assert "Late Story About Bridges" in _texts(handler, "ada@example.com")[1]
    again = runner.invoke(main, ["run", "--list", LIST])
    assert "Nothing new since issue 2" in again.output and "nothing sent to subscribers/example.csv" in again.output
    assert len(handler.received) == 7


def test_build_and_preview_keep_the_open_issue_after_a_proof_until_it_goes_to_readers(desk: Path, runner,
                                                                                     recorder):
    """Build, edit, proof, a late article, build, run: the editor's issue 1 goes out, the article is listed."""
    server, handler = recorder
    _edit_proof_then_a_late_article(desk, runner, server.port, "proof")
    rebuilt = build(runner)
    assert "Issue 1:" in rebuilt.output and "new since the plan: 1 article(s)" in rebuilt.output
    assert ("issue 1 is still the open issue: not sent to readers yet, only proofs (subscribers/proof.csv)"
            in rebuilt.output)
    assert not (desk / "issues" / "2").exists()
    from digest.app.planning import open_issue

    ctx = Context(desk)
    assert open_issue(ctx) == desk / "issues" / "1"  # what `digest preview` shows
    ctx.close()
    result = runner.invoke(main, ["run", "--list", LIST])
    assert result.exit_code == 0 and "Issue 1:" in result.output, result.output + result.stderr
    [text] = _texts(handler, "ada@example.com")
    assert "Edited by hand for this week." in text and "Late Story About Bridges" not in text
    # Gone to readers now: the next build is issue 2, by the rules.
    assert "Issue 2:" in build(runner).output


def test_a_cancelled_schedule_is_not_sent_by_run(desk: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(desk, server.port)
    build(runner)
    waiting = start_digest(desk, "send", "--list", "example", "--at", in_seconds(600))
    wait_for_line(waiting, "Waiting; Ctrl-C cancels the schedule")
    waiting.send_signal(signal.SIGINT)
    assert "is no longer scheduled" in waiting.communicate(timeout=30)[0]
    result = runner.invoke(main, ["run", "--list", "example"])
    assert result.exit_code == 3 and handler.received == []
    assert result.stderr.startswith("digest: error: the send of issue 1 to subscribers/example.csv scheduled for ")
    assert "was cancelled, and digest run does not send it by itself: send it (digest send " in result.stderr
    abandon = runner.invoke(main, ["send", "issues/1", "--list", "example", "--abandon"])
    assert abandon.exit_code == 0, abandon.output + abandon.stderr
    (desk / "pages" / "d-late.txt").write_text(LATE)
    nxt = runner.invoke(main, ["run", "--list", "example"])
    assert nxt.exit_code == 0 and "Issue 2:" in nxt.output, nxt.output + nxt.stderr
    assert len(handler.received) == 3


def test_a_run_stopped_by_a_reboot_is_picked_up_and_next_week_is_not_confused(desk: Path, runner, recorder):
    """Schedule, SIGTERM (a reboot), a new page, the boot unit's run, then next week's run."""
    server, handler = recorder
    point_smtp_at(desk, server.port)
    waiting = start_digest(desk, "run", "--list", LIST, "--at", in_seconds(8))
    wait_for_line(waiting, "Waiting; Ctrl-C cancels the schedule")
    waiting.send_signal(signal.SIGTERM)
    out, _ = waiting.communicate(timeout=30)
    assert waiting.returncode == 3 and "stays scheduled for" in out
    (desk / "pages" / "d-late.txt").write_text(LATE)  # something new arrives meanwhile
    status = runner.invoke(main, ["status"])
    assert "no sender is waiting" in status.output
    # At boot: `digest run --resume` picks the schedule up and waits for its time; it builds nothing.
    boot = start_digest(desk, "run", "--list", LIST, "--resume")
    out, err = boot.communicate(timeout=90)
    assert boot.returncode == 0, out + err
    assert "this run takes it over" in out and "Issue 1" in out
    assert sorted(r.rcpt_tos[0] for r in handler.received) == ["ada@example.com", "grace@example.org",
                                                               "linus@example.com"]
    assert "Late Story About Bridges" not in _texts(handler, "ada@example.com")[0]
    assert not (desk / "issues" / "2").exists()
    # Next week's run: issue 1 went to this list, so the new content is issue 2.
    nxt = runner.invoke(main, ["run", "--list", LIST])
    assert nxt.exit_code == 0 and "Issue 2:" in nxt.output, nxt.output + nxt.stderr
    assert "Late Story About Bridges" in _texts(handler, "ada@example.com")[1]


def _a_schedule_missed_a_week_ago(desk: Path, runner, port: int) -> None:  # type: ignore[no-untyped-def]
    """Issue 1 built and scheduled for a week ago with nobody waiting (a reboot); a late article since."""
    from digest.app.audiences import audience_for, resolve_lists

    point_smtp_at(desk, port)
    build(runner)
    ctx = Context(desk)
    audience = audience_for(ctx, resolve_lists(ctx, [Path(LIST)]))
    campaign = ctx.store.open_campaign(1, audience.key, audience.describe())
    ctx.store.schedule_campaign(campaign.id, send_at=time.time() - 7 * 86400, timezone="UTC",
                                local_time="2026-11-27 07:00")
    ctx.close()
    (desk / "pages" / "d-late.txt").write_text(LATE)


def test_a_schedule_missed_by_more_than_half_a_day_waits_for_a_human(desk: Path, runner, recorder):
    server, handler = recorder
    _a_schedule_missed_a_week_ago(desk, runner, server.port)
    result = runner.invoke(main, ["run", "--list", LIST, "--at", in_seconds(3600)])
    assert result.exit_code == 3 and handler.received == []
    assert ("issue 1 was to go to subscribers/example.csv at 2026-11-27 07:00 UTC and never went (no sender was "
            "waiting then: a reboot?); it is 7 d late") in result.stderr
    assert "(digest send issues/1 --list subscribers/example.csv --abandon); then digest run goes on" in result.stderr
    assert not (desk / "issues" / "2").exists()
    # --cancel alone leaves an unsent issue that a run does not send by itself: still a human's call.
    cancel = runner.invoke(main, ["send", "issues/1", "--list", LIST, "--cancel"])
    assert cancel.exit_code == 0 and "is no longer scheduled" in cancel.output, cancel.output + cancel.stderr
    assert runner.invoke(main, ["run", "--list", LIST]).exit_code == 3


def test_the_advice_for_a_missed_schedule_lets_run_go_on_in_one_step(desk: Path, runner, recorder):
    """Follow the message of a schedule missed by a week, as written: the next run sends the next issue."""
    import re
    import shlex

    server, handler = recorder
    _a_schedule_missed_a_week_ago(desk, runner, server.port)
    missed = runner.invoke(main, ["run", "--list", LIST])
    assert missed.exit_code == 3
    skip = re.search(r"or (?:drop|skip) it \(digest (send [^)]*)\); then digest run goes on", missed.stderr)
    assert skip, missed.stderr
    followed = runner.invoke(main, shlex.split(skip.group(1)))
    assert followed.exit_code == 0, followed.output + followed.stderr
    nxt = runner.invoke(main, ["run", "--list", LIST])
    assert nxt.exit_code == 0 and "Issue 2:" in nxt.output, nxt.output + nxt.stderr
    assert "Late Story About Bridges" in _texts(handler, "ada@example.com")[0]


def test_run_and_send_take_list_names_and_read_paths_in_the_workspace(desk: Path, runner, recorder, tmp_path):
    server, handler = recorder
    point_smtp_at(desk, server.port)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    result = runner.invoke(main, ["-C", str(desk), "run", "--list", "subscribers/example.csv"])
    assert result.exit_code == 0, result.output + result.stderr
    assert len(handler.received) == 3
    by_name = runner.invoke(main, ["-C", str(desk), "run", "--list", "example"])  # the same list, by its name
    assert "Nothing new since issue 1" in by_name.output, by_name.output
    assert len(handler.received) == 3


def test_a_list_of_signups_only_can_be_run(desk: Path, runner, recorder):
    server, handler = recorder
    point_smtp_at(desk, server.port)
    from digest.store.signups import SignupLimits, SignupRequest

    ctx = Context(desk)
    now = time.time()
    _, signup = ctx.store.request_signup(SignupRequest("weekly", "new@example.net", "New", "https://x/join", "1.2.3.4"),
                                         now=now, limits=SignupLimits())
    assert signup is not None and ctx.store.confirm_signup(signup, now=now) == "confirmed"
    ctx.close()
    result = runner.invoke(main, ["run", "--list", "weekly"])
    assert result.exit_code == 0, result.output + result.stderr
    assert [r.rcpt_tos for r in handler.received] == [["new@example.net"]]


def test_run_needs_its_lists(workspace: Path, runner):
    result = runner.invoke(main, ["run", "--list", "subscribers/missing.csv"])
    assert result.exit_code == 2
    assert result.stderr == ("digest: error: subscribers/missing.csv: no such list file, and no signups for a list "
                             "of that name\n")


def test_a_run_whose_lease_another_run_took_stops(workspace: Path):
    """Paused longer than its lease (Ctrl-Z, a laptop asleep): the renewal sees the lock is another's."""
    import pytest as _pytest

    from digest.app.run import RunLockLost, run_lock

    ctx = Context(workspace)
    with _pytest.raises(RunLockLost) as lost, run_lock(ctx, "run:test", lease=0.6) as lease:
        # The lease ran out while this run was stopped, and another run (elsewhere) took the lock.
        ctx.store.expire_lock("run:test", owner=lease.owner)
        now = time.time()
        assert ctx.store.take_lock("run:test", owner="run:otherhost:1:x", until=now + 600, now=now) is None
        deadline = time.monotonic() + 10
        while not lease.lost.is_set():
            assert time.monotonic() < deadline, "the renewal never noticed"
            time.sleep(0.05)
        lease.doing("building")  # the run's next step stops it
    assert "host otherhost, pid 1" in lost.value.describe()
    holder = ctx.store.lock_holder("run:test", now=time.time())
    assert holder is not None and holder.owner == "run:otherhost:1:x"  # the other run keeps its lock
    ctx.close()


def test_a_lease_that_ran_out_unnoticed_is_taken_again(workspace: Path):
    from digest.app.run import run_lock

    ctx = Context(workspace)
    with run_lock(ctx, "run:test", lease=0.6) as lease:
        ctx.store.expire_lock("run:test", owner=lease.owner)  # ran out, but nobody took it
        time.sleep(0.5)
        lease.doing("building")
        assert not lease.lost.is_set()
        assert ctx.store.lock_holder("run:test", now=time.time()).owner == lease.owner  # type: ignore[union-attr]
    ctx.close()


def test_a_send_stops_when_its_run_loses_the_lock(desk: Path, runner, recorder):
    import threading

    from digest.app.schedule import parse_send_time
    from digest.cli.send import deliver
    from digest.deliver.sender import SendOptions

    server, handler = recorder
    point_smtp_at(desk, server.port)
    build(runner)
    halt = threading.Event()
    threading.Timer(1.0, halt.set).start()
    ctx = Context(desk)
    # It returns (the run then says another run took over); the schedule stays for that run.
    deliver(ctx, desk / "issues" / "1", [desk / LIST], options=SendOptions(), at=parse_send_time(in_seconds(30), "UTC"),
            halt=halt)
    assert handler.received == []
    assert [s.state for s in ctx.store.scheduled_campaigns()] == ["scheduled"]
    ctx.close()


def test_a_waiting_run_whose_lock_another_run_took_stops_with_exit_0(desk: Path, recorder):
    """`run --at` waiting, paused past its lease while another run took the lock: it says so and exits 0."""
    from digest.app.audiences import audience_for, resolve_lists
    from digest.app.run import run_lock_name

    server, handler = recorder
    point_smtp_at(desk, server.port)
    waiting = start_digest(desk, "run", "--list", LIST, "--at", in_seconds(120))
    wait_for_line(waiting, "Waiting; Ctrl-C cancels the schedule")
    ctx = Context(desk)
    name = run_lock_name(audience_for(ctx, resolve_lists(ctx, [Path(LIST)])))
    holder = ctx.store.lock_holder(name, now=time.time())
    assert holder is not None
    # As if it was stopped (SIGSTOP) past its lease and a run on another host took the lock meanwhile.
    ctx.store.expire_lock(name, owner=holder.owner)
    now = time.time()
    assert ctx.store.take_lock(name, owner="run:otherhost:1:x", until=now + 600, now=now) is None
    out, err = waiting.communicate(timeout=60)
    ctx.close()
    assert waiting.returncode == 0, out + err
    assert "paused longer than its lease and another run took over (host otherhost, pid 1" in err
    assert "Stopped waiting" not in out + err and handler.received == []


def test_one_mailbox_that_stays_full_does_not_stall_the_newsletter(desk: Path, runner):
    """weekly = a, full, b; full@ answers 452 every time: the next run sends the next issue, and says who is left."""
    from tests.servers import FaultPlan, FaultyHandler, ThreadedFaultySMTP

    handler = FaultyHandler(FaultPlan(defer_always={"full@example.com"}))
    with ThreadedFaultySMTP(handler) as server:
        point_smtp_at(desk, server.port)
        (desk / "subscribers" / "weekly.csv").write_text(
            "email,name\na@example.com,A\nfull@example.com,Full\nb@example.com,B\n")
        first = runner.invoke(main, ["run", "--list", "weekly", "--max-attempts", "2"])
        assert first.exit_code == 3, first.output + first.stderr  # incomplete: full@ deferred
        assert sorted(r.rcpt_tos[0] for r in handler.received) == ["a@example.com", "b@example.com"]
        # Nothing new yet: running again finishes the send (tries full@ again), as exit 3 promises.
        again = runner.invoke(main, ["run", "--list", "weekly", "--max-attempts", "1"])
        assert again.exit_code == 3 and "trying the deferred again" in again.output, again.output + again.stderr
        assert len(handler.received) == 2 and not (desk / "issues" / "2").exists()
        (desk / "pages" / "d-late.txt").write_text(LATE)
        second = runner.invoke(main, ["run", "--list", "weekly", "--max-attempts", "2"])
        assert "Issue 2:" in second.output, second.output + second.stderr
        assert ("issue 1: 1 recipient(s) of subscribers/weekly.csv still deferred or unknown after its send; "
                "this run goes on to issue 2") in second.stderr
        assert "Late Story About Bridges" in _texts(handler, "a@example.com")[1]
        assert second.exit_code == 3  # full@ is deferred for issue 2 too
        # The straggler is still reachable: a send of issue 1 tries it again.
        handler.plan.defer_always.clear()
        retry = runner.invoke(main, ["send", "issues/1", "--list", "weekly"])
        assert retry.exit_code == 0, retry.output + retry.stderr
        assert [r.rcpt_tos[0] for r in handler.received].count("full@example.com") == 1
