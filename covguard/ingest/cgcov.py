"""Coverage streams: one file per test case holding the ``.gcda`` bytes of several objects.

Written by covguard's Cortex-M runtime (``runtime/cortex_m/cg_platform.c``, over semihosting) and
by its host hooks (``runtime/cg_gcov_stream.h``: only the objects the test touched)::

    "CGCOV1\n"
    per object:  'F' u32 n <gcda path: n bytes>   ('D' u32 n <n data bytes>)...   'E'
    at the end:  'Z' u32 <number of objects>

(u32 little-endian).  A stream without its ``Z`` trailer (the writer died while writing), with a
count that does not match, a path that is not an absolute ``.gcda`` path, or anything after the
trailer is refused.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from covguard.errors import CoverageDataError

STREAM_MAGIC = b"CGCOV1\n"
STREAM_SUFFIX = ".cgcov"


class StreamError(ValueError):
    """A coverage stream that cannot be used (truncated, malformed)."""


def read_stream(data: bytes) -> list[tuple[str, bytes]]:
    """The (gcda path, gcda bytes) of every object in one test's stream (format: cg_platform.c)."""
    if not data.startswith(STREAM_MAGIC):
        raise StreamError("it does not start with the stream header (CGCOV1)")
    files: list[tuple[str, bytes]] = []
    pos = len(STREAM_MAGIC)
    path: str | None = None
    chunks: list[bytes] = []

    def u32(at: int) -> int:
        if at + 4 > len(data):
            raise StreamError(f"it ends inside a record at byte {at - 1} (the image stopped while writing)")
        return int(struct.unpack_from("<I", data, at)[0])

    while True:
        if pos >= len(data):
            raise StreamError("it has no end record (the image stopped while writing it)")
        tag = data[pos : pos + 1]
        if tag == b"F":
            if path is not None:
                raise StreamError(f"object '{path}' has no end record")
            n = u32(pos + 1)
            raw = data[pos + 5 : pos + 5 + n]
            if len(raw) != n:
                raise StreamError("it ends inside a file name (the image stopped while writing)")
            path = _checked_path(raw)
            if any(path == done for done, _ in files):
                raise StreamError(f"object '{path}' is in it twice")
            chunks = []
            pos += 5 + n
        elif tag == b"D":
            if path is None:
                raise StreamError(f"data without a file name at byte {pos}")
            n = u32(pos + 1)
            chunk = data[pos + 5 : pos + 5 + n]
            if len(chunk) != n:
                raise StreamError(f"the data of '{path}' is cut short (the image stopped while writing)")
            chunks.append(chunk)
            pos += 5 + n
        elif tag == b"E":
            if path is None:
                raise StreamError(f"an end record without a file at byte {pos}")
            files.append((path, b"".join(chunks)))
            path = None
            pos += 1
        elif tag == b"Z":
            count = u32(pos + 1)
            if path is not None:
                raise StreamError(f"object '{path}' has no end record")
            if count != len(files):
                raise StreamError(f"it announces {count} objects but holds {len(files)}")
            if pos + 5 != len(data):
                raise StreamError(f"{len(data) - pos - 5} bytes follow its end record")
            return files
        else:
            raise StreamError(f"unknown record {tag!r} at byte {pos}")


def _checked_path(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StreamError(f"a file name is not UTF-8: {raw[:80]!r}") from None
    path = PurePosixPath(text)
    if not path.is_absolute() or ".." in path.parts or path.suffix != ".gcda" or "\0" in text:
        raise StreamError(f"'{text}' is not the absolute path of a .gcda file")
    return text


def stream_of(unit: str | Path) -> Path:
    """The stream of a coverage unit whose folder is ``unit`` (``<unit>.cgcov``)."""
    return Path(str(unit) + STREAM_SUFFIX)


def stream_objects(stream: Path) -> list[tuple[str, bytes]]:
    """The objects of a test's stream, or a :class:`CoverageDataError` naming the file."""
    try:
        return read_stream(stream.read_bytes())
    except OSError as exc:
        raise CoverageDataError(f"cannot read coverage data: {exc.strerror}", path=stream) from exc
    except StreamError as exc:
        raise CoverageDataError(
            f"corrupt coverage stream: {exc}; refusing to report it as low coverage",
            path=stream,
            hint="delete the work folder's coverage data and run the tests again (covguard run)",
        ) from None


def unit_data(unit: Path) -> Iterator[tuple[Path, str, bytes]]:
    """Every data file of one coverage unit as (path shown in messages, absolute ``.gcda`` path as
    compiled, bytes): the ``.gcda`` below its folder (libgcov's layout), then its stream's objects."""
    if unit.is_dir():
        for gcda in sorted(unit.rglob("*.gcda")):
            try:
                raw = gcda.read_bytes()
            except OSError as exc:
                raise CoverageDataError(f"cannot read coverage data: {exc.strerror}", path=gcda) from exc
            yield gcda, "/" + gcda.relative_to(unit).as_posix(), raw
    stream = stream_of(unit)
    if stream.is_file():
        for gcda_path, raw in stream_objects(stream):
            yield Path(f"{stream}:{gcda_path}"), gcda_path, raw
