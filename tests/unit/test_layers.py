"""The import graph of pycontain reads in one direction.

Every module's imports are read from its source (``ast``), the ones inside functions too,
since an import moved into a function still ties the two modules together.  Imports under
``if TYPE_CHECKING:`` never run; they are left out of the circle check (annotations may
name a class of a module above), but not out of the lowlevel check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pycontain

PKG = Path(pycontain.__file__).parent
ROOT = PKG.parent


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts.pop()
        out[".".join(parts)] = (f, is_pkg)
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, with_type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            if with_type_checking:
                yield from _imports(node, True)
            else:
                for child in node.orelse:
                    yield from _imports(ast.Module(body=[child], type_ignores=[]), False)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node, with_type_checking)


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The pycontain modules (or, for names that are not modules, their module) *node* in
    *module* imports."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] == "pycontain"}
    if node.level:
        base = module.split(".")
        if not is_pkg:
            base.pop()
        base = base[:len(base) - (node.level - 1)]
        src = ".".join(base + ([node.module] if node.module else []))
    else:
        src = node.module or ""
    if src.split(".")[0] != "pycontain":
        return set()
    out = set()
    for a in node.names:
        sub = f"{src}.{a.name}"
        # `from . import x` imports module x; `from .m import name` imports module m
        out.add(sub if sub in MODULES or sub == "pycontain._ffi" else src)
    return out


def _graph(with_type_checking: bool) -> dict[str, set[str]]:
    graph = {}
    for name, (path, is_pkg) in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        deps: set[str] = set()
        for node in _imports(tree, with_type_checking):
            deps |= _targets(name, is_pkg, node)
        deps.discard(name)
        graph[name] = deps
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path(graph: dict[str, set[str]], comp: list[str]) -> str:
    """One circle through the component, for the failure message."""
    members = set(comp)
    start = comp[0]
    seen = [start]
    v = start
    while True:
        nxt = sorted(w for w in graph[v] if w in members)
        if start in nxt and len(seen) > 1:
            return " -> ".join([*seen, start])
        w = next((w for w in nxt if w not in seen), None)
        if w is None:
            return " -> ".join([*seen, nxt[0]])
        seen.append(w)
        v = w


def test_the_reader_sees_imports_inside_functions() -> None:
    graph = _graph(with_type_checking=False)
    # container.py imports the cgroups package inside its methods only
    assert "pycontain.cgroups" in graph["pycontain.container"]
    assert "pycontain.lowlevel.plan" in graph["pycontain.container"]
    assert "pycontain._ffi" in _graph(with_type_checking=True)["pycontain.lowlevel"]


def test_no_import_circle() -> None:
    graph = _graph(with_type_checking=False)
    circles = [_path(graph, c) for c in _circles(graph)]
    assert circles == []


def test_circle_finder_finds_one() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lowlevel_is_a_leaf() -> None:
    graph = _graph(with_type_checking=True)
    upward = {
        m: sorted(d for d in deps
                  if not d.startswith("pycontain.lowlevel") and d != "pycontain._ffi")
        for m, deps in graph.items() if m.startswith("pycontain.lowlevel")
    }
    assert len(upward) >= 4
    assert {m: d for m, d in upward.items() if d} == {}
