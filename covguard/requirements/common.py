"""What the readers of the other formats (sdoc, needs.json, Doorstop, Markdown, xlsx) share.

A reader finds, for each requirement, a raw ID, a title, a raw class, its line, its other fields
and the raw ID of its parent; :class:`Collector` turns them into
:class:`~covguard.requirements.ids.Requirement` records the same way for every format: the ID
prefix of the file (``requirements.id_prefix``), the ID rule, the title rule, the class map and
default, duplicate IDs refused with both places, parents resolved within the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from covguard.errors import InputError
from covguard.requirements.ids import (
    DuplicateIndex,
    ReadReport,
    Requirement,
    RequirementOptions,
    check_title,
    compile_id_pattern,
    normalise_safety_class,
    validate_id,
)


@dataclass(frozen=True)
class Found:
    """One requirement as a reader found it, before the common rules."""

    raw_id: str
    title: str
    raw_class: str | None  # None: the format has no class for it (requirements.default_class applies)
    line: int
    attributes: dict[str, str]
    parent: str | None = None
    where: str | None = None  # the file of this requirement when it is not the file read (a Doorstop item)


def column(options: RequirementOptions, name: str, default: str) -> str:
    """The field or column configured for ``name`` (requirements.columns), else ``default``."""
    return dict(options.columns).get(name, default)


class Collector:
    """Applies the common rules to what one file's reader found (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        options: RequirementOptions,
        *,
        pattern: str | None = None,
        names: tuple[str, ...] = (),
    ) -> None:
        self.where = str(path)
        self.options = options
        self.pattern: re.Pattern[str] = compile_id_pattern(pattern or options.id_pattern)
        self.prefix = options.prefix_for(*names, path.name, str(path))
        self.found: list[Found] = []

    def add(self, found: Found) -> None:
        """Record one requirement."""
        self.found.append(found)

    def requirements(self, report: ReadReport | None) -> list[Requirement]:
        """The requirements, checked; an empty file is an error that says what was skipped."""
        if not self.found:
            summary = report.summary() if report is not None else ""
            raise InputError(
                "no requirements" + (f": {summary}" if summary else " in the file"),
                path=self.where,
                hint="check the file's format and the field names (requirements.columns); "
                "`covguard requirements show FILE` shows what is read",
            )
        seen = DuplicateIndex()
        out: list[Requirement] = []
        ids: dict[str, str] = {}
        for found in self.found:
            where = found.where or self.where
            req_id = validate_id(
                self.prefix + found.raw_id.strip(), self.pattern, path=where, line=found.line
            )
            ids[found.raw_id.strip()] = req_id
            title = check_title(found.title, req_id=req_id, path=where, line=found.line)
            if found.raw_class is None and not self.options.default_class:
                raise InputError(
                    f"requirement {req_id!r} has no safety class",
                    path=where,
                    line=found.line,
                    hint="give it a safety class field (named by requirements.columns.safety_class), "
                    "or set requirements.default_class",
                )
            safety_class = normalise_safety_class(
                found.raw_class or "", req_id=req_id, path=where, line=found.line, options=self.options
            )
            requirement = Requirement(
                req_id,
                title,
                safety_class,
                self.where,
                found.line,
                found.attributes,
                where,
                found.parent,
            )
            seen.add(requirement)
            out.append(requirement)
        return [self._resolve_parent(r, ids) for r in out]

    def _resolve_parent(self, requirement: Requirement, ids: dict[str, str]) -> Requirement:
        """A parent in the same file gets the file's prefix; one elsewhere stays as written."""
        if requirement.parent is None:
            return requirement
        return replace(requirement, parent=ids.get(requirement.parent, requirement.parent))


def line_of(text: str, offset: int) -> int:
    """The 1-based line of a character offset."""
    return text.count("\n", 0, max(offset, 0)) + 1
