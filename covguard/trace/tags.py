"""Requirement tags in C comments, and which function each tag belongs to.

Tag syntax (inside ``//`` or ``/* */`` comments only; keywords are case-sensitive)
    ``@req ID[, ID ...]``
        the enclosing function implements these requirements.
    ``@verifies ID[, ID ...]``
        the test verifies them.
    ``@justify CATEGORY: reason``
        the code is deliberately untraced; CATEGORY is ``deactivated``, ``defensive`` or
        ``hardware``.  The colon is optional; the reason is required and may continue on the
        following lines of the same comment, or of the ``//`` comments alone on the lines right
        below (up to a blank line, a ``@``/``\\`` command or another tag).
    ``@justify-start CATEGORY: reason`` ... ``@justify-stop``
        the same for a region of lines.  Regions of one kind do not nest.
    ``GCOVR_EXCL_LINE``, ``GCOVR_EXCL_START``, ``GCOVR_EXCL_STOP`` and the ``_BR_`` variants
        gcovr's exclusion markers, anywhere in a comment, with the configurable prefix
        (:attr:`TagConfig.exclusion_prefix`, a regular expression as in gcovr).
    ``[impl->req~name~1]``, ``[utest->req~name~1]``, ``[itest->req~name~1]``
        OpenFastTrace coverage tags, read only with :attr:`TagConfig.oft`: ``impl`` is a
        ``req`` tag, ``utest`` and ``itest`` are ``verifies`` tags, other artifact types are
        ignored.  The ID keeps its artifact type (``req~name~1``, ``dsn~name~1``).

An ID list is separated by commas and/or white space and ends at the end of the comment line or
at the first token that is not ID-like (a trailing ``.``, ``;``, ``)`` ... is dropped from the
last ID).  IDs obey :func:`covguard.requirements.ids.validate_id`, the rule requirement files
obey: printable ASCII, matching the pattern in full.  A token that looks like an attempt at an
ID (it follows a comma, or holds a digit and a dash, underscore or capital, or holds an
invisible formatting character) but fails that rule is a problem naming the offending code
point.  Broken tags produce problems, never rows: an invalid ``@justify`` justifies nothing.

Region markers are paired per file by :func:`scan_file`, which reports a stop without a start,
a start without a stop (its region then runs to the end of the file) and a start inside an
open region of its kind (ignored): errors for ``@justify-start``/``-stop``, warnings for
gcovr's markers, as gcovr only warns.

The tag frame (:func:`scan_file`, :func:`scan_files`), one row per tag and per ID:

=================  ==========  ===========================================================
column             dtype       meaning
=================  ==========  ===========================================================
``file``           str         the path given, or the file named by a ``#line`` directive
``line``           int64       logical line of the tag (``#line`` applied)
``kind``           str         req, verifies, justify, justify_start, justify_stop,
                               excl_line, excl_start, excl_stop, excl_br_line,
                               excl_br_start, excl_br_stop
``value``          str         the ID (req, verifies); the category (justify kinds); ""
``reason``         str         the justification's reason; ""
``comment_start``  int64       logical first line of the comment holding the tag
``comment_end``    int64       logical last line of that comment
``anchor_line``    Int64       logical code line the comment documents (see
                               :mod:`covguard.trace.source`); NA when no code follows
``decl_end_line``  Int64       logical line of the first ``{``, ``;`` or ``}`` from the
                               anchor on; NA when there is none
``trailing``       bool        code precedes the comment on its first line
``region_end``     Int64       start kinds: logical line of the matching stop, or the
                               file's last line when the start has no stop; NA for a
                               start ignored as nested, and for other kinds
=================  ==========  ===========================================================

Problems (:class:`~covguard.trace.source.Problem`) carry *physical* lines of the scanned file.

:func:`attach_to_functions` adds ``function`` (str, NA when none) and the justification and
exclusion scope: ``scope`` ("function", "line", "region" or "none"), ``scope_start`` and
``scope_end`` (Int64).  A tag belongs to the innermost function whose extent
``[line_start, line_end]`` holds its line (in the body), or, taking precedence, to the first
function whose name line lies in ``[anchor_line, decl_end_line]`` of a non-trailing comment
(the comment block directly above the definition; blank lines, other comments and conditional
directives may come between).  A comment above a prototype ends at the prototype's ``;`` and so
never reaches a later definition; a trailing comment never attaches to the function below it.
Of several functions with the same extent, the one listed first takes the tags.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from covguard.errors import ConfigError, InputError
from covguard.requirements.ids import DEFAULT_ID_PATTERN, compile_id_pattern, validate_id
from covguard.trace.source import (
    Comment,
    LineMap,
    Problem,
    Severity,
    decode_source,
    is_cplusplus,
    scan_source,
)

OFT_ID_PATTERN = r"[a-z]+~[A-Za-z0-9_.-]+~[0-9]+"
DEFAULT_EXCLUSION_PREFIX = "GCOVR_EXCL"
JUSTIFY_CATEGORIES = ("deactivated", "defensive", "hardware")

KINDS = (
    "req",
    "verifies",
    "justify",
    "justify_start",
    "justify_stop",
    "excl_line",
    "excl_start",
    "excl_stop",
    "excl_br_line",
    "excl_br_start",
    "excl_br_stop",
)

#: column -> dtype of the tag frame
TAG_COLUMNS: dict[str, str] = {
    "file": "str",
    "line": "int64",
    "kind": "str",
    "value": "str",
    "reason": "str",
    "comment_start": "int64",
    "comment_end": "int64",
    "anchor_line": "Int64",
    "decl_end_line": "Int64",
    "trailing": "bool",
    "region_end": "Int64",
}

#: columns :func:`attach_to_functions` needs in its ``functions`` frame
FUNCTION_COLUMNS = ("file", "function", "line_start", "line_end")

#: region kinds: start kind -> (stop kind, severity of an unmatched start or stop)
_REGIONS: dict[str, tuple[str, Severity]] = {
    "justify_start": ("justify_stop", "error"),
    "excl_start": ("excl_stop", "warning"),
    "excl_br_start": ("excl_br_stop", "warning"),
}
_STOPS = {stop: start for start, (stop, _) in _REGIONS.items()}

_OFT_KINDS = {"impl": "req", "utest": "verifies", "itest": "verifies"}
_DASHES = frozenset("-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\uff3f")
_OPENERS = "([{<\"'"
_CLOSERS = ".,;:!?)]}>\"'"

_KEYWORD = re.compile(r"(?<![\w@\\])@(?P<kw>req|verifies|justify)(?P<tail>[\w-]*)")
_TOKEN = re.compile(r"(?P<sep>[\s,\x00]*)(?P<tok>[^\s,\x00]+)")  # NUL: white space to compilers
_JUSTIFY = re.compile(r"[ \t]*(?P<cat>[^\s:]+)?[ \t]*(?P<colon>:)?[ \t]*(?P<reason>.*)")
_DECORATION = re.compile(r"^\s*(?:\*+(?!/)|/+|!)?\s*")
_OFT = re.compile(r"\[\s*(?P<type>[A-Za-z]+)(?:~[^\]\s]*?)?\s*->\s*(?P<id>[^\]\s]*)\s*\]")


@dataclass(frozen=True)
class TagConfig:
    """How tags are written in a project.

    ``id_pattern`` is a regular expression an ID must match in full; ``oft`` turns on
    OpenFastTrace tags; ``exclusion_prefix`` is gcovr's marker prefix (a regular expression,
    like gcovr's ``--exclude-pattern-prefix``).  A pattern that does not compile raises
    :class:`~covguard.errors.ConfigError`.
    """

    id_pattern: str = DEFAULT_ID_PATTERN
    oft: bool = False
    exclusion_prefix: str = DEFAULT_EXCLUSION_PREFIX

    def __post_init__(self) -> None:
        for name in ("id_pattern", "exclusion_prefix"):
            value: object = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name} must be a non-empty string, not {value!r}")
        _patterns(self)


@dataclass(frozen=True)
class _Patterns:
    """The compiled regular expressions of a :class:`TagConfig`."""

    ids: re.Pattern[str]
    oft_ids: re.Pattern[str]
    exclusion: re.Pattern[str]


@functools.lru_cache(maxsize=32)
def _patterns(config: TagConfig) -> _Patterns:
    """Compile a configuration's patterns once."""
    ids = compile_id_pattern(config.id_pattern)
    try:
        exclusion = re.compile(
            rf"(?<![A-Za-z0-9_])(?:{config.exclusion_prefix})_"
            r"(?P<marker>BR_LINE|BR_START|BR_STOP|LINE|START|STOP)(?![A-Za-z0-9_])"
        )
    except (re.error, TypeError) as exc:
        raise ConfigError(
            f"exclusion prefix {config.exclusion_prefix!r} is not a valid regular expression: {exc}",
            hint="fix exclusion_prefix in the configuration",
        ) from exc
    return _Patterns(ids, re.compile(OFT_ID_PATTERN), exclusion)


