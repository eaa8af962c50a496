"""clang's source-based coverage, per test, into covguard's frames - with MC/DC.

For every coverage unit (a test case: the harness wrote ``<coverage dir>/<index>.profraw``)
covguard runs, two units at a time per core:

1. ``llvm-profdata-19 merge -sparse`` of the unit's ``.profraw`` into an indexed profile;
2. ``llvm-cov-19 export -format=text`` of the unit's test executable (a unit belongs to one
   executable: llvm-cov reads the coverage mapping from the binary) - JSON with per-file
   ``segments`` and ``branches`` and per-function ``regions``, ``branches`` and ``mcdc_records``;
3. ``llvm-cov-19 show --show-mcdc`` of the product files that hold decisions: the executed test
   vectors, which the JSON does not carry and which requirement-based MC/DC needs (independence
   pairs of several tests are found in the union of their vectors, see :mod:`covguard.ingest.mcdc_vectors`).

The JSON becomes the same frames gcov's data does, vectorised with numpy:

* **lines** follow llvm-cov's own rule (``LineCoverageStats``, what ``llvm-cov export
  -format=lcov`` reports): a line is executable when a region with a count starts on it, or a
  region with a count runs through it and no skipped region starts it; its count is the largest
  of the counts of the regions that start on it and of the region running into it.  Unlike gcov,
  the line of an opening ``{`` and the closing ``}`` of a block are lines, and a function's
  signature line is not when the brace is on the next line;
* **branches**: every branch region (kind 4, or 6 for a condition of an MC/DC decision) gives
  two branches, true then false, numbered per line by column; branches inside a macro expansion
  count on the line that expands the macro (as gcov counts macro code);
* **functions**: a static function's name loses llvm's ``<file>:`` prefix; its extent is its
  code regions', with the start moved back from the ``{`` to the line holding its name (the line
  gcc reports, where tags above a function attach);
* **decisions**: one row per (test, decision it evaluated) with its executed vectors, and the
  universe of decisions with their source text, condition texts and structure.

The whole universe comes from an export with an empty profile per executable (every line and
decision of the binary, executed or not).  Each unit's MC/DC listing is checked against the
JSON's per-condition flags: covguard's independence pairs must equal llvm-cov's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from covguard.errors import CoverageDataError, ToolError
from covguard.files import display_path
from covguard.frames import (
    BRANCHES,
    CODE_BRANCHES,
    CODE_DECISIONS,
    CODE_FUNCTIONS,
    CODE_LINES,
    DECISIONS,
    FUNCTIONS,
    LINES,
    CoverageData,
    conform,
    records,
)
from covguard.ingest import mcdc_vectors as mcdc
from covguard.ingest.llvm_export import (
    ExportFrames,
    ShownDecision,
    UnitCoverage,
    parse_export,
)

INSTALL_HINT = (
    "apt-get install --no-install-recommends llvm-19 (Debian): it brings llvm-profdata-19 and llvm-cov-19"
)
_REBUILD = "run 'covguard run --toolchain host-clang' again (it rebuilds and reruns the tests)"
LINE_MODEL_NOTE = (
    "llvm-cov: lines follow clang's source regions (a '{' line and the closing '}' of a block are "
    "executable lines, a function's signature line is not when its '{' is on the next line); gcc "
    "counts the signature line instead.  Lines both compilers report agree on being executed."
)


@dataclass(frozen=True)
class LlvmTools:
    """The llvm tools matching the compiler (llvm-cov must read the compiler's mapping format)."""

    profdata: str = "llvm-profdata-19"
    llvm_cov: str = "llvm-cov-19"
    # (original, here): the coverage mapping's source paths read from another folder (re-derivation
    # of an evidence package: llvm-cov's -path-equivalence)
    path_equivalence: tuple[str, str] | None = None

    def mapping_options(self) -> list[str]:
        if self.path_equivalence is None:
            return []
        return [f"-path-equivalence={self.path_equivalence[0]},{self.path_equivalence[1]}"]


def run_tool(cmd: Sequence[str], *, what: str, path: Path | str) -> subprocess.CompletedProcess[bytes]:
    """Run an llvm tool; a missing tool or a failure is a covguard error naming ``path``."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, check=False, timeout=600)
    except FileNotFoundError:
        raise ToolError(
            f"'{cmd[0]}' is not installed (needed to read clang's coverage)", hint=INSTALL_HINT
        ) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"{what}: '{cmd[0]}' could not run ({exc})", path=path) from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise CoverageDataError(
            f"{what} failed (exit status {proc.returncode}): " + " / ".join(err[-3:]),
            path=path,
            hint="a truncated or foreign profile, or a test executable rebuilt since the tests ran: "
            + _REBUILD,
        )
    return proc


def merge_profile(tools: LlvmTools, inputs: Sequence[Path], out: Path) -> Path:
    """``llvm-profdata merge -sparse`` of raw profiles into an indexed one."""
    run_tool(
        [tools.profdata, "merge", "-sparse", *map(str, inputs), "-o", str(out)],
        what="merging the raw profile",
        path=inputs[0] if inputs else out,
    )
    return out


def empty_profile(tools: LlvmTools, folder: Path) -> Path:
    """An indexed profile with no records: llvm-cov then shows every region with count 0."""
    text = folder / "empty.proftext"
    text.write_text("# IR level profile with no records\n:ir\n", encoding="utf-8")
    return merge_profile(tools, [text], folder / "empty.profdata")


def export(
    tools: LlvmTools,
    executable: Path,
    profdata: Path,
    *,
    summary_only: bool = False,
    files: Sequence[str] = (),
) -> dict[str, Any]:
    """``llvm-cov export -format=text`` as parsed JSON (the per-file part limited to ``files``
    when given); a profile that does not match the binary (llvm-cov only warns) is an error."""
    cmd = [tools.llvm_cov, "export", "-format=text", *tools.mapping_options(), str(executable)]
    cmd.append(f"-instr-profile={profdata}")
    if summary_only:
        cmd.append("-summary-only")
    cmd += list(files)
    proc = run_tool(cmd, what="llvm-cov export", path=executable)
    _check_mismatch(proc, executable)
    try:
        doc = json.loads(proc.stdout)
        data: dict[str, Any] = doc["data"][0]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CoverageDataError(f"llvm-cov export gave unreadable JSON ({exc})", path=executable) from None
    return data


def show_mcdc(tools: LlvmTools, executable: Path, profdata: Path, files: Sequence[str]) -> str:
    """``llvm-cov show --show-mcdc`` of ``files`` (absolute paths as in the coverage mapping)."""
    cmd = [
        tools.llvm_cov,
        "show",
        "--show-mcdc",
        "--use-color=false",
        *tools.mapping_options(),
        str(executable),
    ]
    cmd += [f"-instr-profile={profdata}", *files]
    proc = run_tool(cmd, what="llvm-cov show --show-mcdc", path=executable)
    _check_mismatch(proc, executable)
    return proc.stdout.decode("utf-8", errors="replace")


def _check_mismatch(proc: subprocess.CompletedProcess[bytes], executable: Path) -> None:
    err = proc.stderr.decode("utf-8", errors="replace")
    if "mismatched data" in err or "no profile data" in err.lower():
        raise CoverageDataError(
            "the profile does not match the test executable (llvm-cov: "
            + " ".join(err.split())[:200]
            + "): it was rebuilt after its tests ran",
            path=executable,
            hint=_REBUILD,
        )


# ---------------------------------------------------------------------------------------------
# lines: llvm-cov's LineCoverageStats, vectorised


# ---------------------------------------------------------------------------------------------
# one export


# ---------------------------------------------------------------------------------------------
# llvm-cov show --show-mcdc


_FILE_HEADER = re.compile(r"^(\S.*):$", re.MULTILINE)
_BLOCK = re.compile(r"\|---> MC/DC Decision Region \((\d+):(\d+)\) to \((\d+):(\d+)\)")
_CONDITION = re.compile(r"Condition C(\d+) --> \((\d+):(\d+)\)")
_VECTOR = re.compile(r"\|\s+\d+ \{ ([TFC\-,\s]+?)\s*=\s*([TF])\s+\}")
_PAIR = re.compile(r"C(\d+)-Pair: (covered|not covered|constant folded)")


def parse_show(text: str, files: Sequence[str]) -> list[ShownDecision]:
    """The MC/DC blocks of a ``show`` listing, in listing order, with the file each is in."""
    headers = [(m.start(), m.group(1)) for m in _FILE_HEADER.finditer(text)]
    header_pos = [h[0] for h in headers]
    blocks = list(_BLOCK.finditer(text))
    out: list[ShownDecision] = []
    for i, m in enumerate(blocks):
        end = blocks[i + 1].start() if i + 1 < len(blocks) else len(text)
        body = text[m.end() : end]
        stop = body.find("\n  ------------------")
        body = body if stop < 0 else body[:stop]
        h = int(np.searchsorted(header_pos, m.start(), side="right")) - 1
        if h >= 0:
            path = headers[h][1]
        elif len(files) == 1:
            path = files[0]
        else:
            raise CoverageDataError("llvm-cov show printed an MC/DC block outside any file listing")
        conditions = tuple(
            (int(b), int(c)) for _, b, c in sorted(_CONDITION.findall(body), key=lambda x: int(x[0]))
        )
        vectors = tuple(("".join(v.replace(",", " ").split()), r == "T") for v, r in _VECTOR.findall(body))
        pairs = tuple(state for _, state in sorted(_PAIR.findall(body), key=lambda x: int(x[0])))
        region = (int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)))
        out.append(ShownDecision(path, region, conditions, vectors, pairs))
    return out


def listing_order(decisions: pd.DataFrame) -> pd.DataFrame:
    """Decisions (function order) in the order ``show`` lists them: per file, stably by the
    line the decision ends on (llvm-cov groups MC/DC views by end line)."""
    d = decisions.reset_index(drop=True).assign(_order=np.arange(len(decisions)))
    return d.sort_values(["decision_path", "end_line", "_order"], kind="stable").drop(columns="_order")


def match_shown(decisions: pd.DataFrame, shown: list[ShownDecision], executable: Path) -> list[ShownDecision]:
    """The ``show`` block of each decision (rows in :func:`listing_order`), checked."""
    by_file: dict[str, list[ShownDecision]] = {}
    for s in shown:
        by_file.setdefault(s.path, []).append(s)
    taken: dict[str, int] = {}
    out: list[ShownDecision] = []
    for rec in records(decisions):
        path = str(rec["decision_path"])
        i = taken.get(path, 0)
        taken[path] = i + 1
        blocks = by_file.get(path, [])
        block = blocks[i] if i < len(blocks) else None
        want = (
            int(rec["decision_line"]),
            int(rec["decision_column"]),
            int(rec["end_line"]),
            int(rec["end_column"]),
        )
        if block is None or block.region != want or len(block.conditions) != int(rec["n"]):
            raise CoverageDataError(
                f"llvm-cov's MC/DC listing of {path} does not match its export at {want[0]}:{want[1]}",
                path=executable,
                hint="report this with the llvm-cov version; " + _REBUILD,
            )
        out.append(block)
    return out


# ---------------------------------------------------------------------------------------------
# a unit, an executable, a run


def _decision_universe(
    frames: ExportFrames, shown: list[ShownDecision], sources: SourceCache
) -> pd.DataFrame:
    d = frames.decisions
    texts, conds, ctexts, exprs, folded = [], [], [], [], []
    for rec, block in zip(records(d), shown, strict=True):
        text, cond_texts, expression = sources.decision(
            str(rec["decision_path"]),
            (int(rec["decision_line"]), int(rec["decision_column"])),
            (int(rec["end_line"]), int(rec["end_column"])),
            block.conditions,
        )
        texts.append(text)
        conds.append(" ".join(f"{a}:{b}" for a, b in block.conditions))
        ctexts.append("\t".join(cond_texts))
        exprs.append(expression)
        folded.append(",".join(str(i + 1) for i, p in enumerate(block.pairs) if p == "constant folded"))
    return d.assign(text=texts, conditions=conds, condition_texts=ctexts, expression=exprs, folded=folded)


class SourceCache:
    """Source files read once: decision texts and the lines holding function names."""

    def __init__(self, path_equivalence: tuple[str, str] | None = None) -> None:
        self._lines: dict[str, list[bytes]] = {}
        self._moved = path_equivalence

    def lines(self, path: str) -> list[bytes]:
        if path not in self._lines:
            read = path
            if self._moved is not None and path.startswith(self._moved[0].rstrip("/") + "/"):
                read = self._moved[1].rstrip("/") + path[len(self._moved[0].rstrip("/")) :]
            try:
                self._lines[path] = Path(read).read_bytes().split(b"\n")
            except OSError:
                self._lines[path] = []
        return self._lines[path]

    def region(self, path: str, start: tuple[int, int], end: tuple[int, int]) -> str:
        """Source text of a region (1-based lines, byte columns, end exclusive)."""
        lines = self.lines(path)
        (l1, c1), (l2, c2) = start, end
        if not (1 <= l1 <= l2 <= len(lines)):
            return ""
        chunk = lines[l1 - 1 : l2]
        if len(chunk) == 1:
            piece = [chunk[0][c1 - 1 : c2 - 1]]
        else:
            piece = [chunk[0][c1 - 1 :], *chunk[1:-1], chunk[-1][: c2 - 1]]
        return b"\n".join(piece).decode("utf-8", errors="replace")

    def decision(
        self,
        path: str,
        start: tuple[int, int],
        end: tuple[int, int],
        conditions: Sequence[tuple[int, int]],
    ) -> tuple[str, list[str], str]:
        """(text, condition texts in condition order, structure in condition numbers)."""
        raw = self.region(path, start, end)
        text = " ".join(raw.split())
        n = len(conditions)
        expr = mcdc.parse_decision(raw, start[0], start[1]) if raw else None
        leaves = expr.leaves() if expr is not None else []
        if expr is None or len(leaves) != n:
            return text, [""] * n, ""
        order = [0] * n  # leaf index -> condition number
        free_leaves = []
        by_start = {leaf.start: leaf for leaf in leaves}
        used: set[int] = set()
        for number, pos in enumerate(conditions, start=1):
            leaf = by_start.get(pos)
            if leaf is not None and leaf.index not in used:
                order[leaf.index] = number
                used.add(leaf.index)
        free_leaves = [leaf for leaf in leaves if leaf.index not in used]
        free_numbers = [k for k in range(1, n + 1) if k not in set(order)]
        # conditions placed elsewhere (a macro's body): matched left to right
        for leaf, number in zip(free_leaves, free_numbers, strict=True):
            order[leaf.index] = number
        texts = [""] * n
        for leaf in leaves:
            texts[order[leaf.index] - 1] = leaf.text
        return text, texts, mcdc.expression_text(expr, order)

    def name_line(self, path: str, name: str, brace_line: int) -> int:
        """The line holding ``name(`` at or above the function's ``{`` (gcc's function line)."""
        lines = self.lines(path)
        pattern = re.compile(rb"\b" + re.escape(name.encode()) + rb"\s*\(")
        for ln in range(min(brace_line, len(lines)), max(brace_line - 40, 0), -1):
            if pattern.search(lines[ln - 1]):
                return ln
        return brace_line


def _unit_vectors(shown: list[ShownDecision]) -> list[str]:
    return [";".join(f"{tv}={'T' if r else 'F'}" for tv, r in s.vectors) for s in shown]


def read_unit(
    tools: LlvmTools,
    unit: str,
    profraw: Path,
    executable: Path,
    folder: Path,
    shown: Callable[[str], str],
    keep: Callable[[str], bool],
    files: Sequence[str],
) -> UnitCoverage:
    """Merge, export and list one coverage unit (``files``: the product files of the executable)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", unit) + ".profdata"
    profdata = merge_profile(tools, [profraw], folder / name)
    try:
        return read_profile(tools, unit, profdata, executable, shown, keep, files=files)
    finally:
        profdata.unlink(missing_ok=True)


def read_native_unit(
    native: Any,
    unit: str,
    profraw: Path,
    shown: Callable[[str], str],
    keep: Callable[[str], bool],
    files: Sequence[str],
) -> UnitCoverage:
    """:func:`read_unit` without llvm processes (``native``: the executable's
    :class:`covguard.ingest.llvm_native.NativeExecutable`): the same frames and vectors, except
    that the functions and files the test did not touch are left out (all their counts are 0,
    and the universe comes from the executables' empty-profile exports)."""
    from covguard.ingest.profraw import read_profraw

    frames = parse_export(native.export(read_profraw(profraw), files, touched_only=True), shown, keep)
    d = frames.decisions
    kept = [keep(str(f)) for f in d["file"]] if len(d) else []
    # the decisions of the kept files, in function order (llvm-cov show's listing order only
    # matters to match its blocks)
    chosen = d[np.asarray(kept, dtype=bool)].reset_index(drop=True) if len(d) else d
    frames.decisions = chosen.drop(columns="vectors", errors="ignore")
    if len(chosen) and bool(chosen["evaluated"].any()):
        vectors = [str(v) for v in chosen["vectors"]]
    else:
        vectors = [""] * len(chosen)
    return UnitCoverage(unit=unit, frames=frames, vectors=vectors, shown=[])


def read_profile(
    tools: LlvmTools,
    unit: str,
    profdata: Path,
    executable: Path,
    shown: Callable[[str], str],
    keep: Callable[[str], bool],
    *,
    files: Sequence[str] = (),
    model: bool = False,
) -> UnitCoverage:
    """Export (and, when a product decision was evaluated or for the ``model``, list the MC/DC
    of) one indexed profile."""
    frames = parse_export(export(tools, executable, profdata, files=files), shown, keep)
    d = frames.decisions
    kept = [keep(str(f)) for f in d["file"]] if len(d) else []
    show_paths = sorted(set(d.loc[kept, "decision_path"].astype(str))) if any(kept) else []
    listed = listing_order(d[d["decision_path"].isin(show_paths)]) if show_paths else d.iloc[0:0]
    keep_rows = np.asarray([keep(str(f)) for f in listed["file"]], dtype=bool)
    frames.decisions = listed[keep_rows].reset_index(drop=True)
    blocks: list[ShownDecision] = []
    if show_paths and (model or bool(listed.loc[keep_rows, "evaluated"].any())):
        text = show_mcdc(tools, executable, profdata, show_paths)
        matched = match_shown(listed, parse_show(text, show_paths), executable)
        blocks = [b for b, k in zip(matched, keep_rows, strict=True) if k]
        vectors = _unit_vectors(blocks)
    else:
        vectors = [""] * len(frames.decisions)
    return UnitCoverage(unit=unit, frames=frames, vectors=vectors, shown=blocks)


def _check_flags(rows: pd.DataFrame, exe_of: dict[str, str]) -> None:
    """covguard's independence pairs must be llvm-cov's (the JSON's per-condition flags) for
    every decision every unit evaluated."""
    mine = mcdc.covered_conditions(rows, ["row"]).sort_values("row")["covered"].tolist()
    theirs = [tuple(k + 1 for k, f in enumerate(flags) if f) for flags in rows["flags"]]
    bad = [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
    if bad:
        rec = rows.iloc[bad[0]]
        raise CoverageDataError(
            f"MC/DC of the decision at {rec['decision_file']}:{rec['decision_line']} in test {rec['test']}: "
            f"covguard finds conditions {list(mine[bad[0]])} shown independent, "
            f"llvm-cov {list(theirs[bad[0]])}",
            path=exe_of.get(str(rec["test"])),
            hint="report this with the llvm-cov version",
        )


@dataclass
class LlvmRun:
    """What to read: unit -> (raw profile, its test executable)."""

    units: dict[str, tuple[Path, Path]]
    executables: list[Path]


def collect_llvm(
    run: LlvmRun,
    *,
    root: Path,
    keep: Callable[[str], bool],
    tools: LlvmTools,
    origin: str = "host",
    variant: str = "default",
    jobs: int = 0,
    work: Path | None = None,
    unmeasured: Sequence[dict[str, Any]] = (),
    native: bool | None = None,
) -> tuple[CoverageData, dict[str, int]]:
    """Every unit's coverage, and the universe of every executable, as frames (``unmeasured``:
    decisions clang compiled without MC/DC, from the build manifest).  ``native`` (default: on
    unless ``COVGUARD_LLVM_COV=1``): each unit's profile decoded without llvm processes
    (:mod:`covguard.ingest.llvm_native`); llvm-cov still reads each executable once, and any
    executable or profile the decoder does not understand is read with llvm-cov, with a note."""
    if native is None:
        native = os.environ.get("COVGUARD_LLVM_COV", "") not in ("1", "yes", "true")
    if tools.path_equivalence is not None:
        native = False  # llvm-cov maps the moved sources
    cache: dict[str, str] = {}
    fallback_notes: list[str] = []

    def shown(path: str) -> str:
        got = cache.get(path)
        if got is None:
            got = cache[path] = display_path(path, root)
        return got

    jobs = jobs or os.cpu_count() or 1
    n_files = {u: int(p.is_file()) for u, (p, _) in run.units.items()}
    present = sorted(u for u, n in n_files.items() if n)
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="llvm-", dir=work))
    try:
        empty = empty_profile(tools, folder)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            models = list(
                pool.map(
                    lambda exe: read_profile(tools, "", empty, exe, shown, keep, model=True), run.executables
                )
            )
            files = {str(e): m.frames.kept_paths for e, m in zip(run.executables, models, strict=True)}

            def one(u: str) -> UnitCoverage:
                raw, exe = run.units[u]
                return read_unit(tools, u, raw, exe, folder, shown, keep, files.get(str(exe), []))

            units: list[UnitCoverage] = []
            read: set[str] = set()
            if native:
                from covguard.ingest.llvm_native import native_units

                units, read, fallback_notes = native_units(run, present, shown, keep, files)
            units += pool.map(one, [u for u in present if u not in read])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sources = SourceCache(tools.path_equivalence)
    kept = [u for u in unmeasured if keep(shown(str(u["file"])))]
    data = assemble(
        models, units, sources, origin=origin, variant=variant, executables=run, unmeasured=kept, shown=shown
    )
    data.notes.append(LINE_MODEL_NOTE)
    if native:
        data.notes.extend(fallback_notes)
    return data, n_files


