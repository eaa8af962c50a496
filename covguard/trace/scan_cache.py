"""Tags of sources that did not change since the last analysis, remembered (per file content).

Scanning comments is the one per-line cost of an analysis that does not depend on coverage: a
file's tags depend only on its bytes, its name and the tag configuration.  The cache keys each
file by a SHA-256 of exactly those (and covguard's version) and keeps its tag rows and problems
as JSON in the work folder; a miss is scanned as usual.  A damaged cache is ignored and rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from covguard import __version__
from covguard.errors import OutputError
from covguard.files import write_text
from covguard.trace.python_ast import is_python, scan_sources
from covguard.trace.source import Problem
from covguard.trace.tags import TAG_COLUMNS, ScanResult, TagConfig, empty_tags


def _key(path: str, data: bytes, config: TagConfig) -> str:
    h = hashlib.sha256(f"{__version__}\0{path}\0{config!r}\0".encode("utf-8", "surrogateescape"))
    h.update(data)
    return h.hexdigest()


def _load(cache_file: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def scan_sources_cached(
    items: Iterable[tuple[str, bytes]], config: TagConfig, cache_file: Path | None
) -> ScanResult:
    """:func:`covguard.trace.python_ast.scan_sources`, remembering each file's result."""
    if cache_file is None:
        return scan_sources(items, config)
    cache = _load(cache_file)
    used: dict[str, Any] = {}
    columns: dict[str, list[Any]] = {c: [] for c in TAG_COLUMNS}
    problems: list[Problem] = []
    # the order of scan_sources: C and C++ files first, then Python files
    ordered = sorted(items, key=lambda item: is_python(item[0]))
    for path, data in ordered:
        key = _key(path, data, config)
        entry = cache.get(key)
        if not (isinstance(entry, dict) and set(entry.get("columns", {})) == set(TAG_COLUMNS)):
            result = scan_sources([(path, data)], config)
            frame = result.tags.astype(object).where(result.tags.notna(), None)
            entry = {
                "columns": {c: frame[c].tolist() for c in TAG_COLUMNS},
                "problems": [[p.path, p.line, p.severity, p.message] for p in result.problems],
            }
        used[key] = entry
        for c in TAG_COLUMNS:
            columns[c].extend(entry["columns"][c])
        problems.extend(Problem(path=p[0], line=p[1], severity=p[2], message=p[3]) for p in entry["problems"])
    if used.keys() != cache.keys():
        with contextlib.suppress(OutputError):  # a cache that cannot be written costs time, not correctness
            write_text(cache_file, json.dumps(used))
    return ScanResult(_tag_frame(columns) if columns["file"] else empty_tags(), problems)


def _tag_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The tag frame of the columns: each column made with its dtype at once (what a frame of
    Python objects cast with ``astype(TAG_COLUMNS)`` gives, in two thirds of the time: tens of
    thousands of tags are read from the cache at every analysis)."""
    return pd.DataFrame({c: pd.Series(columns[c], dtype=t) for c, t in TAG_COLUMNS.items()})
