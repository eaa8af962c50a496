"""Python software items: coverage.py data read through its own API, function extents and tags from
``ast``, the pytest plugin and the pytest suite run by ``covguard test`` - with real pytest and
coverage.py runs (no hand-made data files), beside a C firmware built and run with the real gcc."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from covguard import api, pytest_plugin
from covguard.config import load_settings
from covguard.errors import ConfigError, CoverageDataError, InputError
from covguard.ingest.coverage_py import context_unit, read_coverage, source_files
from covguard.options import run_options
from covguard.run import pytest_runner
from covguard.trace.python_ast import function_frame, functions_of, owners, parse, scan_python
from covguard.trace.tags import attach_to_functions
from tests.conftest import FIXTURES, SAMPLE, require
from tests.test_golden import compare_golden, scrub

PYTHON = FIXTURES / "python"
MIXED = PYTHON / "mixed"
CORE = "pysrc/calc/core.py"
TEST_FILE = "pytests/check_core.py"


def copy_mixed(dest: Path) -> Path:
    project = dest / "mixed"
    shutil.copytree(MIXED, project, ignore=shutil.ignore_patterns("*.golden.*", "*.actual.*"))
    shutil.copy(FIXTURES / "golden" / "common.mk", dest / "common.mk")
    return project


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> api.Outcome:
    """`covguard run` on a C firmware with a Python software item (tests/fixtures/python/mixed)."""
    require("gcc", "make")
    project = copy_mixed(tmp_path_factory.mktemp("mixed"))
    return api.run(load_settings(project / "covguard.toml"))


def _analysis(outcome: api.Outcome) -> Any:
    assert outcome.analysis is not None
    return outcome.analysis


def _python_run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run the interpreter of these tests (pytest, coverage and pytest-cov are installed in it)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "COVGUARD_"))}
    proc = subprocess.run(
        [sys.executable, *args],
        check=False,
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: the fixture's failing test


# ---------------------------------------------------------------------------------------------
# C and Python in one run


def test_mixed_findings_golden(mixed: api.Outcome) -> None:
    doc = scrub(json.loads(mixed.outputs["findings"].read_text(encoding="utf-8")))
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    compare_golden(text, MIXED / "findings.golden.json")


def test_python_functions_are_classified_like_c_functions(mixed: api.Outcome) -> None:
    fn = _analysis(mixed).functions
    got = dict(zip(fn["file"] + ":" + fn["function"], fn["class"], strict=True))
    assert got == {
        "src/sat.c:sat_add": "verified",
        f"{CORE}:clamp": "verified",
        f"{CORE}:Scaler.__init__": "verified",  # @req in its docstring
        f"{CORE}:Scaler.double": "verified",  # @req above its decorator
        f"{CORE}:Scaler.scale": "verified",
        f"{CORE}:Scaler.scale.step": "verified",  # nested; @req in a trailing comment of its body
        f"{CORE}:describe": "incidental",  # executed only by an untagged test
        f"{CORE}:untraced_helper": "rogue",
        "pysrc/calc/legacy.py:old_clamp": "traced_untested",  # its module is never imported
    }
    python = fn[fn["file"].str.endswith(".py")]
    assert python["reachable"].isna().all()  # unknown for Python: never "dead"
    findings = _analysis(mixed).findings
    rogue = findings[findings["function"] == "untraced_helper"].iloc[0]
    assert rogue["tests"] == [f"{TEST_FILE}::test_scale[2]", f"{TEST_FILE}::test_scale[4]"]
    assert rogue["suggested_requirements"] == ["MX-3"]  # from a `# @verifies` comment, both cases
    incidental = findings[findings["kind"] == "incidental"].iloc[0]
    assert incidental["tests"] == [f"{TEST_FILE}::test_describe_without_a_requirement"]


def test_a_module_never_imported_counts_as_unexecuted(mixed: api.Outcome) -> None:
    analysis = _analysis(mixed)
    lines = analysis.lines[analysis.lines["file"] == "pysrc/calc/legacy.py"]
    assert lines.loc[:, ["line", "function", "class"]].to_dict(orient="records") == [
        {"line": 6, "function": "old_clamp", "class": "unexecuted"}
    ]
    old = analysis.functions[analysis.functions["function"] == "old_clamp"].iloc[0]
    assert (bool(old["executed"]), int(old["lines_total"])) == (False, 1)


def test_a_branch_only_one_test_takes(mixed: api.Outcome) -> None:
    cov = _analysis(mixed).coverage
    low, high = f"{TEST_FILE}::test_clamp_keeps_low_values", f"{TEST_FILE}::test_clamp_limits_high_values"
    assert cov.tests_executing(CORE, 9) == [high]  # `return high`
    assert cov.tests_executing(CORE, 10) == [low]
    code = cov.code_branches[cov.code_branches["file"] == CORE]
    assert code.loc[:, ["line", "branch"]].to_dict(orient="records") == [
        {"line": 8, "branch": 0},
        {"line": 8, "branch": 1},
    ]
    taken = cov.branches[(cov.branches["file"] == CORE) & (cov.branches["line"] == 8)]
    assert sorted(zip(taken["test"].astype(str), taken["branch"], strict=True)) == sorted(
        [(high, 0), (low, 1)]
    )
    rows = cov.lines[(cov.lines["file"] == CORE) & (cov.lines["line"] == 8)]
    assert set(
        zip(rows["test"].astype(str), rows["branches_total"], rows["branches_covered"], strict=True)
    ) == {
        (low, 2, 1),
        (high, 2, 1),
    }
    line8 = _analysis(mixed).lines.set_index(["file", "line"]).loc[(CORE, 8)]
    assert (int(line8["branches_covered_any"]), int(line8["branches_verified"])) == (2, 2)


def test_per_test_contexts_from_covguards_plugin(mixed: api.Outcome) -> None:
    cases = [c for c in mixed.results.cases if c.origin == "host-python"]
    assert [(c.name, c.status, c.verifies, c.line) for c in cases] == [
        ("test_clamp_keeps_low_values", "passed", ("MX-2",), 8),
        ("test_clamp_limits_high_values", "passed", ("MX-2",), 13),
        ("test_scale[2]", "passed", (), 19),  # the `def` line, below its decorator
        ("test_scale[4]", "passed", (), 19),
        ("test_describe_without_a_requirement", "passed", (), 24),
        ("test_scale_by_zero_fails", "failed", ("MX-3",), 29),
    ]
    assert all(c.coverage_unit == c.test and c.executable == TEST_FILE for c in cases)
    assert cases[-1].message == "assert 0 == 1"
    cov = _analysis(mixed).coverage
    python_units = set(cov.lines[cov.lines["origin"] == "host-python"]["test"].astype(str))
    assert python_units == {c.test for c in cases}  # each parametrised case has its own coverage
    step = cov.lines[cov.lines["function"] == "Scaler.scale.step"]
    assert sorted(step["test"].astype(str)) == sorted(c.test for c in cases if "scale" in c.name)


def test_python_results_in_junit_and_no_writes_into_the_sources(mixed: api.Outcome) -> None:
    junit = mixed.outputs["junit"].read_text(encoding="utf-8")
    assert f'<testsuite name="{TEST_FILE}" tests="6" failures="1"' in junit
    root = Path(_analysis(mixed).settings["root"])
    left = {p.name for p in root.rglob("*") if p.name in ("__pycache__", ".pytest_cache", ".coverage")}
    assert left == set()


def test_analyse_reads_the_stored_python_results(mixed: api.Outcome) -> None:
    """`covguard analyse` later, from the work folder: the same findings."""
    settings = load_settings(Path(_analysis(mixed).settings["root"]) / "covguard.toml")
    again = api.analyse(settings)
    pd.testing.assert_frame_equal(again.findings, _analysis(mixed).findings)


# ---------------------------------------------------------------------------------------------
# coverage.py's data with the other ways of recording per-test contexts


def test_dynamic_context_test_function(tmp_path: Path) -> None:
    project = copy_mixed(tmp_path)
    data = tmp_path / "tf.coverage"
    rc = tmp_path / "rc"
    rc.write_text(
        f"[run]\nbranch = True\ndynamic_context = test_function\ndata_file = {data}\nsource = pysrc\n"
    )
    _python_run(
        ["-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest", "-q", "-p", "no:cacheprovider"], project
    )
    cov = read_coverage(data, source_files(project, ["pysrc/**"]), root=project)
    assert cov.tests_executing(CORE, 9) == ["check_core.test_clamp_limits_high_values"]
    units = set(cov.lines["test"].astype(str))
    assert "check_core.test_scale" in units  # one context for both parametrised cases
    assert "" not in units  # import time is no test


def test_pytest_cov_test_contexts(tmp_path: Path) -> None:
    project = copy_mixed(tmp_path)
    data = tmp_path / "cov.coverage"
    args = [
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--cov=pysrc",
        "--cov-branch",
        "--cov-context=test",
    ]
    _python_run([*args, "--cov-report="], project, env={"COVERAGE_FILE": str(data)})
    cov = read_coverage(data, source_files(project, ["pysrc/**"]), root=project)
    assert cov.tests_executing(CORE, 9) == [f"{TEST_FILE}::test_clamp_limits_high_values"]
    assert f"{TEST_FILE}::test_scale[4]" in set(cov.lines["test"].astype(str))
    assert context_unit(f"{TEST_FILE}::test_scale[4]|setup") == f"{TEST_FILE}::test_scale[4]"


def test_data_without_per_test_contexts_is_refused(tmp_path: Path) -> None:
    project = copy_mixed(tmp_path)
    data = tmp_path / "plain.coverage"
    rc = tmp_path / "rc"
    rc.write_text(f"[run]\nbranch = True\ndata_file = {data}\nsource = pysrc\n")
    _python_run(
        ["-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest", "-q", "-p", "no:cacheprovider"], project
    )
    with pytest.raises(CoverageDataError, match="no per-test contexts") as err:
        read_coverage(data, source_files(project, ["pysrc/**"]), root=project)
    assert "dynamic_context" in str(err.value.hint)


def test_missing_or_foreign_data_files_are_errors(tmp_path: Path) -> None:
    files = source_files(MIXED, ["pysrc/**"])
    with pytest.raises(CoverageDataError, match=r"no coverage\.py data file"):
        read_coverage(tmp_path / "nothing", files, root=MIXED)
    junk = tmp_path / "junk.coverage"
    junk.write_bytes(b"this is not a coverage.py database" * 100)
    with pytest.raises(CoverageDataError, match=r"unusable coverage\.py data") as err:
        read_coverage(junk, files, root=MIXED)
    assert str(err.value.location) == str(junk)


def test_a_python_source_that_does_not_parse_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "pkg" / "broken.py"
    bad.parent.mkdir()
    bad.write_text("def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    with pytest.raises(InputError, match="not valid Python") as err:
        read_coverage(None, [bad], root=tmp_path)
    assert str(err.value.location) == "pkg/broken.py:4"


# ---------------------------------------------------------------------------------------------
# functions and tags from the source


SOURCE = '''\
"""Module docstring: @req NOT-1 is not read here."""
import functools


# @req PY-1
@functools.lru_cache(maxsize=None)
def cached(x):
    return x


class Pump:
    """Class docstring, not read."""

    # @req PY-2, PY-3
    def start(self, rate):
        def clamp(v):
            return min(v, 5)  # @req PY-4
        return clamp(rate)

    async def stop(self):
        """Stop it.

        @req PY-5
        """
        return None


x = 1  # @req PY-6
# @verifies PY-7
def test_thing():
    assert True
'''


def test_function_extents_from_ast() -> None:
    functions = functions_of(parse(SOURCE, "m.py"))
    got = [(f.name, f.line_start, f.line_end, f.body_start, f.first_line, f.depth) for f in functions]
    assert got == [
        ("cached", 7, 8, 8, 6, 0),
        ("Pump.start", 15, 18, 16, 15, 0),
        ("Pump.start.clamp", 16, 17, 17, 16, 1),
        ("Pump.stop", 20, 25, 21, 20, 0),
        ("test_thing", 30, 31, 31, 30, 0),
    ]
    # the `def` line of a nested function runs with its parent; a body line belongs to the innermost
    assert owners([8, 16, 17, 18, 25, 28], functions).tolist() == [0, 1, 2, 1, 3, -1]


def test_tags_above_defs_in_docstrings_and_bodies() -> None:
    result = scan_python("m.py", SOURCE.encode())
    assert result.problems == []
    tags = attach_to_functions(result.tags, function_frame("m.py", functions_of(parse(SOURCE, "m.py"))))
    got = sorted(zip(tags["kind"], tags["value"], tags["function"].fillna("-"), strict=True))
    assert got == [
        ("req", "PY-1", "cached"),  # above the decorator
        ("req", "PY-2", "Pump.start"),
        ("req", "PY-3", "Pump.start"),
        ("req", "PY-4", "Pump.start.clamp"),  # a trailing comment in the body
        ("req", "PY-5", "Pump.stop"),  # the docstring
        ("req", "PY-6", "-"),  # module level: traces nothing (the analyser reports it)
        ("verifies", "PY-7", "test_thing"),
    ]


def test_broken_tags_and_sources_are_problems_not_crashes() -> None:
    result = scan_python(
        "b.py", b"# @req PUMP SRS 1\ndef f():\n    pass\n# @req PY-\xe2\x80\x8b1\ndef g(): pass\n"
    )
    assert [(p.line, p.severity) for p in result.problems] == [(1, "error"), (4, "error")]
    broken = scan_python("c.py", b"def f(:\n    pass\n")
    assert len(broken.tags) == 0
    assert [(p.line, p.severity) for p in broken.problems] == [(1, "error")]
    assert "not valid Python" in broken.problems[0].message


# ---------------------------------------------------------------------------------------------
# the pytest plugin


PLUGIN_TEST = """
import pytest