# ---------------------------------------------------------------------------------------------
# frames


def assemble(
    models: list[UnitCoverage],
    units: list[UnitCoverage],
    sources: SourceCache,
    *,
    origin: str,
    variant: str,
    executables: LlvmRun | None = None,
    unmeasured: Sequence[dict[str, Any]] = (),
    shown: Callable[[str], str] = str,
) -> CoverageData:
    """CoverageData from the empty-profile exports (universe) and the units' exports."""
    exe_of = {u: str(e) for u, (_, e) in executables.units.items()} if executables else {}

    def stack(name: str, parts: list[UnitCoverage]) -> pd.DataFrame:
        frames = [_with_test(getattr(p.frames, name), p.unit) for p in parts if len(getattr(p.frames, name))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # ---- universe
    all_lines = stack("lines", [*models, *units])
    all_functions = stack("functions", [*models, *units])
    all_branches = stack("branches", [*models, *units])
    code_functions = _code_functions(all_functions, sources)
    code_lines = _code_lines(all_lines, all_branches, code_functions)
    code_branches = (
        all_branches.groupby(["file", "line", "branch"], as_index=False, sort=True).agg(
            count=("count", "sum")
        )
        if len(all_branches)
        else pd.DataFrame(columns=list(CODE_BRANCHES))
    )
    # ---- per unit (sparse)
    lines_u = stack("lines", units)
    branches_u = stack("branches", units)
    functions_u = stack("functions", units)
    lines, branches, functions = _per_unit(lines_u, branches_u, functions_u, code_lines, code_functions)
    decisions, code_decisions = _decisions(models, units, sources, exe_of)
    code_decisions = _with_unmeasured(code_decisions, unmeasured, code_functions, sources, shown)
    tag = {"origin": origin, "variant": variant}
    return CoverageData(
        lines=conform(lines.assign(**tag), LINES),
        functions=conform(functions.assign(**tag), FUNCTIONS),
        branches=conform(branches.assign(**tag), BRANCHES),
        code_lines=conform(code_lines, CODE_LINES),
        code_functions=conform(code_functions, CODE_FUNCTIONS),
        code_branches=conform(code_branches, CODE_BRANCHES),
        decisions=conform(decisions.assign(**tag), DECISIONS),
        code_decisions=conform(code_decisions, CODE_DECISIONS),
    )


def _with_test(frame: pd.DataFrame, unit: str, vectors: list[str] | None = None) -> pd.DataFrame:
    """A unit's frame with its ``test`` (and ``vectors``) column; the native reader's batches
    (:func:`parse_exports`) carry both already."""
    if "test" in frame.columns:
        return frame
    return frame.assign(test=unit) if vectors is None else frame.assign(test=unit, vectors=vectors)


def _code_functions(all_functions: pd.DataFrame, sources: SourceCache) -> pd.DataFrame:
    """Every function once (the empty-profile rows add 0); its start moved back from the ``{``
    to the line of its name."""
    if not len(all_functions):
        return pd.DataFrame(columns=list(CODE_FUNCTIONS))
    f = all_functions.groupby(["file", "function"], as_index=False, sort=False).agg(
        path=("path", "first"),
        line_start=("line_start", "min"),
        line_end=("line_end", "max"),
        count=("count", "sum"),
    )
    f["line_start"] = [
        sources.name_line(str(p), str(n), int(s))
        for p, n, s in zip(f["path"], f["function"], f["line_start"], strict=True)
    ]
    return f.sort_values(["file", "line_start", "function"], kind="stable", ignore_index=True)


def _code_lines(
    all_lines: pd.DataFrame, all_branches: pd.DataFrame, code_functions: pd.DataFrame
) -> pd.DataFrame:
    if not len(all_lines):
        return pd.DataFrame(columns=list(CODE_LINES))
    cl = all_lines.groupby(["file", "line"], as_index=False, sort=True).agg(count=("count", "sum"))
    if len(all_branches):
        per_line = all_branches.drop_duplicates(["file", "line", "branch"]).groupby(["file", "line"]).size()
        cl = cl.merge(
            per_line.rename("branches_total"), left_on=["file", "line"], right_index=True, how="left"
        )
    else:
        cl["branches_total"] = 0
    cl["branches_total"] = cl["branches_total"].fillna(0).astype("int64")
    cl["function"] = function_of(cl, code_functions)
    return cl


def function_of(lines: pd.DataFrame, functions: pd.DataFrame) -> np.ndarray:
    """The function whose extent holds each (file, line) ("" outside every function)."""
    out = np.full(len(lines), "", dtype=object)
    if not len(lines) or not len(functions):
        return out
    left = lines.loc[:, ["file", "line"]].astype({"file": str}).assign(_row=np.arange(len(lines)))
    left["line"] = left["line"].astype("int64")
    right = functions.loc[:, ["file", "function", "line_start", "line_end"]].astype({"file": str})
    right = right.astype({"line_start": "int64", "line_end": "int64"})
    m = pd.merge_asof(
        left.sort_values("line"),
        right.sort_values("line_start"),
        left_on="line",
        right_on="line_start",
        by="file",
        direction="backward",
    )
    inside = m["line_end"].notna() & (m["line"] <= m["line_end"].fillna(-1))
    out[m.loc[inside, "_row"].to_numpy()] = m.loc[inside, "function"].to_numpy()
    return out


def _per_unit(
    lines_u: pd.DataFrame,
    branches_u: pd.DataFrame,
    functions_u: pd.DataFrame,
    code_lines: pd.DataFrame,
    code_functions: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if len(lines_u):
        lines = (
            lines_u[lines_u["count"] > 0]
            .groupby(["test", "file", "line"], as_index=False)
            .agg(count=("count", "sum"))
        )
    else:
        lines = pd.DataFrame(columns=["test", "file", "line", "count"])
    if len(branches_u):
        branches = (
            branches_u[branches_u["count"] > 0]
            .groupby(["test", "file", "line", "branch"], as_index=False)
            .agg(count=("count", "sum"))
        )
    else:
        branches = pd.DataFrame(columns=["test", "file", "line", "branch", "count"])
    covered = branches.groupby(["test", "file", "line"]).size().rename("branches_covered")
    lines = lines.merge(covered, left_on=["test", "file", "line"], right_index=True, how="left")
    lines = lines.merge(
        code_lines.loc[:, ["file", "line", "function", "branches_total"]], on=["file", "line"], how="left"
    )
    lines["branches_covered"] = lines["branches_covered"].fillna(0).astype("int64")
    lines["branches_total"] = lines["branches_total"].fillna(0).astype("int64")
    lines["function"] = lines["function"].fillna("")
    if len(functions_u):
        functions = (
            functions_u[functions_u["count"] > 0]
            .groupby(["test", "file", "function"], as_index=False)
            .agg(count=("count", "sum"))
            .merge(
                code_functions.loc[:, ["file", "function", "line_start", "line_end"]], on=["file", "function"]
            )
        )
    else:
        functions = pd.DataFrame(columns=list(FUNCTIONS))
    return lines, branches, functions


def decision_key(d: pd.DataFrame) -> pd.Series:
    """A decision's id: where it is in its function's file, and for one in a macro, where the
    macro's decision is (``src/a.c:16:9 (src/m.h:1:21)``)."""
    base = d["file"].astype(str) + ":" + d["line"].astype(str) + ":" + d["column"].astype(str)
    in_macro = (
        (d["decision_file"].astype(str) != d["file"].astype(str))
        | (d["decision_line"].astype("int64") != d["line"].astype("int64"))
        | (d["decision_column"].astype("int64") != d["column"].astype("int64"))
    )
    macro = (
        " (" + d["decision_file"].astype(str) + ":" + d["decision_line"].astype(str) + ":"
        + d["decision_column"].astype(str) + ")"
    )  # fmt: skip
    return base + macro.where(in_macro, "")


def _decisions(
    models: list[UnitCoverage], units: list[UnitCoverage], sources: SourceCache, exe_of: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    # universe: every decision of every executable, with its text and structure
    parts = [_decision_universe(m.frames, m.shown, sources) for m in models if len(m.frames.decisions)]
    if not parts:
        return pd.DataFrame(columns=list(DECISIONS)), pd.DataFrame(columns=list(CODE_DECISIONS))
    universe = pd.concat(parts, ignore_index=True)
    universe["decision"] = decision_key(universe).to_numpy()
    universe = universe.drop_duplicates("decision", ignore_index=True)
    universe["conditions_total"] = universe["n"].astype("int64") - universe["folded"].map(
        lambda s: len(mcdc.numbers(s))
    )
    # per unit: the executed vectors of every decision it evaluated
    evaluated = [
        _with_test(u.frames.decisions, u.unit, u.vectors)
        for u in units
        if len(u.frames.decisions) and any(u.vectors)
    ]
    if evaluated:
        rows = pd.concat(evaluated, ignore_index=True)
        rows = rows[rows["vectors"] != ""].reset_index(drop=True)
        rows["decision"] = decision_key(rows).to_numpy()
        rows["row"] = np.arange(len(rows))
        _check_flags(rows, exe_of)
        # two copies of a function (a header's static function in two objects) unite their vectors
        per = rows.groupby(["test", "decision"], as_index=False, sort=True).agg(
            vectors=("vectors", mcdc.join_vectors)
        )
        per = per.merge(mcdc.covered_conditions(per, ["test", "decision"]), on=["test", "decision"])
    else:
        per = pd.DataFrame({"test": [], "decision": [], "vectors": [], "covered": []})
    info = universe.loc[:, ["decision", "file", "line", "function", "conditions_total", "folded"]]
    per = per.merge(info, on="decision")
    per["conditions_covered"] = per["covered"].map(len)
    per["uncovered"] = _uncovered(per)
    # whole run
    run = per.groupby("decision", as_index=False).agg(vectors=("vectors", mcdc.join_vectors))
    if len(run):
        run = run.merge(mcdc.covered_conditions(run, ["decision"]), on="decision")
    else:
        run["covered"] = []
    universe = universe.merge(run, on="decision", how="left")
    universe["vectors"] = universe["vectors"].fillna("")
    universe["covered"] = universe["covered"].apply(lambda v: v if isinstance(v, tuple) else ())
    universe["conditions_covered"] = universe["covered"].map(len)
    universe["uncovered"] = _uncovered(universe)
    universe = universe.sort_values(["file", "line", "column", "decision"], kind="stable", ignore_index=True)
    return per, universe


def _with_unmeasured(
    code_decisions: pd.DataFrame,
    unmeasured: Sequence[dict[str, Any]],
    code_functions: pd.DataFrame,
    sources: SourceCache,
    shown: Callable[[str], str],
) -> pd.DataFrame:
    """The universe plus the decisions clang did not instrument, each one condition, uncovered."""
    code_decisions = code_decisions.assign(note="")
    if not unmeasured:
        return code_decisions
    rows = pd.DataFrame(
        {
            "file": [shown(str(u["file"])) for u in unmeasured],
            "line": [int(u["line"]) for u in unmeasured],
            "column": [int(u["column"]) for u in unmeasured],
        }
    )
    texts = []
    for u in unmeasured:
        lines = sources.lines(str(u["file"]))
        i = int(u["line"]) - 1
        texts.append(lines[i].decode("utf-8", errors="replace").strip() if 0 <= i < len(lines) else "")
    rows = rows.assign(
        function=function_of(rows, code_functions),
        decision=rows["file"] + ":" + rows["line"].astype(str) + ":" + rows["column"].astype(str),
        decision_file=rows["file"],
        decision_line=rows["line"],
        decision_column=rows["column"],
        end_line=rows["line"],
        end_column=rows["column"],
        text=texts,
        conditions="",
        condition_texts="",
        expression="",
        folded="",
        conditions_total=1,
        conditions_covered=0,
        uncovered="1",
        vectors="",
        note=[
            f"clang-19 did not instrument this decision for MC/DC ({u.get('why', 'unsupported')})"
            for u in unmeasured
        ],
    )
    rows = rows[~rows["decision"].isin(code_decisions["decision"].astype(str))]
    out = pd.concat([code_decisions, rows], ignore_index=True) if len(code_decisions) else rows
    return out.sort_values(["file", "line", "decision"], kind="stable", ignore_index=True)


def _uncovered(d: pd.DataFrame) -> list[str]:
    return mcdc.uncovered_text(d["conditions_total"], d["folded"], d["covered"])


# ---------------------------------------------------------------------------------------------
# the pipeline's entry points (build manifest, collection of a test run)


def unit_executables(units: dict[str, str], cases: Iterable[Any], root: Path) -> LlvmRun:
    """Each llvm unit's raw profile and test executable (from the test cases of the run)."""
    exe_of: dict[str, Path] = {}
    for c in cases:
        if c.coverage_unit and c.coverage_unit not in exe_of:
            exe_of[c.coverage_unit] = root / c.executable
    chosen = {
        u: (Path(p), exe_of[u]) for u, p in units.items() if str(p).endswith(".profraw") and u in exe_of
    }
    executables = sorted({e for _, e in chosen.values()}, key=str)
    return LlvmRun(units=chosen, executables=[e for e in executables if e.is_file()])


def mapped_sources(tools: LlvmTools, executables: Sequence[Path], folder: Path) -> list[str]:
    """Every source file in the coverage mapping of the executables (sources and headers)."""
    found: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="llvm-", dir=folder) as tmp:
        empty = empty_profile(tools, Path(tmp))
        for exe in executables:
            data = export(tools, exe, empty, summary_only=True)
            found.update(str(f["filename"]) for f in data.get("files") or [])
    return sorted(found)


def collect_test_run(
    units: dict[str, str],
    cases: Iterable[Any],
    *,
    root: Path,
    keep: Callable[[str], bool],
    tools: LlvmTools,
    origin: str = "host",
    variant: str = "default",
    jobs: int = 0,
    work: Path | None = None,
    unmeasured: str = "",
) -> tuple[CoverageData, dict[str, int]]:
    """The coverage of a test run of the clang profile (what :func:`covguard.api.coverage` calls);
    ``unmeasured``: the build manifest's list of decisions clang did not instrument (JSON)."""
    run = unit_executables(units, cases, root)
    missing = [e for e in {e for _, e in run.units.values()} if not e.is_file()]
    if missing:
        raise CoverageDataError(
            "the test executable is gone: llvm-cov reads the coverage mapping from it",
            path=missing[0],
            hint=_REBUILD,
        )
    try:
        skipped = json.loads(unmeasured or "[]")
    except ValueError:
        skipped = []
    return collect_llvm(
        run,
        root=root,
        keep=keep,
        tools=tools,
        origin=origin,
        variant=variant,
        jobs=jobs,
        work=work,
        unmeasured=skipped,
    )


__all__ = [
    "LINE_MODEL_NOTE",
    "LlvmRun",
    "LlvmTools",
    "collect_llvm",
    "collect_test_run",
    "export",
    "mapped_sources",
    "merge_profile",
    "parse_show",
    "unit_executables",
]