DEFAULT_CONFIG = TagConfig()


@dataclass
class ScanResult:
    """Tags found in one or more files, and the problems met on the way."""

    tags: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# ID checks


def show(text: str) -> str:
    """Quote a text for a message with every non-ASCII or invisible character escaped.

    Escaping keeps bidi controls from reordering the message on the user's terminal.
    """
    escaped = "".join(
        ch if " " <= ch <= "~" else ch.encode("ascii", "backslashreplace").decode("ascii") for ch in text
    )
    return f"'{escaped}'"


def id_defect(raw: str, pattern: re.Pattern[str]) -> str | None:
    """Why ``raw`` is not a valid ID, ``None`` when it is one.

    The rule is :func:`covguard.requirements.ids.validate_id`'s, the one requirement files obey:
    plain printable ASCII (the message names an offending code point) matching ``pattern`` in
    full.
    """
    try:
        validate_id(raw, pattern, path="", line=None)
    except InputError as err:
        return err.message
    return None


def _looks_like_id(token: str) -> bool:
    """Whether a token that is not a valid ID was meant as one (so it is reported, not skipped)."""
    if any(unicodedata.category(ch) == "Cf" for ch in token):
        return True
    has_digit = any(ch.isdigit() for ch in token)
    return has_digit and any(ch in _DASHES or ch.isupper() for ch in token)


