"""A SHA-256 of C/C++ code that white space and comments do not change, and any token change does.

The text is lexed with the tag scanner's own pattern (:func:`covguard.trace.source.literal_lexer`),
so comments and literals are found exactly as the tag scanner finds them: comments are dropped,
string and character literals (and C++ raw strings) are kept verbatim as one token each, and the
code between them is split into C tokens (identifiers, preprocessing numbers, punctuators, longest
first).  A backslash-newline joins lines as the compiler does; the end of a preprocessor directive
is a token of its own (``#define X 1`` followed by ``y`` differs from ``#define X 1 y``).

The hash of a line range is the hash of the tokens that start on those lines, so re-indenting,
re-wrapping or re-commenting code keeps it, while renaming a variable, changing a constant or an
operator, or a string's text changes it.  :func:`find_tokens` finds a token sequence again
elsewhere in the file (code moved within its file).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from covguard.trace.source import decode_source, is_cplusplus, literal_lexer

_CODE = re.compile(
    r"(?P<splice>\\[ \t]*\n)"
    r"|(?P<nl>\n)"
    r"|(?P<ws>[ \t\v\f\r\x00]+)"
    r"|(?P<num>\.?[0-9](?:[eEpP][+-]|'(?=[A-Za-z0-9_])|[A-Za-z0-9_.$])*+)"
    r"|(?P<id>[A-Za-z_$\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*+)"
    r"|(?P<punct>%:%:|\.\.\.|<<=|>>=|->\*|<=>|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\*=|/=|%=|\+=|-=|&="
    r"|\^=|\|=|##|::|\.\*|<:|:>|<%|%>|%:|[^\s])"
)
EOL = "\n"  # the token that ends a preprocessor directive


@dataclass(frozen=True)
class CodeTokens:
    """The tokens of one source and the (physical, 1-based) line each starts on."""

    tokens: list[str]
    lines: npt.NDArray[np.int64]
    first_on_line: npt.NDArray[np.bool_]

    def between(self, first: int, last: int) -> tuple[int, int]:
        """Token indices [lo, hi) of the tokens starting on lines ``first``..``last``."""
        lo = int(np.searchsorted(self.lines, first, side="left"))
        hi = int(np.searchsorted(self.lines, last, side="right"))
        return lo, hi

    def digest(self, first: int, last: int) -> tuple[str, int]:
        """SHA-256 and token count of lines ``first``..``last``."""
        lo, hi = self.between(first, last)
        return digest_of(self.tokens[lo:hi]), hi - lo

    def find_tokens(self, sha256: str, count: int, near: int = 0) -> tuple[int, int] | None:
        """The line range of a run of ``count`` tokens, starting a line, whose hash is ``sha256``
        (the nearest to line ``near`` when several match); ``None`` when the code is gone."""
        if count <= 0 or count > len(self.tokens):
            return None
        starts = np.flatnonzero(self.first_on_line[: len(self.tokens) - count + 1])
        order = starts[np.argsort(np.abs(self.lines[starts] - near), kind="stable")]
        for i in order.tolist():
            if digest_of(self.tokens[i : i + count]) == sha256:
                return int(self.lines[i]), int(self.lines[i + count - 1])
        return None


def digest_of(tokens: list[str]) -> str:
    """The SHA-256 of a token list (each token length-prefixed, so no two lists collide)."""
    h = hashlib.sha256()
    for t in tokens:
        b = t.encode("utf-8", "surrogatepass")
        h.update(b"%d:" % len(b))
        h.update(b)
    return h.hexdigest()


def tokenize(data: bytes, path: str) -> CodeTokens:
    """The code tokens of a source file's bytes (never raises on any bytes)."""
    text, _problems = decode_source(data, path)
    lexer = literal_lexer(is_cplusplus(path))
    tokens: list[str] = []
    lines: list[int] = []
    first: list[bool] = []
    state = {"line": 1, "fresh": True, "directive": False}

    def emit(token: str) -> None:
        if state["fresh"] and token in ("#", "%:"):
            state["directive"] = True
        tokens.append(token)
        lines.append(int(state["line"]))
        first.append(bool(state["fresh"]))
        state["fresh"] = False

    def code(gap: str) -> None:
        for m in _CODE.finditer(gap):
            kind = m.lastgroup
            if kind == "ws":
                continue
            if kind == "splice":
                state["line"] = int(state["line"]) + 1
            elif kind == "nl":
                if state["directive"]:
                    emit(EOL)
                    state["directive"] = False
                state["line"] = int(state["line"]) + 1
                state["fresh"] = True
            else:
                emit(m.group())

    pos = 0
    for m in lexer.finditer(text):
        kind = m.lastgroup or ""
        if kind == "number":
            continue
        code(text[pos : m.start()])
        token = m.group()
        if kind not in ("line", "block"):
            emit(token)
        state["line"] = int(state["line"]) + token.count("\n")
        pos = m.end()
    code(text[pos:])
    return CodeTokens(tokens, np.asarray(lines, dtype=np.int64), np.asarray(first, dtype=bool))
