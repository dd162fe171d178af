"""The layers of digest/, read from the code: import graph, layer of each module, cycles, arrows back up.

Run `python docs/gen_architecture.py [path/to/digest]` to print the table that
docs/architecture.md shows; tests/core/test_layers.py checks the same graph.
Every import counts, at module level or inside a function (a lazy import is
still a dependency), except those under `if TYPE_CHECKING:` (annotations only).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "digest"

# Lowest first: a module may import its own layer and the layers below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("core",)),
    ("store", ("store",)),
    ("stages", ("sources", "collect", "curate", "render", "compose", "deliver", "back", "subscribers")),
    ("app", ("app",)),
    ("cli, web", ("cli", "web")),
    ("package", ("",)),  # digest/__init__.py, __main__.py: the public API on top of everything
)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module under digest/, by dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer_of(module: str) -> int:
    """The index of the module's layer in LAYERS."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 and parts[0] == "digest" else ""
    for index, (_, packages) in enumerate(LAYERS):
        if top in packages:
            return index
    return len(LAYERS) - 1


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _targets(node: ast.Import | ast.ImportFrom, module: str, known: dict[str, Path]) -> list[str]:
    """The digest modules one import statement depends on."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in known]
    base = node.module or ""
    if node.level:
        package = module if known[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    if base not in known:
        return []
    # `from digest.store import sqlite` depends on the submodule; `from digest.store import Store` on the package.
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module → the digest modules it imports (itself excluded)."""
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno not in skip:
                graph[name].update(t for t in _targets(node, name, known) if t != name)
    return graph


def _is_own_package(source: str, target: str) -> bool:
    # A package's __init__ re-exporting its submodules, and a submodule reading its package's
    # names, is one unit: not counted as a cycle.
    return source.startswith(target + ".") or target.startswith(source + ".")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles (strongly connected components of more than one module), Tarjan's algorithm."""
    edges = {m: {t for t in ts if not _is_own_package(m, t)} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def arrows_up(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower layer into a higher one, (importer, imported)."""
    return sorted((m, t) for m, ts in graph.items() for t in ts if layer_of(t) > layer_of(m))


def table(graph: dict[str, set[str]], root: Path = ROOT) -> str:
    """The layers as a Markdown table: layer, its packages, modules, lines, and what it imports below."""
    known = modules(root)
    rows = ["| layer | packages | modules | lines | imports from |", "|---|---|---|---|---|"]
    by_layer: dict[int, list[str]] = defaultdict(list)
    for name in graph:
        by_layer[layer_of(name)].append(name)
    for index in reversed(range(len(LAYERS))):
        label, packages = LAYERS[index]
        names = by_layer[index]
        lines = sum(len(known[n].read_text(encoding="utf-8").splitlines()) for n in names)
        below = sorted({LAYERS[layer_of(t)][0] for n in names for t in graph[n] if layer_of(t) < index})
        shown = ", ".join(f"`{p}`" for p in packages if p) or "`digest`"
        rows.append(f"| {label} | {shown} | {len(names)} | {lines} | {', '.join(below) or '—'} |")
    return "\n".join(rows)


def long_code(root: Path = ROOT, *, lines: int = 80, params: int = 10,
              module_lines: int = 400) -> list[str]:
    """Functions over `lines` lines or `params` parameters (click commands aside), modules over `module_lines`."""
    found = []
    for name, path in modules(root).items():
        source = path.read_text(encoding="utf-8")
        if len(source.splitlines()) > module_lines:
            found.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if any("click" in ast.unparse(d) for d in node.decorator_list):
                continue
            a = node.args
            count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
            count -= bool(a.args) and a.args[0].arg in ("self", "cls")
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > lines or count > params:
                found.append(f"{name}.{node.name}: {length} lines, {count} parameters")
    return sorted(found)


def main(argv: list[str]) -> int:
    """Print the table, the cycles and the arrows back up (of another checkout's digest/ when given)."""
    root = Path(argv[0]).resolve() if argv else ROOT
    graph = import_graph(root)
    print(table(graph, root))
    found = cycles(graph)
    print(f"\ncycles: {len(found)}")
    for component in found:
        print("  " + " ↔ ".join(component))
    up = arrows_up(graph)
    print(f"arrows back up: {len(up)}")
    for source, target in up:
        print(f"  {source} → {target}")
    long = long_code(root)
    print(f"functions over 80 lines or 10 parameters, modules over 400 lines: {len(long)}")
    for line in long:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
