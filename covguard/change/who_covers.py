"""`covguard who-covers FILE:LINE | FILE:FUNCTION | REQ-ID`: the tests that execute it, from the per-test map.

For a line or a function: every test whose coverage unit executed it, with the execution count
(per coverage unit: for suites that give coverage per executable, such as Unity, every test of the
executable shares its unit's count), its status and origin, and the requirements it verifies.  For a
requirement: every test that executes any function implementing it, with the functions it ran and
whether the test is one of the requirement's own tests.  All joins, no loop per coverage row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from covguard.analysis.analyse import Analysis
from covguard.errors import InputError
from covguard.frames import grouped_lists

COLUMNS = ["test", "status", "origin", "count", "verifies", "functions", "verifies_target"]


@dataclass
class WhoCovers:
    target: str
    kind: str  # line | function | requirement
    what: str  # a description of what was looked up
    tests: pd.DataFrame  # COLUMNS


def _with_tests(analysis: Analysis, units: pd.DataFrame) -> pd.DataFrame:
    """``units`` (coverage_unit, count, functions) joined to the test cases and their requirements."""
    t = analysis.tests.loc[:, ["test", "status", "origin", "coverage_unit"]]
    out = t.merge(units, on="coverage_unit")
    known = set(analysis.requirements["id"])
    tr = analysis.test_requirements
    reqs = grouped_lists(tr[tr["requirement"].isin(known)], ["test"], "requirement")
    out["verifies"] = [reqs.get(x, []) for x in out["test"].tolist()]
    return out.drop(columns="coverage_unit").sort_values("test", kind="stable").reset_index(drop=True)


def who_covers(analysis: Analysis, target: str) -> WhoCovers:
    """The tests that execute ``target`` (``FILE:LINE``, ``FILE:FUNCTION`` or a requirement ID)."""
    cov = analysis.coverage
    known = set(analysis.requirements["id"])
    if target in known:
        fr = analysis.function_requirements
        impl = fr[fr["requirement"] == target].loc[:, ["file", "function"]]
        ex = cov.functions.loc[:, ["file", "function", "test", "count"]].astype(
            {"file": str, "function": str, "test": str}
        )
        hit = ex.merge(impl, on=["file", "function"]).rename(columns={"test": "coverage_unit"})
        names = grouped_lists(hit, ["coverage_unit"], "function")
        units = hit.groupby("coverage_unit", as_index=False).agg(count=("count", "sum"))
        units["functions"] = [names.get(u, []) for u in units["coverage_unit"].tolist()]
        out = _with_tests(analysis, units)
        out["verifies_target"] = [target in v for v in out["verifies"].tolist()]
        what = f"requirement {target}: {len(impl)} implementing function(s)"
        return WhoCovers(target, "requirement", what, out.loc[:, COLUMNS])
    file, sep, rest = target.partition(":")  # a C++ name may hold "::"
    if not sep or not file or not rest:
        raise InputError(
            f"'{target}' is not FILE:LINE, FILE:FUNCTION or a known requirement ID",
            hint="e.g. src/bolus.c:112, src/bolus.c:bolus_apply_limit or PUMP-SRS-004",
        )
    if file not in set(cov.code_lines["file"].astype(str)) | set(cov.code_functions["file"].astype(str)):
        raise InputError(
            f"{file} is not a source of the analysed build", hint="give a path relative to the root"
        )
    if re.fullmatch(r"[0-9]+", rest):
        line = int(rest)
        rows = cov.lines[(cov.lines["file"] == file) & (cov.lines["line"] == line)]
        code = cov.code_lines[(cov.code_lines["file"] == file) & (cov.code_lines["line"] == line)]
        if not len(code):
            raise InputError(f"{file}:{line} is not an executable line of the build")
        fname = str(code["function"].iloc[0])
        kind, what = "line", f"{file}:{line} (in {fname})"
    else:
        rows = cov.functions[(cov.functions["file"] == file) & (cov.functions["function"] == rest)]
        exists = (cov.code_functions["file"] == file) & (cov.code_functions["function"] == rest)
        if not exists.any():
            raise InputError(f"no function '{rest}' in {file} in the build")
        fname, kind, what = rest, "function", f"{file}:{rest}"
    units = (
        rows.loc[:, ["test", "count"]]
        .astype({"test": str})
        .rename(columns={"test": "coverage_unit"})
        .groupby("coverage_unit", as_index=False)
        .agg(count=("count", "sum"))
    )
    units["functions"] = [[fname]] * len(units)
    out = _with_tests(analysis, units)
    fr = analysis.function_requirements
    own = set(fr[(fr["file"] == file) & (fr["function"] == fname)]["requirement"])
    out["verifies_target"] = [bool(own & set(v)) for v in out["verifies"].tolist()]
    return WhoCovers(target, kind, what, out.loc[:, COLUMNS])


def render(result: WhoCovers) -> str:
    """The answer as text: one test a line."""
    t = result.tests
    head = f"{result.what}: executed by {len(t)} test(s)"
    if not len(t):
        return head
    lines = [head]
    for r in t.to_dict("records"):
        own = " (verifies it)" if r["verifies_target"] else ""
        ran = f" ran {', '.join(r['functions'])};" if result.kind == "requirement" else ""
        reqs = ", ".join(r["verifies"]) or "no requirement"
        lines.append(
            f"  {r['test']}  {r['status']}  {r['origin']}  x{int(r['count'])};{ran} verifies {reqs}{own}"
        )
    return "\n".join(lines)


def to_json(result: WhoCovers) -> dict[str, object]:
    return {
        "target": result.target,
        "kind": result.kind,
        "what": result.what,
        "tests": [
            {**r, "count": int(r["count"]), "verifies_target": bool(r["verifies_target"])}
            for r in result.tests.to_dict("records")
        ],
    }
