"""Reading C and C++ source text the way the compiler does, far enough to find its comments.

Three steps turn the bytes of a source file into the comments that carry requirement tags:

1. :func:`decode_source` decodes the bytes as UTF-8 and normalises line endings.  Nothing in
   the bytes is fatal: a byte order mark, bytes that are not UTF-8, NUL bytes or a UTF-16 file
   are recorded as :class:`Problem` objects and decoding goes on.  LF, CR LF and a lone CR each
   end one line, as GCC and Clang count them, so line numbers stay those of the compiler.
2. :func:`scan_source` lexes the text in one pass with a compiled regular expression that
   recognises string literals (with escapes and prefixes), character literals, C++ raw strings,
   preprocessing numbers (so that the C23/C++14 digit separator in ``1'000`` is not taken for a
   character literal), ``//`` comments (continued onto the next line by a backslash-newline,
   as in C) and ``/* */`` comments.  Comment markers inside literals are not comments.  A
   literal left open at the end of its line is recorded and lexing resumes on the next line,
   as GCC does; a block comment left open is recorded and runs to the end of the file.
3. From the same pass it derives the per-line facts that tag attachment needs (which lines hold
   code, which are preprocessor directives, where declarations end) and the ``#line`` map.

Line numbers
    Every line number in a :class:`Comment` and in a :class:`Problem` is *physical*: 1-based,
    counted in the file as an editor shows it.  :class:`LineMap` (from :func:`line_map` or
    :attr:`SourceScan.line_map`) turns a physical line into the *logical* file and line the
    compiler reports after ``#line N "file"`` directives and GNU line markers
    (``# N "file" flags``).  The tag scanner reports tags in that logical numbering, so that
    they compare with the function extents gcov reports.

Anchors
    For each comment, :attr:`Comment.anchor_line` is the code line the comment documents: its
    own line for a trailing comment or one followed by code on its last line; otherwise the next
    line that holds code.  Blank lines, comment-only lines and *transparent* directives
    (conditionals such as ``#if``/``#ifdef``/``#else``/``#endif``, ``#pragma``, ``#line``, line
    markers and the null directive) are skipped; any other directive (``#define``,
    ``#include``, ...) is code, so a comment above a macro documents the macro.
    :attr:`Comment.decl_end_line` is the first line at or after the anchor with a ``{``, ``;``
    or ``}`` in code outside directives, or the last line of the directive when the anchor is
    a directive.

Problems
    A UTF-8 byte order mark is a note; bytes that are not UTF-8 (read as U+FFFD), NUL bytes
    (kept, as white space), a literal left open and a ``#line`` that cannot be used are
    warnings; a UTF-16 file and a block comment or raw string left open are errors.  Files
    whose names end in ``.c`` or ``.i`` are lexed as C, every other one (headers included) as
    C++, which only adds raw strings.

Not modelled: trigraphs (off in GCC's GNU modes), a backslash-newline splitting a comment
marker (``/\\`` newline ``*``), header names in ``#include <...>``, and directives built by
macros.
"""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Severity = Literal["error", "warning", "note"]
CommentStyle = Literal["line", "block"]

#: characters the compiler treats as white space between tokens (NUL: GCC ignores it)
CODE_WHITESPACE = " \t\v\f\x00"

#: file name endings lexed as C (no raw strings); every other file is lexed as C++
C_SUFFIXES = (".c", ".i")

