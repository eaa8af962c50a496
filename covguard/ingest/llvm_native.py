"""A test's clang coverage without llvm processes: its ``.profraw`` decoded natively
(:mod:`covguard.ingest.profraw`), the executable's coverage mapping decoded once
(:mod:`covguard.ingest.covmap`), and from the two what ``llvm-cov export`` and ``llvm-cov show
--show-mcdc`` would print for that test - llvm-cov's own algorithms replayed: counter
expressions, the function records it keeps, ``SegmentBuilder`` for the per-file segments, branch
and expansion regions, and MC/DC records (test-vector indices of ``TVIdxBuilder``, executed
vectors from the bitmap, independence pairs).

The export is the same JSON structure :func:`covguard.ingest.llvm_cov.parse_export` reads, so
the frames come from the same code; each MC/DC record carries its executed vectors as an eighth
element.  ``tests/test_llvm_native.py`` compares the two paths test by test.  Whatever the
decoders do not understand raises :class:`Unsupported`, and that executable is read with llvm-cov.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from covguard.ingest import covmap
from covguard.ingest.covmap import (
    ADD,
    BRANCH,
    EXPANSION,
    GAP,
    MCDC_BRANCH,
    MCDC_DECISION,
    REF,
    SKIPPED,
    ZERO,
    Counter,
    FunctionMapping,
    Region,
    UnsupportedMapping,
)
from covguard.ingest.profraw import RawProfile, UnsupportedProfile, read_profraw

Unsupported = (UnsupportedMapping, UnsupportedProfile)


def _terms(
    c: Counter, exprs: list[tuple[int, Counter, Counter]], factor: int, out: dict[int, int], depth: int = 0
) -> None:
    if depth > 10_000:
        raise UnsupportedMapping("a counter expression that refers to itself")
    kind, ident = c
    if kind == ZERO:
        return
    if kind == REF:
        out[ident] = out.get(ident, 0) + factor
        return
    ek, lhs, rhs = exprs[ident]
    _terms(lhs, exprs, factor, out, depth + 1)
    _terms(rhs, exprs, factor if ek == ADD else -factor, out, depth + 1)


def _max_counter(c: Counter, exprs: list[tuple[int, Counter, Counter]], depth: int = 0) -> int:
    kind, ident = c
    if kind == REF:
        return ident
    if kind == ZERO or depth > 10_000:
        return 0
    _, lhs, rhs = exprs[ident]
    return max(_max_counter(lhs, exprs, depth + 1), _max_counter(rhs, exprs, depth + 1))


@dataclass
class _Derived:
    counted: list[Region]
    branches: list[Region]
    n_counters: int
    single_zero: bool
    terms: np.ndarray  # (item within the function, counter id, factor)
    decisions: list[tuple[Region, list[Region]]]
    region_rows: list[tuple[int, ...]]
    branch_rows: list[tuple[int, ...]]


_DERIVED: dict[int, tuple[list[Region], _Derived]] = {}


def _derived(fm: FunctionMapping) -> _Derived:
    """What a function's evaluation needs, once per decoded mapping (shared by the executables
    that link the same object)."""
    got = _DERIVED.get(id(fm.regions))
    if got is not None and got[0] is fm.regions:
        return got[1]
    counted = [r for r in fm.regions if r.kind not in (BRANCH, MCDC_BRANCH, MCDC_DECISION)]
    # a branch with two zero counters is constant-folded: llvm-cov's export leaves it out
    branches = [
        r
        for r in fm.regions
        if r.kind in (BRANCH, MCDC_BRANCH) and (r.count[0] != ZERO or r.false_count[0] != ZERO)
    ]
    rows: list[tuple[int, int, int]] = []
    counters = [r.count for r in counted]
    for r in branches:
        counters += [r.count, r.false_count]
    for item, c in enumerate(counters):
        terms: dict[int, int] = {}
        _terms(c, fm.expressions, 1, terms)
        rows.extend((item, cid, k) for cid, k in terms.items() if k)
    fn = _Function(fm, counted, branches, 0, False)
    d = _Derived(
        counted=counted,
        branches=branches,
        n_counters=max(_max_counter(r.count, fm.expressions) for r in fm.regions) + 1,
        single_zero=len(fm.regions) == 1 and fm.regions[0].count[0] == ZERO,
        terms=np.asarray(rows, dtype=np.int64).reshape(-1, 3),
        decisions=NativeExecutable._decisions(fn),
        region_rows=[_shape(r) for r in counted],
        branch_rows=[_shape(r) for r in branches],
    )
    if len(_DERIVED) > 100_000:
        _DERIVED.clear()
    _DERIVED[id(fm.regions)] = (fm.regions, d)
    return d


def _shape(r: Region) -> tuple[int, ...]:
    return (r.line_start, r.column_start, r.line_end, r.column_end, r.file_id, r.expanded_file_id, r.kind)


@dataclass
class _FilePlan:
    name: str
    rows: list[tuple[int, int, int, int, int]]  # combined regions, sorted: ls, cs, le, ce, kind
    members: np.ndarray  # the counted items added into each combined region
    starts: np.ndarray  # where each combined region's members start
    # runs of combined regions that start after every earlier region has ended (in practice one
    # function each): llvm's builder closes all its regions there with a skipped segment, so a
    # run's segments depend on the run alone (and on whether it ends the file) and are cached
    groups: list[tuple[int, int]]
    branches: list[tuple[tuple[int, ...], int]]  # the file's branch regions, their true-count item
    expanding: list[int]  # functions with expansions in this file (their main file)


@dataclass
class _Function:
    mapping: FunctionMapping
    counted: list[Region]  # code, expansion, skipped and gap regions (llvm's CountedRegions)
    branches: list[Region]  # branch and MC/DC branch regions
    n_counters: int  # counters llvm-cov assumes when the profile has no record of the function
    single_zero: bool  # one region with a zero counter (dropped when the function ran elsewhere)


class NativeExecutable:
    """One test executable's coverage mapping, ready to evaluate any profile of it."""

    def __init__(self, executable: Path) -> None:
        self.executable = executable
        self.functions: list[_Function] = []
        parts: list[np.ndarray] = []  # (item, function << 32 | counter id, factor)
        items = 0
        self.item_of: list[tuple[list[int], list[int], list[int]]] = []  # per function
        self.decisions: list[list[tuple[Region, list[Region]]]] = []
        for fm in covmap.read_mapping(executable):
            d = _derived(fm)
            f_idx = len(self.functions)
            self.functions.append(_Function(fm, d.counted, d.branches, d.n_counters, d.single_zero))
            n_c = len(d.counted)
            c_items = list(range(items, items + n_c))
            t_items = list(range(items + n_c, items + n_c + 2 * len(d.branches), 2))
            self.item_of.append((c_items, t_items, [t + 1 for t in t_items]))
            if len(d.terms):
                part = d.terms.copy()
                part[:, 0] += items
                part[:, 1] |= f_idx << 32
                parts.append(part)
            items += n_c + 2 * len(d.branches)
            self.decisions.append(d.decisions)
        self.n_items = items
        self._rows_raw = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
        fns = self.functions
        self._name_refs = np.asarray([f.mapping.name_ref for f in fns], dtype=np.uint64)
        self._hashes = np.asarray([f.mapping.func_hash for f in fns], dtype=np.uint64)
        self._needed = np.asarray([f.n_counters for f in fns], dtype=np.int64)
        self._single_zero = np.asarray([f.single_zero for f in fns], dtype=bool)
        self._keys = [(tuple(f.mapping.filenames), f.mapping.name) for f in fns]
        self._item_range: list[tuple[int, int]] = []
        self._region_rows: list[list[tuple[int, ...]]] = []
        self._region_at: list[list[int]] = []
        self._branch_rows: list[list[tuple[int, ...]]] = []
        self._branch_at: list[list[int]] = []
        self._file_functions: dict[str, list[int]] = {}
        self._segment_cache: dict[tuple[int, ...], list[list[int]]] = {}
        self._plans: dict[tuple[str, tuple[int, ...]], _FilePlan] = {}
        for f_idx, (fn, (c_items, t_items, f_items)) in enumerate(zip(fns, self.item_of, strict=True)):
            every = c_items + t_items + f_items
            a = min(every, default=0)
            self._item_range.append((a, max(every, default=-1) + 1))
            self._region_rows.append(_derived(fn.mapping).region_rows)
            self._region_at.append([i - a for i in c_items])
            self._branch_rows.append(_derived(fn.mapping).branch_rows)
            self._branch_at.append([i - a for i in t_items])
            for name in dict.fromkeys(fn.mapping.filenames):
                self._file_functions.setdefault(name, []).append(f_idx)

    @staticmethod
    def _decisions(fn: _Function) -> list[tuple[Region, list[Region]]]:
        """llvm's MCDCDecisionRecorder: every MC/DC branch joins the first open decision that
        dominates it; a decision is complete when it has all its conditions."""
        open_: list[dict[str, Any]] = []
        done: list[tuple[Region, list[Region]]] = []
        for r in fn.mapping.regions:
            if r.kind == MCDC_DECISION:
                open_.append({"region": r, "branches": [], "ids": set(), "expanded": set()})
            elif r.kind == EXPANSION:
                for d in open_:
                    if NativeExecutable._dominates(d, r):
                        d["expanded"].add(r.expanded_file_id)
                        break
            elif r.kind == MCDC_BRANCH:
                assert r.condition is not None
                ident = r.condition[0]
                for i, d in enumerate(open_):
                    dr: Region = d["region"]
                    assert dr.decision is not None
                    if ident in d["ids"] or ident >= dr.decision[1] or not NativeExecutable._dominates(d, r):
                        continue
                    if ident == 0:
                        d["branches"].insert(0, r)
                    else:
                        d["branches"].append(r)
                    d["ids"].add(ident)
                    if len(d["branches"]) == dr.decision[1]:
                        done.append((dr, d["branches"]))
                        del open_[i]
                    break
                else:
                    raise UnsupportedMapping("an MC/DC condition outside every decision")
        if open_:
            raise UnsupportedMapping("an MC/DC decision without all its conditions")
        return done

    @staticmethod
    def _dominates(d: dict[str, Any], r: Region) -> bool:
        dr: Region = d["region"]
        if r.file_id == dr.file_id and r.start() >= dr.start() and r.end() <= dr.end():
            return True
        return r.file_id in d["expanded"]

    # ------------------------------------------------------------------------------------------

    def _records(self, prof: RawProfile) -> tuple[np.ndarray, np.ndarray]:
        """Per function: its data record in ``prof`` (-1: none) and whether it counted anything."""
        n_fn = len(self.functions)
        refs = prof.name_ref
        if not len(refs):
            return np.full(n_fn, -1), np.zeros(n_fn, dtype=bool)
        if len(np.unique(refs)) != len(refs):
            raise UnsupportedProfile("two data records of one function name")
        order = np.argsort(refs, kind="stable")
        sorted_refs = refs[order]
        pos = np.minimum(np.searchsorted(sorted_refs, self._name_refs), len(refs) - 1)
        found = sorted_refs[pos] == self._name_refs
        rec = np.where(found, order[pos], -1)
        r = rec[found]
        bad_hash = prof.func_hash[r] != self._hashes[found]
        if bad_hash.any():
            name = self.functions[int(np.flatnonzero(found)[np.argmax(bad_hash)])].mapping.name
            raise UnsupportedProfile(f"the profile of {name} does not match the executable")
        if (prof.num_counters[r] < self._needed[found]).any():
            raise UnsupportedProfile("a function's profile has fewer counters than its mapping uses")
        nonzero = np.zeros(n_fn, dtype=bool)
        if len(r):
            nz = np.concatenate([[0], np.cumsum(prof.counters != 0)])
            starts = prof.counter_start[r]
            nonzero[found] = (nz[starts + prof.num_counters[r]] - nz[starts]) > 0
        return rec, nonzero

    def _values(self, prof: RawProfile | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every counted item's value (regions, branches' true and false counts), the data record
        of every function, and whether it counted anything."""
        n_fn = len(self.functions)
        out = np.zeros(self.n_items, dtype=np.int64)
        if prof is None:
            return out, np.full(n_fn, -1), np.zeros(n_fn, dtype=bool)
        rec, nonzero = self._records(prof)
        arr = self._rows_raw
        if len(arr):
            fn_of = arr[:, 1] >> 32
            cid = arr[:, 1] & 0xFFFFFFFF
            use = nonzero[fn_of]
            r = rec[fn_of[use]]
            if (cid[use] >= prof.num_counters[r]).any():
                raise UnsupportedProfile("a counter expression beyond a function's counters")
            idx = prof.counter_start[r] + cid[use]
            np.add.at(out, arr[use, 0], prof.counters[idx].astype(np.int64) * arr[use, 2])
        return out, rec, nonzero

    def _bits(self, prof: RawProfile | None, rec: int) -> np.ndarray | None:
        if prof is None or rec < 0:
            return None
        s, n = int(prof.bitmap_start[rec]), int(prof.num_bitmap_bytes[rec])
        return np.unpackbits(prof.bitmap[s : s + n], bitorder="little").astype(bool)

    def export(
        self, prof: RawProfile | None, files: Sequence[str] = (), *, touched_only: bool = False
    ) -> dict[str, Any]:
        """What ``llvm-cov export -format=text`` prints for ``prof`` (None: an empty profile),
        limited to the fields covguard reads; each MC/DC record with its executed vectors.

        ``touched_only``: only the functions that counted something and the files they are in
        (the rest is the empty profile's, all zero: what the universe already holds), and with
        ``files``, only the functions whose first file is one of them."""
        values, recs, nonzero = self._values(prof)
        first = (recs >= 0) & nonzero
        counter0 = np.zeros(len(self.functions), dtype=np.int64)
        if prof is not None and first.any():
            counter0[first] = prof.counters[prof.counter_start[recs[first]]].astype(np.int64)
        dropped = self._single_zero & (counter0 > 0)  # a dummy record of a function run elsewhere
        loaded: list[int] = []
        seen: set[tuple[tuple[str, ...], str]] = set()
        for f_idx in np.flatnonzero(~dropped).tolist():
            key = self._keys[f_idx]
            if key not in seen:
                seen.add(key)
                loaded.append(f_idx)
        rows: dict[int, tuple[list[list[int]], list[list[int]]]] = {}
        big = [False]

        def rows_of(f_idx: int) -> tuple[list[list[int]], list[list[int]]]:
            got = rows.get(f_idx)
            if got is None:
                a, b = self._item_range[f_idx]
                vals = values[a:b].tolist()
                if nonzero[f_idx] and min(vals, default=0) < 0:
                    # llvm evaluates in int64 and keeps the result as uint64; its JSON clamps
                    vals = [v + (1 << 64) if v < 0 else v for v in vals]
                    big[0] = True
                regions = [
                    [r[0], r[1], r[2], r[3], vals[k], r[4], r[5], r[6]]
                    for r, k in zip(self._region_rows[f_idx], self._region_at[f_idx], strict=True)
                ]
                branches = [
                    [r[0], r[1], r[2], r[3], vals[t], vals[t + 1], r[4], r[5], r[6]]
                    for r, t in zip(self._branch_rows[f_idx], self._branch_at[f_idx], strict=True)
                ]
                got = rows[f_idx] = (regions, branches)
            return got

        shown_fns = [f for f in loaded if nonzero[f]] if touched_only else loaded
        if touched_only and files:
            # covguard keeps a function by its first file: one outside ``files`` adds nothing
            wanted_first = set(files)
            shown_fns = [f for f in shown_fns if self.functions[f].mapping.filenames[0] in wanted_first]
        functions: list[dict[str, Any]] = []
        for f_idx in shown_fns:
            fn = self.functions[f_idx]
            regions, branches = rows_of(f_idx)
            bits = self._bits(prof, int(recs[f_idx])) if self.decisions[f_idx] else None
            functions.append(
                {
                    "name": fn.mapping.name,
                    "count": regions[0][4] if regions else 0,
                    "regions": regions,
                    "branches": branches,
                    "mcdc_records": [
                        _mcdc_record(d, conds, bits, fn.mapping.name) for d, conds in self.decisions[f_idx]
                    ],
                    "filenames": list(fn.mapping.filenames),
                }
            )
        names = sorted({n for f in shown_fns for n in self.functions[f].mapping.filenames})
        if files:
            wanted = set(files)
            names = [n for n in names if n in wanted]
        loaded_set = set(loaded)
        out_files = []
        uvals = values.astype(np.uint64)  # llvm's uint64 counts: a negative value wraps
        for name in names:
            in_file = tuple(f for f in self._file_functions.get(name, []) if f in loaded_set)
            plan = self._plans.get((name, in_file))
            if plan is None:
                plan = self._plans[(name, in_file)] = self._plan(name, in_file)
            out_files.append(self._file_with(plan, uvals, rows_of))
        out = {"files": out_files, "functions": functions}
        if big[0] or (values < 0).any():
            _clamp(out)
        return out

    def _plan(self, name: str, in_file: tuple[int, ...]) -> _FilePlan:
        """What a file's segments, branches and expansions are made of, whatever the counts."""
        code: list[tuple[tuple[int, int, int, int, int], int]] = []  # (ls, cs, le, ce, kind), item
        branches: list[tuple[tuple[int, ...], int]] = []
        expanding: list[int] = []
        for f in in_file:
            fn = self.functions[f]
            files = fn.mapping.filenames
            ids = {i for i, x in enumerate(files) if x == name}
            base = self._item_range[f][0]
            rows = self._region_rows[f]
            expanded = {r[5] for r in rows if r[6] == EXPANSION}
            main = next((i for i in range(len(files)) if i not in expanded), None)
            main_here = main is not None and files[main] == name
            for r, k in zip(rows, self._region_at[f], strict=True):
                if r[4] in ids:
                    code.append(((r[0], r[1], r[2], r[3], r[6]), base + k))
                    if main_here and r[6] == EXPANSION and r[4] == main and f not in expanding:
                        expanding.append(f)
            for b, t in zip(self._branch_rows[f], self._branch_at[f], strict=True):
                if b[4] in ids and b[4] == b[5]:  # not inside an expansion
                    branches.append((b, base + t))
        code.sort(key=lambda c: (c[0][0], c[0][1], -c[0][2], -c[0][3], c[0][4]))
        rows_out: list[tuple[int, int, int, int, int]] = []
        members: list[int] = []
        starts: list[int] = []
        for shape, item in code:
            if rows_out and rows_out[-1][:4] == shape[:4]:
                if shape[4] == rows_out[-1][4]:
                    members.append(item)  # same span and kind: counts added
                continue
            rows_out.append(shape)
            starts.append(len(members))
            members.append(item)
        groups: list[tuple[int, int]] = []
        if rows_out:
            at = 0
            reach = (rows_out[0][2], rows_out[0][3])
            for i in range(1, len(rows_out)):
                r = rows_out[i]
                if (r[0], r[1]) > reach:
                    groups.append((at, i))
                    at = i
                reach = max(reach, (r[2], r[3]))
            groups.append((at, len(rows_out)))
        return _FilePlan(
            name=name,
            rows=rows_out,
            members=np.asarray(members, dtype=np.int64),
            starts=np.asarray(starts, dtype=np.int64),
            groups=groups,
            branches=branches,
            expanding=expanding,
        )

    def _file_with(self, plan: _FilePlan, uvals: np.ndarray, rows_of: Any) -> dict[str, Any]:
        counts = np.add.reduceat(uvals[plan.members], plan.starts).tolist() if len(plan.rows) else []
        segments: list[list[int]] = []
        cache = self._segment_cache
        last = len(plan.groups) - 1
        for g, (a, b) in enumerate(plan.groups):
            key = (id(plan), g, *counts[a:b])
            got = cache.get(key)
            if got is None:
                if len(cache) > 200_000:
                    cache.clear()
                group = [
                    [r[0], r[1], r[2], r[3], c, 0, 0, r[4]]
                    for r, c in zip(plan.rows[a:b], counts[a:b], strict=True)
                ]
                got = cache[key] = _segments(group, g == last)
            segments.extend([list(seg) for seg in got])
        v = uvals
        branches = [
            [b[0], b[1], b[2], b[3], int(v[t]), int(v[t + 1]), b[4], b[5], b[6]] for b, t in plan.branches
        ]
        expansions: list[dict[str, Any]] = []
        for f in plan.expanding:
            regions, fbranches = rows_of(f)
            files = self.functions[f].mapping.filenames
            expanded = {r[6] for r in regions if r[7] == EXPANSION}
            main = next((i for i in range(len(files)) if i not in expanded), None)
            for r in regions:
                if r[7] == EXPANSION and r[5] == main:
                    expansions.append(
                        {"source_region": r, "branches": _nested_branches(r[6], regions, fbranches)}
                    )
        return {"filename": plan.name, "segments": segments, "branches": branches, "expansions": expansions}


INT64_MAX = (1 << 63) - 1


def _clamp(export: dict[str, Any]) -> None:
    """llvm-cov's JSON writes a count above INT64_MAX (a negative expression value) as INT64_MAX."""

    def fix(rows: list[list[Any]], cols: Sequence[int]) -> None:
        for r in rows:
            for c in cols:
                r[c] = min(r[c], INT64_MAX)

    for fn in export["functions"]:
        fn["count"] = min(fn["count"], INT64_MAX)
        fix(fn["regions"], (4,))
        fix(fn["branches"], (4, 5))
    for f in export["files"]:
        fix(f["segments"], (2,))
        fix(f["branches"], (4, 5))
        for e in f["expansions"]:
            fix([e["source_region"]], (4,))
            fix(e["branches"], (4, 5))


def _nested_branches(file_id: int, regions: list[list[int]], branches: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for r in regions:
        if r[7] == EXPANSION and r[5] == file_id:
            out.extend(_nested_branches(r[6], regions, branches))
    out.extend(b for b in branches if b[6] == file_id)
    return out


def _mcdc_record(decision: Region, conds: list[Region], bits: np.ndarray | None, name: str) -> list[Any]:
    """llvm's MCDCRecordProcessor: test-vector indices (TVIdxBuilder), the executed vectors the
    bitmap marks (false outcomes first), the independence pairs."""
    assert decision.decision is not None
    bitmap_idx, n = decision.decision
    next_ids = [[-1, -1] for _ in range(n)]
    for b in conds:
        assert b.condition is not None
        ident, false_id, true_id = b.condition
        next_ids[ident] = [false_id, true_id]
    indices, num_tv = _tv_indices(next_ids)
    executed: list[list[tuple[list[int], int]]] = [[], []]
    tv = [-1] * n

    def walk(ident: int, tv_idx: int) -> None:
        for cond in (0, 1):
            tv[ident] = cond
            nxt = next_ids[ident][cond]
            nxt_idx = tv_idx + indices[ident][cond]
            if nxt >= 0:
                walk(nxt, nxt_idx)
                continue
            bit = bitmap_idx - num_tv + nxt_idx
            if bits is not None and 0 <= bit < len(bits) and bits[bit]:
                executed[cond].append((list(tv), cond))
            elif bits is not None and not 0 <= bit < len(bits):
                raise UnsupportedProfile(f"the MC/DC bitmap of {name} is too short")
        tv[ident] = -1

    walk(0, 0)
    vectors = executed[0] + executed[1]
    n_false = len(executed[0])
    pairs: set[int] = set()
    for tv_true, _ in vectors[n_false:]:
        for tv_false, _ in vectors[:n_false]:
            diff = [k for k in range(n) if tv_true[k] >= 0 and tv_false[k] >= 0 and tv_true[k] != tv_false[k]]
            if len(diff) == 1:
                pairs.add(diff[0])
    pos_to_id = [c.condition[0] for c in conds if c.condition is not None]
    flags = [pos_to_id[i] in pairs for i in range(n)]
    text = ";".join(
        "".join("-" if v[pos_to_id[i]] < 0 else ("T" if v[pos_to_id[i]] else "F") for i in range(n))
        + ("=T" if out else "=F")
        for v, out in vectors
    )
    return [
        decision.line_start, decision.column_start, decision.line_end, decision.column_end,
        decision.expanded_file_id, MCDC_DECISION, flags, text,
    ]  # fmt: skip


def _tv_indices(next_ids: list[list[int]]) -> tuple[list[list[int]], int]:
    """llvm's ``mcdc::TVIdxBuilder``: per (condition, outcome), the offset of the test-vector index."""
    n = len(next_ids)
    indices = [[0, 0] for _ in range(n)]
    width = [0] * n
    in_count = [0] * n
    for ident in range(n):
        for c in (0, 1):
            if next_ids[ident][c] >= 0:
                in_count[next_ids[ident][c]] += 1
    width[0] = 1
    queue = [0]
    decisions: list[tuple[int, int, int, int]] = []
    order = 0
    while queue:
        ident = queue.pop(0)
        for c in (0, 1):
            nxt = next_ids[ident][c]
            if nxt < 0:
                decisions.append((-width[ident], order, ident, c))
                order += 1
                continue
            indices[ident][c] = width[nxt]
            width[nxt] += width[ident]
            if width[nxt] > 0x7FFFFFFF:
                raise UnsupportedMapping("too many MC/DC test vectors")
            in_count[nxt] -= 1
            if in_count[nxt] == 0:
                queue.append(nxt)
    decisions.sort()
    cur = 0
    for neg_width, _, ident, c in decisions:
        indices[ident][c] = cur
        cur += -neg_width
    return indices, cur


# ---------------------------------------------------------------------------------------------
# llvm's SegmentBuilder


def build_segments(regions: list[list[int]]) -> list[list[int]]:
    """``[line, column, count, has_count, is_region_entry, is_gap]`` of a file's regions
    (``[ls, cs, le, ce, count, file id, expanded id, kind]``), as llvm-cov builds them (the
    native reader builds files from a :class:`_FilePlan` instead: the same steps, cached)."""
    if not regions:
        return []
    rs = sorted(regions, key=lambda r: (r[0], r[1], -r[2], -r[3], r[7]))
    combined: list[list[int]] = [list(rs[0])]
    for r in rs[1:]:
        a = combined[-1]
        if a[0] != r[0] or a[1] != r[1] or a[2] != r[2] or a[3] != r[3]:
            combined.append(list(r))
        elif r[7] == a[7]:
            a[4] = (a[4] + r[4]) % (1 << 64)
    return _segments(combined, True)


def _segments(combined: list[list[int]], final: bool) -> list[list[int]]:
    """llvm's ``SegmentBuilder::buildSegmentsImpl`` over sorted, combined regions (``final``:
    they end the file)."""
    segments: list[list[int]] = []
    active: list[list[int]] = []

    def start(r: list[int], loc: tuple[int, int], entry: bool, skipped: bool = False) -> None:
        has_count = not skipped and r[7] != SKIPPED
        if segments and not entry and not skipped:
            last = segments[-1]
            if bool(last[3]) == has_count and last[2] == r[4] and not last[4]:
                return
        if has_count:
            segments.append([loc[0], loc[1], r[4], True, entry, r[7] == GAP])
        else:
            segments.append([loc[0], loc[1], 0, False, entry, False])

    def end(r: list[int]) -> tuple[int, int]:
        return (r[2], r[3])

    def complete(loc: tuple[int, int] | None, first: int) -> None:
        tail = sorted(active[first:], key=end)  # stable, like std::stable_sort
        active[first:] = tail
        for i in range(first + 1, len(active)):
            done = active[i]
            seg_loc = end(active[i - 1])
            if loc is not None and seg_loc == loc:
                break
            if seg_loc == end(done):
                continue
            for j in range(i + 1, len(active)):
                if end(done) == end(active[j]):
                    done = active[j]
            start(done, seg_loc, False)
        last = active[-1]
        if first and end(last) != loc:
            start(active[first - 1], end(last), False)
        elif not first and (loc is None or loc != end(last)):
            start(last, end(last), False, True)
        del active[first:]

    for idx, r in enumerate(combined):
        cur = (r[0], r[1])
        still = [a for a in active if not end(a) <= cur]
        if len(still) != len(active):
            done = [a for a in active if end(a) <= cur]
            active[:] = still + done
            complete(cur, len(still))
        gap = r[7] == GAP
        if cur == end(r):
            skipped = (final and idx + 1 == len(combined)) or r[7] == SKIPPED
            start(active[-1] if active else r, cur, not gap, skipped)
            if skipped and active:
                start(active[-1], cur, False)
            continue
        if idx + 1 == len(combined) or cur != (combined[idx + 1][0], combined[idx + 1][1]):
            start(r, cur, not gap)
        active.append(r)
    if active:
        complete(None, 0)
    return segments


def read_native(executable: NativeExecutable, profraw: Path, files: Sequence[str]) -> dict[str, Any]:
    return executable.export(read_profraw(profraw), files)


def native_units(
    run: Any,
    units: Sequence[str],
    shown: Any,
    keep: Any,
    files: dict[str, list[str]],
    *,
    batch: int = 256,
) -> tuple[list[Any], set[str], list[str]]:
    """The units of ``run`` (an :class:`covguard.ingest.llvm_cov.LlvmRun`) read natively, a few
    hundred at a time per executable, each batch one :class:`~covguard.ingest.llvm_cov.UnitCoverage`
    whose frames carry a ``test`` column; the units read; a note per executable or profile left
    to llvm-cov (those units are not read here)."""
    from covguard.ingest.llvm_export import UnitCoverage, parse_exports

    out: list[Any] = []
    done: set[str] = set()
    notes: list[str] = []
    by_exe: dict[str, list[str]] = {}
    for u in units:
        by_exe.setdefault(str(run.units[u][1]), []).append(u)
    for key, members in by_exe.items():
        exe = Path(key)
        try:
            ne = NativeExecutable(exe)
        except Unsupported as exc:
            notes.append(f"llvm-cov read every test of {exe.name} (its coverage mapping: {exc})")
            continue
        for at in range(0, len(members), batch):
            exports: list[tuple[str, dict[str, Any]]] = []
            for u in members[at : at + batch]:
                try:
                    prof = read_profraw(run.units[u][0])
                    exports.append((u, ne.export(prof, files.get(key, []), touched_only=True)))
                except Unsupported as exc:
                    notes.append(f"llvm-cov read test {u} of {exe.name} (its raw profile: {exc})")
            if not exports:
                continue
            frames = parse_exports(exports, shown, keep)
            d = frames.decisions
            if len(d):
                d = d[np.asarray([keep(str(f)) for f in d["file"]], dtype=bool)].reset_index(drop=True)
            frames.decisions = d
            vectors = [str(v) for v in d["vectors"]] if len(d) else []
            out.append(UnitCoverage(unit="", frames=frames, vectors=vectors, shown=[]))
            done.update(u for u, _ in exports)
    return out, done, notes


__all__ = ["NativeExecutable", "Unsupported", "build_segments", "native_units", "read_native"]
