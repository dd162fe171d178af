"""The one Jinja environment: sandboxed, StrictUndefined, workspace templates over built-ins."""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["BUILTIN_TEMPLATES", "make_environment", "safe_url", "copy_default_templates"]

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def safe_url(value: object) -> str:
    """Keep http, https and mailto links and same-page anchors (#name); anything else (javascript:, data:) becomes ''.

    Rendering replaces this filter by one that also knows the personal-field markers
    (render._Slots.safe_url); this one sees only plain values.
    """
    text = str(value or "").strip()
    if re.fullmatch(r"#[A-Za-z][\w-]*", text):
        return text
    scheme = urlsplit(text).scheme.lower()
    return text if scheme in ("http", "https", "mailto") else ""


def _wrap(text: str, width: int = 72, indent: str = "", hanging: str | None = None) -> str:
    return "\n".join(
        textwrap.fill(
            part, width=width, initial_indent=indent, subsequent_indent=indent if hanging is None else hanging,
            break_long_words=False, break_on_hyphens=False,
        )
        for part in str(text).split("\n")
    )


def _underline(text: str, char: str = "=") -> str:
    text = str(text)
    longest = max((len(line) for line in text.split("\n")), default=0)
    return f"{text}\n{char * longest}"


def make_environment(overrides: Path | None = None) -> ImmutableSandboxedEnvironment:
    """Build the environment; templates in `overrides` replace built-ins of the same name."""
    loaders: list[FileSystemLoader] = []
    if overrides is not None and overrides.is_dir() and overrides.resolve() != BUILTIN_TEMPLATES:
        loaders.append(FileSystemLoader(overrides))
    loaders.append(FileSystemLoader(BUILTIN_TEMPLATES))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        # Markup templates escape every value; text templates must not.
        autoescape=select_autoescape(
            enabled_extensions=("mjml.j2", "html.j2"), disabled_extensions=("txt.j2",),
            default_for_string=True, default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["safe_url"] = safe_url
    env.filters["wrap"] = _wrap
    env.filters["underline"] = _underline
    return env


def copy_default_templates(target: Path, *, force: bool = False) -> Iterable[Path]:
    """Copy the built-in templates into a workspace folder; existing files are kept unless forced."""
    for source in sorted(BUILTIN_TEMPLATES.rglob("*.j2")):
        destination = target / source.relative_to(BUILTIN_TEMPLATES)
        if destination.exists() and not force:
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        yield destination
