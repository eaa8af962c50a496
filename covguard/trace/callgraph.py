"""The product firmware's call graph, as GCC saw it: entry points, reachability, shortest call paths.

**Where the graph comes from.**  The product build runs with ``-fdump-ipa-cgraph`` (and
``-fcallgraph-info`` for the places of the definitions, see :func:`read_callgraph_info`).  The
first symbol table of each dump ("Initial Symbol table") is GCC's call graph of the translation
unit after parsing and macro expansion and *before* inlining or removing anything, so a static
helper that the optimiser later inlines is still there, with its callers.  Each symbol lists:

* ``Calls:`` - direct calls;
* ``References:`` - every other use of a symbol: a function's address taken (``(addr)``, a
  callback passed as an argument or stored), a variable read or written (``(read)``/``(write)``),
  and, for a variable, the addresses in its **initialiser** (``cmd_handlers`` references
  ``cmd_factory_bolus (addr)``).

``-fcallgraph-info`` alone is not enough: it is written after inlining (a static helper inlined
everywhere disappears, with its calls), and an indirect call is one ``__indirect_call`` node
with no hint of which functions it may reach; it does not say which functions have their
address taken.  So a function reached only through a table would look dead.  The IPA dump
records exactly those address references, which is what a conservative rule needs.

**The rules.**  Nodes are functions and data objects; a static symbol is ``(unit, name)``, an
external one is its assembler name, shared by every unit that declares it.  An edge goes from
a function to what it calls, to every function whose address it takes and to every object it
reads or writes; from an object to every function and object whose address is in its
initialiser.  Reachable is what a breadth-first walk reaches from the roots:

* the entry points: defined functions whose name matches ``reachability.entry_points`` (``main``,
  ``Reset_Handler``, ``*_IRQHandler``, ``*_Handler``) or ``reachability.extra_entry_points``
  (RTOS task functions, callbacks registered from assembly; ``path-glob:name`` selects a static
  function of one file);
* symbols the compiler must keep whatever the code does (``__attribute__((used))``: a vector
  table, a function called from assembly; GCC shows it only in optimised builds, since at
  ``-O0`` it marks every symbol so);
* objects with external linkage, or placed in a named section: their address can escape to code
  the compiler does not see (assembly, another program image, the linker script's ``KEEP``), so
  a function in a global table or a vector table is never called dead;
* symbols that code outside the graph refers to (a prebuilt object or a library calling back into
  the firmware), read from the linker map's cross-reference table.

So a function whose address is taken is reachable when the function that takes it is reachable,
or when the table holding it is reachable - and a function is never called dead while its
address escapes.

**Call paths.**  The shortest path from a root, as names: a data object shows as ``table[]``
(``main -> radio_poll -> cmd_process -> cmd_handlers[] -> cmd_factory_bolus``), a function
whose address is taken by a function (a callback passed as an argument) as ``&name``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from covguard.errors import InputError

DEFAULT_ENTRY_POINTS = ("main", "Reset_Handler", "*_IRQHandler", "*_Handler")
DUMP_FLAGS = ("-fdump-ipa-cgraph", "-fcallgraph-info")

# "cmd_process/21 (cmd_process) @0x7fd8f1268330"
_HEAD = re.compile(r"^(?P<name>\S.*)/(?P<order>\d+) \((?P<asm>.*)\) @0x[0-9a-fA-F]+$")
# "cmd_handlers/19 (read)" in a References line; "get_u16/3" in a Calls line
_REF = re.compile(r"/(\d+) \((\w+)\)")
_CALL = re.compile(r"/(\d+)(?=\s|$)")
# -fcallgraph-info: node: { title: "cmd.c:get_u16" label: "get_u16\ncmd.c:27:17" }
_CI_NODE = re.compile(
    r'^node: \{ title: "(?P<title>[^"]*)" label: "(?P<name>[^"\\]*)\\n(?P<place>[^"]*)"(?P<rest>.*)$'
)


@dataclass
class Symbol:
    """One symbol of one unit's initial symbol table."""

    order: int
    name: str
    asm: str
    kind: str  # "function" | "variable"
    defined: bool
    public: bool
    used: bool  # force_output: __attribute__((used)), or kept for another reason the compiler knows
    section: bool = False  # placed in a named section: __attribute__((section(".isr_vector")))
    calls: list[int] = field(default_factory=list)
    refs: list[tuple[int, str]] = field(default_factory=list)  # (order, "addr"|"read"|"write"|"alias")


