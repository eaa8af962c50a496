"""Property tests of the requirement readers.

Whatever bytes a requirement file holds, reading it either gives a frame of the column contract
or raises :class:`~covguard.errors.InputError`: never another exception.  And a valid CSV file,
however odd its cells, reads back exactly what was written, with the right line numbers.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from covguard.errors import InputError
from covguard.requirements import COLUMNS, DEFAULT_OPTIONS, RequirementOptions, read_requirements
from covguard.requirements.ids import DEFAULT_ID_PATTERN, SAFETY_CLASSES

FIXTURES = Path(__file__).parent / "fixtures" / "requirements"
PUMP_REQIF = (FIXTURES / "pump.reqif").read_bytes()
PUMP_CSV = (FIXTURES / "pump.csv").read_bytes()
PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NEWLINE = re.compile(r"\r\n|\r|\n")

Outcome = pd.DataFrame | InputError


def read_bytes_as(data: bytes, suffix: str, options: RequirementOptions = DEFAULT_OPTIONS) -> Outcome:
    """Write ``data`` to a fresh file with ``suffix`` and read it: the frame, or the InputError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"requirements{suffix}"
        path.write_bytes(data)
        try:
            return read_requirements([path], options)
        except InputError as error:
            return error


def assert_frame_or_input_error(outcome: Outcome) -> None:
    """The outcome is a well-formed frame or a well-formed InputError."""
    if isinstance(outcome, InputError):
        assert outcome.message
        assert outcome.location is not None
        assert outcome.location.line is None or outcome.location.line >= 1
        return
    assert tuple(outcome.columns) == COLUMNS
    assert len(outcome) > 0
    assert str(outcome["line"].dtype) == "int64"
    assert outcome["id"].is_unique
    assert all(isinstance(value, str) for value in outcome["id"].tolist())
    assert all(isinstance(value, str) and value for value in outcome["title"].tolist())
    assert set(outcome["safety_class"].tolist()) <= set(SAFETY_CLASSES)
    assert min(outcome["line"].tolist()) >= 1
    for attributes in outcome["attributes"].tolist():
        assert isinstance(attributes, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items())


def zipped(members: dict[str, bytes]) -> bytes:
    """A deflated zip archive holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Arbitrary input

CSV_ALPHABET = st.sampled_from(
    [*'idtlesafy_c,"\n\r ;\tABCabc-0123PUMS', "\ufeff", "\u0420", "\u202e", "\u200b", "\x00", "\u00e9"]
)
CSV_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(CSV_ALPHABET, max_size=300),
    st.tuples(
        st.sampled_from(["id,title,safety_class\n", "ID,Title,Safety_Class,x\r\n"]), st.text(CSV_ALPHABET)
    ).map("".join),
)

INTERESTING = [
    b"<",
    b">",
    b'"',
    b"&",
    b"&#x202E;",
    b"&#0;",
    b"<!DOCTYPE x>",
    b"<!ENTITY e 'x'>",
    b"<![CDATA[",
    b"]]>",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b'<SPEC-OBJECT IDENTIFIER="_so-1">',
    b"</VALUES>",
    b"PUMP-SRS-001",
    b"\xd0\xa0",
    b"<xhtml:div>",
    b"LONG-NAME=",
]


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few random deletions, duplications and insertions."""
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(st.integers(min_value=0, max_value=len(data)))
        end = draw(st.integers(min_value=start, max_value=min(len(data), start + 200)))
        operation = draw(st.sampled_from(["delete", "duplicate", "insert", "replace"]))
        if operation == "delete":
            del data[start:end]
        elif operation == "duplicate":
            data[start:start] = data[start:end]
        else:
            piece = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=8)))
            data[start : end if operation == "replace" else start] = piece
    return bytes(data)


@PROPERTIES
@given(st.binary(max_size=2000), st.sampled_from([".csv", ".reqif", ".reqifz"]))
def test_arbitrary_bytes_give_a_frame_or_an_input_error(data: bytes, suffix: str) -> None:
    assert_frame_or_input_error(read_bytes_as(data, suffix))


