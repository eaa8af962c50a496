"""The diff gate: what changed since a git revision must be verified (``covguard gate --diff-base REF``).

Adds to the gate, for the changes of the working tree since ``gate.diff_base``
(:mod:`covguard.change.changeset`):

* ``diff.function`` - one check per function added or changed (its extent holds a changed line
  or a deletion): it must be ``verified`` or ``justified``;
* ``diff.lines`` - one check per changed file: its changed executable lines must be ``verified``
  or ``justified``.

It also records the changed lines on the analysis (``cache["diff_scope"]``), so the Markdown
summary and SARIF show only the findings that touch a changed line (as diff-cover does); the HTML
and ``findings.json`` keep the full picture.
"""

from __future__ import annotations

import pandas as pd

from covguard.analysis.analyse import Analysis
from covguard.analysis.options import GateOptions
from covguard.analysis.verdict import GateCheck, GateResult
from covguard.change.changeset import ChangeSet, changes_since, functions_touched
from covguard.frames import records

OK_FUNCTION = ("verified", "justified")
OK_LINE = ("verified", "justified")


def _ranges(lines: list[int]) -> str:
    out: list[str] = []
    start = prev = lines[0]
    for n in [*lines[1:], -1]:
        if n != prev + 1:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = n
        prev = n
    return ", ".join(out)


def apply_diff(
    result: GateResult, analysis: Analysis, settings: GateOptions, changes: ChangeSet | None = None
) -> GateResult:
    changes = changes or changes_since(settings.root, str(settings.gate_diff_base), what="gate.diff_base")
    analysis.cache["diff_scope"] = changes
    touched = changes.touched()
    fn = analysis.functions
    changed = functions_touched(fn, touched)
    for r in records(changed):
        ok = r["class"] in OK_FUNCTION
        new = r["file"] in changes.added_files
        result.add(
            GateCheck(
                check="diff.function",
                subject=f"{r['file']}:{r['function']}",
                actual=0 if ok else 1,
                limit=0,
                passed=ok,
                detail=f"{'added' if new else 'changed'} since {changes.base}: {r['class']}"
                + ("" if ok else " (must be verified or justified)"),
            )
        )
    lines = analysis.lines.loc[:, ["file", "line", "class"]].astype({"file": str})
    hit = lines.merge(changes.lines, on=["file", "line"])
    for file, group in hit.groupby("file", sort=True):
        bad = sorted(group[~group["class"].isin(OK_LINE)]["line"].astype(int).tolist())
        result.add(
            GateCheck(
                check="diff.lines",
                subject=str(file),
                actual=len(bad),
                limit=0,
                passed=not bad,
                detail=f"{len(group) - len(bad)}/{len(group)} changed executable lines verified or justified"
                + (f"; not: {_ranges(bad)}" if bad else ""),
            )
        )
    return result


def in_diff(findings: list[dict[str, object]], changes: ChangeSet) -> list[dict[str, object]]:
    """The findings whose lines hold a changed line (or a deletion point)."""
    touched = changes.touched()
    if not len(touched) or not findings:
        return []
    f = pd.DataFrame(
        {
            "i": range(len(findings)),
            "file": [str(x.get("file") or "") for x in findings],
            "first": [int(str(x.get("line") or 0)) for x in findings],
            "last": [int(str(x.get("end_line") or x.get("line") or 0)) for x in findings],
        }
    )
    m = f.merge(touched, on="file")
    keep = set(m[(m["line"] >= m["first"]) & (m["line"] <= m["last"])]["i"].tolist())
    return [x for i, x in enumerate(findings) if i in keep]
