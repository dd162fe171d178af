"""Personalised messages per second on one core: our skeleton vs a stdlib EmailMessage per recipient."""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate

from _sample import Row, rendered_sample, run_script

from digest.compose import MessageSkeleton
from digest.config import Newsletter
from digest.model import Subscriber
from digest.render import fill_markers

N = 3000


def naive(rendered, subscribers):
    """Baseline: fill the text, build and serialise an EmailMessage for every recipient."""
    for i, sub in enumerate(subscribers):
        values = [sub.email if f == "email" else sub.name if f == "name" else f"https://x/u/{i}"
                  for f in rendered.fields]
        msg = EmailMessage(policy=SMTP)
        msg["From"] = "Weekly <weekly@news.example.com>"
        msg["To"] = formataddr((sub.name, sub.email))
        msg["Subject"] = rendered.subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{i}@news.example.com>"
        msg["List-Unsubscribe"] = f"<https://x/u/{i}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(fill_markers(rendered.text, rendered.marker, values), cte="quoted-printable")
        msg.add_alternative(fill_markers(rendered.html, rendered.marker, values), subtype="html",
                            cte="quoted-printable")
        yield msg.as_bytes()


def measure() -> list[Row]:
    """Personalised messages per second, ours and the baseline, in CPU time on one core."""
    rendered = rendered_sample(40)
    subscribers = [Subscriber(f"reader{i}@example.com", f"Reader Nummer {i} Zoë") for i in range(N)]
    skeleton = MessageSkeleton(rendered, Newsletter(), secret=b"bench-secret")
    start = time.process_time()
    size = sum(len(skeleton.compose(s).data) for s in subscribers)
    ours = N / (time.process_time() - start)
    n_naive = N // 10
    start = time.process_time()
    for _ in naive(rendered, subscribers[:n_naive]):
        pass
    baseline = n_naive / (time.process_time() - start)
    return [Row(f"compose, {size / N / 1024:.0f} KB message (vs EmailMessage each)", ours, baseline, "msg/s, 1 core")]


if __name__ == "__main__":
    run_script(measure)
