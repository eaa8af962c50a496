"""Reader for sphinx-needs exports (``needs.json``, written by the ``needs`` builder).

The file holds ``versions`` -> *version* -> ``needs`` -> *ID* -> the need (``id``, ``title``,
``type``, ``links``, ``parent_need``, ``docname``, ``lineno`` and the project's extra options).
covguard reads the ``current_version`` (else the only version).  Every need is a requirement
unless its ``type`` is excluded (``reqif.exclude_types``, or not in ``reqif.include_types``: the
same keys select need types) or it is ``is_external``.  The title is ``title``; the class the
option named by ``requirements.columns.safety_class`` (default ``safety_class``); the parent
``parent_need``, else the first of ``links`` (a link to a need that is not read is a warning).
Lines are the lines of the need's ID key in the JSON file.  Standard :mod:`json` parses it (no
object hooks); the file's size is bounded and nesting that exhausts the parser is an error.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

from covguard.errors import InputError
from covguard.requirements.common import Collector, Found, column
from covguard.requirements.csv_reader import decode_utf8, read_file_bytes
from covguard.requirements.ids import DEFAULT_OPTIONS, ReadReport, Requirement, RequirementOptions


def _load(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"malformed JSON: {err.msg}",
            path=where,
            line=err.lineno,
            hint="needs.json is written by `sphinx-build -b needs`; build it again",
        ) from err
    except RecursionError as err:
        raise InputError(
            "the JSON is nested too deeply", path=where, hint="check where the file came from"
        ) from err


def _needs(document: Any, where: str) -> dict[str, Any]:
    """The needs of the current version."""
    versions = document.get("versions") if isinstance(document, dict) else None
    if not isinstance(versions, dict) or not versions:
        raise InputError(
            "not a sphinx-needs export: no 'versions' table",
            path=where,
            hint="give the needs.json the sphinx-needs `needs` builder writes",
        )
    current = document.get("current_version")
    version = versions.get(current) if isinstance(current, str) and current in versions else None
    if version is None:
        if len(versions) != 1:
            raise InputError(
                f"needs.json has {len(versions)} versions and no current_version among them",
                path=where,
                hint="export one version, or set current_version",
            )
        version = next(iter(versions.values()))
    needs = version.get("needs") if isinstance(version, dict) else None
    if not isinstance(needs, dict):
        raise InputError("the version has no 'needs' table", path=where, hint="build needs.json again")
    return needs


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


def read_needs_json(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read the requirements of a ``needs.json`` file (see the module docstring)."""
    where = str(path)
    text = decode_utf8(read_file_bytes(path, options.max_bytes), where)
    needs = _needs(_load(text, where), where)
    report = report if report is not None else ReadReport()
    collector = Collector(path, options)
    class_field = column(options, "safety_class", "safety_class")
    key_lines = _key_lines(text)
    for key, need in needs.items():
        line = key_lines.get(key, 1)
        if not isinstance(need, dict):
            raise InputError(f"need {key!r} is not an object", path=where, line=line)
        kind = _text(need.get("type"))
        reason = _skip(kind, need, options)
        if reason:
            report.skip(reason)
            continue
        links = [link for link in need.get("links") or [] if isinstance(link, str)]
        parent = _text(need.get("parent_need")) or (links[0] if links else None)
        raw_class = need.get(class_field)
        attributes = {
            name: _text(value)
            for name, value in need.items()
            if name in ("type", "status", "tags", "docname", "lineno") and value not in (None, "", [])
        }
        collector.add(
            Found(
                _text(need.get("id")) or key,
                _text(need.get("title")),
                _text(raw_class) if raw_class not in (None, "") else None,
                line,
                attributes,
                parent or None,
            )
        )
    return collector.requirements(report)


def _skip(kind: str, need: dict[str, Any], options: RequirementOptions) -> str | None:
    if need.get("is_external"):
        return "external need"
    if any(fnmatch.fnmatchcase(kind, p) for p in options.reqif_exclude_types):
        return f"type {kind!r} excluded"
    if options.reqif_include_types and not any(
        fnmatch.fnmatchcase(kind, p) for p in options.reqif_include_types
    ):
        return f"type {kind!r} not included"
    return None


_OBJECT_KEY = re.compile(r'"((?:[^"\\\n]|\\.)*)"\s*:\s*\{')


def _key_lines(text: str) -> dict[str, int]:
    """The line of the first ``"key": {`` of every key, in one pass over the text."""
    lines: dict[str, int] = {}
    line, position = 1, 0
    for match in _OBJECT_KEY.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        lines.setdefault(match.group(1), line)
    return lines
