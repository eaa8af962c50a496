"""Cobertura XML written from covguard's own frames (the numbers ``findings.json`` shows).

The structure is gcovr's (``gcovr --cobertura --cobertura-pretty``), so a tool reading gcovr's
Cobertura reads this one the same way: ``coverage`` > ``sources`` > ``packages`` > one
``package`` per folder (``src/hal`` -> ``src.hal``) > ``classes`` > one ``class`` per source file
(``name`` the file name with ``.`` -> ``_``) > ``methods`` (one ``method`` per function, in line
order, with its own lines) and ``lines`` (every reportable line of the file).  A line carries its
hit count (64-bit: counts over 2^32 are written as they are), and, when it has branches,
``condition-coverage="P% (covered/total)"`` with P rounded down (100 % only when every branch is
taken) and one ``jump`` condition, as gcovr writes it.

Where it intentionally differs from gcovr's:

* ``version`` is ``covguard <version>`` and ``timestamp`` the build's start (or
  ``SOURCE_DATE_EPOCH``), as for gcovr's formats;
* lines covguard excludes (exclusion markers, justified scopes) are left out, as gcovr leaves out
  the lines its own markers exclude; the numbers are covguard's, line by line;
* the files are the analysed sources of the build: the same set gcovr is given as ``--filter``.

Written as text from whole columns (no per-line Python): the line elements are a table of text
pieces (numbers turned into text once; only a line with branches has a string of its own), and
each file's and function's block is one join of its rows of that table.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from covguard import __version__
from covguard.analysis.analyse import Analysis

DOCTYPE = (
    "<!DOCTYPE coverage SYSTEM 'https://github.com/cobertura/cobertura/blob/"
    "e5eea8679ebce047ec6ccdfdbf6cf2c14b376875/cobertura/src/site/htdocs/xml/coverage-04.dtd'>"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _attr(text: str) -> str:
    """``text`` safe inside a double-quoted XML attribute (control characters dropped)."""
    text = _CONTROL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _rate(covered: int, total: int) -> str:
    return "1.0" if not total else str(covered / total)


def _name_and_signature(name: str) -> tuple[str, str]:
    """A C++ function's name and its parameter list, split as gcovr splits them."""
    if "(" not in name:
        return name, ""
    closing = 0
    signature = ""
    for opening, part in enumerate(reversed(name.split("(")), 1):
        signature = f"({part}{signature}"
        closing += part.count(")")
        if opening == closing:
            return name[: -len(signature)], signature
    return name, ""


def reportable_lines(analysis: Analysis) -> pd.DataFrame:
    """file, line, function, count, branches_total, branches_covered of every line Cobertura shows,
    sorted by file and line: covguard's analysed lines without the excluded ones; branches taken
    over the whole run."""
    lines = analysis.lines
    keep = ~lines["excluded"].to_numpy(dtype=bool) if "excluded" in lines else np.ones(len(lines), bool)
    out = pd.DataFrame(
        {
            "file": lines["file"].astype(str).to_numpy()[keep],
            "line": lines["line"].to_numpy(dtype="int64")[keep],
            "function": lines["function"].astype(str).to_numpy()[keep],
            "count": lines["count"].to_numpy(dtype="int64")[keep],
            "branches_total": lines["branches_total"].to_numpy(dtype="int64")[keep],
        }
    )
    cb = analysis.coverage.code_branches
    if len(cb):
        taken = cb[cb["count"].to_numpy() > 0]
        per_line = (
            pd.DataFrame({"file": taken["file"].astype(str), "line": taken["line"].astype("int64")})
            .groupby(["file", "line"], sort=False)
            .size()
            .rename("branches_covered")
        )
        out = out.merge(per_line, left_on=["file", "line"], right_index=True, how="left")
        out["branches_covered"] = out["branches_covered"].fillna(0).astype("int64")
        out["branches_covered"] = np.minimum(out["branches_covered"], out["branches_total"])
    else:
        out["branches_covered"] = np.zeros(len(out), dtype="int64")
    return out.sort_values(["file", "line"], kind="stable").reset_index(drop=True)


