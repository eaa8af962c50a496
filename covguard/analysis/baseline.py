"""The baseline gate: fail only on what is new or worse than an earlier release's findings.

``gate.baseline`` (``covguard gate --baseline FILE``) is a ``findings.json`` or an evidence
package (its ``reports/findings.json``).  Findings are matched by the line-independent
fingerprint SARIF uses (kind, file, function, requirement, test; :func:`covguard.report.sarif.fingerprint`),
as a multiset: a finding is *new* when the current run has more findings of its fingerprint than
the baseline.  Files that git detects as renamed since the baseline's commit (the package's
``vcs/git.json``, or ``gate.baseline_ref``) are mapped to their new names first, so renamed and
moved code does not make old findings new.

The gate then:

* replaces each ``max_findings.KIND`` check by ``baseline.new.KIND``: the *new* findings of the
  kind against the same limit (new code is held to the full policy); findings in the baseline
  are reported as existing, not failed.  ``gate.baseline_mode = "ratchet"`` adds
  ``baseline.ratchet.KIND``: the count of every kind must not grow;
* keeps the coverage thresholds for new functions and for functions that met them in the
  baseline; a function that was already under its threshold passes as existing debt as long as
  its requirement-based coverage does not drop;
* adds ``baseline.status`` (a requirement whose status worsens: verified < hollow < unverified,
  unimplemented < failing) and ``baseline.coverage`` (a requirement or function whose
  requirement-based line or branch coverage drops).

The baseline file is hostile input: size-capped, read without extracting anything to disk, and
checked to be a ``covguard.findings/1`` document.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

from covguard.analysis.analyse import Analysis
from covguard.analysis.options import GateOptions
from covguard.analysis.verdict import GateCheck, GateResult
from covguard.errors import InputError
from covguard.frames import records
from covguard.report.sarif import fingerprint

MAX_BYTES = 512 << 20
_PACKAGE_FINDINGS = "covguard-evidence/reports/findings.json"
_PACKAGE_GIT = "covguard-evidence/vcs/git.json"
STATUS_RANK = {"verified": 0, "hollow": 1, "unverified": 2, "unimplemented": 2, "failing": 3}


def load_baseline(path: Path) -> tuple[dict[str, Any], str | None]:
    """The findings document of a baseline file and the commit it was made from (when known)."""
    if not path.is_file():
        raise InputError(
            "the baseline is not a file", path=path, hint="give a findings.json or evidence package"
        )
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"the baseline is over {MAX_BYTES} bytes", path=path)
    commit: str | None = None
    if tarfile.is_tarfile(path):
        data, git = _from_package(path)
        if git is not None:
            try:
                info = json.loads(git)
                commit = info.get("commit") if isinstance(info, dict) else None
            except ValueError:
                commit = None
    else:
        data = path.read_bytes()
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"the baseline is not JSON: {exc}", path=path) from None
    if not isinstance(doc, dict) or doc.get("schema") != "covguard.findings/1":
        raise InputError(
            "the baseline is not a covguard findings document (schema covguard.findings/1)",
            path=path,
            hint="give the findings.json or the evidence package of an earlier covguard run",
        )
    for key in ("findings", "functions", "requirements"):
        if not isinstance(doc.get(key, []), list) or not all(isinstance(r, dict) for r in doc.get(key, [])):
            raise InputError(f"the baseline's '{key}' is not a list of records", path=path)
        for i, record in enumerate(doc.get(key, [])):
            for field in ("kind", "file", "function", "requirement", "test", "id", "status"):
                value = record.get(field)
                if value is not None and not isinstance(value, str | int):
                    shown = str(value)[:60]
                    raise InputError(f"the baseline's {key}[{i}].{field} is not text: {shown}", path=path)
    return doc, commit if isinstance(commit, str) else None


def _from_package(path: Path) -> tuple[bytes, bytes | None]:
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.name in (_PACKAGE_FINDINGS, _PACKAGE_GIT) and member.isreg():
                    if member.size > MAX_BYTES:
                        raise InputError(f"{member.name} in the baseline is too large", path=path)
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[member.name] = handle.read(MAX_BYTES + 1)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InputError(f"the baseline package cannot be read: {exc}", path=path) from None
    if _PACKAGE_FINDINGS not in found:
        raise InputError(f"the baseline package has no {_PACKAGE_FINDINGS}", path=path)
    return found[_PACKAGE_FINDINGS], found.get(_PACKAGE_GIT)


def _renamed(rows: list[dict[str, Any]], renames: dict[str, str]) -> list[dict[str, Any]]:
    if not renames:
        return rows
    return [{**r, "file": renames.get(str(r.get("file") or ""), r.get("file"))} for r in rows]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pct(num: Any, den: Any) -> float | None:
    try:
        n, d = float(num), float(den)
    except (TypeError, ValueError):
        return None
    return 100.0 * n / d if d > 0 else None


def apply_baseline(
    result: GateResult, analysis: Analysis, settings: GateOptions, *, renames: dict[str, str] | None = None
) -> GateResult:
    """The gate's checks judged against the baseline (see the module docstring); marks every finding
    of ``analysis`` ``baseline = "new"`` or ``"existing"``."""
    path = Path(str(settings.gate_baseline))
    doc, commit = load_baseline(path)
    if renames is None:
        ref = str(settings.gate_baseline_ref or "") or commit
        renames = {}
        if ref:
            from covguard.change.changeset import renames_since

            renames = renames_since(settings.root, ref, what="gate.baseline_ref")
    base_findings = _renamed(doc.get("findings", []), renames)
    have = Counter(fingerprint(f) for f in base_findings)
    current = records(analysis.findings)
    marks: list[str] = []
    seen: Counter[str] = Counter()
    for f in current:
        fp = fingerprint(f)
        seen[fp] += 1
        marks.append("existing" if seen[fp] <= have.get(fp, 0) else "new")
    analysis.findings = analysis.findings.assign(baseline=marks)
    new_by_kind = Counter(f["kind"] for f, m in zip(current, marks, strict=True) if m == "new")
    old_by_kind = Counter(str(f.get("kind")) for f in base_findings)
    all_by_kind = Counter(f["kind"] for f in current)
    base_functions = _renamed(doc.get("functions", []), renames)
    fn_before = {(f.get("file"), f.get("function")): f for f in base_functions}
    checks: list[GateCheck] = []
    for c in result.checks:
        if c.check.startswith("max_findings."):
            kind = c.subject
            n = new_by_kind.get(kind, 0)
            existing = all_by_kind.get(kind, 0) - n
            checks.append(
                GateCheck(
                    check=f"baseline.new.{kind}",
                    subject=kind,
                    actual=n,
                    limit=c.limit,
                    passed=n <= c.limit,
                    detail=f"{n} new, {existing} existing (in the baseline)",
                )
            )
        else:
            checks.append(_threshold_vs_baseline(c, fn_before))
    if settings.gate_baseline_mode == "ratchet":
        for kind in sorted(set(all_by_kind) | set(old_by_kind)):
            now, before = all_by_kind.get(kind, 0), old_by_kind.get(kind, 0)
            checks.append(
                GateCheck(
                    check=f"baseline.ratchet.{kind}",
                    subject=kind,
                    actual=now,
                    limit=before,
                    passed=now <= before,
                    detail=f"{now} now, {before} in the baseline",
                )
            )
    existing = sum(1 for m in marks if m == "existing")
    checks.append(
        GateCheck(
            check="baseline.existing",
            subject="findings in the baseline",
            actual=existing,
            limit=existing,
            passed=True,
            detail=f"{existing} finding(s) in the baseline: reported as existing, not failed; "
            f"{len(marks) - existing} new",
        )
    )
    checks.extend(_requirement_checks(analysis, doc))
    checks.extend(_function_checks(analysis, fn_before))
    result.checks[:] = checks
    return result


def _threshold_vs_baseline(c: GateCheck, fn_before: dict[tuple[Any, Any], dict[str, Any]]) -> GateCheck:
    """A failing coverage threshold of a function that already failed it in the baseline: existing debt."""
    metric = c.check.split(".", 1)[0]
    if c.passed or metric not in ("line", "branch", "mcdc") or ":" not in c.subject:
        return c
    file, function = c.subject.rsplit(":", 1)
    before = fn_before.get((file, function))
    if before is None:
        return c
    cov = _dict(before.get("coverage"))
    num, den = {"line": ("lines_verified", "lines_total"), "branch": ("branches_verified", "branches_total"),
                "mcdc": ("conditions_verified", "conditions_total")}[metric]  # fmt: skip
    old = _pct(cov.get(num), cov.get(den))
    if old is None or old >= c.limit or c.actual + 1e-9 < round(old, 2):
        return c
    return GateCheck(
        c.check, c.subject, c.actual, c.limit, True, c.detail + f"; existing: {old:.2f} % in the baseline"
    )


def _requirement_checks(analysis: Analysis, doc: dict[str, Any]) -> list[GateCheck]:
    before = {str(r.get("id")): r for r in doc.get("requirements", [])}
    checks: list[GateCheck] = []
    for r in records(analysis.requirements):
        old = before.get(r["id"])
        if old is None:
            continue
        was, now = str(old.get("status")), str(r["status"])
        if STATUS_RANK.get(now, 0) > STATUS_RANK.get(was, 0):
            checks.append(
                GateCheck(
                    "baseline.status",
                    r["id"],
                    STATUS_RANK[now],
                    STATUS_RANK.get(was, 0),
                    False,
                    f"{r['id']} was {was}, is {now}",
                )
            )
        cov = _dict(old.get("coverage"))
        for metric, num, den in (("line", "lines_verified", "lines_total"),
                                 ("branch", "branches_verified", "branches_total")):  # fmt: skip
            a, b = _pct(r[num], r[den]), _pct(cov.get(num), cov.get(den))
            if a is not None and b is not None and a + 1e-9 < b:
                checks.append(
                    GateCheck(
                        f"baseline.coverage.{metric}",
                        r["id"],
                        round(a, 2),
                        round(b, 2),
                        False,
                        f"requirement {r['id']}: requirement-based {metric} coverage dropped from "
                        f"{b:.2f} % to {a:.2f} %",
                    )
                )
    return checks


def _function_checks(analysis: Analysis, before: dict[tuple[Any, Any], dict[str, Any]]) -> list[GateCheck]:
    checks: list[GateCheck] = []
    for f in records(analysis.functions):
        old = before.get((f["file"], f["function"]))
        if old is None:
            continue
        cov = _dict(old.get("coverage"))
        for metric, num, den in (("line", "lines_verified", "lines_total"),
                                 ("branch", "branches_verified", "branches_total")):  # fmt: skip
            a, b = _pct(f[num], f[den]), _pct(cov.get(num), cov.get(den))
            if a is not None and b is not None and a + 1e-9 < b:
                checks.append(
                    GateCheck(
                        f"baseline.coverage.{metric}",
                        f"{f['file']}:{f['function']}",
                        round(a, 2),
                        round(b, 2),
                        False,
                        f"requirement-based {metric} coverage dropped from {b:.2f} % to {a:.2f} %",
                    )
                )
    return checks
