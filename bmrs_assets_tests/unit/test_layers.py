"""The package's layering rules, read from the source with ``ast`` (nothing is imported).

* the ``bmrs_assets.*`` -> ``bmrs_assets.*`` import graph, function-level imports included, has no cycle;
* the library (everything but ``defs/``, ``cli/`` and ``definitions.py``) imports no Dagster and
  nothing from the wiring layer, so it can be used and tested without an orchestrator;
* nothing in the runtime package imports the tests or pytest;
* no module is over 500 lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "bmrs_assets"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
WIRING = (f"{PACKAGE}.defs", f"{PACKAGE}.cli", f"{PACKAGE}.definitions")
# ``python -m bmrs_assets`` must run ``bmrs_assets/__main__.py``: it may hand over to the command
# line (and to nothing else of the wiring layer, nor Dagster).
ENTRY_POINTS = {f"{PACKAGE}.__main__": (f"{PACKAGE}.cli",)}
MAX_LINES = 500


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted and absolute (the most specific module it names)
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``importer``)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports(known: dict[str, Path]) -> list[Import]:
    """Every import statement anywhere in every module (top level, functions, ``if`` blocks).

    ``from a import b`` names the module ``a.b`` when that is a module of the package, else ``a``.
    """
    out: list[Import] = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out.extend(Import(name, alias.name, node.lineno) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    out.append(Import(name, sub if sub in known else base, node.lineno))
    return out


def _is_wiring(module: str) -> bool:
    return any(module == w or module.startswith(w + ".") for w in WIRING)


def _allowed_entry(imp: Import) -> bool:
    return any(imp.target == t or imp.target.startswith(t + ".") for t in ENTRY_POINTS.get(imp.module, ()))


def _top(module: str) -> str:
    return module.split(".")[0]


def internal_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules it imports (targets not in the package dropped)."""
    graph: dict[str, set[str]] = {m: set() for m in known}
    for imp in imports(known):
        if imp.target in known and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One concrete cycle (``a -> b -> ... -> a``) per strongly connected component of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan; the graph is small, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return [_cycle_in(graph, c) for c in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, staying inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")  # pragma: no cover


def test_the_import_graph_has_no_cycle() -> None:
    found = cycles(internal_graph(modules()))
    assert not found, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in found)


def test_the_library_imports_neither_dagster_nor_the_wiring_layer() -> None:
    known = modules()
    bad = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in imports(known)
           if not _is_wiring(imp.module)
           and (_top(imp.target) == "dagster" or _top(imp.target).startswith("dagster_")
                or (_is_wiring(imp.target) and not _allowed_entry(imp)))]
    assert not bad, "library modules importing Dagster or bmrs_assets.{defs,cli,definitions}:\n  " + "\n  ".join(bad)


def test_the_package_imports_no_tests_and_no_pytest() -> None:
    bad = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in imports(modules())
           if _top(imp.target) in ("bmrs_assets_tests", "pytest", "_pytest")]
    assert not bad, "runtime modules importing tests or pytest:\n  " + "\n  ".join(bad)


def test_no_module_is_over_500_lines() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    big = {name: n for name, n in sorted(sizes.items()) if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: " + ", ".join(f"{name} ({n})" for name, n in big.items())


def test_the_checks_see_what_they_must() -> None:
    """The rules are not vacuous: the parser finds the package, its wiring's Dagster imports, and a known edge."""
    known = modules()
    assert {f"{PACKAGE}.definitions", f"{PACKAGE}.quality.gaps", f"{PACKAGE}.defs"} <= set(known)
    found = imports(known)
    assert any(imp.module == f"{PACKAGE}.definitions" and imp.target == "dagster" for imp in found)
    assert any(imp.module == f"{PACKAGE}.quality.gaps" and imp.target == f"{PACKAGE}.quality.completeness" for imp in found)
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
