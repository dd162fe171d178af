"""Scheduled sending: `--at` read in the newsletter's time zone, recorded in the store, waited for, then sent.

A mode of the one send (digest.app.send.send): this module reads the time,
records it and waits; the send itself is the same.

The schedule lives in the store with the campaign, so it outlives the process
that made it: a sender started again (after a reboot, by cron, on another
host sharing PostgreSQL) finds it and waits for the same time. Waiting happens
before the send begins; the issue folder is read when the time comes, so an
issue rebuilt meanwhile goes out as rebuilt. A cancel (Ctrl-C) marks the
schedule cancelled; a stop (SIGTERM, a reboot) leaves it scheduled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from digest.app.audiences import find_campaign
from digest.app.context import Context
from digest.core.errors import ConfigError
from digest.deliver.leases import local_owner_is_dead
from digest.store.base import owner_id
from digest.store.schedules import Schedule

if TYPE_CHECKING:
    from digest.app.send import SendRequest

__all__ = ["SendTime", "parse_send_time", "describe_wait", "wait_for_schedule", "record_schedule",
           "cancel_scheduled", "duration", "waiter_alive", "GRACE"]

_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
_TIME_ONLY = ("%H:%M", "%H:%M:%S")
MAX_AHEAD = timedelta(days=366)
GRACE = 10 * 60.0  # seconds an --at may have passed and still be sent (at once): a timer that fired late


@dataclass(frozen=True, slots=True)
class SendTime:
    """A moment to send: as a timestamp, and as the editor wrote it in the newsletter's zone."""

    at: float  # seconds since the epoch
    local: str  # "2026-12-04 07:00"
    zone: str  # "Europe/Oslo"
    note: str = ""  # a warning to show: the time was moved out of a DST gap, or it happens twice

    def describe(self) -> str:
        """`2026-12-04 07:00 Europe/Oslo`."""
        return f"{self.local} {self.zone}"

    @property
    def local_day(self) -> date:
        """The day it goes out, in the newsletter's zone (the issue's date when sent --at this time)."""
        return date.fromisoformat(self.local[:10])


_DAYS = ("mon", "tues", "wednes", "thurs", "fri", "satur", "sun")


def _weekday(value: str) -> tuple[int | None, str]:
    """`Fri 07:00` (or `friday 07:00`): (4, "07:00"); anything else: (None, value)."""
    first, _, rest = value.partition(" ")
    word = first.lower().removesuffix("day")
    for number, name in enumerate(_DAYS):
        if rest and len(word) >= 3 and name.startswith(word):
            return number, rest
    return None, value


def _read(value: str, today: datetime) -> tuple[datetime, bool] | None:
    """The wall-clock time written, and whether it had a date."""
    for pattern in _FORMATS:
        try:
            return datetime.strptime(value, pattern), True
        except ValueError:
            continue
    for pattern in _TIME_ONLY:
        try:
            clock = datetime.strptime(value, pattern)
        except ValueError:
            continue
        return datetime.combine(today.date(), clock.time()), False
    return None


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    """False for a wall-clock time skipped when the clocks go forward: it does not survive a round trip."""
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _hm(wall: datetime) -> str:
    return wall.strftime("%H:%M" + (":%S" if wall.second else ""))


def parse_send_time(text: str, zone_name: str, *, now: float | None = None, shift_gap: bool = False) -> SendTime:
    """Read `2026-12-04 07:00` (or `07:00`, today) as local time of `zone_name`.

    A time that has passed is refused, unless it passed less than GRACE ago (a
    timer that fired a little late: it is sent at once), across midnight too:
    `HH:MM` is yesterday's when that passed less than GRACE ago. `Fri 07:00`
    is `07:00` that must fall on a Friday: a timer catching up days later (a
    machine that was off) is refused instead of sending days late. A time the clocks skip
    is refused, or with `shift_gap` (`digest run`, which a timer starts every
    week) moved to the first minute after the jump, with a note. A time that
    happens twice (the clocks go back) is the first of the two, with a note.
    """
    zone = ZoneInfo(zone_name)
    current = datetime.fromtimestamp(time.time() if now is None else now, zone)
    weekday, clock = _weekday(" ".join(text.split()))
    read = _read(clock, current)
    if read is None or (weekday is not None and read[1]):
        raise ConfigError(f"--at {text!r}: expected a local time like \"2026-12-04 07:00\" (or \"07:00\" for today, "
                          "\"Fri 07:00\" for today if it is Friday)")
    wall, dated = read
    if not dated:
        # `--at 23:58` from a timer that fired at 00:03: yesterday's 23:58, 5 minutes late, not tomorrow's.
        earlier = wall - timedelta(days=1)
        if 0 <= current.timestamp() - earlier.replace(tzinfo=zone).timestamp() <= GRACE:
            wall = earlier
    if weekday is not None and wall.weekday() != weekday:
        name = _DAYS[weekday].capitalize()
        raise ConfigError(f"--at {text!r}: it is {current:%A %Y-%m-%d %H:%M} in {zone_name}, not {name}day: a run "
                          "started on another day (a timer catching up after the machine was off) does not send "
                          f"days late; send now without --at, or let next {name}day's run send it")
    note = ""
    day = wall.strftime("%Y-%m-%d")
    if not _exists(wall, zone):
        if not shift_gap:
            raise ConfigError(f"--at {text!r}: there is no such time in {zone_name} (the clocks go forward then)")
        moved = wall.replace(second=0)
        while not _exists(moved, zone):
            moved += timedelta(minutes=1)
        note = (f"--at {text!r}: there is no {_hm(wall)} in {zone_name} on {day} (the clocks go forward); "
                f"sending at {_hm(moved)}, the first minute after the jump")
        wall = moved
    elif wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset():
        first = wall.replace(tzinfo=zone, fold=0)
        note = (f"--at {text!r}: {_hm(wall)} happens twice in {zone_name} on {day} (the clocks go back); "
                f"sending at the first, {_hm(wall)} {first.tzname()}")
    local = wall.replace(tzinfo=zone)
    late = current.timestamp() - local.timestamp()
    if late > GRACE:
        if dated:
            raise ConfigError(f"--at {text!r} is in the past: it is {current:%Y-%m-%d %H:%M} in {zone_name} now")
        tomorrow = (current + timedelta(days=1)).strftime("%Y-%m-%d")
        raise ConfigError(f"--at {text!r}: {_hm(wall)} has passed today in {zone_name} (it is {current:%H:%M} "
                          f"there now); for tomorrow give the date: --at \"{tomorrow} {_hm(wall)}\"")
    if local - current > MAX_AHEAD:
        raise ConfigError(f"--at {text!r} is more than a year ahead")
    shown = wall.strftime("%Y-%m-%d %H:%M" + (":%S" if wall.second else ""))
    return SendTime(local.timestamp(), shown, zone_name, note)


