"""The gate's coverage thresholds held column by column (:class:`covguard.analysis.verdict.ThresholdChecks`)
are the :class:`GateCheck` objects the gate made one by one before: on the sample's real analysis with
generated coverage counts (zero totals, classes without a threshold, a missing class, integer and
fractional thresholds, MC/DC), every view of the verdict (checks, passed, failures, counts,
``to_json``, the findings.json ``gate`` part as dicts and as text, the console) is the one of the
objects built the old way, also after the baseline and the diff gate are applied."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from covguard.analysis.analyse import Analysis
from covguard.analysis.baseline import apply_baseline
from covguard.analysis.diffgate import apply_diff
from covguard.analysis.gate import evaluate_policy
from covguard.analysis.options import GateOptions
from covguard.analysis.verdict import GateCheck, GateResult
from covguard.change.changeset import ChangeSet
from covguard.report import console, findings_json
from covguard.report.json_table import Table

LINE = {"A": 0.0, "B": 80, "C": 100.0}  # A: no threshold
BRANCH = {"B": 33.333333, "C": 90.5}
MCDC = {"C": 100.0}
LIMITS = {"rogue": 0, "dead": 3, "failed_test": -1}
TRACED = ["verified", "incidental", "traced_untested"]


def old_threshold_checks(
    fn: pd.DataFrame, metric: str, num: str, den: str, thresholds: dict[str, float], unit: str = ""
) -> list[GateCheck]:
    """The threshold checks as the gate built them before, one object per function."""
    rows = fn.loc[fn[den] > 0, ["file", "function", "safety_class", num, den]]
    if not len(rows):
        return []
    pct = 100.0 * rows[num] / rows[den]
    limit = rows["safety_class"].map(thresholds).fillna(0.0)
    kept = (limit > 0).to_numpy()
    rows = rows[kept]
    what = unit or metric + "s"
    return [
        GateCheck(
            f"{metric}.{cls}",
            f"{file}:{function}",
            round(p, 2),
            lim,
            p + 1e-9 >= lim,
            f"{int(n)}/{int(d)} {what} verified",
        )
        for file, function, cls, n, d, p, lim in zip(
            rows["file"].tolist(),
            rows["function"].tolist(),
            rows["safety_class"].tolist(),
            rows[num].tolist(),
            rows[den].tolist(),
            pct[kept].tolist(),
            limit[kept].tolist(),
            strict=True,
        )
    ]


def old_checks(analysis: Analysis, line: dict[str, float] = LINE) -> list[GateCheck]:
    """Every check of :func:`evaluate_policy` (these limits, no target requirement), the old way."""
    counts = analysis.findings["kind"].value_counts()
    checks = [
        GateCheck(
            f"max_findings.{kind}", kind, int(counts.get(kind, 0)), limit, int(counts.get(kind, 0)) <= limit
        )
        for kind, limit in sorted(LIMITS.items())
        if limit >= 0
    ]
    fn = analysis.functions
    traced = fn[fn["class"].isin(TRACED)]
    checks += old_threshold_checks(traced, "line", "lines_verified", "lines_total", line)
    checks += old_threshold_checks(traced, "branch", "branches_verified", "branches_total", BRANCH)
    checks += old_threshold_checks(
        traced, "mcdc", "conditions_verified", "conditions_total", MCDC, "conditions"
    )
    return checks


def old_to_json(checks: list[GateCheck]) -> dict[str, Any]:
    """``GateResult.to_json`` as it was: a dict per failure."""
    failures = [c for c in checks if not c.passed]
    return {
        "passed": all(c.passed for c in checks),
        "failures": [
            {"check": c.check, "subject": c.subject, "actual": c.actual, "limit": c.limit, "detail": c.detail}
            for c in failures
        ],
        "checks": len(checks),
    }


def generated(analysis: Analysis, seed: int) -> Analysis:
    """The analysis with its functions repeated and given random classes, safety classes and counts
    (a zero total in some rows, a verified count above the executed one never needed)."""
    rng = np.random.default_rng(seed)
    fn = pd.concat([analysis.functions] * 8, ignore_index=True)
    n = len(fn)
    fn["function"] = [f"{f}_{i}" for i, f in enumerate(fn["function"].astype(str))]
    fn["class"] = rng.choice([*TRACED, "rogue", "dead"], n)
    fn["safety_class"] = pd.Series(rng.choice(["A", "B", "C", "D", ""], n)).replace("", np.nan).to_numpy()
    for kind in ("lines", "branches", "conditions"):
        total = rng.integers(0, 6, n) * rng.integers(0, 2, n)  # many zero totals
        fn[f"{kind}_total"] = total
        fn[f"{kind}_verified"] = (total * rng.random(n)).round().astype(int)
        fn[f"{kind}_executed"] = fn[f"{kind}_verified"]
    fn["lines_verified"] = np.where(rng.random(n) < 0.3, fn["lines_total"], fn["lines_verified"])
    return dataclasses.replace(analysis, functions=fn, cache={}, mcdc_measured=True)


def assert_same_verdict(new: GateResult, checks: list[GateCheck]) -> None:
    """Every view of ``new`` is the one of the objects ``checks``."""
    old = GateResult(list(checks))
    assert new.check_count == len(checks)
    assert new.passed == old.passed == all(c.passed for c in checks)
    assert new.failures == [c for c in checks if not c.passed]
    assert new.to_json() == old_to_json(checks)
    assert new.named("line.", "baseline.") == [
        c for c in checks if c.check.startswith(("line.", "baseline."))
    ]
    plain = findings_json._tabled(old_to_json(checks), Table.dicts)
    assert findings_json._gate(new, Table.dicts) == plain
    as_text = findings_json.dumps({"gate": findings_json._gate(new, findings_json._records_text)})
    assert as_text == findings_json.dumps({"gate": plain})
    assert console.render_gate(new) == console.render_gate(old)
    assert console.render_change_details(new) == console.render_change_details(old)
    assert new.checks == checks  # last: made objects here
    assert new == old


@pytest.mark.parametrize("seed", range(4))
def test_threshold_columns_are_the_checks_built_one_by_one(sample_run: Any, seed: int) -> None:
    assert sample_run.analysis is not None
    analysis = generated(sample_run.analysis, seed)
    new = evaluate_policy(analysis, line=LINE, branch=BRANCH, max_findings=LIMITS, mcdc=MCDC)
    checks = old_checks(analysis)
    assert any(not c.passed for c in checks)
    assert any(c.passed for c in checks)
    assert {c.check for c in checks} >= {"line.B", "line.C", "branch.B", "branch.C", "mcdc.C"}
    assert_same_verdict(new, checks)
    # integer thresholds of every class a function has stay integers (JSON 80, not 80.0)
    ints: dict[str, float] = {"A": 50, "B": 80, "C": 100, "D": 10}
    classed = dataclasses.replace(analysis, functions=analysis.functions.fillna({"safety_class": "D"}))
    new = evaluate_policy(classed, line=ints, branch=BRANCH, max_findings=LIMITS, mcdc=MCDC)
    expected = [c for c in old_checks(classed, ints) if c.check.startswith("line.")]
    assert expected
    assert all(type(c.limit) is int for c in expected)
    assert new.named("line.") == expected
    assert findings_json._gate(new, Table.dicts) == findings_json._tabled(new.to_json(), Table.dicts)
    # no function with a total, or none traced: no block at all
    none = dataclasses.replace(analysis, functions=analysis.functions.assign(**{"class": "rogue"}))
    empty = evaluate_policy(none, line=LINE, branch=BRANCH, max_findings=LIMITS, mcdc=MCDC)
    assert_same_verdict(empty, old_checks(none))


def _options(root: Path, baseline: Path | None, mode: str = "new") -> GateOptions:
    return GateOptions(
        root=root,
        gate_line=LINE,
        gate_branch=BRANCH,
        gate_mcdc=MCDC,
        gate_max_findings=LIMITS,
        gate_require_target=(),
        gate_baseline=str(baseline) if baseline else None,
        gate_baseline_ref="",
        gate_baseline_mode=mode,
        gate_diff_base="",
    )


@pytest.mark.parametrize("mode", ["new", "ratchet"])
def test_baseline_and_diff_gate_on_the_columns_are_those_on_the_objects(
    sample_run: Any, tmp_path: Path, mode: str
) -> None:
    assert sample_run.analysis is not None
    before, now = generated(sample_run.analysis, 10), generated(sample_run.analysis, 11)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(findings_json.render(before), encoding="utf-8")
    settings = _options(tmp_path, baseline, mode)
    new_analysis, old_analysis = dataclasses.replace(now, cache={}), dataclasses.replace(now, cache={})
    new = evaluate_policy(new_analysis, line=LINE, branch=BRANCH, max_findings=LIMITS, mcdc=MCDC)
    old = GateResult(old_checks(old_analysis))
    apply_baseline(new, new_analysis, settings, renames={})
    apply_baseline(old, old_analysis, settings, renames={})
    assert any("existing:" in c.detail for c in old.checks)  # debt the baseline already had
    assert_same_verdict(new, old.checks)
    # the diff gate appends to what the baseline left, and to the blocks without one
    fn = now.functions
    changed = pd.DataFrame({"file": fn["file"].astype(str).head(3), "line": fn["line_start"].head(3)})
    none = pd.DataFrame({"file": pd.Series([], dtype=str), "line": pd.Series([], dtype=int)})
    changes = ChangeSet(base="HEAD~1", commit="x", lines=changed, deleted_at=none, old_lines=none)
    plain = evaluate_policy(now, line=LINE, branch=BRANCH, max_findings=LIMITS, mcdc=MCDC)
    for result, checks in ((new, old.checks), (plain, old_checks(now))):
        expected = GateResult(list(checks))
        apply_diff(result, now, _options(tmp_path, None), changes)
        apply_diff(expected, now, _options(tmp_path, None), changes)
        assert any(c.check.startswith("diff.") for c in expected.checks)
        assert_same_verdict(result, expected.checks)
    written = json.loads(findings_json.render(now, plain))["gate"]
    assert written == json.loads(json.dumps(findings_json._plain(plain.to_json())))
