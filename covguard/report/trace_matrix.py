"""The trace matrix: requirement <-> function <-> test, as CSV and as an XLSX workbook.

One frame, :func:`trace_links`, holds every link, in both directions:

* each requirement with each function that implements it and each test that verifies it, and
  whether that test executed that function (``executes``: ``yes``/``no``);
* each function traced to no requirement (rogue code, typically), with every test that executed it;
* each test that verifies no known requirement.

A requirement without code or without tests, a function without a requirement and a test without
a requirement all appear, with the missing side left empty: an auditor can filter the matrix by
any column and see the gaps.  The HTML report renders the same frame.

CSV (RFC 4180, UTF-8, CRLF) and XLSX are written so that a spreadsheet never evaluates a cell: a
text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
``'`` (OWASP's advice against CSV/formula injection).  XLSX text cells are inline strings, never
formulas, and carry the same prefix so both files read the same.  The XLSX is written here with
:mod:`zipfile` and lxml (no spreadsheet library at run time), deterministically: fixed member
order and timestamps, no creation date - the same inputs give the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from lxml import etree

from covguard.analysis.analyse import Analysis
from covguard.files import visible_bytes, write_bytes
from covguard.report.junit import xml_text

LINK_COLUMNS = [
    "requirement",
    "title",
    "safety_class",
    "requirement_status",
    "file",
    "function",
    "line",
    "function_class",
    "test",
    "test_status",
    "executes",
]
"""Columns of :func:`trace_links` (and of the CSV, in this order)."""

_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def by_value(text: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn`` (a string operation on a Series) applied once per distinct value of ``text`` (no
    missing values), the results spread back to every row: pandas' string operations loop in
    Python, and a trace matrix repeats the same file, function, status and test over and over."""
    codes, uniques = pd.factorize(text)
    done = fn(pd.Series(np.asarray(uniques, dtype=object), dtype=object)).to_numpy(dtype=object)
    return pd.Series(done[codes], index=text.index, dtype=object)


