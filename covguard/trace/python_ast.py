"""Python software items: function extents from :mod:`ast`, requirement tags from comments and docstrings.

Functions
    Every ``def`` and ``async def`` of a module, methods and nested functions included, named
    as coverage.py's own function regions name them: dotted through the enclosing classes and
    functions (``Session.bolus``, ``outer.inner``).  ``line_start`` is the ``def`` line,
    ``line_end`` the last line of the body, ``body_start`` the first line of the body.  A
    function *owns* the lines from ``body_start`` to ``line_end`` that no function nested in it
    owns: the ``def`` line itself, its decorators and default values run when the enclosing
    scope runs, not when the function is called, so they belong to the enclosing function (or
    to the module, which covguard does not classify: a module's top level is imports and
    definitions).

Tags
    The tag syntax is the one of C comments (:mod:`covguard.trace.tags`: ``@req``,
    ``@verifies``, ``@justify`` and the region markers), read from

    * ``#`` comments: a comment block directly above a ``def`` (or above its decorators)
      belongs to that function, a comment inside a body to the function whose body holds it;
    * function docstrings: a tag in the docstring belongs to the function.

    Each ``#`` comment is one comment of ``line`` style, as ``//`` comments in C, so a
    justification's reason may continue on the ``#`` lines right below it.  A comment's anchor
    is its own line when code precedes it, else the next line holding code; its declaration
    end is the last line of the statement at the anchor, after the decorators when the anchor
    is a decorator (the ``def ...:`` header).  Other docstrings (module, class) are not read.

A file that is not valid Python is reported as a problem (tags) or an
:class:`~covguard.errors.InputError` naming the line (function extents: covguard cannot know the
file's functions).
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from covguard.errors import InputError
from covguard.trace.source import Comment, Problem, decode_source
from covguard.trace.tags import DEFAULT_CONFIG, ScanResult, TagConfig, empty_tags, scan_comments, scan_files

PYTHON_SUFFIXES = (".py", ".pyw")

_NOT_CODE = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
)


def is_python(path: str) -> bool:
    """Whether covguard reads ``path`` as Python (by its name)."""
    return path.endswith(PYTHON_SUFFIXES)


@dataclass(frozen=True, slots=True)
class PyFunction:
    """One function of a module (see the module docstring for the lines)."""

    name: str
    line_start: int  # the ``def`` line
    line_end: int
    body_start: int
    first_line: int  # the first decorator, or the ``def`` line
    depth: int  # 0 for a function at module or class level, 1 for one nested in a function ...


# ---------------------------------------------------------------------------------------------
# functions


def parse(text: str, path: str) -> ast.Module:
    """The syntax tree of a module; :class:`InputError` naming the line when it is not Python."""
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise InputError(
            f"not valid Python: {exc.msg}",
            path=path,
            line=exc.lineno,
            hint="fix the syntax error, or leave the file out of 'python.sources'",
        ) from None
    except ValueError as exc:  # NUL bytes
        raise InputError(f"not valid Python: {exc}", path=path, hint="save the file as UTF-8 text") from None


def functions_of(tree: ast.Module) -> list[PyFunction]:
    """Every function of a module, in the order of their ``def`` lines (outer before inner)."""
    found: list[PyFunction] = []

    def visit(node: ast.AST, scope: tuple[str, ...], depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = ".".join((*scope, child.name))
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                found.append(PyFunction(name, child.lineno, end, child.body[0].lineno, first, depth))
                visit(child, (*scope, child.name), depth + 1)
            elif isinstance(child, ast.ClassDef):
                visit(child, (*scope, child.name), depth)
            else:
                visit(child, scope, depth)

    visit(tree, (), 0)
    return sorted(found, key=lambda f: (f.line_start, f.depth))


def function_frame(path: str, functions: Sequence[PyFunction]) -> pd.DataFrame:
    """``file``, ``function``, ``line_start``, ``line_end`` (the columns tag attachment needs)."""
    return pd.DataFrame(
        {
            "file": pd.Series([path] * len(functions), dtype=object),
            "function": pd.Series([f.name for f in functions], dtype=object),
            "line_start": np.array([f.line_start for f in functions], dtype=np.int64),
            "line_end": np.array([f.line_end for f in functions], dtype=np.int64),
        }
    )


def owners(lines: npt.ArrayLike, functions: Sequence[PyFunction]) -> npt.NDArray[np.int64]:
    """For each line, the index into ``functions`` of the innermost function owning it (-1: none).

    One vectorised assignment per function, outer functions first, so inner ones win.
    """
    numbers = np.asarray(lines, dtype=np.int64)
    owner = np.full(len(numbers), -1, dtype=np.int64)
    for i in sorted(range(len(functions)), key=lambda k: functions[k].depth):
        f = functions[i]
        owner[(numbers >= f.body_start) & (numbers <= f.line_end)] = i
    return owner


# ---------------------------------------------------------------------------------------------
# comments and docstrings


@dataclass(frozen=True, slots=True)
class _Lexed:
    """What the tokens of a module tell about its lines."""

    comments: list[tuple[int, int, str, bool]]  # line, column, text after '#', code before it
    code_lines: npt.NDArray[np.int64]  # sorted lines holding code
    statements: list[tuple[int, int, bool]]  # logical lines: first line, last line, is a decorator


def _lex(text: str) -> _Lexed:
    comments: list[tuple[int, int, str, bool]] = []
    code: set[int] = set()
    statements: list[tuple[int, int, bool]] = []
    start: tuple[int, bool] | None = None  # first line and decorator flag of the open statement
    last_code_line = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            line, col = tok.start
            comments.append((line, col, tok.string[1:], last_code_line == line))
        elif tok.type == tokenize.NEWLINE:
            if start is not None:
                statements.append((start[0], tok.start[0], start[1]))
            start = None
        elif tok.type not in _NOT_CODE:
            code.update(range(tok.start[0], tok.end[0] + 1))
            last_code_line = tok.end[0]
            if start is None:
                start = (tok.start[0], tok.type == tokenize.OP and tok.string == "@")
    return _Lexed(comments, np.array(sorted(code), dtype=np.int64), statements)


def _comments(lexed: _Lexed) -> list[Comment]:
    """One :class:`Comment` per ``#`` comment, with its anchor and declaration end."""
    starts = np.array([s[0] for s in lexed.statements], dtype=np.int64)
    out: list[Comment] = []
    for line, _col, body, trailing in lexed.comments:
        if trailing:
            anchor: int | None = line
        else:
            nxt = int(np.searchsorted(lexed.code_lines, line, side="right"))
            anchor = int(lexed.code_lines[nxt]) if nxt < len(lexed.code_lines) else None
        out.append(Comment(line, line, body, "line", trailing, anchor, _decl_end(anchor, starts, lexed)))
    return out


