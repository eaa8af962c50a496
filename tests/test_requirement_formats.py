"""The other requirement formats: StrictDoc, sphinx-needs, Doorstop, OpenFastTrace Markdown, xlsx.

Each fixture in ``fixtures/requirements/formats`` (the xlsx ones are written here with openpyxl)
has headings (or what the format has instead), a reference to a parent that is not in the file,
classes written as ``Class B`` and as a tool value (``SIL1``) mapped with ``class_map``, and a
second document whose ID collides with the first.  The expected sets are read off the fixtures.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from covguard.errors import InputError
from covguard.requirements import ReadReport, read_requirement_list, read_requirements
from covguard.requirements.ids import RequirementOptions

FORMATS = Path(__file__).parent / "fixtures" / "requirements" / "formats"
MAPPED = RequirementOptions(
    class_map=(("SIL1", "A"),), id_pattern=r"[A-Za-z][A-Za-z0-9_~.-]*", reqif_exclude_types=("test",)
)

Row = tuple[str, str, str, str | None]


def read(paths: list[Path], options: RequirementOptions = MAPPED) -> tuple[list[Row], ReadReport]:
    report = ReadReport()
    found = read_requirement_list(paths, options, report)
    return [(r.id, r.title, r.safety_class, r.parent) for r in found], report


def _parent_warnings(report: ReadReport, missing: str) -> int:
    return sum(f"the parent {missing!r}" in warning for warning in report.warnings)


def test_sdoc_requirements_sections_composites_and_relations() -> None:
    found, report = read([FORMATS / "pump.sdoc"])
    assert found == [
        ("SRS-1", "Stop on occlusion", "C", None),
        ("SRS-2", "Dose log", "B", None),  # its Parent SYS-99 is not in the file
        ("SRS-3", "Log entries are timestamped", "A", "SRS-2"),  # nested in the composite SRS-2
        ("SRS-4", "The pump shall beep.", "A", "SRS-1"),  # no TITLE: the statement
    ]
    assert report.skipped == {"heading": 2, "text": 1}
    assert _parent_warnings(report, "SYS-99") == 1


def test_needs_json_types_links_and_external_needs() -> None:
    options = RequirementOptions(
        class_map=(("SIL1", "A"),), id_pattern=r"[A-Z]+_[0-9]+", reqif_exclude_types=("test",)
    )
    found, report = read([FORMATS / "pump-needs.json"], options)
    assert found == [
        ("REQ_001", "Stop on occlusion", "C", None),
        ("REQ_002", "Dose log", "B", None),
        ("REQ_003", "Log entries are timestamped", "A", "REQ_002"),
    ]
    assert report.skipped == {"external need": 1, "type 'test' excluded": 1}
    assert _parent_warnings(report, "SYS_099") == 1


def test_doorstop_items_headings_inactive_and_links() -> None:
    found, report = read([FORMATS / "doorstop-srs"])
    assert found == [
        ("SRS002", "Stop on occlusion", "C", None),
        ("SRS003", "Log entries are timestamped.", "A", "SRS002"),
    ]
    assert report.skipped == {"heading": 1, "inactive": 1}
    assert _parent_warnings(report, "SYS009") == 1


def test_oft_markdown_items_titles_and_covers() -> None:
    found, report = read([FORMATS / "pump.md"])
    assert found == [
        ("req~pump-stop~1", "Stop on occlusion", "C", None),
        ("req~dose-log~1", "Dose log", "B", None),
        ("req~log-timestamp~2", "Logging", "A", "req~dose-log~1"),
    ]
    assert report.skipped == {"heading": 2}
    assert _parent_warnings(report, "feat~pump-safety~1") == 1


@pytest.mark.parametrize(
    ("first", "second", "duplicate"),
    [
        ("pump.sdoc", "alarm.sdoc", "SRS-1"),
        ("pump-needs.json", "alarm-needs.json", "REQ_001"),
        ("doorstop-srs", "doorstop-hw", "SRS002"),
        ("pump.md", "alarm.md", "req~pump-stop~1"),
    ],
)
def test_id_collision_across_documents_and_a_prefix_per_file(first: str, second: str, duplicate: str) -> None:
    with pytest.raises(InputError) as caught:
        read([FORMATS / first, FORMATS / second])
    assert caught.value.message.startswith(f"duplicate requirement ID {duplicate!r} (also in ")
    if second.endswith(".md"):
        return  # OpenFastTrace IDs carry their own type prefix; a prefix would break their syntax
    options = RequirementOptions(
        class_map=MAPPED.class_map,
        id_pattern=MAPPED.id_pattern,
        reqif_exclude_types=("test",),
        id_prefix=((second, "HW-"),),
    )
    found, _ = read([FORMATS / first, FORMATS / second], options)
    assert f"HW-{duplicate}" in [row[0] for row in found]


def test_sdoc_without_uid_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.sdoc"
    path.write_text("[DOCUMENT]\nTITLE: X\n\n[REQUIREMENT]\nTITLE: no uid\n")
    with pytest.raises(InputError) as caught:
        read([path])
    assert caught.value.message == "[REQUIREMENT] has no UID"
    assert caught.value.location is not None
    assert caught.value.location.line == 4


def test_sdoc_unclosed_multiline_field_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.sdoc"
    path.write_text("[DOCUMENT]\nTITLE: X\n\n[REQUIREMENT]\nUID: A-1\nSTATEMENT: >>>\nnever closed\n")
    with pytest.raises(InputError, match="STATEMENT is not closed"):
        read([path])


def test_doorstop_yaml_objects_are_never_constructed(tmp_path: Path) -> None:
    folder = tmp_path / "doc"
    folder.mkdir()
    (folder / ".doorstop.yml").write_text("settings:\n  prefix: X\n")
    (folder / "X001.yml").write_text("text: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(InputError, match="malformed YAML"):
        read([folder])
    assert not (tmp_path / "pwned").exists()


def test_needs_json_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "needs.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError):
        read([path])


# ---------------------------------------------------------------------------------------------
# spreadsheets


def _workbook(path: Path, rows: list[list[object]], sheet: str = "Requirements") -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


JAMA_ROWS: list[list[object]] = [
    ["Key", "Summary", "Risk class", "Parent key", "Status"],
    [None, "Dosing", None, None, None],
    ["SRS-1", "Stop on occlusion", "Class C", None, "Approved"],
    ["SRS-2", "Dose log", "SIL1", "SYS-9", "Draft"],
    [None, None, None, None, None],
    ["SRS-3", "Log entries are timestamped", "B", "SRS-2", "Draft"],
]
JAMA_COLUMNS = (("id", "Key"), ("parent", "Parent key"), ("safety_class", "Risk class"), ("title", "Summary"))


def test_xlsx_columns_mapped_by_name(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "jama.xlsx", JAMA_ROWS)
    options = RequirementOptions(class_map=(("SIL1", "A"),), columns=JAMA_COLUMNS)
    found, report = read([path], options)
    assert found == [
        ("SRS-1", "Stop on occlusion", "C", None),
        ("SRS-2", "Dose log", "A", None),
        ("SRS-3", "Log entries are timestamped", "B", "SRS-2"),
    ]
    assert _parent_warnings(report, "SYS-9") == 1
    assert report.skipped == {"heading (row without ID)": 1}
    second = _workbook(tmp_path / "other.xlsx", JAMA_ROWS[:3])
    with pytest.raises(InputError, match="duplicate requirement ID 'SRS-1'"):
        read([path, second], options)


def test_xlsx_missing_column_names_what_the_header_has(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "x.xlsx", JAMA_ROWS)
    with pytest.raises(InputError) as caught:
        read([path])
    assert caught.value.message == (
        "missing column(s) 'id', 'title'; "
        "the header has 'Key', 'Summary', 'Risk class', 'Parent key', 'Status'"
    )
    assert caught.value.location is not None
    assert caught.value.location.line == 1


def test_xlsx_with_a_doctype_is_refused_before_openpyxl_reads_it(tmp_path: Path) -> None:
    good = _workbook(tmp_path / "good.xlsx", JAMA_ROWS)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + data.split(b"?>", 1)[-1]
            target.writestr(info, data)
    with pytest.raises(InputError, match="declares a DOCTYPE or entities"):
        read([bad], RequirementOptions(columns=JAMA_COLUMNS))


def test_xlsx_that_is_not_a_zip_is_one_message(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"not a workbook")
    with pytest.raises(InputError, match="cannot read the workbook"):
        read([path])


def test_doorstop_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "doc"
    folder.mkdir()
    (folder / ".doorstop.yml").write_text("settings:\n  prefix: X\n")
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (folder / "X001.yml").write_text("\n".join([*lines, "text: *a9", "links: *a9"]) + "\n")
    with pytest.raises(InputError, match="holds a list, covguard reads plain values only"):
        read([folder])


def test_csv_parent_column_gives_the_hierarchy(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,title,safety_class,Parent,owner\nA-1,One,C,,x\nA-2,Two,B,A-1,y\nA-3,Three,A,Z-9,z\n")
    found, report = read([path])
    assert found == [("A-1", "One", "C", None), ("A-2", "Two", "B", "A-1"), ("A-3", "Three", "A", None)]
    assert _parent_warnings(report, "Z-9") == 1
    frame = read_requirements([path])
    assert frame["attributes"].tolist() == [{"owner": "x"}, {"owner": "y"}, {"owner": "z"}]
