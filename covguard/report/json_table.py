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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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


def _number(value: int | float | None) -> str:
    """A number (or ``None``) as the JSON encoder writes it."""
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    text = float.__repr__(value)
    return _NON_FINITE.get(text, text)


def encode_column(values: Sequence[Any]) -> list[str]:
    """The JSON text of each value, as :data:`ENCODE` writes it; a column of one plain kind is
    encoded once per distinct value (or by the type's own ``repr``), anything else value by value."""
    kinds = set(map(type, values))
    if kinds == {str} and len(set(values)) * 2 > len(values):  # mostly distinct (messages)
        return list(map(_STR, values))
    if kinds <= {str, _NONE}:
        distinct = {v: ("null" if v is None else _STR(v)) for v in set(values)}
        return [distinct[v] for v in values]
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds <= {bool, _NONE}:
        return [_BOOLS[v] for v in values]
    if kinds <= {int, _NONE}:
        return ["null" if v is None else int.__repr__(v) for v in values]
    if kinds == {float}:
        return [_NON_FINITE.get(t, t) for t in map(float.__repr__, values)]
    if kinds <= {int, float, _NONE}:
        return list(map(_number, values))
    if kinds == {list} and set(map(type, itertools.chain.from_iterable(values))) <= {str}:
        # lists of strings (requirement ids, test names): once per distinct list
        keys = list(map(tuple, values))
        lists = {k: encode_value(k) for k in set(keys)}
        return [lists[k] for k in keys]
    return [encode_value(v) for v in values]


@dataclass
class Table:
    """One array of JSON records, column by column (in the records' key order)."""

    rows: int
    columns: list[tuple[str, list[Any] | Table]] = field(default_factory=list)
    # key -> whether each row has that key (keys every row has are not listed)
    present: dict[str, list[bool]] = field(default_factory=dict)

    def add(self, key: str, values: list[Any] | Table, present: list[bool] | None = None) -> None:
        size = values.rows if isinstance(values, Table) else len(values)
        if size != self.rows or (present is not None and len(present) != self.rows):
            raise ValueError(f"column {key!r}: {size} rows, the table has {self.rows}")
        self.columns.append((key, values))
        if present is not None and not all(present):
            self.present[key] = present

    def dicts(self) -> list[dict[str, Any]]:
        """The records as dicts (a nested table's rows as dicts in each)."""
        keys = [key for key, _v in self.columns]
        columns = [v.dicts() if isinstance(v, Table) else v for _k, v in self.columns]
        out = [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
        if not self.columns:
            out = [{} for _ in range(self.rows)]
        for key, present in self.present.items():
            for record, has in zip(out, present, strict=True):
                if not has:
                    del record[key]
        return out

    def texts(self) -> list[str]:
        """Each record's JSON text, equal to ``ENCODE(record)`` for the record of :meth:`dicts`."""
        if not self.columns:
            return ["{}"] * self.rows
        slots: list[str] = []
        columns: list[list[str]] = []
        for key, values in self.columns:
            text = values.texts() if isinstance(values, Table) else encode_column(values)
            name = _STR(key).replace("%", "%%")
            present = self.present.get(key)
            if present is None:
                slots.append(f", {name}: %s")
            else:  # the whole "key: value" piece, or nothing
                slots.append("%s")
                piece = f", {_STR(key)}: "
                text = [piece + t if has else "" for t, has in zip(text, present, strict=True)]
            columns.append(text)
        form = "".join(slots)
        if self.columns[0][0] not in self.present:  # every row has the first key
            form = "{" + form[2:] + "}"
            return [form % row for row in zip(*columns, strict=True)]
        # a row may leave out its first key: every piece starts with ", ", the first one is cut
        return ["{" + (form % row)[2:] + "}" for row in zip(*columns, strict=True)]