def read_cgraph_dump(path: Path) -> list[Symbol]:
    """The symbols of the first ("Initial") symbol table of a ``-fdump-ipa-cgraph`` file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(
            f"cannot read the call-graph dump: {exc.strerror}",
            path=path,
            hint="run 'covguard build' again: the product build writes it",
        ) from None
    lines = text.splitlines()
    try:
        start = lines.index("Initial Symbol table:")
    except ValueError:
        raise InputError(
            "not a GCC call-graph dump (no 'Initial Symbol table:')",
            path=path,
            hint="the product build must be compiled by GCC (-fdump-ipa-cgraph); clang has no equivalent",
        ) from None
    symbols: list[Symbol] = []
    current: Symbol | None = None
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line:
            continue
        if not line.startswith(" "):
            m = _HEAD.match(line)
            if m is None:
                break  # the end of the table ("Removing unused symbols:" and later passes)
            current = Symbol(int(m["order"]), m["name"], m["asm"], "function", False, False, False)
            symbols.append(current)
            continue
        if current is None:
            raise InputError("a symbol attribute before any symbol", path=path, line=number)
        key, _, value = line.strip().partition(": ")
        if key == "Type":
            current.kind = "variable" if value.startswith("variable") else "function"
            current.defined = " definition" in f" {value}"
        elif key == "Visibility":
            flags = value.split()
            current.public = "public" in flags
            # without -ftoplevel-reorder (-O0) GCC marks every symbol force_output and no_reorder:
            # then __attribute__((used)) cannot be told apart, and only the other roots count
            current.used = "force_output" in flags and "no_reorder" not in flags
            current.section = any(f.startswith("section:") for f in flags)
        elif key == "Calls":
            current.calls = [int(o) for o in _CALL.findall(value)]
        elif key == "References":
            current.refs = [(int(o), k) for o, k in _REF.findall(value)]
    return symbols


@dataclass(frozen=True)
class Place:
    """Where a function is defined, as the compiler reports it."""

    file: str  # absolute
    line: int


def read_callgraph_info(path: Path, directory: str) -> dict[str, Place]:
    """Definition places of a ``-fcallgraph-info`` (.ci) file: function name -> place.

    Only functions with a body in the unit that the compiler expanded are listed (functions
    inlined everywhere are not); file names are resolved against the compile's ``directory``.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read the call-graph info: {exc.strerror}", path=path) from None
    places: dict[str, Place] = {}
    for line in text.splitlines():
        m = _CI_NODE.match(line)
        if m is None or "shape : ellipse" in m["rest"]:
            continue  # an edge, or a function declared but not defined here
        file, _, rest = m["place"].partition(":")
        number = rest.split(":")[0]
        if number.isdigit():
            places[m["name"]] = Place(os.path.normpath(os.path.join(directory, file)), int(number))
    return places


@dataclass(frozen=True)
class Unit:
    """One translation unit of the product build and its call-graph files."""

    source: str  # absolute path of the source file
    directory: str  # where the compiler ran
    dump: str  # the -fdump-ipa-cgraph file
    info: str | None = None  # the -fcallgraph-info file


@dataclass
class CallGraph:
    """The product's call graph.

    ``nodes``: ``key`` (str: the assembler name, ``unit::name`` for a static symbol), ``name``,
    ``kind`` (function|variable), ``unit`` (source of the definition, "" when no unit defines
    it), ``static``, ``defined``, ``used``, ``public_data`` (an object with external linkage, or
    placed in a named section: a root),
    ``decl_file``/``decl_line`` (definition place, when known).
    ``edges``: ``src``, ``dst`` (keys), ``kind`` (call|addr|ref|alias).
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame


NODE_COLUMNS = ["key", "name", "kind", "unit", "static", "defined", "used", "public_data", "decl_file",
                "decl_line"]  # fmt: skip


def _key(unit: str, sym: Symbol) -> str:
    return sym.asm if sym.public or not sym.defined else f"{unit}::{sym.asm}"


def build_callgraph(units: Iterable[Unit]) -> CallGraph:
    """The call graph of the whole product from every unit's dump (see the module docstring)."""
    node_rows: dict[str, dict[str, object]] = {}
    edge_rows: list[tuple[str, str, str]] = []
    for unit in units:
        symbols = read_cgraph_dump(Path(unit.dump))
        places = read_callgraph_info(Path(unit.info), unit.directory) if unit.info else {}
        keys = {s.order: _key(unit.source, s) for s in symbols}
        kinds = {s.order: s.kind for s in symbols}
        for s in symbols:
            key = keys[s.order]
            row = node_rows.get(key)
            place = places.get(s.name) if s.defined else None
            if row is None:
                row = {
                    "key": key,
                    "name": s.name,
                    "kind": s.kind,
                    "unit": "",
                    "static": not s.public and s.defined,
                    "defined": False,
                    "used": False,
                    "public_data": False,
                    "decl_file": None,
                    "decl_line": None,
                }
                node_rows[key] = row
            if s.defined:
                if not row["defined"]:
                    row["unit"] = unit.source
                row["defined"] = True
                row["used"] = bool(row["used"]) or s.used
                row["public_data"] = bool(row["public_data"]) or (
                    s.kind == "variable" and (s.public or s.section)
                )
                if place is not None and row["decl_file"] is None:
                    row["decl_file"], row["decl_line"] = place.file, place.line
            for order in s.calls:
                if order in keys:
                    edge_rows.append((key, keys[order], "call"))
            for order, how in s.refs:
                if order not in keys:
                    continue
                if how == "alias":
                    kind = "alias"
                elif s.kind == "function" and kinds[order] == "function":
                    kind = "addr"
                else:
                    kind = "ref"
                edge_rows.append((key, keys[order], kind))
    nodes = pd.DataFrame(list(node_rows.values()), columns=NODE_COLUMNS)
    nodes = nodes.astype({"static": bool, "defined": bool, "used": bool, "public_data": bool})
    nodes["decl_line"] = pd.to_numeric(nodes["decl_line"], errors="coerce").astype("Int64")
    edges = pd.DataFrame(edge_rows, columns=["src", "dst", "kind"]).drop_duplicates(ignore_index=True)
    return CallGraph(nodes=nodes.sort_values("key", ignore_index=True), edges=edges)


