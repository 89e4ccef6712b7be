"""The layer rule and the size rule, checked on the source so a change cannot drift past them.

cli → adapters → core, never back up; the core imports nothing that does I/O or belongs to a
framework; no import cycles between modules; no module longer than a reader takes in at once.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mediaserve"
MAX_LINES = 450
#: third-party packages the pure core may use: TOML parsing and writing are pure functions
CORE_THIRD_PARTY = {"tomli", "tomli_w"}
#: standard modules that do I/O or run things: not in the core
CORE_FORBIDDEN_STDLIB = {"os", "socket", "subprocess", "asyncio", "threading", "shutil",
                         "multiprocessing", "pathlib", "io", "tempfile", "fcntl", "signal",
                         "concurrent", "http.client", "http.server", "urllib.request",
                         "logging", "sqlite3", "select", "selectors", "mmap"}
LAYERS = {"core": 0, "adapters": 1, "cli": 2, "web": 1}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, anywhere in its body (lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names
                         if f"{base}.{alias.name}" in MODULES)
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 and parts[0] == "mediaserve" else None


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_one_way(name: str) -> None:
    mine = _layer(name)
    if mine is None:
        return
    for target in IMPORTS[name]:
        theirs = _layer(target)
        assert theirs is None or theirs <= mine, f"{name} imports {target} (a higher layer)"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("mediaserve.core")))
def test_core_is_pure(name: str) -> None:
    for target in IMPORTS[name]:
        top = target.split(".")[0]
        if top == "mediaserve":
            assert target == "mediaserve" or target.startswith("mediaserve.core"), target
        elif top in sys.stdlib_module_names:
            assert not any(target == bad or target.startswith(bad + ".")
                           for bad in CORE_FORBIDDEN_STDLIB), f"{name} imports {target} (I/O)"
        else:
            assert top in CORE_THIRD_PARTY, f"{name} imports {target} (a framework)"


def test_no_import_cycles() -> None:
    graph = {name: {t for t in IMPORTS[name] if t in MODULES and t != name}
             for name in MODULES}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not (MODULES[name].name == "__init__.py"
                                                  and t.startswith(name + "."))}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def _wing(module: str) -> str:
    return ".".join(module.split(".")[:3])


def test_feature_wings_do_not_depend_on_each_other_in_a_circle() -> None:
    """Between feature folders too (adapters/library and adapters/audit, say), dependencies
    run one way, so each wing can be read knowing only the ones below it."""
    edges: dict[str, set[str]] = {}
    for name, targets in IMPORTS.items():
        for target in targets:
            if target in MODULES and _wing(target) != _wing(name):
                edges.setdefault(_wing(name), set()).add(_wing(target))
    for wing, targets in edges.items():
        for target in targets:
            assert wing not in edges.get(target, set()), f"{wing} <-> {target}"


#: modules being split right now (issue 8); strict, so each must leave this list once split
SPLITTING: set[str] = set()


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="being split"))
    if name in SPLITTING else name for name in sorted(MODULES)])
def test_modules_are_small(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines (split it by what it does)"


# --- the server wing: sub-wings one way, aiohttp behind its public seam ----------------------

SERVER = "mediaserve.adapters.server"
#: lower ranks are imported by higher ones, never the other way; the root (app, runner,
#: workers) composes them all. stream and stats do not import each other.
SUB_WINGS = {"net": 0, "site": 1, "api": 2, "stream": 3, "stats": 3, "": 4}
#: what a process that only streams loads: none of it may import aiohttp at module level
AIOHTTP_FREE = ("net", "site", "stream.job", "stream.fast", "stream.sendfile", "runner",
                "workers", "loops", "")
#: aiohttp's public modules mediaserve may import (tests may read more)
AIOHTTP_PUBLIC = {"aiohttp", "aiohttp.web", "aiohttp.abc"}
MAX_FUNCTION_LINES = 60
#: underscored names that are public API (named tuples'), not anybody's internals
PUBLIC_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make"}


def _sub_wing(module: str) -> str | None:
    if not (module == SERVER or module.startswith(SERVER + ".")):
        return None
    rest = module[len(SERVER) + 1:].split(".") if module != SERVER else [""]
    return rest[0] if rest[0] in SUB_WINGS else ""


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _sub_wing(n) is not None))
def test_server_sub_wings_run_one_way(name: str) -> None:
    mine = _sub_wing(name)
    assert mine is not None
    for target in IMPORTS[name]:
        theirs = _sub_wing(target)
        if theirs is None or theirs == mine or target == SERVER:
            continue
        assert SUB_WINGS[theirs] < SUB_WINGS[mine], f"{name} imports {target}"


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported (not inside functions, nor for typing)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.If,
                                                        ast.Try)) else ():
            if isinstance(sub, ast.Import):
                found.update(alias.name for alias in sub.names)
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                found.add(sub.module)
    return found


def _closure(name: str, seen: set[str]) -> set[str]:
    """Every module importing ``name`` loads (top-level imports, transitively)."""
    if name in seen or name not in MODULES:
        return seen
    seen.add(name)
    path = MODULES[name]
    package = name.rsplit(".", 1)[0]
    if package in MODULES and package != name:
        _closure(package, seen)
    for target in _top_level_imports(path):
        if target.startswith("mediaserve"):
            _closure(target, seen)
        else:
            seen.add(target)
    return seen


@pytest.mark.parametrize("prefix", AIOHTTP_FREE)
def test_what_streams_never_imports_aiohttp(prefix: str) -> None:
    """A server that has only streamed has not imported aiohttp (idle RSS, README)."""
    base = f"{SERVER}.{prefix}" if prefix else SERVER
    names = [n for n in MODULES if n == base or (prefix in SUB_WINGS and prefix
                                                 and n.startswith(base + "."))]
    assert names, base
    for name in names:
        loaded = _closure(name, set())
        assert not any(m == "aiohttp" or m.startswith("aiohttp.") for m in loaded), (
            f"importing {name} imports aiohttp")


def _own_names() -> set[str]:
    """Every attribute name mediaserve defines itself (so ``x._name`` on one is ours)."""
    names: set[str] = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)  # __slots__ entries
    return names


def test_aiohttp_is_used_through_its_public_interfaces_only() -> None:
    """No private aiohttp module, no ``._name`` of an aiohttp object (anything not ours),
    no subclass of aiohttp's classes but its abstract bases (``aiohttp.abc``)."""
    own = _own_names()
    found: list[str] = []
    for name, path in MODULES.items():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        aiohttp_names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp"):
                if node.module not in AIOHTTP_PUBLIC:
                    found.append(f"{name}: imports {node.module}")
                if node.module != "aiohttp.abc":
                    aiohttp_names.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("aiohttp"):
                        if alias.name not in AIOHTTP_PUBLIC:
                            found.append(f"{name}: imports {alias.name}")
                        aiohttp_names.add((alias.asname or alias.name).split(".")[0])
        if not aiohttp_names:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and node.attr not in own
                    and node.attr not in PUBLIC_UNDERSCORED):
                found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    root = ast.unparse(base).split(".")[0]
                    if root in aiohttp_names:
                        found.append(f"{name}:{node.lineno}: class {node.name} subclasses "
                                     f"{ast.unparse(base)}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(SERVER)))
def test_server_functions_are_short(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{name}: " + ", ".join(long)
