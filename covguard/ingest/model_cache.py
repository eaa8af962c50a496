"""The coverage model of a build, kept on disk between runs (no pickle: arrays and JSON).

Compiling the notes files into the model is the one expensive step of reading coverage, and it
depends on the notes files only.  `covguard build` compiles it once and stores it in the work
area; every later `covguard test`/`analyse` of the same build loads it.  The cache is keyed by a
digest of every notes file's path, size, modification time and stamp, and by covguard's version:
anything else, and it is rebuilt.  A damaged cache is never trusted: it is rebuilt too.

Rebuilding is incremental: beside the build's model, the model of every object is kept on its
own (``<cache>.objects/<digest>.model``), keyed by the SHA-256 of its notes file's bytes and
covguard's version.  A rebuild that changes one object compiles that object's model only and
merges it with the others' (:func:`~covguard.ingest.gcov_model.merge_models`: exactly the model
of one compilation); entries of objects no longer in the build are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from covguard import __version__
from covguard.errors import CoverageDataError, OutputError
from covguard.files import atomic_write
from covguard.ingest.gcno import FunctionColumns, FunctionNotes, NotesFile, parse_notes, read_notes
from covguard.ingest.gcov_model import (
    ComplexLine,
    CoverageModel,
    ObjectInfo,
    SparseMap,
    build_model,
    light_notes,
    merge_models,
)

T = TypeVar("T")

PARALLEL_BYTES = 4 << 20  # below this much notes data, one process is faster than starting more

_ARRAYS = (
    "line_file",
    "line_no",
    "line_function",
    "func_file",
    "func_start",
    "func_end",
    "branch_line",
    "branch_index",
    "cycle_row_cycle",
    "cycle_line",
    "cycle_len",
)
_MAPS = ("line_map", "branch_map", "func_map", "cycle_map")


def signature(notes_paths: Sequence[str]) -> str:
    """Digest of the notes files as they are on disk now (path, size, mtime, stamp)."""
    h = hashlib.sha256(__version__.encode())
    for p in notes_paths:
        with open(p, "rb") as handle:
            st = os.fstat(handle.fileno())
            head = handle.read(12)
        stamp = struct.unpack_from("<I", head, 8)[0] if len(head) == 12 else 0
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0{stamp}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _parts(model: CoverageModel, sig: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The model as JSON-able metadata and named arrays (the two halves of the cache format); the
    objects' functions as columns over all objects (arrays and one list of names), not a JSON
    list per function."""
    arrays: dict[str, np.ndarray] = {name: getattr(model, name) for name in _ARRAYS}
    for name in _MAPS:
        m: SparseMap = getattr(model, name)
        arrays[f"{name}.indptr"] = m.indptr
        arrays[f"{name}.target"] = m.target
        arrays[f"{name}.coef"] = m.coef
    columns = [o.notes.function_columns() for o in model.objects]
    for name, field in (
        ("fn_ident", 0),
        ("fn_lineno_checksum", 1),
        ("fn_cfg_checksum", 2),
        ("fn_artificial", 4),
    ):
        values = [v for c in columns for v in c[field]]
        arrays[name] = np.asarray(values, dtype=np.int64)
    meta: dict[str, Any] = {
        "signature": sig,
        "files": model.files,
        "func_name": model.func_name,
        "notes": [[fid, text] for fid, text in model.notes],
        "complex": [
            [c.line, c.blocks, c.succ, c.dst, c.arc_counter, c.arc_coef] for c in model.complex_lines
        ],
        "fn_names": [name for c in columns for name in c.names],
        "objects": [
            {
                "path": str(o.notes.path),
                "version": o.notes.version,
                "stamp": o.notes.stamp,
                "checksum": o.notes.checksum,
                "cwd": o.notes.cwd,
                "counter_base": o.counter_base,
                "n_counters": o.n_counters,
                "counts": o.fn_counter_counts,
                "n_functions": len(c.idents),
            }
            for o, c in zip(model.objects, columns, strict=True)
        ],
    }
    return meta, arrays


_BLOB_HEAD = struct.Struct("<8sQ")
_BLOB_MAGIC = b"cgmodel2"
_DTYPES = {"int32", "int64"}
_ALIGN = 8  # every array starts at a multiple of 8 bytes: read in place, no copy


