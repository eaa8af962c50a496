"""Reader for requirement lists kept as CSV (comma-separated, UTF-8, first row the header).

The file needs the columns ``id``, ``title`` and ``safety_class`` (any case, any order,
surrounding spaces ignored); an optional ``parent`` column gives the requirement's parent ID (the
hierarchy; empty: none); every other column is kept, as text, in the requirement's
``attributes``.  The reader is deliberately strict, because a silently mangled requirement list
makes a trace report lie:

* every cell is text: ``0012`` stays ``0012``, ``NA``, ``null`` and empty cells stay as written;
* line numbers are physical lines of the file, also when a quoted cell spans several lines;
* the encoding is UTF-8 (a leading byte-order mark is removed); anything else is refused with the
  line of the first bad byte;
* duplicate or unnamed header columns, missing columns, rows with too many or too few cells,
  malformed quoting, bad IDs (see :mod:`covguard.requirements.ids`), duplicate IDs, empty
  titles and safety classes other than A, B or C are errors naming the line;
* blank lines, and rows whose cells are all blank (what spreadsheets leave behind), are skipped;
* a header without any requirement row is an error.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from covguard.errors import InputError
from covguard.requirements.ids import (
    DEFAULT_OPTIONS,
    DuplicateIndex,
    ReadReport,
    Requirement,
    RequirementOptions,
    check_title,
    compile_id_pattern,
    normalise_safety_class,
    validate_id,
)

REQUIRED_COLUMNS = ("id", "title", "safety_class")
_NEWLINE = re.compile(r"\r\n|\r|\n")  # what io's universal newlines (and so csv.reader) count


@dataclass(frozen=True)
class _Header:
    """The header row: column names as written, and where the required columns are."""

    names: list[str]
    id_col: int
    title_col: int
    class_col: int
    line: int
    parent_col: int | None = None

    @functools.cached_property
    def extra(self) -> list[tuple[int, str]]:
        """(index, name) of the columns that are not required, in order."""
        required = {self.id_col, self.title_col, self.class_col, self.parent_col}
        return [(index, name) for index, name in enumerate(self.names) if index not in required]


def read_file_bytes(path: Path, max_bytes: int, *, where: str | None = None) -> bytes:
    """Read a whole input file, refusing one larger than ``max_bytes`` before reading it.

    Operating-system errors (missing file, a folder, no permission) become InputError.
    """
    shown = where or str(path)
    try:
        with path.open("rb") as handle:
            size = _file_size(handle)
            if size > max_bytes:
                raise _too_large(shown, size, max_bytes)
            data = handle.read(max_bytes + 1)
    except OSError as err:
        raise InputError(
            f"cannot read requirement file: {err.strerror or err}",
            path=shown,
            hint="check that the path names a readable file",
        ) from err
    if len(data) > max_bytes:  # the file grew while we read it
        raise _too_large(shown, len(data), max_bytes)
    return data


def _file_size(handle: io.BufferedReader) -> int:
    """Size of an open file in bytes (the file's own size, without reading it)."""
    return os.fstat(handle.fileno()).st_size


def _too_large(where: str, size: int, max_bytes: int) -> InputError:
    """The error for a file over the size cap."""
    return InputError(
        f"requirement file is {size} bytes, more than the limit of {max_bytes} bytes",
        path=where,
        hint="split the requirement list, or raise the size limit if the file is genuine",
    )


def decode_utf8(data: bytes, where: str) -> str:
    """Decode UTF-8 (a leading byte-order mark is dropped); report the line of a bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = len(_NEWLINE.findall(data[: err.start].decode("utf-8", errors="replace"))) + 1
        raise InputError(
            f"the file is not valid UTF-8: byte 0x{data[err.start]:02X} at offset {err.start} ({err.reason})",
            path=where,
            line=line,
            hint="save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')",
        ) from err
    return text.removeprefix("\ufeff")


def read_csv(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read one CSV requirement list; see the module docstring for the rules."""
    where = str(path)
    text = decode_utf8(read_file_bytes(path, options.max_bytes), where)
    return parse_csv_text(text, where=where, options=options)


def parse_csv_text(text: str, *, where: str, options: RequirementOptions) -> list[Requirement]:
    """Parse the decoded text of a CSV requirement list named ``where`` in messages."""
    pattern = compile_id_pattern(options.id_pattern)
    rows = _records(text, where)
    header = _read_header(rows, where)
    seen = DuplicateIndex()
    requirements: list[Requirement] = []
    for line, cells in rows:
        if len(cells) != len(header.names):
            raise InputError(
                f"row has {len(cells)} cells but the header has {len(header.names)} columns",
                path=where,
                line=line,
                hint="check for a missing or extra comma, or an unquoted comma inside a cell",
            )
        req_id = validate_id(cells[header.id_col], pattern, path=where, line=line)
        requirement = Requirement(
            id=req_id,
            title=check_title(cells[header.title_col], req_id=req_id, path=where, line=line),
            safety_class=normalise_safety_class(
                cells[header.class_col], req_id=req_id, path=where, line=line, options=options
            ),
            source=where,
            line=line,
            attributes=_attributes(header, cells),
            where=where,
            parent=(cells[header.parent_col].strip() or None) if header.parent_col is not None else None,
        )
        seen.add(requirement)
        requirements.append(requirement)
    if not requirements:
        raise InputError(
            "no requirements: the file has a header but no requirement rows",
            path=where,
            line=header.line,
            hint="add the requirements below the header, or remove the file from the configuration",
        )
    return requirements


def _records(text: str, where: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (first physical line, cells) for every non-blank record of the CSV text."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise InputError(
                f"malformed CSV: {err}",
                path=where,
                line=reader.line_num or None,
                hint="check the quoting: a cell with a comma, quote or line break must be in double quotes, "
                'and a quote inside it doubled ("")',
            ) from err
        first_line, previous_end = previous_end + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            yield first_line, cells


def _read_header(rows: Iterator[tuple[int, list[str]]], where: str) -> _Header:
    """Take the first record as the header and locate the required columns in it."""
    first = next(rows, None)
    if first is None:
        raise InputError(
            "no requirements: the file is empty",
            path=where,
            hint="the first row must be a header with the columns " + ", ".join(REQUIRED_COLUMNS),
        )
    line, cells = first
    names = [cell.strip() for cell in cells]
    positions: dict[str, int] = {}
    for column, name in enumerate(names, start=1):
        key = name.casefold()
        if not name:
            raise InputError(
                f"header column {column} has no name",
                path=where,
                line=line,
                hint="name every column, or delete empty columns",
            )
        if key in positions:
            raise InputError(
                f"duplicate column {name!r} in the header (columns {positions[key]} and {column})",
                path=where,
                line=line,
                hint="every column name must appear once (names are compared ignoring case)",
            )
        positions[key] = column
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        raise InputError(
            "missing required column(s) "
            + ", ".join(repr(name) for name in missing)
            + "; the header has "
            + ", ".join(repr(name) for name in names),
            path=where,
            line=line,
            hint=_missing_columns_hint(names),
        )
    parent = positions["parent"] - 1 if "parent" in positions else None
    return _Header(
        names, positions["id"] - 1, positions["title"] - 1, positions["safety_class"] - 1, line, parent
    )


def _missing_columns_hint(names: list[str]) -> str:
    """What to do about missing columns, noticing a file separated by semicolons or tabs."""
    hint = "the header row needs the columns " + ", ".join(REQUIRED_COLUMNS)
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        hint += "; the file seems to use ';' or tabs between cells, but covguard reads comma-separated files"
    return hint


def _attributes(header: _Header, cells: list[str]) -> dict[str, str]:
    """The cells of the non-required columns, by column name, exactly as written."""
    return {name: cells[index] for index, name in header.extra}
