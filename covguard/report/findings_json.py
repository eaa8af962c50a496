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
from covguard.analysis.verdict import GateResult
from covguard.frames import few_collections, records
from covguard.model import percent

SCHEMA = "covguard.findings/1"


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/NA to None, tuples to lists (common types first)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple or kind is np.ndarray:
        return [_plain(v) for v in value]
    if kind is float or isinstance(value, np.floating):
        f = float(value)
        return None if math.isnan(f) else round(f, 4)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _nan_none(value: Any) -> Any:
    """None for a missing value (NaN, pd.NA), the value itself otherwise."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return _plain(value) if isinstance(value, np.generic) else value


def _pct(num: int, den: int) -> float | None:
    return percent(num, den)  # one rounding, as gcovr rounds


def _mcdc(row: dict[str, Any], measured: bool) -> dict[str, Any]:
    """Requirement-based MC/DC numbers, present only when the run measured MC/DC (clang)."""
    if not measured:
        return {}
    total, verified = int(row.get("conditions_total", 0)), int(row.get("conditions_verified", 0))
    return {"conditions_total": total, "conditions_verified": verified, "mcdc": _pct(verified, total)}


def findings_document(analysis: Analysis, gate: GateResult | None = None) -> dict[str, Any]:
    """The findings document of ``analysis`` (and ``gate``), built once and then reused: every
    output of one run renders from this same object."""
    key = f"findings_document:{id(gate)}"
    cached = analysis.cache.get(key)
    if cached is None:
        cached = analysis.cache[key] = _build_document(analysis, gate)
    return dict(cached)


def _hierarchy(r: dict[str, Any]) -> dict[str, Any]:
    """``parent`` and ``verified_through`` (children that verify it), only for a requirement that
    has them: files without a hierarchy give the same document as before."""
    out: dict[str, Any] = {}
    parent = r.get("parent")
    if isinstance(parent, str):
        out["parent"] = parent
    through = r.get("verified_through")
    if isinstance(through, list) and through:
        out["verified_through"] = list(through)
    return out


def _finding(row: dict[str, Any]) -> dict[str, Any]:
    """A finding's row as JSON-ready values (``_plain`` of it, without a call per plain value);
    an empty ``call_path`` or ``decision`` is left out."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("call_path", "decision") and not v:
            continue
        kind = type(v)
        out[str(k)] = v if v is None or kind is str or kind is int or kind is bool else _plain(v)
    return out


def _build_document(analysis: Analysis, gate: GateResult | None) -> dict[str, Any]:
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
            **_hierarchy(r),
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
            "reachable": _nan_none(f["reachable"]),
            "image": _nan_none(f.get("image")),
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
            "duration_s": _nan_none(t["duration_s"]),
            "message": t["message"],
            "file": t["file"],
            "line": int(t["line"]),
            "verifies": [x for x in str(t["verifies"]).replace(",", " ").split() if x],
            "coverage": t["coverage"],
            "attribution": t.get("attribution", "test"),
            "origin": t.get("origin", "host"),
            "variant": t.get("variant", "default"),
        }
        for t in records(analysis.tests)
    ]
    findings = [_finding(row) for row in records(analysis.findings)]
    # the row lists above hold plain Python values already (records() goes through tolist);
    # the small parts go through _plain
    doc = {
        "schema": SCHEMA,
        "tool": {"name": "covguard", "version": __version__},
        "summary": _plain(analysis.summary),
        "requirements": reqs,
        "functions": functions,
        "tests": tests,
        "findings": findings,
        "gate": _plain(gate.to_json()) if gate is not None else None,
        "problems": _plain(analysis.problems),
    }
    if analysis.justifications is not None:  # only with a justification ledger (covguard justify)
        doc["justifications"] = [_plain(r) for r in records(analysis.justifications)]
    return doc


def _dump(value: Any, pad: str) -> str:
    if isinstance(value, dict) and value:
        inner = pad + "  "
        items = (f"{inner}{json.dumps(str(k))}: {_dump(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        inner = pad + "  "
        return "[\n" + ",\n".join(inner + _ENCODE(v) for v in value) + "\n" + pad + "]"
    return _ENCODE(value)


# json.dumps(v, ensure_ascii=False) with one encoder for every record (dumps builds one per call)
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def dumps(doc: dict[str, Any]) -> str:
    """The document as text: objects indented, and every array of records one record per line.

    One record per line reads and diffs well, and lets the C JSON encoder do the work (with
    ``indent`` Python falls back to its pure-Python encoder, which dominates on large projects).
    """
    return _dump(doc, "") + "\n"


@few_collections
def render(analysis: Analysis, gate: GateResult | None = None) -> str:
    return dumps(findings_document(analysis, gate))
