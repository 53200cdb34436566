"""The layout's rules, checked on the source: where SQL lives, which package may
import which, and no import circle (docs/ARCHITECTURE.md).

Imports are read from the syntax tree: module-level imports only count for
circles (an import inside a function runs when called, after every module is
loaded); every import counts for the layer rules, ``if TYPE_CHECKING:`` ones too.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("careline", "channels", "config", "db", "handlers", "streams", "tools", "adapters")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _project(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _importers_of(prefixes: tuple[str, ...], within: str) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if module.split(".")[0] == within
        for name in _imports(path, False)
        if name.split(".")[0] in prefixes or name in prefixes
    )


def test_sql_lives_only_in_db():
    outside = [line for package in PACKAGES if package != "db" for line in _importers_of(("sqlalchemy",), package)]
    assert outside == []


def test_the_domain_imports_no_framework_and_no_outer_layer():
    assert (
        _importers_of(
            (
                "faust",
                "aiokafka",
                "kafka",
                "sqlalchemy",
                "twilio",
                "fastapi",
                "starlette",
                "mode",
                "db",
                "streams",
                "careline",
                "channels",
                "config",
                "tools",
                "adapters",
            ),
            "handlers",
        )
        == []
    )


def test_the_worker_does_not_import_the_entry_points_or_the_tools():
    assert _importers_of(("careline", "tools"), "streams") == []
    assert _importers_of(("careline", "tools", "streams"), "channels") == []


def test_the_runtime_does_not_import_the_tools():
    assert [line for line in _importers_of(("tools",), "careline") if not line.startswith("careline.cli ")] == []


def test_no_import_circle_among_modules():
    graph = {m: {p for n in _imports(path, True) if (p := _project(n)) and p != m} for m, path in MODULES.items()}
    circles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for nxt in sorted(graph[module]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(trail[trail.index(nxt) :] + [nxt]) if nxt in trail else nxt)
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []
