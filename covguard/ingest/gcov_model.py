"""The coverage model of a build: gcov's own arithmetic, compiled once into sparse linear maps.

gcov turns the arc counters of a ``.gcda`` into line, branch and function counts by solving
each function's flow graph (the counters sit on the arcs that are not on a spanning tree; the
other arcs and every block follow from flow conservation), then summing per line.  Every one
of those steps is linear in the counters, except one: a line that holds a whole loop (``for``
on one line) also counts the loop's turns, the minimum arc count of each cycle.

covguard runs gcov's propagation once per build *symbolically*, which turns the notes files
into sparse maps ``counter -> line count``, ``counter -> branch count`` and
``counter -> function count``.  Per-test coverage is then a sparse product: the nonzero
counters of every test are multiplied through the maps in one vectorised step, instead of
running gcov once per test and parsing its JSON.  Lines that hold a loop add the cycle term,
vectorised for the common single-cycle line and computed exactly (gcov's own circuit search)
for the rare line with several cycles.

The rules replicated here are gcov 12's (``gcov.cc``: ``solve_flow_graph``,
``add_line_counts``, ``accumulate_line_info``); the test-suite checks the result against
``gcov --json-format`` and gcovr on every fixture, and the benchmark on SQLite.
"""

from __future__ import annotations

import functools
import os
import pickle
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from covguard.errors import CoverageDataError
from covguard.ingest.gcno import ARC_FAKE, ARC_ON_TREE, FunctionNotes, NotesFile, without_collections

Lin = dict[int, int]  # a linear form over counters: counter index -> coefficient


def _add(forms: Sequence[Lin]) -> Lin:
    """The sum of linear forms (forms are never changed once made, so one form is returned as is)."""
    if len(forms) == 1:
        return forms[0]
    if not forms:
        return {}
    out = dict(forms[0])
    get = out.get
    for form in forms[1:]:
        for k, v in form.items():
            total = get(k, 0) + v
            if total:
                out[k] = total
            else:
                del out[k]
    return out


def _sub(a: Lin, b: Lin) -> Lin:
    if not b:
        return a
    out = dict(a)
    get = out.get
    for k, v in b.items():
        total = get(k, 0) - v
        if total:
            out[k] = total
        else:
            del out[k]
    return out


def _unsolvable(fn: FunctionNotes, path: Path) -> CoverageDataError:
    return CoverageDataError(
        f"the flow graph of '{fn.name}' cannot be solved (corrupt notes file)",
        path=path,
        hint="rebuild with coverage (covguard build)",
    )


@dataclass(slots=True)
class SolvedFunction:
    """A function's graph with every arc and block count as a linear form over its counters."""

    notes: FunctionNotes
    succ: list[list[int]]  # block -> outgoing arcs, sorted by destination (as gcov sorts them)
    pred: list[list[int]]  # block -> incoming arcs
    arc: list[Lin]
    block: list[Lin]
    unconditional: list[bool]
    call_non_return: list[bool]


def solve_function(fn: FunctionNotes, path: Path) -> SolvedFunction:
    """gcov's ``solve_flow_graph``, run on linear forms instead of numbers."""
    n = fn.n_blocks
    src, dst, flags = fn.arc_src, fn.arc_dst, fn.arc_flags
    m = len(src)
    if (m and max(max(src), max(dst)) >= n) or (fn.locations and max(fn.locations) >= n):  # noqa: PLW3301 (no tuple of both)
        raise CoverageDataError(
            f"the flow graph of '{fn.name}' refers to blocks it does not have (corrupt notes file)",
            path=path,
            hint="rebuild with coverage (covguard build)",
        )
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for a, (s, d) in enumerate(zip(src, dst, strict=True)):
        succ[s].append(a)
        pred[d].append(a)
    num_succ = [len(s) for s in succ]
    num_pred = [len(p) for p in pred]
    big = 1 << 40
    if n >= 2:
        if not num_pred[0]:
            num_pred[0] = big
        if not num_succ[1]:
            num_succ[1] = big
    arc: list[Lin | None] = [None] * m
    k = 0
    unconditional = [False] * m
    call_non_return = [(fl & ARC_FAKE) != 0 and s != 0 for fl, s in zip(flags, src, strict=True)]
    for b in range(n):
        sb = succ[b]
        if not sb:
            continue
        n_real = 0  # arcs that are not fake: exactly one makes it unconditional
        last_real = -1
        for a in sb:
            fl = flags[a]
            if not fl & ARC_FAKE:
                n_real += 1
                last_real = a
            if not fl & ARC_ON_TREE:
                arc[a] = {k: 1}
                k += 1
                num_succ[b] -= 1
                num_pred[dst[a]] -= 1
        if n_real == 1:
            unconditional[last_real] = True
        if len(sb) > 1:
            sb.sort(key=dst.__getitem__)
    block: list[Lin | None] = [None] * n
    invalid = list(range(n))
    on_invalid = [True] * n
    valid: list[int] = []
    on_valid = [False] * n
    while invalid or valid:
        while invalid:
            b = invalid.pop()
            on_invalid[b] = False
            if not num_succ[b]:
                total = _add([arc[a] for a in succ[b]])  # type: ignore[misc]
            elif not num_pred[b]:
                total = _add([arc[a] for a in pred[b]])  # type: ignore[misc]
            else:
                continue
            block[b] = total
            valid.append(b)
            on_valid[b] = True
        while valid:
            b = valid.pop()
            on_valid[b] = False
            count = block[b]
            assert count is not None
            if num_succ[b] == 1:
                inv = -1
                known: list[Lin] = []
                for a in succ[b]:
                    form = arc[a]
                    if form is None:
                        inv = a
                    else:
                        known.append(form)
                if inv < 0:
                    raise _unsolvable(fn, path)
                arc[inv] = _sub(count, known[0] if len(known) == 1 else _add(known))
                num_succ[b] -= 1
                d = dst[inv]
                num_pred[d] -= 1
                if block[d] is not None:
                    if num_pred[d] == 1 and not on_valid[d]:
                        valid.append(d)
                        on_valid[d] = True
                elif not num_pred[d] and not on_invalid[d]:
                    invalid.append(d)
                    on_invalid[d] = True
            if num_pred[b] == 1:
                inv = -1
                known = []
                for a in pred[b]:
                    form = arc[a]
                    if form is None:
                        inv = a
                    else:
                        known.append(form)
                if inv < 0:
                    raise _unsolvable(fn, path)
                arc[inv] = _sub(count, known[0] if len(known) == 1 else _add(known))
                num_pred[b] -= 1
                s = src[inv]
                num_succ[s] -= 1
                if block[s] is not None:
                    if num_succ[s] == 1 and not on_valid[s]:
                        valid.append(s)
                        on_valid[s] = True
                elif not num_succ[s] and not on_invalid[s]:
                    invalid.append(s)
                    on_invalid[s] = True
    if any(b is None for b in block) or any(a is None for a in arc):
        raise CoverageDataError(
            f"the flow graph of '{fn.name}' cannot be solved (corrupt notes file)",
            path=path,
            hint="rebuild with coverage (covguard build)",
        )
    return SolvedFunction(
        notes=fn,
        succ=succ,
        pred=pred,
        arc=arc,  # type: ignore[arg-type]
        block=block,  # type: ignore[arg-type]
        unconditional=unconditional,
        call_non_return=call_non_return,
    )


# ---------------------------------------------------------------------------------------------
# cycles on one line (gcov's Hawick-James circuit search)


def _circuits_static(blocks: list[int], succ: list[list[int]], dst: list[int], limit: int) -> int:
    """Elementary circuits of the sub-graph on ``blocks``, each counted once per occurrence of its
    lowest block in ``blocks`` (as gcov's search from every block finds them), up to ``limit``.

    Decided from the strongly connected components, never by enumerating paths: a line whose
    blocks form a large acyclic graph (a macro of many conditions) has exponentially many paths,
    and enumerating them took minutes on real code.  A component with as many arcs as blocks is
    one simple circuit; a component with more arcs holds at least two."""
    if len(blocks) == 1:  # most lines: one block, a circuit only through its own loop arcs
        b = blocks[0]
        loops = sum(1 for a in succ[b] if dst[a] == b)
        return min(limit, 2 if loops > 1 else loops)
    members = set(blocks)
    # no arc among the blocks back to a block numbered as low or lower: no circuit
    if not any(dst[a] <= v and dst[a] in members for v in members for a in succ[v]):
        return 0
    arcs: dict[int, list[int]] = {
        v: [dst[a] for a in succ[v] if dst[a] in members] for v in members
    }  # parallel arcs kept: each is its own circuit
    component = _components(sorted(members), arcs)
    size: dict[int, int] = {}
    inner: dict[int, int] = {}
    for v in members:
        c = component[v]
        size[c] = size.get(c, 0) + 1
        inner[c] = inner.get(c, 0) + sum(1 for w in arcs[v] if component[w] == c)
    circuits = [c for c in size if inner[c] > 0]  # a lone block counts only with a loop arc
    if not circuits:
        return 0
    if len(circuits) > 1 or inner[circuits[0]] > size[circuits[0]]:
        return min(limit, 2)
    lowest = min(v for v in members if component[v] == circuits[0])
    return min(limit, blocks.count(lowest))


def _components(order: list[int], arcs: dict[int, list[int]]) -> dict[int, int]:
    """Strongly connected components (Tarjan's algorithm, iterative): block -> component number."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    component: dict[int, int] = {}
    counter = 0
    for root in order:
        if root in index:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, i = work[-1]
            out = arcs[v]
            if i < len(out):
                work[-1] = (v, i + 1)
                w = out[i]
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component[w] = v
                    if w == v:
                        break
    return component


def cycles_count(blocks: list[int], succ: list[list[int]], dst: list[int], count: dict[int, int]) -> int:
    """gcov's ``get_cycles_count`` for one line: ``count`` maps arc -> value (consumed)."""
    members = set(blocks)
    cs = dict(count)
    total = 0

    def circuit(v: int, path: list[int], start: int, blocked: list[int], lists: list[list[int]]) -> bool:
        nonlocal total
        found = False
        blocked.append(v)
        lists.append([])
        for a in succ[v]:
            w = dst[a]
            if w < start or cs.get(a, 0) <= 0 or w not in members:
                continue
            path.append(a)
            if w == start:
                cycle = min(cs.get(x, 0) for x in path)
                total += cycle
                for x in path:
                    cs[x] = cs.get(x, 0) - cycle
                found = True
            elif all(cs.get(x, 0) > 0 for x in path) and w not in blocked:
                found |= circuit(w, path, start, blocked, lists)
            path.pop()
        if found:
            _unblock(v, blocked, lists)
        else:
            for a in succ[v]:
                w = dst[a]
                if w < start or cs.get(a, 0) <= 0 or w not in members:
                    continue
                idx = blocked.index(w)
                if v not in lists[idx]:
                    lists[idx].append(v)
        return found

    for b in blocks:
        circuit(b, [], b, [], [])
    return total


def _unblock(u: int, blocked: list[int], lists: list[list[int]]) -> None:
    if u not in blocked:
        return
    idx = blocked.index(u)
    blocked.pop(idx)
    to_unblock = lists.pop(idx)
    for w in to_unblock:
        _unblock(w, blocked, lists)


# ---------------------------------------------------------------------------------------------
# the compiled model


