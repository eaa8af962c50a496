"""The cortex-m3-qemu profile end to end, with the real arm-none-eabi-gcc, newlib, libgcov, QEMU
(mps2-an385) and arm-none-eabi-gcov.

* The sample firmware's tests, cross-compiled and run on the emulated Cortex-M3, give the host's
  test results, the host's findings and, test by test, the host's line counts.
* A test that hangs, one that faults (HardFault) and one whose coverage never comes back are
  each reported, restarted past, and never counted as covered or as a pass.
* Host and target runs merge into one analysis with provenance; the gate can require target
  evidence for a safety class.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from covguard import api
from covguard.builder.area import Area
from covguard.builder.toolchains import get_toolchain
from covguard.builder.toolchains.cortex_m import FAULT_STATUS, CortexM3Qemu, unpack_streams
from covguard.config import Settings, load_settings
from covguard.errors import ToolError
from covguard.frames import CoverageData, records
from covguard.ingest.cgcov import STREAM_MAGIC, StreamError, read_stream
from covguard.options import build_options, run_options
from covguard.run.runner import load_results
from tests.conftest import FIXTURES, SAMPLE, covguard, require

TARGET = FIXTURES / "c" / "target"
RUNTIME = Path(__file__).resolve().parent.parent / "covguard" / "runtime"
BOTH = ["host-gcc", "cortex-m3-qemu"]


def _target_tools() -> None:
    require("make", "arm-none-eabi-gcc", "qemu-system-arm", "arm-none-eabi-gcov")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`covguard run` on the sample firmware on the host, then with --toolchain cortex-m3-qemu
    (the command line, one work folder, each with its own output folder; the target run timed)."""
    require("gcc", "make")
    _target_tools()
    tmp = tmp_path_factory.mktemp("target-sample")
    work = tmp / "work"
    host = covguard("run", "--work-dir", work, "--output-dir", tmp / "host", cwd=SAMPLE)
    t0 = time.monotonic()
    target = covguard(
        "run", "--toolchain", "cortex-m3-qemu", "--work-dir", work, "--output-dir", tmp / "target", cwd=SAMPLE
    )
    seconds = time.monotonic() - t0
    settings = load_settings(SAMPLE / "covguard.toml", overrides={"work_dir": str(work)})
    return {
        "host": host,
        "target": target,
        "seconds": seconds,
        "work": work,
        "host_doc": json.loads((tmp / "host" / "findings.json").read_text()),
        "target_doc": json.loads((tmp / "target" / "findings.json").read_text()),
        "settings": settings,
    }


def _for(settings: Settings, toolchain: str, **more: Any) -> Settings:
    return settings.with_overrides(toolchain=toolchain, **more)


def test_sample_on_target_gives_the_host_results_and_findings(sample: dict[str, Any]) -> None:
    # the sample's planted defects fail the gate (exit 1) on both; nothing infrastructural (3)
    assert sample["host"].returncode == 1, sample["host"].stderr
    assert sample["target"].returncode == 1, sample["target"].stderr
    host, target = sample["host_doc"], sample["target_doc"]
    assert [(t["id"], t["status"]) for t in target["tests"]] == [
        (t["id"], t["status"]) for t in host["tests"]
    ]
    # the C tests ran on the emulated Cortex-M3 (a Python host tool's tests stay on the host)
    c_host = [t["id"] for t in host["tests"] if t["origin"] == "host"]
    c_target = [t["id"] for t in target["tests"] if t["origin"] == "qemu-cortex-m3"]
    assert c_target == c_host
    assert len(c_target) >= 63
    others = [t["origin"] for t in target["tests"] if t["id"] not in set(c_target)]
    assert others == [t["origin"] for t in host["tests"] if t["id"] not in set(c_host)]
    assert "qemu-cortex-m3" not in others
    assert all(t["coverage"] == "complete" for t in target["tests"])
    assert target["findings"] == host["findings"]
    assert len(target["findings"]) >= 8
    assert [(r["id"], r["status"]) for r in target["requirements"]] == [
        (r["id"], r["status"]) for r in host["requirements"]
    ]
    assert [(f["file"], f["function"], f["class"]) for f in target["functions"]] == [
        (f["file"], f["function"], f["class"]) for f in host["functions"]
    ]
    assert target["summary"]["coverage"] == host["summary"]["coverage"]
    # built for the target: ARM ELF images, the Cortex-M3 flags on every compile
    area = Area(build_options(_for(sample["settings"], "cortex-m3-qemu")))
    image = area.build_dir / "tests" / "test_bolus"
    assert image.read_bytes()[:4] == b"\x7fELF"
    assert image.read_bytes()[18] == 40
    commands = json.loads(area.compile_commands.read_text())
    assert all("-mcpu=cortex-m3" in c["arguments"] and "-mthumb" in c["arguments"] for c in commands)
    manifest = json.loads(area.manifest.read_text())
    assert manifest["toolchain"] == "cortex-m3-qemu"
    assert "arm-none-eabi-gcov" in manifest["compilers"]
    print(
        f"\ncortex-m3-qemu run of the sample (build, 63 tests on QEMU, analysis): {sample['seconds']:.1f} s"
    )


