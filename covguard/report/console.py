"""The terminal summary: short, aligned, readable in a CI log (no colour unless on a terminal)."""

from __future__ import annotations

from typing import Any

from covguard.analysis.gate import GateResult

REQUIREMENT_ORDER = ("verified", "failing", "unverified", "unimplemented", "hollow")
FUNCTION_ORDER = ("verified", "incidental", "traced_untested", "rogue", "dead", "justified")


def _fmt_pct(value: Any) -> str:
    return "  n/a" if value is None else f"{value:5.1f}%"


def _counts(d: dict[str, Any], order: tuple[str, ...]) -> str:
    parts = [f"{d[k]} {k}" for k in order if d.get(k)]
    parts += [f"{v} {k}" for k, v in d.items() if k not in order and k != "total" and v]
    return ", ".join(parts) or "none"


def render_summary(doc: dict[str, Any], *, max_findings: int = 40) -> str:
    """The summary of a findings document (``findings.json`` content)."""
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
        f"  requirements   {_counts(s['requirements'], REQUIREMENT_ORDER)}",
        f"  functions      {_counts(s['functions'], FUNCTION_ORDER)}",
    ]
    findings = doc["findings"]
    lines.append("")
    lines.append(f"findings ({len(findings)}):" if findings else "findings: none")
    width = max((len(f["kind"]) for f in findings), default=0)
    for f in findings[:max_findings]:
        where = f"{f['file']}:{f['line']}" if f.get("file") else ""
        lines.append(f"  {f['severity'].upper():7} {f['kind']:<{width}}  {where}")
        lines.append(f"          {f['message']}")
        if f.get("call_path"):
            lines.append("          call path: " + " -> ".join(f["call_path"]))
    if len(findings) > max_findings:
        lines.append(f"  ... and {len(findings) - max_findings} more in findings.json")
    return "\n".join(lines)


def render_gate(gate: GateResult) -> str:
    if gate.passed:
        return f"gate: PASSED ({len(gate.checks)} checks)"
    rows = [("check", "subject", "actual", "limit")]
    rows += [(c.check, c.subject, f"{c.actual:g}", f"{c.limit:g}") for c in gate.failures]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = [f"gate: FAILED ({len(gate.failures)} of {len(gate.checks)} checks)"]
    for i, r in enumerate(rows):
        out.append(
            "  " + "  ".join(v.ljust(widths[j]) if j < 2 else v.rjust(widths[j]) for j, v in enumerate(r))
        )
        if i == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(out)
