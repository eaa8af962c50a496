"""The sample firmware's planted defects, found exactly: right kind, file, function, line - and
nothing clean flagged (sample_firmware/README.md lists each defect)."""

from __future__ import annotations

from typing import Any

import pandas as pd

HOLLOW_TEST = "test_pump::occlusion_alarm_stops_delivery"
FAILING_TEST = "test_basal::rate_lookup_last_segment_2330_to_2400"


def _set(findings: pd.DataFrame) -> set[tuple[Any, ...]]:
    rows = findings[findings["kind"] != "uncovered_lines"]
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
    got = _set(analysis.findings)
    expected = {
        # 1. the hidden factory command: reachable from the radio, traced to nothing, executed while
        #    testing the dispatch requirement
        ("rogue", "src/cmd.c", "cmd_factory_bolus", 222, None, None),
        # 2. the legacy function nothing calls (reported as dead once reachability runs)
        ("rogue", "src/bolus.c", "legacy_bolus_calc_v1", 176, None, None),
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
    status = dict(zip(analysis.requirements["id"], analysis.requirements["status"], strict=True))
    assert status["PUMP-SRS-007"] == "failing"
    assert status["PUMP-SRS-022"] == "unimplemented"
    assert status["PUMP-SRS-023"] == "unverified"
    assert sum(s == "verified" for s in status.values()) == 22


def test_only_expected_lines_are_left_uncovered(sample_run: Any) -> None:
    """The factory command's argument check is the one line of traced code no test reaches."""
    lines = sample_run.analysis.lines
    unexecuted = lines[lines["class"] == "unexecuted"]
    assert sorted(zip(unexecuted["file"], unexecuted["line"], strict=True)) == [
        ("src/bolus.c", ln)
        for ln in range(176, 186)
        if ln in set(lines[lines["function"] == "legacy_bolus_calc_v1"]["line"])
    ] + [("src/cmd.c", 225)]
