"""Integer keys for the analysis's joins: text columns as shared codes, key tuples as one integer.

Merging, grouping and ``isin`` on columns of Python strings hash every string of every row; on
integer codes the same operations are several times faster.  The codes keep the meaning of the
text they stand for: two values get the same code exactly when their text (``astype(str)``) is the
same, and a missing value is ``-1`` in every column, so that missing matches missing, as it does
in a pandas merge on text (a ``groupby`` drops missing keys: callers drop ``-1`` there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from covguard.frames import grouped_lists

# the widest packed key: below 2**62, so that a product of spans never wraps
_LIMIT = 1 << 62


def _codes_and_names(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), column.cat.categories
    codes, names = pd.factorize(column)
    return codes, pd.Index(names)


def text_codes(*columns: pd.Series) -> list[np.ndarray]:
    """Codes (int64) of text columns over one vocabulary: equal text, equal code, in any of the
    columns; ``-1`` for a missing value.  A categorical column is coded through its categories
    (one lookup per category, not per row)."""
    coded = _one_pass_codes(columns)
    if coded is not None:
        return coded
    parts = [_codes_and_names(c) for c in columns]
    names = [n.astype(str) for _c, n in parts]
    vocabulary = pd.Index(np.concatenate([np.asarray(n, dtype=object) for n in names])).unique()
    out: list[np.ndarray] = []
    for (codes, _n), shown in zip(parts, names, strict=True):
        where = np.append(vocabulary.get_indexer(shown), -1).astype(np.int64)
        out.append(where[np.asarray(codes, dtype=np.int64)])  # code -1: the appended -1
    return out


def _one_pass_codes(columns: Sequence[pd.Series]) -> list[np.ndarray] | None:
    """:func:`text_codes` when every value is a ``str`` (the analysis' frames): the values of the
    plain columns and the categories of the categorical ones factorised together, once.  The
    codes are the very ones the general path gives (both number the text in the order it first
    appears, a categorical column's categories in their order), with each string hashed once
    instead of three times (per column, for the vocabulary, to look it up).  ``None`` when some
    value is not a ``str`` (its code is then that of its text, ``astype(str)``: the general path)."""
    values: list[np.ndarray] = []
    for c in columns:
        texts = c.cat.categories if isinstance(c.dtype, pd.CategoricalDtype) else c
        if (
            len(texts)
            and not isinstance(texts.dtype, pd.StringDtype)
            and pd.api.types.infer_dtype(texts, skipna=True) not in ("string", "empty")
        ):
            return None
        values.append(np.asarray(texts, dtype=object))
    codes = pd.factorize(np.concatenate(values) if values else np.array([], dtype=object))[0].astype(np.int64)
    out: list[np.ndarray] = []
    start = 0
    for c, v in zip(columns, values, strict=True):
        mine = codes[start : start + len(v)]
        start += len(v)
        if isinstance(c.dtype, pd.CategoricalDtype):  # the row's category's code; -1 (missing) stays
            mine = np.append(mine, -1)[np.asarray(c.cat.codes, dtype=np.int64)]
        out.append(mine)
    return out


def joint_keys(*frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """One int64 per row for the tuple of integer key columns of each frame (``frames[i]`` holds
    frame i's key columns, the same number and order for every frame): two rows, of the same
    frame or of two, get the same key exactly when their tuples are equal."""
    keys = [np.zeros(len(f[0]) if len(f) else 0, dtype=np.int64) for f in frames]
    span = 1
    for i in range(len(frames[0])):
        cols = [np.asarray(f[i], dtype=np.int64) for f in frames]
        filled = [c for c in cols if len(c)]
        lo = min((int(c.min()) for c in filled), default=0)
        hi = max((int(c.max()) for c in filled), default=0)
        width = hi - lo + 1
        if width >= _LIMIT:  # values too far apart to offset: their dense codes instead
            cols = _dense(cols)
            lo, width = 0, max((int(c.max()) + 1 for c in cols if len(c)), default=1)
        if span * width >= _LIMIT:  # the tuple so far as dense codes, then this column
            keys = _dense(keys)
            span = max((int(k.max()) + 1 for k in keys if len(k)), default=1)
        keys = [k * width + (c - lo) for k, c in zip(keys, cols, strict=True)]
        span *= width
    return keys


def _dense(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The values of several arrays as dense codes 0..n-1 over all of them (order kept)."""
    codes, _uniques = pd.factorize(np.concatenate(arrays), sort=True)
    return list(np.split(codes.astype(np.int64), np.cumsum([len(a) for a in arrays])[:-1]))


def _key_columns(
    left: pd.DataFrame, right: pd.DataFrame, on: Sequence[str]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The integer columns standing for ``on`` in both frames: integers as they are, text (and
    anything else) as shared codes of :func:`text_codes`."""
    lcols: list[np.ndarray] = []
    rcols: list[np.ndarray] = []
    for c in on:
        lc, rc = left[c], right[c]
        if _plain_int(lc) and _plain_int(rc):
            lcols.append(lc.to_numpy(dtype=np.int64))
            rcols.append(rc.to_numpy(dtype=np.int64))
        else:
            a, b = text_codes(lc, rc)
            lcols.append(a)
            rcols.append(b)
    return lcols, rcols


def _plain_int(column: pd.Series) -> bool:
    return isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu"


def isin_rows(left: pd.DataFrame, right: pd.DataFrame, on: Sequence[str]) -> np.ndarray:
    """Whether the ``on`` values of each row of ``left`` are those of some row of ``right``: what
    ``left.set_index(on).index.isin(right.set_index(on).index)`` says, without building the two
    MultiIndexes (which sort every level's text)."""
    if not len(left) or not len(right):
        return np.zeros(len(left), dtype=bool)
    lk, rk = joint_keys(*_key_columns(left, right, on))
    return np.asarray(pd.Series(lk).isin(rk).to_numpy(), dtype=bool)


def matching_rows(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``left.merge(right, on=on)`` where ``right`` holds only the ``on`` columns, each key once
    (the function requirements): the rows of ``left`` whose key ``right`` holds, in ``left``'s
    order, numbered anew; found on integer keys rather than by a merge's hashing of every text of
    both frames.  Any other pair of frames: the merge itself."""
    plain = list(right.columns) == list(on) and all(left[c].dtype == right[c].dtype for c in on)
    if plain and len(left) and len(right):
        lk, rk = joint_keys(*_key_columns(left, right, on))
        if pd.Index(rk).is_unique:
            return left[pd.Series(lk).isin(rk).to_numpy()].reset_index(drop=True)
    return left.merge(right, on=on)


def sorted_lists(
    left: pd.DataFrame, right: pd.DataFrame, on: Sequence[str], value: str
) -> list[list[Any]] | None:
    """For each row of ``left``, the distinct ``value`` texts of the rows of ``right`` with its
    ``on`` values, sorted (a new empty list for none): what grouping ``right`` with
    :func:`covguard.frames.grouped_lists` and looking each row of ``left`` up gives, without a
    tuple of texts per row to hash twice (each function's requirements, origins, tests).  ``None``
    when ``left`` holds a key twice, a key or a value is missing, or a value is not text: the
    caller then groups and looks up."""
    if not len(right):
        return [[] for _row in range(len(left))]
    if any(left[c].isna().any() or right[c].isna().any() for c in on):
        return None
    column = right[value]
    text = isinstance(column.dtype, pd.StringDtype) or pd.api.types.infer_dtype(column) in ("string", "empty")
    if not text or column.isna().any():
        return None
    lk, rk = joint_keys(*_key_columns(left, right, on))
    rows = pd.Index(lk)
    if not rows.is_unique:
        return None
    at = rows.get_indexer(rk)
    hit = at >= 0
    codes, names = pd.factorize(column[hit], sort=True)  # sorted codes order as the texts sort
    width = max(len(names), 1)
    pairs = np.unique(at[hit].astype(np.int64) * width + codes)  # (row, value) distinct, in order
    values = np.asarray(names, dtype=object)[pairs % width].tolist()
    ends = np.cumsum(np.bincount(pairs // width, minlength=len(left))).tolist()
    return [values[a:b] for a, b in zip([0, *ends][: len(ends)], ends, strict=True)]


def lists_per_function(fn: pd.DataFrame, rows: pd.DataFrame, value: str) -> list[list[Any]]:
    """Each function's (row of ``fn``) distinct ``value`` texts among ``rows`` (by file and
    function), sorted, a new empty list for none: :func:`sorted_lists`, or, where it does not
    apply, :func:`covguard.frames.grouped_lists` looked up per function."""
    fkey = ["file", "function"]
    lists = sorted_lists(fn, rows, fkey, value)
    if lists is not None:
        return lists
    grouped = grouped_lists(rows, fkey, value, sort_keys=False)
    if not grouped:
        return [[] for _ in range(len(fn))]
    return [grouped.get(k, []) for k in zip(fn["file"].tolist(), fn["function"].tolist(), strict=True)]
