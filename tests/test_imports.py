"""The import graph of the package, read from the source (every import counts, lazy ones inside functions too;
those under ``if TYPE_CHECKING:`` only for the layering rule): no cycle between files, no cycle between packages
(``bench.data``, ``bench.tuning``, ``bench.reports``, ``bench.studies``, ``bench.cli``, each module directly in
``bench/``, ``embeddings``, ``models``, ``parts``), and the parts (``embeddings``, ``models``) and their shared
base (``parts``) import nothing from ``bench``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("bench", "embeddings", "models", "parts")
SUBPACKAGES = ("bench.data", "bench.tuning", "bench.reports", "bench.studies", "bench.cli")


def _modules() -> dict[str, Path]:
    found = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _internal(name: str) -> str | None:
    """The module of ours that importing ``name`` runs last (the longest known prefix), or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module of ours, line, only for type checking) for every import in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for inner in child.body:
                    visit_one(inner, True)
                for inner in child.orelse:
                    visit_one(inner, typing_only)
            else:
                visit_one(child, typing_only)

    def visit_one(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((target, node.lineno, typing_only) for alias in node.names
                         if (target := _internal(alias.name)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                target = _internal(f"{base}.{alias.name}") if f"{base}.{alias.name}" in MODULES else _internal(base)
                if target:
                    found.append((target, node.lineno, typing_only))
        visit(node, typing_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return [(target, line, typing_only) for target, line, typing_only in found if target != module]


IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def package_of(module: str) -> str:
    """A subpackage of ``bench`` as one node, each module directly in ``bench/`` its own, other packages whole."""
    for sub in SUBPACKAGES:
        if module == sub or module.startswith(sub + "."):
            return sub
    return module if module.split(".")[0] == "bench" else module.split(".")[0]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def _runtime_edges(key=lambda module: module) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, imported in IMPORTS.items():
        for target, _, typing_only in imported:
            if not typing_only and key(module) != key(target):
                edges.setdefault(key(module), set()).add(key(target))
    return edges


def _where(edges_of: dict[str, set[str]], component: list[str], key=lambda module: module) -> str:
    """The imports that close a cycle, as file:line, for the failure message."""
    members = set(component)
    lines = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {t}" for m, imported in IMPORTS.items()
             if key(m) in members for t, line, typing_only in imported
             if not typing_only and key(t) in members and key(t) != key(m)]
    return "\n  ".join(lines)


def test_the_graph_reads_every_file_and_import():
    assert {"bench.cli.main", "bench.data.tasks", "embeddings.registry", "models.registry", "parts.errors"} <= set(MODULES)
    assert ("parts.errors", True) in {(t, True) for t, _, _ in IMPORTS["embeddings.registry"]}
    lazy = {t for t, _, _ in IMPORTS["bench"]}  # bench/__init__.py imports bench.data.taskfile inside a function
    assert "bench.data.taskfile" in lazy
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_files():
    edges = _runtime_edges()
    found = cycles(edges)
    assert not found, "\n".join(f"cycle {' <-> '.join(c)}:\n  {_where(edges, c)}" for c in found)


def test_no_import_cycle_between_packages():
    edges = _runtime_edges(package_of)
    found = cycles(edges)
    assert not found, "\n".join(f"cycle {' <-> '.join(c)}:\n  {_where(edges, c, package_of)}" for c in found)


@pytest.mark.parametrize("top", ["embeddings", "models", "parts"])
def test_parts_import_nothing_from_bench(top):
    reaching_up = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {t}" for m, imported in IMPORTS.items()
                   if m.split(".")[0] == top for t, line, _ in imported if t.split(".")[0] == "bench"]
    assert not reaching_up, "\n".join(reaching_up)


def test_the_shared_base_imports_only_itself():
    outside = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {t}" for m, imported in IMPORTS.items()
               if m.split(".")[0] == "parts" for t, line, _ in imported if t.split(".")[0] != "parts"]
    assert not outside, "\n".join(outside)
