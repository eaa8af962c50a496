"""Reader for GCC's coverage data files (``.gcda``), checked against their notes file.

A data file holds, per function, the function's identity and checksums followed by its arc
counters (64-bit; GCC 12+ writes a run of zero counters as a negative length with no payload).
gcov and gcovr accept a truncated file silently and report fewer covered lines; covguard checks
the file against its ``.gcno`` instead and refuses anything that does not match exactly:

* the magic number, version and stamp (a stamp mismatch means another build wrote it);
* every function record names a function of the notes file with the same checksums;
* every counter record has exactly the number of counters the notes file predicts;
* the file holds a record for every function of the notes file (a truncated file does not);
* no counter is negative (libgcov never writes one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from covguard.errors import CoverageDataError
from covguard.ingest.gcno import GCDA_MAGIC, NotesFile, version_text

TAG_FUNCTION = 0x01000000
TAG_COUNTER_ARCS = 0x01A10000
TAG_OBJECT_SUMMARY = 0xA1000000

_HINT_REBUILD = (
    "delete the work folder's coverage data and run the tests again (covguard run); "
    "if it persists, rebuild (covguard build)"
)


@dataclass(slots=True)
class DataFile:
    """Counters of one ``.gcda``: for each function of its notes file (same order), a counter array."""

    path: Path
    runs: int
    counters: list[np.ndarray]  # int64 arrays, one per notes function, in notes order

    def nonzero(self) -> bool:
        return any(c.any() for c in self.counters)


def read_data(path: Path, notes: NotesFile, expected: list[int] | None = None) -> DataFile:
    """Read ``path`` and check it against ``notes``.

    ``expected`` gives the number of counters of each notes function (computed once per notes
    file by the caller); without it, it is derived from ``notes``.
    """
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise CoverageDataError(f"cannot read coverage data: {exc.strerror}", path=path) from exc
    return parse_data(buf, path, notes, expected)


def _corrupt(path: Path, what: str, notes: NotesFile | None = None) -> CoverageDataError:
    extra = f" (notes file {notes.path})" if notes is not None else ""
    return CoverageDataError(
        f"corrupt coverage data: {what}{extra}; refusing to report it as low coverage",
        path=path,
        hint=_HINT_REBUILD,
    )


def parse_data(buf: bytes, path: Path, notes: NotesFile, expected: list[int] | None = None) -> DataFile:
    if len(buf) < 16 or len(buf) % 4:
        raise _corrupt(path, f"{len(buf)} bytes is not a whole coverage data file")
    words = np.frombuffer(buf, dtype="<u4")
    if int(words[0]) != GCDA_MAGIC:
        raise _corrupt(path, "not a GCC coverage data (.gcda) file (bad magic number)")
    version = version_text(int(words[1]))
    if version != notes.version:
        raise CoverageDataError(
            f"coverage data written by GCC version stamp '{version}' but the notes file "
            f"{notes.path} is from '{notes.version}'",
            path=path,
            hint=_HINT_REBUILD,
        )
    if int(words[2]) != notes.stamp:
        raise CoverageDataError(
            f"coverage data is from another build: its stamp does not match the notes file {notes.path}",
            path=path,
            hint=_HINT_REBUILD,
        )
    fns = notes.functions
    if expected is None:
        expected = [f.n_counters for f in fns]
    index_of = {f.ident: i for i, f in enumerate(fns)}
    counters: list[np.ndarray | None] = [None] * len(fns)
    runs = 0
    n = len(words)
    pos = 4  # magic, version, stamp, checksum
    wl = words.tolist() if n < 4096 else None
    current: int | None = None
    while pos + 2 <= n:
        tag = wl[pos] if wl is not None else int(words[pos])
        if tag == 0:
            break
        length = wl[pos + 1] if wl is not None else int(words[pos + 1])
        pos += 2
        if length & 0x80000000:  # negative length: that many bytes of zero counters
            zeros = (0x100000000 - length) // 8
            if tag != TAG_COUNTER_ARCS:
                continue
            if current is None or counters[current] is not None:
                raise _corrupt(path, "counters without a function record", notes)
            if zeros != expected[current]:
                raise _corrupt(
                    path,
                    f"'{fns[current].name}' has {zeros} counters, the notes say {expected[current]}",
                    notes,
                )
            counters[current] = np.zeros(zeros, dtype=np.int64)
            continue
        if length % 4 or pos + length // 4 > n:
            raise _corrupt(path, f"record 0x{tag:08x} runs past the end of the file (truncated)")
        if tag == TAG_FUNCTION:
            if length == 0:
                current = None
            elif length != 12:
                raise _corrupt(path, f"function record of {length} bytes")
            else:
                ident, lcs, ccs = (
                    (wl[pos], wl[pos + 1], wl[pos + 2])
                    if wl is not None
                    else (int(words[pos]), int(words[pos + 1]), int(words[pos + 2]))
                )
                idx = index_of.get(ident)
                if idx is None:
                    raise _corrupt(path, f"function id {ident} is not in the notes file", notes)
                f = fns[idx]
                if lcs != f.lineno_checksum or ccs != f.cfg_checksum:
                    raise CoverageDataError(
                        f"coverage data for '{f.name}' does not match the notes file {notes.path} "
                        "(checksum mismatch: the code changed after the data was written)",
                        path=path,
                        hint=_HINT_REBUILD,
                    )
                current = idx
        elif tag == TAG_COUNTER_ARCS:
            if current is None or counters[current] is not None:
                raise _corrupt(path, "counters without a function record", notes)
            count = length // 8
            if count != expected[current]:
                raise _corrupt(
                    path,
                    f"'{fns[current].name}' has {count} counters, the notes say {expected[current]}",
                    notes,
                )
            values = np.frombuffer(buf, dtype="<i8", count=count, offset=pos * 4).astype(np.int64)
            if count and int(values.min()) < 0:
                raise _corrupt(path, f"negative execution count in '{fns[current].name}'", notes)
            counters[current] = values
        elif tag == TAG_OBJECT_SUMMARY and length >= 4:
            runs = wl[pos] if wl is not None else int(words[pos])
        pos += length // 4
    for i, c in enumerate(counters):
        if c is None and expected[i] == 0:
            counters[i] = np.zeros(0, dtype=np.int64)
    missing = [fns[i].name for i, c in enumerate(counters) if c is None]
    if missing:
        shown = ", ".join(f"'{m}'" for m in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise _corrupt(
            path,
            f"no counters for {len(missing)} of {len(fns)} functions ({shown}): the file is truncated",
            notes,
        )
    return DataFile(path=path, runs=runs, counters=[c for c in counters if c is not None])