def describe_wait(schedule: Schedule, *, now: float) -> str:
    """`2026-12-04 07:00 Europe/Oslo (in 2 h 5 min)`, or `(due 3 min ago)`."""
    seconds = schedule.send_at - now
    return f"{schedule.local_time} {schedule.timezone} ({_span(seconds)})"


def duration(seconds: float) -> str:
    """`2 d 3 h 5 min`, or `40 s` under a minute."""
    left = abs(int(seconds))
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or f"{secs} s"


def _span(seconds: float) -> str:
    text = duration(seconds)
    return f"in {text}" if seconds >= 0 else f"due {text} ago"


def waiter_alive(schedule: Schedule, now: float) -> bool:
    """True when a sender says it waits for the schedule and is not a process of this host that died (kill -9)."""
    return schedule.waiting(now) and not (schedule.waiter is not None and local_owner_is_dead(schedule.waiter))


async def _pause(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass


async def wait_for_schedule(ctx: Context, campaign_id: int, *, stop: asyncio.Event, cancel: asyncio.Event,
                            clock: Callable[[], float] = time.time, poll: float = 30.0,
                            on_waiting: Callable[[], None] | None = None) -> str:
    """Wait until the campaign's schedule is due: "due", "cancelled" (here or elsewhere) or "stopped".

    The store is read again every `poll` seconds: a schedule moved or cancelled
    by another command is followed, and this waiter says it is waiting.
    """
    store = ctx.store
    owner = owner_id("waiter")
    wake = asyncio.Event()
    watchers = [asyncio.ensure_future(event.wait()) for event in (stop, cancel)]
    for watcher in watchers:
        watcher.add_done_callback(lambda _: wake.set())
    try:
        while True:
            if cancel.is_set():
                await asyncio.to_thread(store.cancel_schedule, campaign_id)
                return "cancelled"
            if stop.is_set():
                return "stopped"
            schedule = await asyncio.to_thread(store.schedule_of, campaign_id)
            if schedule is None or schedule.state == "cancelled":
                return "cancelled"
            if schedule.state == "started":
                return "due"
            remaining = schedule.send_at - clock()
            if remaining <= 0:
                await asyncio.to_thread(store.start_schedule, campaign_id)
                continue  # started by us, or by another waiter a moment ago: either way, due
            await asyncio.to_thread(store.wait_on_schedule, campaign_id, owner=owner,
                                    until=clock() + max(3 * poll, 90.0))
            if on_waiting is not None:
                on_waiting()  # said once, after `digest status` can see this waiter
                on_waiting = None
            await _pause(wake, min(remaining, poll))
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.to_thread(store.stop_waiting, campaign_id, owner=owner)


def record_schedule(request: SendRequest) -> Schedule | None:
    """Record the request's `at` for its campaign; without one, the schedule already waiting (if any)."""
    store = request.ctx.store
    audience = request.audience
    at = request.at
    if at is not None:
        campaign = store.open_campaign(request.number, audience.key, audience.describe())
        return store.schedule_campaign(campaign.id, send_at=at.at, timezone=at.zone, local_time=at.local)
    found = store.find_campaign(request.number, audience.key)
    schedule = store.schedule_of(found.id) if found is not None else None
    return schedule if schedule is not None and schedule.state == "scheduled" else None


def cancel_scheduled(ctx: Context, number: int, lists: Sequence[Path], *, tags: Sequence[str] = (),
                     where: Sequence[tuple[str, str]] = ()) -> Schedule:
    """Cancel the scheduled send of the issue to these lists (a sender waiting for it stops); return it.

    Works when a list file is gone since: any schedule `digest status` shows can be cancelled.
    """
    campaign, audience = find_campaign(ctx, number, lists, tags=tags, where=where)
    schedule = ctx.store.schedule_of(campaign.id) if campaign is not None else None
    if campaign is None or schedule is None or schedule.state != "scheduled":
        others = [f"issue {s.issue} to {s.audience} at {s.local_time} {s.timezone}"
                  for s in ctx.store.scheduled_campaigns()]
        raise ConfigError(f"no scheduled send of issue {number} to {audience.describe()} to cancel"
                          + (f" (scheduled: {'; '.join(others)})" if others else ""))
    ctx.store.cancel_schedule(campaign.id)
    return schedule
