"""Never a wrong verdict: each fault built for real with gcc, make, libgcov and gcov-tool, and the
exact outcome covguard gives for it (issue "faults, bad input and hostile files")."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from covguard.builder.toolchains.base import require_matching_gcov
from covguard.errors import ToolError
from covguard.ingest.cgcov import pack_run_file, read_run_file
from tests.conftest import CRASHY, covguard, require, run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    require("gcc", "make")
    dest = tmp_path / "crashy"
    shutil.copytree(CRASHY, dest)
    return dest


def built_and_tested(project: Path) -> Path:
    """`covguard build` and `covguard test`; returns the toolchain's work area."""
    assert covguard("build", cwd=project).returncode == 0
    proc = covguard("test", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project / ".covguard" / "host-gcc"


def run_file(area: Path) -> Path:
    """The run file of test_calc's process: every test's stream (only the objects it touched)."""
    files = sorted((area / "run" / "coverage" / "test_calc").glob("*.cgcovs"))
    assert len(files) == 1, files
    return files[0]


def per_test_gcda(area: Path, test_index: int, name: str = "calc.gcda") -> Path:
    """The test's data file in libgcov's layout (``<index>/<object path>.gcda``, what libgcov's
    exit handler writes for a test that calls exit()): the test's stream moved there from the run
    file, so these faults exercise that reader too."""
    folder = area / "run" / "coverage" / "test_calc" / str(test_index)
    run = run_file(area)
    records = read_run_file(run.read_bytes())
    for path, data in dict(records).get(test_index, []):
        (folder / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (folder / path.lstrip("/")).write_bytes(data)
    run.write_bytes(pack_run_file([r for r in records if r[0] != test_index]))
    hits = sorted(folder.rglob(name))
    assert len(hits) == 1, hits
    return hits[0]


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


# 1 -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_gcda_fails_naming_the_file(project: Path, damage: str) -> None:
    area = built_and_tested(project)
    gcda = per_test_gcda(area, 0)
    data = gcda.read_bytes()
    gcda.write_bytes(
        {"truncated": data[: len(data) // 2], "empty": b"", "garbage": os.urandom(len(data))}[damage]
    )
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert str(gcda) in proc.stderr
    assert "corrupt coverage data" in proc.stderr or "another build" in proc.stderr
    no_traceback(proc)


# 2 -----------------------------------------------------------------------------------------------
def test_gcda_from_another_build_fails_naming_both_files(project: Path) -> None:
    area = built_and_tested(project)
    (project / "src" / "calc.c").touch()  # recompiled with a new stamp; same text, same hash
    time.sleep(0.01)
    assert covguard("build", cwd=project).returncode == 0
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "from another build" in proc.stderr
    assert re.search(
        rf"{re.escape(str(area))}/run/coverage/test_calc/from-0\.cgcovs\[test \d+\]:/\S+/calc\.gcda",
        proc.stderr,
    )
    assert str(area / "build" / "obj" / "src" / "calc.gcno") in proc.stderr
    no_traceback(proc)


@pytest.mark.parametrize("cut", ["trailer", "record", "header"])
def test_truncated_stream_is_refused_naming_it(project: Path, cut: str) -> None:
    """A run file cut short (the process died while writing it) is never read as "the last test
    touched fewer objects"."""
    area = built_and_tested(project)
    run = run_file(area)
    data = run.read_bytes()
    assert data.startswith(b"T")
    assert data[-5:-4] == b"Z"
    run.write_bytes({"trailer": data[:-5], "record": data[: len(data) // 2], "header": data[:3]}[cut])
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "corrupt coverage stream" in proc.stderr
    assert str(run) in proc.stderr
    no_traceback(proc)


def test_damaged_object_in_a_stream_is_refused(project: Path) -> None:
    area = built_and_tested(project)
    run = run_file(area)
    records = read_run_file(run.read_bytes())
    objects = dict(records)[0]
    path = next(p for p, _ in objects if p.endswith("/calc.gcda"))
    damaged = [(p, d[: len(d) // 2] if p == path else d) for p, d in objects]
    run.write_bytes(pack_run_file([(i, damaged if i == 0 else o) for i, o in records]))
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "corrupt coverage data" in proc.stderr
    assert f"{run}[test 0]:{path}" in proc.stderr
    no_traceback(proc)


def test_missing_stream_is_not_touched_nothing(project: Path) -> None:
    """Untouched objects are left out of a test's stream, but a test whose stream never came back
    is reported, not counted as a test that touched nothing; a test written twice is refused."""
    area = built_and_tested(project)
    run = run_file(area)
    records = read_run_file(run.read_bytes())
    run.write_bytes(pack_run_file([r for r in records if r[0] != 2]))
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "no coverage data where expected for 1 of" in proc.stderr
    no_traceback(proc)
    run.write_bytes(pack_run_file(records))
    run.with_name("from-3.cgcovs").write_bytes(pack_run_file([r for r in records if r[0] == 3]))
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "the coverage of test 3 was written twice" in proc.stderr
    no_traceback(proc)


def test_gcda_without_its_notes_fails_naming_both_paths(project: Path) -> None:
    area = built_and_tested(project)
    gcda = per_test_gcda(area, 0)
    stray = gcda.with_name("vendor_blob.gcda")
    shutil.copy(gcda, stray)
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "coverage data without its notes file" in proc.stderr
    assert str(stray) in proc.stderr
    assert "vendor_blob.gcno" in proc.stderr
    no_traceback(proc)


# 3 -----------------------------------------------------------------------------------------------
def test_notes_without_data_is_legitimately_never_executed(project: Path) -> None:
    (project / "src" / "extra.c").write_text("/* @req CALC-1 */\nint twice(int x) { return 2 * x; }\n")
    mk = project / "Makefile"
    mk.write_text(
        mk.read_text().replace(
            "tests: $(BUILD_DIR)/tests/test_calc",
            "tests: $(BUILD_DIR)/tests/test_calc $(BUILD_DIR)/obj/src/extra.o",
        )
    )
    proc = covguard("run", cwd=project)
    assert proc.returncode == 1, proc.stderr  # a gate failure, not an infrastructure failure
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    fn = {f["function"]: f for f in doc["functions"]}
    assert fn["twice"]["executed"] is False
    assert fn["twice"]["class"] == "traced_untested"
    assert fn["twice"]["coverage"]["lines_total"] == 1  # in the denominator, at 0 %


# 4 -----------------------------------------------------------------------------------------------
def test_source_changed_after_the_build_is_refused(project: Path) -> None:
    built_and_tested(project)
    calc = project / "src" / "calc.c"
    calc.write_text(calc.read_text().replace("return a + b;", "return b + a;"))
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "src/calc.c: changed after the build" in proc.stderr
    calc.unlink()
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "src/calc.c: missing" in proc.stderr
    no_traceback(proc)


# 5 -----------------------------------------------------------------------------------------------
def test_stale_data_is_cleared_before_each_run(project: Path) -> None:
    area = built_and_tested(project)
    stale = per_test_gcda(area, 0).read_bytes()
    # an earlier build's data left where this run's test 0 will write: it must not be merged
    (project / "src" / "calc.c").touch()
    assert covguard("build", cwd=project).returncode == 0
    target = per_test_gcda(area, 0)
    target.write_bytes(stale)
    proc = covguard("run", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_libgcov_profiling_error_fails_the_run(project: Path, tmp_path: Path) -> None:
    area = built_and_tested(project)
    old = tmp_path / "old_test_calc"
    shutil.copy(area / "build" / "tests" / "test_calc", old)  # a stale build of the tests
    calc = project / "src" / "calc.c"
    calc.write_text(calc.read_text().replace("return a + b;", "int s = a + b;\n    return s;"))
    # test 'adds' runs the stale program, which writes data of the old build where libgcov then merges
    helper = f"env -u CRASHY_HELPER {old} >/dev/null 2>&1"
    proc = covguard("run", cwd=project, env={"CRASHY_HELPER": helper})
    assert proc.returncode == 3
    # the stale program's harness took the run file first (the test's own dump then complains on
    # stderr): its data, of another build, is refused by name
    assert "libgcov reported a coverage data problem" in proc.stderr or (
        "coverage data is from another build" in proc.stderr and "from-0.cgcovs[test " in proc.stderr
    )
    no_traceback(proc)


# 6 is in test_pipeline.py (crash, abort, signal and hang); here: the gate fails as well -----------
def test_crash_makes_the_gate_fail(project: Path) -> None:
    proc = covguard("run", cwd=project, env={"CRASHY_SEGV": "1"})
    assert proc.returncode == 3
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    assert doc["gate"]["passed"] is False
    assert {f["check"] for f in doc["gate"]["failures"]} >= {"max_findings.incomplete_coverage"}


# 7 -----------------------------------------------------------------------------------------------
def test_second_run_on_the_same_work_folder_refuses(project: Path) -> None:
    env = {**os.environ, "CRASHY_HANG": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "covguard", "run", "--timeout", "4"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (project / ".covguard" / "host-gcc" / "run").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = covguard("run", cwd=project)
        assert second.returncode == 3
        assert "in use by another covguard run" in second.stderr
        assert "--work-dir" in second.stderr
        no_traceback(second)
    finally:
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 3, err  # the hang
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    assert len(doc["tests"]) == 5  # the first run's results are intact


# 8 -----------------------------------------------------------------------------------------------
def test_moved_build_tree_is_noticed(project: Path) -> None:
    built_and_tested(project)
    (project / ".covguard").rename(project / "moved")
    proc = covguard("analyse", "--work-dir", "moved", cwd=project)
    assert proc.returncode == 3
    assert "no coverage notes where the build left them" in proc.stderr
    no_traceback(proc)


def test_no_coverage_data_at_all_is_never_a_pass(project: Path) -> None:
    mk = project / "Makefile"
    mk.write_text(mk.read_text().replace("$(CC)", "gcc"))  # a build that ignores CC
    proc = covguard("run", cwd=project)
    assert proc.returncode == 3
    assert "produced no coverage notes" in proc.stderr
    no_traceback(proc)


def test_coverage_written_elsewhere_is_noticed(project: Path) -> None:
    """Tests that write their data somewhere else (here: they set their own GCOV_PREFIX)."""
    assert covguard("build", cwd=project).returncode == 0
    built = project / ".covguard" / "host-gcc" / "build" / "tests" / "test_calc"
    real = built.parent.parent / "real_test_calc"
    built.rename(real)  # only the wrapper below is a test executable now
    wrapper = built.with_name("test_calc_elsewhere")
    wrapper.write_text(f"#!/bin/sh\nexec env COVGUARD_COVERAGE_DIR={project}/elsewhere {real}\n")
    wrapper.chmod(0o755)
    proc = covguard("test", cwd=project)
    assert proc.returncode == 0
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "no coverage data where expected" in proc.stderr
    no_traceback(proc)


# 9 -----------------------------------------------------------------------------------------------
def test_gcov_of_another_compiler_is_refused() -> None:
    require("gcov", "llvm-cov-19")
    require_matching_gcov("gcov", "B22*")  # gcc 12.2's notes and gcc 12.2's gcov
    with pytest.raises(ToolError, match=r"written by GCC 12\.2") as exc:
        require_matching_gcov("llvm-cov-19", "B22*")
    assert exc.value.hint
    assert "arm-none-eabi-gcov" in exc.value.hint


# 10 ----------------------------------------------------------------------------------------------
def test_huge_counts_are_accepted_and_negative_rejected(project: Path, tmp_path: Path) -> None:
    area = built_and_tested(project)
    folder = per_test_gcda(area, 0).parent
    scaled = tmp_path / "scaled"
    run(["gcov-tool", "rewrite", "-s", "5000000000", "-o", scaled, folder])
    shutil.copy(scaled / "calc.gcda", folder / "calc.gcda")
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 0, proc.stderr
    from covguard import api
    from covguard.config import load_settings

    data = api.coverage(load_settings(project / "covguard.toml"))
    counts = data.lines[(data.lines["test"] == "test_calc::adds") & (data.lines["file"] == "src/calc.c")][
        "count"
    ]
    assert int(counts.max()) >= 5_000_000_000 > 2**32
    # a negative counter (a corrupted file): rejected, named
    raw = bytearray((folder / "calc.gcda").read_bytes())
    at = first_counter(bytes(raw))
    raw[at : at + 8] = (-5).to_bytes(8, "little", signed=True)
    (folder / "calc.gcda").write_bytes(bytes(raw))
    proc = covguard("analyse", cwd=project)
    assert proc.returncode == 3
    assert "negative execution count" in proc.stderr
    assert str(folder / "calc.gcda") in proc.stderr


def first_counter(data: bytes) -> int:
    """Byte offset of the first stored arc counter of a .gcda (records: tag, length, payload)."""
    pos = 16
    while pos + 8 <= len(data):
        tag = int.from_bytes(data[pos : pos + 4], "little")
        length = int.from_bytes(data[pos + 4 : pos + 8], "little", signed=True)
        if tag == 0x01A10000 and length > 0:
            return pos + 8
        pos += 8 + max(length, 0)
    raise AssertionError("no stored counters")


# 11 ----------------------------------------------------------------------------------------------
def test_same_function_at_different_lines_is_merged_by_a_recorded_rule(project: Path) -> None:
    (project / "src" / "variant.c").write_text(
        "/* @req CALC-1 */\n#ifdef VARIANT_B\nint scaled(int x) { return x * 3; }\n#else\n"
        "int scaled(int x)\n{\n    return x * 2;\n}\n#endif\n"
    )
    (project / "tests" / "test_variant.c").write_text(
        '#include "covguard_test.h"\nint scaled(int x);\n'
        'CG_TEST(scales, "CALC-1") { CG_ASSERT(scaled(2) == 4 || scaled(2) == 6); }\nCG_MAIN()\n'
    )
    mk = project / "Makefile"
    mk.write_text(
        mk.read_text() + "\ntests: $(BUILD_DIR)/tests/test_variant_a $(BUILD_DIR)/tests/test_variant_b\n"
        "$(BUILD_DIR)/obj/variant_b.o: src/variant.c\n\t@mkdir -p $(dir $@)\n"
        "\t$(CC) $(CPPFLAGS) $(CFLAGS) -DVARIANT_B -c $< -o $@\n"
        "$(BUILD_DIR)/tests/test_variant_a: $(BUILD_DIR)/obj/tests/test_variant.o "
        "$(BUILD_DIR)/obj/src/variant.o\n"
        "\t@mkdir -p $(dir $@)\n\t$(CC) $(LDFLAGS) $^ -o $@\n"
        "$(BUILD_DIR)/tests/test_variant_b: $(BUILD_DIR)/obj/tests/test_variant.o "
        "$(BUILD_DIR)/obj/variant_b.o\n"
        "\t@mkdir -p $(dir $@)\n\t$(CC) $(LDFLAGS) $^ -o $@\n"
    )
    proc = covguard("run", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    fn = next(f for f in doc["functions"] if f["function"] == "scaled")
    assert (fn["line_start"], fn["line_end"]) == (3, 8)
    notes = [p["message"] for p in doc["problems"] if p["severity"] == "note"]
    assert any("'scaled' has different extents" in n and "merged as lines 3-8" in n for n in notes), notes


# 12 ----------------------------------------------------------------------------------------------
def test_source_through_a_symlink_outside_the_root_is_flagged(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "vendor"
    outside.mkdir()
    (outside / "ext.c").write_text("/* @req CALC-1 */\nint ext_add(int a, int b) { return a + b; }\n")
    (project / "src" / "ext.c").symlink_to(outside / "ext.c")
    (project / "tests" / "test_ext.c").write_text(
        '#include "covguard_test.h"\nint ext_add(int a, int b);\n'
        'CG_TEST(ext_adds, "CALC-1") { CG_ASSERT_EQ_INT(3, ext_add(1, 2)); }\nCG_MAIN()\n'
    )
    mk = project / "Makefile"
    mk.write_text(
        mk.read_text() + "\ntests: $(BUILD_DIR)/tests/test_ext\n"
        "$(BUILD_DIR)/tests/test_ext: $(BUILD_DIR)/obj/tests/test_ext.o $(BUILD_DIR)/obj/src/ext.o\n"
        "\t@mkdir -p $(dir $@)\n\t$(CC) $(LDFLAGS) $^ -o $@\n"
    )
    proc = covguard("run", cwd=project)
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    fn = next(f for f in doc["functions"] if f["function"] == "ext_add")
    assert fn["file"] == "src/ext.c"
    assert fn["class"] == "verified"
    flagged = [f for f in doc["findings"] if f["kind"] == "source_problem" and f["file"] == "src/ext.c"]
    assert flagged
    assert "outside the project root" in flagged[0]["message"]
    assert proc.returncode in (0, 1)


# 13 ----------------------------------------------------------------------------------------------
def test_odd_source_bytes_do_not_stop_the_analysis(project: Path) -> None:
    calc = project / "src" / "calc.c"
    text = calc.read_text().replace("\n", "\r\n")
    body = (
        b"\xef\xbb\xbf"  # BOM
        + text.encode()
        + b"/* caf\xe9 (latin-1) and a NUL \x00 here */\r\n"
        + b"/* "
        + b"x" * 100_000
        + b" */\r\n"
        + b"/* @req CALC-1 */\r\nint odd(void) { return 1; }\r\n"
    )
    calc.write_bytes(body)
    proc = covguard("run", cwd=project)
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    fn = {f["function"]: f for f in doc["functions"]}
    assert fn["odd"]["requirements"] == ["CALC-1"]
    assert fn["add"]["requirements"] == ["CALC-1"]
    messages = " ".join(p["message"] for p in doc["problems"])
    assert "non-UTF-8" in messages
    assert "NUL" in messages


# 14-16: bad requirement files stop the run before anything is built or written -----------------
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("id,title,safety_class\nCALC-1,Adds,A\nCALC-1 ,Again,B\n", "duplicate requirement ID 'CALC-1'"),
        ("id,title,safety_class\nCALC-\u04201,Adds,A\n", "U+0420"),
        ("id,title,safety_class\nCALC-1\u202e,Adds,A\n", "U+202E"),
        ("id,title,id\nCALC-1,Adds,A\n", "duplicate"),
    ],
    ids=["duplicate-id", "look-alike", "bidi", "duplicate-header"],
)
def test_bad_requirements_stop_the_run_first(project: Path, content: str, expected: str) -> None:
    (project / "requirements.csv").write_text(content, encoding="utf-8")
    proc = covguard("run", cwd=project)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "requirements.csv" in proc.stderr
    assert not (project / ".covguard" / "host-gcc" / "build").exists()  # nothing built
    assert not (project / "covguard-report").exists()  # nothing written
    no_traceback(proc)


def test_hostile_reqif_is_rejected_before_analysis(project: Path) -> None:
    (project / "requirements.reqif").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<REQ-IF xmlns="http://www.omg.org/spec/ReqIF/20110401/reqif.xsd">&x;</REQ-IF>\n'
    )
    proc = covguard("run", "--set", 'requirements=["requirements.reqif"]', cwd=project)
    assert proc.returncode == 2
    assert "requirements.reqif" in proc.stderr
    assert not (project / "covguard-report").exists()
    no_traceback(proc)


# 17 ----------------------------------------------------------------------------------------------
def test_read_only_output_folder(project: Path) -> None:
    out = project / "covguard-report"
    assert covguard("run", cwd=project).returncode == 0
    before = (out / "findings.json").read_bytes()
    if os.geteuid() == 0:  # root ignores permissions: make the folder a read-only mount instead
        ro = subprocess.run(["mount", "--bind", out, out], capture_output=True, check=False)
        ro2 = subprocess.run(["mount", "-o", "remount,ro,bind", out], capture_output=True, check=False)
        if ro.returncode or ro2.returncode:
            subprocess.run(["umount", out], check=False)
            pytest.skip("cannot make a read-only bind mount here")
        undo = ["umount", str(out)]
    else:
        out.chmod(0o555)
        undo = ["chmod", "755", str(out)]
    try:
        proc = covguard("run", cwd=project)
    finally:
        subprocess.run(undo, check=False)
    assert proc.returncode == 3
    assert "read-only" in proc.stderr or "permission denied" in proc.stderr
    assert (out / "findings.json").read_bytes() == before
    assert not list(out.glob(".*.tmp"))
    no_traceback(proc)


def test_disk_full_leaves_earlier_outputs_intact(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "small"
    out.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", out], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (out / "findings.json").write_text("{}\n")  # an earlier output
        proc = covguard("run", "--output-dir", out, cwd=project)
        assert proc.returncode == 3
        assert "disk is full" in proc.stderr
        assert (out / "findings.json").read_text() == "{}\n"
        assert not list(out.glob(".*.tmp"))
        no_traceback(proc)
    finally:
        subprocess.run(["umount", out], check=False)


# 18 ----------------------------------------------------------------------------------------------
def test_ctrl_c_kills_children_releases_the_lock_and_writes_nothing(project: Path) -> None:
    env = {**os.environ, "CRASHY_HANG": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "covguard", "run", "--timeout", "60"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    logs = project / ".covguard" / "host-gcc" / "run" / "logs" / "test_calc"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = [p for p in logs.glob("stdout.*.txt") if "begin\t3\thangs" in p.read_text(errors="replace")]
        if started:
            break
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130, err
    assert "interrupted" in err
    no_traceback(subprocess.CompletedProcess([], 0, "", err))
    alive = subprocess.run(
        ["pgrep", "-f", str(project / ".covguard")], capture_output=True, text=True, check=False
    )
    assert alive.stdout.strip() == "", "a test process outlived covguard"
    assert not (project / "covguard-report" / "findings.json").exists()
    assert covguard("build", cwd=project).returncode == 0  # the lock was released
