"""File helpers every writer uses: atomic writes, digests, the work-folder lock, path display."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from covguard.errors import LockedError, OutputError

_UMASK = os.umask(0)
os.umask(_UMASK)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (read-only folder?)"
    return exc.strerror or str(exc)


STDOUT = "-"


def is_stdout(path: Path | str | None) -> bool:
    """``-`` as an output file: the standard output."""
    return path is not None and str(path) == STDOUT


def _special(path: Path) -> bool:
    """An existing file that is not a regular one (a device, a FIFO, a socket): written through."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _write_through(path: Path | None, writer: Callable[[IO[bytes]], None]) -> None:
    """Write into the standard output (``path`` None) or an existing device or FIFO, never replacing it."""
    try:
        if path is None:
            sys.stdout.flush()
            handle = sys.stdout.buffer
            writer(handle)
            handle.flush()
            return
        with path.open("wb") as out:
            writer(out)
    except OSError as exc:
        raise OutputError(f"cannot write: {_describe(exc)}", path=path or STDOUT) from exc


def atomic_write(path: Path, writer: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place.

    On any failure the temporary file is removed and ``path`` keeps its earlier content: no
    half-written output is ever left behind.  ``-`` is the standard output, and an existing device
    or FIFO (``/dev/null``, a pipe) is written through: never replaced by a regular file.
    """
    if is_stdout(path):
        _write_through(None, writer)
        return
    if _special(path):
        _write_through(path, writer)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write: {_describe(exc)}", path=path) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write: {_describe(exc)}", path=path) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    def writer(handle: IO[bytes]) -> None:
        handle.write(data)

    atomic_write(path, writer)


def write_text(path: Path, text: str) -> None:
    """UTF-8; a file name that was not UTF-8 (decoded with surrogateescape) keeps its bytes."""
    write_bytes(path, text.encode("utf-8", errors="surrogateescape"))


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_safe(text: str) -> str:
    """JSON text with every lone surrogate - a byte of a file name that is not UTF-8 - as its
    ``\\udcXX`` escape: the file stays valid UTF-8 and reads back the same."""
    if not _has_surrogate(text):
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: UTF-8 encoding (C speed) fails exactly then, where
    the regular expression's scan of a report of many megabytes took a tenth of a second."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def visible_bytes(text: str) -> str:
    """Text for people (Markdown, HTML) with every byte of a file name that was not UTF-8 shown as
    ``\\xNN``: the file stays valid UTF-8."""
    if not _has_surrogate(text):
        return text
    return _SURROGATE.sub(
        lambda m: f"\\x{ord(m[0]) - 0xDC00:02x}" if 0xDC80 <= ord(m[0]) <= 0xDCFF else "\ufffd", text
    )


def json_text(data: Any, **options: Any) -> str:
    """JSON as covguard writes it (UTF-8 text, see :func:`json_safe`)."""
    return json_safe(json.dumps(data, ensure_ascii=False, **options))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json_text(data, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def work_lock(work_dir: Path) -> Iterator[None]:
    """Hold the work folder's lock: a second covguard on the same folder refuses at once.

    The lock is an ``flock`` on ``<work_dir>/lock``: the kernel releases it when the process ends,
    however it ends, so a killed run never leaves a stale lock behind.
    """
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        handle = (work_dir / "lock").open("a+")
    except OSError as exc:
        raise OutputError(f"cannot create the work folder: {_describe(exc)}", path=work_dir) from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(
                f"the work folder is in use by another covguard run ({holder})",
                path=work_dir,
                hint="wait for it to finish, or give this run its own folder with --work-dir",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def display_path(path: Path | str, root: Path) -> str:
    """``path`` relative to ``root`` with '/' separators when it is inside it, else absolute.

    The test is lexical first: a source reached through a symbolic link inside the project keeps
    its name in the project (see :func:`escapes_root` for the links that lead outside it).
    """
    p = Path(os.path.abspath(path))
    base = Path(os.path.abspath(root))
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        pass
    try:
        return p.resolve().relative_to(base.resolve()).as_posix()
    except (ValueError, OSError):
        return p.as_posix()


def display_paths(paths: Iterable[str | Path], root: Path) -> list[str]:
    """:func:`display_path` of each path: a path inside ``root`` by taking off the prefix of the
    root's absolute form (no :class:`~pathlib.Path` per path: a build's model names hundreds of
    files), any other through :func:`display_path` itself."""
    prefix = os.path.join(os.path.abspath(root), "")
    out: list[str] = []
    for path in paths:
        full = os.path.abspath(path)
        if full.startswith(prefix) and len(full) > len(prefix) and not full.startswith("//"):
            out.append(full[len(prefix) :])
        else:
            out.append(display_path(path, root))
    return out


def escapes_root(shown: str, root: Path) -> str | None:
    """Where a project path really is, when a symbolic link takes it outside the project root."""
    if shown.startswith("/"):
        return None
    p = root / shown
    try:
        real = p.resolve()
        real.relative_to(root.resolve())
    except ValueError:
        return str(real)
    except OSError:
        return None
    return None


class RealPaths:
    """:func:`escapes_root` for many files of few folders: the root and each folder
    resolved once; a file that is not itself a symbolic link is its folder's real path joined
    with its name (what :meth:`pathlib.Path.resolve` gives, without a ``lstat`` per folder of
    its path per file)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folders: dict[Path, Path] = {}
        self.real_root: Path | None = None

    def resolve(self, p: Path) -> Path:
        try:  # as os.path.realpath: a name it cannot lstat is no link
            link = stat.S_ISLNK(os.lstat(p).st_mode)
        except OSError:
            link = False
        if link or p.name in ("", ".."):
            return p.resolve()
        folder = self.folders.get(p.parent)
        if folder is None:
            folder = self.folders[p.parent] = p.parent.resolve()
        return folder / p.name

    def escapes_root(self, shown: str) -> str | None:
        if shown.startswith("/"):
            return None
        p = self.root / shown
        try:
            real = self.resolve(p)
            if self.real_root is None:
                self.real_root = self.root.resolve()
            real.relative_to(self.real_root)
        except ValueError:
            return str(real)
        except OSError:
            return None
        return None


def glob_regex(pattern: str) -> str:
    """A regex for a path glob: ``**`` any folders, ``*`` within one folder, ``?`` one character."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def glob_matcher(include: Sequence[str], exclude: Sequence[str] = ()) -> Callable[[str], bool]:
    """A predicate on '/'-separated relative paths: matches an include glob and no exclude glob."""
    inc = re.compile("|".join(f"(?:{glob_regex(p)})" for p in include) or "(?!)")
    exc = re.compile("|".join(f"(?:{glob_regex(p)})" for p in exclude) or "(?!)")
    return lambda path: bool(inc.fullmatch(path)) and not exc.fullmatch(path)
