"""The HTML report: one self-contained page for the firmware engineer and the auditor.

Everything is inline (CSS, a little JavaScript, an SVG chart); a Content-Security-Policy forbids
the page any network fetch.  Sections, all rendered from the findings document and the analysis
frames (the same view as ``findings.json``, so the page never disagrees with it):

* the gate verdict and the summary (plain and requirement-based coverage, counts);
* the findings with their evidence (tests, suggested requirements, call path), filterable;
* the requirement table (status, tests, requirement-based coverage, safety class) and a chart of
  requirement-based line and branch coverage per requirement;
* the trace matrix in both directions: requirement -> functions and tests, and function ->
  requirements and tests, test -> requirements (:func:`covguard.report.trace_matrix.trace_links`);
* the source of every analysed file, each executable line coloured by its class (verified,
  incidental, unexecuted, justified, excluded), with the number of tests that ran it, and a
  link to gcovr's own detailed page of the file when it was written.

Source views are built with vectorised string operations over all lines at once.  No timestamp:
the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from covguard.analysis.analyse import Analysis
from covguard.frames import CoverageData, grouped_lists, records
from covguard.report import html_sources
from covguard.report.html_rows import ROWS_SCRIPT, RestRows, finding_rows, function_rows
from covguard.report.trace_matrix import joined, trace_links

MAX_SOURCE_LINES = 300_000  # beyond this, only files with a finding or a gap get a source view
INLINE_SOURCE_LINES = 20_000  # beyond this, each source file gets a page of its own (SOURCE_PAGES/)
SOURCE_PAGES = "sources"
PAGE_ROWS = 200  # longer tables show this many rows first, and a button for the rest

LINE_CLASSES = ("verified", "incidental", "unexecuted", "justified", "excluded")
STATUS_COLOURS = {
    "verified": "#2e7d32",
    "failing": "#c62828",
    "hollow": "#c62828",
    "unverified": "#ef6c00",
    "unimplemented": "#ef6c00",
}

CSS = """
:root { --ok:#2e7d32; --bad:#c62828; --warn:#ef6c00; --info:#1565c0; --mute:#666; --line:#ddd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; }
header { padding: 16px 24px; color: #fff; background: #37474f; }
header.passed { background: var(--ok); } header.failed { background: var(--bad); }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; }
nav { position: sticky; top: 0; background: #fafafa; border-bottom: 1px solid var(--line); padding: 6px 24px;
      z-index: 2; }
nav a { margin-right: 14px; color: #333; text-decoration: none; font-weight: 600; }
main { padding: 8px 24px 48px; max-width: 1500px; }
h2 { margin-top: 32px; border-bottom: 2px solid #eee; padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 33px; }
td.num, th.num { text-align: right; white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 200px; }
.card b { display: block; font-size: 20px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; color: #fff;
         background: var(--mute); white-space: nowrap; }
.b-verified, .b-passed { background: var(--ok); }
.b-failing, .b-failed, .b-error, .b-hollow, .b-rogue, .b-dead, .b-unexecuted { background: var(--bad); }
.b-unverified, .b-unimplemented, .b-traced_untested, .b-warning, .b-skipped { background: var(--warn); }
.b-incidental { background: #f9a825; color: #222; }
.b-justified { background: var(--info); }
.sev-error { color: var(--bad); font-weight: 700; } .sev-warning { color: var(--warn); font-weight: 700; }
.muted { color: var(--mute); } .small { font-size: 12px; }
td.small, td.small code { overflow-wrap: break-word; }
div.evidence { margin-top: 4px; color: #444; }
ul.plain { margin: 0; padding-left: 16px; }
code, .src td.s { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
                  font-size: 12.5px; }
.src { width: auto; min-width: 60%; }
.src td { border: 0; padding: 0 8px; }
.src td.s { white-space: pre; tab-size: 4; }
.src td.n, .src td.c { text-align: right; color: var(--mute); user-select: none; }
tr.l-verified td, .lg-verified { background: #dff3e3; }
tr.l-incidental td, .lg-incidental { background: #fff4c2; }
tr.l-unexecuted td, .lg-unexecuted { background: #ffd9d9; }
tr.l-justified td, .lg-justified { background: #dfe8fb; }
tr.l-excluded td, .lg-excluded { background: #ececec; }
tr:target td { outline: 2px solid #333; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border: 1px solid var(--line); }
details.file { margin: 6px 0; border: 1px solid var(--line); border-radius: 4px; }
details.file > summary { padding: 6px 10px; cursor: pointer; background: #f7f7f7; }
.filters button { margin: 2px 4px 2px 0; border: 1px solid #bbb; background: #fff; border-radius: 12px;
                  padding: 2px 10px; cursor: pointer; }
.filters button.on { background: #37474f; color: #fff; }
input.filter { padding: 4px 8px; width: 320px; margin: 6px 0; }
.hidden { display: none; }
table.paged tr.more { display: none; }
"""

SCRIPT = (
    """
(function () {
  'use strict';"""
    + ROWS_SCRIPT
    + """  var buttons = document.querySelectorAll('#findings .filters button');
  function applyKind(kind) {
    var table = document.getElementById('findings-table');
    if (table && kind !== 'all') { drawRest(table); table.classList.remove('paged'); }
    buttons.forEach(function (b) { b.classList.toggle('on', b.getAttribute('data-kind') === kind); });
    document.querySelectorAll('#findings tbody tr').forEach(function (row) {
      var show = kind === 'all' || row.getAttribute('data-kind') === kind ||
                 row.getAttribute('data-severity') === kind;
      row.classList.toggle('hidden', !show);
    });
  }
  buttons.forEach(function (b) {
    b.addEventListener('click', function () { applyKind(b.getAttribute('data-kind')); });
  });
  document.querySelectorAll('button.all-rows').forEach(function (b) {
    b.addEventListener('click', function () {
      var table = document.getElementById(b.getAttribute('data-table'));
      if (table) { drawRest(table); table.classList.remove('paged'); }
      b.classList.add('hidden');
    });
  });
  document.querySelectorAll('input.filter').forEach(function (input) {
    var table = document.getElementById(input.getAttribute('data-table'));
    if (!table) { return; }
    input.addEventListener('input', function () {
      drawRest(table);
      table.classList.remove('paged');
      var needle = input.value.toLowerCase();
      table.querySelectorAll('tbody tr').forEach(function (row) {
        row.classList.toggle('hidden', needle !== '' && row.textContent.toLowerCase().indexOf(needle) < 0);
      });
    });
  });
  function openTarget() {
    var id = window.location.hash.slice(1);
    if (!id) { return; }
    var el = document.getElementById(id);
    if (!el) { drawAll(); el = document.getElementById(id); }
    if (!el) { return; }
    var box = el.closest('details');
    if (box) { box.open = true; }
    var paged = el.closest('table.paged');
    if (paged) { paged.classList.remove('paged'); }
    el.scrollIntoView({block: 'center'});
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
})();
"""
)


def csp_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline script or style (and nothing a
    report's data could inject: no ``'unsafe-inline'``)."""
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def esc(value: Any) -> str:
    return "" if value is None else _escaped(value if type(value) is str else str(value))


@functools.lru_cache(maxsize=1 << 16)
def _escaped(text: str) -> str:
    """``html.escape`` once per distinct text: a report repeats the same files, kinds, classes and
    test names in thousands of rows."""
    return html.escape(text)


def badge(value: Any) -> str:
    return f'<span class="badge b-{esc(value)}">{esc(value)}</span>'


def _pct(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.1f} %"


def _line(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


class _Anchors:
    """Ids of the source views: ``f<N>`` per file and ``f<N>-L<line>`` per line."""

    def __init__(self, files: Sequence[str], pages: str | None = None) -> None:
        self.ids = {f: f"f{i}" for i, f in enumerate(files)}
        self.pages = pages  # the folder of one page per source file (large projects), else None

    def page(self, file: str) -> str:
        """Where ``file``'s source view is: ``""`` (this page) or ``sources/f3.html``."""
        return f"{self.pages}/{self.ids[file]}.html" if self.pages is not None else ""

    def link(self, file: str | None, line: int | None, text: str | None = None) -> str:
        label = esc(text if text is not None else (f"{file}:{line}" if line else file))
        if file and file in self.ids:
            target = f"{self.ids[file]}-L{line}" if line else self.ids[file]
            return f'<a href="{self.page(file)}#{target}">{label}</a>'
        return label


# ---------------------------------------------------------------------------------------------
# sections


def _header(doc: dict[str, Any], title: str) -> str:
    gate = doc.get("gate") or {}
    passed = gate.get("passed")
    cls = "" if passed is None else ("passed" if passed else "failed")
    if passed is None:
        verdict = "gate not evaluated"
    elif passed:
        verdict = f"gate PASSED ({gate.get('checks', 0)} checks)"
    else:
        verdict = f"gate FAILED: {len(gate.get('failures', []))} of {gate.get('checks', 0)} checks failed"
    tool = doc.get("tool", {})
    return (
        f'<header class="{cls}"><h1>{esc(title)}</h1>'
        f"<p><b>{esc(verdict)}</b> · covguard {esc(tool.get('version', ''))} · "
        f"{esc(doc.get('schema', ''))}</p>"
        "</header>"
    )


def _nav() -> str:
    parts = [
        ("summary", "Summary"),
        ("findings", "Findings"),
        ("requirements", "Requirements"),
        ("chart", "Coverage chart"),
        ("trace", "Trace matrix"),
        ("code", "Code"),
        ("tests", "Tests"),
        ("sources", "Sources"),
    ]
    return "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in parts) + "</nav>"


def _counts(d: dict[str, Any]) -> str:
    items = [f"{badge(k)} {v}" for k, v in d.items() if k != "total" and v]
    return " ".join(items) or '<span class="muted">none</span>'


def _summary(doc: dict[str, Any], outputs: Sequence[tuple[str, str]]) -> str:
    s = doc["summary"]
    cov = s["coverage"]
    cards = [
        ("requirements", s["requirements"]),
        ("functions", s["functions"]),
        ("executable lines", s["lines"]),
        ("tests", s["tests"]),
        ("findings", s["findings"]),
    ]
    out = ['<section id="summary"><h2>Summary</h2><div class="cards">']
    for label, d in cards:
        out.append(f'<div class="card">{esc(label)}<b>{esc(d.get("total", 0))}</b>{_counts(d)}</div>')
    out.append("</div>")
    out.append(
        "<table><thead><tr><th>coverage</th><th class=num>line</th><th class=num>branch</th>"
        "<th class=num>function</th></tr></thead><tbody>"
        f"<tr><td>plain (any test)</td><td class=num>{_pct(cov['line'])}</td>"
        f"<td class=num>{_pct(cov['branch'])}</td><td class=num>{_pct(cov['function'])}</td></tr>"
        f"<tr><td><b>requirement-based</b> (passing tests of the code's own requirements)</td>"
        f"<td class=num><b>{_pct(cov['requirement_line'])}</b></td>"
        f"<td class=num><b>{_pct(cov['requirement_branch'])}</b></td><td></td></tr></tbody></table>"
    )
    gate = doc.get("gate") or {}
    failures = gate.get("failures", [])
    if failures:
        rows = [
            "<h3>Gate failures</h3><table><thead><tr><th>check</th><th>subject</th>"
            "<th class=num>actual</th><th class=num>limit</th><th>detail</th></tr></thead><tbody>"
        ]
        for f in failures:
            rows.append(
                f"<tr><td>{esc(f['check'])}</td><td>{esc(f['subject'])}</td>"
                f"<td class=num>{esc(f['actual'])}</td><td class=num>{esc(f['limit'])}</td>"
                f"<td>{esc(f.get('detail', ''))}</td></tr>"
            )
        # one failure per function under its threshold: thousands on a large project
        out += _paged(rows, "gate-table", "<table>", section=False)
    if outputs:
        links = " · ".join(f'<a href="{esc(href)}">{esc(label)}</a>' for label, href in outputs)
        out.append(f'<p class="small">Other outputs: {links}</p>')
    if doc.get("problems"):
        out.append("<h3>Notes about the inputs</h3><ul>")
        out += [
            f"<li>{esc(p.get('file'))}:{esc(p.get('line'))}: {esc(p.get('message'))}</li>"
            for p in doc["problems"]
        ]
        out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)


def _evidence(f: dict[str, Any]) -> str:
    parts = []
    if f.get("tests"):
        parts.append("tests: " + ", ".join(f"<code>{esc(t)}</code>" for t in f["tests"]))
    if f.get("suggested_requirements"):
        parts.append("suggested requirements: " + ", ".join(esc(r) for r in f["suggested_requirements"]))
    if f.get("call_path"):
        parts.append("call path: " + " → ".join(f"<code>{esc(c)}</code>" for c in f["call_path"]))
    return "<br>".join(parts)


def _findings(doc: dict[str, Any], anchors: _Anchors, rest: RestRows) -> str:
    findings = doc["findings"]
    out = [f'<section id="findings"><h2>Findings ({len(findings)})</h2>']
    if not findings:
        out.append('<p class="muted">No findings.</p></section>')
        return "\n".join(out)
    kinds = list(dict.fromkeys(f["kind"] for f in findings))
    buttons = ['<button type="button" class="on" data-kind="all">all</button>']
    buttons += [f'<button type="button" data-kind="{s}">{s}s</button>' for s in ("error", "warning")]
    per_kind = {k: sum(f["kind"] == k for f in findings) for k in kinds}
    buttons += [
        f'<button type="button" data-kind="{esc(k)}">{esc(k)} ({n})</button>' for k, n in per_kind.items()
    ]
    out.append('<div class="filters">' + "".join(buttons) + "</div>")
    later = len(findings) > PAGE_ROWS  # the rows after the first page go as data (html_rows)
    out.append(
        ('<table id="findings-table" class="paged" data-rest="">' if later else "<table>")
        + "<thead><tr><th>severity</th><th>kind</th><th>where</th><th>function</th>"
        "<th>requirement</th><th>message and evidence</th></tr></thead><tbody>"
    )
    for f in findings[:PAGE_ROWS] if later else findings:
        where = anchors.link(f.get("file"), f.get("line")) if f.get("file") else ""
        req = esc(f.get("requirement") or "")
        req_link = f'<a href="#req-{req}">{req}</a>' if req else ""
        shown = _evidence(f)
        evidence = f'<div class="small evidence">{shown}</div>' if shown else ""
        out.append(
            f'<tr data-kind="{esc(f["kind"])}" data-severity="{esc(f["severity"])}">'
            f'<td class="sev-{esc(f["severity"])}">{esc(f["severity"])}</td><td>{esc(f["kind"])}</td>'
            f"<td>{where}</td><td><code>{esc(f.get('function') or '')}</code></td><td>{req_link}</td>"
            f"<td>{esc(f['message'])}{evidence}</td></tr>"
        )
    if later:
        rest.add("findings-table", "findings", finding_rows(findings[PAGE_ROWS:], rest))
    out.append(_table_end("findings-table", len(findings) if later else 0))
    return "\n".join(out)


def _table_end(table_id: str, rows: int, *, section: bool = True) -> str:
    """The end of a table and (``section``) of its section; ``rows``: its number of rows when only
    the first page of them is drawn (the button draws the others)."""
    button = (
        f'<button type="button" class="all-rows" data-table="{table_id}">show all {rows} rows</button>'
        if rows
        else ""
    )
    return "</tbody></table>" + button + ("</section>" if section else "")


def _parent_note(r: dict[str, Any]) -> str:
    """Under a requirement's ID: its parent, and the children it is verified through (if any)."""
    note = ""
    if r.get("parent"):
        note += (
            f'<br><span class=muted>child of <a href="#req-{esc(r["parent"])}">{esc(r["parent"])}</a></span>'
        )
    if r.get("verified_through"):
        note += "<br><span class=muted>verified through " + esc(", ".join(r["verified_through"])) + "</span>"
    return note


def _requirements(doc: dict[str, Any], anchors: _Anchors) -> str:
    reqs = doc["requirements"]
    out = [
        f'<section id="requirements"><h2>Requirements ({len(reqs)})</h2>',
        '<input class="filter" type="search" placeholder="filter requirements" data-table="req-table">',
        '<table id="req-table"><thead><tr><th>requirement</th><th>title</th><th>class</th><th>status</th>'
        "<th>implemented by</th><th>verified by</th><th class=num>requirement-based line</th>"
        "<th class=num>branch</th></tr></thead><tbody>",
    ]
    for r in reqs:
        impl = "".join(
            f"<li>{anchors.link(i['file'], None, i['function'])} "
            f"<span class=muted>{esc(i['file'])}</span></li>"
            for i in r["implemented_by"]
        )
        failing = set(r["failing_tests"])
        tests = "".join(
            f"<li><code>{esc(t)}</code>{' ' + badge('failed') if t in failing else ''}</li>"
            for t in r["verified_by"]
        )
        c = r["coverage"]
        out.append(
            f'<tr id="req-{esc(r["id"])}"><td><b>{esc(r["id"])}</b>{_parent_note(r)}</td>'
            f"<td>{esc(r['title'])}</td>"
            f"<td>{esc(r['safety_class'])}</td><td>{badge(r['status'])}</td>"
            f'<td><ul class="plain">{impl}</ul></td><td><ul class="plain small">{tests}</ul></td>'
            f"<td class=num>{_pct(c['line'])} "
            f"<span class=muted>({c['lines_verified']}/{c['lines_total']})</span></td>"
            f"<td class=num>{_pct(c['branch'])} "
            f"<span class=muted>({c['branches_verified']}/{c['branches_total']})</span></td></tr>"
        )
    out = _paged(out, "req-table")
    return "\n".join(out)


def coverage_chart(doc: dict[str, Any]) -> str:
    """An SVG bar chart: requirement-based line (thick) and branch (thin) coverage per requirement."""
    reqs = doc["requirements"]
    label_w, bar_w, row_h, top = 130, 420, 24, 44
    width = label_w + bar_w + 220
    height = top + row_h * len(reqs) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="requirement-based coverage per requirement" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f'<text x="{label_w}" y="14" fill="#444">requirement-based line coverage (thick) and branch coverage '
        "(thin), coloured by requirement status</text>",
    ]
    for tick in (0, 50, 100):
        x = label_w + bar_w * tick / 100
        out.append(f'<line x1="{x:g}" y1="{top - 6}" x2="{x:g}" y2="{height - 6}" stroke="#ddd"/>')
        out.append(
            f'<text x="{x:g}" y="{top - 9}" fill="#888" text-anchor="middle" font-size="10">{tick}%</text>'
        )
    for i, r in enumerate(reqs):
        y = top + i * row_h
        c = r["coverage"]
        colour = STATUS_COLOURS.get(r["status"], "#666")
        line = c["line"]
        branch = c["branch"]
        tip = (
            f"{r['id']} {r['title']} ({r['status']}): line {_pct(line)} "
            f"({c['lines_verified']}/{c['lines_total']}), branch {_pct(branch)} "
            f"({c['branches_verified']}/{c['branches_total']})"
        )
        out.append(f"<g><title>{esc(tip)}</title>")
        out.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" fill="#222">{esc(r["id"])}</text>'
        )
        out.append(f'<rect x="{label_w}" y="{y + 2}" width="{bar_w}" height="12" fill="#eee"/>')
        if line is not None:
            length = bar_w * line / 100
            out.append(f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="12" fill="{colour}"/>')
        if branch is not None:
            out.append(
                f'<rect x="{label_w}" y="{y + 16}" width="{bar_w * branch / 100:.1f}" height="4" '
                f'fill="{colour}" opacity="0.6"/>'
            )
        text = f"{_pct(line)} · {r['status']}" if line is not None else f"no code · {r['status']}"
        out.append(f'<text x="{label_w + bar_w + 6}" y="{y + 13}" fill="{colour}">{esc(text)}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _trace(links: pd.DataFrame, doc: dict[str, Any], anchors: _Anchors) -> str:
    reqs = {r["id"]: r for r in doc["requirements"]}
    out = [
        '<section id="trace"><h2>Trace matrix: requirement → code → tests</h2>',
        '<p class="small muted">For each requirement, the functions tagged <code>@req</code> with it and the '
        "tests that declare they verify it; a test marked <i>executes none</i> passes without running any of "
        "the requirement's code. The same links are in <code>trace-matrix.csv</code> and "
        "<code>trace-matrix.xlsx</code>.</p>",
        '<input class="filter" type="search" placeholder="filter the trace matrix" data-table="trace-table">',
        '<table id="trace-table"><thead><tr><th>requirement</th><th>status</th><th>code</th><th>tests</th>'
        "</tr></thead><tbody>",
    ]
    by_req = links[links["requirement"] != ""]
    # one pass over the links (no pandas operation per requirement): each requirement's functions
    # and tests in their order of first appearance, as a groupby over it would give them
    tested = by_req[by_req["test"] != ""]
    executes_any = set(
        zip(
            *(
                tested.loc[tested["executes"] == "yes", ["requirement", "test"]][c].astype(str).tolist()
                for c in ("requirement", "test")
            ),
            strict=True,
        )
    )
    code_of: dict[str, list[dict[str, Any]]] = {}
    for f in records(by_req[by_req["function"] != ""].drop_duplicates(["requirement", "file", "function"])):
        code_of.setdefault(str(f["requirement"]), []).append(f)
    tests_of: dict[str, list[dict[str, Any]]] = {}
    for t in records(tested.drop_duplicates(["requirement", "test"])):
        tests_of.setdefault(str(t["requirement"]), []).append(t)
    for req_id in dict.fromkeys(by_req["requirement"].astype(str).tolist()):
        r = reqs.get(req_id, {})
        code = code_of.get(req_id, [])
        code_html = (
            "".join(
                f"<li>{anchors.link(f['file'], _line(f['line']), f['function'])} "
                f"{badge(f['function_class'])} <span class=muted>{esc(f['file'])}</span></li>"
                for f in code
            )
            or '<li class="muted">no code</li>'
        )
        test_items = []
        for t in tests_of.get(req_id, []):
            none = (
                ""
                if not code or (req_id, str(t["test"])) in executes_any
                else ' <span class="sev-error small">executes none</span>'
            )
            test_items.append(f"<li><code>{esc(t['test'])}</code> {badge(t['test_status'])}{none}</li>")
        tests_html = "".join(test_items) or '<li class="muted">no test</li>'
        out.append(
            f'<tr><td><a href="#req-{esc(req_id)}"><b>{esc(req_id)}</b></a><br><span class=small>'
            f"{esc(r.get('title', ''))}</span></td><td>{badge(r.get('status', ''))}</td>"
            f'<td><ul class="plain">{code_html}</ul></td>'
            f'<td><ul class="plain small">{tests_html}</ul></td></tr>'
        )
    out = _paged(out, "trace-table")
    return "\n".join(out)


def _paged(out: list[str], table_id: str, opening: str | None = None, *, section: bool = True) -> list[str]:
    """The table ``out`` (its start and rows) with its end (:func:`_table_end`): a long table shows
    its first :data:`PAGE_ROWS` rows and a button for the rest (the filter searches every row; a
    link to a row shows them all), so the first view of a large report draws quickly.
    ``opening`` is the table's start tag when it is not ``<table id="table_id">``."""
    rows = [i for i, part in enumerate(out) if part.startswith(("<tr>", "<tr "))]
    if len(rows) <= PAGE_ROWS:
        return [*out, _table_end(table_id, 0, section=section)]
    out = list(out)
    for i in rows[PAGE_ROWS:]:
        out[i] = '<tr class="more"' + out[i][3:]
    opening = opening or f'<table id="{table_id}">'
    out = [part.replace(opening, f'<table id="{table_id}" class="paged">', 1) for part in out]
    return [*out, _table_end(table_id, len(rows), section=section)]


def _reachable(f: dict[str, Any]) -> str:
    """Whether the product firmware reaches the function: yes, no (dead), or unknown (no product
    build, or a Python function: no static reachability), with its place in the image."""
    reach = f.get("reachable")
    text = "yes" if reach is True else '<span class="sev-error">no</span>' if reach is False else "unknown"
    image = f.get("image")
    return f'<span title="image: {esc(image)}">{text}</span>' if image else text


def _code(doc: dict[str, Any], links: pd.DataFrame, anchors: _Anchors, rest: RestRows) -> str:
    runners: dict[Any, str] = joined(
        links[links["executes"] == "yes"], ["file", "function"], "test"
    ).to_dict()
    fns = doc["functions"]
    later = len(fns) > PAGE_ROWS  # the rows after the first page go as data (html_rows)
    out = [
        f'<section id="code"><h2>Code → requirements ({len(fns)} functions)</h2>',
        '<input class="filter" type="search" placeholder="filter functions" data-table="code-table">',
        ('<table id="code-table" class="paged" data-rest="">' if later else '<table id="code-table">')
        + "<thead><tr><th>function</th><th>file</th><th>class</th><th>safety class</th>"
        "<th>requirements</th><th class=num>tests executing it</th><th class=num>lines verified</th>"
        "<th>reachable</th><th>justification</th></tr></thead><tbody>",
    ]
    for f in fns[:PAGE_ROWS] if later else fns:
        reqs = ", ".join(f'<a href="#req-{esc(r)}">{esc(r)}</a>' for r in f["requirements"]) or (
            '<span class="sev-error">none</span>'
        )
        ran_title = esc(runners.get((f["file"], f["function"]), ""))
        c = f["coverage"]
        out.append(
            f"<tr><td>{anchors.link(f['file'], f['line_start'], f['function'])}</td><td>{esc(f['file'])}</td>"
            f"<td>{badge(f['class'])}</td><td>{esc(f['safety_class'])}</td><td>{reqs}</td>"
            f'<td class=num title="{ran_title}">{f["executed_by"]}</td>'
            f"<td class=num>{c['lines_verified']}/{c['lines_total']}</td>"
            f"<td>{_reachable(f)}</td>"
            f"<td class=small>{esc(f['justification'] or '')}</td></tr>"
        )
    if later:

        def ran(file: str, function: str) -> str:
            return runners.get((file, function), "")

        rest.add("code-table", "code", function_rows(fns[PAGE_ROWS:], ran, rest))
    out.append(_table_end("code-table", len(fns) if later else 0))
    return "\n".join(out)


def _tests(doc: dict[str, Any]) -> str:
    tests = doc["tests"]
    out = [
        f'<section id="tests"><h2>Tests → requirements ({len(tests)} tests)</h2>',
        *(
            [
                f'<p class="sev-warning">{coarse} test(s) are credited with their whole executable\'s '
                "coverage, not their own (see the coarse_attribution findings): requirement-based coverage "
                "and hollow-test detection for their requirements are only as fine as that.</p>"
            ]
            if (coarse := sum(t.get("attribution") == "executable" for t in tests))
            else []
        ),
        '<input class="filter" type="search" placeholder="filter tests" data-table="test-table">',
        '<table id="test-table"><thead><tr><th>test</th><th>status</th><th>verifies</th><th>coverage</th>'
        "<th>where</th><th class=num>duration</th><th>message</th></tr></thead><tbody>",
    ]
    for t in tests:
        verifies = ", ".join(f'<a href="#req-{esc(r)}">{esc(r)}</a>' for r in t["verifies"]) or (
            '<span class="muted">none</span>'
        )
        duration = "" if t["duration_s"] is None else f"{t['duration_s']:.3f} s"
        per_exe = " (per executable)" if t.get("attribution") == "executable" else ""
        out.append(
            f"<tr><td><code>{esc(t['id'])}</code></td><td>{badge(t['status'])}</td><td>{verifies}</td>"
            f"<td>{esc(t['coverage'])}{per_exe}</td><td class=small>{esc(t['file'])}:{esc(t['line'])}</td>"
            f'<td class="num dur">{duration}</td><td class=small>{esc(t["message"])}</td></tr>'
        )
    out = _paged(out, "test-table")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# source views


def _justifications(doc: dict[str, Any], anchors: _Anchors) -> str:
    """The justification ledger (only when one is in use): who approved what, when, for which code."""
    rows = doc.get("justifications")
    if rows is None:
        return ""
    out = [
        '<section id="justifications"><h2>Justifications</h2>',
        '<p class="small">Every justification with the SHA-256 of the code it covers (white space and '
        "comments excluded): stale when the code changed since it was approved.</p>",
        "<table><thead><tr><th>state</th><th>origin</th><th>code</th><th>category</th><th>reason</th>"
        "<th>approved by</th><th>date</th><th>expires</th><th>sha256</th></tr></thead><tbody>",
    ]
    for r in rows:
        what = f"{r['function']} " if r.get("function") else ""
        where = anchors.link(r["file"], r["line"], f"{what}{r['file']}:{r['line']}-{r['end_line']}")
        out.append(
            f"<tr><td>{badge(r['state'])}</td><td>{esc(r['origin'])}</td><td>{where}</td>"
            f"<td>{esc(r['category'])}</td><td>{esc(r['reason'])}</td><td>{esc(r['approver'])}</td>"
            f"<td>{esc(r['date'])}</td><td>{esc(r['expires'])}</td>"
            f'<td><code title="{esc(r["current_sha256"])}">{esc(str(r["sha256"])[:12])}</code></td></tr>'
        )
    out.append("</tbody></table></section>")
    return "\n".join(out)


def _read_sources(files: Sequence[str], root: Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    missing: list[str] = []
    for f in files:
        path = Path(f) if f.startswith("/") else root / f
        try:
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        except OSError:
            texts.append("")
            missing.append(f)
    return texts, missing


def ran_per_line(data: CoverageData, limit: int = 10) -> pd.DataFrame:
    """file, line, ran: the (first ``limit``) tests that executed each line, for the hover text."""
    le = data.lines.loc[:, ["file", "line", "test"]].astype({"file": str, "line": "int64", "test": str})
    le = le.drop_duplicates().sort_values(["file", "line", "test"], kind="stable")
    n = le.groupby(["file", "line"], sort=False)["test"].transform("size")
    shown = le[le.groupby(["file", "line"], sort=False).cumcount() < limit]
    names = grouped_lists(shown, ["file", "line"], "test", sort=False)
    out = n.groupby([le["file"], le["line"]], sort=False).first().rename("n").reset_index()
    more = (out["n"] - limit).clip(lower=0)
    text = pd.Series([", ".join(names[k]) for k in zip(out["file"], out["line"], strict=True)], dtype=object)
    out["ran"] = text + np.where(more > 0, " and " + more.astype(str) + " more", "")
    return out.loc[:, ["file", "line", "ran"]]


def source_rows(
    lines: pd.DataFrame,
    files: Sequence[str],
    texts: Sequence[str],
    ids: dict[str, str],
    ran: pd.DataFrame | None = None,
) -> pd.Series:
    """One HTML table body per file (index: file), every source line coloured by its class;
    ``ran`` (:func:`ran_per_line`) adds the names of the tests that ran each line to its hover text."""
    src = pd.DataFrame({"file": list(files), "text": list(texts)})
    src["text"] = src["text"].str.replace("\r\n", "\n").str.replace(r"\n\Z", "", regex=True).str.split("\n")
    src = src.explode("text", ignore_index=True)
    src["text"] = src["text"].fillna("")
    src["line"] = src.groupby("file", sort=False).cumcount() + 1
    cls = lines.loc[:, ["file", "line", "class", "tests", "count"]].astype({"line": "int64"})
    cls = cls.drop_duplicates(["file", "line"])
    src = src.merge(cls, on=["file", "line"], how="left")
    executable = src["class"].notna()
    klass = src["class"].fillna("none").astype(str)
    count = src["count"].fillna(0).astype("int64").astype(str).where(executable, "")
    tests = src["tests"].fillna(0).astype("int64").astype(str)
    title = (klass + ", executed by " + tests + " test(s)").where(executable, "")
    if ran is not None and len(ran):
        names = src.loc[:, ["file", "line"]].merge(ran, on=["file", "line"], how="left")["ran"]
        names = names.fillna("").astype(str).str.replace("&", "&amp;").str.replace('"', "&quot;")
        names = names.str.replace("<", "&lt;").str.replace(">", "&gt;").str.replace("'", "&#x27;")
        title = title + np.where(executable & (names != ""), ": " + names, "")
    text = src["text"].astype(str).str.replace("&", "&amp;").str.replace("<", "&lt;").str.replace(">", "&gt;")
    anchor = src["file"].map(ids) + "-L" + src["line"].astype(str)
    number = src["line"].astype(str)
    rows: pd.Series = (
        '<tr class="l-' + klass + '" id="' + anchor + '" title="' + title + '"><td class="n">'
        + number + '</td><td class="c">' + count + '</td><td class="s">' + text + "</td></tr>"
    )  # fmt: skip
    return rows.groupby(src["file"], sort=False).agg("\n".join)


def _sources(
    analysis: Analysis, doc: dict[str, Any], root: Path, anchors: _Anchors, gcovr_pages: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The sources section, and (large projects: ``anchors.pages``) one page body per file."""
    lines = analysis.lines
    files = list(anchors.ids)
    note = ""
    if len(lines) > MAX_SOURCE_LINES:
        flagged = {f["file"] for f in doc["findings"] if f.get("file")}
        gaps = set(lines.loc[~lines["class"].isin(["verified"]), "file"].astype(str))
        kept = [f for f in files if f in flagged or f in gaps]
        note = (
            f'<p class="muted">{len(files) - len(kept)} fully verified files are not shown here (the '
            f"project has more than {MAX_SOURCE_LINES} executable lines); gcovr's detailed report has "
            "every file.</p>"
        )
        files = kept
    texts, missing = _read_sources(files, root)
    if anchors.pages is None:  # inline: every row rendered here
        ran = ran_per_line(analysis.coverage) if files else None
        bodies = source_rows(lines, files, texts, anchors.ids, ran) if files else pd.Series(dtype=object)
    else:  # a page per file: its text and line facts as data, the browser draws the rows
        data = html_sources.page_data(lines, analysis.coverage.lines, files, anchors.ids)
        text_of = dict(zip(files, texts, strict=True))
    per_file: dict[str, dict[str, int]] = {}
    for r in records(lines.groupby(["file", "class"]).size().rename("n").reset_index()):
        per_file.setdefault(str(r["file"]), {})[str(r["class"])] = int(r["n"])
    fn_by_file: dict[str, list[dict[str, Any]]] = {}
    for f in doc["functions"]:
        fn_by_file.setdefault(f["file"], []).append(f)
    legend = "".join(f'<span class="lg-{c}">{c}</span>' for c in LINE_CLASSES)
    out = [
        '<section id="sources"><h2>Sources</h2>',
        f'<p class="legend small">Executable lines by class: {legend} - the second column is the '
        "line's execution count over all tests; hover a line for the tests that ran it.</p>",
        note,
    ]
    pages: dict[str, str] = {}
    for f in files:
        fid = anchors.ids[f]
        counts = per_file.get(f, {})
        summary = " ".join(f"{badge(c)} {counts[c]}" for c in LINE_CLASSES if counts.get(c))
        gcovr = gcovr_pages.get(f)
        up = "../" if anchors.pages is not None else ""
        gcovr_link = f' · <a href="{esc(up + gcovr)}">gcovr line view</a>' if gcovr else ""
        functions = " ".join(
            (
                f'<a href="#{fid}-L{fn["line_start"]}">{esc(fn["function"])}</a>'
                if anchors.pages is not None
                else anchors.link(f, fn["line_start"], fn["function"])
            )
            + f" {badge(fn['class'])}"
            for fn in fn_by_file.get(f, [])
        )
        if f in missing:
            body = '<p class="muted">source not found</p>'
        elif anchors.pages is None:
            body = f'<table class="src"><tbody>{bodies.get(f, "")}</tbody></table>'
        else:
            body = html_sources.source_table(data[f], text_of[f])
        if anchors.pages is None:
            out.append(
                f'<details class="file" id="{fid}"><summary><b>{esc(f)}</b> {summary}{gcovr_link}</summary>'
                f'<p class="small">functions: {functions}</p>{body}</details>'
            )
        else:
            out.append(
                f'<p class="file"><a href="{anchors.page(f)}"><b>{esc(f)}</b></a> {summary}{gcovr_link}</p>'
            )
            pages[anchors.page(f)] = (
                f'<p class="small"><a href="../index.html#sources">back to the report</a></p>'
                f'<details class="file" id="{fid}" open>'
                f"<summary><b>{esc(f)}</b> {summary}{gcovr_link}</summary>"
                f'<p class="small">functions: {functions}</p>{body}</details>'
            )
    out.append("</section>")
    return "\n".join(out), pages


# ---------------------------------------------------------------------------------------------
# the page


def render(
    doc: dict[str, Any],
    analysis: Analysis,
    *,
    root: Path,
    title: str = "covguard report",
    gcovr_pages: dict[str, str] | None = None,
    outputs: Sequence[tuple[str, str]] = (),
) -> str:
    """The report as one page (every source inline), whatever the project's size."""
    return render_site(
        doc, analysis, root=root, title=title, gcovr_pages=gcovr_pages, outputs=outputs, split=False
    )[0]


def render_site(
    doc: dict[str, Any],
    analysis: Analysis,
    *,
    root: Path,
    title: str = "covguard report",
    gcovr_pages: dict[str, str] | None = None,
    outputs: Sequence[tuple[str, str]] = (),
    split: bool | None = None,
) -> tuple[str, dict[str, str]]:
    """The page, and the pages of the source files (relative path -> HTML; empty when the sources
    are inline).  ``split`` None: one page per source file when the project has more than
    :data:`INLINE_SOURCE_LINES` executable lines, so the first view stays small.  ``gcovr_pages``
    maps a file to its page in gcovr's detailed HTML (relative link); ``outputs`` lists the other
    reports as (label, relative link).  Every page has the same Content-Security-Policy."""
    files = sorted(set(analysis.lines["file"].drop_duplicates().astype(str).tolist()))
    if split is None:
        split = len(analysis.lines) > INLINE_SOURCE_LINES
    anchors = _Anchors(files, SOURCE_PAGES if split else None)
    links = trace_links(analysis)
    sources, pages = _sources(analysis, doc, root, anchors, gcovr_pages or {})
    rest = RestRows()  # the long tables' rows after their first page, as data
    body = [
        _header(doc, title),
        _nav(),
        "<main>",
        _summary(doc, outputs),
        _findings(doc, anchors, rest),
        _requirements(doc, anchors),
        '<section id="chart"><h2>Requirement-based coverage per requirement</h2>',
        coverage_chart(doc),
        "</section>",
        _trace(links, doc, anchors),
        _code(doc, links, anchors, rest),
        _tests(doc),
        _justifications(doc, anchors),
        sources,
        "</main>",
    ]
    body.append(rest.block(anchors.ids, anchors.pages))
    site = {
        path: _document(
            f"{title}: {path}", "".join(["<main>\n", content, "\n</main>"]), html_sources.SOURCE_SCRIPT
        )
        for path, content in pages.items()
    }
    return _document(title, "\n".join(part for part in body if part)), site


def _document(title: str, body: str, extra_script: str = "") -> str:
    """A page with the report's style and script (and ``extra_script``), each allowed by its hash."""
    scripts = csp_hash(SCRIPT) + (f" {csp_hash(extra_script)}" if extra_script else "")
    csp = (
        f"default-src 'none'; style-src {csp_hash(CSS)}; script-src {scripts}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    return "".join(  # one copy of a body of many megabytes, not one per "+"
        [
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n",
            body,
            f"\n<script>{SCRIPT}</script>\n",
            f"<script>{extra_script}</script>\n" if extra_script else "",
            "</body></html>\n",
        ]
    )