@pytest.mark.verifies("REQ-1", "REQ-2")
def test_one():
    assert True

@pytest.mark.verifies("REQ-3")
def test_two():
    assert False
"""


def test_plugin_is_inert_unless_covguard_drives_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_p.py").write_text(PLUGIN_TEST)
    _python_run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", "test_p.py"], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["test_p.py"]
    record = tmp_path / "record.jsonl"
    _python_run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", "test_p.py"],
        tmp_path,
        env={pytest_runner.ENV_RECORD: str(record)},
    )
    events = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e["event"], e.get("nodeid"), e.get("verifies", e.get("outcome"))) for e in events] == [
        ("start", "test_p.py::test_one", ["REQ-1", "REQ-2"]),
        ("result", "test_p.py::test_one", "passed"),
        ("start", "test_p.py::test_two", ["REQ-3"]),
        ("result", "test_p.py::test_two", "failed"),
        ("finish", None, None),
    ]


def test_runner_and_plugin_agree_on_the_environment() -> None:
    assert (pytest_runner.ENV_RECORD, pytest_runner.ENV_DEADLINE) == (
        pytest_plugin.ENV_RECORD,
        pytest_plugin.ENV_DEADLINE,
    )


# ---------------------------------------------------------------------------------------------
# the suite run: hangs, files that do not import, configuration errors


def _suite_project(tmp_path: Path, files: dict[str, str], **python: Any) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "m.py").write_text("# @req R-1\ndef f(x):\n    return x + 1\n")
    (tmp_path / "t").mkdir()
    for name, text in files.items():
        (tmp_path / "t" / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\npythonpath = lib\n")
    table = {"tests": ["t"], "sources": ["lib/**"], **python}
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
    (tmp_path / "covguard.toml").write_text(f'[build]\ncommand = "true"\n[python]\n{body}\n')
    return tmp_path


def test_a_hung_test_is_an_error_and_the_others_keep_their_results(tmp_path: Path) -> None:
    project = _suite_project(
        tmp_path,
        {
            "test_a.py": "from m import f\n\ndef test_fast():\n    assert f(1) == 2\n",
            "test_b.py": "import time\n\ndef test_hangs():\n    time.sleep(120)\n",
            "test_c.py": "def test_never_runs():\n    pass\n",
        },
        timeout=4,
    )
    settings = load_settings(project / "covguard.toml")
    run = pytest_runner.run_python_suite(run_options(settings))
    assert [(c.name, c.status, c.coverage) for c in run.cases] == [
        ("test_fast", "passed", "complete"),
        ("test_hangs", "error", "incomplete"),
    ]
    assert "still running when the suite was stopped after 4 s" in run.cases[1].message
    assert run.run.timed_out
    assert "test_hangs" in str(run.run.crashed)
    cov = pytest_runner.python_coverage(run_options(settings), run)  # coverage.py saved its data on SIGTERM
    assert cov.tests_executing("lib/m.py", 3) == ["t/test_a.py::test_fast"]
    # a source changed since the run: the coverage would be shown against new text
    (project / "lib" / "m.py").write_text("# @req R-1\ndef f(x):\n    return x + 2\n")
    with pytest.raises(CoverageDataError, match=r"lib/m\.py: changed since the Python suite ran"):
        pytest_runner.python_coverage(run_options(settings), run)


def test_a_test_file_that_does_not_import_does_not_stop_the_others(tmp_path: Path) -> None:
    project = _suite_project(
        tmp_path,
        {
            "test_a.py": "from m import f\n\ndef test_fast():\n    assert f(1) == 2\n",
            "test_broken.py": "import no_such_module\n",
        },
    )
    run = pytest_runner.run_python_suite(run_options(load_settings(project / "covguard.toml")))
    assert [(c.test, c.status, c.coverage) for c in run.cases] == [
        ("t/test_broken.py::<collection error>", "error", "none"),
        ("t/test_a.py::test_fast", "passed", "complete"),
    ]
    assert "no_such_module" in run.cases[0].message
    assert run.run.crashed is None


@pytest.mark.parametrize(
    ("python", "message"),
    [
        ({"sources": []}, "'python.sources' is empty"),
        ({"tests": ["no/such/dir"]}, "do not exist: no/such/dir"),
        ({"python": "no-such-python3"}, "'no-such-python3' of the Python suite is not found"),
        ({"python": "/bin/sh"}, "cannot run it"),
    ],
)
def test_configuration_errors_are_clear(tmp_path: Path, python: dict[str, Any], message: str) -> None:
    project = _suite_project(tmp_path, {"test_a.py": "def test_a():\n    pass\n"}, **python)
    with pytest.raises(ConfigError, match=message) as err:
        pytest_runner.run_python_suite(run_options(load_settings(project / "covguard.toml")))
    assert err.value.hint


def test_python_options_are_checked_when_read(tmp_path: Path) -> None:
    project = _suite_project(tmp_path, {"test_a.py": "def test_a():\n    pass\n"}, timeout=0)
    with pytest.raises(ConfigError, match=r"'python\.timeout' must be more than 0 seconds"):
        load_settings(project / "covguard.toml")
    settings = load_settings(project / "covguard.toml", overrides={"python.timeout": 5})
    assert (settings.python_tests, settings.python_sources, settings.python_python) == (
        ("t",),
        ("lib/**",),
        "",
    )


# ---------------------------------------------------------------------------------------------
# the sample's host tool against the sample's firmware


def _firmware_library(tmp_path: Path) -> ctypes.CDLL:
    """The sample firmware's parser and pump model, compiled with gcc into a shared library."""
    sources = [p for p in sorted((SAMPLE / "src").glob("*.c")) if p.name not in ("main.c", "hal_target.c")]
    lib = tmp_path / "libpump.so"
    cmd = [
        "gcc",
        "-std=c99",
        "-shared",
        "-fPIC",
        "-O0",
        f"-I{SAMPLE / 'src'}",
        "-o",
        str(lib),
        *map(str, sources),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


def test_host_tool_frames_drive_the_firmware_and_its_back_door(tmp_path: Path) -> None:
    """Every frame of the host tool passes the firmware's own checks (CRC, token, replay window) -
    and so does the engineering mode's: the motor runs past every bolus check."""
    require("gcc")
    fw = _firmware_library(tmp_path)
    fw.cmd_process.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    fw.hal_host_delivered_total.restype = ctypes.c_uint32
    fw.hal_host_sent.restype = ctypes.c_size_t
    key = 0x5EC2E7A1
    fw.hal_init()
    fw.pump_init(30000)
    fw.bolus_init(None)
    fw.basal_init()
    fw.cmd_init(ctypes.c_uint32(key))
    fw.pump_event(0)  # PUMP_EV_PRIME
    while fw.pump_prime_step() > 0:
        pass
    fw.pump_event(2)  # PUMP_EV_START
    fw.hal_host_reset()
    sys.path.insert(0, str(SAMPLE / "host_tool"))
    try:
        from host_tool.session import Session  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(SAMPLE / "host_tool"))
    results: list[int] = []

    def radio(frame: bytes) -> bytes:
        results.append(fw.cmd_process(frame, len(frame)))
        sent = ctypes.POINTER(ctypes.c_uint8)()
        n = fw.hal_host_sent(ctypes.byref(sent))
        return bytes(sent[:n]) if n else b""

    session = Session(key, radio)
    status = session.status()
    assert (status.state, status.reservoir_cu) == (2, 29800)  # delivering; 2.00 U went into priming
    session.bolus(300, 120)
    session.temp_basal(150, 60)
    assert results == [0, 0, 0]  # CMD_OK
    before = fw.hal_host_delivered_total()
    session.engineering_dose(2500)  # 25 U: above the 10 U maximum bolus
    assert results[-1] == 0
    assert fw.hal_host_delivered_total() - before == 2500
