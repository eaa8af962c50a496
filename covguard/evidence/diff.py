"""`covguard evidence diff OLD NEW`: what changed since the release the auditor accepted before.

Both packages are verified first (:func:`covguard.evidence.verify.verify_evidence`, with the
trusted keys when given): a comparison of packages that do not verify would compare claims.  Then,
from the verified members only:

* **requirements** (``reports/findings.json``): added, removed, retitled, changed in status or in
  safety class; the requirement-based coverage (line, branch, MC/DC) per requirement that changed;
* **findings**: new and resolved, matched by the fingerprint SARIF gives them
  (:func:`covguard.report.sarif.finding_fingerprint`: kind, file, function, requirement, test -
  never the line, so code moving does not make a finding new);
* **functions**: added, removed, changed class; coverage per function that changed;
* **tests**: added, removed, changed status (a fixed failing test);
* **sources** (the manifests' SHA-256 of ``sources/...``): added, removed, changed, with the
  functions whose lines changed (a line diff of the two packaged texts against the functions'
  extents) and whether the tests verifying those functions changed too;
* **justifications**: added, renewed (same code, new approval or hash), gone stale - from the
  package's justification ledger member when it has one (``justifications/...json``), else from
  the functions' justifications in the findings;
* **tool and toolchain versions** (``toolchain/versions.json``) and the gate's verdict.

A *regression* is a new finding, a gate that passed and now fails, a requirement whose status or
coverage went down, a test that passed and now fails, a justification gone stale:
``--fail-on-regression`` exits 1 on any.
"""

from __future__ import annotations

import difflib
import html
import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covguard.evidence.archive import extract, scan
from covguard.evidence.layout import FINDINGS, EvidenceInputError
from covguard.evidence.sign import PublicKey
from covguard.evidence.statement import read_statement
from covguard.evidence.verify import VerifyResult, verify_evidence
from covguard.files import write_text
from covguard.report.sarif import finding_fingerprint

VERSIONS = "toolchain/versions.json"
LEDGER_PREFIX = "justifications"
MAX_SOURCE_BYTES = 8 << 20  # a source larger than this is compared by digest only
# a requirement's status (covguard.analysis.analyse): a move down this order is a regression
STATUS_RANK = {"verified": 3, "hollow": 2, "unverified": 1, "failing": 1, "unimplemented": 0}
COVERAGE_KEYS = (("line", "lines"), ("branch", "branches"), ("mcdc", "MC/DC"))
STALE_STATES = ("stale", "expired", "orphan")
LEDGER_LISTS = ("entries", "justifications", "items", "ledger", "justification", "recorded")


@dataclass
class Side:
    """One verified package, as the comparison reads it."""

    path: Path
    verified: VerifyResult
    digests: dict[str, str]
    findings: dict[str, Any]
    versions: dict[str, Any]
    ledger: list[dict[str, Any]] | None
    sources: dict[str, bytes]  # the packaged texts of the sources that changed


@dataclass
class Change:
    """One row of the comparison: what, and how it changed."""

    section: str
    item: str
    change: str
    detail: str = ""
    regression: bool = False


@dataclass
class EvidenceDiff:
    """The comparison of two verified packages."""

    old: Path
    new: Path
    old_signature: str
    new_signature: str
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]

    def markdown(self) -> str:
        return render_markdown(self)

    def html(self) -> str:
        return render_html(self)

    def write(self, *, markdown: Path | None = None, html: Path | None = None) -> None:
        if markdown is not None:
            write_text(markdown, self.markdown())
        if html is not None:
            write_text(html, self.html())


SECTIONS = (
    ("gate", "Gate"),
    ("requirements", "Requirements"),
    ("requirement coverage", "Requirement-based coverage"),
    ("findings", "Findings"),
    ("functions", "Functions"),
    ("function coverage", "Coverage per function"),
    ("tests", "Tests"),
    ("sources", "Sources"),
    ("justifications", "Justifications"),
    ("versions", "Tool and toolchain versions"),
)


# ---------------------------------------------------------------------------------------------
# reading a verified package


