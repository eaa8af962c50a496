"""Source pages of a large project's HTML report, drawn by the browser from compact data.

Above :data:`covguard.report.html.INLINE_SOURCE_LINES` executable lines every source file gets a
page of its own (``sources/f<N>.html``).  Rendering one ``<tr>`` per source line in Python made
those pages the largest cost of the report (SQLite's amalgamation alone is 263k lines, a 47 MB
page that took seconds to write and about ten to open), so a page carries instead:

* the file's text, once, and per executable line its class, execution count and number of tests,
  and the tests that ran it (indices into the page's list of test names): one JSON data block
  (``<script type="application/json">``: data, never executed, so the page's Content-Security-Policy
  is unchanged: no script but :data:`SOURCE_SCRIPT`, allowed by its hash);
* :data:`SOURCE_SCRIPT`, which draws the same rows the inline layout has (same classes, ids
  ``f<N>-L<line>``, hover text and cells), the first screenful at once and the rest in chunks, and
  a linked line (``#f<N>-L<line>``) before anything else.

Everything here works on whole columns (numpy, pandas); the only Python loop is over files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from covguard.frames import CoverageData

SOURCE_SCRIPT = """
(function () {
  'use strict';
  var holder = document.getElementById('src-data');
  var body = document.querySelector('table.src tbody');
  if (!holder || !body) { return; }
  var d = JSON.parse(holder.textContent);
  var src = d.text.replace(/\\r\\n/g, '\\n').replace(/\\n$/, '').split('\\n');
  var at = {};
  d.lines.forEach(function (n, i) { at[n] = i; });
  var ran = {};
  d.rl.forEach(function (n, i) { (ran[n] = ran[n] || []).push(d.names[d.rt[i]]); });
  function esc(s) {
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
            .replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
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
  var drawn = 0;
  function drawTo(n) {
    n = Math.min(n, src.length);
    if (n <= drawn) { return; }
    var parts = [];
    for (var line = drawn + 1; line <= n; line++) { parts.push(row(line)); }
    body.insertAdjacentHTML('beforeend', parts.join(''));
    drawn = n;
  }
  function openTarget() {
    var m = /^(f[0-9]+)-L([0-9]+)$/.exec(window.location.hash.slice(1));
    if (!m || m[1] !== d.id) { return; }
    drawTo(parseInt(m[2], 10));
    var el = document.getElementById(m[0]);
    if (!el) { return; }
    var box = el.closest('details');
    if (box) { box.open = true; }
    el.scrollIntoView({block: 'center'});
  }
  function more() {
    drawTo(drawn + 5000);
    if (drawn < src.length) { window.setTimeout(more, 0); }
  }
  openTarget();
  drawTo(Math.max(drawn, 300));
  window.addEventListener('hashchange', openTarget);
  window.setTimeout(more, 0);
})();
"""

_SAFE_NUMBER = 2**53  # JSON numbers above this lose digits in JavaScript: sent as text


def page_data(
    lines: pd.DataFrame,
    coverage: CoverageData,
    files: Sequence[str],
    texts: Sequence[str],
    ids: dict[str, str],
) -> dict[str, str]:
    """file -> the JSON data block of its page (already safe inside ``<script>``): the text, and
    per executable line its class, count, number of tests and the tests that ran it, the same
    facts :func:`covguard.report.html.source_rows` renders inline."""
    wanted = pd.Index(list(files))
    cls = lines.loc[:, ["file", "line", "class", "tests", "count"]].astype({"file": str, "line": "int64"})
    cls = cls.drop_duplicates(["file", "line"]).sort_values(["file", "line"], kind="stable")
    cls = cls[cls["file"].isin(wanted)]
    codes, classes = pd.factorize(cls["class"].astype(str), sort=True)
    at = cls.groupby("file", sort=False).indices
    line_no = cls["line"].to_numpy()
    tests = cls["tests"].fillna(0).astype("int64").to_numpy()
    count = cls["count"].fillna(0).astype("int64").to_numpy()

    ran = coverage.lines.loc[:, ["file", "line", "test"]].astype({"file": str, "line": "int64", "test": str})
    ran = ran[ran["file"].isin(wanted)].drop_duplicates()
    test_codes, names = pd.factorize(ran["test"], sort=True)  # a code's order is the name's order
    ran = ran.assign(t=test_codes).sort_values(["file", "line", "t"], kind="stable")
    ran_at = ran.groupby("file", sort=False).indices
    ran_line = ran["line"].to_numpy()
    ran_test = ran["t"].to_numpy()
    all_names = np.asarray(names, dtype=object)

    empty = np.zeros(0, dtype="int64")
    out: dict[str, str] = {}
    for f, text in zip(files, texts, strict=True):
        pos = at.get(f, empty)
        counts = count[pos]
        rpos = ran_at.get(f, empty)
        used, local = np.unique(ran_test[rpos], return_inverse=True)
        doc: dict[str, Any] = {
            "id": ids[f],
            "text": text,
            "classes": [str(c) for c in classes],
            "lines": line_no[pos].tolist(),
            "cls": codes[pos].tolist(),
            "tests": tests[pos].tolist(),
            "count": counts.tolist()
            if not len(counts) or counts.max() < _SAFE_NUMBER
            else counts.astype(str).tolist(),
            "names": all_names[used].tolist(),
            "rl": ran_line[rpos].tolist(),
            "rt": local.reshape(-1).tolist(),
        }
        # "<" only occurs inside JSON strings, where \u003c means the same: the block cannot end
        # early (</script>) or open a comment
        out[f] = json.dumps(doc, ensure_ascii=False).replace("<", "\\u003c")
    return out


def source_table(data: str) -> str:
    """A page's source view: an empty table the script fills, and its data."""
    return (
        '<table class="src"><tbody></tbody></table>'
        f'<script type="application/json" id="src-data">{data}</script>'
    )
