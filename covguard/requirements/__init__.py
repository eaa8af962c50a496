"""Requirement lists: read them from the formats teams keep requirements in, into one table.

covguard cross-references three things: the requirement list (this package), the requirement
tags in the firmware's code and the per-test coverage.  :func:`read_requirements` reads one or
more requirement files, chosen by suffix:

=================  ============================================================================
suffix             reader
=================  ============================================================================
``.csv``           :mod:`covguard.requirements.csv_reader` (columns id, title, safety_class, ...)
``.reqif``         :mod:`covguard.requirements.reqif` (ReqIF 1.2 and the 2010 draft; tool
                   profiles in :mod:`covguard.requirements.profiles`)
``.reqifz``        the same, in a zip archive
``.sdoc``          :mod:`covguard.requirements.sdoc` (StrictDoc)
``.json``          :mod:`covguard.requirements.needs_json` (sphinx-needs ``needs.json``)
``.md``            :mod:`covguard.requirements.oft_markdown` (OpenFastTrace-style Markdown)
``.xlsx``          :mod:`covguard.requirements.xlsx` (spreadsheets, columns mapped by name)
a folder           :mod:`covguard.requirements.doorstop` (a Doorstop document: ``.doorstop.yml``)
=================  ============================================================================

What a reader does not take as a requirement (headings, excluded types...) is counted by reason
in a :class:`~covguard.requirements.ids.ReadReport`, with the warnings (a dangling hierarchy
reference); each requirement may name its ``parent`` (hierarchy), kept on the record.

and returns a :class:`pandas.DataFrame` with exactly these columns:

================  ========  ===============================================================
column            dtype     content
================  ========  ===============================================================
``id``            object    the requirement ID (str), validated by :func:`ids.validate_id`
``title``         object    the title (str), never empty, surrounding whitespace removed
``safety_class``  object    the IEC 62304 safety class (str): ``"A"``, ``"B"`` or ``"C"``
``source``        object    the file the requirement came from (str), the path as given
``line``          int64     1-based line: the CSV row's first line, or the SPEC-OBJECT's line
``attributes``    object    dict[str, str]: every other CSV column / ReqIF attribute, as text
``parent``        object    the ID of the parent requirement (str), or None (no hierarchy)
================  ========  ===============================================================

Text columns use the ``object`` dtype (plain Python ``str`` values), which behaves the same in
pandas 2.2 and 3.x.  Rows come in file order (the order of ``paths``), then in order of
appearance in the file (ascending ``line``; in a ``.reqifz`` archive, member by member).  The
index is a plain ``RangeIndex``.

IDs are unique across all files: a duplicate is an error naming both places.  Every problem
with a file is an :class:`~covguard.errors.InputError` naming the file, the line and what to do;
no requirement is returned from a file set that has one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from covguard.errors import InputError
from covguard.requirements.csv_reader import read_csv
from covguard.requirements.doorstop import is_doorstop, read_doorstop

if TYPE_CHECKING:
    import pandas as pd  # imported by requirements_frame: the options' imports do not load pandas
from covguard.requirements.ids import (
    DEFAULT_OPTIONS,
    DuplicateIndex,
    ReadReport,
    Requirement,
    RequirementOptions,
    describe_char,
    validate_id,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_OPTIONS",
    "ReadReport",
    "Requirement",
    "RequirementOptions",
    "describe_char",
    "read_requirements",
    "requirements_frame",
    "validate_id",
]

COLUMNS = ("id", "title", "safety_class", "source", "line", "attributes", "parent")
"""The columns of the frame :func:`read_requirements` returns, in order."""

_Reader = Callable[[Path, RequirementOptions, ReadReport | None], list[Requirement]]


def _lazy(module: str, name: str) -> _Reader:
    """The reader ``name`` of ``covguard.requirements.<module>``, imported when it first reads a file
    (a project reads one or two formats: the others' parsers, lxml for ReqIF, are not loaded)."""

    def reader(path: Path, options: RequirementOptions, report: ReadReport | None) -> list[Requirement]:
        function: _Reader = getattr(importlib.import_module(f"covguard.requirements.{module}"), name)
        return function(path, options, report)

    reader.__name__ = reader.__qualname__ = name
    return reader


READERS: dict[str, _Reader] = {
    ".csv": read_csv,
    ".reqif": _lazy("reqif", "read_reqif"),
    ".reqifz": _lazy("reqif", "read_reqifz"),
    ".sdoc": _lazy("sdoc", "read_sdoc"),
    ".json": _lazy("needs_json", "read_needs_json"),
    ".md": _lazy("oft_markdown", "read_oft_markdown"),
    ".xlsx": _lazy("xlsx", "read_xlsx"),
}
"""The reader for each supported file suffix (compared ignoring case); a Doorstop folder has none."""


def _reader_for(path: Path) -> _Reader:
    """The reader for a file, by its suffix; an unknown suffix is an error with a hint."""
    if is_doorstop(path):
        return read_doorstop
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(
            f"unsupported requirement file type {path.suffix or '(no suffix)'!r}",
            path=str(path),
            hint="give requirements as .csv (columns id, title, safety_class), .reqif, .reqifz, .sdoc, "
            "needs.json, .md (OpenFastTrace), .xlsx, or a Doorstop folder (with .doorstop.yml)",
        )
    return reader


def _refuse_repeated_paths(paths: list[Path]) -> None:
    """A file listed twice would report every requirement as its own duplicate: say so instead."""
    first: dict[Path, Path] = {}
    for path in paths:
        key = Path(os.path.abspath(path))
        if key in first:
            raise InputError(
                f"requirement file {str(path)!r} is listed twice (also as {str(first[key])!r})",
                path=str(path),
                hint="list every requirement file once",
            )
        first[key] = path


def read_requirements(
    paths: Sequence[Path], options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> pd.DataFrame:
    """Read every requirement file in ``paths`` into one frame (see the module docstring).

    What was not taken as a requirement, and the warnings, go to ``report`` when one is given.
    """
    return requirements_frame(read_requirement_list(paths, options, report))


def read_requirement_list(
    paths: Sequence[Path], options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """The requirements of every file in ``paths``, in order, IDs checked unique across files."""
    if not paths:
        raise InputError(
            "no requirement files given",
            hint="configure at least one requirement file (.csv, .reqif or .reqifz)",
        )
    _refuse_repeated_paths([Path(path) for path in paths])
    seen = DuplicateIndex()
    requirements: list[Requirement] = []
    for path in paths:
        for requirement in _reader_for(Path(path))(Path(path), options, report):
            seen.add(requirement)
            requirements.append(requirement)
    return _known_parents(requirements, report)


def _known_parents(requirements: list[Requirement], report: ReadReport | None) -> list[Requirement]:
    """Parents that are not requirements read here are dropped, each with a warning."""
    known = {r.id for r in requirements}
    out: list[Requirement] = []
    for requirement in requirements:
        if requirement.parent is None or requirement.parent in known:
            out.append(requirement)
            continue
        if report is not None:
            report.warn(
                requirement.where,
                requirement.line,
                f"the parent {requirement.parent!r} of {requirement.id!r} is not among the requirements "
                "read (ignored)",
            )
        out.append(replace(requirement, parent=None))
    return out


def requirements_frame(requirements: Sequence[Requirement]) -> pd.DataFrame:
    """The frame of the column contract (see the module docstring) for some requirements."""
    import pandas as pd

    return pd.DataFrame(
        {
            "id": pd.Series([r.id for r in requirements], dtype=object),
            "title": pd.Series([r.title for r in requirements], dtype=object),
            "safety_class": pd.Series([r.safety_class for r in requirements], dtype=object),
            "source": pd.Series([r.source for r in requirements], dtype=object),
            "line": pd.Series([r.line for r in requirements], dtype="int64"),
            "attributes": pd.Series([dict(r.attributes) for r in requirements], dtype=object),
            "parent": pd.Series([r.parent for r in requirements], dtype=object),
        },
        columns=list(COLUMNS),
    )
