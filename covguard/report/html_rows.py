"""The long tables of the HTML report's page (findings, functions) as data the browser draws.

A table of more than :data:`covguard.report.html.PAGE_ROWS` rows shows its first rows as HTML;
the others are not in the page as rows but as compact data in one JSON block
(``<script type="application/json" id="rows-data">``: data, never executed, so the page's
Content-Security-Policy is unchanged).  The page's script (:data:`ROWS_SCRIPT`, part of
:data:`covguard.report.html.SCRIPT`) draws them, the same rows the HTML would have (same
markup, hence the same text for the filters), when they are first needed: "show all", a
filter, a finding kind, a link to a row that is not drawn yet.  Before, SQLite's report carried
its 3,900 findings and 3,900 functions as rows (5.2 MB, mostly hidden).

In the data every text is an index into one list of distinct texts (a file, a test, a
requirement is written once), a number is a number and a missing text ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from covguard.files import visible_bytes

ROWS_SCRIPT = r"""
  var rowsData = null;
  function escHtml(v) {
    return String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
                    .replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
  }
  function drawRest(table) {  // the rows of a long table that are data, drawn once
    if (!table || !table.hasAttribute('data-rest')) { return; }
    table.removeAttribute('data-rest');
    if (rowsData === null) {
      var holder = document.getElementById('rows-data');
      rowsData = holder ? JSON.parse(holder.textContent) : {s: [], ids: {}, pages: null, tables: {}};
    }
    var d = rowsData, S = d.s, t = d.tables[table.id];
    if (!t) { return; }
    function str(i) { return i === null ? '' : S[i]; }
    function link(file, line, text) {
      var name = S[file], label = escHtml(text !== null ? text : (line ? name + ':' + line : name));
      if (!Object.prototype.hasOwnProperty.call(d.ids, String(file))) { return label; }
      var id = d.ids[String(file)], target = line ? id + '-L' + line : id;
      return '<a href="' + (d.pages !== null ? d.pages + '/' + id + '.html' : '') + '#' + target + '">' +
             label + '</a>';
    }
    function codes(list, sep) {
      return list.map(function (i) { return '<code>' + escHtml(S[i]) + '</code>'; }).join(sep);
    }
    function reqLinks(list) {
      return list.map(function (i) {
        var q = escHtml(S[i]);
        return '<a href="#req-' + q + '">' + q + '</a>';
      }).join(', ');
    }
    var draw = {
      // severity, kind, file, line, function, requirement, message, tests, suggested, call path
      findings: function (r) {
        var sev = escHtml(str(r[0])), kind = escHtml(str(r[1])), req = escHtml(str(r[5])), ev = [];
        if (r[7].length) { ev.push('tests: ' + codes(r[7], ', ')); }
        if (r[8].length) {
          ev.push('suggested requirements: ' + r[8].map(function (i) { return escHtml(S[i]); }).join(', '));
        }
        if (r[9].length) { ev.push('call path: ' + codes(r[9], ' \u2192 ')); }
        return '<tr class="more" data-kind="' + kind + '" data-severity="' + sev + '"><td class="sev-' + sev +
               '">' + sev + '</td><td>' + kind + '</td><td>' + (str(r[2]) ? link(r[2], r[3], null) : '') +
               '</td><td><code>' + escHtml(str(r[4])) + '</code></td><td>' +
               (req ? '<a href="#req-' + req + '">' + req + '</a>' : '') + '</td><td>' + escHtml(str(r[6])) +
               (ev.length ? '<div class="small evidence">' + ev.join('<br>') + '</div>' : '') + '</td></tr>';
      },
      // file, first line, function, class, safety class, requirements, tests executing it, their
      // names, lines verified, lines, reachable (1, 0, null), image, justification
      code: function (r) {
        var cls = escHtml(str(r[3])), image = str(r[11]);
        var reach = r[10] === 1 ? 'yes' : r[10] === 0 ? '<span class="sev-error">no</span>' : 'unknown';
        if (image) { reach = '<span title="image: ' + escHtml(image) + '">' + reach + '</span>'; }
        return '<tr class="more"><td>' + link(r[0], r[1], r[2] === null ? null : S[r[2]]) + '</td><td>' +
               escHtml(str(r[0])) + '</td><td><span class="badge b-' + cls + '">' + cls + '</span></td><td>' +
               escHtml(str(r[4])) + '</td><td>' + (reqLinks(r[5]) || '<span class="sev-error">none</span>') +
               '</td><td class=num title="' + escHtml(str(r[7])) + '">' + r[6] + '</td><td class=num>' +
               r[8] + '/' + r[9] + '</td><td>' + reach + '</td><td class=small>' + escHtml(str(r[12])) +
               '</td></tr>';
      }
    }[t.kind];
    table.tBodies[0].insertAdjacentHTML('beforeend', t.rows.map(draw).join('\n') + '\n');
  }
  function drawAll() {
    document.querySelectorAll('table[data-rest]').forEach(drawRest);
  }
