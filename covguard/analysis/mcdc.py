"""Requirement-based MC/DC: per function and per requirement, only executions that count.

The MC/DC of a decision is measured from the test vectors of the executions that count (see
:mod:`covguard.ingest.mcdc_vectors` for why vectors, not per-test results, are united):

* **per function** - the vectors of the coverage units that pass a test of one of the
  function's requirements (the *verifying* units, the same ones that make its lines
  ``verified``);
* **per requirement** - the decisions of the functions that implement the requirement, with the
  vectors of units that pass a test of *that* requirement.

Decisions on justified or excluded lines, and in justified functions, are not counted.  Every
decision of a verified function with a condition that no counting pair shows independent is an
``mcdc_gap`` finding: it names the decision (file, line, source text), the conditions and their
text, and - from the decision's structure and the vectors already executed - the input
combination a new test needs (:func:`covguard.ingest.mcdc_vectors.suggest`).

Only clang's profile measures MC/DC; with gcov the frames are empty and nothing here adds a
number, a finding or a gate check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from covguard.frames import CoverageData, records
from covguard.ingest import mcdc_vectors as mcdc
from covguard.model import percent

FKEY = ["file", "function"]


@dataclass
class McdcResult:
    """What the analysis adds: columns of functions and requirements, decisions, findings."""

    measured: bool
    functions: pd.DataFrame
    requirements: pd.DataFrame
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)  # per decision, requirement-based
    findings: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _counted_decisions(data: CoverageData, lines: pd.DataFrame, fn: pd.DataFrame) -> pd.DataFrame:
    cd = data.code_decisions
    d = cd.astype(dict.fromkeys(("file", "function", "decision_file"), str)).assign(
        line=cd["line"].astype("int64")
    )
    off = lines[lines["class"].isin(["justified", "excluded"])].loc[:, ["file", "line"]]
    key = ["file", "line"]
    d = d[~d.set_index(key).index.isin(off.set_index(key).index)]
    justified = fn[fn["class"] == "justified"].loc[:, FKEY]
    d = d[~d.set_index(FKEY).index.isin(justified.set_index(FKEY).index)]
    return d.reset_index(drop=True)


def _units_vectors(data: CoverageData) -> pd.DataFrame:
    d = data.decisions
    return pd.DataFrame(
        {
            "coverage_unit": d["test"].astype(str),
            "file": d["file"].astype(str),
            "function": d["function"].astype(str),
            "decision": d["decision"].astype(str),
            "vectors": d["vectors"].astype(str),
        }
    )


def _covered(vectors: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Per key: the united vectors, the covering conditions, the tests that evaluated it."""
    if not len(vectors):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*key, "vectors", "covered", "units"]})
    per = vectors.groupby(key, as_index=False, sort=True).agg(
        vectors=("vectors", mcdc.join_vectors), units=("coverage_unit", lambda s: sorted(set(s)))
    )
    return per.merge(mcdc.covered_conditions(per, key), on=key)


def _uncovered(decisions: pd.DataFrame) -> pd.Series:
    """Conditions (1-based) of each decision that no counting pair shows independent."""
    n = decisions["conditions_total"].astype("int64") + decisions["folded"].map(
        lambda s: len(mcdc.numbers(s))
    )
    return pd.Series(
        [
            tuple(
                k
                for k in range(1, int(total) + 1)
                if k not in set(cov) and k not in set(mcdc.numbers(folded))
            )
            for total, cov, folded in zip(n, decisions["covered"], decisions["folded"], strict=True)
        ],
        index=decisions.index,
        dtype=object,
    )


