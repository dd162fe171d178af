"""What click counting costs a send: messages per second with [tracking] clicks (+ per_reader) vs off.

The links are rewritten once at render time; per recipient only the `click_reader` field is
filled (one HMAC), so the rate with tracking should stay close to the rate without.
"""

from __future__ import annotations

import dataclasses
import time

from _sample import Row, issue_sample, run_script

from digest.compose import MessageSkeleton
from digest.core.model import Subscriber
from digest.core.settings import Newsletter, Settings, TrackingSettings
from digest.render import render_issue

N = 3000
SECRET = b"bench-secret-0123456789abcdef0123"


def _rate(settings: Settings, subscribers: list[Subscriber]) -> tuple[float, int]:
    issue, _ = issue_sample(40)
    rendered = render_issue(issue, settings, secret=SECRET)
    skeleton = MessageSkeleton(rendered, Newsletter(), secret=SECRET)
    start = time.process_time()
    for subscriber in subscribers:
        skeleton.compose(subscriber)
    return N / (time.process_time() - start), rendered.html.count("/c/")


def measure() -> list[Row]:
    """Compose rates, tracking on and off, in CPU time on one core."""
    subscribers = [Subscriber(f"reader{i}@example.com", f"Reader {i}") for i in range(N)]
    off, _ = _rate(Settings(), subscribers)
    clicks, links = _rate(dataclasses.replace(Settings(), tracking=TrackingSettings(clicks=True)), subscribers)
    per_reader, _ = _rate(dataclasses.replace(Settings(), tracking=TrackingSettings(clicks=True, per_reader=True)),
                          subscribers)
    print(f"  tracked links in the sample issue: {links}")
    return [Row("compose, [tracking] clicks (vs tracking off)", clicks, off, "msg/s, 1 core"),
            Row("compose, clicks per reader (vs tracking off)", per_reader, off, "msg/s, 1 core")]


if __name__ == "__main__":
    run_script(measure)
