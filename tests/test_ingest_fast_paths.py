"""The ingestion's fast paths against the plain code they stand for, on generated inputs:
gathering the nonzero counters of every unit, category columns from ids, shown paths, unit
folders' normal forms, and the coverage stream reader on whole, cut and damaged streams."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from covguard.files import display_path, display_paths
from covguard.ingest.cgcov import StreamError, pack_run_file, pack_stream, read_run_file, read_stream
from covguard.ingest.collect import _categorical, _Names, normal_paths
from covguard.ingest.gcov_model import CoverageModel, gather


class _Object:
    def __init__(self, counter_base: int) -> None:
        self.counter_base = counter_base


def _gather_reference(bases: list[int], units: list[dict[int, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """The per-vector loop gather replaced: nonzero positions of each (unit, object) vector."""
    us, cs, vs = [np.zeros(0, dtype=np.int32)], [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for u, objs in enumerate(units):
        for oi, vec in objs.items():
            nz = np.flatnonzero(vec)
            us.append(np.full(len(nz), u, dtype=np.int32))
            cs.append(nz + bases[oi])
            vs.append(vec[nz])
    return np.concatenate(us), np.concatenate(cs).astype(np.int64), np.concatenate(vs).astype(np.int64)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_gather_equals_the_per_vector_loop(data: st.DataObject) -> None:
    sizes = data.draw(st.lists(st.integers(0, 12), min_size=1, max_size=6))
    bases = list(np.cumsum([0, *sizes[:-1]]).tolist())
    model = CoverageModel.__new__(CoverageModel)
    model.objects = [_Object(b) for b in bases]  # type: ignore[misc]
    units: list[dict[int, np.ndarray]] = []
    for _u in range(data.draw(st.integers(0, 5))):
        objs = data.draw(st.lists(st.integers(0, len(sizes) - 1), unique=True, max_size=len(sizes)))
        dtype = data.draw(st.sampled_from([np.int64, np.uint64]))
        units.append(
            {
                oi: np.asarray(
                    data.draw(st.lists(st.integers(0, 3), min_size=sizes[oi], max_size=sizes[oi])), dtype
                )
                for oi in objs
            }
        )
    got = gather(model, units)
    want = _gather_reference(bases, units)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert np.array_equal(g, w)


_NAME = st.sampled_from(["", "main", "a", "b", "f::g", "zz", "\u00e9t\u00e9", "A"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_NAME, min_size=1, max_size=12), st.data())
def test_category_columns_equal_pandas(names: list[str], data: st.DataObject) -> None:
    for values in (np.asarray(names, dtype=object), pd.Series(names, dtype="string").to_numpy()):
        ids = np.asarray(data.draw(st.lists(st.integers(-1, len(names) - 1), max_size=30)), dtype=np.int64)
        got = _categorical(_Names.of(values), ids)
        want = pd.Categorical(values[ids])
        assert got.categories.equals(want.categories)
        assert got.categories.dtype == want.categories.dtype
        assert got.codes.dtype == want.codes.dtype
        assert np.array_equal(got.codes, want.codes)


_PART = st.sampled_from(["a", "b", "src", "..", ".", "", "x.c", "proj", "projx"])


def _path(parts: list[str], absolute: bool, slashes: list[str]) -> str:
    text = "".join(p + s for p, s in zip(parts, slashes, strict=False))
    return ("/" if absolute else "") + text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(_PART, max_size=6), st.booleans(), st.lists(st.sampled_from(["/", "//"]), max_size=6)
        )
    ),
    st.sampled_from(["/work/proj", "/work/proj/", "/", "proj", "/work/./proj/../proj"]),
)
def test_shown_paths_equal_display_path(raw: list[tuple[list[str], bool, list[str]]], root: str) -> None:
    paths = [_path(p, a, s) for p, a, s in raw] + ["/work/proj/src/a.c", "//work/proj/a.c", "/work/projx/a.c"]
    assert display_paths(paths, Path(root)) == [display_path(p, Path(root)) for p in paths]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(_PART, max_size=6), st.booleans(), st.lists(st.sampled_from(["/", "//"]), max_size=6)
        )
    )
)
def test_unit_folders_normal_as_pathlib(raw: list[tuple[list[str], bool, list[str]]]) -> None:
    texts = [_path(p, a, s) for p, a, s in raw] + ["", ".", "/", "//", "//3", "a/./3", "a/3/"]
    assert normal_paths(texts) == [str(Path(t)) for t in texts]


_GCDA = st.sampled_from(["/b/a.gcda", "/b/sub/c.gcda", "/x/y z.gcda"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_GCDA, st.binary(max_size=40)), max_size=3, unique_by=lambda f: f[0]),
    st.integers(0, 200),
    st.binary(min_size=1, max_size=3),
)
def test_streams_read_back_and_damage_is_refused(
    files: list[tuple[str, bytes]], at: int, junk: bytes
) -> None:
    stream = pack_stream(files)
    assert read_stream(stream) == files
    assert read_run_file(pack_run_file([(3, files), (9, files[:1])])) == [(3, files), (9, files[:1])]
    for cut in range(len(stream)):  # every cut stream is refused, never read short
        with pytest.raises(StreamError):
            read_stream(stream[:cut])
    pos = at % len(stream)
    damaged = stream[:pos] + junk + stream[pos + len(junk) :]
    try:  # damage is refused (StreamError, nothing else) or read as absolute .gcda paths
        got = read_stream(damaged)
    except StreamError:
        return
    assert all(p.startswith("/") and p.endswith(".gcda") and isinstance(d, bytes) for p, d in got)


def test_a_unit_folder_listed_once_still_finds_a_single_stream(tmp_path: Path) -> None:
    """A unit with its own ``.cgcov`` beside folders that hold none (the listing of the folder
    replaces a stat per unit)."""
    from covguard.ingest.cgcov import unit_streams

    (tmp_path / "7.cgcov").write_bytes(pack_stream([("/b/a.gcda", b"x")]))
    (tmp_path / "8.cgcov").mkdir()  # not a regular file: not a stream
    listed = {e.name for e in os.scandir(tmp_path) if e.is_file()}
    for unit in ("7", "8", "9"):
        assert unit_streams(tmp_path / unit, {}, listed) == unit_streams(tmp_path / unit)
    assert unit_streams(tmp_path / "7", {}, listed) == [(str(tmp_path / "7.cgcov"), [("/b/a.gcda", b"x")])]