# --------------------------------------------------------------------------------------------
# extraction


@dataclass(slots=True)
class _Tag:
    """A tag found in a comment, at a physical line."""

    line: int
    column: int
    kind: str
    comment: Comment
    value: str = ""
    reason: str = ""
    marker: str = ""  # the text that opened the tag (names regions in problems)
    valid: bool = True  # False: a broken @justify-start kept only to pair its stop
    region_end: int | None = None  # physical line of the region's end (start kinds)


@dataclass(slots=True)
class _Context:
    """What the extraction of one comment needs to know and where it reports."""

    path: str
    patterns: _Patterns
    oft: bool
    problems: list[Problem]

    def problem(self, line: int, message: str, severity: Severity = "error") -> None:
        """Record a problem at a physical line."""
        self.problems.append(Problem(self.path, line, severity, message))


@dataclass(slots=True)
class _CommentReader:
    """Reads the tags of comment ``index`` of ``comments``, line by line.

    ``k`` is always the 0-based line within the comment.
    """

    comments: Sequence[Comment]
    index: int
    ctx: _Context
    comment: Comment = field(init=False)
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.comment = self.comments[self.index]
        self.lines = self.comment.text.split("\n")

    def tags(self) -> list[_Tag]:
        """Every tag of the comment, sorted by line and column."""
        found: list[_Tag] = []
        for k, text in enumerate(self.lines):
            if "@" in text:
                for m in _KEYWORD.finditer(text):
                    found.extend(self._keyword(m, k))
            for m in self.ctx.patterns.exclusion.finditer(text):
                kind = "excl_" + m.group("marker").lower()
                found.append(self._tag(k, m, kind, marker=m.group()))
            if self.ctx.oft:
                found.extend(self._oft(k))
        found.sort(key=lambda t: (t.line, t.column))
        return found

    def _tag(
        self,
        k: int,
        m: re.Match[str],
        kind: str,
        *,
        value: str = "",
        reason: str = "",
        marker: str = "",
        valid: bool = True,
    ) -> _Tag:
        """A tag at line ``k`` where ``m`` matched."""
        line = self.comment.start_line + k
        return _Tag(line, m.start(), kind, self.comment, value, reason, marker, valid)

    def _problem(self, k: int, message: str) -> None:
        """Record an error at line ``k``."""
        self.ctx.problem(self.comment.start_line + k, message)

    def _keyword(self, m: re.Match[str], k: int) -> list[_Tag]:
        """The tags of one ``@req``/``@verifies``/``@justify...`` keyword."""
        keyword = m.group("kw") + m.group("tail")
        rest = self.lines[k][m.end() :]
        if keyword in ("req", "verifies"):
            return [self._tag(k, m, keyword, value=i) for i in self._ids(rest, keyword, k)]
        if keyword == "justify-stop":
            return [self._tag(k, m, "justify_stop", marker="@justify-stop")]
        if keyword in ("justify", "justify-start"):
            return [self._justify(m, keyword, rest, k)]
        if m.group("kw") == "justify" and m.group("tail").startswith("-"):
            self._problem(
                k, f"unknown tag {show('@' + keyword)} (use @justify, @justify-start or @justify-stop)"
            )
        return []

    def _ids(self, rest: str, keyword: str, k: int) -> list[str]:
        """The IDs after ``@req``/``@verifies``, reporting malformed ones and an empty list."""
        pattern = self.ctx.patterns.ids
        ids: list[str] = []
        bad = 0
        for m in _TOKEN.finditer(rest):
            core, ended = _strip_token(m.group("tok"), pattern)
            if not core:
                break
            defect = id_defect(core, pattern)
            if defect is None:
                ids.append(core)
            elif "," in m.group("sep") or _looks_like_id(core):
                bad += 1
                self._problem(k, f"malformed ID after @{keyword}: {defect}")
            else:
                break
            if ended:
                break
        if not ids and not bad:
            self._problem(k, f"@{keyword} without a requirement ID (write @{keyword} ID[, ID ...])")
        return ids

    def _justify(self, m: re.Match[str], keyword: str, rest: str, k: int) -> _Tag:
        """A ``@justify``/``@justify-start`` tag; ``valid`` is False when it is broken (reported)."""
        parts = _JUSTIFY.match(rest)
        category = (parts.group("cat") or "") if parts else ""
        reason = self._reason((parts.group("reason") if parts else "").strip(), k)
        problem = _justify_problem(keyword, category, reason)
        if problem:
            self._problem(k, problem)
        return self._tag(
            k,
            m,
            keyword.replace("-", "_"),
            value=category,
            reason=reason,
            marker="@" + keyword,
            valid=not problem,
        )

    def _reason(self, first: str, k: int) -> str:
        """A justification's reason: the rest of its line and the comment lines that continue it.

        The reason continues on the next lines of the same comment, or of the ``//`` comments
        alone on the lines right below, without their decoration (leading ``*``, ``/``, ``!``),
        up to a blank line, a line starting with a command (``@``, ``\\``) or a line holding
        another tag.
        """
        parts = [first] if first else []
        for text in self._continuation(k):
            cleaned = _DECORATION.sub("", text).strip()
            if (
                not cleaned
                or cleaned[0] in "@\\["
                or _KEYWORD.search(cleaned)
                or self.ctx.patterns.exclusion.search(cleaned)
            ):
                break
            parts.append(cleaned)
        return " ".join(parts)

    def _continuation(self, k: int) -> Iterator[str]:
        """The comment lines after line ``k`` that may continue a reason."""
        yield from self.lines[k + 1 :]
        previous = self.comment
        if previous.style != "line" or previous.trailing:
            return
        for following in range(self.index + 1, len(self.comments)):
            comment = self.comments[following]
            if comment.style != "line" or comment.trailing or comment.start_line != previous.end_line + 1:
                return
            yield from comment.text.split("\n")
            previous = comment

    def _oft(self, k: int) -> list[_Tag]:
        """OpenFastTrace coverage tags ``[impl->req~name~1]`` of one comment line."""
        found: list[_Tag] = []
        for m in _OFT.finditer(self.lines[k]):
            kind = _OFT_KINDS.get(m.group("type"))
            if kind is None:
                continue
            raw = m.group("id")
            defect = id_defect(raw, self.ctx.patterns.oft_ids) if raw else "the requirement ID is missing"
            if defect is None:
                found.append(self._tag(k, m, kind, value=raw))
            else:
                self._problem(k, f"malformed ID in OpenFastTrace tag {show(m.group())}: {defect}")
        return found