_TRANSPARENT_DIRECTIVES = frozenset(
    {"", "if", "ifdef", "ifndef", "elif", "elifdef", "elifndef", "else", "endif", "pragma", "line"}
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something odd in an input that does not stop the scan.

    ``line`` is the 1-based physical line in ``path`` (0 when the problem is not on one line).
    """

    path: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment of a source file, with its physical lines.

    ``text`` is the body without the ``//`` or ``/*``/``*/`` markers, kept verbatim (a
    backslash-newline inside a ``//`` comment stays in it), so that line ``k`` of ``text``
    (0-based) is physical line ``start_line + k``.  ``trailing`` is true when code precedes the
    comment on its start line.  ``anchor_line`` and ``decl_end_line`` are described in the
    module docstring; they are ``None`` when no code follows the comment.
    """

    start_line: int
    end_line: int
    text: str
    style: CommentStyle
    trailing: bool
    anchor_line: int | None = None
    decl_end_line: int | None = None


@dataclass(frozen=True, slots=True)
class LineMap:
    """Physical line -> (logical file, logical line), as ``#line`` directives set them.

    The map is a sorted list of segments: from physical line ``starts[i]`` on, lines are numbered
    ``logical[i]``, ``logical[i] + 1``, ... in file ``files[i]``; a file of ``None`` means the
    scanned file itself.  Without directives there is one segment, the identity.
    """

    starts: tuple[int, ...] = (1,)
    files: tuple[str | None, ...] = (None,)
    logical: tuple[int, ...] = (1,)

    def lookup(self, line: int) -> tuple[str | None, int]:
        """The logical file (``None``: the scanned file) and line of a physical line."""
        i = max(bisect.bisect_right(self.starts, line) - 1, 0)
        return self.files[i], self.logical[i] + line - self.starts[i]

    def map_lines(self, lines: npt.ArrayLike) -> tuple[list[str | None], npt.NDArray[np.int64]]:
        """Vectorised :meth:`lookup`: the logical files and lines of an array of physical lines."""
        phys = np.asarray(lines, dtype=np.int64)
        seg = np.searchsorted(np.asarray(self.starts, dtype=np.int64), phys, side="right") - 1
        seg = np.clip(seg, 0, len(self.starts) - 1)
        logical = np.asarray(self.logical, dtype=np.int64)[seg] + phys - np.asarray(self.starts)[seg]
        return [self.files[i] for i in seg.tolist()], logical.astype(np.int64)

    @property
    def is_identity(self) -> bool:
        """True when the file holds no ``#line`` directive or line marker."""
        return len(self.starts) == 1


@dataclass(slots=True)
class SourceScan:
    """Everything :func:`scan_source` learns about one decoded source text."""

    comments: list[Comment]
    problems: list[Problem]
    line_map: LineMap
    last_line: int


# --------------------------------------------------------------------------------------------
# decoding


def decode_source(data: bytes, path: str) -> tuple[str, list[Problem]]:
    """Decode a source file's bytes to text with ``\\n`` line ends, recording every oddity.

    A UTF-8 byte order mark is removed (a note).  Bytes that are not UTF-8 read as U+FFFD and
    are reported once per file, at their first line, with their count (a warning).  NUL bytes
    are kept (the lexer treats them as white space, as GCC ignores them) and reported likewise.
    CR LF and lone CR become ``\\n``; the compiler counts each as one line break.
    """
    problems: list[Problem] = []
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        problems.append(
            Problem(path, 1, "error", "the file looks UTF-16 encoded; save it as UTF-8 so tags can be read")
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        problems.append(Problem(path, 1, "note", "UTF-8 byte order mark removed"))
    text = data.decode("utf-8", errors="surrogateescape")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _replace_undecodable(text, path, problems)
    _note_nul_bytes(text, path, problems)
    return text, problems


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _replace_undecodable(text: str, path: str, problems: list[Problem]) -> str:
    """Turn the escaped bytes of a surrogateescape decoding into U+FFFD, recording them."""
    first = _UNDECODABLE.search(text)
    if first is None:
        return text
    count = len(_UNDECODABLE.findall(text))
    line = text.count("\n", 0, first.start()) + 1
    problems.append(
        Problem(
            path,
            line,
            "warning",
            f"non-UTF-8 bytes on line {line} ({count} undecodable byte{'s' if count != 1 else ''} in the "
            "file, read as U+FFFD); save the file as UTF-8",
        )
    )
    return _UNDECODABLE.sub("\ufffd", text)


def _note_nul_bytes(text: str, path: str, problems: list[Problem]) -> None:
    """Record NUL characters (first line and count): compilers ignore them, editors hide them."""
    first = text.find("\x00")
    if first < 0:
        return
    count = text.count("\x00")
    line = text.count("\n", 0, first) + 1
    problems.append(
        Problem(
            path,
            line,
            "warning",
            f"NUL byte{'s' if count != 1 else ''} on line {line} ({count} in the file); the compiler "
            "ignores them",
        )
    )


# --------------------------------------------------------------------------------------------
# lexing

_CONTINUED = r"\\[ \t]*\n"  # a backslash-newline (GCC also allows blanks between them)
_COMMON = (
    rf"(?P<line>//(?:[^\n\\]++|{_CONTINUED}|\\)*+)"
    r"|(?P<block>/\*(?:[^*]++|\*(?!/))*+(?:\*/)?)"
    rf"|(?P<string>\"(?:[^\"\\\n]++|{_CONTINUED}|\\[\s\S])*+\"?)"
    rf"|(?P<char>'(?:[^'\\\n]++|{_CONTINUED}|\\[\s\S])*+'?)"
    r"|(?P<number>(?<![A-Za-z0-9_$])\.?[0-9](?:[eEpP][+-]|'(?=[A-Za-z0-9_])|[A-Za-z0-9_.$])*+)"
)
_RAW = (
    r"(?P<raw>(?<![A-Za-z0-9_$])(?:u8|[uUL])?R\"(?P<delim>[^()\\\s\"]{0,16})\("
    r"(?:[\s\S]*?(?P<rawend>\)(?P=delim)\")|[\s\S]*))"
)
_LEXER_C = re.compile(_COMMON)
_LEXER_CPP = re.compile(f"{_RAW}|{_COMMON}")

_DIRECTIVE = re.compile(r"[ \t\v\f\x00]*(?:#|%:)[ \t\v\f\x00]*([A-Za-z_]\w*|[0-9]+)?")
_LINE_DIRECTIVE = re.compile(
    r"[ \t\v\f]*(?:#|%:)[ \t\v\f]*(?:line[ \t\v\f]+)?([0-9]+)(?:[ \t\v\f]+\"((?:[^\"\\\n]|\\.)*)\")?"
)
_ESCAPE = re.compile(r"\\(.)")


def literal_lexer(cplusplus: bool = True) -> re.Pattern[str]:
    """The compiled pattern of comments, literals and preprocessing numbers the scanner uses
    (groups ``line``, ``block``, ``string``, ``char``, ``number`` and, for C++, ``raw``)."""
    return _LEXER_CPP if cplusplus else _LEXER_C


def is_cplusplus(path: str) -> bool:
    """Whether a file is lexed as C++ (raw strings recognised): every file but ``.c`` and ``.i``."""
    return not path.endswith(C_SUFFIXES)


@dataclass(slots=True)
class _Pending:
    """A comment found by the lexer, before its anchor is known."""

    start_line: int
    end_line: int
    text: str
    style: CommentStyle
    trailing: bool  # code precedes it on its first line
    code_after: bool = False  # code follows it on its last line


def scan_source(text: str, path: str = "", *, cplusplus: bool = True) -> SourceScan:
    """Lex a decoded text: its comments with their anchors, its problems and its ``#line`` map.

    ``cplusplus`` turns on C++ raw strings (``R"delim(...)delim"``); :func:`is_cplusplus`
    chooses it from a file name.  Never raises on any text.
    """
    lexer = _Lexer(path, cplusplus)
    stripped = lexer.run(text)
    facts = _LineFacts.of(stripped.split("\n"))
    lmap = _build_line_map(text, facts, path, lexer.problems)
    comments = [_finish(p, facts) for p in lexer.pending]
    last_line = max(1, text.count("\n") + (0 if text.endswith("\n") or not text else 1))
    return SourceScan(comments, lexer.problems, lmap, last_line)


def lex_comments(text: str, *, cplusplus: bool = True) -> list[Comment]:
    """The comments of a decoded text, in order (see :func:`scan_source`)."""
    return scan_source(text, cplusplus=cplusplus).comments


def line_map(text: str, *, cplusplus: bool = True) -> LineMap:
    """The ``#line`` map of a decoded text (see :class:`LineMap`)."""
    return scan_source(text, cplusplus=cplusplus).line_map


@dataclass(slots=True)
class _Lexer:
    """One pass over a text: its comments, and the text with comments and literals blanked.

    In the *stripped* text every comment becomes one space and every literal an empty pair of
    quotes, each followed by the line breaks it spanned, so that its lines match the text's.
    While it goes, the lexer knows whether the current line holds code so far (``code``) and
    which comments end on the current line (``open_``), which sets ``trailing`` and
    ``code_after`` in linear time however many comments share a line.
    """

    path: str
    cplusplus: bool
    pending: list[_Pending] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    line: int = 1
    code: bool = False
    open_: list[_Pending] = field(default_factory=list)

    def run(self, text: str) -> str:
        """Lex ``text``; return the stripped text."""
        lexer = _LEXER_CPP if self.cplusplus else _LEXER_C
        pos = 0
        for m in lexer.finditer(text):
            kind = m.lastgroup or ""
            if kind == "number":
                continue
            self._gap(text, pos, m.start())
            self._token(m, kind)
            pos = m.end()
        self._gap(text, pos, len(text))
        return "".join(self.pieces)

    def _gap(self, text: str, start: int, end: int) -> None:
        """Code (or white space) between two tokens."""
        gap = text[start:end]
        self.pieces.append(gap)
        newline = gap.find("\n")
        head = gap if newline < 0 else gap[:newline]
        if head.strip(CODE_WHITESPACE):
            self._code_follows()
        if newline >= 0:
            self.open_.clear()
            self.line += gap.count("\n")
            self.code = bool(gap[gap.rfind("\n") + 1 :].strip(CODE_WHITESPACE))

    def _code_follows(self) -> None:
        """Code on the current line: comments ending on it have code after them."""
        self.code = True
        for comment in self.open_:
            comment.code_after = True
        self.open_.clear()

    def _token(self, m: re.Match[str], kind: str) -> None:
        """A comment or a literal."""
        token = m.group()
        breaks = token.count("\n")
        problem = _token_problem(m, kind, self.line, self.path)
        if problem is not None:
            self.problems.append(problem)
        if kind in ("line", "block"):
            comment = _comment(token, self.line, breaks, self.code)
            self.pending.append(comment)
            if breaks:
                self.open_.clear()
                self.code = False
            self.open_.append(comment)
            self.pieces.append(" " + "\n" * breaks)
        else:
            self._code_follows()
            self.pieces.append(('""' if kind != "char" else "''") + "\n" * breaks)
        self.line += breaks


def _comment(token: str, line: int, breaks: int, trailing: bool) -> _Pending:
    """A pending comment from its token (a block comment may be unterminated)."""
    if token.startswith("//"):
        return _Pending(line, line + breaks, token[2:], "line", trailing)
    body = token[2:-2] if _block_closed(token) else token[2:]
    return _Pending(line, line + breaks, body, "block", trailing)


def _block_closed(token: str) -> bool:
    """Whether a block comment token ends with its own ``*/``."""
    return len(token) >= 4 and token.endswith("*/")


def _token_problem(m: re.Match[str], kind: str, line: int, path: str) -> Problem | None:
    """The problem with a comment or literal token that is not closed, if it is not."""
    token = m.group()
    if kind == "line":
        return None
    if kind == "block":
        if _block_closed(token):
            return None
        return Problem(path, line, "error", "unterminated /* comment: it runs to the end of the file")
    if kind == "raw":
        if m.group("rawend") is not None:
            return None
        return Problem(path, line, "error", "unterminated raw string literal: it runs to the end of the file")
    quote = '"' if kind == "string" else "'"
    if len(token) >= 2 and token.endswith(quote) and not _escaped_end(token):
        return None
    return Problem(
        path,
        line + token.count("\n"),
        "warning",
        f"missing terminating {quote} character; the literal ends at the end of the line",
    )


def _escaped_end(token: str) -> bool:
    """Whether a literal's last quote is escaped (so the literal is in fact not closed)."""
    backslashes = len(token) - 1 - len(token[:-1].rstrip("\\"))
    return backslashes % 2 == 1


# --------------------------------------------------------------------------------------------
# per-line facts


@dataclass(slots=True)
class _LineFacts:
    """Per physical line (0-based, sorted lists): code, directives and declaration ends."""

    significant: list[int]  # lines with code that anchors a comment (not transparent)
    brace: list[int]  # non-directive lines with '{', ';' or '}' in code
    directive_end: dict[int, int]  # first line of each directive -> its last line (continuations)
    directive_name: dict[int, str]  # first line of each directive -> its name ('' for none)

    @classmethod
    def of(cls, lines: list[str]) -> _LineFacts:
        """Compute the facts from the stripped lines."""
        significant: list[int] = []
        brace: list[int] = []
        directive_end: dict[int, int] = {}
        directive_name: dict[int, str] = {}
        i = 0
        while i < len(lines):
            stripped = lines[i]
            m = _DIRECTIVE.match(stripped)
            if m is not None:
                end = i
                while lines[end].rstrip(CODE_WHITESPACE).endswith("\\") and end + 1 < len(lines):
                    end += 1
                name = m.group(1) or ""
                directive_end[i] = end
                directive_name[i] = name
                if name not in _TRANSPARENT_DIRECTIVES and not name.isdigit():
                    significant.append(i)
                i = end + 1
                continue
            if stripped.strip(CODE_WHITESPACE):
                significant.append(i)
                if "{" in stripped or ";" in stripped or "}" in stripped:
                    brace.append(i)
            i += 1
        return cls(significant, brace, directive_end, directive_name)

    def anchor(self, first: int) -> tuple[int | None, int | None]:
        """Anchor and declaration end (0-based) for a comment whose anchor is at or after ``first``."""
        k = bisect.bisect_left(self.significant, first)
        if k >= len(self.significant):
            return None, None
        anchor = self.significant[k]
        return anchor, self.decl_end(anchor)

    def decl_end(self, anchor: int) -> int | None:
        """The declaration end (0-based) for an anchor line (0-based)."""
        if anchor in self.directive_end:
            return self.directive_end[anchor]
        k = bisect.bisect_left(self.brace, anchor)
        return self.brace[k] if k < len(self.brace) else None


def _finish(p: _Pending, facts: _LineFacts) -> Comment:
    """Complete a pending comment with ``anchor_line`` and ``decl_end_line``."""
    anchor: int | None
    decl: int | None
    if p.trailing:
        anchor = p.start_line - 1
        decl = facts.decl_end(anchor)
    elif p.code_after:
        anchor = p.end_line - 1
        decl = facts.decl_end(anchor)
    else:
        anchor, decl = facts.anchor(p.end_line)
    return Comment(
        p.start_line,
        p.end_line,
        p.text,
        p.style,
        p.trailing,
        None if anchor is None else anchor + 1,
        None if decl is None else decl + 1,
    )


_MAX_LINE = 2_147_483_647  # GCC's limit for #line


def _line_directive_problem(m: re.Match[str] | None) -> str:
    """What is wrong with a ``#line`` directive or line marker ("" when it can be used)."""
    if m is None:
        return "#line directive not understood (covguard reads '#line N' and '#line N \"file\"')"
    digits = m.group(1).lstrip("0")
    if len(digits) > len(str(_MAX_LINE)) or (digits and int(digits) > _MAX_LINE):
        return f"line number {m.group(1)[:20]} out of range in #line directive"
    return ""


def _build_line_map(text: str, facts: _LineFacts, path: str, problems: list[Problem]) -> LineMap:
    """The ``#line`` map from the directives found in the stripped text."""
    starts = [1]
    files: list[str | None] = [None]
    logical = [1]
    if not any(name == "line" or name.isdigit() for name in facts.directive_name.values()):
        return LineMap()
    raw_lines = text.split("\n")
    for index in sorted(facts.directive_name):
        name = facts.directive_name[index]
        if name != "line" and not name.isdigit():
            continue
        m = _LINE_DIRECTIVE.match(raw_lines[index])
        problem = _line_directive_problem(m)
        if m is None or problem:
            problems.append(
                Problem(path, index + 1, "warning", f"{problem}; later lines keep their numbering")
            )
            continue
        file_name = files[-1] if m.group(2) is None else _ESCAPE.sub(r"\1", m.group(2))
        starts.append(facts.directive_end[index] + 2)
        files.append(file_name)
        logical.append(int(m.group(1)))
    return LineMap(tuple(starts), tuple(files), tuple(logical))
