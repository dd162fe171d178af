"""The built-in templates exist once (digest/templates), ship in the package, and a workspace overrides them.

A workspace's templates/ overrides them file by file. The repository root is itself a sample
workspace: its templates/ may hold only what it overrides, never a second copy of the built-ins
(nor a link to them).
"""

from __future__ import annotations

import filecmp
import shutil
import site
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BUILTIN = ROOT / "digest" / "templates"


def _names(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def _installed_copy(tmp_path: Path) -> Path:
    """The package as a wheel installs it (setuptools' build_py: modules plus package-data); its folder."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "digest_entry.py"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "digest", source / "digest", ignore=shutil.ignore_patterns("__pycache__"))
    lib = tmp_path / "lib"
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                           "--build-lib", str(lib)], cwd=source, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return lib


def test_the_sample_workspace_holds_no_second_copy_of_a_builtin_template():
    sample = ROOT / "templates"
    assert not sample.is_symlink(), "templates/ links to the built-ins: the sample workspace would edit the package"
    if sample.is_dir():
        copies = [n for n in _names(sample) if (BUILTIN / n).is_file() and filecmp.cmp(sample / n, BUILTIN / n, False)]
        assert not copies, f"templates/ repeats built-ins unchanged (keep only what it overrides): {copies}"


def test_every_builtin_template_ships_and_renders_from_the_installed_package(tmp_path: Path):
    lib = _installed_copy(tmp_path)
    assert _names(lib / "digest" / "templates") == _names(BUILTIN)
    assert (lib / "digest" / "web" / "preview.html").is_file()
    # A workspace with one partial of its own: the installed built-ins give the rest.
    workspace = tmp_path / "ws"
    (workspace / "pages").mkdir(parents=True)
    shutil.copy(ROOT / "pages" / "stdaily-china-central-asia.txt", workspace / "pages")
    shutil.copy(ROOT / "digest.toml", workspace / "digest.toml")
    footer = workspace / "templates" / "partials" / "footer.mjml.j2"
    footer.parent.mkdir(parents=True)
    footer.write_text((BUILTIN / "partials" / "footer.mjml.j2").read_text().replace(
        "{{ newsletter.reason }}", "Our own footer, {{ newsletter.name }}"))
    # -S: no .pth file runs, so the development checkout's editable install is out of the way;
    # the third-party packages still come from this environment's site-packages.
    code = ("import sys, runpy; sys.path[:0] = sys.argv[1:]; import digest; print(digest.__file__); "
            "sys.argv = ['digest', 'build']; runpy.run_module('digest', run_name='__main__')")
    built = subprocess.run([sys.executable, "-S", "-c", code, str(lib), *site.getsitepackages()], cwd=workspace,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    assert built.stdout.startswith(str(lib / "digest" / "__init__.py")), built.stdout
    html = (workspace / "issues" / "1" / "issue.html").read_text()
    text = (workspace / "issues" / "1" / "issue.txt").read_text()
    assert "Our own footer" in html  # the workspace's file wins
    assert "TOP NEWS" in html.upper() and "Top News\n--------" in text  # the built-ins fill in the rest