def _decl_end(anchor: int | None, starts: npt.NDArray[np.int64], lexed: _Lexed) -> int | None:
    """The last line of the statement at ``anchor``, past any decorators."""
    if anchor is None or not len(starts):
        return None
    k = max(int(np.searchsorted(starts, anchor, side="right")) - 1, 0)
    while lexed.statements[k][2] and k + 1 < len(lexed.statements):
        k += 1
    return lexed.statements[k][1]


def _docstrings(tree: ast.Module, lines: list[str]) -> list[Comment]:
    """Function docstrings as block comments (their raw lines, so line numbers stay physical)."""
    out: list[Comment] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        end = first.end_lineno or first.lineno
        body = "\n".join(lines[first.lineno - 1 : end])
        out.append(Comment(first.lineno, end, body, "block", False, None, None))
    return out


def scan_python(path: str, data: bytes, config: TagConfig = DEFAULT_CONFIG) -> ScanResult:
    """The tags of one Python file (the frame of :func:`covguard.trace.tags.scan_file`).

    A file that does not tokenize or parse gives one error problem and no tags.
    """
    text, problems = decode_source(bytes(data), path)
    try:
        tree = ast.parse(text, filename=path)
        lexed = _lex(text)
    except (SyntaxError, tokenize.TokenError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or (exc.args[1][0] if len(exc.args) > 1 else 0)
        message = getattr(exc, "msg", None) or str(exc.args[0] if exc.args else exc)
        problems.append(
            Problem(path, int(line or 0), "error", f"not valid Python ({message}): its tags are not read")
        )
        return ScanResult(empty_tags(), problems)
    lines = text.split("\n")
    comments = sorted([*_comments(lexed), *_docstrings(tree, lines)], key=lambda c: c.start_line)
    result = scan_comments(path, comments, len(lines), config)
    return ScanResult(result.tags, [*problems, *result.problems])


def scan_sources(items: Iterable[tuple[str, bytes]], config: TagConfig = DEFAULT_CONFIG) -> ScanResult:
    """The tags of C, C++ and Python files together, each read as its language (by file name)."""
    c_items: list[tuple[str, bytes]] = []
    py: list[ScanResult] = []
    for path, data in items:
        if is_python(path):
            py.append(scan_python(path, data, config))
        else:
            c_items.append((path, data))
    c = scan_files(c_items, config)
    if not py:
        return c
    frames = [r.tags for r in (c, *py) if len(r.tags)]
    tags = pd.concat(frames, ignore_index=True) if frames else c.tags
    return ScanResult(tags, [*c.problems, *(p for r in py for p in r.problems)])


__all__ = [
    "PyFunction",
    "function_frame",
    "functions_of",
    "is_python",
    "owners",
    "parse",
    "scan_python",
    "scan_sources",
]
