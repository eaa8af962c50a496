"""Reader for requirement spreadsheets (``.xlsx``: exports of Jama, Polarion, codebeamer, Excel).

The first sheet (or the one named by ``requirements.columns.sheet``) holds a header row, then one
requirement per row.  Columns are found by name, ignoring case and surrounding spaces:
``requirements.columns`` maps ``id``, ``title``, ``safety_class`` and ``parent`` to the
spreadsheet's own headers (``{id = "Key", title = "Summary", safety_class = "Risk class"}``);
unmapped, the names ``id``, ``title``, ``safety_class`` and ``parent`` are looked for.  A row
with a title and no ID is a heading (a folder or section row), counted in the summary.  Without a
class column every requirement takes ``requirements.default_class``.  Other columns become
attributes.  Formulas are not evaluated: a cell shows the value the spreadsheet saved.

The workbook is read with openpyxl (read-only mode), an optional dependency
(``pip install 'covguard[requirements]'``).  Before openpyxl sees it, the archive is checked:
member sizes and compression ratios bounded, and no XML part may declare a DOCTYPE or an entity
(openpyxl's parser would otherwise expand them).
"""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path
from typing import Any

from covguard.errors import InputError
from covguard.requirements.common import Collector, Found, column
from covguard.requirements.ids import DEFAULT_OPTIONS, ReadReport, Requirement, RequirementOptions

MAX_COMPRESSION_RATIO = 200
MAX_ROWS = 200_000
_HINT = "export the spreadsheet again as .xlsx"


def _check_archive(path: Path, max_bytes: int) -> None:
    """Refuse a workbook that is not a zip, unpacks too big, or declares a DOCTYPE or entities."""
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            if total > max_bytes:
                raise InputError(
                    f"the workbook unpacks to {total} bytes, more than the limit of {max_bytes} bytes",
                    path=where,
                    hint="split the spreadsheet",
                )
            for info in infos:
                if (
                    info.file_size > 1024 * 1024
                    and info.file_size / max(info.compress_size, 1) > MAX_COMPRESSION_RATIO
                ):
                    raise InputError(
                        f"workbook part {info.filename!r} unpacks to more than {MAX_COMPRESSION_RATIO} times "
                        "its compressed size, a sign of a zip bomb",
                        path=where,
                        hint="check where the file came from",
                    )
                if info.filename.endswith((".xml", ".rels")):
                    with archive.open(info) as handle:
                        data = handle.read(max_bytes + 1)
                    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
                        raise InputError(
                            f"workbook part {info.filename!r} declares a DOCTYPE or entities, "
                            "which covguard refuses",
                            path=where,
                            hint=_HINT,
                        )
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as err:
        raise InputError(f"cannot read the workbook: {err}", path=where, hint=_HINT) from err


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def read_xlsx(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read the requirements of one ``.xlsx`` workbook (see the module docstring)."""
    where = str(path)
    try:
        import openpyxl
    except ImportError as err:  # pragma: no cover - the dev install has it
        raise InputError(
            "reading .xlsx needs openpyxl", path=where, hint="pip install 'covguard[requirements]'"
        ) from err
    if not path.is_file():
        raise InputError("cannot read requirement file: not a file", path=where)
    _check_archive(path, options.max_bytes)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a broken workbook
        raise InputError(f"cannot read the workbook: {err}", path=where, hint=_HINT) from err
    try:
        sheet_name = dict(options.columns).get("sheet")
        if sheet_name and sheet_name not in workbook.sheetnames:
            raise InputError(
                f"the workbook has no sheet {sheet_name!r}; it has {', '.join(workbook.sheetnames)}",
                path=where,
                hint="fix requirements.columns.sheet",
            )
        sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        return _read_rows(path, rows, options, report)
    finally:
        workbook.close()


def _read_rows(
    path: Path, rows: Any, options: RequirementOptions, report: ReadReport | None
) -> list[Requirement]:
    where = str(path)
    header: list[str] | None = None
    header_line = 0
    positions: dict[str, int] = {}
    collector = Collector(path, options)
    wanted = {name: column(options, name, name) for name in ("id", "title", "safety_class", "parent")}
    for number, row in enumerate(rows, start=1):
        if number > MAX_ROWS:
            raise InputError(
                f"the sheet has more than {MAX_ROWS} rows", path=where, hint="split the spreadsheet"
            )
        cells = [_text(value).strip() for value in row]
        if not any(cells):
            continue
        if header is None:
            header, header_line = cells, number
            by_name = {name.casefold(): index for index, name in enumerate(cells) if name}
            for key, name in wanted.items():
                if name.casefold() in by_name:
                    positions[key] = by_name[name.casefold()]
            missing = [wanted[key] for key in ("id", "title") if key not in positions]
            if missing:
                raise InputError(
                    "missing column(s) "
                    + ", ".join(repr(m) for m in missing)
                    + "; the header has "
                    + ", ".join(repr(c) for c in cells if c),
                    path=where,
                    line=number,
                    hint='map your column names: requirements.columns = {id = "Key", title = "Summary"}',
                )
            continue
        cells += [""] * (len(header) - len(cells))

        def cell(key: str, cells: list[str] = cells) -> str | None:
            return cells[positions[key]] if key in positions else None

        if not cell("id") and cell("title"):  # a section row (Jama folders, Excel headings)
            if report is not None:
                report.skip("heading (row without ID)")
            continue
        used = set(positions.values())
        attributes = {name: cells[i] for i, name in enumerate(header) if name and i not in used}
        collector.add(
            Found(
                cell("id") or "",
                cell("title") or "",
                cell("safety_class") or None,
                number,
                attributes,
                cell("parent") or None,
            )
        )
    if header is None:
        raise InputError("the sheet is empty", path=where, line=header_line or None, hint="add a header row")
    return collector.requirements(report)