def escape_cells(series: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would evaluate (``= + - @``, tab, CR first) prefixed with ``'``."""
    codes, uniques = pd.factorize(series)  # once per distinct value; missing: code -1, empty
    texts = ["", *(_formula_safe(str(u)) for u in np.asarray(uniques, dtype=object).tolist())]
    return pd.Series(np.array(texts, dtype=object)[codes + 1], index=series.index, dtype=object)


def _formula_safe(text: str) -> str:
    return "'" + text if _FORMULA_START.match(text) else text


def _blank(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    for c in columns:
        if c not in df.columns:
            df[c] = ""
    return df


def trace_links(analysis: Analysis) -> pd.DataFrame:
    """Every requirement-function-test link of the analysis (see the module docstring); built
    once per analysis (the HTML, CSV and XLSX writers each get a copy)."""
    cached = analysis.cache.get("trace_links")
    if cached is None:
        cached = analysis.cache["trace_links"] = _trace_links(analysis)
    return cached.copy()


def _trace_links(analysis: Analysis) -> pd.DataFrame:
    reqs = analysis.requirements.loc[:, ["id", "title", "safety_class", "status"]].rename(
        columns={"id": "requirement", "status": "requirement_status"}
    )
    reqs = reqs.assign(_order=np.arange(len(reqs)))
    fn = analysis.functions.loc[:, ["file", "function", "line_start", "class"]].rename(
        columns={"line_start": "line", "class": "function_class"}
    )
    fr = analysis.function_requirements.loc[:, ["file", "function", "requirement"]].astype(str)
    fr = fr.merge(fn, on=["file", "function"], how="inner")
    known = set(reqs["requirement"])
    tr = analysis.test_requirements.loc[:, ["test", "requirement"]].astype(str)
    tr = tr[tr["requirement"].isin(known)].drop_duplicates()
    tests = analysis.tests.loc[:, ["test", "status", "coverage_unit"]].astype(str)
    tests = tests.rename(columns={"status": "test_status"})
    executed = (
        analysis.coverage.functions.loc[:, ["file", "function", "test"]]
        .astype(str)
        .rename(columns={"test": "coverage_unit"})
        .drop_duplicates()
        .assign(_hit=True)
    )

    # requirement side: each requirement x its functions x its tests
    by_req = reqs.merge(fr, on="requirement", how="left").merge(tr, on="requirement", how="left")
    by_req = by_req.merge(tests, on="test", how="left")
    by_req = by_req.merge(executed, on=["file", "function", "coverage_unit"], how="left")
    both = by_req["function"].notna() & by_req["test"].notna()
    by_req["executes"] = np.where(both, np.where(by_req["_hit"].eq(True), "yes", "no"), "")

    # code side: functions traced to no requirement, with the tests that executed them
    traced = fn.set_index(["file", "function"]).index.isin(fr.set_index(["file", "function"]).index)
    untraced = fn[~traced]
    runners = executed.merge(tests, on="coverage_unit").loc[:, ["file", "function", "test", "test_status"]]
    by_code = untraced.merge(runners, on=["file", "function"], how="left")
    by_code = by_code.assign(executes=np.where(by_code["test"].notna(), "yes", ""), _order=len(reqs))

    # test side: tests that verify no known requirement
    lonely = tests[~tests["test"].isin(tr["test"])].loc[:, ["test", "test_status"]]
    by_test = lonely.assign(_order=len(reqs) + 1)

    links = pd.concat([by_req, by_code, by_test], ignore_index=True)
    links = _blank(links, LINK_COLUMNS)
    links["line"] = pd.to_numeric(links["line"], errors="coerce").astype("Int64")
    links = links.sort_values(
        ["_order", "file", "line", "function", "test"], kind="stable", na_position="first"
    )
    out = links.loc[:, LINK_COLUMNS].reset_index(drop=True)
    text_cols = [c for c in LINK_COLUMNS if c != "line"]
    out[text_cols] = out[text_cols].fillna("").astype(str)
    return out


# ---------------------------------------------------------------------------------------------
# the workbook's other sheets: one row per requirement, per function, per test


def joined(frame: pd.DataFrame, keys: str | list[str], column: str) -> pd.Series:
    """Per group of ``keys``: the distinct non-empty values of ``column``, sorted, ``", "``-joined
    (a group with none is absent; groups in the order of their first value in that sort, as a
    ``groupby(sort=False)`` over the values sorted gives them).  Each column's text is factorized
    once; deduplication, sort and grouping run on the integer codes."""
    keys = [keys] if isinstance(keys, str) else keys
    texts = {c: frame[c].astype(str) for c in dict.fromkeys([*keys, column])}
    v_code, v_uniques = pd.factorize(texts[column])
    v_names = np.asarray(v_uniques, dtype=object)
    rank = np.empty(len(v_names), dtype="int64")
    rank[np.argsort(v_names, kind="stable")] = np.arange(len(v_names))
    key_codes: list[np.ndarray] = []
    key_names: list[np.ndarray] = []
    for k in keys:
        k_code, k_uniques = pd.factorize(texts[k])
        key_codes.append(k_code)
        key_names.append(np.asarray(k_uniques, dtype=object))
    group = np.zeros(len(frame), dtype="int64")
    for code, names in zip(key_codes, key_names, strict=True):
        group = group * max(len(names), 1) + code
    keep = np.flatnonzero(v_names[v_code] != "") if len(frame) else np.zeros(0, dtype="int64")
    # distinct (group, value) pairs, each at its first row, then sorted by value (stable)
    pair = group[keep] * max(len(v_names), 1) + v_code[keep]
    _u, first = np.unique(pair, return_index=True)
    rows = keep[np.sort(first)]
    rows = rows[np.argsort(rank[v_code[rows]], kind="stable")]
    g_code, g_first = pd.factorize(group[rows])  # groups by first appearance in that order
    order = np.argsort(g_code, kind="stable")
    values = v_names[v_code[rows[order]]].tolist()
    ends = np.searchsorted(g_code[order], np.arange(len(g_first)), side="right").tolist()
    out = [", ".join(values[a:b]) for a, b in zip([0, *ends][:-1], ends, strict=True)]
    lead = rows[order][np.r_[0, ends[:-1]].astype("int64")] if len(rows) else rows
    levels = [
        pd.Index(names[code[lead]], dtype=texts[k].dtype, name=k)
        for k, code, names in zip(keys, key_codes, key_names, strict=True)
    ]
    index = levels[0] if len(levels) == 1 else pd.MultiIndex.from_arrays(levels)
    return pd.Series(out, index=index, name=column, dtype=texts[column].dtype)


def requirement_rows(analysis: Analysis, links: pd.DataFrame) -> pd.DataFrame:
    r = analysis.requirements
    code = (links["file"] + ":" + links["function"]).where(links["function"] != "", "")
    functions = joined(links.assign(code=code), "requirement", "code")
    tests = joined(links, "requirement", "test")
    line_cov = np.where(
        r["lines_total"] > 0, 100.0 * r["lines_verified"] / r["lines_total"].clip(lower=1), np.nan
    )
    br_cov = np.where(
        r["branches_total"] > 0, 100.0 * r["branches_verified"] / r["branches_total"].clip(lower=1), np.nan
    )
    rows = pd.DataFrame(
        {
            "requirement": r["id"].astype(str),
            "title": r["title"].astype(str),
            "safety_class": r["safety_class"].astype(str),
            "status": r["status"].astype(str),
            "implemented_by": r["id"].map(functions).fillna("").astype(str),
            "verified_by": r["id"].map(tests).fillna("").astype(str),
            "failing_tests": r["failing_tests"].apply(", ".join).astype(str),
            "requirement_line_coverage_pct": np.round(line_cov, 2),
            "requirement_branch_coverage_pct": np.round(br_cov, 2),
            "source": (r["source"].astype(str) + ":" + r["line"].astype(str)),
        }
    )
    if "parent" in r and r["parent"].notna().any():  # a hierarchy: one more column, after the title
        rows.insert(2, "parent", r["parent"].fillna("").astype(str))
    return rows


def function_rows(analysis: Analysis, links: pd.DataFrame) -> pd.DataFrame:
    f = analysis.functions
    ran = joined(links[links["executes"] == "yes"], ["file", "function"], "test")
    key = pd.MultiIndex.from_arrays([f["file"].astype(str), f["function"].astype(str)])
    return pd.DataFrame(
        {
            "file": f["file"].astype(str),
            "function": f["function"].astype(str),
            "line": f["line_start"].astype("int64"),
            "class": f["class"].astype(str),
            "safety_class": f["safety_class"].astype(str),
            "requirements": f["requirements"].apply(", ".join).astype(str),
            "executed_by_tests": pd.Series(ran.reindex(key).to_numpy(), index=f.index).fillna("").astype(str),
            "lines_total": f["lines_total"].astype("int64"),
            "lines_verified": f["lines_verified"].astype("int64"),
            "justification": f["justification"].fillna("").astype(str),
        }
    )


def test_rows(analysis: Analysis, links: pd.DataFrame) -> pd.DataFrame:
    t = analysis.tests
    tr = joined(analysis.test_requirements, "test", "requirement")
    code = (links["file"] + ":" + links["function"]).where(links["executes"] == "yes", "")
    touched = joined(links.assign(code=code), "test", "code")
    return pd.DataFrame(
        {
            "test": t["test"].astype(str),
            "status": t["status"].astype(str),
            "verifies": t["test"].map(tr).astype(object).fillna("").astype(str),
            "executes": t["test"].map(touched).astype(object).fillna("").astype(str),
            "file": t["file"].astype(str) + ":" + t["line"].astype(str),
            "message": t["message"].fillna("").astype(str),
        }
    )


# ---------------------------------------------------------------------------------------------
# CSV


def csv_bytes(links: pd.DataFrame) -> bytes:
    """The trace matrix as CSV (RFC 4180: CRLF, quotes doubled), formula cells escaped."""
    columns: list[list[str]] = []
    for c in links.columns:
        if c == "line":  # a whole number, or empty
            text = np.array(list(map(str, links[c].fillna(0).to_numpy(dtype="int64").tolist())), dtype=object)
            text[links[c].isna().to_numpy()] = ""
            columns.append(text.tolist())
        else:
            columns.append(escape_cells(links[c]).tolist())
    # the csv module's writer (what pandas' to_csv drives, without its conversions per chunk)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([str(c) for c in links.columns])
    writer.writerows(zip(*columns, strict=True))
    return visible_bytes(buf.getvalue()).encode("utf-8")


def write_csv(path: Path, analysis: Analysis) -> None:
    write_bytes(path, csv_bytes(trace_links(analysis)))


# ---------------------------------------------------------------------------------------------
# XLSX (Office Open XML SpreadsheetML, the minimal set of parts Excel and LibreOffice need)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _root(tag: str, nsmap: dict[str | None, str]) -> etree._Element:
    """A root element; ``None`` is the default namespace (lxml-stubs types nsmap keys as str only)."""
    return etree.Element(tag, nsmap=cast(Any, nsmap))


def _xml(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def _sheet_xml(frame: pd.DataFrame) -> bytes:
    """The worksheet of ``frame``, written as text column by column (no element per cell): the
    same bytes lxml writes for the same tree (``tests/test_reports.py`` checks both ways)."""
    n_rows, n_cols = len(frame) + 1, max(len(frame.columns), 1)
    last = f"{_column_letter(n_cols - 1)}{n_rows}"
    letters = [_column_letter(i) for i in range(len(frame.columns))]
    numbers = np.arange(2, n_rows + 1).astype(str).astype(object)
    widths: list[str] = []
    # the sheet's rows as a table of text pieces (one column per piece, a row per sheet row),
    # joined once at the end: no string is built per cell by concatenation
    pieces: list[np.ndarray] = []
    any_cell = np.zeros(len(frame), dtype=bool)
    for letter, c in zip(letters, frame.columns, strict=True):
        s = frame[c]
        if bool(pd.api.types.is_numeric_dtype(s)) and not pd.api.types.is_bool_dtype(s):
            values = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
            filled = ~np.isnan(values)
            distinct, where = np.unique(values[filled], return_inverse=True)  # formatted once each
            tails = np.array([f'"><v>{v:g}</v></c>' for v in distinct.tolist()], dtype=object)
            longest = max([len(str(c)), *(len(str(float(v))) for v in distinct.tolist())], default=8)
            tail = np.full(len(frame), "", dtype=object)
            tail[filled] = tails[where.reshape(-1)]
        else:
            # every string operation once per distinct value (plain Python on the few distinct
            # values: pandas' string methods cost more per call than the work), spread by code
            codes, uniques = pd.factorize(s)  # a missing value: code -1, an empty cell
            texts = [_cell_text(str(u)) for u in np.asarray(uniques, dtype=object).tolist()]
            longest = max([len(str(c)), *(len(t) for t in texts)], default=8)
            tails = np.array(["", *(_cell_tail(t) if t else "" for t in texts)], dtype=object)
            filled = np.array([False, *(t != "" for t in texts)], dtype=bool)[codes + 1]
            tail = tails[codes + 1]
        widths.append(f'<col min="{len(widths) + 1}" max="{len(widths) + 1}" '
                      f'width="{min(max(longest + 2, 8), 60)}" customWidth="1"/>')  # fmt: skip
        pieces += [_where(filled, f'<c r="{letter}'), _where(filled, numbers), tail]
        any_cell |= filled
    header = "".join(
        _text_cells(np.array([f"{letter}1"], dtype=object), pd.Series([str(name)]), style="1")[0]
        for letter, name in zip(letters, frame.columns, strict=True)
    )
    table = [
        np.full(len(frame), '<row r="', dtype=object),
        numbers,
        _where(any_cell, '">', '"/>'),
        *pieces,
        _where(any_cell, "</row>"),
    ]
    rows = np.column_stack(table).ravel() if len(frame) else np.array([], dtype=object)
    parts = [
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n",
        f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{last}"/><sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>',
        "<cols>" + "".join(widths) + "</cols>" if widths else "<cols/>",
        f'<sheetData><row r="1">{header}</row>' if header else '<sheetData><row r="1"/>',
        "".join(rows.tolist()),
        "</sheetData>",
        f'<autoFilter ref="A1:{last}"/>' if len(frame) else "",
        "</worksheet>",
    ]
    return "".join(parts).encode("utf-8")


def _where(mask: np.ndarray, yes: str | np.ndarray, no: str = "") -> np.ndarray:
    """``np.where(mask, yes, no)`` as an object array, without a fixed-width text array between."""
    out = np.full(len(mask), no, dtype=object)
    out[mask] = yes[mask] if isinstance(yes, np.ndarray) else yes
    return out


def _cell_text(text: str) -> str:
    """A text cell's value: formula start escaped, characters XML cannot hold at all dropped."""
    return _XML_INVALID.sub("", _formula_safe(text))


def _cell_tail(text: str) -> str:
    """The rest of a text cell after its reference (as :func:`_inline_string` writes it)."""
    shown = xml_text(text)
    body = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    opening = '<t xml:space="preserve">' if shown != shown.strip() else "<t>"
    return f'" t="inlineStr"><is>{opening}{body}</t></is></c>'


def _text_cells(refs: np.ndarray, texts: pd.Series, style: str | None = None) -> np.ndarray:
    """``<c t="inlineStr">`` cells of ``texts`` at ``refs`` (xml:space="preserve" where the text has
    white space at an end), escaped as lxml escapes text."""
    attrs = ' t="inlineStr"' + (f' s="{style}"' if style else "")
    inner = by_value(texts.astype(str), _inline_string).to_numpy(dtype=object)
    return np.asarray('<c r="' + refs + '"' + attrs + "><is>" + inner + "</t></is></c>", dtype=object)


def _inline_string(texts: pd.Series) -> pd.Series:
    """The opening ``<t>`` (xml:space="preserve" with white space at an end) and the escaped text."""
    shown = texts.map(xml_text)  # a control character or an undecodable byte, escaped
    body = (
        shown.str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False)
        .str.replace("\r", "&#13;", regex=False)
    )
    preserve = (shown != shown.str.strip()).to_numpy()
    return pd.Series(np.where(preserve, '<t xml:space="preserve">', "<t>"), dtype=object) + body


def _styles_xml() -> bytes:
    st = _root(f"{{{_MAIN}}}styleSheet", {None: _MAIN})
    fonts = etree.SubElement(st, f"{{{_MAIN}}}fonts", count="2")
    for bold in (False, True):
        font = etree.SubElement(fonts, f"{{{_MAIN}}}font")
        if bold:
            etree.SubElement(font, f"{{{_MAIN}}}b")
        etree.SubElement(font, f"{{{_MAIN}}}sz", val="11")
        etree.SubElement(font, f"{{{_MAIN}}}name", val="Calibri")
    fills = etree.SubElement(st, f"{{{_MAIN}}}fills", count="2")
    for pattern in ("none", "gray125"):
        fill = etree.SubElement(fills, f"{{{_MAIN}}}fill")
        etree.SubElement(fill, f"{{{_MAIN}}}patternFill", patternType=pattern)
    borders = etree.SubElement(st, f"{{{_MAIN}}}borders", count="1")
    border = etree.SubElement(borders, f"{{{_MAIN}}}border")
    for side in ("left", "right", "top", "bottom", "diagonal"):
        etree.SubElement(border, f"{{{_MAIN}}}{side}")
    style_xfs = etree.SubElement(st, f"{{{_MAIN}}}cellStyleXfs", count="1")
    etree.SubElement(style_xfs, f"{{{_MAIN}}}xf", numFmtId="0", fontId="0", fillId="0", borderId="0")
    xfs = etree.SubElement(st, f"{{{_MAIN}}}cellXfs", count="2")
    etree.SubElement(xfs, f"{{{_MAIN}}}xf", numFmtId="0", fontId="0", fillId="0", borderId="0", xfId="0")
    etree.SubElement(
        xfs, f"{{{_MAIN}}}xf", numFmtId="0", fontId="1", fillId="0", borderId="0", xfId="0", applyFont="1"
    )
    cell_styles = etree.SubElement(st, f"{{{_MAIN}}}cellStyles", count="1")
    etree.SubElement(cell_styles, f"{{{_MAIN}}}cellStyle", name="Normal", xfId="0", builtinId="0")
    return _xml(st)


def xlsx_bytes(sheets: Sequence[tuple[str, pd.DataFrame]], title: str = "covguard trace matrix") -> bytes:
    """A workbook with one sheet per ``(name, frame)``: header row bold and frozen, autofilter on."""
    n = len(sheets)
    ct = _root(f"{{{_CT}}}Types", {None: _CT})
    etree.SubElement(
        ct,
        f"{{{_CT}}}Default",
        Extension="rels",
        ContentType="application/vnd.openxmlformats-package.relationships+xml",
    )
    etree.SubElement(ct, f"{{{_CT}}}Default", Extension="xml", ContentType="application/xml")
    overrides = [
        ("/xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
        *(
            (
                f"/xl/worksheets/sheet{i + 1}.xml",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
            )
            for i in range(n)
        ),
        ("/xl/styles.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
    ]
    for part, kind in overrides:
        etree.SubElement(ct, f"{{{_CT}}}Override", PartName=part, ContentType=kind)

    rels = _root(f"{{{_PKG_REL}}}Relationships", {None: _PKG_REL})
    etree.SubElement(
        rels, f"{{{_PKG_REL}}}Relationship", Id="rId1", Target="xl/workbook.xml",
        Type=f"{_REL}/officeDocument",
    )  # fmt: skip
    etree.SubElement(
        rels, f"{{{_PKG_REL}}}Relationship", Id="rId2", Target="docProps/core.xml",
        Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
    )  # fmt: skip

    cp = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
    dc = "http://purl.org/dc/elements/1.1/"
    core = _root(f"{{{cp}}}coreProperties", {"cp": cp, "dc": dc})
    etree.SubElement(core, f"{{{dc}}}title").text = title
    etree.SubElement(core, f"{{{dc}}}creator").text = "covguard"

    wb = _root(f"{{{_MAIN}}}workbook", {None: _MAIN, "r": _REL})
    sheets_el = etree.SubElement(wb, f"{{{_MAIN}}}sheets")
    names = etree.SubElement(wb, f"{{{_MAIN}}}definedNames")
    wb_rels = _root(f"{{{_PKG_REL}}}Relationships", {None: _PKG_REL})
    for i, (name, frame) in enumerate(sheets):
        safe = re.sub(r"[\[\]:*?/\\]", " ", name)[:31]
        etree.SubElement(sheets_el, f"{{{_MAIN}}}sheet", name=safe, sheetId=str(i + 1)).set(
            f"{{{_REL}}}id", f"rId{i + 1}"
        )
        etree.SubElement(
            wb_rels, f"{{{_PKG_REL}}}Relationship", Id=f"rId{i + 1}", Target=f"worksheets/sheet{i + 1}.xml",
            Type=f"{_REL}/worksheet",
        )  # fmt: skip
        if len(frame):
            last = f"${_column_letter(len(frame.columns) - 1)}${len(frame) + 1}"
            defined = etree.SubElement(
                names,
                f"{{{_MAIN}}}definedName",
                name="_xlnm._FilterDatabase",
                localSheetId=str(i),
                hidden="1",
            )
            defined.text = f"'{safe}'!$A$1:{last}"
    if not len(names):
        wb.remove(names)
    etree.SubElement(
        wb_rels, f"{{{_PKG_REL}}}Relationship", Id=f"rId{n + 1}", Target="styles.xml", Type=f"{_REL}/styles"
    )

    members = [
        ("[Content_Types].xml", _xml(ct)),
        ("_rels/.rels", _xml(rels)),
        ("docProps/core.xml", _xml(core)),
        ("xl/workbook.xml", _xml(wb)),
        ("xl/_rels/workbook.xml.rels", _xml(wb_rels)),
        ("xl/styles.xml", _styles_xml()),
        *((f"xl/worksheets/sheet{i + 1}.xml", _sheet_xml(frame)) for i, (_n, frame) in enumerate(sheets)),
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=1)  # 4x faster than 6, 20 % larger
    return buf.getvalue()


def workbook_sheets(analysis: Analysis) -> list[tuple[str, pd.DataFrame]]:
    links = trace_links(analysis)
    return [
        ("Trace matrix", links),
        ("Requirements", requirement_rows(analysis, links)),
        ("Functions", function_rows(analysis, links)),
        ("Tests", test_rows(analysis, links)),
    ]


def write_xlsx(path: Path, analysis: Analysis) -> None:
    write_bytes(path, xlsx_bytes(workbook_sheets(analysis)))
