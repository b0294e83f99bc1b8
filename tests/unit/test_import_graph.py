"""The project's modules import each other without cycles (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("qkatlas", "precompute", "backend", "quickstart")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports anywhere in its body (``from a.b import c`` counts as
    ``a.b.c`` when that is a module, else ``a.b``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
    return {module for module in found if module in modules and module != name}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, name, modules) for name, path in paths.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of modules, first = last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)) is not None:
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_of_the_project_imports_itself_back() -> None:
    graph = _graph()
    assert "precompute.cli" in graph and "qkatlas.atlas.contract" in graph["qkatlas.atlas.reader"]
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        for imported in graph[stack.pop()] - seen:
            seen.add(imported)
            stack.append(imported)
    return seen


#: (package or module, what it must never reach): images and models sit below the atlas format; the
#: atlas contract only describes files.
_LAYERS = (
    ("qkatlas.images", ("qkatlas.atlas", "qkatlas.models")),
    ("qkatlas.models", ("qkatlas.atlas",)),
    ("qkatlas.atlas.contract", ("qkatlas.svd", "qkatlas.scoring", "qkatlas.mode_statistics")),
)


def _violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for lower, forbidden in _LAYERS:
        for module in sorted(m for m in graph if m == lower or m.startswith(f"{lower}.")):
            reached = _reachable(graph, module)
            found += [f"{module} → {bad}" for bad in sorted(reached) if bad.startswith(forbidden)]
    return found


def test_the_layer_check_finds_a_planted_upward_import() -> None:
    graph = {"qkatlas.images.sources": {"qkatlas.helpers"}, "qkatlas.helpers": {"qkatlas.atlas.format"}}
    graph["qkatlas.atlas.format"] = set()
    assert _violations(graph) == ["qkatlas.images.sources → qkatlas.atlas.format"]


def test_lower_layers_never_reach_the_ones_above() -> None:
    assert _violations(_graph()) == []


def test_no_route_module_imports_another() -> None:
    """What two routes share is a service or a dependency (docs/architecture.md#the-service)."""
    graph = _graph()
    routes = {module for module in graph if module.startswith("backend.api.routes.")}
    assert len(routes) >= 5
    assert {route: sorted(graph[route] & routes) for route in routes if graph[route] & routes} == {}
