"""``findings.json`` written column by column (covguard.report.json_table) is the text the JSON
encoder gives record by record: every column encoder against ``json.JSONEncoder`` on awkward values
(hypothesis), the tables' record texts against the encoder of their dicts, and the whole document
against :func:`covguard.report.findings_json.dumps` of the findings document."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from covguard.report import findings_json
from covguard.report.json_table import ENCODE, Table, encode_column

REFERENCE = json.JSONEncoder(ensure_ascii=False).encode

AWKWARD_TEXT = [
    "",
    "a",
    'quote " and \\ backslash',
    "tab\tnew\nline\x00nul",
    "é ü 漢字 😀",
    "\ud800 lone",
    "%s %d %%",
]
NUMBERS = [0, 1, -1, 2**70, True, False, 0.0, -0.0, 1.0, 0.1, 1e300, -2.5e-320, math.inf, -math.inf, math.nan]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.sampled_from(AWKWARD_TEXT + NUMBERS),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.text(max_size=3), max_size=3),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
    ),
    max_leaves=8,
)
# a column is of one kind (ints, texts, lists of texts ...) or a mix of several
columns = st.one_of(
    st.lists(values, max_size=30),
    st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=30),
    st.lists(st.sampled_from(AWKWARD_TEXT), min_size=1, max_size=30),
    st.lists(st.one_of(st.integers(), st.floats(), st.booleans(), st.none()), max_size=30),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=30),
    st.lists(st.lists(st.sampled_from(AWKWARD_TEXT), max_size=3), max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(columns)
def test_a_column_is_encoded_as_the_encoder_encodes_each_value(column: list[Any]) -> None:
    assert encode_column(column) == [REFERENCE(v) for v in column]


def test_values_equal_across_types_keep_their_own_text() -> None:
    # True == 1 == 1.0 and 0.0 == -0.0 hash alike: a cache of distinct values must not merge them
    column = [True, 1, 1.0, False, 0, 0.0, -0.0, None, math.nan, [True], [1], ["1"]]
    assert encode_column(column) == [REFERENCE(v) for v in column]
    assert encode_column([1, True, 1]) == ["1", "true", "1"]
    assert encode_column([0.0, -0.0]) == ["0.0", "-0.0"]
    assert ENCODE({"a": [1.5, None]}) == REFERENCE({"a": [1.5, None]})


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=12).flatmap(
        lambda rows: st.lists(
            st.tuples(
                st.text(max_size=4) | st.sampled_from(["%", "%s", '"', "a%%b", "id"]),
                st.lists(values, min_size=rows, max_size=rows),
                st.none() | st.lists(st.booleans(), min_size=rows, max_size=rows),
                st.booleans(),  # a nested table of the same rows instead
            ),
            max_size=5,
        ).map(lambda cols: (rows, cols))
    )
)
def test_record_texts_are_the_encoder_of_the_records(shape: tuple[int, list[Any]]) -> None:
    rows, cols = shape
    table = Table(rows)
    added: list[tuple[str, list[bool] | None]] = []
    for key, column, present, nested in cols:
        if key in dict(added):  # a record's keys are distinct
            continue
        added.append((key, present))
        if nested:
            inner = Table(rows)
            inner.add("x", column)
            inner.add("y", list(range(rows)), present)
            table.add(key, inner, present)
        else:
            table.add(key, column, present)
    records = table.dicts()
    assert table.texts() == [REFERENCE(r) for r in records]
    for i, record in enumerate(records):  # the keys a row leaves out, and only those
        assert list(record) == [k for k, present in added if present is None or present[i]]


def test_a_row_without_its_first_key() -> None:
    table = Table(3)
    table.add("first", [1, 2, 3], [False, True, False])
    table.add("second", ["a", "b", "c"], [True, True, False])
    assert table.dicts() == [{"second": "a"}, {"first": 2, "second": "b"}, {}]
    assert table.texts() == ['{"second": "a"}', '{"first": 2, "second": "b"}', "{}"]


def test_the_document_text_is_the_document_dumped(sample_run: Any) -> None:
    """The findings.json written (large arrays column by column) is ``dumps`` of the findings
    document every other output reads (its dicts record by record)."""
    analysis, gate = sample_run.analysis, sample_run.gate
    assert analysis is not None
    text = findings_json.render(analysis, gate)
    doc = findings_json.findings_document(analysis, gate)
    assert text == findings_json.dumps(doc)
    assert text == sample_run.outputs["findings"].read_text(encoding="utf-8")
    # and the dicts are those the encoder reads back from the text
    assert json.loads(text) == json.loads(json.dumps(doc, ensure_ascii=False))
    assert doc["findings"]
    assert all(set(f) >= {"kind", "file", "message"} for f in doc["findings"])


records_of_one_shape = st.integers(min_value=0, max_value=6).flatmap(
    lambda n: st.lists(st.text(max_size=3), min_size=0, max_size=4, unique=True).flatmap(
        lambda keys: st.lists(st.fixed_dictionaries(dict.fromkeys(keys, values)), min_size=n, max_size=n)
    )
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(records_of_one_shape, st.lists(st.dictionaries(st.text(max_size=2), values, max_size=3))))
def test_records_reached_through_objects_are_the_plain_document(records: list[dict[str, Any]]) -> None:
    """The gate's failures (and any array of records of one shape in the small parts) made column
    by column are ``_plain`` of them, as dicts and as text."""
    value = {"gate": {"passed": False, "failures": records, "checks": len(records)}}
    plain = findings_json._plain(value)
    assert findings_json._tabled(value, Table.dicts) == plain or _has_nan(plain)
    text = findings_json.dumps(findings_json._tabled(value, findings_json._records_text))
    assert text == findings_json.dumps(plain)


def _has_nan(value: Any) -> bool:
    """NaN != NaN: dicts holding one compare unequal to themselves."""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


def test_a_replaced_findings_frame_is_written_anew(sample_run: Any) -> None:
    """The gate's baseline replaces the findings frame after the analysis (each finding marked new
    or existing): the columns built for the frame before are not reused for it."""
    import dataclasses

    assert sample_run.analysis is not None
    analysis = dataclasses.replace(sample_run.analysis, cache={})
    before = json.loads(findings_json.render(analysis, sample_run.gate))
    assert before["findings"]
    assert all("baseline" not in f for f in before["findings"])
    analysis.findings = analysis.findings.assign(baseline="new")
    after = json.loads(findings_json.render(analysis, sample_run.gate))
    assert [f.pop("baseline") for f in after["findings"]] == ["new"] * len(before["findings"])
    assert after == before


def test_columns_of_one_value_and_keys_no_row_has() -> None:
    """A column of one value in every row is written into the records' format (a ``%`` in it kept),
    a key no row has is left out of it; with no column left every row is that one text."""
    table = Table(3)
    table.add("gone", [1, 2, 3], [False, False, False])
    table.add("same %s", ["50 %", "50 %", "50 %"])
    table.add("none", [None, None, None])
    table.add("flag", [True, True, True], [True, False, True])
    inner = Table(3)
    inner.add("n", [7, 7, 7])
    inner.add("ids", [["a"], ["a"], ["a"]])
    table.add("nested", inner)
    assert table.texts() == [REFERENCE(r) for r in table.dicts()]
    assert table.texts()[1] == '{"same %s": "50 %", "none": null, "nested": {"n": 7, "ids": ["a"]}}'
    table.add("varies", [1, 2, 3])
    assert table.texts() == [REFERENCE(r) for r in table.dicts()]
    assert encode_column([5, 5]) == ["5", "5"]
    assert encode_column([True, True, None]) == ["true", "true", "null"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=30),
    st.booleans(),
)
def test_an_integer_array_column_is_its_list(values: list[int], unsigned: bool) -> None:
    """An integer array (a frame's int64 or uint64 column) gives the records and texts its list gives."""
    if unsigned:
        values = [abs(v) for v in values]
    array = np.array(values, dtype=np.uint64 if unsigned else np.int64)
    as_array, as_list = Table(len(values)), Table(len(values))
    as_array.add("n", array)
    as_list.add("n", values)
    for table in (as_array, as_list):
        table.add("same", [7] * len(values))
    assert as_array.dicts() == as_list.dicts()
    assert all(type(r["n"]) is int for r in as_array.dicts())
    assert as_array.texts() == as_list.texts() == [REFERENCE(r) for r in as_list.dicts()]


def test_an_array_column_of_floats_is_refused() -> None:
    with pytest.raises(ValueError, match="integers"):
        Table(2).add("x", np.array([1.0, 2.0]))


def test_lists_of_strings_among_other_lists() -> None:
    """Lists of strings are written once per distinct list; a list holding anything else (an equal
    number, a dict, a list) is written as the encoder writes it."""

    class Name(str):
        pass

    columns: list[list[Any]] = [
        [["a", "b"], ["a", "b"], [], [Name("a"), "b"]],
        [["1"], [1], [True], [1.0], ["1"]],
        [[{"file": "f.c", "function": "g"}], [], [["x"]]],
        [["%s", "é\\n"], ["%s", "é\\n"]],
    ]
    for column in columns:
        assert encode_column(column) == [REFERENCE(v) for v in column]
