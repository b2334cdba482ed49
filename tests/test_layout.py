"""The package's layering, checked against the rule table of ``docs/layout.md``.

Every ``import`` in every module of ``skelmo`` is read (function-level imports
included) and resolved to the module it names.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "skelmo"
LAYOUT_PAGE = ROOT / "docs" / "layout.md"
_ROW = re.compile(r"^\| `(skelmo(?:\.\w+)?)` \| .+ \| (.+) \|$")


def _rules() -> dict[str, set[str]]:
    """``unit -> units it may import``, from the table of the layout page."""
    rules = {}
    for line in LAYOUT_PAGE.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            allowed = set(re.findall(r"`([\w.]+)`", match.group(2)))
            rules[match.group(1)] = {f"skelmo.{name}" for name in allowed}
    return rules


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """Every skelmo module that module ``name`` imports, anywhere in its code."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # "from pkg import sub" imports the submodule sub when there is one.
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES
                       else source for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target.split(".")[0] == "skelmo")
    return found


def _unit(name: str) -> str:
    """The layer a module belongs to: its first-level subpackage or top-level module."""
    return ".".join(name.split(".")[:2])


RULES = _rules()


def test_the_layout_page_names_every_unit_of_the_package():
    units = {_unit(name) for name in MODULES}
    assert units - {"skelmo.__main__"} == set(RULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_follow_the_layers(name):
    unit = _unit(name)
    allowed = RULES.get(unit, {"skelmo.cli"})  # __main__ runs the command line
    for target in _imports(name):
        other = _unit(target)
        if other == unit:
            continue
        assert other in allowed, f"{name} imports {target}: {unit} may not import {other}"
        # Another layer is used through its __init__ only.
        assert target == other or not target.rpartition(".")[2].startswith("_"), (
            f"{name} imports {target}, a private module of {other}: import from {other}")


def test_no_import_cycles():
    graph = {name: sorted(_imports(name) & MODULES.keys()) for name in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _is_package(n)))
def test_every_subpackage_says_what_it_owns_and_imports(name):
    docstring = ast.get_docstring(ast.parse(MODULES[name].read_text(encoding="utf-8")))
    assert docstring, f"{name} has no docstring"
    if name != "skelmo":
        assert re.search(r"\bimports?\b", docstring, re.IGNORECASE), (
            f"the docstring of {name} does not say what it imports")


def test_tests_mirror_the_subpackages():
    subpackages = {name.split(".")[1] for name in MODULES if _is_package(name) and name != "skelmo"}
    tested = {path.name for path in (ROOT / "tests").iterdir()
              if path.is_dir() and (path / "__init__.py").is_file()}
    assert subpackages <= tested