def _line_texts(df: pd.DataFrame, pads: tuple[str, ...]) -> list[np.ndarray]:
    """Per indentation in ``pads``: the ``<line .../>`` elements of the rows as a table of text
    pieces (a row per line; the row's pieces joined are the element, each of its text lines
    indented and ended by ``\n``).  Only lines with branches get a string of their own (their
    tail); the blocks of a file or a function are one join of their rows' pieces."""
    n = len(df)
    number = _digits(df["line"].to_numpy(dtype="int64"))
    hits = _digits(df["count"].to_numpy(dtype="int64"))
    total = df["branches_total"].to_numpy(dtype="int64")
    has = np.flatnonzero(total > 0)
    # the end of the element: its own text for a line with branches (the same at any indentation)
    head = np.full(n, '" branch="false"/>\n', dtype=object)
    condition = np.full(n, "", dtype=object)
    if len(has):
        total = total[has]
        covered = df["branches_covered"].to_numpy(dtype="int64")[has]
        pcts = _digits(np.where(covered >= total, 100, (covered * 100) // np.maximum(total, 1))) + "%"
        head[has] = (
            '" branch="true" condition-coverage="' + pcts + " (" + _digits(covered) + "/" + _digits(total)
            + ')">\n'
        )  # fmt: skip
        condition[has] = '    <condition number="0" type="jump" coverage="' + pcts + '"/>\n'
    out = []
    for pad in pads:
        table = np.empty((n, 8), dtype=object)
        table[:, 0] = pad + '<line number="'
        table[:, 1] = number
        table[:, 2] = '" hits="'
        table[:, 3] = hits
        table[:, 4] = head
        table[:, 5] = ""
        table[has, 5] = pad + "  <conditions>\n" + pad
        table[:, 6] = condition
        table[:, 7] = ""
        table[has, 7] = pad + "  </conditions>\n" + pad + "</line>\n"
        out.append(table)
    return out


def _digits(values: np.ndarray) -> np.ndarray:
    """Integers as decimal text, an object array (for ``+`` with text): ``str`` mapped in C over
    the values (numpy's conversion to text is several times slower)."""
    return np.array(list(map(str, values.tolist())), dtype=object).reshape(len(values))


def _block(pieces: np.ndarray) -> str:
    """The line elements of the rows of ``pieces`` (:func:`_line_texts`), one after the other."""
    return "".join(pieces.ravel().tolist())


def render(analysis: Analysis, *, source: str, timestamp: int) -> str:
    """The Cobertura document of ``analysis``; ``source`` is the project root shown in ``<source>``."""
    df = reportable_lines(analysis)
    in_class, in_method = _line_texts(df, (" " * 12, " " * 16))
    files = df["file"].to_numpy(dtype=object)
    bounds = np.flatnonzero(np.r_[True, files[1:] != files[:-1]]) if len(df) else np.array([], int)
    ends = np.r_[bounds[1:], len(df)] if len(df) else np.array([], int)
    hit = df["count"].to_numpy() > 0
    bt = df["branches_total"].to_numpy(dtype="int64")
    bc = df["branches_covered"].to_numpy(dtype="int64")
    cum_hit = np.r_[0, np.cumsum(hit)]
    cum_bt = np.r_[0, np.cumsum(bt)]
    cum_bc = np.r_[0, np.cumsum(bc)]

    # functions in line order within each file: each one's rows of df (its lines)
    fn_of = df["function"].to_numpy(dtype=object)
    line_of = df["line"].to_numpy(dtype="int64")
    cf = analysis.coverage.code_functions
    starts: dict[tuple[str, str], int] = {}
    if len(cf):
        for f, name, start in zip(
            cf["file"].astype(str), cf["function"].astype(str), cf["line_start"], strict=True
        ):
            key = (f, name)
            starts[key] = min(int(start), starts.get(key, int(start)))

    packages: dict[str, list[tuple[str, list[int]]]] = {}
    classes: dict[str, str] = {}
    file_stats: dict[str, list[int]] = {}
    for b, e in zip(bounds.tolist(), ends.tolist(), strict=True):
        file = str(files[b])
        directory, _sep, fname = file.rpartition("/")
        stats = [int(cum_hit[e] - cum_hit[b]), e - b, int(cum_bc[e] - cum_bc[b]), int(cum_bt[e] - cum_bt[b])]
        file_stats[file] = stats
        # methods: rows of this file grouped by function (stable: lines stay in order; the groups'
        # order does not matter, the methods are sorted by their first line below)
        names = fn_of[b:e]
        codes = pd.factorize(names)[0]
        order = np.argsort(codes, kind="stable")
        sorted_names = names[order]
        sorted_codes = codes[order]
        cuts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        cut_ends = np.r_[cuts[1:], len(order)]
        methods: list[tuple[int, str, str]] = []
        rows_of = order + b
        grouped = in_method[rows_of]  # this file's line elements, function by function
        # per function: its lines hit, branches and branches covered, in one reduction each
        sums = (
            [np.add.reduceat(v[rows_of], cuts).tolist() for v in (hit.astype("int64"), bt, bc)]
            if len(cuts)
            else [[], [], []]
        )
        for k, (cs, ce) in enumerate(zip(cuts.tolist(), cut_ends.tolist(), strict=True)):
            fn = str(sorted_names[cs])
            if not fn:
                continue
            rows = rows_of[cs:ce]
            first_line = int(line_of[rows[0]])
            start = starts.get((file, fn), first_line)
            h, t_b, c_b = sums[0][k], sums[1][k], sums[2][k]
            name, signature = _name_and_signature(fn)
            methods.append(
                (
                    start,
                    fn,
                    f'            <method name="{_attr(name)}" signature="{_attr(signature)}" '
                    f'line-rate="{_rate(h, len(rows))}" branch-rate="{_rate(c_b, t_b)}" complexity="0.0">\n'
                    "              <lines>\n" + _block(grouped[cs:ce]) + "              </lines>\n"
                    "            </method>\n",
                )
            )
        methods.sort(key=lambda m: (m[0], m[1]))
        class_name = fname.replace(".", "_")
        rates = f'line-rate="{_rate(stats[0], stats[1])}" branch-rate="{_rate(stats[2], stats[3])}"'
        classes[file] = (
            f'        <class name="{_attr(class_name)}" filename="{_attr(file)}" {rates} complexity="0.0">\n'
            + ("          <methods>\n" + "".join(m[2] for m in methods) + "          </methods>\n"
               if methods else "          <methods/>\n")
            + "          <lines>\n" + _block(in_class[b:e]) + "          </lines>\n"
            "        </class>\n"
        )  # fmt: skip
        packages.setdefault(directory, []).append((class_name, [b, e]))

    total = [int(hit.sum()), len(df), int(bc.sum()), int(bt.sum())]
    parts = [
        "<?xml version='1.0' encoding='utf-8'?>\n",
        DOCTYPE + "\n",
        f'<coverage line-rate="{_rate(total[0], total[1])}" branch-rate="{_rate(total[2], total[3])}" '
        f'lines-covered="{total[0]}" lines-valid="{total[1]}" branches-covered="{total[2]}" '
        f'branches-valid="{total[3]}" complexity="0.0" timestamp="{int(timestamp)}" '
        f'version="covguard {_attr(__version__)}">\n',
        "  <sources>\n",
        f"    <source>{_attr(source)}</source>\n",
        "  </sources>\n",
    ]
    if not packages:
        parts.append("  <packages/>\n")
    else:
        parts.append("  <packages>\n")
        for directory in sorted(packages):
            members = packages[directory]
            p = [0, 0, 0, 0]
            by_class: dict[str, str] = {}
            for class_name, (b, _e) in members:
                file = str(files[b])
                p = [x + y for x, y in zip(p, file_stats[file], strict=True)]
                by_class[class_name] = classes[file]  # as gcovr: one class per name, the last
            parts.append(
                f'    <package name="{_attr(directory.replace("/", "."))}" line-rate="{_rate(p[0], p[1])}" '
                f'branch-rate="{_rate(p[2], p[3])}" complexity="0.0">\n      <classes>\n'
            )
            parts.extend(by_class[name] for name in sorted(by_class))
            parts.append("      </classes>\n    </package>\n")
        parts.append("  </packages>\n")
    parts.append("</coverage>\n")
    return "".join(parts)