def _per_test(data: CoverageData) -> dict[str, pd.DataFrame]:
    cols = {
        "lines": ["test", "file", "line", "function", "count", "branches_total", "branches_covered"],
        "functions": ["test", "file", "function", "line_start", "line_end", "count"],
        "branches": ["test", "file", "line", "branch", "count"],
    }
    out: dict[str, pd.DataFrame] = {}
    for name, c in cols.items():
        df = getattr(data, name).loc[:, c].astype({k: str for k in ("test", "file", "function") if k in c})
        out[name] = df.sort_values(c, ignore_index=True)
    return out


def test_target_line_counts_agree_with_the_host_test_by_test(sample: dict[str, Any]) -> None:
    host = api.coverage(_for(sample["settings"], "host-gcc"))
    target = api.coverage(_for(sample["settings"], "cortex-m3-qemu"))
    assert set(host.lines["origin"].astype(str)) == {"host"}
    assert set(target.lines["origin"].astype(str)) == {"qemu-cortex-m3"}
    assert set(target.functions["origin"].astype(str)) == {"qemu-cortex-m3"}
    assert set(target.branches["origin"].astype(str)) == {"qemu-cortex-m3"}
    h, t = _per_test(host), _per_test(target)
    assert len(t["lines"]) > 1000
    for name in ("lines", "functions", "branches"):
        pd.testing.assert_frame_equal(t[name], h[name], obj=f"per-test {name}")
    for name in ("code_lines", "code_functions", "code_branches"):
        pd.testing.assert_frame_equal(
            getattr(target, name).astype(str), getattr(host, name).astype(str), obj=name
        )
    # the README's reference point, on the target: the below-limit test never executes the clamp
    lines = target.lines[
        (target.lines["file"] == "src/bolus.c") & (target.lines["function"] == "bolus_apply_limit")
    ]
    below = lines[lines["test"] == "test_bolus::limit_keeps_bolus_below_maximum"]
    assert sorted(below["line"].tolist()) == [107, 109, 111, 114]


