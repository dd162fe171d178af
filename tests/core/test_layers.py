"""The import graph of digest/ has no circles and at most two arrows back up (docs/gen_architecture.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "gen_architecture.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_architecture", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_circles() -> None:
    layers = _script()
    assert layers.cycles(layers.import_graph()) == []


def test_at_most_two_arrows_back_up() -> None:
    layers = _script()
    up = layers.arrows_up(layers.import_graph())
    assert len(up) <= 2, up


def test_the_scan_sees_a_circle_and_an_arrow_up(tmp_path: Path) -> None:
    """The checks can fail: a store module importing a stage, and two modules importing each other."""
    layers = _script()
    root = tmp_path / "digest"
    for package in ("store", "back"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "store" / "a.py").write_text("from digest.back import policy\n")
    (root / "back" / "policy.py").write_text("def f():\n    from digest.back import other\n")
    (root / "back" / "other.py").write_text("from digest.back.policy import f\n")
    graph = layers.import_graph(root)
    assert layers.arrows_up(graph) == [("digest.store.a", "digest.back.policy")]
    assert layers.cycles(graph) == [["digest.back.other", "digest.back.policy"]]
