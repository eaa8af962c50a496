"""ReqIF exports of real tools: profiles, mappings, headings, hierarchy, and ``requirements show``.

The fixtures in ``fixtures/requirements/tools`` are written by ``make_fixtures.py`` in the shape
of each tool's exports.  Each has headings, a SPEC-HIERARCHY reference to an object that is not
in the file, the safety class in an enumeration (``Class A``/``B``/``C``) and two documents whose
IDs collide.  The expected requirement sets below are read off the fixture's design in
``make_fixtures.py``, not off covguard's output.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from covguard.errors import ConfigError, InputError
from covguard.requirements import ReadReport, read_requirement_list, read_requirements
from covguard.requirements.ids import RequirementOptions
from covguard.requirements.settings import options_from
from tests.conftest import covguard

TOOLS = Path(__file__).parent / "fixtures" / "requirements" / "tools"
REQIF_NS = "http://www.omg.org/spec/ReqIF/20110401/reqif.xsd"

FILES = {
    "doors": TOOLS / "doors.reqif",
    "polarion": TOOLS / "polarion.reqifz",
    "capella": TOOLS / "capella.reqifz",
    "ea": TOOLS / "ea.reqifz",
    "reqif-studio": TOOLS / "reqif-studio.reqif",
    "pror": TOOLS / "pror.reqifz",
}

# profile -> (settings beyond the profile, expected (id, title, class, parent), skipped by reason)
MAPPINGS: dict[str, tuple[dict[str, Any], list[tuple[str, str, str, str | None]], dict[str, int]]] = {
    "doors": (
        {
            "reqif_class_attribute": "Safety Class",
            "requirements_id_prefix": {"Pump SRS": "PUMP-SRS-", "Alarm SRS": "ALARM-SRS-"},
        },
        [
            ("PUMP-SRS-3", "The pump shall start", "C", None),
            ("PUMP-SRS-4", "The pump shall start in 1 s", "B", "PUMP-SRS-3"),
            ("PUMP-SRS-5", "The pump shall log", "A", None),
            ("ALARM-SRS-3", "The alarm shall start", "C", None),
            ("ALARM-SRS-4", "The alarm shall start in 1 s", "B", "ALARM-SRS-3"),
            ("ALARM-SRS-5", "The alarm shall log", "A", None),
        ],
        {"heading": 4},
    ),
    "polarion": (
        {"reqif_class_attribute": "Safety Class", "requirements_id_prefix": {"alarm.reqif": "AL-"}},
        [
            ("PUMP-12", "Pump: stop on occlusion", "C", None),
            ("PUMP-13", "Pump: stop within 1 s", "C", "PUMP-12"),
            ("PUMP-14", "Pump: log doses", "B", None),
            ("AL-PUMP-14", "Alarm: stop on occlusion", "C", None),
            ("AL-PUMP-15", "Alarm: stop within 1 s", "C", "AL-PUMP-14"),
            ("AL-PUMP-16", "Alarm: log doses", "B", None),
        ],
        {"heading": 2, "type 'Document' excluded": 2},
    ),
    "capella": (
        {"reqif_class_attribute": "Safety Class", "requirements_id_prefix": {"sw.reqif": "SW-"}},
        [
            ("PUID-1", "sys air detection", "C", None),
            ("PUID-2", "sys air alarm", "B", "PUID-1"),
            ("SW-PUID-2", "sw air detection", "C", None),
            ("SW-PUID-3", "sw air alarm", "B", "SW-PUID-2"),
        ],
        {"heading": 2},
    ),
    "ea": (
        # EA leaves attribute definitions unnamed: the class attribute is named by its IDENTIFIER
        {"reqif_class_attribute": "FUNC-REQ-CLASS", "requirements_id_prefix": {"System requirements": "S"}},
        [
            ("R001", "UObserve the line", "B", None),
            ("R002", "Raise the alarm", "C", None),
            ("SR001", "SObserve the line", "B", None),
        ],
        {"heading": 2},
    ),
    "reqif-studio": (
        {"reqif_class_attribute": "Safety Class", "requirements_id_prefix": {"HW": "HW-"}},
        [
            ("REQ-1", "SW shall boot", "C", None),
            ("SW-2", "SW shall boot in 2 s", "A", "REQ-1"),
            ("HW-REQ-1", "HW shall boot", "C", None),
            ("HW-HW-2", "HW shall boot in 2 s", "A", "HW-REQ-1"),
        ],
        {"heading": 2},
    ),
    "pror": (
        {
            "reqif_class_attribute": "Safety Class",
            "requirements_id_prefix": {"a.reqif": "A-", "b.reqif": "B-"},
        },
        [
            ("A-1", "A one", "B", None),
            ("A-1.1", "A one.one", "C", "A-1"),
            ("B-1", "B one", "B", None),
            ("B-1.1", "B one.one", "C", "B-1"),
        ],
        {"heading": 2},
    ),
}

COLLISIONS = {
    "doors": "'3'",
    "polarion": "'PUMP-14'",
    "capella": "'PUID-2'",
    "ea": "'R001'",
    "reqif-studio": "'REQ-1'",
    "pror": "'1'",
}


def _read(
    path: Path, options: RequirementOptions
) -> tuple[list[tuple[str, str, str, str | None]], ReadReport]:
    report = ReadReport()
    requirements = read_requirement_list([path], options, report)
    return [(r.id, r.title, r.safety_class, r.parent) for r in requirements], report


@pytest.mark.parametrize("profile", sorted(FILES))
def test_profile_with_class_and_prefix_reads_the_requirement_set(profile: str) -> None:
    extra, expected, skipped = MAPPINGS[profile]
    found, report = _read(FILES[profile], options_from({**extra, "reqif_profile": profile}))
    assert found == expected
    assert report.skipped == skipped
    dangling = [w for w in report.warnings if "unknown SPEC-OBJECT 'gone-0' (ignored)" in w]
    assert len(dangling) == len(report.warnings) >= 1


@pytest.mark.parametrize("profile", sorted(FILES))
def test_profile_alone_names_the_id_collision_across_documents(profile: str) -> None:
    with pytest.raises(InputError) as caught:
        _read(FILES[profile], options_from({"reqif_profile": profile}))
    error = caught.value
    assert error.message.startswith(f"duplicate requirement ID {COLLISIONS[profile]} (also ")
    assert error.hint is not None
    assert "requirements.id_prefix" in error.hint


def test_without_a_class_attribute_the_profile_gives_class_c_and_a_configured_default_wins() -> None:
    options = {"reqif_profile": "polarion", "requirements_id_prefix": {"alarm.reqif": "AL-"}}
    found, _ = _read(FILES["polarion"], options_from(options))
    assert {cls for _, _, cls, _ in found} == {"C"}
    found, _ = _read(FILES["polarion"], options_from({**options, "requirements_default_class": "B"}))
    assert {cls for _, _, cls, _ in found} == {"B"}


def test_class_map_maps_enumeration_labels() -> None:
    extra, expected, _ = MAPPINGS["doors"]
    values = {**extra, "reqif_profile": "doors", "requirements_class_map": {"Class A": "C"}}
    found, _ = _read(FILES["doors"], options_from(values))
    assert [cls for _, _, cls, _ in found] == ["C" if cls == "A" else cls for _, _, cls, _ in expected]


def test_without_a_profile_the_old_defaults_refuse_a_tool_export_with_a_clear_message() -> None:
    with pytest.raises(InputError) as caught:
        _read(FILES["doors"], options_from({}))
    assert caught.value.message.startswith("requirement ID '3' does not match the ID pattern")
    assert caught.value.hint is not None
    assert "requirements.id_prefix" in caught.value.hint
    with pytest.raises(InputError) as caught:
        _read(FILES["doors"], options_from({"requirements_id_prefix": {"*": "SRS-"}}))
    assert "safety class attribute 'SafetyClass' is not defined" in caught.value.message
    assert caught.value.hint is not None
    assert "'Safety Class'" in caught.value.hint


def test_include_and_exclude_types_select_requirement_objects() -> None:
    values = {
        "reqif_profile": "polarion",
        "requirements_id_prefix": {"alarm.reqif": "AL-"},
        "reqif_include_types": ["Heading", "Software Requirement"],
        "reqif_heading_types": ["Nothing"],
        "reqif_title_attributes": ["ReqIF.ChapterName"],
    }
    found, report = _read(FILES["polarion"], options_from(values))
    assert [i for i, *_ in found][:3] == ["PUMP-11", "PUMP-12", "PUMP-13"]  # headings taken as requirements
    assert report.skipped == {"type 'Document' excluded": 2}


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown ReqIF profile 'jama'"):
        options_from({"reqif_profile": "jama"})


def _minimal(objects: str = "", relations: str = "", ns: str = REQIF_NS) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<REQ-IF xmlns="{ns}"><CORE-CONTENT><REQ-IF-CONTENT>'
        '<SPEC-TYPES><SPEC-OBJECT-TYPE IDENTIFIER="t" LONG-NAME="Req"><SPEC-ATTRIBUTES>'
        '<ATTRIBUTE-DEFINITION-STRING IDENTIFIER="a-id" LONG-NAME="ReqIF.ForeignID"/>'
        '<ATTRIBUTE-DEFINITION-STRING IDENTIFIER="a-name" LONG-NAME="ReqIF.Name"/>'
        "</SPEC-ATTRIBUTES></SPEC-OBJECT-TYPE></SPEC-TYPES>"
        f"<SPEC-OBJECTS>{objects}</SPEC-OBJECTS>{relations}</REQ-IF-CONTENT></CORE-CONTENT></REQ-IF>\n"
    )


def _object(key: str, req_id: str, name: str) -> str:
    values = "".join(
        f'<ATTRIBUTE-VALUE-STRING THE-VALUE="{value}"><DEFINITION><ATTRIBUTE-DEFINITION-STRING-REF>{ref}'
        "</ATTRIBUTE-DEFINITION-STRING-REF></DEFINITION></ATTRIBUTE-VALUE-STRING>"
        for ref, value in (("a-id", req_id), ("a-name", name))
    )
    return (
        f'<SPEC-OBJECT IDENTIFIER="{key}"><TYPE><SPEC-OBJECT-TYPE-REF>t</SPEC-OBJECT-TYPE-REF></TYPE>'
        f"<VALUES>{values}</VALUES></SPEC-OBJECT>"
    )


def test_relations_only_member_is_a_warning_and_apple_double_members_are_ignored(tmp_path: Path) -> None:
    archive = tmp_path / "x.reqifz"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("doc.reqif", _minimal(_object("o1", "A-1", "One")))
        z.writestr("links.reqif", _minimal(relations="<SPEC-RELATIONS/>"))
        z.writestr("__MACOSX/._doc.reqif", b"\x00\x05\x16\x07\x00\x02\x00\x00junk")
        z.writestr("._doc.reqif", b"\x00\x05\x16\x07\x00\x02\x00\x00junk")
    report = ReadReport()
    frame = read_requirements([archive], RequirementOptions(default_class="B"), report)
    assert frame["id"].tolist() == ["A-1"]
    assert len(report.warnings) == 1
    assert "x.reqifz[links.reqif]" in report.warnings[0]
    assert "holds no SPEC-OBJECT" in report.warnings[0]


def test_apple_double_file_given_directly_is_named_for_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "._srs.reqif"
    path.write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    with pytest.raises(InputError) as caught:
        read_requirements([path])
    assert caught.value.message == "this is a macOS AppleDouble sidecar (resource fork), not a ReqIF document"


def test_draft_namespace_reads_like_reqif_1_2(tmp_path: Path) -> None:
    path = tmp_path / "old.reqif"
    path.write_text(_minimal(_object("o1", "A-1", "One"), ns="http://www.omg.org/spec/ReqIF/20101201"))
    frame = read_requirements([path], RequirementOptions(default_class="A"))
    assert frame[["id", "title", "safety_class"]].values.tolist() == [["A-1", "One", "A"]]


def test_same_attribute_for_id_and_title_gives_the_id_as_title(tmp_path: Path) -> None:
    path = tmp_path / "r.reqif"
    path.write_text(_minimal(_object("o1", "A-1", "")))
    options = RequirementOptions(reqif_title_attributes=("ReqIF.ForeignID",), default_class="A")
    assert read_requirements([path], options)["title"].tolist() == ["A-1"]


def test_requirement_pattern_is_separate_from_the_tag_pattern() -> None:
    values = {
        "reqif_profile": "pror",
        "tags_id_pattern": "X-[0-9]+",
        "requirements_id_prefix": {"b.reqif": "B-"},
    }
    assert options_from(values).id_pattern != "X-[0-9]+"
    options = options_from({**values, "requirements_id_pattern": r"(?:B-)?[0-9]+(?:\.[0-9]+)*"})
    found, _ = _read(FILES["pror"], options)
    assert [i for i, *_ in found] == ["1", "1.1", "B-1", "B-1.1"]
    assert options_from({"tags_id_pattern": "X-[0-9]+"}).id_pattern == "X-[0-9]+"  # no profile: as before


# ---------------------------------------------------------------------------------------------
# covguard requirements show


def test_show_prints_count_rows_skipped_and_warnings(tmp_path: Path) -> None:
    result = covguard(
        "requirements",
        "show",
        FILES["polarion"],
        "--profile",
        "polarion",
        "--set",
        'requirements.id_prefix={"alarm.reqif"="AL-"}',
        "--set",
        "reqif.class_attribute=Safety Class",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "6 requirements (class A 0, B 2, C 4; 2 with a parent)"
    assert "not taken as requirements: 4 (2 heading, 2 type 'Document' excluded)" in lines
    assert sum("unknown SPEC-OBJECT 'gone-0'" in line for line in lines) == 2


def test_show_json_lists_every_requirement(tmp_path: Path) -> None:
    result = covguard(
        "requirements",
        "show",
        FILES["pror"],
        "--profile",
        "pror",
        "--json",
        "--set",
        'requirements.id_prefix={"a.reqif"="A-","b.reqif"="B-"}',
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["count"] == 4
    assert [(r["id"], r["parent"], r["safety_class"]) for r in document["requirements"]] == [
        ("A-1", None, "C"),
        ("A-1.1", "A-1", "C"),
        ("B-1", None, "C"),
        ("B-1.1", "B-1", "C"),
    ]
    assert document["skipped"] == {"heading": 2}


def test_show_of_a_bad_file_is_one_message_and_exit_2(tmp_path: Path) -> None:
    result = covguard("requirements", "show", FILES["doors"], "--profile", "doors", cwd=tmp_path)
    assert result.returncode == 2
    assert "duplicate requirement ID '3'" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# configuration


def test_requirements_table_holds_the_files_and_the_new_keys(tmp_path: Path) -> None:
    from covguard.config import load_settings

    (tmp_path / "covguard.toml").write_text(
        '[requirements]\nfiles = ["r/srs.reqif"]\ndefault_class = "B"\nclass_map = {"SIL3" = "C"}\n'
        'id_prefix = "SRS-"\n[reqif]\nprofile = "doors"\n'
    )
    settings = load_settings(tmp_path / "covguard.toml")
    assert settings.requirements == (str(tmp_path / "r" / "srs.reqif"),)
    options = options_from(settings.values)
    assert options.default_class == "B"
    assert options.class_map == (("SIL3", "C"),)
    assert options.id_prefix == (("*", "SRS-"),)
    assert options.reqif_title_attributes == ("ReqIF.Text",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[requirements]\nclass_map = {"SIL3" = "D"}\n', "maps 'SIL3' to 'D'"),
        ('[requirements]\ndefault_class = "X"\n', "'requirements.default_class' must be one of"),
        ('[reqif]\nprofile = "jama"\n', "'reqif.profile' must be one of"),
        ("[requirements]\nfilez = []\n", "unknown configuration key 'requirements.filez'"),
    ],
)
def test_bad_requirement_keys_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    from covguard.config import load_settings

    (tmp_path / "covguard.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "covguard.toml")
    assert message in caught.value.message
