"""What the manage link costs per message: compose with and without it (one HMAC per recipient).

    .venv/bin/python bench/manage_link.py
"""

from __future__ import annotations

import time

from _sample import rendered_sample

from digest.compose import MessageSkeleton
from digest.core.model import Subscriber
from digest.core.settings import Newsletter

N = 3000


def rate(skeleton: MessageSkeleton, subscribers: list[Subscriber]) -> float:
    """Messages composed per CPU second on one core (best of three)."""
    best = 0.0
    for _ in range(3):
        start = time.process_time()
        for s in subscribers:
            skeleton.compose(s)
        best = max(best, len(subscribers) / (time.process_time() - start))
    return best


def main() -> None:
    """Print both rates and the cost of the link."""
    rendered = rendered_sample(40)
    assert "manage_url" in rendered.fields, "the built-in templates show the manage link"
    subscribers = [Subscriber(f"reader{i}@example.com", f"Reader {i}") for i in range(N)]
    with_link = MessageSkeleton(rendered, Newsletter(), secret=b"bench-secret")
    without = MessageSkeleton(rendered, Newsletter(), secret=b"bench-secret")
    without._wants_manage = False  # the field filled with "": what a template without the link costs
    a, b = rate(with_link, subscribers), rate(without, subscribers)
    print(f"compose with the manage link:    {a:8.0f} msg/s (1 core)")
    print(f"compose without it:              {b:8.0f} msg/s (1 core)")
    print(f"cost of the link: {1e6 / a - 1e6 / b:.1f} µs per message ({(b - a) / b * 100:.1f} %)")


if __name__ == "__main__":
    main()
