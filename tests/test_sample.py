"""The sample firmware's planted defects, found exactly: right kind, file, function, line - and
nothing clean flagged (sample_firmware/README.md lists each defect)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

HOLLOW_TEST = "test_pump::occlusion_alarm_stops_delivery"
FAILING_TEST = "test_basal::rate_lookup_last_segment_2330_to_2400"
HOST_TOOL = "host_tool/"  # the pump's host tool, in Python (sample_firmware/host_tool)


def _python(frame: pd.DataFrame) -> pd.Series:
    return frame["file"].fillna("").astype(str).str.startswith(HOST_TOOL)


def _set(findings: pd.DataFrame) -> set[tuple[Any, ...]]:
    # uncovered lines are checked below; the toolchain's libraries in the image, whose path is the
    # machine's, in test_sample_image_lists_the_toolchain_libraries
    rows = findings[~findings["kind"].isin(["uncovered_lines", "image_library"])]
    return {
        (
            r["kind"],
            r["file"],
            r["function"] or None,
            int(r["line"]),
            r["requirement"] or None,
            r["test"] or None,
        )
        for r in rows.to_dict(orient="records")
    }


def test_every_planted_defect_and_nothing_else(sample_run: Any) -> None:
    analysis = sample_run.analysis
    got = _set(analysis.findings[~_python(analysis.findings)])
    expected = {
        # 1. the hidden factory command: reachable from the radio, traced to nothing, executed while
        #    testing the dispatch requirement
        ("rogue", "src/cmd.c", "cmd_factory_bolus", 222, None, None),
        # 2. the legacy function nothing calls: no entry point of the product image reaches it
        ("dead", "src/bolus.c", "legacy_bolus_calc_v1", 176, None, None),
        # 3. a requirement with code but no test; its code only runs incidentally
        ("unverified_requirement", "requirements.csv", None, 24, "PUMP-SRS-023", None),
        ("incidental", "src/cmd.c", "diag_count", 53, "PUMP-SRS-023", None),
        # 4. a requirement with no code
        ("unimplemented_requirement", "requirements.csv", None, 23, "PUMP-SRS-022", None),
        # 5. a test that claims a requirement and never executes its code
        ("hollow_verification", "tests/test_pump.c", None, 201, "PUMP-SRS-012", HOLLOW_TEST),
        # 6. a tag naming a requirement that does not exist
        ("unknown_requirement", "src/basal.c", "basal_set_segment", 53, "PUMP-SRS-099", None),
        # 7. the one failing test, caused by a bug in basal_scheduled_rate
        ("failed_test", "tests/test_basal.c", None, 82, "PUMP-SRS-007", FAILING_TEST),
    }  # fmt: skip
    assert got == expected
    rogue = analysis.findings[analysis.findings["function"] == "cmd_factory_bolus"].iloc[0]
    assert rogue["tests"] == ["test_cmd::dispatch_table_reaches_every_handler"]
    assert rogue["suggested_requirements"] == ["PUMP-SRS-018"]
    # reachable from the radio: the super-loop, the parser, a pointer hop through the handler table
    assert rogue["call_path"] == ["main", "radio_poll", "cmd_process", "cmd_handlers[]", "cmd_factory_bolus"]
    status = dict(zip(analysis.requirements["id"], analysis.requirements["status"], strict=True))
    assert status["PUMP-SRS-007"] == "failing"
    assert status["PUMP-SRS-022"] == "unimplemented"
    assert status["PUMP-SRS-023"] == "unverified"
    assert sum(s == "verified" for s in status.values()) == 22 + 6  # the firmware's, and PUMP-SRS-026..031


def test_python_half_of_the_sample(sample_run: Any) -> None:
    """The host tool's one planted defect: the engineering mode that sends the firmware's hidden
    factory command (0xF7), untraced - in the same findings as the firmware's half of the back door."""
    analysis = sample_run.analysis
    assert _set(analysis.findings[_python(analysis.findings)]) == {
        ("rogue", "host_tool/host_tool/session.py", "Session.engineering_dose", 78, None, None),
    }
    doc = json.loads(sample_run.outputs["findings"].read_text(encoding="utf-8"))
    rogue = {(f["file"], f["function"]) for f in doc["findings"] if f["kind"] == "rogue"}
    assert {
        ("src/cmd.c", "cmd_factory_bolus"),
        ("host_tool/host_tool/session.py", "Session.engineering_dose"),
    } <= rogue
    fn = analysis.functions[_python(analysis.functions)]
    assert len(fn) == 15
    assert sorted(fn[fn["class"] != "verified"]["function"]) == ["Session.engineering_dose"]
    assert fn["reachable"].isna().all()  # reachability is the C build's: unknown for Python, never dead
    py_tests = [t for t in doc["tests"] if t["id"].startswith(HOST_TOOL)]
    assert len(py_tests) == 31
    assert {t["status"] for t in py_tests} == {"passed"}
    assert {t["origin"] for t in py_tests} == {"host-python"}
    status = dict(zip(analysis.requirements["id"], analysis.requirements["status"], strict=True))
    assert [status[f"PUMP-SRS-0{n}"] for n in range(26, 32)] == ["verified"] * 6


def test_only_expected_lines_are_left_uncovered(sample_run: Any) -> None:
    """The factory command's argument check is the one line of traced code no test reaches."""
    lines = sample_run.analysis.lines
    unexecuted = lines[(lines["class"] == "unexecuted") & ~_python(lines)]
    assert sorted(zip(unexecuted["file"], unexecuted["line"], strict=True)) == [
        ("src/bolus.c", ln)
        for ln in range(176, 186)
        if ln in set(lines[lines["function"] == "legacy_bolus_calc_v1"]["line"])
    ] + [("src/cmd.c", 225)]
    # the host tool: only the engineering mode's one line
    py = lines[(lines["class"] == "unexecuted") & _python(lines)]
    assert sorted(zip(py["file"], py["line"], strict=True)) == [("host_tool/host_tool/session.py", 79)]


def _without_requirement_sources(doc: dict[str, Any]) -> dict[str, Any]:
    """The findings document without what names the requirement file (its path and line)."""
    for r in doc["requirements"]:
        r.pop("source")
        r.pop("line")
    for f in doc["findings"]:
        if f["kind"] in {"unverified_requirement", "unimplemented_requirement"}:
            f["file"], f["line"], f["end_line"] = None, 0, 0
    for t in doc["tests"]:
        t["duration_s"] = None
    return doc


def test_reqif_and_csv_give_the_same_findings(sample_run: Any) -> None:
    """The sample's requirements as ReqIF (requirements.reqif, as DOORS or Polarion export them)
    give the same analysis, finding for finding, as the same requirements in CSV."""
    from covguard import api
    from covguard.config import load_settings
    from covguard.report import findings_json
    from tests.conftest import SAMPLE

    tmp = sample_run.outputs["findings"].parent.parent  # the session fixture's work and out folders
    settings = load_settings(
        SAMPLE / "covguard.toml",
        overrides={"work_dir": str(tmp / "work"), "requirements": ["requirements.reqif"]},
    )
    analysis = api.analyse(settings)
    from_reqif = json.loads(findings_json.render(analysis, api.gate(settings, analysis)))
    from_csv = json.loads(sample_run.outputs["findings"].read_text(encoding="utf-8"))
    assert {r["source"] for r in from_reqif["requirements"]} == {"requirements.reqif"}
    assert _without_requirement_sources(from_reqif) == _without_requirement_sources(from_csv)
