"""Reader for Doorstop documents: a folder with ``.doorstop.yml`` and one YAML file per item.

``.doorstop.yml`` holds ``settings: {prefix, sep, digits, parent}``; each item ``PREFIX001.yml``
holds ``active``, ``normative``, ``level``, ``header``, ``text``, ``links`` (a list of UIDs, or of
one-entry maps ``UID: fingerprint``) and any custom attribute.  The item's UID is its file name
without ``.yml``.  Inactive items are skipped; non-normative items are headings.  The title is
``header``, else the first line of ``text``; the class the attribute named by
``requirements.columns.safety_class`` (default ``safety_class``); the parent the first link (in
Doorstop a child item links to its parent).

YAML is read with PyYAML's safe loader (``yaml.safe_load``: plain data only, never a Python
object); every file is bounded in size, the folder in item count, and anything but a mapping of
plain values is an error naming the file.  PyYAML is an optional dependency
(``pip install 'covguard[requirements]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from covguard.errors import InputError
from covguard.requirements.common import Collector, Found, column
from covguard.requirements.csv_reader import decode_utf8, read_file_bytes
from covguard.requirements.ids import DEFAULT_OPTIONS, ReadReport, Requirement, RequirementOptions

CONFIG = ".doorstop.yml"
MAX_ITEMS = 100_000


def is_doorstop(path: Path) -> bool:
    """Whether ``path`` is a Doorstop document folder."""
    return path.is_dir() and (path / CONFIG).is_file()


def _yaml(path: Path, options: RequirementOptions) -> Any:
    try:
        import yaml
    except ImportError as err:  # pragma: no cover - the dev install has it
        raise InputError(
            "reading Doorstop items needs PyYAML",
            path=str(path),
            hint="pip install 'covguard[requirements]'",
        ) from err
    text = decode_utf8(read_file_bytes(path, options.max_bytes), str(path))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(
            f"malformed YAML: {getattr(err, 'problem', None) or err}",
            path=str(path),
            line=mark.line + 1 if mark is not None else None,
            hint="fix the item, or let Doorstop rewrite it (doorstop edit)",
        ) from err
    except RecursionError as err:
        raise InputError("the YAML is nested too deeply", path=str(path)) from err


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return str(value)
    raise TypeError(type(value).__name__)


def _links(value: Any, where: str) -> list[str]:
    links: list[str] = []
    for entry in value or []:
        if isinstance(entry, str):
            links.append(entry)
        elif isinstance(entry, dict) and len(entry) == 1:
            links.append(str(next(iter(entry))))
        else:
            raise InputError("a link is neither a UID nor 'UID: fingerprint'", path=where)
    return links


def read_doorstop(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read the items of one Doorstop document folder (see the module docstring)."""
    report = report if report is not None else ReadReport()
    settings = _yaml(path / CONFIG, options)
    prefix = ""
    if isinstance(settings, dict) and isinstance(settings.get("settings"), dict):
        prefix = str(settings["settings"].get("prefix") or "")
    items = sorted(p for p in path.iterdir() if p.suffix == ".yml" and p.name != CONFIG and p.is_file())
    if len(items) > MAX_ITEMS:
        raise InputError(f"the document has more than {MAX_ITEMS} items", path=str(path))
    collector = Collector(path, options, names=(prefix,) if prefix else ())
    class_field = column(options, "safety_class", "safety_class")
    for item in items:
        where = str(item)
        data = _yaml(item, options)
        if not isinstance(data, dict):
            raise InputError("a Doorstop item is a YAML mapping", path=where, line=1)
        try:
            fields = {str(k): _scalar(v) for k, v in data.items() if k not in ("links", "ref", "references")}
        except TypeError as err:
            raise InputError(
                f"an item attribute holds a {err}, covguard reads plain values only", path=where, line=1
            ) from err
        if fields.get("active", "True") == "False":
            report.skip("inactive")
            continue
        if fields.get("normative", "True") == "False":
            report.skip("heading")
            continue
        text = fields.pop("text", "").strip()
        title = fields.pop("header", "").strip() or (text.splitlines()[0] if text else "")
        links = _links(data.get("links"), where)
        raw_class = fields.pop(class_field, None) or None
        collector.add(Found(item.stem, title, raw_class, 1, fields, links[0] if links else None, where))
    return collector.requirements(report)
