"""The host pipeline end to end, with the real gcc, make, gcov and gcovr: build, test, per-test
coverage, and every infrastructure failure reported with a clear message and exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from covguard import api
from covguard.builder.area import Area
from covguard.config import load_settings
from covguard.ingest.collect import collect_in_place
from covguard.options import build_options
from tests.conftest import CRASHY, SAMPLE, covguard, require


def test_per_test_coverage_matches_hand_computed_lines(sample_run: api.Outcome) -> None:
    """bolus_apply_limit (src/bolus.c 107-115): the below-limit test never executes the clamp (line 112)."""
    assert sample_run.analysis is not None
    lines = sample_run.analysis.coverage.lines
    fn = lines[(lines["file"] == "src/bolus.c") & (lines["function"] == "bolus_apply_limit")]

    def executed(test: str) -> list[int]:
        return sorted(fn[fn["test"] == test]["line"].tolist())

    assert executed("test_bolus::limit_keeps_bolus_below_maximum") == [107, 109, 111, 114]
    assert executed("test_bolus::limit_clamps_bolus_above_maximum") == [107, 109, 111, 112, 114]
    # every line executed once per call: the counts are per test, not accumulated
    row = fn[(fn["test"] == "test_bolus::limit_clamps_bolus_above_maximum") & (fn["line"] == 112)]
    assert row["count"].tolist() == [1]
    # which tests executed the clamp: a query, not a report
    assert "test_bolus::limit_keeps_bolus_below_maximum" not in sample_run.analysis.coverage.tests_executing(
        "src/bolus.c", 112
    )


def test_sample_results_and_outputs(sample_run: api.Outcome) -> None:
    cases = [c for c in sample_run.results.cases if c.origin != "host-python"]  # host tool: test_sample.py
    assert len(cases) == 63
    failed = [c.test for c in cases if c.status == "failed"]
    assert failed == ["test_basal::rate_lookup_last_segment_2330_to_2400"]
    assert all(c.coverage == "complete" for c in cases)
    assert sample_run.gate is not None
    assert not sample_run.gate.passed
    assert sample_run.exit_code == 1
    doc = json.loads(sample_run.outputs["findings"].read_text())
    assert doc["schema"] == "covguard.findings/1"
    junit = sample_run.outputs["junit"].read_text()
    assert 'name="requirement" value="PUMP-SRS-004"' in junit
    assert junit.count("<failure") == 1


def test_totals_equal_gcovr(sample_run: api.Outcome, tmp_path: Path) -> None:
    """Per-file line, branch and function totals of covguard's decoder equal gcovr's on the sample,
    for a plain (not per-test) run of the same executables."""
    require("gcov")
    settings = load_settings(SAMPLE / "covguard.toml", overrides={"work_dir": str(tmp_path / "work")})
    manifest = api.build(settings)
    area = Area(build_options(settings))
    for exe in sorted((area.build_dir / "tests").iterdir()):
        subprocess.run(
            [exe],
            capture_output=True,
            check=False,
            env={k: v for k, v in os.environ.items() if "COV" not in k},
        )
    keep = api.source_filter(settings)
    ours = collect_in_place(manifest, root=SAMPLE, keep=keep).file_totals()
    summary = tmp_path / "gcovr.json"
    subprocess.run(
        [sys.executable, "-m", "gcovr", "--root", SAMPLE, "--filter", str(SAMPLE / "src"), "--exclude",
         str(SAMPLE / "src" / "hal_host.c"), "--json-summary", summary, area.build_dir],
        check=True, capture_output=True,
    )  # fmt: skip
    theirs = {f["filename"]: f for f in json.loads(summary.read_text())["files"]}
    assert set(theirs) == set(ours.index)
    for file, row in ours.iterrows():
        g = theirs[str(file)]
        assert (row["lines"], row["lines_covered"]) == (g["line_total"], g["line_covered"]), file
        assert (row["branches"], row["branches_covered"]) == (g["branch_total"], g["branch_covered"]), file
        assert (row["functions"], row["functions_covered"]) == (g["function_total"], g["function_covered"]), (
            file
        )
    # and the per-test run, merged, counts exactly what the plain run counts
    assert sample_run.analysis is not None
    per_test = sample_run.analysis.coverage.file_totals()
    per_test = per_test[~per_test.index.str.endswith(".py")]  # the host tool's Python: no gcovr there
    assert per_test.equals(ours)


def _crashy(tmp_path: Path) -> Path:
    project = tmp_path / "crashy"
    shutil.copytree(CRASHY, project)
    return project


def test_crash_and_hang_fail_their_tests_and_the_rest_goes_on(tmp_path: Path) -> None:
    require("gcc", "make")
    project = _crashy(tmp_path)
    env = {"CRASHY_SEGV": "1", "CRASHY_HANG": "1", "CRASHY_ABORT": "1"}
    proc = covguard("run", "--timeout", "2", cwd=project, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "test 'crashes_with_segv' killed by SIGSEGV" in proc.stderr
    assert "test 'aborts' killed by SIGABRT" in proc.stderr
    assert "test 'hangs' timed out after 2 s" in proc.stderr
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    status = {t["name"]: (t["status"], t["coverage"]) for t in doc["tests"]}
    assert status == {
        "adds": ("passed", "complete"),
        "crashes_with_segv": ("error", "incomplete"),
        "aborts": ("error", "incomplete"),
        "hangs": ("error", "incomplete"),
        "after_the_trouble": ("passed", "complete"),
    }
    kinds = sorted((f["kind"], f.get("test")) for f in doc["findings"] if f["kind"] == "incomplete_coverage")
    assert [t for _, t in kinds] == ["test_calc::aborts", "test_calc::crashes_with_segv", "test_calc::hangs"]
    assert doc["gate"]["passed"] is False


def test_clean_project_passes(tmp_path: Path) -> None:
    require("gcc", "make")
    project = _crashy(tmp_path)
    proc = covguard("run", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gate: PASSED" in proc.stdout


def test_missing_config_is_exit_2(tmp_path: Path) -> None:
    proc = covguard("run", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no covguard configuration found" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_build_failure_is_exit_3_with_the_compiler_message(tmp_path: Path) -> None:
    require("gcc", "make")
    project = _crashy(tmp_path)
    (project / "src" / "calc.c").write_text("int add(int a, int b) { return a + ; }\n")
    proc = covguard("build", cwd=project)
    assert proc.returncode == 3
    assert "the build failed" in proc.stderr
    assert "calc.c:1" in proc.stderr
    assert "error" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_test_executables_is_exit_2(tmp_path: Path) -> None:
    require("gcc", "make")
    project = _crashy(tmp_path)
    assert covguard("build", cwd=project).returncode == 0
    proc = covguard("test", "--set", 'test.executables=["{build_dir}/nothing/*"]', cwd=project)
    assert proc.returncode == 2
    assert "no test executables found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_objects_stay_out_of_the_source_tree(tmp_path: Path) -> None:
    require("gcc", "make")
    project = _crashy(tmp_path)
    before = {p.relative_to(project) for p in project.rglob("*")}
    assert covguard("build", cwd=project).returncode == 0
    created = {p.relative_to(project) for p in project.rglob("*")} - before
    assert all(p.parts[0] == ".covguard" for p in created), created
    area = project / ".covguard" / "host-gcc"
    commands = json.loads((area / "compile_commands.json").read_text())
    assert {Path(c["file"]).name for c in commands} == {"calc.c", "test_calc.c"}
    assert all("--coverage" in c["arguments"] for c in commands)
    manifest = json.loads((area / "build.json").read_text())
    assert str(project / "src" / "calc.c") in manifest["source_hashes"]


def test_cli_stays_thin() -> None:
    """The command line imports no pandas, lxml or subprocess: its logic lives in covguard.api."""
    code = (
        "import sys, covguard.cli; "
        "print(sorted(m for m in ('pandas', 'lxml', 'subprocess', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
