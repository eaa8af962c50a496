"""Reader for StrictDoc documents (``.sdoc``), as StrictDoc's grammar documents them.

An sdoc file is a ``[DOCUMENT]`` header followed by nodes.  A node starts with its element name
in brackets (``[REQUIREMENT]``, ``[TEXT]``, ``[FREETEXT]`` ... ``[/FREETEXT]``), or is a composite
between ``[[NAME]]`` and ``[[/NAME]]`` (``[[SECTION]]``, ``[[REQUIREMENT]]``); the older
``[SECTION]`` ... ``[/SECTION]`` is read too.  A node's fields are ``NAME: value`` lines, or
``NAME: >>>`` followed by lines up to ``<<<``; ``RELATIONS:`` (older: ``REFS:``) lists
``- TYPE: Parent`` / ``VALUE: UID`` entries.

covguard takes as requirements the nodes whose element name is ``REQUIREMENT`` or ends in
``_REQUIREMENT`` (custom grammars, ``[SYSTEM_REQUIREMENT]``); sections and text nodes are
counted as headings and text.  The ID is the ``UID`` field, the title ``TITLE`` (else the
``STATEMENT``), the class the field named by ``requirements.columns.safety_class`` (default
``SAFETY_CLASS``).  The parent is the first ``Parent`` relation, else the composite requirement
the node is nested in.  A ``[GRAMMAR]`` is skipped.  Anything else is an error naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from covguard.errors import InputError
from covguard.requirements.common import Collector, Found, column
from covguard.requirements.csv_reader import decode_utf8, read_file_bytes
from covguard.requirements.ids import DEFAULT_OPTIONS, ReadReport, Requirement, RequirementOptions

_OPEN = re.compile(r"\[(\[)?([A-Z][A-Z0-9_]*)\]?\]\s*$")
_CLOSE = re.compile(r"\[(\[)?/([A-Z][A-Z0-9_]*)\]?\]\s*$")
_FIELD = re.compile(r"([A-Z][A-Z0-9_]*):(?:\s(.*))?$")
_RELATION = re.compile(r"\s*-?\s*(TYPE|VALUE|ROLE):\s*(.*)$")
MAX_NESTING = 64
_CONTAINERS = {"SECTION", "DOCUMENT", "FREETEXT", "GRAMMAR"}


def _is_requirement(element: str) -> bool:
    return element == "REQUIREMENT" or element.endswith("_REQUIREMENT")


class _Node:
    def __init__(self, element: str, line: int, parent_uid: str | None) -> None:
        self.element = element
        self.line = line
        self.fields: dict[str, str] = {}
        self.parents: list[str] = []
        self.enclosing = parent_uid


def read_sdoc(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read the requirements of one ``.sdoc`` file (see the module docstring)."""
    where = str(path)
    lines = decode_utf8(read_file_bytes(path, options.max_bytes), where).splitlines()
    report = report if report is not None else ReadReport()
    nodes, title = _parse(lines, where, report)
    collector = Collector(path, options, names=(title,) if title else ())
    class_field = column(options, "safety_class", "SAFETY_CLASS")
    for node in nodes:
        fields = node.fields
        uid = fields.pop("UID", "").strip()
        if not uid:
            raise InputError(
                f"[{node.element}] has no UID",
                path=where,
                line=node.line,
                hint="give every requirement a UID: the ID code tags refer to",
            )
        title_text = fields.pop("TITLE", "") or fields.get("STATEMENT", "")
        raw_class = fields.pop(class_field, None)
        parent = node.parents[0] if node.parents else node.enclosing
        collector.add(Found(uid, " ".join(title_text.split()), raw_class, node.line, fields, parent))
    return collector.requirements(report)


def _parse(lines: list[str], where: str, report: ReadReport) -> tuple[list[_Node], str]:
    """The requirement nodes of the document, and its title."""
    parser = _Parser(lines, where, report)
    parser.run()
    return parser.nodes, parser.title


