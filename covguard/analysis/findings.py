"""Findings: one row per problem worth a person's attention, with where it is and why.

Columns (see :data:`FINDING_COLUMNS`): ``kind``, ``severity``, ``file``, ``line``, ``end_line``,
``function``, ``requirement``, ``test``, ``message``, and the evidence lists ``tests``,
``suggested_requirements`` (for rogue code: the requirements whose tests executed it) and
``call_path`` (for reachable rogue code: the shortest path from an entry point).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from covguard.analysis.keys import isin_rows, joint_keys, lists_per_function, text_codes
from covguard.analysis.kinds import KINDS
from covguard.frames import grouped_lists, records

SEVERITY = {kind.name: kind.severity for kind in KINDS.values()}  # the registry: analysis/kinds.py
FINDING_COLUMNS = [
    "kind",
    "severity",
    "file",
    "line",
    "end_line",
    "function",
    "requirement",
    "test",
    "message",
    "tests",
    "suggested_requirements",
    "call_path",
    "decision",
]


@functools.cache
def _empty() -> pd.DataFrame:
    """Made once (a frame of 15 empty columns costs about 2 ms); callers get copies."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS})


def empty_findings() -> pd.DataFrame:
    return _empty().copy()


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return empty_findings()
    df = pd.DataFrame(rows)
    for c in FINDING_COLUMNS:
        if c not in df.columns:
            df[c] = None
    return df.loc[:, FINDING_COLUMNS]


