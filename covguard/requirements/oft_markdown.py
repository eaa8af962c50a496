"""Reader for OpenFastTrace-style specifications in Markdown (``.md``).

An OpenFastTrace specification item is a line holding its ID in backticks,
``type~name~revision`` (``req~pump-stop~1``), usually right below a Markdown heading that gives
its title; the description follows, then keyword lines: ``Needs: impl, utest``, ``Covers:``
followed by ``* `feat~pump~1` `` entries, ``Tags: ...``.  covguard reads:

* the ID as written (the OFT coverage tags ``[impl->req~name~1]`` in code name it so), checked
  against OFT's ID syntax ``type~name~revision``;
* the title: the heading right above the ID line, else the first line of the description;
* the parent: the first ``Covers:`` entry (the item this one refines);
* the class: a line ``Safety class: B`` (the keyword is ``requirements.columns.safety_class``),
  else ``requirements.default_class``.

Headings that carry no item are counted as headings.  Lines are the lines of the ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from covguard.requirements.common import Collector, Found, column
from covguard.requirements.csv_reader import decode_utf8, read_file_bytes
from covguard.requirements.ids import DEFAULT_OPTIONS, ReadReport, Requirement, RequirementOptions

OFT_ID_PATTERN = r"[a-z]+~[A-Za-z0-9_.-]+~[0-9]+"
"""OpenFastTrace's ``type~name~revision`` (the same as covguard.trace.tags.OFT_ID_PATTERN)."""
_ID_LINE = re.compile(r"`([^`\s]+~[^`\s]*~[^`\s]*)`\s*(?:<a id=\S*>\s*</a>)?\s*$")
_HEADING = re.compile(r"#{1,6}\s+(.*?)\s*#*\s*$")
_COVERS_ENTRY = re.compile(r"\s*[*+-]\s+`([^`]+)`")
_KEYWORD = re.compile(r"([A-Za-z][A-Za-z ]*):\s*(.*)$")


@dataclass
class _Item:
    raw_id: str
    title: str
    line: int
    raw_class: str | None = None
    parent: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


def read_oft_markdown(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read the specification items of one Markdown file (see the module docstring)."""
    where = str(path)
    lines = decode_utf8(read_file_bytes(path, options.max_bytes), where).splitlines()
    report = report if report is not None else ReadReport()
    collector = Collector(path, options, pattern=OFT_ID_PATTERN)
    class_keyword = column(options, "safety_class", "Safety class").casefold()
    heading: tuple[int, str] | None = None  # the last heading not yet claimed by an item
    item: _Item | None = None

    def finish() -> None:
        if item is not None:
            collector.add(
                Found(item.raw_id, item.title, item.raw_class, item.line, item.attributes, item.parent)
            )

    in_covers = False
    for number, line in enumerate(lines, start=1):
        id_match = _ID_LINE.match(line.strip())
        head = _HEADING.match(line)
        if id_match:
            finish()
            title = heading[1] if heading is not None else ""
            heading = None
            item = _Item(id_match.group(1), title, number)
            in_covers = False
            continue
        if head:
            finish()
            item = None
            if heading is not None:
                report.skip("heading")
            heading = (number, head.group(1))
            continue
        if item is None:
            continue
        covers = _COVERS_ENTRY.match(line)
        if in_covers and covers:
            item.parent = item.parent or covers.group(1)
            continue
        keyword = _KEYWORD.match(line.strip())
        in_covers = bool(keyword) and keyword is not None and keyword.group(1).casefold() == "covers"
        if keyword and keyword.group(1).casefold() == class_keyword:
            item.raw_class = keyword.group(2).strip()
        elif keyword and keyword.group(1).casefold() in ("needs", "tags", "depends", "status", "rationale"):
            item.attributes[keyword.group(1)] = keyword.group(2).strip()
        elif not item.title and line.strip() and not keyword:
            item.title = line.strip()
    finish()
    if heading is not None:
        report.skip("heading")
    return collector.requirements(report)
