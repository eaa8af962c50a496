"""Source pages of a large project's HTML report, drawn by the browser from compact data.

Above :data:`covguard.report.html.INLINE_SOURCE_LINES` executable lines every source file gets a
page of its own (``sources/f<N>.html``).  Rendering one ``<tr>`` per source line in Python made
those pages the largest cost of the report (SQLite's amalgamation alone is 263k lines, a 47 MB
page that took seconds to write and about ten to open), so a page carries instead:

* the file's text, once, and per executable line its class, execution count and number of tests,
  and the tests that ran it (indices into the page's list of test names; the long integer columns
  packed as base64, :func:`packed`): one JSON data block
  (``<script type="application/json">``: data, never executed, so the page's Content-Security-Policy
  is unchanged: no script but :data:`SOURCE_SCRIPT`, allowed by its hash);
* :data:`SOURCE_SCRIPT`, which draws the same rows the inline layout has (same classes, ids
  ``f<N>-L<line>``, hover text and cells), the first screenful at once and the rest in chunks, and
  a linked line (``#f<N>-L<line>``) before anything else.

Everything here works on whole columns (numpy, pandas); the only Python loop is over files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

SOURCE_SCRIPT = """
(function () {
  'use strict';
  var holder = document.getElementById('src-data');
  var box = document.getElementById('src-lines');
  if (!holder || !box) { return; }
  var d = JSON.parse(holder.textContent);
  function ints(x) {  // "<bytes per value>:<base64 of unsigned little-endian integers>", or a list
    if (typeof x !== 'string') { return x; }
    var w = parseInt(x.charAt(0), 10), b = window.atob(x.slice(2)), n = b.length / w;
    var bytes = new Uint8Array(b.length), out = new Array(n), i;
    for (i = 0; i < b.length; i++) { bytes[i] = b.charCodeAt(i); }
    var view = new DataView(bytes.buffer);
    for (i = 0; i < n; i++) {
      out[i] = w === 1 ? bytes[i] : w === 2 ? view.getUint16(2 * i, true) : view.getUint32(4 * i, true);
    }
    return out;
  }
  ['lines', 'cls', 'tests', 'rl', 'rt'].forEach(function (k) { d[k] = ints(d[k]); });
  var pre = document.getElementById('src-text');
  var src = (pre ? pre.textContent : '').replace(/\\r\\n/g, '\\n').replace(/\\n$/, '').split('\\n');
  var at = {};
  d.lines.forEach(function (n, i) { at[n] = i; });
  var ran = {};
  d.rl.forEach(function (n, i) { (ran[n] = ran[n] || []).push(d.names[d.rt[i]]); });
  function esc(s) {
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
            .replace(/"/g, '&quot;').replace(/'/g, '&#x27;').replace(/\\r/g, '&#13;');
  }
  function row(n) {
    var k = at[n], cls = 'none', count = '', title = '';
    if (k !== undefined) {
      cls = d.classes[d.cls[k]];
      count = String(d.count[k]);
      title = cls + ', executed by ' + d.tests[k] + ' test(s)';
      var names = ran[n];
      if (names) {
        title += ': ' + names.slice(0, 10).join(', ') +
                 (names.length > 10 ? ' and ' + (names.length - 10) + ' more' : '');
      }
    }
    return '<tr class="l-' + cls + '" id="' + d.id + '-L' + n + '" title="' + esc(title) +
           '"><td class="n">' + n + '</td><td class="c">' + count + '</td><td class="s">' +
           esc(src[n - 1]) + '</td></tr>';
  }
  // one table per chunk of lines, each skipped by layout while off screen (content-visibility)
  // and filled when first needed: the linked chunk and the first at once, the others after
  var CHUNK = 2000, n = src.length, tables = [], filled = [], rowHeight = 18;
  for (var c = 0; c * CHUNK < n; c++) {
    var t = document.createElement('table');
    t.className = 'src';
    t.style.contentVisibility = 'auto';
    t.style.containIntrinsicHeight = 'auto ' + (Math.min(CHUNK, n - c * CHUNK) * rowHeight) + 'px';
    t.appendChild(document.createElement('tbody'));
    box.appendChild(t);
    tables.push(t);
    filled.push(false);
  }
  function fill(c) {
    if (c < 0 || c >= tables.length || filled[c]) { return; }
    var parts = [], last = Math.min((c + 1) * CHUNK, n);
    for (var line = c * CHUNK + 1; line <= last; line++) { parts.push(row(line)); }
    tables[c].tBodies[0].insertAdjacentHTML('beforeend', parts.join(''));
    filled[c] = true;
  }
  function openTarget() {
    var m = /^(f[0-9]+)-L([0-9]+)$/.exec(window.location.hash.slice(1));
    if (!m || m[1] !== d.id) { return; }
    fill(Math.floor((Math.min(parseInt(m[2], 10), n) - 1) / CHUNK));
    var el = document.getElementById(m[0]);
    if (!el) { return; }
    var details = el.closest('details');
    if (details) { details.open = true; }
    el.scrollIntoView({block: 'center'});
  }
  fill(0);
  var first = tables.length ? tables[0].getBoundingClientRect().height : 0;
  if (first > 0 && tables.length > 1) {  // the real row height, for the chunks not drawn yet
    rowHeight = first / Math.min(CHUNK, n);
    for (var k = 1; k < tables.length; k++) {
      if (!filled[k]) {
        tables[k].style.containIntrinsicHeight =
          'auto ' + Math.round(Math.min(CHUNK, n - k * CHUNK) * rowHeight) + 'px';
      }
    }
  }
  openTarget();
  window.addEventListener('hashchange', openTarget);
  var next = 0;
  function more() {
    while (next < tables.length && filled[next]) { next++; }
    if (next < tables.length) { fill(next); window.setTimeout(more, 0); }
  }
  window.setTimeout(more, 0);
})();
"""

_SAFE_NUMBER = 2**53  # JSON numbers above this lose digits in JavaScript: sent as text


def page_data(
    lines: pd.DataFrame,
    ran: pd.DataFrame,
    files: Sequence[str],
    ids: dict[str, str],
) -> dict[str, str]:
    """file -> the JSON data block of its page (already safe inside ``<script>``): the text, and
    per executable line (``lines``: file, line, class, tests, count) its class, count, number of
    tests and the tests that ran it (``ran``: file, line, test; the coverage's lines), the same
    facts :func:`covguard.report.html.source_rows` renders inline."""
    wanted = pd.Index(list(files))
    # the executable lines sorted by file name and line, the first row of each (file, line) kept,
    # on the file column's codes (no text per row)
    l_code, l_names = _sorted_codes(lines["file"])
    l_line = lines["line"].to_numpy(dtype="int64")
    order = np.lexsort((l_line, l_code))  # stable: the first of equal rows stays first
    lc, ll = l_code[order], l_line[order]
    first = np.r_[True, (lc[1:] != lc[:-1]) | (ll[1:] != ll[:-1])] if len(order) else np.zeros(0, bool)
    keep = first & (lc >= 0)
    keep[keep] = pd.Index(l_names).isin(wanted)[lc[keep]]
    rows, row_file = order[keep], lc[keep]
    codes, classes = pd.factorize(lines["class"].astype(str).to_numpy(dtype=object)[rows], sort=True)
    line_no = l_line[rows]
    tests = lines["tests"].fillna(0).astype("int64").to_numpy()[rows]
    count = lines["count"].fillna(0).astype("int64").to_numpy()[rows]
    line_file = {str(name): i for i, name in enumerate(l_names)}

    # the tests per line on integer codes (the coverage's file and test columns are categorical:
    # no text per row), sorted by file, line and test name, without repeats
    f_code, f_names = _sorted_codes(ran["file"])
    t_code, t_names = _sorted_codes(ran["test"])
    r_line = ran["line"].to_numpy(dtype="int64")
    keep = (f_code >= 0) & (t_code >= 0)
    keep[keep] = pd.Index(f_names).isin(wanted)[f_code[keep]]
    f_code, r_line, t_code = f_code[keep], r_line[keep], t_code[keep]
    order = np.lexsort((t_code, r_line, f_code))
    f_code, r_line, t_code = f_code[order], r_line[order], t_code[order]
    repeat = np.r_[
        False, (f_code[1:] == f_code[:-1]) & (r_line[1:] == r_line[:-1]) & (t_code[1:] == t_code[:-1])
    ]
    f_code, ran_line, ran_test = f_code[~repeat], r_line[~repeat], t_code[~repeat]
    file_code = {str(name): i for i, name in enumerate(f_names)}
    all_names = t_names

    out: dict[str, str] = {}
    for f in files:
        lcode = line_file.get(f, -1)
        pos = np.arange(np.searchsorted(row_file, lcode), np.searchsorted(row_file, lcode, side="right"))
        counts = count[pos]
        code = file_code.get(f, -1)
        rpos = np.arange(np.searchsorted(f_code, code), np.searchsorted(f_code, code, side="right"))
        used, local = np.unique(ran_test[rpos], return_inverse=True)
        doc: dict[str, Any] = {
            "id": ids[f],
            "classes": [str(c) for c in classes],
            "lines": packed(line_no[pos]),
            "cls": packed(codes[pos]),
            "tests": packed(tests[pos]),
            "count": counts.tolist()
            if not len(counts) or counts.max() < _SAFE_NUMBER
            else counts.astype(str).tolist(),
            "names": all_names[used].tolist(),
            "rl": packed(ran_line[rpos]),
            "rt": packed(local.reshape(-1)),
        }
        # ASCII: a lone surrogate (a test name from a non-UTF-8 byte) stays a valid \udcXX escape;
        # "<" only occurs inside JSON strings, where \u003c means the same: the block cannot end
        # early (</script>) or open a comment
        out[f] = json.dumps(doc).replace("<", "\\u003c")
    return out


def packed(values: np.ndarray) -> str | list[int]:
    """Non-negative integers as ``"<w>:<base64>"``: little-endian, ``w`` (1, 2 or 4) bytes each,
    the fewest that hold the largest (a JSON list when one is negative or above 32 bits).  A
    source page's columns run to hundreds of thousands of numbers: as base64 they take no Python
    work per number (the JSON encoder formats each one) and fewer bytes."""
    values = np.asarray(values)
    top = int(values.max()) if len(values) else 0
    if len(values) and (int(values.min()) < 0 or top >= 2**32):
        return [int(v) for v in values.tolist()]
    width = 1 if top < 2**8 else 2 if top < 2**16 else 4
    raw = values.astype(f"<u{width}").tobytes()
    return f"{width}:{base64.b64encode(raw).decode('ascii')}"


def _sorted_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's rank among the column's distinct values as text (-1: missing), and those values
    sorted: a categorical column is read through its codes, never as text per row."""
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    names = np.asarray(cat.cat.categories.astype(str), dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order), dtype="int64")
    rank[order] = np.arange(len(order))
    codes = cat.cat.codes.to_numpy().astype("int64")
    return np.where(codes >= 0, rank[np.maximum(codes, 0)], -1), names[order]


def source_table(data: str, text: str) -> str:
    """A page's source view: an empty box the script fills with the lines' tables, the file's text
    (HTML-escaped in a hidden ``<pre>``: three replacements of the whole text, where JSON would
    encode it character by character) and the line facts (:func:`page_data`)."""
    # after "<pre>" the parser drops one newline (the one written here); it turns a lone CR into a
    # newline, so a CR is written as a character reference, which it keeps
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace("\r", "&#13;")
    return (
        '<div id="src-lines"></div>'
        f'<pre id="src-text" hidden>\n{escaped}</pre>'
        f'<script type="application/json" id="src-data">{data}</script>'
    )
