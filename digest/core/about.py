"""Who this program is: the distribution name on PyPI and the installed version.

The import package and the command are both `digest`, but `digest` on PyPI is an unrelated
project (message digests of files); this one is published as `digest-newsletter`.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "version"]

DISTRIBUTION = "digest-newsletter"


def version() -> str:
    """The installed version, or "0+unknown" when running from a bare checkout that was never installed."""
    from importlib import metadata  # not at start-up: every command imports this module, few need the version

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - a checkout on sys.path without `pip install`
        return "0+unknown"