def _json_member(stage: Path, name: str) -> Any:
    try:
        return json.loads((stage / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _ledger(stage: Path, names: Iterable[str]) -> list[dict[str, Any]] | None:
    """The entries of the package's justification ledger member(s), or None without one."""
    found = sorted(
        n for n in names if n.split("/")[0].startswith(LEDGER_PREFIX) and n.endswith((".json", ".toml"))
    )
    if not found:
        return None
    entries: list[dict[str, Any]] = []
    for name in found:
        doc = _json_member(stage, name) if name.endswith(".json") else _toml_member(stage, name)
        items: Any = doc
        if isinstance(
            doc, dict
        ):  # a JSON table of entries, or the ledger file ([[justification]], [[recorded]])
            lists = [doc[k] for k in LEDGER_LISTS if isinstance(doc.get(k), list)]
            items = [e for part in lists for e in part]
        if isinstance(items, list):
            entries += [e for e in items if isinstance(e, dict)]
    return entries


def _toml_member(stage: Path, name: str) -> Any:
    import tomllib

    try:
        path = stage / name
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _subjects(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """The manifest's subjects of a (verified) package, and the members' sizes."""
    with path.open("rb") as handle:
        found = scan(handle, str(path))
    digests, _predicate, bad = read_statement(found.manifest or b"")
    if bad:  # pragma: no cover - verify_evidence refused such a package already
        raise EvidenceInputError("; ".join(bad), path=path)
    return digests, found.sizes


def _read(path: Path, verified: VerifyResult, stage: Path, changed: set[str]) -> Side:
    digests, sizes = _subjects(path)
    ledger_names = {n for n in digests if n.split("/")[0].startswith(LEDGER_PREFIX)}
    sources = {n for n in changed if n in digests and sizes.get(n, 0) <= MAX_SOURCE_BYTES}
    stage.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as handle:
        extract(handle, str(path), stage, {FINDINGS, VERSIONS, *ledger_names, *sources} & set(digests))
    findings = _json_member(stage, FINDINGS)
    versions = _json_member(stage, VERSIONS)
    return Side(
        path=path,
        verified=verified,
        digests=digests,
        findings=findings if isinstance(findings, dict) else {},
        versions=versions if isinstance(versions, dict) else {},
        ledger=_ledger(stage, ledger_names),
        sources={n: (stage / n).read_bytes() for n in sources if (stage / n).is_file()},
    )


def _signature(v: VerifyResult) -> str:
    sig = v.signature
    if sig.verified:
        return f"signed by trusted key id {', '.join(sig.verified)}"
    if sig.signed:
        return f"signed by key id {', '.join(sig.signers)}: authenticity NOT checked (no --key)"
    return "not signed: authenticity NOT checked"


def diff_packages(
    old: Path, new: Path, *, keys: Sequence[PublicKey] = (), digest_only: bool = False
) -> EvidenceDiff:
    """Verify both packages, then compare them (see the module's documentation)."""
    old_v = verify_evidence(old, keys=keys, digest_only=digest_only)
    new_v = verify_evidence(new, keys=keys, digest_only=digest_only)
    (da, _), (db, _) = _subjects(old), _subjects(new)
    changed = {n for n in set(da) | set(db) if n.startswith("sources/") and da.get(n) != db.get(n)}
    with tempfile.TemporaryDirectory(prefix="covguard-diff-") as tmp:
        a = _read(old, old_v, Path(tmp) / "old", changed)
        b = _read(new, new_v, Path(tmp) / "new", changed)
    result = EvidenceDiff(old, new, _signature(old_v), _signature(new_v))
    result.changes += _gate(a, b)
    result.changes += _requirements(a, b)
    result.changes += _findings(a, b)
    result.changes += _functions(a, b)
    result.changes += _tests(a, b)
    result.changes += _sources(a, b, changed)
    result.changes += _justifications(a, b)
    result.changes += _versions(a, b)
    if a.ledger is None and b.ledger is None:
        result.notes.append(
            "neither package carries a justification ledger: justifications compared from the findings"
        )
    return result


# ---------------------------------------------------------------------------------------------
# the sections


def _by(items: Any, key: Any) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            out.setdefault(key(item), item)
    return out


def _pct(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} %"


def _gate(a: Side, b: Side) -> list[Change]:
    was, now = a.verified.gate_passed, b.verified.gate_passed
    if was == now:
        return []
    words = {True: "passed", False: "failed", None: "not recorded"}
    return [Change("gate", "gate", f"{words[was]} -> {words[now]}", regression=was is True and now is False)]


def _requirements(a: Side, b: Side) -> list[Change]:
    old = _by(a.findings.get("requirements"), lambda r: str(r.get("id")))
    new = _by(b.findings.get("requirements"), lambda r: str(r.get("id")))
    out: list[Change] = []
    for rid in sorted(set(old) | set(new)):
        if rid not in new:
            out.append(Change("requirements", rid, "removed", str(old[rid].get("title", ""))))
            continue
        if rid not in old:
            r = new[rid]
            out.append(
                Change(
                    "requirements",
                    rid,
                    "added",
                    f"{r.get('title', '')} (class {r.get('safety_class')}, {r.get('status')})",
                )
            )
            continue
        o, n = old[rid], new[rid]
        if o.get("title") != n.get("title"):
            out.append(Change("requirements", rid, "retitled", f"{o.get('title')!r} -> {n.get('title')!r}"))
        if o.get("status") != n.get("status"):
            worse = STATUS_RANK.get(str(n.get("status")), 0) < STATUS_RANK.get(str(o.get("status")), 0)
            out.append(
                Change(
                    "requirements", rid, "status", f"{o.get('status')} -> {n.get('status')}", regression=worse
                )
            )
        if o.get("safety_class") != n.get("safety_class"):
            out.append(
                Change("requirements", rid, "class", f"{o.get('safety_class')} -> {n.get('safety_class')}")
            )
        out += _coverage("requirement coverage", rid, o.get("coverage"), n.get("coverage"))
    return out


def _coverage(section: str, item: str, old: Any, new: Any) -> list[Change]:
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    parts = []
    down = False
    for key, label in COVERAGE_KEYS:
        x, y = old.get(key), new.get(key)
        if x != y and (x is not None or y is not None):
            parts.append(f"{label} {_pct(x)} -> {_pct(y)}")
            down = down or (x is not None and (y is None or float(y) < float(x)))
    for total in ("lines_total", "branches_total"):
        if old.get(total) != new.get(total) and not parts:
            parts.append(f"{total.replace('_', ' ')} {old.get(total)} -> {new.get(total)}")
    if not parts:
        return []
    return [
        Change(section, item, "coverage", "; ".join(parts), regression=down and section.startswith("req"))
    ]


def _finding_text(f: dict[str, Any]) -> str:
    where = ":".join(str(f[k]) for k in ("file", "line") if f.get(k))
    what = f.get("function") or f.get("requirement") or f.get("test") or ""
    return f"{f.get('kind')} {what} ({where}): {f.get('message', '')}".replace(" ()", "")


def _findings(a: Side, b: Side) -> list[Change]:
    old = _by(a.findings.get("findings"), finding_fingerprint)
    new = _by(b.findings.get("findings"), finding_fingerprint)
    out = [
        Change("findings", _finding_text(new[k]), "new", f"fingerprint {k[:16]}", regression=True)
        for k in sorted(set(new) - set(old), key=lambda k: _finding_text(new[k]))
    ]
    out += [
        Change("findings", _finding_text(old[k]), "resolved", f"fingerprint {k[:16]}")
        for k in sorted(set(old) - set(new), key=lambda k: _finding_text(old[k]))
    ]
    return out


def _fn_key(f: dict[str, Any]) -> str:
    return f"{f.get('file')}::{f.get('function')}"


def _functions(a: Side, b: Side) -> list[Change]:
    old = _by(a.findings.get("functions"), _fn_key)
    new = _by(b.findings.get("functions"), _fn_key)
    out: list[Change] = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append(Change("functions", key, "removed", f"was {old[key].get('class')}"))
        elif key not in old:
            out.append(Change("functions", key, "added", f"{new[key].get('class')}"))
        else:
            o, n = old[key], new[key]
            if o.get("class") != n.get("class"):
                out.append(Change("functions", key, "class", f"{o.get('class')} -> {n.get('class')}"))
            cov = _function_coverage(o.get("coverage"), n.get("coverage"))
            if cov:
                out.append(Change("function coverage", key, "coverage", cov))
    return out


def _function_coverage(old: Any, new: Any) -> str:
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    parts = []
    for kind in ("lines", "branches"):
        for what in ("executed", "verified"):
            k = f"{kind}_{what}"
            t = f"{kind}_total"
            if (old.get(k), old.get(t)) != (new.get(k), new.get(t)):
                parts.append(f"{kind} {what} {old.get(k)}/{old.get(t)} -> {new.get(k)}/{new.get(t)}")
    return "; ".join(parts)


def _tests(a: Side, b: Side) -> list[Change]:
    old = _by(a.findings.get("tests"), lambda t: str(t.get("id")))
    new = _by(b.findings.get("tests"), lambda t: str(t.get("id")))
    out: list[Change] = []
    for tid in sorted(set(old) | set(new)):
        if tid not in new:
            out.append(Change("tests", tid, "removed", f"was {old[tid].get('status')}"))
        elif tid not in old:
            status = new[tid].get("status")
            out.append(Change("tests", tid, "added", str(status), regression=status == "failed"))
        elif old[tid].get("status") != new[tid].get("status"):
            o, n = old[tid].get("status"), new[tid].get("status")
            out.append(
                Change("tests", tid, "status", f"{o} -> {n}", regression=o == "passed" and n != "passed")
            )
    return out


def _changed_lines(old: bytes | None, new: bytes | None) -> tuple[set[float], set[float]]:
    """(lines of the old text, lines of the new text) that the edit touched (1-based); a pure
    insertion or deletion between lines i and i+1 is the point i + 0.5 of the other text."""
    a = (old or b"").decode("utf-8", errors="replace").splitlines()
    b = (new or b"").decode("utf-8", errors="replace").splitlines()
    touched_a: set[float] = set()
    touched_b: set[float] = set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        touched_a.update(range(i1 + 1, i2 + 1) if i2 > i1 else [i1 + 0.5])
        touched_b.update(range(j1 + 1, j2 + 1) if j2 > j1 else [j1 + 0.5])
    return touched_a, touched_b


def _sources(a: Side, b: Side, changed: set[str]) -> list[Change]:
    old_fns = [f for f in a.findings.get("functions") or [] if isinstance(f, dict)]
    new_fns = [f for f in b.findings.get("functions") or [] if isinstance(f, dict)]
    tests_of = _tests_of(b.findings)
    changed_files = {n[len("sources/") :] for n in changed}
    out: list[Change] = []
    for name in sorted(changed):
        file = name[len("sources/") :]
        what = "added" if name not in a.digests else "removed" if name not in b.digests else "changed"
        lines_a, lines_b = _changed_lines(a.sources.get(name), b.sources.get(name))
        affected: dict[str, str] = {}
        for fns, lines in ((old_fns, lines_a), (new_fns, lines_b)):
            for f in fns:
                if f.get("file") != file:
                    continue
                first, last = int(f.get("line_start") or 0), int(f.get("line_end") or 0)
                if any(first <= line <= last for line in lines):
                    affected.setdefault(str(f.get("function")), _fn_key(f))
        detail = []
        for function in sorted(affected):
            tests = tests_of.get(affected[function], set())
            test_files = {t for t, _f in tests}
            moved = sorted(t for t in test_files if t in changed_files)
            verdict = (
                "no test verifies it"
                if not tests
                else f"its tests changed too ({', '.join(moved)})"
                if moved
                else f"its tests did NOT change ({', '.join(sorted(test_files))})"
            )
            detail.append(f"{function}: {verdict}")
        if not affected and what == "changed" and name in a.sources and name in b.sources:
            detail.append("no analysed function's lines changed")
        out.append(Change("sources", file, what, "; ".join(detail)))
    return out


def _tests_of(findings: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """function key -> (test file, test id) of the tests verifying its requirements."""
    tests = _by(findings.get("tests"), lambda t: str(t.get("id")))
    reqs = _by(findings.get("requirements"), lambda r: str(r.get("id")))
    out: dict[str, set[tuple[str, str]]] = {}
    for f in findings.get("functions") or []:
        if not isinstance(f, dict):
            continue
        found: set[tuple[str, str]] = set()
        for rid in f.get("requirements") or []:
            for tid in (reqs.get(str(rid)) or {}).get("verified_by") or []:
                t = tests.get(str(tid))
                if t is not None:
                    found.add((str(t.get("file")), str(tid)))
        out[_fn_key(f)] = found
    return out


def _ledger_key(e: dict[str, Any]) -> str:
    if e.get("key"):
        return str(e["key"])
    where = e.get("function") or (f"lines {e.get('lines')}" if e.get("lines") else "")
    return f"{e.get('file')}::{where}"


def _justifications(a: Side, b: Side) -> list[Change]:
    if a.ledger is not None or b.ledger is not None:
        old = _by(a.ledger or [], _ledger_key)
        new = _by(b.ledger or [], _ledger_key)
        out: list[Change] = []
        for key in sorted(set(old) | set(new)):
            o, n = old.get(key), new.get(key)
            if n is None:
                out.append(Change("justifications", key, "removed", str((o or {}).get("reason", ""))))
                continue
            state = str(n.get("state", ""))
            if o is None:
                out.append(
                    Change("justifications", key, "added", f"{n.get('category', '')}: {n.get('reason', '')}")
                )
            elif any(o.get(k) != n.get(k) for k in ("sha256", "date", "approver", "expires")):
                out.append(
                    Change(
                        "justifications",
                        key,
                        "renewed",
                        f"{o.get('date')} -> {n.get('date')} ({n.get('approver')})",
                    )
                )
            if state in STALE_STATES and str((o or {}).get("state", "")) != state:
                out.append(
                    Change("justifications", key, f"gone {state}", str(n.get("reason", "")), regression=True)
                )
        return out
    old_j = {
        _fn_key(f): f.get("justification")
        for f in a.findings.get("functions") or []
        if f.get("justification")
    }
    new_j = {
        _fn_key(f): f.get("justification")
        for f in b.findings.get("functions") or []
        if f.get("justification")
    }
    out = []
    for key in sorted(set(old_j) | set(new_j)):
        if key not in new_j:
            out.append(Change("justifications", key, "removed", str(old_j[key])))
        elif key not in old_j:
            out.append(Change("justifications", key, "added", str(new_j[key])))
        elif old_j[key] != new_j[key]:
            out.append(Change("justifications", key, "renewed", f"{old_j[key]} -> {new_j[key]}"))
    return out


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: json.dumps(value) if not isinstance(value, str) else value}


def _versions(a: Side, b: Side) -> list[Change]:
    old, new = _flatten(a.versions), _flatten(b.versions)
    return [
        Change("versions", key, "changed", f"{old.get(key, '(none)')} -> {new.get(key, '(none)')}")
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


# ---------------------------------------------------------------------------------------------
# rendering


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(d: EvidenceDiff) -> str:
    lines = [
        f"# Evidence: what changed from {d.old.name} to {d.new.name}",
        "",
        f"- old: `{d.old}` - verified; {d.old_signature}",
        f"- new: `{d.new}` - verified; {d.new_signature}",
        f"- {len(d.changes)} changes, {len(d.regressions)} regressions",
        "",
    ]
    lines += [f"> {n}" for n in d.notes] + ([""] if d.notes else [])
    for key, title in SECTIONS:
        rows = d.section(key)
        lines.append(f"## {title}")
        lines.append("")
        if not rows:
            lines += ["No change.", ""]
            continue
        lines += ["| | item | change | detail |", "|---|---|---|---|"]
        for c in rows:
            mark = "REGRESSION" if c.regression else ""
            lines.append(f"| {mark} | {_md_cell(c.item)} | {_md_cell(c.change)} | {_md_cell(c.detail)} |")
        lines.append("")
    return "\n".join(lines)


CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
    "width:100%;margin-bottom:1.5em}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;"
    "vertical-align:top}th{background:#f3f3f3}tr.regression td{background:#fde8e8}"
    ".muted{color:#777}code{font-size:13px}"
)


def render_html(d: EvidenceDiff) -> str:
    """A self-contained page (no script; inline style only, under the reports' CSP)."""
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
    esc = html.escape
    body = [
        f"<h1>Evidence: what changed from {esc(d.old.name)} to {esc(d.new.name)}</h1>",
        "<ul>",
        f"<li>old: <code>{esc(str(d.old))}</code> - verified; {esc(d.old_signature)}</li>",
        f"<li>new: <code>{esc(str(d.new))}</code> - verified; {esc(d.new_signature)}</li>",
        f"<li>{len(d.changes)} changes, {len(d.regressions)} regressions</li>",
        "</ul>",
        *(f'<p class="muted">{esc(n)}</p>' for n in d.notes),
        '<section id="evidence-diff">',
    ]
    for key, title in SECTIONS:
        rows = d.section(key)
        body.append(f"<h2>{esc(title)}</h2>")
        if not rows:
            body.append('<p class="muted">No change.</p>')
            continue
        body.append("<table><tr><th></th><th>item</th><th>change</th><th>detail</th></tr>")
        for c in rows:
            cls = ' class="regression"' if c.regression else ""
            mark = "regression" if c.regression else ""
            body.append(
                f"<tr{cls}><td>{mark}</td><td>{esc(c.item)}</td><td>{esc(c.change)}</td><td>{esc(c.detail)}</td></tr>"
            )
        body.append("</table>")
    body.append("</section>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<link rel="icon" href="data:,">'
        f"<title>covguard evidence diff</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


__all__ = ["Change", "EvidenceDiff", "diff_packages", "render_html", "render_markdown"]