def analyse_mcdc(
    data: CoverageData,
    *,
    lines: pd.DataFrame,
    fn: pd.DataFrame,
    reqs: pd.DataFrame,
    verifying_units: pd.DataFrame,
    unit_reqs: pd.DataFrame,
    function_requirements: pd.DataFrame,
    tests: pd.DataFrame,
) -> McdcResult:
    """Requirement-based MC/DC of every function and requirement, and the gaps."""
    measured = len(data.code_decisions) > 0
    fn = fn.copy()
    reqs = reqs.copy()
    if not measured:
        fn["conditions_total"] = 0
        fn["conditions_verified"] = 0
        reqs["conditions_total"] = 0
        reqs["conditions_verified"] = 0
        return McdcResult(False, fn, reqs)
    decisions = _counted_decisions(data, lines, fn)
    vectors = _units_vectors(data)

    # ---- per function: vectors of the verifying units
    vu = verifying_units.astype(str)
    ver = vectors.merge(vu, on=["coverage_unit", *FKEY])
    got = _covered(ver, ["decision"])
    decisions = decisions.drop(columns=["vectors", "conditions_covered", "uncovered"]).merge(
        got.rename(columns={"vectors": "vectors_verified"}), on="decision", how="left"
    )
    decisions["vectors_verified"] = decisions["vectors_verified"].fillna("")
    decisions["covered"] = decisions["covered"].apply(lambda v: v if isinstance(v, tuple) else ())
    decisions["units"] = decisions["units"].apply(lambda v: v if isinstance(v, list) else [])
    decisions["conditions_verified"] = decisions["covered"].map(len).astype("int64")
    decisions["missing"] = _uncovered(decisions)
    per_fn = decisions.groupby(FKEY).agg(
        conditions_total=("conditions_total", "sum"), conditions_verified=("conditions_verified", "sum")
    )
    fn = fn.merge(per_fn, left_on=FKEY, right_index=True, how="left")
    for c in ("conditions_total", "conditions_verified"):
        fn[c] = fn[c].fillna(0).astype("int64")

    # ---- per requirement: vectors of units passing a test of that requirement
    fr = function_requirements.loc[:, [*FKEY, "requirement"]].astype(str)
    req_decisions = decisions.loc[:, ["decision", *FKEY, "conditions_total"]].merge(fr, on=FKEY)
    ur = unit_reqs.astype(str)
    rv = vectors.merge(ur, on="coverage_unit").merge(fr, on=[*FKEY, "requirement"])
    rgot = _covered(rv, ["requirement", "decision"])
    req_decisions = req_decisions.merge(rgot, on=["requirement", "decision"], how="left")
    req_decisions["conditions_verified"] = req_decisions["covered"].apply(
        lambda v: len(v) if isinstance(v, tuple) else 0
    )
    per_req = req_decisions.groupby("requirement").agg(
        conditions_total=("conditions_total", "sum"), conditions_verified=("conditions_verified", "sum")
    )
    reqs = reqs.merge(per_req, left_on="id", right_index=True, how="left")
    for c in ("conditions_total", "conditions_verified"):
        reqs[c] = reqs[c].fillna(0).astype("int64")

    findings = gap_findings(decisions, fn, tests)
    n_all = int(data.code_decisions["conditions_total"].sum())
    summary = {
        "mcdc": _pct(int(data.code_decisions["conditions_covered"].sum()), n_all),
        "requirement_mcdc": _pct(
            int(decisions["conditions_verified"].sum()), int(decisions["conditions_total"].sum())
        ),
    }
    return McdcResult(True, fn, reqs, decisions, findings, summary)


def _pct(num: int, den: int) -> float | None:
    return percent(num, den)  # one rounding, as gcovr rounds


def gap_findings(decisions: pd.DataFrame, fn: pd.DataFrame, tests: pd.DataFrame) -> list[dict[str, Any]]:
    """One ``mcdc_gap`` per decision of a verified function with a condition not shown independent."""
    info = fn.loc[:, [*FKEY, "class", "requirements"]]
    d = decisions[decisions["missing"].map(len) > 0].merge(info, on=FKEY)
    d = d[d["class"] == "verified"]
    unit_tests = tests.groupby("coverage_unit")["test"].agg(lambda s: sorted(set(s)))
    rows = []
    for rec in records(d.sort_values(["file", "line", "decision"])):
        reqs = ", ".join(rec["requirements"])
        evidence = sorted({t for u in rec["units"] for t in unit_tests.get(u, [])})
        in_macro = rec["decision_file"] != rec["file"] or int(rec["decision_line"]) != int(rec["line"])
        span = 0 if in_macro else int(rec["end_line"]) - int(rec["decision_line"])
        rows.append(
            {
                "kind": "mcdc_gap",
                "file": rec["file"],
                "line": int(rec["line"]),
                "end_line": int(rec["line"]) + span,
                "function": rec["function"],
                "requirement": reqs or None,
                "message": gap_message(rec, reqs, in_macro),
                "tests": evidence,
                "decision": decision_detail(rec),
            }
        )
    return rows


