"""Paths taken from files covguard did not write, confined to the folder they belong in.

A package, a shard, a ``results.json`` or a configuration value may name a file; before covguard
reads or writes it, the name goes through :func:`relative_name` (no absolute name, no ``..``, no NUL
or backslash, no empty or ``.`` part) and the place it leads to through :func:`confined` (resolved,
symbolic links followed, and still inside its base folder).  :func:`shown` neutralises names before
they are printed: a newline or a bidirectional override in a member name cannot forge a line of
output.
"""

from __future__ import annotations

import os
import posixpath
import unicodedata
from pathlib import Path, PurePosixPath

from covguard.errors import InputError


class UnsafePath(InputError):
    """A name from an input file leads outside the folder it must stay in."""


def path_problem(name: str) -> str | None:
    """Why ``name`` is not a plain relative path ('a/b/c'), or None when it is one."""
    if not name:
        return "an empty name"
    if "\0" in name:
        return "a name with a NUL character"
    if "\\" in name:
        return "a name with a backslash"
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "a '..' part that leaves its folder"
    if any(p in ("", ".") for p in parts):
        return "a name that is not a normalised path (an empty or '.' part)"
    if any(_unprintable(c) for c in name):
        return "a name with a control or formatting character"
    return None


def _unprintable(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")


def relative_name(name: object, what: str, *, source: Path | str | None = None) -> str:
    """``name`` as a plain relative path; :class:`UnsafePath` naming ``what`` and ``source`` if not."""
    text = str(name)
    why = path_problem(text)
    if why is not None:
        raise UnsafePath(
            f"{what} {shown(text)!s} is refused: {why}",
            path=source,
            hint="the file was not written by covguard as it is, or was altered; nothing was written",
        )
    return text


def single_name(name: object, what: str, *, source: Path | str | None = None) -> str:
    """``name`` as one plain folder or file name (no '/' at all)."""
    text = relative_name(name, what, source=source)
    if "/" in text:
        raise UnsafePath(
            f"{what} {shown(text)} is refused: it must be a single name, without '/'",
            path=source,
            hint="use letters, digits, '-', '_' and '.'",
        )
    return text


def confined(base: Path, name: object, what: str, *, source: Path | str | None = None) -> Path:
    """``base / name`` after checking that it stays inside ``base`` once resolved (links followed)."""
    rel = relative_name(name, what, source=source)
    target = base / rel
    real_base = Path(os.path.realpath(base))
    real = Path(os.path.realpath(target))
    if real != real_base and real_base not in real.parents:
        raise UnsafePath(
            f"{what} {shown(rel)} is refused: it leads outside {base} (to {real}) through a symbolic link",
            path=source,
            hint="the file was not written by covguard as it is, or was altered; nothing was written",
        )
    return target


def inside(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` when it is lexically below it, else None (check the rest with
    :func:`relative_name` or :func:`confined` before using it)."""
    b = base.rstrip("/") + "/"
    if not path.startswith(b):
        return None
    return path[len(b) :]


def absolute_name(name: object, what: str, *, source: Path | str | None = None) -> str:
    """``name`` as a normalised absolute path ('/a/b', no '..', '.' or empty part, no NUL)."""
    text = str(name)
    if (
        not text.startswith("/")
        or "\0" in text
        or posixpath.normpath(text) != text
        or any(_unprintable(c) for c in text)
    ):
        raise UnsafePath(
            f"{what} {shown(text)} is refused: not a normalised absolute path",
            path=source,
            hint="the file was not written by covguard as it is, or was altered; nothing was written",
        )
    return text


def shown(text: str, *, backslash: bool = True) -> str:
    """``text`` safe to print on one line: control and bidirectional formatting characters (a
    newline, U+202E) replaced by visible ``\\n`` / ``\\u202e`` escapes, undecodable bytes as ``\\xNN``."""
    out: list[str] = []
    for c in text:
        if 0xDC80 <= ord(c) <= 0xDCFF:  # surrogateescape: a byte that was not UTF-8
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif _unprintable(c) or (backslash and c == "\\"):
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}.get(c) or f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)
