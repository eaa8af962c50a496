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

import functools
import os
import struct
from collections.abc import Container, Iterator
from pathlib import Path, PurePosixPath

from covguard.errors import CoverageDataError

STREAM_MAGIC = b"CGCOV1\n"
STREAM_SUFFIX = ".cgcov"
_HINT = "delete the work folder's coverage data and run the tests again (covguard run)"
RUN_SUFFIX = ".cgcovs"  # the host hooks: every test of one process, 'T' u32 <index> then its stream


class StreamError(ValueError):
    """A coverage stream that cannot be used (truncated, malformed)."""


def read_stream(data: bytes) -> list[tuple[str, bytes]]:
    """The (gcda path, gcda bytes) of every object in one test's stream (format: cg_platform.c)."""
    files, end = _read_one(data, 0)
    if end != len(data):
        raise StreamError(f"{len(data) - end} bytes follow its end record")
    return files


_U32 = struct.Struct("<I").unpack_from


def _read_one(data: bytes, start: int) -> tuple[list[tuple[str, bytes]], int]:
    """One stream from ``start``: its objects and where it ends."""
    if data[start : start + len(STREAM_MAGIC)] != STREAM_MAGIC:
        raise StreamError(f"no stream header (CGCOV1) at byte {start}")
    files: list[tuple[str, bytes]] = []
    size = len(data)
    pos = start + len(STREAM_MAGIC)
    path: str | None = None
    chunks: list[bytes] = []
    cut = "it ends inside a record at byte {} (the image stopped while writing)"
    while True:
        if pos >= size:
            raise StreamError("it has no end record (the image stopped while writing it)")
        tag = data[pos]
        if tag == 0x46:  # 'F'
            if path is not None:
                raise StreamError(f"object '{path}' has no end record")
            if pos + 5 > size:
                raise StreamError(cut.format(pos))
            n = _U32(data, pos + 1)[0]
            raw = data[pos + 5 : pos + 5 + n]
            if len(raw) != n:
                raise StreamError("it ends inside a file name (the image stopped while writing)")
            path = _checked_path(raw)
            if any(path == done for done, _ in files):
                raise StreamError(f"object '{path}' is in it twice")
            chunks = []
            pos += 5 + n
        elif tag == 0x44:  # 'D'
            if path is None:
                raise StreamError(f"data without a file name at byte {pos}")
            if pos + 5 > size:
                raise StreamError(cut.format(pos))
            n = _U32(data, pos + 1)[0]
            chunk = data[pos + 5 : pos + 5 + n]
            if len(chunk) != n:
                raise StreamError(f"the data of '{path}' is cut short (the image stopped while writing)")
            chunks.append(chunk)
            pos += 5 + n
        elif tag == 0x45:  # 'E'
            if path is None:
                raise StreamError(f"an end record without a file at byte {pos}")
            files.append((path, b"".join(chunks)))
            path = None
            pos += 1
        elif tag == 0x5A:  # 'Z'
            if pos + 5 > size:
                raise StreamError(cut.format(pos))
            count = _U32(data, pos + 1)[0]
            if path is not None:
                raise StreamError(f"object '{path}' has no end record")
            if count != len(files):
                raise StreamError(f"it announces {count} objects but holds {len(files)}")
            return files, pos + 5
        else:
            raise StreamError(f"unknown record {data[pos : pos + 1]!r} at byte {pos}")


@functools.lru_cache(maxsize=4096)
def _checked_path(raw: bytes) -> str:
    """The object's path, checked (cached: every test's stream names the same few objects)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StreamError(f"a file name is not UTF-8: {raw[:80]!r}") from None
    path = PurePosixPath(text)
    if not path.is_absolute() or ".." in path.parts or path.suffix != ".gcda" or "\0" in text:
        raise StreamError(f"'{text}' is not the absolute path of a .gcda file")
    return text


def read_run_file(data: bytes) -> list[tuple[int, list[tuple[str, bytes]]]]:
    """The per-test streams of one process's run file (``*.cgcovs``): (test index, objects)."""
    out: list[tuple[int, list[tuple[str, bytes]]]] = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + 1] != b"T" or pos + 5 > len(data):
            raise StreamError(f"no test record at byte {pos} (the test process stopped while writing it)")
        index = int(struct.unpack_from("<I", data, pos + 1)[0])
        files, pos = _read_one(data, pos + 5)
        out.append((index, files))
    return out


