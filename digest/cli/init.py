"""`digest init`: make a folder a newsletter workspace."""

from __future__ import annotations

import re
from pathlib import Path

import click

from digest.cli.output import printable, say
from digest.core.errors import ConfigError, StateError
from digest.core.files import write_atomically

__all__ = ["init"]

CONFIG = '''# digest workspace settings. Secrets never go here: the SMTP password comes
# from DIGEST_SMTP_PASSWORD and the unsubscribe-token key from DIGEST_SECRET
# (or .digest/secret, generated on first use).

[newsletter]
name = "{name}"
from = "{sender} <newsletter@example.com>"
reply_to = ""
postal_address = "Your organisation, street, postcode and city"
base_url = "https://newsletter.example.com"
language = "en"
subject = "{{newsletter}}: {{lead_title}}"
# timezone = "Europe/Oslo"   # IANA name: `send --at` times are read in it (UTC when unset)
# description = "What the newsletter is about, in a sentence or two."   # the archive's home page

[theme]
brand_color = "#0b5cab"
width = 600
# logo_url = "https://newsletter.example.com/logo.png"

# With no [smtp] section, `digest send` delivers to the embedded mailbox in outbox/.
# [smtp]
# host = "smtp.example.com"
# port = 587
# security = "starttls"   # "none" | "starttls" | "tls"
# username = "newsletter"

# DKIM signing; the key file must be readable by its owner only (chmod 600), and
# .gitignore keeps it out of the repository.
# [dkim]
# selector = "mail"
# domain = "newsletter.example.com"
# private_key_path = "dkim.pem"

# State lives in .digest/state.sqlite3. To share it between hosts (digest send --worker),
# use PostgreSQL; the password comes from PGPASSWORD or DIGEST_DATABASE_URL, never from here,
# and every host needs the same .digest/secret (or DIGEST_SECRET).
# [state]
# url = "postgresql://digest@db.example.com/newsletter"

# Feeds and article pages on the web, read beside pages/ (`digest fetch`, then `digest build`;
# `digest build --offline` rebuilds from the cache alone). One [[sources]] table per source.
# [[sources]]
# url = "https://www.example.com/rss/world.xml"
# kind = "feed"        # "feed" | "page" | "auto"
# full_text = true     # follow each entry to its article page
# max_items = 20
#
# How politely and how safely (these are the defaults). Proxies come from HTTP_PROXY,
# HTTPS_PROXY, ALL_PROXY and NO_PROXY.
# [fetch]
# timeout = 30
# max_bytes = 10485760
# per_host = 2
# allow_private_networks = false   # true only for an intranet: loopback and private addresses
'''

# Private state, the DKIM key and build output never go into the repository.
GITIGNORE = "# digest: private state, keys and build output\n.digest/\ndkim.pem\n*.key\nissues/\noutbox/\n"


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--name", default="My Newsletter", show_default=True, help="The newsletter's name.")
def init(folder: Path, name: str) -> None:
    """Make FOLDER a newsletter workspace: digest.toml, pages/, subscribers/, .gitignore."""
    if (folder / "digest.toml").exists():
        raise ConfigError("already a workspace (digest.toml exists); nothing changed", path=str(folder))
    if any(c in name for c in '"\\') or not name.strip() or not name.isprintable():
        raise ConfigError("--name must be one line of text, without quotes or backslashes")
    for sub in ("pages", "subscribers"):
        try:
            (folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create: {exc.strerror or exc}", path=str(folder / sub)) from None
    # A name with specials ("Smith, Jones Weekly") is a quoted phrase in the From address (RFC 5322 3.4).
    sender = f'\\"{name}\\"' if re.search(r'[()<>\[\]:;@,."]', name) else name
    write_atomically(folder / "digest.toml", CONFIG.format(name=name, sender=sender))
    if not (folder / "subscribers" / "list.csv").exists():
        write_atomically(folder / "subscribers" / "list.csv", "email,name,tags\n")
    if not (folder / ".gitignore").exists():
        write_atomically(folder / ".gitignore", GITIGNORE)
    say(f"Workspace ready in {printable(folder)}: put the week's pages in pages/, subscribers in "
        "subscribers/list.csv, then run digest build")
    say("Before the first real send: set [newsletter] from and base_url and [smtp] in digest.toml, then run "
        "digest check")
