"""Arrays of JSON records held column by column, written as text without a dict or an encoder
call per record.

A :class:`Table` is one array of a document (``findings.json``'s ``functions``, ``findings`` ...):
per key, the plain value of every row (or a nested table: an object in every row), and which rows
leave the key out.  From it come both the list of dicts the other outputs read
(:meth:`Table.dicts`) and each record's JSON text (:meth:`Table.texts`), the same text
``json.JSONEncoder(ensure_ascii=False).encode`` gives for that record's dict: every distinct value
of a column is encoded once, a row's text is one ``%`` formatting of its column texts.
"""

from __future__ import annotations

import itertools
import json
import json.encoder
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# json.dumps(v, ensure_ascii=False), one encoder for every value (dumps builds one per call)
ENCODE: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False).encode

_STR: Callable[[str], str] = json.encoder.encode_basestring  # the C function when there is one


def _c_encoder() -> Callable[[Any], str]:
    """``ENCODE`` without its Python wrappers: the C encoder called directly (one value about
    four times as fast); ``ENCODE`` itself where Python has no C encoder."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has it
        return ENCODE
    encoder = json.JSONEncoder(ensure_ascii=False)
    # no circular check (plain values from frames hold no cycles), separators as encode's
    call = make(None, encoder.default, _STR, None, ": ", ", ", False, False, True)

    def encode(value: Any) -> str:
        if type(value) is str:
            return _STR(value)
        return "".join(call(value, 0))

    return encode


encode_value = _c_encoder()
"""``ENCODE`` of one value, faster (the C encoder called directly)."""

_NONE = type(None)
_BOOLS = {True: "true", False: "false", None: "null"}


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # allow_nan's names
_NUMBER_NAMES = {**_NON_FINITE, "None": "null"}  # the JSON of a number's (or None's) repr


def encode_column(values: Sequence[Any]) -> list[str]:
    """The JSON text of each value, as :data:`ENCODE` writes it; a column of one plain kind is
    encoded once per distinct value (or by the type's own ``repr``), anything else value by value."""
    texts = _encoded(values)
    return [texts] * len(values) if isinstance(texts, str) else texts


def _encoded(values: Sequence[Any]) -> list[str] | str:
    """:func:`encode_column` of ``values``, or the one text of them all when the column holds one
    value (of one type) in every row: a :class:`Table` writes that text into its records' format.

    A column of few distinct values (a class, a file, a small count) is looked up per row in a dict
    of their texts; the lookups go through ``map`` (no Python frame per row)."""
    kinds = set(map(type, values))
    if kinds <= {str, _NONE}:
        distinct = set(values)
        if kinds == {str} and len(distinct) * 2 > len(values):  # mostly distinct (messages)
            return list(map(_STR, values))
        texts = {v: ("null" if v is None else _STR(v)) for v in distinct}
        if len(texts) == 1:
            return next(iter(texts.values()))
        return list(map(texts.__getitem__, values))
    if kinds == {int}:
        distinct = set(values)
        if len(distinct) * 4 > len(values):
            return list(map(int.__repr__, values))
        texts = {v: int.__repr__(v) for v in distinct}  # ints only: no True or 1.0 among the keys
        if len(texts) == 1:
            return next(iter(texts.values()))
        return list(map(texts.__getitem__, values))
    if kinds <= {bool, _NONE}:
        distinct = set(values)  # bools and None only: no 1 or 0.0 among them
        if len(distinct) == 1:
            return _BOOLS[next(iter(distinct))]
        return list(map(_BOOLS.__getitem__, values))
    if kinds <= {int, _NONE}:
        return ["null" if v is None else int.__repr__(v) for v in values]
    if kinds == {float}:
        return [_NON_FINITE.get(t, t) for t in map(float.__repr__, values)]
    if kinds <= {int, float, _NONE}:  # each its own type's repr (1 and 1.0 stay apart)
        return [_NUMBER_NAMES.get(t, t) for t in map(repr, values)]
    if kinds == {list}:
        lists = _string_lists(values)
        if lists is not None:
            return lists
    return [encode_value(v) for v in values]


def _string_lists(values: Sequence[list[Any]]) -> list[str] | str | None:
    """The texts of lists of strings (requirement ids, test names): once per distinct list, its
    items joined as the encoder joins them; ``None`` when an item is not a string.

    The items' types are read from the distinct lists only: a list equal to another holds equal
    items, and only a string (or a string subclass, written alike) equals a string."""
    keys = list(map(tuple, values))
    try:
        distinct = set(keys)
    except TypeError:  # an unhashable item (a dict, a list): not a list of strings
        return None
    if not set(map(type, itertools.chain.from_iterable(distinct))) <= {str}:
        return None
    lists = {k: "[" + ", ".join(map(_STR, k)) + "]" for k in distinct}
    if len(lists) == 1:
        return next(iter(lists.values()))
    return list(map(lists.__getitem__, keys))


def _int_texts(values: np.ndarray) -> list[str] | str:
    """:func:`_encoded` of an integer array's values: each distinct value's text once (pandas'
    factorize, a hash table in C: no Python int per row until the texts are taken)."""
    import pandas as pd

    codes, uniques = pd.factorize(values)
    texts = list(map(int.__repr__, uniques.tolist()))
    if len(texts) == 1:
        return texts[0]
    return np.array(texts, dtype=object)[codes].tolist()  # type: ignore[no-any-return]


def _values(column: list[Any] | np.ndarray | Table) -> list[Any]:
    """A column's plain values (a nested table's rows as dicts)."""
    if isinstance(column, Table):
        return column.dicts()
    if isinstance(column, np.ndarray):
        return column.tolist()  # type: ignore[no-any-return]
    return column


@dataclass
class Table:
    """One array of JSON records, column by column (in the records' key order)."""

    rows: int
    # a column is a list of values, an integer array, or a nested table
    columns: list[tuple[str, list[Any] | np.ndarray | Table]] = field(default_factory=list)
    # key -> whether each row has that key (keys every row has are not listed)
    present: dict[str, list[bool]] = field(default_factory=dict)

    def add(
        self, key: str, values: list[Any] | np.ndarray | Table, present: list[bool] | None = None
    ) -> None:
        """Add column ``key`` (an array column holds integers: its texts are made from the array)."""
        if isinstance(values, np.ndarray) and values.dtype.kind not in "iu":
            raise ValueError(f"column {key!r}: an array column holds integers, not {values.dtype}")
        size = values.rows if isinstance(values, Table) else len(values)
        if size != self.rows or (present is not None and len(present) != self.rows):
            raise ValueError(f"column {key!r}: {size} rows, the table has {self.rows}")
        self.columns.append((key, values))
        if present is not None and not all(present):
            self.present[key] = present

    def dicts(self) -> list[dict[str, Any]]:
        """The records as dicts (a nested table's rows as dicts in each)."""
        keys = [key for key, _v in self.columns]
        columns = [_values(v) for _k, v in self.columns]
        # one dict per row made in C: dict of the zip of the keys with each row
        rows = zip(*columns, strict=True)
        out: list[dict[str, Any]] = list(map(dict, map(zip, itertools.repeat(keys), rows)))
        if not self.columns:
            out = [{} for _ in range(self.rows)]
        for key, present in self.present.items():
            for record, has in zip(out, present, strict=True):
                if not has:
                    del record[key]
        return out

    def head(self, n: int) -> Table:
        """The first ``n`` records, as a table of their own."""
        rows = min(n, self.rows)
        out = Table(rows)
        for key, values in self.columns:
            out.columns.append((key, values.head(rows) if isinstance(values, Table) else values[:rows]))
        out.present = {key: present[:rows] for key, present in self.present.items()}
        return out

    def column(self, key: str) -> list[Any]:
        """Column ``key``'s values (a key some rows leave out: their value is there all the same)."""
        for name, values in self.columns:
            if name == key:
                return _values(values)
        raise KeyError(key)

    def _whole_first_key(self) -> bool:
        """Whether every row has the first key (then a row's text is one ``%`` of the format)."""
        return bool(self.columns) and self.columns[0][0] not in self.present

    def _format(self) -> tuple[str, list[list[str]]]:
        """The ``%`` format of a record and the text columns of its ``%s`` slots, in order.

        Each slot is ``, "key": %s`` (a key every row has) or ``%s`` (a key some rows leave out:
        the column holds the whole piece, or nothing).  A column of one value in every row is
        written into the format (``, "key": null``), and a key no row has is left out of it: no
        slot for either.  A nested table every row has, whose rows all have its first key, is
        written into the format itself (its slots and columns in place): one ``%`` per row for
        both, not one per row of each.  The format is ``{...}`` when every row has the first key;
        else it is the pieces alone (:meth:`texts` cuts the leading ``", "`` of each row's text).
        """
        slots: list[str] = []
        columns: list[list[str]] = []
        for key, values in self.columns:
            name = _STR(key).replace("%", "%%")
            present = self.present.get(key)
            if isinstance(values, Table) and present is None and values._whole_first_key():
                inner, inner_columns = values._format()
                slots.append(f", {name}: {inner}")
                columns.extend(inner_columns)
                continue
            if present is not None and not any(present):
                continue  # no row has the key
            if isinstance(values, Table):
                text: list[str] | str = values.texts()
            elif isinstance(values, np.ndarray):
                text = _int_texts(values)
            else:
                text = _encoded(values)
            if present is None and isinstance(text, str):  # one value in every row
                slots.append(f", {name}: " + text.replace("%", "%%"))
                continue
            if isinstance(text, str):
                text = [text] * self.rows
            if present is None:
                slots.append(f", {name}: %s")
            else:  # the whole "key: value" piece, or nothing
                slots.append("%s")
                piece = f", {_STR(key)}: "
                text = [piece + t if has else "" for t, has in zip(text, present, strict=True)]
            columns.append(text)
        form = "".join(slots)
        if self._whole_first_key():
            form = "{" + form[2:] + "}"
        return form, columns

    def texts(self) -> list[str]:
        """Each record's JSON text, equal to ``ENCODE(record)`` for the record of :meth:`dicts`."""
        if not self.columns:
            return ["{}"] * self.rows
        form, columns = self._format()
        rows: Iterable[tuple[str, ...]] = zip(*columns, strict=True)
        if not columns:  # no slot left: every key of one value in every row, or in none
            rows = itertools.repeat((), self.rows)
        if self._whole_first_key():
            return list(map(form.__mod__, rows))
        # a row may leave out its first key: every piece starts with ", ", the first one is cut
        return ["{" + (form % row)[2:] + "}" for row in rows]