def _justify_problem(keyword: str, category: str, reason: str) -> str:
    """What is wrong with a justification ("" when nothing is)."""
    if not category:
        return f"@{keyword} without a category (use deactivated, defensive or hardware)"
    if category not in JUSTIFY_CATEGORIES:
        return f"unknown justification category {show(category)} (use deactivated, defensive or hardware)"
    if not reason:
        return f"@{keyword} {category} without a reason (write @{keyword} {category}: reason)"
    return ""


def _strip_token(token: str, pattern: re.Pattern[str]) -> tuple[str, bool]:
    """A token without surrounding punctuation, and whether closing punctuation ended the list."""
    if pattern.fullmatch(token):
        return token, False
    inner = token.lstrip(_OPENERS)
    core = inner.rstrip(_CLOSERS)
    return core, core != inner


def _pair_regions(tags: Sequence[_Tag], last_line: int, ctx: _Context) -> None:
    """Match every region start with its stop (sets ``region_end``), reporting mismatches.

    Regions of one kind do not nest: a second start before the stop is reported and ignored.
    A start without a stop runs to the end of the file.
    """
    open_: dict[str, _Tag] = {}
    for tag in tags:
        if tag.kind in _REGIONS:
            current = open_.get(tag.kind)
            if current is None:
                open_[tag.kind] = tag
            else:
                ctx.problem(
                    tag.line,
                    f"{tag.marker} inside the region opened by {current.marker} on line {current.line}; "
                    "regions do not nest, so it is ignored",
                    "warning",
                )
        elif tag.kind in _STOPS:
            start = open_.pop(_STOPS[tag.kind], None)
            if start is None:
                ctx.problem(
                    tag.line,
                    f"{tag.marker} without a {_counterpart(tag.marker)} before it",
                    _REGIONS[_STOPS[tag.kind]][1],
                )
            else:
                start.region_end = tag.line
    for kind, start in open_.items():
        ctx.problem(
            start.line,
            f"{start.marker} without a matching {_counterpart(start.marker)}: the region runs to the end "
            "of the file",
            _REGIONS[kind][1],
        )
        start.region_end = last_line