def _texts(rec: dict[str, Any]) -> list[str]:
    n = int(rec["conditions_total"]) + len(mcdc.numbers(str(rec["folded"])))
    texts = str(rec["condition_texts"] or "").split("\t")
    return [t or f"condition {i + 1}" for i, t in enumerate(texts + [""] * (n - len(texts)))][:n]


def _executed(rec: dict[str, Any]) -> list[tuple[str, bool]]:
    out = []
    for v in str(rec["vectors_verified"] or "").split(";"):
        if "=" in v:
            tv, r = v.split("=", 1)
            out.append((tv, r == "T"))
    return out


def gap_message(rec: dict[str, Any], reqs: str, in_macro: bool) -> str:
    if rec.get("note"):
        return (
            f"MC/DC not measured in '{rec['function']}': `{rec['text']}`: {rec['note']}; covguard counts "
            "it as one condition never shown independent - rewrite the decision (compute the nested "
            "boolean expression into a variable first) or justify the line"
        )
    texts = _texts(rec)
    missing = list(rec["missing"])
    total = int(rec["conditions_total"])
    named = ", ".join(f"{k} (`{texts[k - 1]}`)" for k in missing)
    which = "condition" if len(missing) == 1 else "conditions"
    where = (
        f" (in a macro expansion; the decision is at {rec['decision_file']}:{rec['decision_line']})"
        if in_macro
        else ""
    )
    by = f"the passing tests of {reqs}" if reqs else "the passing tests of its requirements"
    head = (
        f"MC/DC gap in '{rec['function']}': decision `{rec['text']}`{where}: {which} {named} "
        f"never shown to independently affect the outcome by {by} "
        f"({int(rec['conditions_verified'])} of {total} conditions covered)"
    )
    hints = [condition_hint(rec, k, texts) for k in missing]
    return head + "; " + "; ".join(hints)


def condition_hint(rec: dict[str, Any], condition: int, texts: list[str]) -> str:
    """Which input combination would show ``condition`` independent."""
    executed = _executed(rec)
    s = mcdc.suggest(str(rec["expression"] or ""), executed, condition)
    generic = (
        f"condition {condition} (`{texts[condition - 1]}`) needs two tests that differ only in it "
        "and have different outcomes"
    )
    if s is None:
        return generic
    want = mcdc.describe_vector(s.vector, texts)
    outcome = "true" if s.result else "false"
    if s.partner_executed:
        return (
            f"condition {condition} needs a test with {want} (outcome {outcome}): with the executed "
            f"{mcdc.show_vector(s.partner, s.partner_result)} it differs only in condition {condition}"
        )
    other = mcdc.describe_vector(s.partner, texts)
    return (
        f"{generic}, e.g. {want} (outcome {outcome}) and {other} "
        f"(outcome {'true' if s.partner_result else 'false'})"
    )


def decision_detail(rec: dict[str, Any]) -> dict[str, Any]:
    """The structured part of an ``mcdc_gap`` finding (findings.json ``decision``)."""
    if rec.get("note"):
        return {
            "text": rec["text"],
            "file": rec["decision_file"],
            "line": int(rec["decision_line"]),
            "column": int(rec["decision_column"]),
            "measured": False,
            "note": rec["note"],
        }
    texts = _texts(rec)
    covered = set(rec["covered"])
    folded = set(mcdc.numbers(str(rec["folded"])))
    suggestions = []
    for k in rec["missing"]:
        s = mcdc.suggest(str(rec["expression"] or ""), _executed(rec), k)
        if s is not None:
            suggestions.append(
                {
                    "condition": k,
                    "add": mcdc.show_vector(s.vector, s.result),
                    "pairs_with": mcdc.show_vector(s.partner, s.partner_result),
                    "pairs_with_executed": s.partner_executed,
                }
            )
    return {
        "text": rec["text"],
        "file": rec["decision_file"],
        "line": int(rec["decision_line"]),
        "column": int(rec["decision_column"]),
        "expression": rec["expression"] or None,
        "conditions": [
            {
                "number": i + 1,
                "text": t,
                "independent": (i + 1) in covered,
                **({"constant": True} if (i + 1) in folded else {}),
            }
            for i, t in enumerate(texts)
        ],
        "executed_vectors": [mcdc.show_vector(tv, r) for tv, r in _executed(rec)],
        "missing": list(rec["missing"]),
        "suggestions": suggestions,
    }


__all__ = ["McdcResult", "analyse_mcdc", "gap_findings"]
