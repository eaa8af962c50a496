"""The terminal summary: short, aligned, readable in a CI log (no colour unless on a terminal)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from covguard.analysis.verdict import GateResult

REQUIREMENT_ORDER = ("verified", "failing", "unverified", "unimplemented", "hollow")
FUNCTION_ORDER = ("verified", "incidental", "traced_untested", "rogue", "dead", "justified")


def _fmt_pct(value: Any) -> str:
    return "  n/a" if value is None else f"{value:5.1f}%"


def _counts(d: dict[str, Any], order: tuple[str, ...]) -> str:
    parts = [f"{d[k]} {k}" for k in order if d.get(k)]
    parts += [f"{v} {k}" for k, v in d.items() if k not in order and k != "total" and v]
    return ", ".join(parts) or "none"


def _mcdc_lines(doc: dict[str, Any]) -> list[str]:
    """MC/DC over all tests and by requirement, and each requirement's (clang runs only)."""
    cov = doc["summary"]["coverage"]
    if "mcdc" not in cov:
        return []
    per = [(r["id"], r["coverage"]) for r in doc["requirements"] if r["coverage"].get("conditions_total")]
    full = [rid for rid, c in per if c["conditions_verified"] == c["conditions_total"]]
    short = [
        f"{rid} {_fmt_pct(c['mcdc']).strip()} ({c['conditions_verified']}/{c['conditions_total']})"
        for rid, c in per
        if c["conditions_verified"] < c["conditions_total"]
    ]
    return [
        f"  MC/DC          all tests {_fmt_pct(cov['mcdc'])}   "
        f"by requirement {_fmt_pct(cov['requirement_mcdc'])}",
        f"  MC/DC by req.  {len(full)} of {len(per)} requirements with decisions at 100%"
        + (f"; below: {', '.join(short)}" if short else ""),
    ]


def _coarse_lines(doc: dict[str, Any]) -> list[str]:
    """Said in the summary, never silent: tests whose coverage is their whole executable's."""
    coarse = [t for t in doc.get("tests", []) if t.get("attribution") == "executable"]
    if not coarse:
        return []
    exes = sorted({t["executable"] for t in coarse})
    return [
        f"  attribution    {len(coarse)} tests credited per executable, not per test "
        f"({', '.join(exes[:3])}{' and more' if len(exes) > 3 else ''}): see coarse_attribution"
    ]


SUMMARY_FINDINGS = 40  # findings listed in the summary; the rest are counted


def render_summary(doc: dict[str, Any], *, max_findings: int = SUMMARY_FINDINGS) -> str:
    """The summary of a findings document (``findings.json`` content), or of its summary view
    (:func:`covguard.report.findings_json.summary_view`: the first findings, their number and widest
    kind)."""
    s = doc["summary"]
    cov = s["coverage"]
    lines = [
        f"covguard: {s['requirements']['total']} requirements, {s['functions']['total']} functions, "
        f"{s['lines']['total']} executable lines, {s['tests']['total']} tests",
        f"  tests          {_counts(s['tests'], ('passed', 'failed', 'error', 'skipped'))}",
        f"  coverage       line {_fmt_pct(cov['line'])}   branch {_fmt_pct(cov['branch'])}   "
        f"function {_fmt_pct(cov['function'])}",
        f"  by requirement line {_fmt_pct(cov['requirement_line'])}   "
        f"branch {_fmt_pct(cov['requirement_branch'])}"
        "   (only executions by passing tests of the code's own requirements)",
        *_mcdc_lines(doc),
        *_coarse_lines(doc),
        f"  requirements   {_counts(s['requirements'], REQUIREMENT_ORDER)}",
        f"  functions      {_counts(s['functions'], FUNCTION_ORDER)}",
        f"  findings       {_counts(s['findings'], ())}",
    ]
    findings = doc["findings"]
    total = doc.get("findings_total", len(findings))
    lines.append("")
    lines.append(f"findings ({total}):" if total else "findings: none")
    width = doc.get("findings_kind_width", max((len(f["kind"]) for f in findings), default=0))
    for f in findings[:max_findings]:
        where = f"{f['file']}:{f['line']}" if f.get("file") else ""
        lines.append(f"  {f['severity'].upper():7} {f['kind']:<{width}}  {where}")
        lines.append(f"          {f['message']}")
        if f.get("call_path"):
            lines.append("          call path: " + " -> ".join(f["call_path"]))
    if total > max_findings:
        lines.append(f"  ... and {total - max_findings} more in findings.json")
    return "\n".join(lines)


def render_gate(gate: GateResult) -> str:
    selected = [c for c in gate.named("run.selected") if c.check == "run.selected"]
    partial = "".join(f"gate: PARTIAL RUN: {c.detail}\n" for c in selected)
    return partial + _render_verdict(gate)


def _render_verdict(gate: GateResult) -> str:
    if gate.passed:
        return f"gate: PASSED ({gate.check_count} checks)"
    failures = gate.failures
    rows = [("check", "subject", "actual", "limit")]
    rows += [(c.check, c.subject, f"{c.actual:g}", f"{c.limit:g}") for c in failures]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = [f"gate: FAILED ({len(failures)} of {gate.check_count} checks)"]
    for i, r in enumerate(rows):
        out.append(
            "  " + "  ".join(v.ljust(widths[j]) if j < 2 else v.rjust(widths[j]) for j, v in enumerate(r))
        )
        if i == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_change_details(gate: GateResult) -> str:
    """The details of the baseline and diff gates' checks (``baseline.*``, ``diff.*``): what failed and
    why, and how many findings the baseline holds; empty without those gates."""
    out = [
        f"  {c.check} {c.subject}: {c.detail}"
        for c in gate.named("baseline.", "diff.")
        if c.detail and (not c.passed or c.check == "baseline.existing")
    ]
    return "\n".join(out)


OUTPUT_LABELS = {
    "findings": "findings (covguard's contract, JSON)",
    "junit": "test results (JUnit XML, requirements as properties)",
    "html": "HTML report (open in a browser)",
    "sarif": "code-scanning findings (SARIF 2.1.0)",
    "markdown": "pull-request comment (Markdown)",
    "trace-csv": "trace matrix (CSV)",
    "trace-xlsx": "trace matrix (XLSX)",
    "cobertura": "line and branch coverage (Cobertura XML)",
    "html-details": "line-level coverage (gcovr's HTML)",
}


def render_outputs(outputs: dict[str, Path], output_dir: Path) -> str:
    """Where each output is, one per line (paths relative to the current folder when inside it)."""
    if not outputs:
        return f"no outputs written to {output_dir}"
    cwd = Path.cwd()

    def shown(p: Path) -> str:
        rel = os.path.relpath(p, cwd)
        return p.as_posix() if rel.startswith("..") else Path(rel).as_posix()

    width = max(len(shown(p)) for p in outputs.values())
    lines = [f"outputs ({len(outputs)}) in {shown(output_dir)}:"]
    lines += [f"  {shown(p):<{width}}  {OUTPUT_LABELS.get(name, name)}" for name, p in outputs.items()]
    return "\n".join(lines)
