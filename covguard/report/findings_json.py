"""``findings.json``: covguard's one machine-readable contract (schema ``covguard.findings/1``).

Every other output (console, HTML, SARIF, Markdown, trace matrix) renders from the same view, so
they cannot disagree.  The document holds no timestamp: the same inputs give the same bytes.

Top level: ``schema``, ``tool``, ``summary``, ``requirements``, ``functions``, ``tests``,
``findings``, ``gate`` (and ``problems``: notes about the inputs).  See README.md for each field.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from covguard import __version__
from covguard.analysis.analyse import Analysis
from covguard.analysis.gate import GateResult
from covguard.frames import records

SCHEMA = "covguard.findings/1"


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/NA to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return None if math.isnan(f) else round(f, 4)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def _pct(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 2) if den else None


def _mcdc(row: dict[str, Any], measured: bool) -> dict[str, Any]:
    """Requirement-based MC/DC numbers, present only when the run measured MC/DC (clang)."""
    if not measured:
        return {}
    total, verified = int(row.get("conditions_total", 0)), int(row.get("conditions_verified", 0))
    return {"conditions_total": total, "conditions_verified": verified, "mcdc": _pct(verified, total)}


def findings_document(analysis: Analysis, gate: GateResult | None = None) -> dict[str, Any]:
    reqs = [
        {
            "id": r["id"],
            "title": r["title"],
            "safety_class": r["safety_class"],
            "status": r["status"],
            "source": r["source"],
            "line": int(r["line"]),
            "implemented_by": list(r["implemented_by"]),
            "verified_by": list(r["verified_by"]),
            "failing_tests": list(r["failing_tests"]),
            "coverage": {
                "lines_total": int(r["lines_total"]),
                "lines_verified": int(r["lines_verified"]),
                "line": _pct(int(r["lines_verified"]), int(r["lines_total"])),
                "branches_total": int(r["branches_total"]),
                "branches_verified": int(r["branches_verified"]),
                "branch": _pct(int(r["branches_verified"]), int(r["branches_total"])),
                **_mcdc(r, analysis.mcdc_measured),
            },
        }
        for r in records(analysis.requirements)
    ]
    functions = [
        {
            "file": f["file"],
            "function": f["function"],
            "line_start": int(f["line_start"]),
            "line_end": int(f["line_end"]),
            "requirements": list(f["requirements"]),
            "safety_class": f["safety_class"],
            "class": f["class"],
            "executed": bool(f["executed"]),
            "executed_by": int(f["executed_units"]),
            "reachable": f["reachable"],
            "image": f.get("image"),
            "justification": f["justification"] or None,
            "verified_on": list(f.get("verified_on", [])),
            "coverage": {
                "lines_total": int(f["lines_total"]),
                "lines_executed": int(f["lines_executed"]),
                "lines_verified": int(f["lines_verified"]),
                "branches_total": int(f["branches_total"]),
                "branches_executed": int(f["branches_executed"]),
                "branches_verified": int(f["branches_verified"]),
                **_mcdc(f, analysis.mcdc_measured),
            },
        }
        for f in records(analysis.functions)
    ]
    tests = [
        {
            "id": t["test"],
            "executable": t["executable"],
            "name": t["name"],
            "status": t["status"],
            "duration_s": t["duration_s"],
            "message": t["message"],
            "file": t["file"],
            "line": int(t["line"]),
            "verifies": [x for x in str(t["verifies"]).replace(",", " ").split() if x],
            "coverage": t["coverage"],
            "origin": t.get("origin", "host"),
            "variant": t.get("variant", "default"),
        }
        for t in records(analysis.tests)
    ]
    findings = [
        {k: v for k, v in row.items() if not (k in ("call_path", "decision") and not v)}
        for row in analysis.findings.to_dict(orient="records")
    ]
    doc = {
        "schema": SCHEMA,
        "tool": {"name": "covguard", "version": __version__},
        "summary": analysis.summary,
        "requirements": reqs,
        "functions": functions,
        "tests": tests,
        "findings": findings,
        "gate": gate.to_json() if gate is not None else None,
        "problems": analysis.problems,
    }
    return dict(_plain(doc))


def render(analysis: Analysis, gate: GateResult | None = None) -> str:
    return json.dumps(findings_document(analysis, gate), indent=2, ensure_ascii=False) + "\n"
