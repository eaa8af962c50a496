"""``covguard requirements show``: what covguard reads from a requirement file, before a run.

The text form gives the count, the first rows, the objects not taken (by reason) and the
warnings; the JSON form (``covguard.requirements/1``) lists every requirement with ``id``,
``title``, ``safety_class``, ``parent``, ``source`` and ``line``, with the skipped counts and the
warnings beside them, so a user can check a mapping (a profile, a class map, a prefix).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from covguard.requirements import read_requirement_list
from covguard.requirements.ids import ReadReport, Requirement, RequirementOptions

SCHEMA = "covguard.requirements/1"
MAX_WARNINGS_SHOWN = 20


@dataclass(frozen=True)
class Shown:
    """The requirements of some files, what was skipped, and IDs code tags could not name."""

    requirements: list[Requirement]
    report: ReadReport
    untaggable: list[str]


def show(paths: Sequence[Path], options: RequirementOptions, tag_pattern: str | None = None) -> Shown:
    """Read ``paths`` as a run would; note the IDs ``tag_pattern`` (tags.id_pattern) does not match."""
    report = ReadReport()
    requirements = read_requirement_list(list(paths), options, report)
    untaggable: list[str] = []
    if tag_pattern:
        compiled = re.compile(tag_pattern)
        untaggable = [r.id for r in requirements if compiled.fullmatch(r.id) is None]
    return Shown(requirements, report, untaggable)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def render_text(shown: Shown, rows: int = 10) -> str:
    """The human summary: count, classes, the first ``rows`` rows, skipped, warnings."""
    reqs = shown.requirements
    classes = {cls: sum(r.safety_class == cls for r in reqs) for cls in ("A", "B", "C")}
    with_parent = sum(r.parent is not None for r in reqs)
    lines = [
        f"{len(reqs)} requirements (class A {classes['A']}, B {classes['B']}, C {classes['C']}; "
        f"{with_parent} with a parent)"
    ]
    width = max([len(r.id) for r in reqs[:rows]] + [2])
    parents = max([len(r.parent or "") for r in reqs[:rows]] + [6])
    lines.append(f"  {'id':{width}}  class  {'parent':{parents}}  title")
    for r in reqs[:rows]:
        lines.append(
            f"  {r.id:{width}}  {r.safety_class:5}  {r.parent or '-':{parents}}  {_clip(r.title, 70)}"
        )
    if len(reqs) > rows:
        lines.append(f"  ... {len(reqs) - rows} more (--json lists them all)")
    lines.append(shown.report.summary() or "every object was taken as a requirement")
    warnings = shown.report.warnings
    for warning in warnings[:MAX_WARNINGS_SHOWN]:
        lines.append(f"warning: {warning}")
    if len(warnings) > MAX_WARNINGS_SHOWN:
        lines.append(f"warning: ... {len(warnings) - MAX_WARNINGS_SHOWN} more warnings")
    if shown.untaggable:
        lines.append(
            f"note: {len(shown.untaggable)} IDs do not match tags.id_pattern, so no code tag can name them "
            f"(e.g. {shown.untaggable[0]!r}): add a prefix (requirements.id_prefix) or widen tags.id_pattern"
        )
    return "\n".join(lines) + "\n"


def render_json(shown: Shown) -> str:
    """Every requirement as an object, with the skipped counts and the warnings."""
    document = {
        "schema": SCHEMA,
        "count": len(shown.requirements),
        "requirements": [
            {
                "id": r.id,
                "title": r.title,
                "safety_class": r.safety_class,
                "parent": r.parent,
                "source": r.source,
                "line": r.line,
            }
            for r in shown.requirements
        ],
        "skipped": dict(sorted(shown.report.skipped.items())),
        "warnings": shown.report.warnings,
        "ids_without_tag_match": shown.untaggable,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