def _frame_of_columns(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """What :func:`_frame` makes of the rows these columns hold (every row with every one of
    them): the frame from the columns at once, without a dict per row."""
    if not any(len(v) for v in columns.values()):
        return empty_findings()
    n = max(len(v) for v in columns.values())
    return pd.DataFrame({c: columns[c] if c in columns else [None] * n for c in FINDING_COLUMNS})


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Findings from rows (missing columns are None)."""
    return _frame(rows)


_SEQUENCES = (list, tuple)  # built once (``list | tuple`` in a loop builds a union per row)


def finish_findings(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["severity"] = df["kind"].map(SEVERITY).fillna(df["severity"])
    for c in ("file", "function", "requirement", "test", "message"):
        text = df[c].astype(object)
        df[c] = text.where(df[c].notna() & (text != ""), None)
    for c in ("tests", "suggested_requirements", "call_path"):  # most findings have none: None first
        df[c] = [[] if v is None else list(v) if isinstance(v, _SEQUENCES) else [] for v in df[c].tolist()]
    decisions = [v if isinstance(v, dict) else None for v in df["decision"].tolist()]
    df["decision"] = pd.Series(decisions, index=df.index, dtype=object)  # mcdc_gap
    df["line"] = pd.to_numeric(df["line"], errors="coerce").fillna(0).astype("int64")
    df["end_line"] = pd.to_numeric(df["end_line"], errors="coerce")
    df["end_line"] = df["end_line"].fillna(df["line"]).astype("int64")
    # each kind's place in SEVERITY, looked up once per kind (NaN: a kind it does not list)
    codes, kinds = pd.factorize(df["kind"])
    place = {k: i for i, k in enumerate(SEVERITY)}
    df["_o"] = np.array([place.get(k, np.nan) for k in kinds.tolist()] + [np.nan], dtype="float64")[codes]
    order = severest_first(df, ["_o", "file", "line", "function", "requirement", "test"])
    return df.drop(columns="_o").take(order).reset_index(drop=True)


def severest_first(df: pd.DataFrame, by: list[str]) -> np.ndarray:
    """The positions of the rows of ``df`` in the order of ``df.sort_values(by, kind="stable",
    na_position="first")``.

    pandas sorts every key column's distinct values, function names and requirement ids included,
    though they decide nothing where the first keys differ (tens of thousands of findings, a
    handful of ties): the later keys are ranked only among the rows the earlier ones leave tied.
    Ranks of :func:`pandas.factorize` (sorted, a missing value -1, first), then one stable
    ``lexsort``: what pandas computes, on fewer values."""
    ranks: list[np.ndarray] = []
    tied = np.ones(len(df), dtype=bool)  # rows whose keys so far equal a neighbour's
    for c in by:
        column = df[c] if tied.all() else df[c][tied]
        try:
            codes = pd.factorize(column, sort=True)[0]
        except TypeError:  # values without an order: pandas' own sort says what it says of them
            return np.asarray(
                df.reset_index(drop=True).sort_values(by, kind="stable", na_position="first").index
            )
        rank = np.zeros(len(df), dtype=np.int64)
        rank[tied] = codes
        ranks.append(rank)
        order = np.lexsort(ranks[::-1])
        keys = np.stack(ranks, axis=1)[order]
        same = np.all(keys[1:] == keys[:-1], axis=1)  # each sorted row equals the previous one
        now = np.zeros(len(df), dtype=bool)
        now[order[1:][same]] = True
        now[order[:-1][same]] = True
        tied = now
        if not tied.any():
            return order
    return np.lexsort(ranks[::-1])


def _names(tests: list[str], limit: int = 3) -> str:
    shown = ", ".join(tests[:limit])
    return shown + (f" and {len(tests) - limit} more" if len(tests) > limit else "")


def function_findings(
    fn: pd.DataFrame,
    fexec: pd.DataFrame,
    tests: pd.DataFrame,
    test_requirements: pd.DataFrame,
    known: set[str],
) -> pd.DataFrame:
    exec_tests = fexec.merge(tests.loc[:, ["coverage_unit", "test"]], on="coverage_unit")
    treqs = grouped_lists(
        test_requirements[test_requirements["requirement"].isin(known)],
        ["test"],
        "requirement",
        sort_keys=False,
    )
    names = ["kind", "file", "line", "end_line", "function", "requirement", "message", "tests",
             "suggested_requirements", "call_path"]  # fmt: skip
    rows: list[tuple[Any, ...]] = []  # one tuple per finding, in the order of names
    read = ["file", "function", "class", "requirements", "line_start", "line_end", "failing_exec"]
    kept = fn["class"].isin(["rogue", "traced_untested", "incidental", "dead"]).to_numpy(dtype=bool)
    sub = fn.loc[kept, [c for c in fn.columns if c in [*read, "reachable", "call_path", "image"]]]
    # the tests that ran each function, sorted
    ran_by = lists_per_function(sub, exec_tests, "test")
    # the product build's facts, when the frame has them (a frame of the tests may not)
    facts = [
        sub[c].tolist() if c in sub.columns else [None] * len(sub)
        for c in ("reachable", "call_path", "image")
    ]
    for (
        file,
        function,
        klass,
        requirements,
        line_start,
        line_end,
        failing_exec,
        reachable,
        call_path,
        image,
        ran,
    ) in zip(*(sub[c].tolist() for c in read), *facts, ran_by, strict=True):
        # the requirements the tests that ran it verify (read by the rogue and incidental messages)
        suggested = sorted({r for t in ran for r in treqs.get(t, [])}) if treqs and ran else []
        reqs = ", ".join(requirements)
        if klass == "rogue":
            if ran:
                how = f"executed by {len(ran)} test(s) ({_names(ran)})"
                how += f" while testing {', '.join(suggested)}" if suggested else ""
            else:
                how = "executed by no test"
            msg = f"untraced code: '{function}' implements no known requirement; {how}"
            if reachable is True and call_path:
                msg += f"; the product firmware reaches it from {call_path[0]}"
        elif klass == "dead":
            msg = (
                f"dead code: no entry point reaches '{function}', yet it is traced to {reqs}: "
                "the requirement points at code that can never run"
                if reqs
                else f"dead code: no entry point reaches '{function}', and it is traced to no requirement"
            )
            msg += _DEAD_IMAGE.get(image or "", "")
        elif klass == "incidental":
            msg = (
                f"'{function}' implements {reqs} but is executed only by tests of other requirements "
                f"({_names(ran)}), which verify "
                + (", ".join(suggested) if suggested else "nothing (no requirement is attached to them)")
            )
        else:
            msg = (
                f"'{function}' implements {reqs} but only failing tests of it execute it"
                if failing_exec
                else f"'{function}' implements {reqs} but no test executes it"
            )
        rows.append((
            "traced_untested" if klass == "traced_untested" else klass,
            file,
            line_start,
            line_end,
            function,
            reqs or None,
            msg,
            ran,
            suggested if klass == "rogue" else [],
            (call_path or []) if klass == "rogue" else [],
        ))  # fmt: skip
    if not rows:
        return empty_findings()
    return _frame_of_columns({c: list(v) for c, v in zip(names, zip(*rows, strict=True), strict=True)})


# what the image says about a dead function (``image`` of covguard.analysis.reach)
_DEAD_IMAGE = {
    "linked": " (it is in the shipped image: dead code that ships)",
    "removed": " (not in image: the compiler or the linker's --gc-sections dropped it; "
    "the source still has it)",
    "not_built": " (the product build does not compile it)",
}


def requirement_findings(reqs: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    read = ["id", "title", "status", "source", "line", "implemented_by", "verified_by"]
    for rec in records(reqs.loc[reqs["status"].isin(["unimplemented", "unverified"]), read]):
        if rec["status"] == "unimplemented":
            rows.append(
                {
                    "kind": "unimplemented_requirement",
                    "file": rec["source"],
                    "line": rec["line"],
                    "requirement": rec["id"],
                    "message": f"{rec['id']} ({rec['title']}) is implemented by no code: "
                    f"no @req {rec['id']} tag",
                    "tests": rec["verified_by"],
                }
            )
        elif rec["status"] == "unverified":
            impl = ", ".join(f"{d['function']} ({d['file']})" for d in rec["implemented_by"])
            rows.append(
                {
                    "kind": "unverified_requirement",
                    "file": rec["source"],
                    "line": rec["line"],
                    "requirement": rec["id"],
                    "message": f"{rec['id']} ({rec['title']}) is verified by no test; "
                    f"it is implemented by {impl}",
                }
            )
    return _frame(rows)


def hollow_findings(pairs: pd.DataFrame, reqs: pd.DataFrame) -> pd.DataFrame:
    impl = reqs.set_index("id")["implemented_by"]
    rows = [
        {
            "kind": "hollow_verification",
            "file": rec["file"],
            "line": rec["line"],
            "requirement": rec["requirement"],
            "test": rec["test"],
            "tests": [rec["test"]],
            "message": f"test {rec['test']} claims to verify {rec['requirement']} and passes, "
            "but executes none of its "
            "code ("
            + ", ".join(f"{d['function']} in {d['file']}" for d in impl.get(rec["requirement"], []))
            + ")",
        }
        for rec in records(pairs)
    ]
    return _frame(rows)


def test_result_findings(
    tests: pd.DataFrame, test_requirements: pd.DataFrame, known: set[str]
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    # only the tests with something to report, in their order (thousands pass with full coverage)
    notable = tests["status"].isin(["failed", "error"]) | tests["coverage"].isin(["incomplete", "missing"])
    if not notable.any():
        return _frame(rows)
    treqs = grouped_lists(test_requirements, ["test"], "requirement", sort_keys=False)
    for rec in records(tests[notable.to_numpy(dtype=bool)]):
        if rec["status"] in ("failed", "error"):
            reqs = [r for r in treqs.get(rec["test"], []) if r in known]
            rows.append(
                {
                    "kind": "failed_test",
                    "file": rec["file"],
                    "line": rec["line"],
                    "test": rec["test"],
                    "requirement": ", ".join(reqs) or None,
                    "message": f"test {rec['test']} "
                    f"{'failed' if rec['status'] == 'failed' else _unfinished(rec['coverage'])}: "
                    f"{rec['message']}",
                }
            )
        if rec["coverage"] in ("incomplete", "missing"):
            rows.append(
                {
                    "kind": "incomplete_coverage",
                    "file": rec["file"],
                    "line": rec["line"],
                    "test": rec["test"],
                    "message": f"the coverage of {rec['test']} is {rec['coverage']}: {rec['message']}",
                }
            )
    return _frame(rows)


def _unfinished(coverage: str) -> str:
    # "missing": the test ended on a target but its coverage never came back
    return "gave no evidence" if coverage == "missing" else "did not finish"


def unknown_requirement_findings(
    fr_all: pd.DataFrame,
    known: set[str],
    req_tags: pd.DataFrame,
    t_attached: pd.DataFrame,
    test_requirements: pd.DataFrame,
    tests: pd.DataFrame,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    bad = req_tags[~req_tags["value"].isin(known)]
    for rec in records(bad):
        rows.append(
            {
                "kind": "unknown_requirement",
                "file": rec["file"],
                "line": rec["line"],
                "function": rec["function"] if isinstance(rec["function"], str) else None,
                "requirement": rec["value"],
                "message": f"@req names {rec['value']}, which is not in the requirement list",
            }
        )
    vt = t_attached[(t_attached["kind"] == "verifies") & ~t_attached["value"].isin(known)]
    for rec in records(vt):
        rows.append(
            {
                "kind": "unknown_requirement",
                "file": rec["file"],
                "line": rec["line"],
                "test": rec["function"] if isinstance(rec["function"], str) else None,
                "requirement": rec["value"],
                "message": f"@verifies names {rec['value']}, which is not in the requirement list",
            }
        )
    declared = test_requirements[
        (test_requirements["source"] == "harness") & ~test_requirements["requirement"].isin(known)
    ]
    loc = tests.set_index("test")
    for rec in records(declared):
        rows.append(
            {
                "kind": "unknown_requirement",
                "file": str(loc.loc[rec["test"], "file"]),
                "line": int(loc.loc[rec["test"], "line"]),
                "test": rec["test"],
                "requirement": rec["requirement"],
                "message": f"test {rec['test']} declares it verifies {rec['requirement']}, "
                "which is not in the requirement list",
            }
        )
    return _frame(rows)


def coarse_attribution_findings(tests: pd.DataFrame, test_requirements: pd.DataFrame) -> pd.DataFrame:
    """Executables whose tests are credited with everything the executable ran (output that looks
    like Unity without covguard's hooks, a framework without them): never silently coarse."""
    coarse = tests[tests["attribution"] == "executable"]
    if not len(coarse):
        return empty_findings()
    reqs = grouped_lists(
        coarse.loc[:, ["executable", "test"]].merge(test_requirements, on="test"),
        ["executable"],
        "requirement",
    )
    names = grouped_lists(coarse, ["executable"], "test")
    rows: list[dict[str, Any]] = []
    for exe in sorted(names):
        ids = reqs.get(exe, [])
        rows.append(
            {
                "kind": "coarse_attribution",
                "file": exe,
                "line": 0,
                "requirement": ", ".join(ids) or None,
                "tests": names[exe],
                "message": f"the coverage of {exe} is known only per executable: each of its "
                f"{len(names[exe])} test(s) is credited with everything the executable ran, so "
                + (
                    f"the verdicts of {', '.join(ids)} (requirement-based coverage, hollow tests) rest on "
                    "that coarse attribution"
                    if ids
                    else "no requirement's verdict rests on it, but its tests' coverage is not their own"
                )
                + "; build it through covguard (Unity hooks) or use covguard's harness for per-test data",
            }
        )
    return _frame(rows)


def unattached_verifies_findings(t_attached: pd.DataFrame) -> pd.DataFrame:
    """``@verifies`` tags in the test sources above no test that ran: never dropped in silence."""
    loose = t_attached[(t_attached["kind"] == "verifies") & t_attached["function"].isna()]
    rows = [
        {
            "kind": "unattached_verifies",
            "file": rec["file"],
            "line": rec["line"],
            "requirement": rec["value"],
            "message": f"@verifies {rec['value']} is attached to no test that ran: it must sit directly "
            "above a test's definition (a CG_TEST, or the test function a framework such as Unity "
            "reports by name); the requirement is not counted as verified by it",
        }
        for rec in records(loose)
    ]
    return _frame(rows)


def definition_tag_findings(stray: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``@verifies`` tags in CTest files and custom runners' definition files above no test."""
    rows = [
        {
            "kind": "unattached_verifies",
            "file": str(t.get("file", "")),
            "line": int(t.get("line", 0) or 0),
            "requirement": str(t.get("requirement", "")) or None,
            "message": f"@verifies {t.get('requirement') or '(no valid requirement id)'} is attached to no "
            "test: in a test definition file it must sit on a test's definition line or in the comment "
            "lines right above it (a CTest add_test, a custom runner's case); the requirement is not "
            "counted as verified by it",
        }
        for t in stray
    ]
    return _frame(rows)


def selected_run_findings(selection: Mapping[str, Any] | None) -> pd.DataFrame:
    """A run of selected tests only (covguard test --select) is never mistaken for a full one."""
    if not selection:
        return empty_findings()
    given = selection.get("missing")
    missing = [str(m)[:200] for m in given[:1000]] if isinstance(given, list) else []
    message = (
        f"only the tests selected by {selection.get('file')} ran ({selection.get('tests')} test id(s)): "
        "every verdict here describes a partial run; tests not selected are not in the results, and "
        "code only they run shows as untested. Run every test (no --select) for the release evidence"
    )
    if missing:
        message += f"; {len(missing)} selected id(s) matched no test: " + ", ".join(missing[:5])
    return _frame([{"kind": "selected_run", "file": str(selection.get("file", "")), "line": 0,
                    "message": message}])  # fmt: skip


def line_findings(
    lines: pd.DataFrame, fn: pd.DataFrame, keys: tuple[np.ndarray, np.ndarray] | None = None
) -> pd.DataFrame:
    """Runs of lines of traced, exercised functions that no test of their requirement executes.

    The findings are built column by column (tens of thousands of runs on a large project): the
    columns the runs need are taken before the rows are filtered, each line's function is found
    by integer keys (``keys``: of each line's function and of each row of ``fn``, as
    :func:`covguard.analysis.lines.line_function_keys` gives them; else made from the text), and
    each run's first and last line are read at its bounds (its lines are consecutive and
    sorted), not grouped."""
    verified = (fn["class"] == "verified").to_numpy(dtype=bool) & (
        fn["lines_verified"] < fn["lines_total"]
    ).to_numpy()
    if not verified.any():
        return empty_findings()
    open_lines = lines["class"].isin(["unexecuted", "incidental"]).to_numpy(dtype=bool)
    cand = _open_lines_by_key(lines, open_lines, fn, verified, keys)
    if cand is None:
        partial = fn.loc[verified, ["file", "function", "requirements"]]
        cand = _with_function_requirements(lines.loc[open_lines, ["file", "line", "function"]], partial)
    cand = cand.sort_values(["file", "line"])
    # runs of consecutive lines per function, vectorised: a run breaks where the line does not
    # follow the previous one, or the function or the file (their integer codes) changes
    numbers, files, functions = (cand[c].to_numpy() for c in ("line", "file_code", "function_code"))
    brk = np.ones(len(cand), dtype=bool)
    brk[1:] = (np.diff(numbers) != 1) | (functions[1:] != functions[:-1]) | (files[1:] != files[:-1])
    brk |= (files < 0) | (functions < 0)  # a missing name equals none (as NaN != NaN)
    starts = np.flatnonzero(brk)
    if not len(starts):
        return empty_findings()
    ends = np.append(starts[1:], len(cand)) - 1
    first, last = numbers[starts].tolist(), numbers[ends].tolist()
    names = cand["function"].to_numpy(dtype=object)[starts].tolist()
    requirements = [", ".join(r) for r in cand["requirements"].to_numpy(dtype=object)[starts].tolist()]
    sizes = (ends - starts + 1).tolist()
    messages = [
        f"{n} line(s) of '{f}' ({a}-{b}) are not executed by any passing test of {r}"
        for n, f, a, b, r in zip(sizes, names, first, last, requirements, strict=True)
    ]
    return _frame_of_columns(
        {
            "kind": ["uncovered_lines"] * len(starts),
            "file": cand["file"].to_numpy(dtype=object)[starts].tolist(),
            "line": first,
            "end_line": last,
            "function": names,
            "requirement": requirements,
            "message": messages,
        }
    )


def _open_lines_by_key(
    lines: pd.DataFrame,
    open_lines: np.ndarray,
    fn: pd.DataFrame,
    verified: np.ndarray,
    keys: tuple[np.ndarray, np.ndarray] | None,
) -> pd.DataFrame | None:
    """What :func:`_with_function_requirements` gives for the open lines of the ``verified`` rows
    of ``fn``, from the functions' integer keys (no text hashed); the key of a line's function
    stands for both its codes (equal exactly when file and function are).  ``None`` without keys
    of these frames, or when ``fn`` holds a function twice."""
    if keys is None or len(keys[0]) != len(lines) or len(keys[1]) != len(fn):
        return None
    at_line, at_fn = keys
    functions = pd.Index(at_fn)
    if not functions.is_unique:
        return None
    rows = np.flatnonzero(open_lines & (at_line >= 0))
    at = functions.get_indexer(at_line[rows])
    hit = at >= 0
    hit[hit] = verified[at[hit]]
    rows, at = rows[hit], at[hit]
    return pd.DataFrame(
        {
            "file": lines["file"].take(rows).reset_index(drop=True),
            "line": lines["line"].to_numpy()[rows],
            "function": lines["function"].take(rows).reset_index(drop=True),
            "requirements": fn["requirements"].to_numpy(dtype=object)[at],
            "file_code": at_line[rows],
            "function_code": at_line[rows],
        }
    )


def _with_function_requirements(rows: pd.DataFrame, partial: pd.DataFrame) -> pd.DataFrame:
    """``rows.merge(partial, on=["file", "function"])``: each row of a function of ``partial`` with
    its ``requirements``, in the rows' order, and integer codes of its file and function
    (``file_code``, ``function_code``: equal exactly when the text is, -1 for a missing one).
    With one row of ``partial`` per function (the analysis' own), each row's function is found by
    its integer key (:mod:`covguard.analysis.keys`) rather than by a merge on two columns of text."""
    f_rows, f_partial = text_codes(rows["file"], partial["file"])
    n_rows, n_partial = text_codes(rows["function"], partial["function"])
    at_rows, at_partial = joint_keys((f_rows, n_rows), (f_partial, n_partial))
    functions = pd.Index(at_partial)
    if not functions.is_unique:
        merged = rows.merge(partial, on=["file", "function"])
        (file_code,), (function_code,) = text_codes(merged["file"]), text_codes(merged["function"])
        return merged.assign(file_code=file_code, function_code=function_code)
    at = functions.get_indexer(at_rows)
    hit = at >= 0
    found: pd.DataFrame = rows[hit].reset_index(drop=True)
    return found.assign(
        requirements=partial["requirements"].to_numpy(dtype=object)[at[hit]],
        file_code=f_rows[hit],
        function_code=n_rows[hit],
    )


def justification_findings(attached: pd.DataFrame, lines: pd.DataFrame, fn: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    x = attached[attached["kind"].isin(["excl_line", "excl_start", "excl_br_line", "excl_br_start"])]
    justified_comments = attached[attached["kind"].isin(["justify", "justify_start"])].loc[
        :, ["file", "comment_start"]
    ]
    key = ["file", "comment_start"]
    unjust = x[~isin_rows(x, justified_comments, key)]
    for rec in records(unjust):
        rows.append(
            {
                "kind": "unjustified_exclusion",
                "file": rec["file"],
                "line": rec["line"],
                "end_line": rec["scope_end"]
                if rec["scope_end"] and rec["scope_end"] >= rec["line"]
                else rec["line"],
                "function": rec["function"] if isinstance(rec["function"], str) else None,
                "message": "coverage exclusion without a justification: add '@justify CATEGORY: reason' "
                "(deactivated, defensive or hardware) in the same comment",
            }
        )
    ex = lines[(lines["class"] == "justified") & lines["executed"]]
    if len(ex):
        grp = ex.groupby(["file", "function"]).agg(
            line=("line", "min"), end_line=("line", "max"), n=("line", "size")
        )
        for rec in records(grp.reset_index()):
            rows.append(
                {
                    "kind": "justified_executed",
                    "file": rec["file"],
                    "line": int(rec["line"]),
                    "end_line": int(rec["end_line"]),
                    "function": rec["function"],
                    "message": f"{int(rec['n'])} justified line(s) of '{rec['function']}' "
                    "are executed by tests "
                    "anyway: is the justification still true?",
                }
            )
    return _frame(rows)


def host_only_findings(fn: pd.DataFrame, require_target: Sequence[str]) -> pd.DataFrame:
    """Verified functions of the classes that must be verified on the target (``gate.require_target``)
    whose verifying executions all ran on the host."""
    if not require_target:
        return empty_findings()
    sub = fn[
        (fn["class"] == "verified")
        & fn["safety_class"].isin(list(require_target))
        & fn["target_code"]
        & ~fn["verified_on_target"]
    ]
    rows = [
        {
            "kind": "host_only_evidence",
            "file": rec["file"],
            "line": rec["line_start"],
            "end_line": rec["line_end"],
            "function": rec["function"],
            "requirement": ", ".join(rec["requirements"]) or None,
            "message": f"'{rec['function']}' (class {rec['safety_class']}) is verified only by tests on "
            f"the host (origin: {', '.join(rec['verified_on']) or 'host'}): class {rec['safety_class']} code "
            "must be verified on the target (gate.require_target); add a target run to analysis.runs",
        }
        for rec in records(sub)
    ]
    return _frame(rows)


def problem_findings(problems: Sequence[Any], req_tags: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {
            "kind": "source_problem",
            "file": str(getattr(p, "path", "")),
            "line": getattr(p, "line", None) or 0,
            "message": getattr(p, "message", str(p)),
        }
        for p in problems
        if getattr(p, "severity", "warning") in ("error", "warning")
    ]
    loose = req_tags[req_tags["function"].isna()]
    for rec in records(loose):
        rows.append(
            {
                "kind": "source_problem",
                "file": rec["file"],
                "line": rec["line"],
                "requirement": rec["value"],
                "message": f"@req {rec['value']} is not in or directly above a function "
                "the compiler reports: "
                "it traces nothing",
            }
        )
    return _frame(rows)
