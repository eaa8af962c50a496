"""``@verifies`` tags in test-definition files that are not C: a CTest ``CMakeLists.txt``, a custom
runner's case lists (``.txt``, ``.toml``, ``.yaml``, ``.json``, scripts, C-like sources).

A file is read in the three common comment syntaxes at once: ``#`` and ``//`` to the end of the
line (at the start of a line or after white space) and ``/* ... */`` (across lines).  A test's
tags are those in the comment on its definition line and in the block of comment-only lines right
above it (no blank line between)::

    # @verifies THERMO-1
    clamp_limits: clamp -50 -> -40

A case is found by name: its definition is the first line, outside comments, where the case id
appears as a whole word (not part of a longer name).  Files are read only inside the project root,
at most :data:`MAX_FILE` bytes each.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from covguard.files import display_path

MAX_FILE = 4 * 1024 * 1024
MAX_FILES = 10_000
_VERIFIES = re.compile(r"(?<![\w@\\])@verifies\b[:\s]*(?P<rest>.*)")
_LINE_COMMENT = re.compile(r"(?:^|(?<=\s))(?:#|//)")


@dataclass
class DefinitionFile:
    """One definition file split into code and comment per line (1-based: ``code[0]`` is unused)."""

    path: str  # as shown (relative to the root)
    code: list[str] = field(default_factory=list)
    comment: list[str] = field(default_factory=list)


def split_comments(text: str) -> tuple[list[str], list[str]]:
    """Per line: the code outside comments and the text of its comments."""
    code_out: list[str] = [""]
    comment_out: list[str] = [""]
    in_block = False
    for raw in text.splitlines():
        code: list[str] = []
        comment: list[str] = []
        rest = raw
        while rest:
            if in_block:
                end = rest.find("*/")
                if end < 0:
                    comment.append(rest)
                    rest = ""
                else:
                    comment.append(rest[:end])
                    rest = rest[end + 2 :]
                    in_block = False
                continue
            block = rest.find("/*")
            m = _LINE_COMMENT.search(rest)
            line_at = m.start() if m else -1
            if line_at >= 0 and (block < 0 or line_at < block):
                code.append(rest[:line_at])
                comment.append(rest[m.end() :] if m else "")
                rest = ""
            elif block >= 0:
                code.append(rest[:block])
                rest = rest[block + 2 :]
                in_block = True
            else:
                code.append(rest)
                rest = ""
        code_out.append("".join(code))
        comment_out.append(" ".join(comment))
    return code_out, comment_out


def read_definition(path: Path, root: Path) -> DefinitionFile | None:
    """The file split in code and comments; ``None`` when it is outside the root, too big or unreadable."""
    try:
        real = path.resolve()
        if not real.is_relative_to(root.resolve()) or not real.is_file() or real.stat().st_size > MAX_FILE:
            return None
        text = real.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    code, comment = split_comments(text)
    return DefinitionFile(path=display_path(path, root), code=code, comment=comment)


def tag_block(d: DefinitionFile, line: int) -> range:
    """The lines whose ``@verifies`` tags belong to a definition on ``line``: that line and the
    block of comment-only lines right above it."""
    if not 1 <= line < len(d.code):
        return range(0)
    n = line - 1
    while n >= 1 and not d.code[n].strip() and d.comment[n].strip():
        n -= 1
    return range(n + 1, line + 1)


def _tags_in(text: str, ident: re.Pattern[str]) -> list[str]:
    found: list[str] = []
    for m in _VERIFIES.finditer(text):
        for token in re.split(r"[\s,;]+", m["rest"].replace("*/", " ").strip()):
            if not ident.fullmatch(token):
                break
            found.append(token)
    return found


def verifies_at(d: DefinitionFile, line: int, id_pattern: str) -> tuple[str, ...]:
    """Requirement ids of ``@verifies`` tags on ``line`` and in the comment block right above it."""
    ident = re.compile(id_pattern)
    found = [t for n in tag_block(d, line) for t in _tags_in(d.comment[n], ident)]
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class StrayTag:
    """A ``@verifies`` tag in a definition file that is attached to no test."""

    file: str
    line: int
    requirement: str  # the ids as written (several joined by ", "); empty when none is valid


def strays_from_json(raw: object) -> list[dict[str, object]]:
    """The ``unattached_verifies`` of a ``results.json`` (input covguard may not have written):
    well-formed entries only, at most :data:`MAX_FILES` of them."""
    out: list[dict[str, object]] = []
    for t in raw if isinstance(raw, list) else []:
        if len(out) >= MAX_FILES:
            break
        if not isinstance(t, dict):
            continue
        file, line, req = t.get("file"), t.get("line"), t.get("requirement")
        if (
            isinstance(file, str)
            and isinstance(line, int)
            and not isinstance(line, bool)
            and isinstance(req, str)
        ):
            out.append({"file": file[:1000], "line": line, "requirement": req[:1000]})
    return out


def stray_tags(d: DefinitionFile, attached: set[int], id_pattern: str) -> list[StrayTag]:
    """The ``@verifies`` tags of ``d`` outside the lines ``attached`` (the tag blocks of its tests)."""
    ident = re.compile(id_pattern)
    out: list[StrayTag] = []
    for n in range(1, len(d.comment)):
        if n in attached or "@verifies" not in d.comment[n] or not _VERIFIES.search(d.comment[n]):
            continue
        out.append(StrayTag(d.path, n, ", ".join(dict.fromkeys(_tags_in(d.comment[n], ident)))))
    return out


def find_case(files: Sequence[DefinitionFile], case: str) -> tuple[DefinitionFile, int] | None:
    """The first line, outside comments, where ``case`` is a whole word."""
    word = re.compile(r"(?<![\w.-])" + re.escape(case) + r"(?![\w-]|\.\w)")
    for d in files:
        for n in range(1, len(d.code)):
            if case in d.code[n] and word.search(d.code[n]):
                return d, n
    return None


def glob_definitions(patterns: Sequence[str], root: Path) -> list[DefinitionFile]:
    """The definition files matching ``patterns`` (relative to the root), read."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        if os.path.isabs(pattern) or ".." in Path(pattern).parts:
            continue  # only inside the root
        for p in sorted(root.glob(pattern)):
            if len(found) >= MAX_FILES:
                break
            if p.is_file():
                found.setdefault(str(p), p)
    out = [read_definition(p, root) for p in found.values()]
    return [d for d in out if d is not None]


__all__ = [
    "DefinitionFile",
    "StrayTag",
    "find_case",
    "glob_definitions",
    "read_definition",
    "split_comments",
    "stray_tags",
    "strays_from_json",
    "tag_block",
    "verifies_at",
]
