"""The layout as ARCHITECTURE.md describes it: no import cycles, layers that import only downward,
and every path ARCHITECTURE.md names exists.

The import graph is read with `ast` from the source files (nothing is imported), every `import`
counted, module level or inside a function, except those under `if TYPE_CHECKING:`.
"""

import ast
import re
from pathlib import Path
from typing import Iterator

import pytest
from support import ROOT

PACKAGES = ("pipelines", "sources", "sandbox", "deploy", "bench")
ENTRY_POINTS = {"metricsync.cli", "metricsync.__main__"}  # the CLI: the one place that imports every command
PROVIDERS = ("whop", "stripe_analytics", "posthog", "statsig")


IMPORT_NAMES = {
    "pipelines": "metricsync",
    "sources": "metricsync.sources",
    "sandbox": "metricsync.sandbox",
    "bench": "metricsync.bench",
    "deploy": "deploy",
}  # folder -> installed import name (setup.py)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = IMPORT_NAMES[parts[0]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _imports(tree: ast.AST) -> Iterator[ast.stmt]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue  # annotations only, never executed
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def _targets(module: str, node: ast.stmt) -> Iterator[str]:
    """The project modules an import statement loads (the most specific one named)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        if node.level:
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            yield name


def import_graph() -> dict[str, set[str]]:
    return {
        module: {t for node in _imports(ast.parse(path.read_text())) for t in _targets(module, node)}
        for module, path in MODULES.items()
    }


GRAPH = import_graph()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (empty when the graph is acyclic)."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def package_of(module: str) -> str:
    """A module's folder; a package's `__init__` (a re-export facade) and the CLI entry points
    are nodes of their own, since they import the folders below them."""
    if MODULES[module].name == "__init__.py" or module in ENTRY_POINTS:
        return module + ("" if module in ENTRY_POINTS else ".__init__")
    return module.rpartition(".")[0]


def test_the_graph_sees_the_known_imports():
    """A guard against a graph that finds nothing: a few imports every reader can check."""
    assert "metricsync.runner" in GRAPH["metricsync.commands.run"]
    assert "metricsync.sources._common.config.spec" in GRAPH["metricsync.sources._common.http.client"]
    assert "metricsync.sources.whop.helpers" in GRAPH["metricsync.sources.whop"]  # `from . import helpers`
    assert "metricsync.sandbox.messages" in GRAPH["metricsync.sandbox.whop"]  # `from .messages import ...`
    assert "metricsync.report" in GRAPH["metricsync.runner"]  # an import inside a function


def test_no_import_cycle_between_modules():
    assert cycles(GRAPH) == []


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        own = package_of(module)
        packages.setdefault(own, set()).update(package_of(t) for t in targets if package_of(t) != own)
    assert cycles(packages) == []


def _folder_name(name: str) -> str:
    """`metricsync.sources.whop` -> `sources.whop`, `metricsync.runner` -> `pipelines.runner`: the tree's path."""
    for folder, imported in sorted(IMPORT_NAMES.items(), key=lambda item: -len(item[1])):
        if name == imported or name.startswith(imported + "."):
            return folder + name[len(imported) :]
    return name


def _in(module: str, *prefixes: str) -> bool:
    """Whether a module lives under one of these folders (`pipelines`, `sources.whop`) or import names."""
    path = _folder_name(module)
    return any(path == q or path.startswith(q + ".") for q in map(_folder_name, prefixes))


LAYERS = [
    # (who, must not import, why)
    ("sources", ("pipelines", "sandbox", "deploy", "bench"), "sources are the bottom layer"),
    ("metricsync.sources._common", tuple(f"sources.{p}" for p in PROVIDERS), "the shared machinery knows no provider"),
    ("sandbox", ("pipelines", "sources", "deploy", "bench"), "the emulator is written from the API docs alone"),
    (
        "metricsync.warehouse",
        ("metricsync.runner", "metricsync.commands", "metricsync.cli"),
        "the warehouse is below the runner",
    ),
    (
        "metricsync.commands",
        ("metricsync.cli", "metricsync.__main__"),
        "commands are registered by cli, not the reverse",
    ),
    ("pipelines", ("deploy", "bench"), "deployments and the benchmark sit beside the program"),
]


@pytest.mark.parametrize("who, forbidden, why", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layers_import_only_downward(who, forbidden, why):
    wrong = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _in(m, who) for t in targets if _in(t, *forbidden))
    assert wrong == [], why


def test_pipelines_core_never_imports_the_commands_or_the_cli():
    core = [m for m in GRAPH if _in(m, "pipelines") and not _in(m, "metricsync.commands") and m not in ENTRY_POINTS]
    wrong = sorted(f"{m} -> {t}" for m in core for t in GRAPH[m] if _in(t, "metricsync.commands", *ENTRY_POINTS))
    assert wrong == []


def test_one_provider_never_imports_another():
    wrong = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        for p in PROVIDERS
        if _in(m, f"sources.{p}")
        for t in targets
        for other in PROVIDERS
        if other != p and _in(t, f"sources.{other}")
    ]
    assert wrong == []


def test_every_path_architecture_md_names_exists():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    paths = set(re.findall(r"`((?:pipelines|sources|sandbox|deploy|transform|bench|tests|\.dlt)/[\w./<>-]*)`", text))
    assert len(paths) > 20, "ARCHITECTURE.md names the tree's paths in backticks"
    missing = sorted(p for p in paths if "<" not in p and not (ROOT / p).exists())
    assert missing == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c", "a"]]),
    ],
    ids=["two", "chain", "diamond-back"],
)
def test_cycles_finds_what_is_there(graph, expected):
    assert cycles(graph) == expected


def test_a_fifth_provider_is_its_folder_plus_one_registry_line():
    """Outside `sources/<provider>/`, only the registry lists every provider (ARCHITECTURE.md says so):
    no dict in pipelines/ or deploy/ is keyed by all four, and each provider's folder holds the facts
    the runner reads (its settings.py tables, its helpers.probe)."""
    import importlib

    text = (ROOT / "ARCHITECTURE.md").read_text()
    tables = set()
    for module, path in MODULES.items():
        if not _in(module, "pipelines", "deploy"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)} if isinstance(node, ast.Dict) else set()
            if set(PROVIDERS) <= keys:
                tables.add(str(path.relative_to(ROOT)))
    assert tables == {"pipelines/providers.py"}
    assert "plus one registry line" in text and "`pipelines/providers.py`" in text
    for provider in PROVIDERS:
        settings = importlib.import_module(f"metricsync.sources.{provider}.settings")
        assert {"WINDOWED_TABLES", "DEFINITION_TABLES", "ACCOUNT_PARAMS", "SPEC_ARGS"} <= set(vars(settings))
        assert callable(importlib.import_module(f"metricsync.sources.{provider}.helpers").probe)
