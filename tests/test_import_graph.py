"""The house rules of the package layout, read from the source with ``ast``:

- no import circles between covguard's modules (imports inside functions count; an import under
  ``if TYPE_CHECKING:`` does not, as it never runs);
- the stage packages never import the command line, nor the pipeline (:mod:`covguard.api`) that
  calls them (``change/``, the commands beside the pipeline, may use the pipeline);
- every module imports alone, in a fresh set of covguard modules.

An edge is what an import statement names: ``from covguard.a import b`` is an edge to the module
``covguard.a.b`` when that is a module, else to ``covguard.a``; ``import covguard.a.b`` is an edge to
``covguard.a.b``.  The package a module lives in, which Python imports first, is not an edge: a
package's ``__init__`` may re-export its modules.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "covguard"
# the packages of the data path, in its order; they are called by covguard.api and never call up
STAGES = ("builder", "run", "ingest", "trace", "requirements", "analysis", "report", "evidence")
# change control: commands beside the pipeline (affected, who-covers, justify); they may call it
COMMANDS = ("change",)


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """The covguard modules ``name`` imports, each with the line of its first import."""
    edges: dict[str, int] = {}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def target(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def add(dotted: str | None, line: int) -> None:
        if dotted and dotted != name and dotted.startswith("covguard"):
            edges.setdefault(dotted, line)

    def visit(nodes: list[ast.stmt] | list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _type_checking(node):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(target(alias.name), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    add(full if full in known else target(base), node.lineno)
            visit(list(ast.iter_child_nodes(node)))

    visit(ast.parse(path.read_text(), str(path)).body)
    return edges


def import_graph() -> dict[str, dict[str, int]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    members.append(top)
                    if top == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return found


def shortest_circle(graph: dict[str, dict[str, int]], start: str, members: set[str]) -> list[str]:
    """The shortest way from ``start`` back to itself inside one component."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return [start]


def describe(graph: dict[str, dict[str, int]], circle: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(circle)]
    return " -> ".join([*steps, circle[-1]])


def test_no_import_circles() -> None:
    graph = import_graph()
    problems = []
    for members in components(graph):
        circle = shortest_circle(graph, members[0], set(members))
        problems.append(f"{len(members)} modules in a circle, e.g. {describe(graph, circle)}")
    assert not problems, "import circles:\n" + "\n".join(problems)


def test_the_graph_sees_circles_and_function_imports(tmp_path: Path) -> None:
    """The checker itself: an import inside a function is an edge, one under TYPE_CHECKING is not."""
    a = tmp_path / "a.py"
    a.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from covguard.c import x\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from covguard.a import y\n")
    known = {"covguard.a", "covguard.b", "covguard.c"}
    graph = {
        "covguard.a": imports_of("covguard.a", a, known) | {"covguard.b": 1},
        "covguard.b": imports_of("covguard.b", b, known),
        "covguard.c": {},
    }
    assert graph["covguard.b"] == {"covguard.a": 2}
    assert components(graph) == [["covguard.a", "covguard.b"]]
    assert shortest_circle(graph, "covguard.a", {"covguard.a", "covguard.b"}) == [
        "covguard.a",
        "covguard.b",
        "covguard.a",
    ]


def test_stages_do_not_import_the_command_line_or_the_pipeline() -> None:
    graph = import_graph()

    wrong = []
    checked = 0
    for module, edges in sorted(graph.items()):
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in STAGES + COMMANDS or (PACKAGE / parts[1]).is_file():
            continue
        checked += 1
        banned = ("covguard.cli",) if parts[1] in COMMANDS else ("covguard.cli", "covguard.api")
        wrong += [f"{module} imports {b} (line {edges[b]})" for b in banned if b in edges]
    assert checked > 50  # the check looks at the stages
    assert not wrong, "\n".join(wrong)


# the stages that take their own options object (covguard/options.py builds it), not the settings
OPTIONS_STAGES = ("builder", "run", "ingest", "analysis", "report")


def test_stages_with_options_do_not_take_the_settings() -> None:
    """The build, run, ingest, analysis and report stages read a frozen options object built from the settings
    in one place (:mod:`covguard.options`): none of their modules imports ``Settings`` (or
    ``load_settings``) from :mod:`covguard.config`, nor the module itself to reach them as attributes."""
    wrong = []
    checked = 0
    for module, path in sorted(modules().items()):
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in OPTIONS_STAGES:
            continue
        checked += 1
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "covguard.config":
                names = {a.name for a in node.names} & {"Settings", "load_settings", "*"}
                wrong += [
                    f"{module} imports {n} from covguard.config (line {node.lineno})" for n in sorted(names)
                ]
            elif isinstance(node, ast.ImportFrom) and node.module == "covguard":
                if any(a.name == "config" for a in node.names):
                    wrong.append(f"{module} imports covguard.config (line {node.lineno})")
            elif isinstance(node, ast.Import) and any(a.name == "covguard.config" for a in node.names):
                wrong.append(f"{module} imports covguard.config (line {node.lineno})")
    assert checked > 40  # the check looks at the five packages
    assert not wrong, "\n".join(wrong)


@pytest.mark.slow
def test_every_module_imports_alone() -> None:
    names = [m for m in modules() if m != "covguard.__main__"]  # __main__ runs the command line
    script = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'covguard' or m.startswith('covguard.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        failed.append(name + ': ' + traceback.format_exc(limit=3))\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
