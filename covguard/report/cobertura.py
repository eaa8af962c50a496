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

Written as text from whole columns (no per-line Python): one string per line is made with
vectorised string operations, then each file's and function's block is one slice of them.
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


def _line_texts(df: pd.DataFrame) -> np.ndarray:
    """One ``<line .../>`` element per row, at indentation 0 (multi-line ones joined by ``\n``).
    Built on numpy object arrays: each ``+`` one C loop (pandas' string arithmetic loops in Python)."""
    number = _digits(df["line"].to_numpy(dtype="int64"))
    hits = _digits(df["count"].to_numpy(dtype="int64"))
    out = np.asarray('<line number="' + number + '" hits="' + hits + '" branch="false"/>', dtype=object)
    total = df["branches_total"].to_numpy(dtype="int64")
    has = np.flatnonzero(total > 0)
    if not len(has):
        return out
    total = total[has]
    covered = df["branches_covered"].to_numpy(dtype="int64")[has]
    pcts = _digits(np.where(covered >= total, 100, (covered * 100) // np.maximum(total, 1))) + "%"
    out[has] = (
        '<line number="' + number[has] + '" hits="' + hits[has] + '" branch="true" condition-coverage="'
        + pcts + " (" + _digits(covered) + "/" + _digits(total) + ')">\n  <conditions>\n'
        '    <condition number="0" type="jump" coverage="' + pcts + '"/>\n  </conditions>\n</line>'
    )  # fmt: skip
    return out


def _digits(values: np.ndarray) -> np.ndarray:
    """Integers as decimal text, an object array (for ``+`` with text)."""
    return values.astype(str).astype(object)


def _block(texts: np.ndarray, pad: str) -> str:
    """Lines ``texts`` one per row at indentation ``pad``."""
    if not len(texts):
        return ""
    return pad + "\n".join(texts.tolist()).replace("\n", "\n" + pad) + "\n"


def render(analysis: Analysis, *, source: str, timestamp: int) -> str:
    """The Cobertura document of ``analysis``; ``source`` is the project root shown in ``<source>``."""
    df = reportable_lines(analysis)
    texts = _line_texts(df)
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
        # methods: rows of this file grouped by function (stable: lines stay in order)
        names = fn_of[b:e]
        order = np.argsort(names, kind="stable")
        sorted_names = names[order]
        cuts = np.flatnonzero(np.r_[True, sorted_names[1:] != sorted_names[:-1]])
        cut_ends = np.r_[cuts[1:], len(order)]
        methods: list[tuple[int, str, str]] = []
        for cs, ce in zip(cuts.tolist(), cut_ends.tolist(), strict=True):
            fn = str(sorted_names[cs])
            if not fn:
                continue
            rows = order[cs:ce] + b
            first_line = int(line_of[rows[0]])
            start = starts.get((file, fn), first_line)
            h = int(hit[rows].sum())
            t_b = int(bt[rows].sum())
            c_b = int(bc[rows].sum())
            name, signature = _name_and_signature(fn)
            methods.append(
                (
                    start,
                    fn,
                    f'            <method name="{_attr(name)}" signature="{_attr(signature)}" '
                    f'line-rate="{_rate(h, len(rows))}" branch-rate="{_rate(c_b, t_b)}" complexity="0.0">\n'
                    "              <lines>\n" + _block(texts[rows], " " * 16) + "              </lines>\n"
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
            + "          <lines>\n" + _block(texts[b:e], " " * 12) + "          </lines>\n"
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