def _counterpart(marker: str) -> str:
    """The name of the other end of a region marker (``GCOVR_EXCL_START`` <-> ``GCOVR_EXCL_STOP``)."""
    if marker.endswith("START"):
        return marker[: -len("START")] + "STOP"
    if marker.endswith("STOP"):
        return marker[: -len("STOP")] + "START"
    return "@justify-stop" if marker == "@justify-start" else "@justify-start"


# --------------------------------------------------------------------------------------------
# frames


def empty_tags() -> pd.DataFrame:
    """A tag frame without rows, with the stable dtypes."""
    return _typed(pd.DataFrame({column: [] for column in TAG_COLUMNS}))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the tag columns in order and their dtypes."""
    return frame[list(TAG_COLUMNS)].astype(TAG_COLUMNS)


@dataclass(slots=True)
class _Rows:
    """Tag rows of one or more files, column by column, before they become a frame."""

    columns: dict[str, list[object]] = field(default_factory=lambda: {c: [] for c in TAG_COLUMNS})

    def add_file(self, path: str, tags: Sequence[_Tag], lmap: LineMap) -> None:
        """Append the valid tags of one file in logical numbering."""
        tags = [t for t in tags if t.valid]
        if not tags:
            return
        files, lines = lmap.map_lines([t.line for t in tags])
        col = self.columns
        col["file"].extend(path if f is None else f for f in files)
        col["line"].extend(lines.tolist())
        col["kind"].extend(t.kind for t in tags)
        col["value"].extend(t.value for t in tags)
        col["reason"].extend(t.reason for t in tags)
        col["comment_start"].extend(_logical(lmap, [t.comment.start_line for t in tags]))
        col["comment_end"].extend(_logical(lmap, [t.comment.end_line for t in tags]))
        col["anchor_line"].extend(_logical(lmap, [t.comment.anchor_line for t in tags]))
        col["decl_end_line"].extend(_logical(lmap, [t.comment.decl_end_line for t in tags]))
        col["trailing"].extend(t.comment.trailing for t in tags)
        col["region_end"].extend(_logical(lmap, [t.region_end for t in tags]))

    def frame(self) -> pd.DataFrame:
        """The rows as a typed tag frame."""
        return _typed(pd.DataFrame(self.columns))


def _logical(lmap: LineMap, lines: list[int | None]) -> list[int | None]:
    """Logical numbers of physical lines, keeping ``None``."""
    known = [line for line in lines if line is not None]
    if not known:
        return list(lines)
    mapped = iter(lmap.map_lines(known)[1].tolist())
    return [None if line is None else next(mapped) for line in lines]


# --------------------------------------------------------------------------------------------
# scanning


def _scan_into(path: str, data: bytes, config: TagConfig, rows: _Rows, problems: list[Problem]) -> None:
    """Scan one file's bytes, appending its tag rows and problems."""
    _check_source_args(path, data)
    text, decode_problems = decode_source(bytes(data), path)
    problems.extend(decode_problems)
    source = scan_source(text, path, cplusplus=is_cplusplus(path))
    problems.extend(source.problems)
    _tags_into(path, source.comments, source.last_line, source.line_map, config, rows, problems)