def _padded(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _blob(model: CoverageModel, sig: str) -> list[bytes]:
    """The cache file's bytes, in pieces: a header (magic, size of the JSON), the JSON metadata
    (padded with spaces), then the raw arrays (each padded with zeros), all 8-byte aligned."""
    meta, arrays = _parts(model, sig)
    meta["arrays"] = [[name, str(a.dtype), len(a)] for name, a in arrays.items()]
    head = json.dumps(meta).encode()
    head += b" " * (_padded(_BLOB_HEAD.size + len(head)) - _BLOB_HEAD.size - len(head))
    pieces = [_BLOB_HEAD.pack(_BLOB_MAGIC, len(head)), head]
    for a in arrays.values():
        raw = np.ascontiguousarray(a).tobytes()
        pieces += [raw, b"\0" * (_padded(len(raw)) - len(raw))]
    return pieces


def save(model: CoverageModel, path: Path, sig: str) -> None:
    """The build's model, written atomically (the file every later run reads)."""
    pieces = _blob(model, sig)

    def writer(handle: Any) -> None:
        handle.writelines(pieces)

    atomic_write(path, writer)


def save_blob(model: CoverageModel, path: Path, sig: str) -> None:
    """One object's model in one flat file (the format of :func:`save`), renamed into place but
    not synced to disk: a cache of hundreds of small files; a file torn by a crash fails the size
    checks of :func:`load` and is compiled again."""
    pieces = _blob(model, sig)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.writelines(pieces)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the model cache: {exc.strerror}", path=path) from exc


def load(path: Path, sig: str) -> CoverageModel | None:
    """The model :func:`save` or :func:`save_blob` wrote, or None when it is missing, stale or
    damaged.  The file is read once into a buffer the arrays are views of (no copy)."""
    try:
        with open(path, "rb") as handle:
            data = bytearray(os.fstat(handle.fileno()).st_size)
            if handle.readinto(data) != len(data) or handle.read(1):
                return None
        magic, n_head = _BLOB_HEAD.unpack_from(data, 0)
        if magic != _BLOB_MAGIC or _BLOB_HEAD.size + n_head > len(data):
            return None
        meta = json.loads(data[_BLOB_HEAD.size : _BLOB_HEAD.size + n_head])
        if not isinstance(meta, dict) or meta.get("signature") != sig:
            return None
        pos = _padded(_BLOB_HEAD.size + n_head)
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, n in meta["arrays"]:
            if dtype not in _DTYPES or not isinstance(n, int) or n < 0:
                return None
            size = np.dtype(dtype).itemsize * n
            if pos + size > len(data):
                return None
            arrays[str(name)] = np.frombuffer(data, dtype=dtype, count=n, offset=pos)
            pos += _padded(size)
        if pos != len(data):
            return None
    except (OSError, KeyError, TypeError, ValueError, struct.error):
        return None
    return _model(meta, arrays)


_FUNCTIONS = NotesFile.__dict__["functions"]  # the slot that holds a NotesFile's functions


class CachedNotes(NotesFile):
    """A notes file of a cached model.  Reading a run needs only its functions' columns
    (:meth:`function_columns`: identities and checksums, kept as the cache holds them); the
    :class:`FunctionNotes` themselves are made when something reads :attr:`functions` (the careful
    reader of a data file the fast one does not take), which saves making one object per function
    of the build on every run."""

    __slots__ = ("_columns",)

    def __init__(
        self, path: Path, version: str, stamp: int, checksum: int, cwd: str, columns: FunctionColumns
    ):
        self.path = path
        self.version = version
        self.stamp = stamp
        self.checksum = checksum
        self.cwd = cwd
        self._columns: FunctionColumns | None = columns

    @property
    def functions(self) -> list[FunctionNotes]:
        try:
            made: list[FunctionNotes] = _FUNCTIONS.__get__(self, NotesFile)
        except AttributeError:
            c = self._columns
            assert c is not None  # only the setter clears it, after setting the slot
            made = [
                FunctionNotes(i, lc, cc, name, art, "", 0, 0, 0, 0)
                for i, lc, cc, name, art in zip(
                    c.idents, c.lineno_checksums, c.cfg_checksums, c.names, c.artificial, strict=True
                )
            ]
            _FUNCTIONS.__set__(self, made)
        return made

    @functions.setter
    def functions(self, value: list[FunctionNotes]) -> None:
        _FUNCTIONS.__set__(self, value)
        self._columns = None

    def function_columns(self) -> FunctionColumns:
        return self._columns if self._columns is not None else NotesFile.function_columns(self)


def _model(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> CoverageModel | None:
    try:
        names = [str(n) for n in meta["fn_names"]]
        idents, lineno, cfg = (
            arrays[k].tolist() for k in ("fn_ident", "fn_lineno_checksum", "fn_cfg_checksum")
        )
        artificial = [bool(a) for a in arrays["fn_artificial"].tolist()]
        if not len(names) == len(idents) == len(lineno) == len(cfg) == len(artificial):
            return None
        objects = []
        start = 0
        for o in meta["objects"]:
            end = start + int(o["n_functions"])
            if end > len(names):
                return None
            part = slice(start, end)
            notes = CachedNotes(
                Path(o["path"]),
                o["version"],
                o["stamp"],
                o["checksum"],
                o["cwd"],
                FunctionColumns(idents[part], lineno[part], cfg[part], names[part], artificial[part]),
            )
            start = end
            objects.append(
                ObjectInfo(
                    notes=notes,
                    counter_base=o["counter_base"],
                    n_counters=o["n_counters"],
                    fn_counter_counts=o["counts"],
                )
            )
        if start != len(names):
            return None

        def sparse(name: str) -> SparseMap:
            return SparseMap(arrays[f"{name}.indptr"], arrays[f"{name}.target"], arrays[f"{name}.coef"])

        return CoverageModel(
            objects=objects,
            files=list(meta["files"]),
            func_name=list(meta["func_name"]),
            complex_lines=[
                ComplexLine(line=c[0], blocks=c[1], succ=c[2], dst=c[3], arc_counter=c[4], arc_coef=c[5])
                for c in meta["complex"]
            ],
            object_index={str(o.notes.path): i for i, o in enumerate(objects)},
            notes=[(int(fid), str(text)) for fid, text in meta["notes"]],
            line_file=arrays["line_file"],
            line_no=arrays["line_no"],
            line_function=arrays["line_function"],
            func_file=arrays["func_file"],
            func_start=arrays["func_start"],
            func_end=arrays["func_end"],
            branch_line=arrays["branch_line"],
            branch_index=arrays["branch_index"],
            cycle_row_cycle=arrays["cycle_row_cycle"],
            cycle_line=arrays["cycle_line"],
            cycle_len=arrays["cycle_len"],
            line_map=sparse("line_map"),
            branch_map=sparse("branch_map"),
            func_map=sparse("func_map"),
            cycle_map=sparse("cycle_map"),
        )
    except (KeyError, TypeError, IndexError, ValueError):
        return None


def _light(model: CoverageModel) -> CoverageModel:
    for o in model.objects:
        o.notes = light_notes(o.notes)  # the graphs are compiled in: keep what reading data needs
    return model


def _compile_chunk(paths: list[str], jobs: int = 1) -> CoverageModel:
    return _light(build_model([read_notes(Path(p)) for p in paths], jobs))


def _compile_each(items: list[tuple[str, bytes]], jobs: int = 1) -> list[CoverageModel]:
    """One model per notes file (for the per-object cache), from the bytes its key was made of;
    with ``jobs`` > 1 a large object is compiled in two processes (gcov_model.build_model)."""
    return [_light(build_model([parse_notes(data, Path(p))], jobs)) for p, data in items]


def _chunks(items: list[T], sizes: list[int], n_chunks: int) -> list[list[T]]:
    """Contiguous chunks of about the same number of notes bytes."""
    per_chunk = sum(sizes) / n_chunks
    chunks: list[list[T]] = [[]]
    acc = 0.0
    for item, size in zip(items, sizes, strict=True):
        if acc >= per_chunk and len(chunks) < n_chunks:
            chunks.append([])
            acc = 0.0
        chunks[-1].append(item)
        acc += size
    return chunks


def _parallel(paths: list[str], jobs: int) -> bool:
    """Whether to compile the objects in a pool of processes: not when one object is half of the
    notes (an amalgamation like SQLite's), which build_model compiles in two processes itself."""
    sizes = [os.path.getsize(p) for p in paths]
    total = sum(sizes)
    return jobs > 1 and len(paths) >= 2 * jobs and total >= PARALLEL_BYTES and 2 * max(sizes) < total


def compile_model(notes_paths: Sequence[str], jobs: int = 1) -> CoverageModel:
    """Compile the notes files, in ``jobs`` processes for a large build.

    Contiguous chunks of objects are compiled apart and merged (:func:`merge_models`), which gives
    exactly the model of one compilation (same ids, same maps) in a fraction of the time.
    """
    paths = list(notes_paths)
    if not _parallel(paths, jobs):
        return _compile_chunk(paths, jobs)
    chunks = _chunks(paths, [os.path.getsize(p) for p in paths], 2 * jobs)
    from concurrent.futures import ProcessPoolExecutor  # only a build with jobs > 1 needs a pool

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(_compile_chunk, chunks))
    return merge_models(parts)


def object_key(data: bytes) -> str:
    """The per-object cache key: the notes file's content (and covguard's version)."""
    h = hashlib.sha256(__version__.encode() + b"\0")
    h.update(data)
    return h.hexdigest()


def objects_dir(cache: Path) -> Path:
    """Where the per-object models of the build cache ``cache`` are kept."""
    return cache.with_name(cache.stem + ".objects")


def incremental_model(
    notes_paths: Sequence[str], folder: Path, jobs: int = 1
) -> tuple[CoverageModel, list[str]]:
    """The model of these notes files from the per-object cache in ``folder``, compiling (and
    caching) the objects whose notes content is not there.  Returns the model and the notes files
    that were compiled."""
    paths = list(notes_paths)
    keys: list[str] = []
    parts: list[CoverageModel | None] = []
    pending: dict[int, bytes] = {}  # objects to compile: their bytes, as hashed
    for i, p in enumerate(paths):
        try:
            data = Path(p).read_bytes()
        except OSError as exc:
            raise CoverageDataError(f"cannot read notes file: {exc.strerror}", path=Path(p)) from exc
        key = object_key(data)
        keys.append(key)
        got = load(folder / f"{key}.model", key)
        if got is not None and len(got.objects) == 1:
            got.objects[0].notes.path = Path(p)  # the same content may sit at another path
            got.object_index = {p: 0}
            parts.append(got)
        else:
            parts.append(None)
            pending[i] = data
    missing = list(pending)
    todo = [paths[i] for i in missing]
    if todo:
        items = [(paths[i], pending[i]) for i in missing]
        if _parallel(todo, jobs):
            chunks = _chunks(items, [len(data) for _p, data in items], 2 * jobs)
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs) as pool:
                compiled = [m for chunk in pool.map(_compile_each, chunks) for m in chunk]
        else:
            compiled = _compile_each(items, jobs)
        folder.mkdir(parents=True, exist_ok=True)
        for i, m in zip(missing, compiled, strict=True):
            parts[i] = m
            save_blob(m, folder / f"{keys[i]}.model", keys[i])
    wanted = {f"{k}.model" for k in keys}
    if folder.is_dir():
        for old in folder.iterdir():  # objects no longer in the build
            if old.name not in wanted and old.suffix == ".model":
                old.unlink(missing_ok=True)
    models = [m for m in parts if m is not None]
    if not models:
        return compile_model([], 1), todo
    return merge_models(models), todo


def model_for(notes_paths: Sequence[str], cache: Path | None, jobs: int = 1) -> CoverageModel:
    """The coverage model of these notes files: from the cache when it is current, else compiled
    (only the objects whose notes changed, see :func:`incremental_model`) and then cached."""
    if cache is None:
        return compile_model(notes_paths, jobs)
    sig = signature(notes_paths)
    cached = load(cache, sig)
    if cached is not None:
        return cached
    model, _compiled = incremental_model(notes_paths, objects_dir(cache), jobs)
    save(model, cache, sig)
    return model
