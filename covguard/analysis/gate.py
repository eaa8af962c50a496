"""The gate: a policy per IEC 62304 safety class, applied to one analysis.

Two kinds of checks:

* **finding limits** - at most ``gate.max_findings[kind]`` findings of each kind (default 0 for
  rogue, dead, hollow, unknown-requirement, failed-test and the other defects; -1 = no limit);
* **coverage thresholds** - every traced function must reach the requirement-based line and
  branch coverage set for its safety class (``gate.line``/``gate.branch``, in percent).  A
  function's class is the highest class of its requirements; untraced code gets the project's
  ``default_safety_class``.  Justified and excluded lines are not counted.  With clang's profile
  (``host-clang``) also requirement-based MC/DC (``gate.mcdc``, default 100 % for class C): the
  conditions of a function's decisions shown independent by passing tests of its requirements.

The gate passes when every check passes (exit 0); otherwise covguard exits 1 with a table of the
checks that failed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from covguard.analysis.analyse import Analysis
from covguard.analysis.options import GateOptions
from covguard.analysis.verdict import GateCheck, GateResult, ThresholdChecks

THRESHOLD_COLUMNS = ("file", "function", "safety_class", "lines_verified", "lines_total", "branches_verified",
                     "branches_total", "conditions_verified", "conditions_total")  # fmt: skip

# limits of the ledger's kinds, applied only when a justification ledger is in use
LEDGER_LIMITS = {"stale_justification": 0, "expired_justification": 0}


def evaluate_gate(settings: GateOptions, analysis: Analysis) -> GateResult:
    limits = dict(settings.gate_max_findings)
    if analysis.justifications is not None:
        limits = {**LEDGER_LIMITS, **limits}
    result = evaluate_policy(
        analysis,
        line=settings.gate_line,
        branch=settings.gate_branch,
        max_findings=limits,
        require_target=tuple(settings.gate_require_target),
        mcdc=settings.gate_mcdc,
    )
    if settings.gate_baseline:  # only what is new or worse than a baseline fails
        from covguard.analysis.baseline import apply_baseline

        apply_baseline(result, analysis, settings)
    if settings.gate_diff_base:  # what changed since a git revision must be verified
        from covguard.analysis.diffgate import apply_diff

        apply_diff(result, analysis, settings)
    selected = analysis.findings["kind"] == "selected_run"
    for f in analysis.findings[selected].to_dict("records") if selected.any() else []:
        # covguard test --select: said in the verdict, never mistaken for a full run's
        result.add(GateCheck("run.selected", str(f["file"]), 1, 1, passed=True, detail=str(f["message"])))
    return result


def evaluate_policy(
    analysis: Analysis,
    *,
    line: dict[str, float],
    branch: dict[str, float],
    max_findings: dict[str, int],
    require_target: tuple[str, ...] = (),
    mcdc: dict[str, float] | None = None,
) -> GateResult:
    result = GateResult()
    counts = analysis.findings["kind"].value_counts()
    for kind in sorted(max_findings):
        limit = max_findings[kind]
        if limit < 0:
            continue
        n = int(counts.get(kind, 0))
        result.add(
            GateCheck(check=f"max_findings.{kind}", subject=kind, actual=n, limit=limit, passed=n <= limit)
        )
    fn = analysis.functions
    # the columns the thresholds read (not every column of the functions copied)
    read = [c for c in THRESHOLD_COLUMNS if c in fn.columns]
    traced = fn.loc[fn["class"].isin(["verified", "incidental", "traced_untested"]).to_numpy(), read]
    for block in (
        _threshold_checks(traced, "line", "lines_verified", "lines_total", line),
        _threshold_checks(traced, "branch", "branches_verified", "branches_total", branch),
    ):
        if block is not None:
            result.add(block)
    result.add(*_target_checks(fn, require_target))
    if mcdc and analysis.mcdc_measured:  # requirement-based MC/DC: clang's profile only
        block = _threshold_checks(
            traced, "mcdc", "conditions_verified", "conditions_total", mcdc, "conditions"
        )
        if block is not None:
            result.add(block)
    return result


def _target_checks(fn: pd.DataFrame, require_target: tuple[str, ...]) -> list[GateCheck]:
    """Per class of ``gate.require_target``: no verified function of it without target evidence."""
    checks: list[GateCheck] = []
    for cls in require_target:
        verified = fn[(fn["class"] == "verified") & (fn["safety_class"] == cls) & fn["target_code"]]
        host_only = verified[~verified["verified_on_target"].astype(bool)]
        shown = ", ".join(sorted(host_only["function"].astype(str))[:5])
        checks.append(
            GateCheck(
                check=f"require_target.{cls}",
                subject=f"class {cls} functions verified only on the host",
                actual=len(host_only),
                limit=0,
                passed=not len(host_only),
                detail=f"{len(host_only)} of {len(verified)} verified class {cls} functions"
                + (f": {shown}" if shown else ""),
            )
        )
    return checks


def _class_limits(classes: pd.Series, thresholds: dict[str, float]) -> np.ndarray:
    """``classes.map(thresholds).fillna(0.0)``'s values, the map made once per distinct class (a
    map over a string column casts row by row).  The same distinct results give the same dtype:
    an integer threshold stays an integer."""
    codes, uniques = pd.factorize(classes, use_na_sentinel=False)
    per_class = pd.Series(uniques).map(thresholds).fillna(0.0).to_numpy()
    return per_class[codes]


def _threshold_checks(
    fn: pd.DataFrame, metric: str, num: str, den: str, thresholds: dict[str, float], unit: str = ""
) -> ThresholdChecks | None:
    """The threshold check of every function with a total and a class with a threshold above 0,
    column by column (none when no function has one): there is one per function and metric, and
    most of them are only counted, so they are not made objects here (:class:`ThresholdChecks`)."""
    rows = fn.loc[fn[den] > 0, ["file", "function", "safety_class", num, den]]
    if not len(rows):
        return None
    pct = 100.0 * rows[num] / rows[den]
    limit = _class_limits(rows["safety_class"], thresholds)
    kept = limit > 0
    rows = rows[kept]
    percent, limits = pct[kept].to_numpy(), limit[kept]
    # the check's name once per class
    classes = rows["safety_class"].to_numpy()
    names = {cls: f"{metric}.{cls}" for cls in rows["safety_class"].unique().tolist()}
    return ThresholdChecks(
        names=np.array([names[cls] for cls in classes.tolist()], dtype=object),
        files=rows["file"].to_numpy(dtype=object),
        functions=rows["function"].to_numpy(dtype=object),
        verified=rows[num].to_numpy(),
        totals=rows[den].to_numpy(),
        percent=percent,
        limits=limits,
        passed=percent + 1e-9 >= limits,
        unit=unit or metric + "s",
    )