"""


class RestRows:
    """The rows of the page's long tables that go as data: every text once, in one list."""

    def __init__(self) -> None:
        self.texts: dict[str, int] = {}
        self.tables: dict[str, dict[str, Any]] = {}
        self.files: set[int] = set()
        self.lists: dict[tuple[Any, ...], list[int | None]] = {}  # the same tests in many rows

    def text(self, value: Any) -> int | None:
        """The index of ``value``'s text (``str`` of it), ``None`` for ``None``."""
        if value is None:
            return None
        return self.texts.setdefault(value if type(value) is str else str(value), len(self.texts))

    def column(self, values: list[Any], *, files: bool = False) -> list[int | None]:
        """The index of each value's text (:meth:`text`), each distinct one looked up once;
        ``files``: the texts are files (their source views' ids go with the data)."""
        if set(map(type, values)) <= {str, type(None)}:
            index = {v: self.text(v) for v in dict.fromkeys(values)}
            out = [index[v] for v in values]
        else:
            out = [self.text(v) for v in values]
        if files:
            self.files.update(i for i in dict.fromkeys(out) if i is not None)
        return out

    def texts_of(self, values: Sequence[Any]) -> list[int | None]:
        """The indices of a list of texts (one list object per distinct list: JSON writes it
        again each time, the page's script only reads it)."""
        if not set(map(type, values)) <= {str}:  # as the page escapes them: None is ""
            return [self.text("" if v is None else v) for v in values]
        key = tuple(values)
        found = self.lists.get(key)
        if found is None:
            found = self.lists[key] = [self.text(v) for v in values]
        return found

    def add(self, table_id: str, kind: str, rows: list[list[Any]]) -> None:
        self.tables[table_id] = {"kind": kind, "rows": rows}

    def block(self, ids: dict[str, str], pages: str | None) -> str:
        """The JSON data block (empty when no table has rows as data).  ASCII, and ``<`` only
        inside strings, where ``\\u003c`` means the same: the block cannot end early."""
        if not self.tables:
            return ""
        texts = list(self.texts)
        anchored = {str(i): ids[texts[i]] for i in sorted(self.files) if texts[i] in ids}
        # a byte of a name that was not UTF-8 shows as the rows written as HTML show it (\xNN)
        data = {
            "s": [visible_bytes(t) for t in texts],
            "ids": anchored,
            "pages": pages,
            "tables": self.tables,
        }
        text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
        return f'<script type="application/json" id="rows-data">{text}</script>'


def finding_rows(findings: Sequence[dict[str, Any]], rest: RestRows) -> list[list[Any]]:
    """The data of findings rows (the fields :func:`covguard.report.html._findings` shows)."""
    column, lists = rest.column, rest.texts_of

    def get(key: str) -> list[Any]:
        return [f.get(key) or None for f in findings]

    # the lists first: their texts (test names, in many rows) get the smallest indices
    tests = [lists(f.get("tests") or []) for f in findings]
    suggested = [lists(f.get("suggested_requirements") or []) for f in findings]
    paths = [lists(f.get("call_path") or []) for f in findings]
    columns = [
        column([f["severity"] for f in findings]),
        column([f["kind"] for f in findings]),
        column(get("file"), files=True),
        [_number(f.get("line")) for f in findings],
        column(get("function")),
        column(get("requirement")),
        column([f["message"] for f in findings]),
        tests,
        suggested,
        paths,
    ]
    return [list(row) for row in zip(*columns, strict=True)]


def function_rows(
    functions: Sequence[dict[str, Any]], runners: Callable[[str, str], str], rest: RestRows
) -> list[list[Any]]:
    """The data of function rows (the fields :func:`covguard.report.html._code` shows);
    ``runners(file, function)``: the names of the tests that executed it, joined."""
    column = rest.column
    reach = {True: 1, False: 0}
    columns = [
        column([f["file"] for f in functions], files=True),
        [_number(f["line_start"]) for f in functions],
        column([f["function"] for f in functions]),
        column([f["class"] for f in functions]),
        column([f["safety_class"] for f in functions]),
        [rest.texts_of(f["requirements"]) for f in functions],
        [_number(f["executed_by"]) for f in functions],
        column([runners(f["file"], f["function"]) or None for f in functions]),
        [_number(f["coverage"]["lines_verified"]) for f in functions],
        [_number(f["coverage"]["lines_total"]) for f in functions],
        [reach.get(r) if type(r) is bool else None for r in (f.get("reachable") for f in functions)],
        column([f.get("image") or None for f in functions]),
        column([f["justification"] or None for f in functions]),
    ]
    return [list(row) for row in zip(*columns, strict=True)]


def _number(value: Any) -> Any:
    """A number as the page shows it: an int stays a number (JSON), anything else its text."""
    return value if type(value) is int or value is None else str(value)