def _tags_into(
    path: str,
    comments: Sequence[Comment],
    last_line: int,
    line_map: LineMap,
    config: TagConfig,
    rows: _Rows,
    problems: list[Problem],
) -> None:
    """Read the tags of one file's comments, pair its regions, append its rows."""
    ctx = _Context(path, _patterns(config), config.oft, problems)
    tags = [tag for i in range(len(comments)) for tag in _CommentReader(comments, i, ctx).tags()]
    _pair_regions(tags, last_line, ctx)
    rows.add_file(path, tags, line_map)


def scan_comments(
    path: str, comments: Sequence[Comment], last_line: int, config: TagConfig = DEFAULT_CONFIG
) -> ScanResult:
    """The tags of comments another language's reader found (Python: :mod:`covguard.trace.python_ast`).

    ``comments`` are in file order with physical lines (no ``#line`` map); ``last_line`` ends
    a region left open.  The tag rules are the ones of C comments.
    """
    rows = _Rows()
    problems: list[Problem] = []
    _tags_into(path, comments, last_line, LineMap(), config, rows, problems)
    return ScanResult(rows.frame(), problems)


def _check_source_args(path: object, data: object) -> None:
    """Raise InputError unless ``path`` is a string and ``data`` bytes."""
    if not isinstance(path, str):
        raise InputError(f"source path must be a string, not {type(path).__name__}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"source contents must be bytes, not {type(data).__name__}", path=path)


def scan_file(path: str, data: bytes, config: TagConfig = DEFAULT_CONFIG) -> ScanResult:
    """The tags of one source file (see the module docstring for the frame).

    Oddities in the source never raise: they are returned as problems.  Only arguments of the
    wrong type raise :class:`~covguard.errors.InputError`.
    """
    rows = _Rows()
    problems: list[Problem] = []
    _scan_into(path, data, config, rows, problems)
    return ScanResult(rows.frame(), problems)


def scan_files(items: Iterable[tuple[str, bytes]], config: TagConfig = DEFAULT_CONFIG) -> ScanResult:
    """The tags of many files, concatenated in the order given."""
    rows = _Rows()
    problems: list[Problem] = []
    for path, data in items:
        _scan_into(path, data, config, rows, problems)
    return ScanResult(rows.frame(), problems)


# --------------------------------------------------------------------------------------------
# attachment

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def attach_to_functions(tags: pd.DataFrame, functions: pd.DataFrame) -> pd.DataFrame:
    """The tag frame with ``function``, ``scope``, ``scope_start`` and ``scope_end`` added.

    ``functions`` holds ``file``, ``function``, ``line_start`` (the line of the function's name)
    and ``line_end`` (its closing brace), as the compiler reports them.  Scopes:

    * ``justify`` above a function: "function", the function's extent; elsewhere: "line", its
      anchor line (the next code line, or its own line when trailing); "none" without an anchor.
    * ``excl_line``/``excl_br_line``: "line", the tag's own line (gcovr's rule).
    * start kinds: "region", from the tag to ``region_end``; "none" for a start ignored as nested.
    * every other kind: "none", with NA lines.

    Raises :class:`~covguard.errors.InputError` when a frame lacks a column or holds lines that
    are not integers.
    """
    _require(tags, tuple(TAG_COLUMNS), "tag")
    _require(functions, FUNCTION_COLUMNS, "function")
    out = tags.reset_index(drop=True).copy()
    funcs = _sorted_functions(functions)
    f_start = funcs["line_start"].to_numpy(dtype=np.int64)
    f_end = funcs["line_end"].to_numpy(dtype=np.int64)
    arrays = _TagArrays.of(out)
    chosen, above = _choose_functions(out, arrays, funcs, f_start, f_end)
    names = funcs["function"].to_numpy(dtype=object)
    found = chosen >= 0
    function = np.full(len(out), None, dtype=object)
    function[found] = names[chosen[found]]
    out["function"] = pd.Series(function, dtype="str")
    scope, start, end = _scopes(arrays, chosen, above, f_start, f_end)
    out["scope"] = pd.Series(scope, dtype="str")
    out["scope_start"] = pd.Series(start, dtype="Int64").mask(start < 0)
    out["scope_end"] = pd.Series(end, dtype="Int64").mask(end < 0)
    return out


def _require(frame: object, columns: Sequence[str], what: str) -> None:
    """Raise InputError unless ``frame`` is a DataFrame with ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"the {what} table must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"the {what} table lacks the column(s) {', '.join(missing)}")


def _sorted_functions(functions: pd.DataFrame) -> pd.DataFrame:
    """Functions with integer extents, by file, start and (outer first) end.

    Rows without an extent are dropped; of functions with the same extent only the first stays.
    """
    funcs = functions[list(FUNCTION_COLUMNS)].copy()
    for column in ("line_start", "line_end"):
        try:
            funcs[column] = pd.to_numeric(funcs[column], errors="raise")
        except (ValueError, TypeError) as exc:
            raise InputError(f"function {column} values must be line numbers: {exc}") from exc
    funcs = funcs.dropna(subset=["file", "line_start", "line_end"])
    # functions with the same extent (template instances, aliases): the one listed first wins
    funcs = funcs.drop_duplicates(["file", "line_start", "line_end"], keep="first")
    funcs["file"] = funcs["file"].astype("str")
    funcs["line_start"] = funcs["line_start"].astype(np.int64)
    funcs["line_end"] = funcs["line_end"].astype(np.int64)
    funcs["neg_end"] = -funcs["line_end"]
    return funcs.sort_values(["file", "line_start", "neg_end"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _TagArrays:
    """The tag columns attachment computes with, as numpy arrays (NA lines as -1)."""

    kind: npt.NDArray[np.object_]
    line: IntArray
    anchor: IntArray
    decl: IntArray
    region_end: IntArray
    trailing: BoolArray

    @classmethod
    def of(cls, tags: pd.DataFrame) -> _TagArrays:
        """Convert, raising InputError for values that are not line numbers or booleans."""
        try:
            return cls(
                tags["kind"].to_numpy(dtype=object),
                _column(tags, "line"),
                _column(tags, "anchor_line"),
                _column(tags, "decl_end_line"),
                _column(tags, "region_end"),
                np.asarray(tags["trailing"].astype("boolean").fillna(False), dtype=np.bool_),
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"the tag table holds a value of the wrong type: {exc}") from exc


def _column(frame: pd.DataFrame, column: str) -> IntArray:
    """An integer column as int64, NA as -1."""
    values: IntArray = np.asarray(frame[column].astype("Int64").fillna(-1), dtype=np.int64)
    return values


def _choose_functions(
    tags: pd.DataFrame, t: _TagArrays, funcs: pd.DataFrame, f_start: IntArray, f_end: IntArray
) -> tuple[IntArray, BoolArray]:
    """Per tag: the index into ``funcs`` of its function (-1: none) and whether it sits above it.

    All files at once: each file's lines are moved into a band of numbers of its own, in the order
    of ``funcs`` (sorted by file), so that one search and one pass of pointer jumping over every
    function give what :func:`_choose_per_file` gives file by file (a function of another file
    never holds a line of this one, nor starts at or after it).  Lines outside the range the bands
    allow (below -1, or too large to band) take the per-file path."""
    chosen = np.full(len(tags), -1, dtype=np.int64)
    above = np.zeros(len(tags), dtype=np.bool_)
    if tags.empty or funcs.empty:
        return chosen, above
    files = pd.Index(funcs["file"].unique())
    f_rank = files.get_indexer(funcs["file"]).astype(np.int64)
    rows = np.flatnonzero(files.get_indexer(tags["file"]) >= 0)
    if not len(rows):
        return chosen, above
    rank = files.get_indexer(tags["file"]).astype(np.int64)[rows]
    line, anchor, decl, trailing = t.line[rows], t.anchor[rows], t.decl[rows], t.trailing[rows]
    values = (f_start, f_end, line, anchor, decl)
    lowest, highest = min(int(v.min()) for v in values), max(int(v.max()) for v in values)
    width = highest + 2  # a line x of [-1, highest] is x + 1 of [0, width) in its file's band
    if lowest < -1 or width * len(files) >= 1 << 62:
        return _choose_per_file(tags, t, funcs, f_start, f_end)
    starts, ends = f_rank * width + f_start + 1, f_rank * width + f_end + 1
    body = _innermost(rank * width + line + 1, starts, ends, _parents(starts, ends))
    file_end = np.searchsorted(f_rank, rank, side="right")  # past the last function of the file
    first = np.searchsorted(starts, rank * width + anchor + 1, side="left")
    capped = np.minimum(first, file_end - 1)
    is_above = ~trailing & (anchor >= 0) & (first < file_end) & (starts[capped] <= rank * width + decl + 1)
    local = np.where(is_above, capped, body)
    chosen[rows] = np.where(local >= 0, local, -1)
    above[rows] = is_above
    return chosen, above


def _choose_per_file(
    tags: pd.DataFrame, t: _TagArrays, funcs: pd.DataFrame, f_start: IntArray, f_end: IntArray
) -> tuple[IntArray, BoolArray]:
    """:func:`_choose_functions`, one file at a time."""
    chosen = np.full(len(tags), -1, dtype=np.int64)
    above = np.zeros(len(tags), dtype=np.bool_)
    line, anchor, decl, trailing = t.line, t.anchor, t.decl, t.trailing
    func_groups = funcs.groupby("file", sort=False).indices
    for file, rows in tags.groupby("file", sort=False).indices.items():
        positions = func_groups.get(file)
        if positions is None:
            continue
        starts, ends = f_start[positions], f_end[positions]
        body = _innermost(line[rows], starts, ends, _parents(starts, ends))
        first = np.searchsorted(starts, anchor[rows], side="left")
        capped = np.minimum(first, len(starts) - 1)
        is_above = (
            ~trailing[rows] & (anchor[rows] >= 0) & (first < len(starts)) & (starts[capped] <= decl[rows])
        )
        local = np.where(is_above, capped, body)
        chosen[rows] = np.where(local >= 0, positions[np.maximum(local, 0)], -1)
        above[rows] = is_above
    return chosen, above


def _parents(starts: IntArray, ends: IntArray) -> IntArray:
    """For functions sorted by start (outer first), the innermost other function holding each.

    Pointer jumping: each function's candidate starts as its predecessor and jumps to the
    candidate's own candidate while it does not contain the function; for nested (laminar)
    extents this ends on the true parent, in a logarithmic number of vectorised rounds.
    """
    parent = np.arange(len(starts), dtype=np.int64) - 1
    while True:
        has = parent >= 0
        p = np.maximum(parent, 0)
        bad = has & ~((starts[p] <= starts) & (ends[p] >= ends))
        if not bad.any():
            return parent
        parent[bad] = parent[p[bad]]


def _innermost(lines: IntArray, starts: IntArray, ends: IntArray, parent: IntArray) -> IntArray:
    """Per line, the index of the innermost function whose extent holds it (-1: none)."""
    candidate = np.searchsorted(starts, lines, side="right").astype(np.int64)
    candidate -= 1
    while True:
        has = candidate >= 0
        c = np.maximum(candidate, 0)
        bad = has & (ends[c] < lines)
        if not bad.any():
            return candidate
        candidate[bad] = parent[c[bad]]


def _scopes(
    t: _TagArrays, chosen: IntArray, above: BoolArray, f_start: IntArray, f_end: IntArray
) -> tuple[npt.NDArray[np.object_], IntArray, IntArray]:
    """Scope name, first and last line (-1: none) of every tag."""
    n = len(t.line)
    kind, line, anchor, region_end = t.kind, t.line, t.anchor, t.region_end
    scope = np.full(n, "none", dtype=object)
    start = np.full(n, -1, dtype=np.int64)
    end = np.full(n, -1, dtype=np.int64)
    safe = np.maximum(chosen, 0)

    def put(mask: BoolArray, name: str, first: IntArray, last: IntArray) -> None:
        scope[mask] = name
        start[mask] = first[mask]
        end[mask] = last[mask]

    justify = kind == "justify"
    if len(f_start):
        put(justify & above, "function", f_start[safe], f_end[safe])
    put(justify & ~above & (anchor >= 0), "line", anchor, anchor)
    put(np.isin(kind, ["excl_line", "excl_br_line"]), "line", line, line)
    put(np.isin(kind, list(_REGIONS)) & (region_end >= 0), "region", line, region_end)
    return scope, start, end
