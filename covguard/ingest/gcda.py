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
    return parse_data(data_bytes(path), path, notes, expected)


def data_bytes(path: Path) -> bytes:
    """The bytes of a data file, or a :class:`CoverageDataError` naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CoverageDataError(f"cannot read coverage data: {exc.strerror}", path=path) from exc


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


@dataclass(slots=True)
class Layout:
    """What the data file of one notes file must hold, for :func:`read_counters`."""

    idents: np.ndarray  # uint32, notes order
    lineno_checksums: np.ndarray
    cfg_checksums: np.ndarray
    counts: np.ndarray  # int64 counters per function
    offsets: np.ndarray  # int64 start of each function's counters in the object's vector
    total: int


def layout_of(notes: NotesFile, expected: list[int]) -> Layout:
    columns = notes.function_columns()
    counts = np.asarray(expected, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(counts) else np.zeros(0, dtype=np.int64)
    return Layout(
        idents=np.asarray(columns.idents, dtype=np.uint32),
        lineno_checksums=np.asarray(columns.lineno_checksums, dtype=np.uint32),
        cfg_checksums=np.asarray(columns.cfg_checksums, dtype=np.uint32),
        counts=counts,
        offsets=offsets.astype(np.int64),
        total=int(counts.sum()),
    )


def read_counters(path: Path, notes: NotesFile, layout: Layout) -> np.ndarray:
    """All counters of a data file as one vector (notes order), checked as :func:`read_data` checks.

    The common case - a file libgcov wrote for exactly this notes file - is read with a handful of
    numpy operations: the function records are located, their chain from one record to the next
    is verified end to end, the identities and checksums are compared with the notes, and the
    counters are gathered.  Anything else (another record layout, a damaged or foreign file) goes
    through :func:`parse_data`, whose messages say what is wrong.
    """
    return counters_of(data_bytes(path), path, notes, layout)


def counters_of(buf: bytes, path: Path | str, notes: NotesFile, layout: Layout) -> np.ndarray:
    """:func:`read_counters` of bytes already read (an object of a coverage stream); ``path``
    names them in messages."""
    fast = _fast_counters(buf, notes, layout)
    if fast is not None:
        return fast
    data = parse_data(buf, Path(path), notes, [int(c) for c in layout.counts])
    return np.concatenate(data.counters) if data.counters else np.zeros(0, dtype=np.int64)


def _fast_counters(buf: bytes, notes: NotesFile, layout: Layout) -> np.ndarray | None:
    n = len(buf) // 4
    if len(buf) % 4 or n < 6:
        return None
    w = np.frombuffer(buf, dtype="<u4")
    if int(w[0]) != GCDA_MAGIC or version_text(int(w[1])) != notes.version or int(w[2]) != notes.stamp:
        return None
    if int(w[4]) == TAG_FUNCTION:  # no object summary: GCC's serialisation of one object (a stream)
        first = 4
    elif int(w[4]) != TAG_OBJECT_SUMMARY or int(w[5]) % 4:
        return None
    else:
        first = 6 + int(w[5]) // 4
    cand = np.flatnonzero((w[first:-1] == TAG_FUNCTION) & (w[first + 1 :] == 12)) + first
    nf = len(layout.idents)
    if len(cand) != nf:
        return None
    if not nf:
        return np.zeros(0, dtype=np.int64) if first == n or (first == n - 1 and not w[-1]) else None
    arcs = cand + 5
    if int(arcs[-1]) + 1 >= n or not (w[arcs] == TAG_COUNTER_ARCS).all():
        return None
    lens = w[arcs + 1].astype(np.int64)
    lens = np.where(lens >= 1 << 31, lens - (1 << 32), lens)
    if (lens % 8).any():
        return None
    stored = lens > 0
    words = np.where(stored, lens // 4, 0)
    nxt = arcs + 2 + words
    end = int(nxt[-1])  # the last record ends the file, or a 0 tag does
    if (
        int(cand[0]) != first
        or not (nxt[:-1] == cand[1:]).all()
        or not (end == n or (end == n - 1 and not w[-1]))
    ):
        return None
    if not (
        (w[cand + 2] == layout.idents).all()
        and (w[cand + 3] == layout.lineno_checksums).all()
        and (w[cand + 4] == layout.cfg_checksums).all()
        and (np.abs(lens) // 8 == layout.counts).all()
    ):
        return None
    vec = np.zeros(layout.total, dtype=np.int64)
    if stored.any():
        counts = layout.counts[stored]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        word = np.repeat(arcs[stored] + 2, counts) + 2 * within
        values = (w[word + 1].astype(np.uint64) << np.uint64(32)) | w[word].astype(np.uint64)
        signed = values.view(np.int64)
        if (signed < 0).any():
            return None
        vec[np.repeat(layout.offsets[stored], counts) + within] = signed
    return vec


def counters_batch(
    bufs: list[bytes], notes: list[NotesFile], layouts: list[Layout]
) -> list[np.ndarray | None]:
    """:func:`_fast_counters` of many data files at once (the objects of every test's coverage
    stream): the same checks in one pass of numpy over all of them, instead of a few dozen numpy
    calls per file.  ``None`` where the fast path does not apply; the caller then reads that file
    with :func:`counters_of`, which decodes it or says what is wrong with it."""
    out: list[np.ndarray | None] = [None] * len(bufs)
    sizes = np.fromiter((len(b) for b in bufs), dtype=np.int64, count=len(bufs))
    idx = np.flatnonzero((sizes % 4 == 0) & (sizes >= 24))
    if not len(idx):
        return out
    w = np.frombuffer(b"".join([bufs[i] for i in idx.tolist()]), dtype="<u4")
    n = sizes[idx] // 4
    end = np.cumsum(n)
    start = end - n
    lays = [layouts[i] for i in idx.tolist()]
    nts = [notes[i] for i in idx.tolist()]
    stamps = np.fromiter((x.stamp for x in nts), dtype=np.int64, count=len(nts))
    texts = {int(v): version_text(int(v)) for v in np.unique(w[start + 1])}
    good = (w[start] == GCDA_MAGIC) & (w[start + 2].astype(np.int64) == stamps)
    good &= np.fromiter(
        (texts[v] == x.version for v, x in zip(w[start + 1].tolist(), nts, strict=True)),
        dtype=bool,
        count=len(nts),
    )
    w4, w5 = w[start + 4].astype(np.int64), w[start + 5].astype(np.int64)
    summary = (w4 == TAG_OBJECT_SUMMARY) & (w5 % 4 == 0)
    first = np.where(w4 == TAG_FUNCTION, start + 4, np.where(summary, start + 6 + w5 // 4, -1))
    good &= (first >= 0) & (first <= end)
    nf = np.fromiter((len(lay.idents) for lay in lays), dtype=np.int64, count=len(lays))
    last_zero = w[end - 1] == 0  # a file may end with one 0 word (the end tag)
    cand = np.flatnonzero((w[:-1] == TAG_FUNCTION) & (w[1:] == 12))
    blob = np.searchsorted(start, cand, side="right") - 1
    after = cand >= first[blob]
    cand, blob = cand[after], blob[after]
    good &= np.bincount(blob, minlength=len(idx)) == nf
    # files without functions: only the header (and perhaps the summary and an end word)
    empty = good & (nf == 0)
    good &= (nf > 0) | (first == end) | ((first == end - 1) & last_zero)
    keep = good[blob]
    cand, blob = cand[keep], blob[keep]
    kept = np.flatnonzero(good & ~empty)
    if len(cand):
        exp = [lays[b] for b in kept.tolist()]
        ident = np.concatenate([lay.idents for lay in exp])
        lcs = np.concatenate([lay.lineno_checksums for lay in exp])
        ccs = np.concatenate([lay.cfg_checksums for lay in exp])
        counts = np.concatenate([lay.counts for lay in exp])
        offsets = np.concatenate([lay.offsets for lay in exp])
        last_word = len(w) - 1
        arcs = cand + 5
        cand_ok = (arcs + 1 < end[blob]) & (w[np.minimum(arcs, last_word)] == TAG_COUNTER_ARCS)
        lens = w[np.minimum(arcs + 1, last_word)].astype(np.int64)
        lens = np.where(lens >= 1 << 31, lens - (1 << 32), lens)
        cand_ok &= lens % 8 == 0
        stored = lens > 0
        nxt = arcs + 2 + np.where(stored, lens // 4, 0)
        is_last = np.append(blob[1:] != blob[:-1], True)
        is_first = np.insert(blob[1:] != blob[:-1], 0, True)
        nxt_ok = np.where(
            is_last,
            (nxt == end[blob]) | ((nxt == end[blob] - 1) & last_zero[blob]),
            nxt == np.append(cand[1:], -1),
        )
        cand_ok &= nxt_ok & (~is_first | (cand == first[blob]))
        cand_ok &= (w[np.minimum(cand + 2, last_word)] == ident) & (w[np.minimum(cand + 3, last_word)] == lcs)
        cand_ok &= (w[np.minimum(cand + 4, last_word)] == ccs) & (np.abs(lens) // 8 == counts)
        good[np.unique(blob[~cand_ok])] = False
        # the counters of the files still good, into one vector cut per file
        totals = np.zeros(len(idx), dtype=np.int64)
        totals[kept] = [lay.total for lay in exp]
        base = np.cumsum(totals) - totals
        take = stored & good[blob]
        c = counts[take]
        within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        word = np.repeat(arcs[take] + 2, c) + 2 * within
        values = ((w[word + 1].astype(np.uint64) << np.uint64(32)) | w[word].astype(np.uint64)).view(np.int64)
        negative = values < 0
        if negative.any():
            good[np.unique(np.repeat(blob[take], c)[negative])] = False
        vec = np.zeros(int(totals.sum()), dtype=np.int64)
        vec[np.repeat(base[blob[take]] + offsets[take], c) + within] = values
        for b in kept[good[kept]].tolist():
            out[int(idx[b])] = vec[base[b] : base[b] + totals[b]]
    for b in np.flatnonzero(empty & good).tolist():
        out[int(idx[b])] = np.zeros(0, dtype=np.int64)
    return out