@PROPERTIES
@given(CSV_TEXT)
def test_arbitrary_csv_text_gives_a_frame_or_an_input_error(text: str) -> None:
    assert_frame_or_input_error(read_bytes_as(text.encode("utf-8"), ".csv"))


@PROPERTIES
@given(mutated(PUMP_CSV))
def test_mutated_csv_gives_a_frame_or_an_input_error(data: bytes) -> None:
    assert_frame_or_input_error(read_bytes_as(data, ".csv"))


@PROPERTIES
@given(mutated(PUMP_REQIF), st.integers(min_value=3, max_value=300))
def test_mutated_reqif_gives_a_frame_or_an_input_error(data: bytes, max_depth: int) -> None:
    outcome = read_bytes_as(data, ".reqif", RequirementOptions(max_depth=max_depth))
    assert_frame_or_input_error(outcome)


@PROPERTIES
@given(mutated(PUMP_REQIF), st.sampled_from(["pump.reqif", "a/b.reqif", "x.png"]))
def test_mutated_reqif_in_an_archive_gives_a_frame_or_an_input_error(data: bytes, name: str) -> None:
    assert_frame_or_input_error(read_bytes_as(zipped({name: data}), ".reqifz"))


@PROPERTIES
@given(mutated(zipped({"pump.reqif": PUMP_REQIF, "img/a.png": b"\x89PNG"})))
def test_mutated_archive_gives_a_frame_or_an_input_error(data: bytes) -> None:
    assert_frame_or_input_error(read_bytes_as(data, ".reqifz"))


# ---------------------------------------------------------------------------------------------
# CSV round trip


@dataclass(frozen=True)
class Row:
    """One requirement as written to the generated CSV."""

    raw_id: str
    title: str
    raw_class: str
    extras: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    """A generated CSV document and what reading it must give."""

    text: str
    expected: pd.DataFrame


TITLES = st.text(min_size=1, max_size=40).filter(lambda title: title.strip() == title and bool(title))
CELLS = st.one_of(
    st.text(max_size=30), st.sampled_from(["", "NA", "N/A", "null", "0012", "1e3", " x ", '"', "\n"])
)
EXTRA_NAMES = ["rationale", "Owner", "0012", "NA", "notes (free text)", "Ünïcode", "safety class?"]


def _rows(draw: st.DrawFn, extras: int) -> list[Row]:
    """Rows with unique IDs (some padded with spaces), titles, classes in any case and extras."""
    ids = draw(
        st.lists(st.from_regex(DEFAULT_ID_PATTERN, fullmatch=True), min_size=1, max_size=8, unique=True)
    )
    return [
        Row(
            raw_id=draw(st.sampled_from(["", " ", "\t", "\u00a0"]))
            + req_id
            + draw(st.sampled_from(["", "  "])),
            title=draw(TITLES),
            raw_class=draw(st.sampled_from(["A", "a", "B", "b", "C", "c", " B "])),
            extras=tuple(draw(CELLS) for _ in range(extras)),
        )
        for req_id in ids
    ]


def csv_line(cells: list[str], quote_all: bool) -> str:
    """One CSV record (RFC 4180 quoting).

    Written by hand because ``csv.writer`` leaves a lone carriage return unquoted when the line
    terminator is ``"\\n"``, which no reader can read back.
    """
    return ",".join(
        '"' + cell.replace('"', '""') + '"' if quote_all or any(c in cell for c in ',"\r\n') else cell
        for cell in cells
    )