def test_covguard_reads_target_data_as_arm_none_eabi_gcov_does(
    sample: dict[str, Any], tmp_path: Path
) -> None:
    """One target test's .gcda files, read by arm-none-eabi-gcov: the same line counts."""
    settings = _for(sample["settings"], "cortex-m3-qemu")
    results = load_results(run_options(settings))
    data = api.coverage(settings)
    test = "test_bolus::limit_clamps_bolus_above_maximum"
    folder = Path(results.units[test])
    gcov_counts: dict[tuple[str, int], int] = {}
    for gcda in sorted(folder.rglob("*.gcda")):
        original = Path("/" + gcda.relative_to(folder).as_posix())
        here = tmp_path / gcda.name
        shutil.copy(gcda, here)
        shutil.copy(original.with_suffix(".gcno"), here.with_suffix(".gcno"))
        out = subprocess.run(
            ["arm-none-eabi-gcov", "--json-format", "--stdout", here.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for doc in (json.loads(line) for line in out.splitlines() if line.strip()):
            for f in doc["files"]:
                shown = os.path.relpath(f["file"], SAMPLE) if os.path.isabs(f["file"]) else f["file"]
                if not shown.startswith("src/") or "hal_host" in shown:
                    continue
                for ln in f["lines"]:
                    key = (shown, int(ln["line_number"]))
                    gcov_counts[key] = gcov_counts.get(key, 0) + int(ln["count"])
    ours = data.lines[data.lines["test"] == test]
    mine = {(str(r["file"]), int(r["line"])): int(r["count"]) for r in records(ours)}
    assert {k: v for k, v in gcov_counts.items() if v} == mine
    assert ("src/bolus.c", 112) in mine


def test_host_and_target_merge_into_one_analysis(sample: dict[str, Any]) -> None:
    settings = sample["settings"].with_overrides(
        **{"analysis.runs": tuple(BOTH), "gate.require_target": ("C",)}
    )
    analysis = api.analyse(settings)
    tests = analysis.tests
    n_c = int((tests["origin"] == "host").sum())
    assert n_c >= 63
    assert int((tests["origin"] == "qemu-cortex-m3").sum()) == n_c
    assert tests["test"].is_unique
    target = tests[tests["origin"] == "qemu-cortex-m3"]
    assert target["test"].str.startswith("qemu-cortex-m3/").all()
    assert (tests[tests["origin"] == "host"]["test"].str.count("/") == 0).all()
    lines = analysis.coverage.lines
    assert {"host", "qemu-cortex-m3"} <= set(lines["origin"].astype(str))
    assert set(lines[lines["origin"] == "qemu-cortex-m3"]["test"].astype(str)) <= set(target["coverage_unit"])
    # one code universe: the same lines as either run alone
    host_alone = api.analyse(_for(sample["settings"], "host-gcc"))
    assert len(analysis.lines) == len(host_alone.lines)
    fn = analysis.functions.set_index(["file", "function"])
    assert fn.loc[("src/bolus.c", "bolus_apply_limit"), "verified_on"] == ["host", "qemu-cortex-m3"]
    # every class C function is verified on the target too: no host-only evidence, gate check passes
    assert "host_only_evidence" not in set(analysis.findings["kind"])
    verdict = api.gate(settings, analysis)
    check = next(c for c in verdict.checks if c.check == "require_target.C")
    assert check.passed
    assert check.actual == 0
    # the same planted defects: those of a test once per run, those of the code once
    kinds = analysis.findings["kind"].value_counts()
    alone = host_alone.findings["kind"].value_counts()
    assert kinds["failed_test"] == 2 * alone["failed_test"] == 2
    assert kinds["hollow_verification"] == 2 * alone["hollow_verification"] == 2
    for kind in (
        "rogue",
        "dead",
        "unverified_requirement",
        "unimplemented_requirement",
        "unknown_requirement",
    ):
        assert kinds.get(kind, 0) == alone.get(kind, 0), kind
    assert kinds["rogue"] >= 1


def test_host_only_evidence_for_classes_that_require_the_target(sample: dict[str, Any]) -> None:
    settings = _for(sample["settings"], "host-gcc", **{"gate.require_target": ("C",)})
    analysis = api.analyse(settings)
    host_only = analysis.findings[analysis.findings["kind"] == "host_only_evidence"]
    fn = analysis.functions
    # C code only: a host tool's Python runs on the PC by design
    verified_c = fn[(fn["class"] == "verified") & (fn["safety_class"] == "C") & fn["file"].str.endswith(".c")]
    assert len(verified_c) > 10
    assert set(host_only["function"]) == set(verified_c["function"])
    assert (host_only["severity"] == "warning").all()
    msg = host_only[host_only["function"] == "bolus_apply_limit"]["message"].iloc[0]
    assert "class C" in msg
    assert "on the target" in msg
    verdict = api.gate(settings, analysis)
    check = next(c for c in verdict.checks if c.check == "require_target.C")
    assert not check.passed
    assert check.actual == len(verified_c)
    # without the setting: no such finding and no such check
    plain = api.analyse(_for(sample["settings"], "host-gcc"))
    assert "host_only_evidence" not in set(plain.findings["kind"])
    assert not [c for c in api.gate(sample["settings"], plain).checks if c.check.startswith("require_target")]


# ---------------------------------------------------------------------------------------------
# the fixture images: a hang, a HardFault, coverage that never comes back


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    _target_tools()
    tmp = tmp_path_factory.mktemp("target-faults")
    project = tmp / "project"
    shutil.copytree(TARGET, project)
    make = project / "Makefile"
    make.write_text(make.read_text().replace("../../../../../covguard/runtime", str(RUNTIME)))
    proc = covguard("run", "--timeout", "3", "--output-dir", tmp / "out", cwd=project)
    doc = json.loads((tmp / "out" / "findings.json").read_text())
    return {"proc": proc, "doc": doc, "project": project, "tests": {t["id"]: t for t in doc["tests"]}}


def _lines_of(doc: dict[str, Any], test: str) -> list[Any]:
    return [f for f in doc["findings"] if f["test"] == test]


def test_a_hanging_test_is_killed_reported_and_never_counted(faults: dict[str, Any]) -> None:
    proc, tests = faults["proc"], faults["tests"]
    assert proc.returncode == 3, proc.stderr
    hung = tests["test_hang::dead_sensor_hangs"]
    assert hung["status"] == "error"
    assert hung["coverage"] == "incomplete"
    assert "timed out after 3 s (hung)" in hung["message"]
    assert "test 'dead_sensor_hangs' timed out after 3 s" in proc.stderr
    # the image restarted after the hang: the test after it ran and passed
    assert tests["test_hang::after_the_hang"]["status"] == "passed"
    assert tests["test_hang::ready_sensor_needs_no_poll"]["status"] == "passed"
    kinds = {f["kind"] for f in _lines_of(faults["doc"], "test_hang::dead_sensor_hangs")}
    assert kinds == {"failed_test", "incomplete_coverage"}


def test_a_hardfault_is_reported_with_its_registers_and_never_counted(faults: dict[str, Any]) -> None:
    proc, tests = faults["proc"], faults["tests"]
    fault = tests["test_fault::null_callback_faults"]
    assert fault["status"] == "error"
    assert fault["coverage"] == "incomplete"
    assert "stopped by a fault on the target" in fault["message"]
    assert str(FAULT_STATUS) in fault["message"]
    # the fault handler's report: which fault, where (a call through a null pointer: pc=0)
    assert "HardFault on the target: pc=0x00000000" in proc.stderr
    assert tests["test_fault::after_the_fault"]["status"] == "passed"
    assert tests["test_fault::half_scale"]["status"] == "passed"


def test_a_test_whose_coverage_never_comes_back_is_not_a_pass(faults: dict[str, Any]) -> None:
    proc, tests, doc = faults["proc"], faults["tests"], faults["doc"]
    lost = tests["test_nocov::empty_when_zero"]
    assert lost["status"] == "error"
    assert lost["coverage"] == "missing"
    assert "passed on the target, but no coverage data came back" in lost["message"]
    assert "test 'empty_when_zero' passed on the target, but no coverage data came back" in proc.stderr
    kinds = {f["kind"] for f in _lines_of(doc, "test_nocov::empty_when_zero")}
    assert kinds == {"failed_test", "incomplete_coverage"}
    # GAUGE-2 is verified by the tests whose coverage came back, never by this one
    fn = {f["function"]: f for f in doc["functions"]}
    assert fn["gauge_is_empty"]["class"] == "verified"


def test_no_coverage_of_a_failed_run_is_counted(faults: dict[str, Any]) -> None:
    """The coverage units of the hung, faulted and lost tests hold nothing in the analysis."""
    settings = load_settings(faults["project"] / "covguard.toml")
    results = load_results(run_options(settings))
    bad = {"test_hang::dead_sensor_hangs", "test_fault::null_callback_faults", "test_nocov::empty_when_zero"}
    assert not bad & set(results.units)
    data = api.coverage(settings, results=results)
    assert not bad & set(data.lines["test"].astype(str))
    assert set(data.lines["origin"].astype(str)) == {"qemu-cortex-m3"}
    good = data.lines[data.lines["test"] == "test_gauge::readings_above_full_scale_are_clamped"]
    assert sorted(good[good["function"] == "gauge_permille"]["line"].tolist()) == [5, 7, 8, 10]


# ---------------------------------------------------------------------------------------------
# coverage streams and the profile itself


def _stream_of_a_real_run(tmp: Path) -> bytes:
    """Build the fixture's clean image with covguard and run it by hand: test 0's stream."""
    project = tmp / "project"
    shutil.copytree(TARGET, project)
    make = project / "Makefile"
    make.write_text(make.read_text().replace("../../../../../covguard/runtime", str(RUNTIME)))
    settings = load_settings(project / "covguard.toml")
    api.build(settings)
    toolchain = get_toolchain("cortex-m3-qemu")
    cov = tmp / "cov"
    cov.mkdir()
    image = Area(build_options(settings)).build_dir / "tests" / "test_gauge"
    command = toolchain.run_command(image, {"COVGUARD_COVERAGE_DIR": str(cov), "COVGUARD_FIRST_TEST": "0"})
    proc = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "@@covguard\tdone\t3\t0\t0" in proc.stdout
    return (cov / "0.cgcov").read_bytes()


def test_coverage_streams_are_checked_before_use(tmp_path: Path) -> None:
    _target_tools()
    stream = _stream_of_a_real_run(tmp_path)
    files = read_stream(stream)
    assert {Path(p).name for p, _ in files} == {"gauge.gcda", "test_gauge.gcda"}
    assert all(data[:4] == b"adcg" for _, data in files)  # the .gcda magic, little-endian
    # an image that died while writing: every cut is refused, never read as low coverage
    for cut in (3, len(STREAM_MAGIC) + 3, len(stream) // 2, len(stream) - 1):
        with pytest.raises(StreamError):
            read_stream(stream[:cut])
    with pytest.raises(StreamError, match="announces"):
        read_stream(stream[:-4] + (len(files) + 1).to_bytes(4, "little"))
    evil = (
        STREAM_MAGIC + b"F" + (13).to_bytes(4, "little") + b"/../etc.gcda" + b"E" + b"Z" + bytes([1, 0, 0, 0])
    )
    with pytest.raises(StreamError, match="absolute path"):
        read_stream(evil)
    # unpacking: a good stream becomes the host layout, a bad one is set aside and reported
    cov = tmp_path / "unpack"
    cov.mkdir()
    (cov / "0.cgcov").write_bytes(stream)
    (cov / "1.cgcov").write_bytes(stream[: len(stream) // 2])
    problems = unpack_streams(cov)
    assert len(problems) == 1
    assert "test 1 is unusable" in problems[0]
    assert (cov / "1.cgcov.bad").is_file()
    assert not (cov / "1").exists()
    unpacked = sorted((cov / "0").rglob("*.gcda"))
    assert [p.name for p in unpacked] == ["gauge.gcda", "test_gauge.gcda"]
    original = "/" + unpacked[0].relative_to(cov / "0").as_posix()
    assert Path(original).with_suffix(".gcno").is_file()


def test_profile_command_and_missing_tools() -> None:
    toolchain = get_toolchain("cortex-m3-qemu")
    assert isinstance(toolchain, CortexM3Qemu)
    assert toolchain.origin == "qemu-cortex-m3"
    assert toolchain.gcov == "arm-none-eabi-gcov"
    command = toolchain.run_command(
        Path("/b/test_x"), {"COVGUARD_COVERAGE_DIR": "/w/a,b c", "COVGUARD_FIRST_TEST": "4"}
    )
    assert command[1:5] == ["-M", "mps2-an385", "-cpu", "cortex-m3"]
    assert command[-2:] == ["-kernel", "/b/test_x"]
    config = command[command.index("-semihosting-config") + 1]
    assert config.endswith(",arg=test_x,arg=4,arg=/w/a,,b c")  # QEMU's doubled comma
    assert toolchain.exit_reason(FAULT_STATUS) is not None
    assert toolchain.exit_reason(1) is None
    missing = get_toolchain("cortex-m3-qemu", cc="arm-none-eabi-gcc-not-installed")
    with pytest.raises(ToolError) as err:
        missing.check_installed()
    assert "arm-none-eabi-gcc-not-installed" in err.value.message
    assert "apt-get install --no-install-recommends gcc-arm-none-eabi" in str(err.value.hint)


def test_missing_cross_compiler_is_exit_3_with_what_to_install(tmp_path: Path) -> None:
    proc = covguard(
        "build",
        "--toolchain",
        "cortex-m3-qemu",
        "--work-dir",
        tmp_path / "work",
        "--set",
        "build.compiler=arm-none-eabi-gcc-not-installed",
        cwd=TARGET,
    )
    assert proc.returncode == 3
    assert "is not installed (needed by the cortex-m3-qemu toolchain)" in proc.stderr
    assert "libnewlib-arm-none-eabi qemu-system-arm" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_analysis_runs_is_checked(tmp_path: Path) -> None:
    from covguard.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown toolchain 'cortex-m4'"):
        load_settings(TARGET / "covguard.toml", overrides={"analysis.runs": ["host-gcc", "cortex-m4"]})
    with pytest.raises(ConfigError, match="IEC 62304 classes"):
        load_settings(TARGET / "covguard.toml", overrides={"gate.require_target": ["D"]})


def test_a_verifies_tag_counts_for_the_same_test_on_host_and_target(tmp_path: Path) -> None:
    """Host and target runs of one image, merged: a test that names its requirement in an
    `@verifies` comment (not in CG_TEST) verifies it on both, so no host-only evidence."""
    require("gcc", "make")
    _target_tools()
    project = tmp_path / "project"
    shutil.copytree(TARGET, project)
    make = project / "Makefile"
    make.write_text(make.read_text().replace("../../../../../covguard/runtime", str(RUNTIME)))
    test_file = project / "tests" / "test_gauge.c"
    test_file.write_text(
        test_file.read_text().replace(
            'CG_TEST(low_reading_is_empty, "GAUGE-2")',
            '/* @verifies GAUGE-2 */\nCG_TEST(low_reading_is_empty, "")',
        )
    )
    settings = load_settings(
        project / "covguard.toml",
        overrides={
            "build.command": "make {build_dir}/tests/test_gauge BUILD_DIR={build_dir}",
            "test.executables": ["{build_dir}/tests/test_gauge"],
            "analysis.runs": BOTH,
            "gate.require_target": ["B", "C"],
            "output_dir": str(tmp_path / "out"),
        },
    )
    outcome = api.run(settings)
    assert not outcome.problems
    analysis = outcome.analysis
    assert analysis is not None
    assert sorted(analysis.tests["test"]) == [
        "qemu-cortex-m3/test_gauge::full_scale_is_1000",
        "qemu-cortex-m3/test_gauge::low_reading_is_empty",
        "qemu-cortex-m3/test_gauge::readings_above_full_scale_are_clamped",
        "test_gauge::full_scale_is_1000",
        "test_gauge::low_reading_is_empty",
        "test_gauge::readings_above_full_scale_are_clamped",
    ]
    tr = analysis.test_requirements
    assert set(tr[tr["requirement"] == "GAUGE-2"]["test"]) == {
        "test_gauge::low_reading_is_empty",
        "qemu-cortex-m3/test_gauge::low_reading_is_empty",
    }
    fn = analysis.functions.set_index("function")
    assert fn.loc["gauge_is_empty", "verified_on"] == ["host", "qemu-cortex-m3"]
    assert "host_only_evidence" not in set(analysis.findings["kind"])
    assert outcome.gate is not None
    checks = {c.check: c for c in outcome.gate.checks}
    assert checks["require_target.C"].passed
    assert checks["require_target.B"].passed
    # the target's junit and findings carry the provenance
    doc = json.loads(outcome.outputs["findings"].read_text())
    assert {t["origin"] for t in doc["tests"]} == {"host", "qemu-cortex-m3"}
