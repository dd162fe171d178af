"""A French page in an English newsletter: `digest build` puts lang="fr-FR" on its Top News item,
through the plan the build writes and when built again from it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from digest.cli import main

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "readability"


def test_build_marks_an_item_in_another_language(workspace: Path, runner):
    shutil.copy(PAGES / "lemonde-1" / "source.html", workspace / "pages" / "lemonde.html")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    issue = json.loads((workspace / "issues" / "1" / "issue.json").read_text(encoding="utf-8"))
    [item] = [t for t in issue["top_news"] if t["title"].startswith("Le projet de loi")]
    assert item["lang"] == "fr-FR"
    html = (workspace / "issues" / "1" / "issue.html").read_text(encoding="utf-8")
    assert re.search(r'<div lang="fr-FR">\s*<h3[^>]*>.*?Le projet de loi', html, re.S)
    # Built again from its plan, the item keeps its language.
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.stderr
    again = json.loads((workspace / "issues" / "1" / "issue.json").read_text(encoding="utf-8"))
    assert [t.get("lang") for t in again["top_news"]] == [t.get("lang") for t in issue["top_news"]]