class _Parser:
    """One pass over the lines: element markers open and close nodes, fields fill them."""

    def __init__(self, lines: list[str], where: str, report: ReadReport) -> None:
        self.lines, self.where, self.report = lines, where, report
        self.nodes: list[_Node] = []
        self.stack: list[tuple[str, _Node | None]] = []  # open composites: element, requirement node
        self.current: _Node | None = None
        self.title = ""
        self.in_document = False
        self.number = 0  # lines read so far (the 1-based number of the last line read)

    def run(self) -> None:
        while self.number < len(self.lines):
            text = self.lines[self.number]
            self.number += 1
            stripped = text.strip()
            if not stripped:
                continue
            close = _CLOSE.match(stripped)
            opened = _OPEN.match(stripped) if stripped.startswith("[") else None
            if close:
                self._close(close.group(2))
            elif opened:
                self._open(opened.group(2), composite=bool(opened.group(1)))
            else:
                self._field(text)
        if any(element != "DOCUMENT" for element, _ in self.stack):
            raise InputError(
                f"[[{self.stack[-1][0]}]] is not closed",
                path=self.where,
                line=len(self.lines),
                hint="close every [[NAME]] with [[/NAME]]",
            )

    def _close(self, element: str) -> None:
        self.current = None
        if self.stack and self.stack[-1][0] == element:
            self.stack.pop()
        elif element != "FREETEXT":
            raise InputError(
                f"[/{element}] closes nothing",
                path=self.where,
                line=self.number,
                hint="check the nesting of [[...]] / [/...] markers",
            )

    def _open(self, element: str, *, composite: bool) -> None:
        self.in_document = element == "DOCUMENT"
        self.current = None
        if _is_requirement(element):
            self.current = _Node(element, self.number, self._enclosing())
            self.nodes.append(self.current)
        elif element == "SECTION":
            self.report.skip("heading")
        elif element not in _CONTAINERS:
            self.report.skip("text" if element in ("TEXT", "FREETEXT") else f"element [{element}]")
        if composite or element == "SECTION":
            if len(self.stack) >= MAX_NESTING:
                raise InputError(
                    f"sections nest deeper than {MAX_NESTING} levels", path=self.where, line=self.number
                )
            self.stack.append((element, self.current))

    def _enclosing(self) -> str | None:
        """The UID of the innermost open composite requirement."""
        return next(
            (node.fields["UID"] for _, node in reversed(self.stack) if node and node.fields.get("UID")), None
        )

    def _field(self, text: str) -> None:
        field = _FIELD.match(text)
        if field is None:
            if self.current is None:
                return  # free text, grammar bodies and relation lists of non-requirements
            raise InputError(
                f"cannot read line in [{self.current.element}]: {text.strip()[:60]!r}",
                path=self.where,
                line=self.number,
                hint="a field is NAME: value, or NAME: >>> ... <<< for several lines",
            )
        name, value = field.group(1), (field.group(2) or "").strip()
        if value == ">>>":
            value = self._multiline(name)
        if self.in_document and name == "TITLE" and not self.title:
            self.title = value
        if self.current is None:
            return
        if name in ("RELATIONS", "REFS"):
            self.number = _relations(self.lines, self.number, self.current)
        else:
            self.current.fields[name] = value

    def _multiline(self, name: str) -> str:
        """The lines up to ``<<<`` of a ``NAME: >>>`` field."""
        body: list[str] = []
        while self.number < len(self.lines) and self.lines[self.number].strip() != "<<<":
            body.append(self.lines[self.number])
            self.number += 1
        if self.number >= len(self.lines):
            raise InputError(f"field {name} is not closed with <<<", path=self.where, line=self.number)
        self.number += 1
        return "\n".join(body).strip()


def _relations(lines: list[str], number: int, node: _Node) -> int:
    """Read the relation list after ``RELATIONS:``; return the number of the next unread line."""
    kind = ""
    while number < len(lines):
        match = _RELATION.match(lines[number])
        if match is None or not lines[number].startswith((" ", "-", "\t")):
            break
        key, value = match.group(1), match.group(2).strip()
        if key == "TYPE":
            kind = value
        elif key == "VALUE" and kind == "Parent":
            node.parents.append(value)
        number += 1
    return number