@st.composite
def csv_documents(draw: st.DrawFn) -> Document:
    """A valid CSV requirement list in any column order, and the frame it must read as."""
    extra_names = draw(st.lists(st.sampled_from(EXTRA_NAMES), unique=True, max_size=3))
    header = {
        "id": draw(st.sampled_from(["id", "ID", " Id "])),
        "title": draw(st.sampled_from(["title", "Title ", "TITLE"])),
        "safety_class": draw(st.sampled_from(["safety_class", "Safety_Class", " SAFETY_CLASS"])),
    } | {name: name for name in extra_names}
    order = draw(st.permutations(list(header)))
    rows = _rows(draw, len(extra_names))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    quote_all = draw(st.booleans())
    buffer = io.StringIO()
    buffer.write(draw(st.sampled_from(["", "\ufeff"])))
    buffer.write(csv_line([header[column] for column in order], quote_all) + terminator)
    lines = []
    for row in rows:
        buffer.write(terminator * draw(st.integers(min_value=0, max_value=2)))  # blank lines
        lines.append(len(NEWLINE.findall(buffer.getvalue())) + 1)
        cells = {"id": row.raw_id, "title": row.title, "safety_class": row.raw_class}
        cells |= dict(zip(extra_names, row.extras, strict=True))
        buffer.write(csv_line([cells[column] for column in order], quote_all) + terminator)
    expected = pd.DataFrame(
        {
            "id": pd.Series([row.raw_id.strip() for row in rows], dtype=object),
            "title": pd.Series([row.title for row in rows], dtype=object),
            "safety_class": pd.Series([row.raw_class.strip().upper() for row in rows], dtype=object),
            "line": pd.Series(lines, dtype="int64"),
            "attributes": pd.Series(
                [
                    {name: row.extras[extra_names.index(name)] for name in order if name in extra_names}
                    for row in rows
                ],
                dtype=object,
            ),
        }
    )
    return Document(buffer.getvalue(), expected)


@PROPERTIES
@given(csv_documents())
def test_valid_csv_round_trips_exactly(document: Document) -> None:
    outcome = read_bytes_as(document.text.encode("utf-8"), ".csv")
    assert not isinstance(outcome, InputError), outcome.render() if isinstance(outcome, InputError) else ""
    assert outcome["source"].str.endswith("requirements.csv").all()
    actual = outcome[["id", "title", "safety_class", "line", "attributes"]]
    pd.testing.assert_frame_equal(actual, document.expected)
    assert [list(attributes) for attributes in actual["attributes"]] == [
        list(attributes) for attributes in document.expected["attributes"]
    ]


# ---------------------------------------------------------------------------------------------
# The other formats: arbitrary text is a frame or one InputError, never a crash

SDOC_MD_ALPHABET = st.sampled_from(
    [
        "[DOCUMENT]\n",
        "[REQUIREMENT]\n",
        "[[REQUIREMENT]]\n",
        "[[/REQUIREMENT]]\n",
        "[[SECTION]]\n",
        "[[/SECTION]]\n",
        "[/SECTION]\n",
        "UID: A-1\n",
        "UID: A-2\n",
        "TITLE: t\n",
        "STATEMENT: >>>\n",
        "<<<\n",
        "SAFETY_CLASS: Class B\n",
        "RELATIONS:\n",
        "- TYPE: Parent\n",
        "  VALUE: A-1\n",
        "### Heading\n",
        "`req~a~1`\n",
        "`req~b~1`\n",
        "Covers:\n",
        "* `req~a~1`\n",
        "Safety class: C\n",
        "x",
        "\u202e",
        "\x00",
        "\n",
    ]
)
NEEDS_ALPHABET = st.sampled_from(
    [
        '{"versions":',
        '{"1":',
        '{"needs":',
        '{"A-1":',
        '{"id":"A-1"',
        ',"title":"t"',
        ',"links":["A-2"]',
        "}",
        "[",
        "]",
        ",",
        '"x"',
        "1",
        "null",
    ]
)


@pytest.mark.parametrize("suffix", [".sdoc", ".md"])
@PROPERTIES
@given(parts=st.lists(SDOC_MD_ALPHABET, max_size=40))
def test_arbitrary_sdoc_and_markdown_give_a_frame_or_an_input_error(suffix: str, parts: list[str]) -> None:
    options = RequirementOptions(default_class="B")
    assert_frame_or_input_error(read_bytes_as("".join(parts).encode("utf-8"), suffix, options))


@PROPERTIES
@given(parts=st.lists(NEEDS_ALPHABET, max_size=40))
def test_arbitrary_needs_json_gives_a_frame_or_an_input_error(parts: list[str]) -> None:
    options = RequirementOptions(default_class="B")
    assert_frame_or_input_error(read_bytes_as("".join(parts).encode("utf-8"), ".json", options))