# ---------------------------------------------------------------------------------------------
# entry points and reachability


def match_entry_points(nodes: pd.DataFrame, patterns: Sequence[str], root: Path | None = None) -> pd.Series:
    """Which defined functions are entry points: the name matches a pattern (``fnmatch`` globs);
    ``path-glob:name-glob`` also requires the defining file (relative to ``root``) to match."""
    funcs = (nodes["kind"] == "function") & nodes["defined"]
    names = nodes["name"].astype(str)
    files = nodes["unit"].astype(str)
    if root is not None:
        base = os.path.abspath(root)
        files = files.map(lambda f: os.path.relpath(f, base) if f.startswith(base + os.sep) else f)
    hit = pd.Series(False, index=nodes.index)
    for pattern in patterns:
        if ":" in pattern:
            file_glob, _, name_glob = pattern.rpartition(":")
            hit |= names.map(lambda n, g=name_glob: fnmatch.fnmatchcase(n, g)) & files.map(
                lambda f, g=file_glob: fnmatch.fnmatchcase(f, g)
            )
        else:
            hit |= names.map(lambda n, g=pattern: fnmatch.fnmatchcase(n, g))
    return hit & funcs


@dataclass
class Reachability:
    """Per node: ``key``, ``reachable``, ``root`` (why it is a root, "" otherwise), ``call_path``
    (the shortest path from a root as display names; empty when unreachable)."""

    nodes: pd.DataFrame
    roots: int


def reachability(
    graph: CallGraph,
    entry_points: Sequence[str] = DEFAULT_ENTRY_POINTS,
    *,
    external_refs: Sequence[tuple[str, str]] = (),
    root: Path | None = None,
) -> Reachability:
    """Walk the graph from its roots (module docstring); ``external_refs`` are (symbol, referrer)
    pairs of references from code outside the graph (prebuilt objects, libraries)."""
    nodes = graph.nodes
    entry = match_entry_points(nodes, entry_points, root)
    kept = nodes["defined"] & (nodes["used"] | nodes["public_data"])
    reasons: dict[str, str] = {}
    for key in nodes.loc[entry, "key"]:
        reasons[str(key)] = "entry point"
    for key, kind in zip(nodes.loc[kept & ~entry, "key"], nodes.loc[kept & ~entry, "kind"], strict=True):
        reasons.setdefault(str(key), "kept (used attribute)" if kind == "function" else "external data")
    known = set(nodes["key"])
    outside: dict[str, str] = {}
    for symbol, referrer in external_refs:
        if symbol in known and symbol not in reasons:
            reasons[symbol] = f"referenced by {referrer}"
            outside[symbol] = referrer

    kind_of = dict(zip(nodes["key"], nodes["kind"], strict=True))
    name_of = dict(zip(nodes["key"], nodes["name"], strict=True))
    edges = graph.edges.sort_values(["src", "kind", "dst"])
    adjacency: dict[str, list[tuple[str, str]]] = {}
    for src, dst, kind in zip(edges["src"], edges["dst"], edges["kind"], strict=True):
        adjacency.setdefault(src, []).append((dst, kind))

    parent: dict[str, tuple[str, str] | None] = {}
    queue: deque[str] = deque()
    for key in sorted(reasons, key=lambda k: (reasons[k] != "entry point", k)):
        parent[key] = None
        queue.append(key)
    while queue:
        src = queue.popleft()
        for dst, kind in adjacency.get(src, ()):
            if dst not in parent:
                parent[dst] = (src, kind)
                queue.append(dst)

    def label(key: str, via: str | None) -> str:
        name = str(name_of[key])
        if kind_of[key] == "variable":
            return f"{name}[]"
        return f"&{name}" if via == "addr" else name

    paths: list[list[str]] = []
    for key in nodes["key"]:
        if key not in parent:
            paths.append([])
            continue
        path: list[str] = []
        step: str | None = key
        via: str | None = None
        while step is not None:
            link = parent[step]
            via = link[1] if link else None
            path.append(label(step, via))
            if link is None and step in outside:
                path.append(os.path.basename(outside[step]))
            step = link[0] if link else None
        paths.append(path[::-1])
    out = pd.DataFrame(
        {
            "key": nodes["key"],
            "reachable": nodes["key"].isin(parent),
            "root": nodes["key"].map(reasons).fillna(""),
            "call_path": pd.Series(paths, index=nodes.index, dtype=object),
        }
    )
    return Reachability(nodes=out, roots=len(reasons))