@dataclass(slots=True)
class SparseMap:
    """A sparse matrix ``counter -> target`` in compressed rows by counter."""

    indptr: np.ndarray  # int64, n_counters + 1
    target: np.ndarray  # int32
    coef: np.ndarray  # int64

    @classmethod
    def build(cls, n_counters: int, counter: list[int], target: list[int], coef: list[int]) -> SparseMap:
        c = np.asarray(counter, dtype=np.int64)
        t = np.asarray(target, dtype=np.int32)
        w = np.asarray(coef, dtype=np.int64)
        order = np.argsort(c, kind="stable")
        c, t, w = c[order], t[order], w[order]
        indptr = np.zeros(n_counters + 1, dtype=np.int64)
        np.add.at(indptr, c + 1, 1)
        return cls(np.cumsum(indptr), t, w)

    def apply(
        self, unit: np.ndarray, counter: np.ndarray, value: np.ndarray, n_targets: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Multiply sparse (unit, counter, value) triples through the map.

        Returns (unit, target, value) with one row per pair that sums to nonzero, sorted.
        """
        starts = self.indptr[counter]
        lens = self.indptr[counter + 1] - starts
        total = int(lens.sum())
        if not total:
            empty = np.zeros(0, dtype=np.int64)
            return empty.astype(np.int32), empty.astype(np.int32), empty
        row = np.repeat(np.arange(len(counter)), lens)
        offs = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
        pos = np.repeat(starts, lens) + offs
        tgt = self.target[pos]
        contrib = self.coef[pos] * value[row]
        key = unit[row].astype(np.int64) * n_targets + tgt
        order = np.argsort(key, kind="stable")
        key = key[order]
        contrib = contrib[order]
        cut = np.flatnonzero(np.diff(key)) + 1
        starts_k = np.concatenate(([0], cut))
        sums = np.add.reduceat(contrib, starts_k)
        keys = key[starts_k]
        keep = sums != 0
        keys, sums = keys[keep], sums[keep]
        return (keys // n_targets).astype(np.int32), (keys % n_targets).astype(np.int32), sums


@dataclass(slots=True)
class ComplexLine:
    """A line whose blocks hold more than one cycle: counted by gcov's circuit search."""

    line: int  # line id
    blocks: list[int]
    succ: list[list[int]]  # local arc ids per local block index (sparse: dict-like list)
    dst: list[int]
    arc_counter: list[list[int]]  # per local arc: global counters
    arc_coef: list[list[int]]


@dataclass
class ObjectInfo:
    """One instrumented object (translation unit): its notes file and counter layout."""

    notes: NotesFile
    counter_base: int
    n_counters: int
    fn_counter_counts: list[int]


@dataclass
class CoverageModel:
    """Everything needed to turn raw counters into line/branch/function counts, for one build."""

    objects: list[ObjectInfo]
    files: list[str]  # absolute, normalised source paths
    line_file: np.ndarray  # int32 per line id -> file index
    line_no: np.ndarray  # int32
    line_function: np.ndarray  # int32 function id (or -1)
    func_file: np.ndarray
    func_name: list[str]
    func_start: np.ndarray
    func_end: np.ndarray
    branch_line: np.ndarray  # int32 line id per branch id
    branch_index: np.ndarray  # int32 index of the branch within its line
    line_map: SparseMap
    branch_map: SparseMap
    func_map: SparseMap
    cycle_map: SparseMap  # counter -> cycle arc row
    cycle_row_cycle: np.ndarray  # int32 cycle arc row -> cycle id
    cycle_line: np.ndarray  # int32 cycle id -> line id
    cycle_len: np.ndarray  # int32 cycle id -> number of arcs on it
    complex_lines: list[ComplexLine] = field(default_factory=list)
    object_index: dict[str, int] = field(default_factory=dict)
    notes: list[tuple[int, str]] = field(default_factory=list)  # (file id, merge rule applied)

    @property
    def n_counters(self) -> int:
        last = self.objects[-1] if self.objects else None
        return last.counter_base + last.n_counters if last else 0

    @property
    def n_lines(self) -> int:
        return len(self.line_no)


@functools.lru_cache(maxsize=65536)
def _canonical(name: str, cwd: str) -> str:
    return os.path.normpath(os.path.join(cwd, name)) if name else name


class _Builder:
    def __init__(self) -> None:
        self.file_ids: dict[str, int] = {}
        self.line_ids: dict[int, int] = {}  # file id << 32 | line number -> line id
        self.line_fn: list[int] = []
        self.func_ids: dict[tuple[int, str], int] = {}
        self.func_name: list[str] = []
        self.func_file: list[int] = []
        self.func_start: list[int] = []
        self.func_end: list[int] = []
        self.branch_ids: dict[int, int] = {}  # line id << 32 | index on the line -> branch id
        self.lm: tuple[list[int], list[int], list[int]] = ([], [], [])
        self.bm: tuple[list[int], list[int], list[int]] = ([], [], [])
        self.fm: tuple[list[int], list[int], list[int]] = ([], [], [])
        self.cm: tuple[list[int], list[int], list[int]] = ([], [], [])
        self.cycle_row_cycle: list[int] = []  # cycle arc row -> cycle id
        self.cycle_line: list[int] = []  # cycle id -> line id
        self.cycle_len: list[int] = []  # cycle id -> number of arcs
        self.complex: list[ComplexLine] = []
        self.notes: list[tuple[int, str]] = []

    def file(self, path: str) -> int:
        fid = self.file_ids.get(path)
        if fid is None:
            fid = self.file_ids[path] = len(self.file_ids)
        return fid

    def function(self, fid: int, fn: FunctionNotes) -> int:
        key = (fid, fn.name)
        got = self.func_ids.get(key)
        if got is None:
            got = self.func_ids[key] = len(self.func_name)
            self.func_name.append(fn.name)
            self.func_file.append(fid)
            self.func_start.append(fn.start_line)
            self.func_end.append(fn.end_line)
        elif (self.func_start[got], self.func_end[got]) != (fn.start_line, fn.end_line):
            # the same function at other lines in another object (#ifdef variants, a header
            # compiled with different macros): merged by one explicit rule, and recorded
            before = (self.func_start[got], self.func_end[got])
            self.func_start[got] = min(self.func_start[got], fn.start_line)
            self.func_end[got] = max(self.func_end[got], fn.end_line)
            self.notes.append(
                (
                    fid,
                    f"function '{fn.name}' has different extents in different objects (lines {before[0]}-"
                    f"{before[1]} and {fn.start_line}-{fn.end_line}): merged as lines "
                    f"{self.func_start[got]}-{self.func_end[got]}, counts added",
                )
            )
        return got

    @staticmethod
    def emit(dest: tuple[list[int], list[int], list[int]], target: int, form: Lin, base: int) -> None:
        c, t, w = dest
        if len(form) == 1:
            for k, v in form.items():
                c.append(base + k)
                t.append(target)
                w.append(v)
            return
        c.extend([base + k for k in form])
        t.extend([target] * len(form))
        w.extend(form.values())

    def add_object(self, notes: NotesFile, base: int, lo: int = 0, hi: int = -1) -> tuple[int, list[int]]:
        """Add the functions ``lo:hi`` of one object (all by default), their counters from ``base``.

        Returns the number of counters added and the counters of every function of the object."""
        cwd = notes.cwd
        fns = notes.functions
        counts = [f.n_counters for f in fns]
        hi = len(fns) if hi < 0 else hi
        first = base - sum(counts[:lo])  # the counters of the object's first function
        # gcov: group functions are non-artificial functions starting on the same line of a file
        starts: dict[tuple[str, int], int] = defaultdict(int)
        for f in fns:
            if not f.artificial:
                starts[(f.source, f.start_line)] += 1
        # per (file, line, group function or none): how the line's count is formed in this object;
        # keys are ints (they hash faster than tuples): a line is ``file id << 32 | line number``,
        # its entry ``line * width + 1 + the group function's index`` (``+ 0`` outside groups)
        width = len(fns) + 1
        with_blocks: dict[int, list[tuple[int, int]]] = defaultdict(list)
        block_sums: dict[int, list[tuple[int, int]]] = defaultdict(list)
        branch_lists: dict[int, list[tuple[int, int]]] = defaultdict(list)
        solved: list[SolvedFunction | None] = []
        fn_base: list[int] = []
        line_ids, line_fn = self.line_ids, self.line_fn
        fid_of: dict[str, int] = {}  # source name as in this object -> file id
        offset = 0
        for fi, f in enumerate(fns):
            fn_base.append(first + offset)
            offset += counts[fi]
            if f.artificial or counts[fi] == 0 or not lo <= fi < hi:
                solved.append(None)
                continue
            s = solve_function(f, notes.path)
            solved.append(s)
            src_path = _canonical(f.source, cwd)
            fid_src = self.file(src_path)
            fn_id = self.function(fid_src, f)
            self.emit(self.fm, fn_id, s.block[0], fn_base[fi])
            is_group = starts[(f.source, f.start_line)] > 1
            last_block = f.n_blocks - 1
            f_start, f_end = f.start_line, f.end_line
            succ, unconditional, call_non_return = s.succ, s.unconditional, s.call_non_return
            in_group_key = fi + 1
            for b, locs in sorted(f.locations.items()):
                key = -1
                occurrence = (fi, b)
                for loc in locs:
                    fid = fid_of.get(loc.source)
                    if fid is None:
                        fid = fid_of[loc.source] = self.file(_canonical(loc.source, cwd))
                    high = fid << 32
                    own = fn_id if fid == fid_src else -1
                    in_group = is_group and fid == fid_src
                    lines = loc.lines if len(loc.lines) < 2 else sorted(loc.lines)
                    for ln in lines:
                        # this loop runs once per line of every block
                        lkey = high | ln
                        lid = line_ids.get(lkey)
                        if lid is None:
                            line_ids[lkey] = len(line_fn)
                            line_fn.append(own)
                        elif own >= 0 and line_fn[lid] < 0:
                            line_fn[lid] = own
                        key = lkey * width
                        if in_group and f_start <= ln <= f_end:
                            key += in_group_key
                        block_sums[key].append(occurrence)
                    if key < 0 or b in (0, last_block):
                        continue
                    with_blocks[key].append(occurrence)
                    for a in succ[b]:
                        if not unconditional[a] and not call_non_return[a]:
                            branch_lists[key // width].append((fi, a))
        # line counts: gcov's accumulate_line_info
        lc, lt, lw = self.lm
        for key, occurrences in block_sums.items():
            lid = line_ids[key // width]
            blocks = with_blocks.get(key)
            if not blocks:
                for fi, b in occurrences:
                    sf = solved[fi]
                    assert sf is not None
                    form = sf.block[b]
                    at = fn_base[fi]
                    # self.emit(self.lm, lid, form, at), inlined: once per block of every line
                    lc.extend([at + k for k in form])
                    lt.extend([lid] * len(form))
                    lw.extend(form.values())
                continue
            # entries into the line's blocks from outside, per function (arcs never cross functions)
            if len(blocks) == 1:  # the usual line: one block of one function
                fi, b = blocks[0]
                sf = solved[fi]
                assert sf is not None
                at = fn_base[fi]
                src = sf.notes.arc_src
                arc = sf.arc
                for a in sf.pred[b]:
                    if src[a] != b:
                        form = arc[a]
                        lc.extend([at + k for k in form])
                        lt.extend([lid] * len(form))
                        lw.extend(form.values())
                dst = sf.notes.arc_dst
                if any(dst[a] == b for a in sf.succ[b]):  # else no circuit: _cycles would find none
                    self._cycles(lid, sf, [b], at)
                continue
            by_fn: dict[int, list[int]] = defaultdict(list)
            for fi, b in blocks:
                by_fn[fi].append(b)
            for fi, bl in by_fn.items():
                sf = solved[fi]
                assert sf is not None
                members = set(bl)
                src = sf.notes.arc_src
                for b in bl:
                    for a in sf.pred[b]:
                        if src[a] not in members:
                            self.emit(self.lm, lid, sf.arc[a], fn_base[fi])
                self._cycles(lid, sf, bl, fn_base[fi])
        branch_ids = self.branch_ids
        bc, bt, bw = self.bm
        for lkey, arcs in branch_lists.items():
            high = line_ids[lkey] << 32
            for i, (fi, a) in enumerate(arcs):
                sf = solved[fi]
                assert sf is not None
                bid = branch_ids.get(high | i)
                if bid is None:
                    bid = branch_ids[high | i] = len(branch_ids)
                form = sf.arc[a]
                at = fn_base[fi]
                # self.emit(self.bm, bid, form, at), inlined: once per branch
                bc.extend([at + k for k in form])
                bt.extend([bid] * len(form))
                bw.extend(form.values())
        return sum(counts[lo:hi]), counts

    def _cycles(self, lid: int, s: SolvedFunction, blocks: list[int], base: int) -> None:
        dst = s.notes.arc_dst
        members = set(blocks)
        n_circuits = _circuits_static(blocks, s.succ, dst, limit=2)
        if n_circuits == 0:
            return
        if n_circuits == 1 and len(members) == len(blocks):
            # the single circuit, followed from its lowest block: its turns are its smallest arc
            arcs = _single_circuit(blocks, s.succ, dst)
            cycle = len(self.cycle_line)
            self.cycle_line.append(lid)
            self.cycle_len.append(len(arcs))
            for a in arcs:
                self.emit(self.cm, len(self.cycle_row_cycle), s.arc[a], base)
                self.cycle_row_cycle.append(cycle)
            return
        local_arcs: list[int] = []
        local_id: dict[int, int] = {}
        succ_local: dict[int, list[int]] = {}
        for b in members:
            lst = []
            for a in s.succ[b]:
                if dst[a] in members:
                    if a not in local_id:
                        local_id[a] = len(local_arcs)
                        local_arcs.append(a)
                    lst.append(local_id[a])
            succ_local[b] = lst
        n_b = max(members) + 1
        self.complex.append(
            ComplexLine(
                line=lid,
                blocks=list(blocks),
                succ=[succ_local.get(b, []) for b in range(n_b)],
                dst=[dst[a] for a in local_arcs],
                arc_counter=[[base + k for k in s.arc[a]] for a in local_arcs],
                arc_coef=[list(s.arc[a].values()) for a in local_arcs],
            )
        )


def _single_circuit(blocks: list[int], succ: list[list[int]], dst: list[int]) -> list[int]:
    members = set(blocks)
    for start in sorted(members):
        stack: list[tuple[int, list[int], list[int]]] = [(start, [start], [])]
        while stack:
            v, path, arcs = stack.pop()
            for a in succ[v]:
                w = dst[a]
                if w < start or w not in members:
                    continue
                if w == start:
                    return [*arcs, a]
                if w not in path:
                    stack.append((w, [*path, w], [*arcs, a]))
    return []


@without_collections
def build_model(notes_files: Sequence[NotesFile], jobs: int = 1) -> CoverageModel:
    """Compile the notes files of one build into a :class:`CoverageModel`.

    With ``jobs`` > 1 a large build is compiled in two processes (see :func:`_build_forked`):
    the same model, in about half the time on two cores."""
    if jobs > 1 and hasattr(os, "fork") and _core_free():
        cut = _cut(notes_files)
        if cut is not None:
            return _build_forked(notes_files, *cut)
    return _compile([(n, 0, len(n.functions)) for n in notes_files])


def _compile(items: Sequence[tuple[NotesFile, int, int]]) -> CoverageModel:
    """The model of the functions ``lo:hi`` of each notes file of ``items``, in that order."""
    b = _Builder()
    objects: list[ObjectInfo] = []
    base = 0
    for notes, lo, hi in items:
        n, counts = b.add_object(notes, base, lo, hi)
        objects.append(ObjectInfo(notes=notes, counter_base=base, n_counters=n, fn_counter_counts=counts))
        base += n
    n_counters = base
    files = list(b.file_ids)
    line_keys = np.fromiter(b.line_ids, dtype=np.int64, count=len(b.line_ids))
    branch_keys = np.fromiter(b.branch_ids, dtype=np.int64, count=len(b.branch_ids))
    return CoverageModel(
        objects=objects,
        files=files,
        line_file=(line_keys >> 32).astype(np.int32),
        line_no=(line_keys & 0xFFFFFFFF).astype(np.int32),
        line_function=np.asarray(b.line_fn, dtype=np.int32),
        func_file=np.asarray(b.func_file, dtype=np.int32),
        func_name=b.func_name,
        func_start=np.asarray(b.func_start, dtype=np.int32),
        func_end=np.asarray(b.func_end, dtype=np.int32),
        branch_line=(branch_keys >> 32).astype(np.int32),
        branch_index=(branch_keys & 0xFFFFFFFF).astype(np.int32),
        line_map=SparseMap.build(n_counters, *b.lm),
        branch_map=SparseMap.build(n_counters, *b.bm),
        func_map=SparseMap.build(n_counters, *b.fm),
        cycle_map=SparseMap.build(n_counters, *b.cm),
        cycle_row_cycle=np.asarray(b.cycle_row_cycle, dtype=np.int32),
        cycle_line=np.asarray(b.cycle_line, dtype=np.int32),
        cycle_len=np.asarray(b.cycle_len, dtype=np.int32),
        complex_lines=b.complex,
        object_index={str(o.notes.path): i for i, o in enumerate(objects)},
        notes=b.notes,
    )


FORK_BLOCKS = 20_000  # below this many basic blocks, one process is faster than forking a second


def _core_free() -> bool:
    """Whether a second process would find a core: the last minute's load average is below the
    number of cores (on a machine busy with other work, waiting for a starved child measured
    slower than compiling everything here: 2.6-3.7 s against 2.1-2.6 s of wall at load 8.5-9)."""
    try:
        return os.getloadavg()[0] < (os.cpu_count() or 1) - 0.5
    except OSError:
        return False


def _cut(notes_files: Sequence[NotesFile]) -> tuple[int, int] | None:
    """Where to cut a large build in two halves of about the same number of blocks: before function
    ``j`` of object ``i``, at a place where compiling the halves apart changes nothing.

    Objects can always be compiled apart (:func:`merge_models` merges them exactly); inside an
    object, only between functions that share no source line (gcov sums a line over the functions
    of an object, and numbers its branches across them), no group start line and no name."""
    weights = [[f.n_blocks for f in n.functions] for n in notes_files]
    total = sum(sum(w) for w in weights)
    if total < FORK_BLOCKS:
        return None
    half = total / 2
    acc = 0
    for i, (notes, w) in enumerate(zip(notes_files, weights, strict=True)):
        size = sum(w)
        if acc + size < half:
            acc += size
            continue
        best: tuple[float, int, int] | None = None
        if i > 0:
            best = (half - acc, i, 0)
        if i + 1 < len(notes_files):
            after = acc + size - half
            if best is None or after < best[0]:
                best = (after, i + 1, 0)
        safe = _safe_cuts(notes)
        before = acc
        for j in range(1, len(w)):
            before += w[j - 1]
            if safe[j] and (best is None or abs(before - half) < best[0]):
                best = (abs(before - half), i, j)
        return None if best is None else (best[1], best[2])
    return None


def _safe_cuts(notes: NotesFile) -> list[bool]:
    """``[j]``: no source line, group start line or function name is shared by a function before
    ``j`` and one from ``j`` on."""
    fns = notes.functions
    first: dict[object, int] = {}
    last: dict[object, int] = {}
    sid: dict[str, int] = {}
    for fi, f in enumerate(fns):
        for shared in (f.name, (f.source, f.start_line)):
            first.setdefault(shared, fi)
            last[shared] = fi
        for locs in f.locations.values():
            for loc in locs:
                name = _canonical(loc.source, notes.cwd)
                high = sid.setdefault(name, len(sid)) << 32
                for ln in loc.lines:
                    k = high | ln
                    first.setdefault(k, fi)
                    last[k] = fi
    depth = [0] * (len(fns) + 2)
    for seen, f0 in first.items():
        f1 = last[seen]
        if f1 > f0:
            depth[f0 + 1] += 1
            depth[f1 + 1] -= 1
    safe: list[bool] = []
    open_spans = 0
    for j in range(len(fns) + 1):
        open_spans += depth[j]
        safe.append(open_spans == 0)
    return safe


def _build_forked(notes_files: Sequence[NotesFile], i: int, j: int) -> CoverageModel:
    """The model compiled in two processes: this one compiles the build up to the cut (object
    ``i``, function ``j``), a forked child the rest, sent back pickled through a pipe (the
    notes are not sent: both processes hold them); the halves are merged as separately compiled
    objects are, and an object cut in two is made one again.  If the child fails, its half is
    compiled here (so that an error is reported as without the fork)."""
    whole = [(n, 0, len(n.functions)) for n in notes_files]
    head = whole[:i] + ([(notes_files[i], 0, j)] if j else [])
    tail = [(notes_files[i], j, len(notes_files[i].functions)), *whole[i + 1 :]]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile the tail, send it, exit without running the parent's cleanup
        code = 1
        try:
            os.close(read_end)
            part = _compile(tail)
            for o in part.objects:
                o.notes = NotesFile(o.notes.path, o.notes.version, o.notes.stamp, o.notes.checksum, "", [])
            with os.fdopen(write_end, "wb") as out:
                out.write(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        first = _compile(head)
    finally:
        with os.fdopen(read_end, "rb") as inp:
            data = inp.read()
        _pid, status = os.waitpid(pid, 0)
    if status == 0 and data:
        second: CoverageModel = pickle.loads(data)
        for o, (notes, _lo, _hi) in zip(second.objects, tail, strict=True):
            o.notes = notes
    else:
        second = _compile(tail)
    model = merge_models([first, second])
    if j:  # object i was compiled in two parts: one object again
        a, b = model.objects[i], model.objects[i + 1]
        a.n_counters += b.n_counters
        del model.objects[i + 1]
        model.object_index = {str(o.notes.path): k for k, o in enumerate(model.objects)}
    return model


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass(slots=True)
class Counts:
    """Sparse counts per coverage unit: parallel arrays, only nonzero counts."""

    line_unit: np.ndarray
    line_id: np.ndarray
    line_count: np.ndarray
    branch_unit: np.ndarray
    branch_id: np.ndarray
    branch_count: np.ndarray
    func_unit: np.ndarray
    func_id: np.ndarray
    func_count: np.ndarray


UnitCounters = dict[int, np.ndarray]  # object index -> that object's counters, notes order


def gather(model: CoverageModel, units: Sequence[UnitCounters]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzero counters of every unit as (unit, global counter id, value) arrays: every
    object's vector of every unit joined into one array and searched once (a per-test run has
    thousands of (unit, object) vectors; a numpy call or three per vector cost more than the
    search itself)."""
    vecs: list[np.ndarray] = []
    owner: list[int] = []
    base: list[int] = []
    for u, objs in enumerate(units):
        for oi, vec in objs.items():
            vecs.append(vec)
            owner.append(u)
            base.append(model.objects[oi].counter_base)
    if not vecs:
        z = np.zeros(0, dtype=np.int64)
        return z.astype(np.int32), z, z
    sizes = np.fromiter(map(len, vecs), dtype=np.int64, count=len(vecs))
    joined = np.concatenate(vecs, dtype=np.int64, casting="unsafe")  # each as .astype(np.int64)
    nz = np.flatnonzero(joined)
    ends = np.cumsum(sizes)
    vec_of = np.searchsorted(ends, nz, side="right")  # the vector each nonzero counter is in
    first = ends - sizes
    counter = nz - first[vec_of] + np.asarray(base, dtype=np.int64)[vec_of]
    return np.asarray(owner, dtype=np.int32)[vec_of], counter, joined[nz]


def evaluate(model: CoverageModel, units: Sequence[UnitCounters]) -> Counts:
    """gcov's line, branch and function counts for every unit, from its raw counters."""
    unit, counter, value = gather(model, units)
    n_lines = model.n_lines
    lu, lid, lcount = model.line_map.apply(unit, counter, value, n_lines)
    extra_u: list[np.ndarray] = []
    extra_l: list[np.ndarray] = []
    extra_c: list[np.ndarray] = []
    if len(model.cycle_line):
        n_rows = len(model.cycle_row_cycle)
        cu, row, cval = model.cycle_map.apply(unit, counter, value, n_rows)
        positive = cval > 0
        cu, row, cval = cu[positive], row[positive], cval[positive]
        cyc = model.cycle_row_cycle[row]
        n_cyc = len(model.cycle_line)
        key = cu.astype(np.int64) * n_cyc + cyc
        order = np.argsort(key, kind="stable")
        key, cval = key[order], cval[order]
        if len(key):
            cut = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1))
            mins = np.minimum.reduceat(cval, cut)
            n_pos = np.diff(np.concatenate((cut, [len(key)])))
            keys = key[cut]
            cyc_id = keys % n_cyc
            full = n_pos == model.cycle_len[cyc_id]
            extra_u.append((keys[full] // n_cyc).astype(np.int32))
            extra_l.append(model.cycle_line[cyc_id[full]])
            extra_c.append(mins[full])
    if model.complex_lines:
        u_c, l_c, c_c = _complex_terms(model, units, lu, lid, lcount)
        extra_u.append(u_c)
        extra_l.append(l_c)
        extra_c.append(c_c)
    if extra_u:
        lu, lid, lcount = _sum_sparse(
            np.concatenate([lu, *extra_u]),
            np.concatenate([lid, *extra_l]),
            np.concatenate([lcount, *extra_c]),
            n_lines,
        )
    keep = lcount > 0
    bu, bid, bcount = model.branch_map.apply(unit, counter, value, max(len(model.branch_line), 1))
    fu, fid, fcount = model.func_map.apply(unit, counter, value, max(len(model.func_name), 1))
    bkeep = bcount > 0
    fkeep = fcount > 0
    return Counts(
        line_unit=lu[keep],
        line_id=lid[keep],
        line_count=lcount[keep],
        branch_unit=bu[bkeep],
        branch_id=bid[bkeep],
        branch_count=bcount[bkeep],
        func_unit=fu[fkeep],
        func_id=fid[fkeep],
        func_count=fcount[fkeep],
    )


def _sum_sparse(
    unit: np.ndarray, target: np.ndarray, value: np.ndarray, n_targets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = unit.astype(np.int64) * n_targets + target
    order = np.argsort(key, kind="stable")
    key, value = key[order], value[order]
    if not len(key):
        return unit, target, value
    cut = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1))
    sums = np.add.reduceat(value, cut)
    keys = key[cut]
    return (keys // n_targets).astype(np.int32), (keys % n_targets).astype(np.int32), sums


def _complex_terms(
    model: CoverageModel,
    units: Sequence[UnitCounters],
    lu: np.ndarray,
    lid: np.ndarray,
    lcount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cycle terms of lines with several cycles: gcov's circuit search, per unit that entered them."""
    bases = np.asarray([o.counter_base for o in model.objects], dtype=np.int64)
    entered: dict[int, set[int]] = defaultdict(set)
    wanted = np.asarray([c.line for c in model.complex_lines], dtype=lid.dtype)
    hit = np.isin(lid, wanted) & (lcount > 0)  # the few rows of complex lines, not a loop over all
    for u, line in zip(lu[hit].tolist(), lid[hit].tolist(), strict=True):
        entered[line].add(u)
    out_u: list[int] = []
    out_l: list[int] = []
    out_c: list[int] = []
    for cl in model.complex_lines:
        for u in sorted(entered.get(cl.line, ())):
            objs = units[u]

            def counter_value(g: int, objs: UnitCounters = objs) -> int:
                oi = int(np.searchsorted(bases, g, side="right") - 1)
                vec = objs.get(oi)
                return int(vec[g - bases[oi]]) if vec is not None else 0

            values = {
                a: sum(w * counter_value(g) for g, w in zip(cl.arc_counter[a], cl.arc_coef[a], strict=True))
                for a in range(len(cl.dst))
            }
            term = cycles_count(cl.blocks, cl.succ, cl.dst, values)
            if term:
                out_u.append(u)
                out_l.append(cl.line)
                out_c.append(term)
    return (
        np.asarray(out_u, dtype=np.int32),
        np.asarray(out_l, dtype=np.int32),
        np.asarray(out_c, dtype=np.int64),
    )


# ---------------------------------------------------------------------------------------------
# merging models compiled apart (in parallel, by chunks of objects)


def light_notes(notes: NotesFile) -> NotesFile:
    """The part of a notes file that reading data files needs (no graphs): small to keep and send."""
    return NotesFile(
        path=notes.path,
        version=notes.version,
        stamp=notes.stamp,
        checksum=notes.checksum,
        cwd=notes.cwd,
        functions=[
            FunctionNotes(f.ident, f.lineno_checksum, f.cfg_checksum, f.name, f.artificial, "", 0, 0, 0, 0)
            for f in notes.functions
        ],
    )


def merge_models(parts: Sequence[CoverageModel]) -> CoverageModel:
    """One model from models of disjoint sets of objects, exactly as if compiled together.

    Objects keep their order (and counters their numbering, shifted); files, lines, functions and
    branches known to several parts get one id (their counts add, as in one compilation).
    """
    if len(parts) == 1:
        return parts[0]
    files: dict[str, int] = {}
    func_ids: dict[tuple[int, str], int] = {}
    func_name: list[str] = []
    func_file: list[int] = []
    func_start: list[int] = []
    func_end: list[int] = []
    notes: list[tuple[int, str]] = []
    objects: list[ObjectInfo] = []
    maps: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {k: [] for k in _MAP_NAMES}
    cyc_row: list[np.ndarray] = []
    cyc_line: list[np.ndarray] = []
    cyc_len: list[np.ndarray] = []
    complex_lines: list[ComplexLine] = []
    counter_offset = 0
    cycle_offset = 0
    row_offset = 0
    fmaps: list[np.ndarray] = []
    gfs: list[np.ndarray] = []
    part_notes: list[list[tuple[int, str]]] = []
    for m in parts:  # files and functions (few): their ids in order of first sight
        fmap = np.asarray([files.setdefault(f, len(files)) for f in m.files], dtype=np.int64)
        gf = np.empty(len(m.func_name), dtype=np.int64)
        fn_notes: list[tuple[int, str]] = []  # merge rules applied, in the order of one compilation
        for i, (fid, name, start, end) in enumerate(
            zip(
                fmap[m.func_file].tolist(),
                m.func_name,
                m.func_start.tolist(),
                m.func_end.tolist(),
                strict=True,
            )
        ):
            fkey = (fid, name)
            g = func_ids.get(fkey)
            if g is None:
                g = func_ids[fkey] = len(func_name)
                func_name.append(name)
                func_file.append(fid)
                func_start.append(start)
                func_end.append(end)
            elif (func_start[g], func_end[g]) != (start, end):
                before = (func_start[g], func_end[g])
                func_start[g] = min(func_start[g], start)
                func_end[g] = max(func_end[g], end)
                fn_notes.append(
                    (
                        fid,
                        f"function '{name}' has different extents in different objects (lines {before[0]}-"
                        f"{before[1]} and {start}-{end}): merged as lines {func_start[g]}-{func_end[g]}, "
                        "counts added",
                    )
                )
            gf[i] = g
        fmaps.append(fmap)
        gfs.append(gf)
        part_notes.append(fn_notes)
    # lines: one id per (file, line) in order of first sight; a line's function is the first one
    # any part gives it
    line_keys_all: list[np.ndarray] = []
    owns: list[np.ndarray] = []
    for m, fmap, gf in zip(parts, fmaps, gfs, strict=True):
        line_keys_all.append((fmap[m.line_file] << 32) | m.line_no.astype(np.int64))
        own = np.full(m.n_lines, -1, dtype=np.int64)
        has = m.line_function >= 0
        own[has] = gf[m.line_function[has]]
        owns.append(own)
    gl_all, line_keys = _first_seen(np.concatenate(line_keys_all))
    own_all = np.concatenate(owns)
    line_fn = np.full(len(line_keys), -1, dtype=np.int64)
    has = own_all >= 0
    ids, at = np.unique(gl_all[has], return_index=True)
    line_fn[ids] = own_all[has][at]
    gls = np.split(gl_all, np.cumsum([m.n_lines for m in parts])[:-1])
    gb_all, branch_keys = _first_seen(
        np.concatenate(
            [
                (gl[m.branch_line] << 32) | m.branch_index.astype(np.int64)
                for m, gl in zip(parts, gls, strict=True)
            ]
        )
    )
    gbs = np.split(gb_all, np.cumsum([len(m.branch_line) for m in parts])[:-1])
    for m, fmap, gf, gl, gb, fn_notes in zip(parts, fmaps, gfs, gls, gbs, part_notes, strict=True):
        notes.extend(fn_notes)
        for name, remap in (("line_map", gl), ("branch_map", gb), ("func_map", gf)):
            sm: SparseMap = getattr(m, name)
            maps[name].append((sm.indptr, remap[sm.target] if len(sm.target) else sm.target, sm.coef))
        cm = m.cycle_map
        maps["cycle_map"].append((cm.indptr, cm.target + row_offset, cm.coef))
        cyc_row.append(m.cycle_row_cycle + cycle_offset)
        cyc_line.append(gl[m.cycle_line] if len(m.cycle_line) else m.cycle_line.astype(np.int64))
        cyc_len.append(m.cycle_len)
        complex_lines.extend(
            ComplexLine(
                line=int(gl[c.line]),
                blocks=c.blocks,
                succ=c.succ,
                dst=c.dst,
                arc_counter=[[k + counter_offset for k in ks] for ks in c.arc_counter],
                arc_coef=c.arc_coef,
            )
            for c in m.complex_lines
        )
        notes.extend((int(fmap[fid]), text) for fid, text in m.notes)
        objects.extend(
            ObjectInfo(
                notes=o.notes,
                counter_base=o.counter_base + counter_offset,
                n_counters=o.n_counters,
                fn_counter_counts=o.fn_counter_counts,
            )
            for o in m.objects
        )
        counter_offset += m.n_counters
        cycle_offset += len(m.cycle_line)
        row_offset += len(m.cycle_row_cycle)
    return CoverageModel(
        objects=objects,
        files=list(files),
        line_file=(line_keys >> 32).astype(np.int32),
        line_no=(line_keys & 0xFFFFFFFF).astype(np.int32),
        line_function=line_fn.astype(np.int32),
        func_file=np.asarray(func_file, dtype=np.int32),
        func_name=func_name,
        func_start=np.asarray(func_start, dtype=np.int32),
        func_end=np.asarray(func_end, dtype=np.int32),
        branch_line=(branch_keys >> 32).astype(np.int32),
        branch_index=(branch_keys & 0xFFFFFFFF).astype(np.int32),
        line_map=_concat_maps(maps["line_map"]),
        branch_map=_concat_maps(maps["branch_map"]),
        func_map=_concat_maps(maps["func_map"]),
        cycle_map=_concat_maps(maps["cycle_map"]),
        cycle_row_cycle=np.concatenate(cyc_row).astype(np.int32),
        cycle_line=np.concatenate(cyc_line).astype(np.int32),
        cycle_len=np.concatenate(cyc_len).astype(np.int32),
        complex_lines=complex_lines,
        object_index={str(o.notes.path): i for i, o in enumerate(objects)},
        notes=notes,
    )


_MAP_NAMES = ("line_map", "branch_map", "func_map", "cycle_map")


def _first_seen(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ids for int64 ``keys`` numbered in order of first occurrence: (the id of every key, the key
    of every id)."""
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], uniq[order]


def _concat_maps(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> SparseMap:
    """Compressed rows of consecutive counter ranges, one after the other."""
    indptrs: list[np.ndarray] = []
    nnz = 0
    for i, (indptr, target, _coef) in enumerate(parts):
        indptrs.append((indptr if i == 0 else indptr[1:]) + nnz)
        nnz += len(target)
    return SparseMap(
        np.concatenate(indptrs).astype(np.int64),
        np.concatenate([p[1] for p in parts]).astype(np.int32),
        np.concatenate([p[2] for p in parts]).astype(np.int64),
    )