def pack_stream(files: list[tuple[str, bytes]]) -> bytes:
    """The bytes of one stream (the hooks' format), e.g. to rewrite one in a test."""
    parts = [STREAM_MAGIC]
    for path, data in files:
        name = path.encode()
        parts += [b"F", struct.pack("<I", len(name)), name, b"D", struct.pack("<I", len(data)), data, b"E"]
    parts += [b"Z", struct.pack("<I", len(files))]
    return b"".join(parts)


def pack_run_file(records: list[tuple[int, list[tuple[str, bytes]]]]) -> bytes:
    return b"".join(b"T" + struct.pack("<I", index) + pack_stream(files) for index, files in records)


_Objects = list[tuple[str, bytes]]


@functools.lru_cache(maxsize=8)
def _run_index(folder: str, signature: tuple[tuple[str, int, int], ...]) -> dict[int, tuple[Path, _Objects]]:
    index: dict[int, tuple[Path, _Objects]] = {}
    for name, _size, _mtime in signature:
        path = Path(folder) / name
        try:
            records = read_run_file(path.read_bytes())
        except OSError as exc:
            raise CoverageDataError(f"cannot read coverage data: {exc.strerror}", path=path) from exc
        except StreamError as exc:
            raise CoverageDataError(
                f"corrupt coverage stream: {exc}; refusing to report it as low coverage",
                path=path,
                hint=_HINT,
            ) from None
        for test, files in records:
            if test in index:
                raise CoverageDataError(
                    f"the coverage of test {test} was written twice (also in {index[test][0]}): another "
                    "process wrote into this test run's coverage folder; refusing to guess",
                    path=path,
                    hint=_HINT,
                )
            index[test] = (path, files)
    return index


def _run_files(folder: Path) -> dict[int, tuple[Path, _Objects]]:
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(RUN_SUFFIX) and e.is_file()]
    except OSError:
        return {}
    if not entries:
        return {}
    signature = tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries))
    return _run_index(str(folder), signature)


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
            f"corrupt coverage stream: {exc}; refusing to report it as low coverage", path=stream, hint=_HINT
        ) from None


def unit_streams(
    unit: str | Path,
    runs: dict[str, dict[int, tuple[Path, _Objects]]] | None = None,
    listed: Container[str] | None = None,
) -> list[tuple[str, _Objects]]:
    """The streams of one coverage unit (folder ``<dir>/<index>``), as (name shown in messages,
    objects): ``<unit>.cgcov`` (one test's stream) and the unit's record in a run file of its
    folder (``<dir>/*.cgcovs``, every test of one process).  Empty: no stream came back.

    ``runs`` keeps each folder's run files once listed, for a caller that reads many units of
    the same folders (every test of an executable shares one); ``listed``, the names of the
    regular files in ``<dir>`` when the caller has listed it (one listing, not a stat per unit)."""
    out: list[tuple[str, _Objects]] = []
    text = os.fspath(unit)
    parent, name = os.path.split(text)
    single = text + STREAM_SUFFIX
    if (name + STREAM_SUFFIX in listed) if listed is not None else os.path.isfile(single):
        out.append((single, stream_objects(Path(single))))
    if name.isdigit():
        if runs is None:
            index = _run_files(Path(parent))
        elif parent in runs:
            index = runs[parent]
        else:
            index = runs[parent] = _run_files(Path(parent))
        hit = index.get(int(name))
        if hit is not None:
            out.append((f"{hit[0]}[test {name}]", hit[1]))
    return out


def unit_data(unit: Path) -> Iterator[tuple[Path, str, bytes]]:
    """Every data file of one coverage unit as (path shown in messages, absolute ``.gcda`` path as
    compiled, bytes): the ``.gcda`` below its folder (libgcov's layout), then its streams' objects."""
    if unit.is_dir():
        for gcda in sorted(unit.rglob("*.gcda")):
            try:
                raw = gcda.read_bytes()
            except OSError as exc:
                raise CoverageDataError(f"cannot read coverage data: {exc.strerror}", path=gcda) from exc
            yield gcda, "/" + gcda.relative_to(unit).as_posix(), raw
    for shown, objects in unit_streams(unit):
        for gcda_path, raw in objects:
            yield Path(f"{shown}:{gcda_path}"), gcda_path, raw
