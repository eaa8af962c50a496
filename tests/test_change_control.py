"""Change control with real git repositories built in the test: the justification ledger going stale,
the baseline gate and the diff gate (real gcc, make, git; covguard's own command line)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from covguard.analysis.ledger import read_ledger
from covguard.errors import InputError
from covguard.trace.code_hash import tokenize
from tests.conftest import FIXTURES, covguard, require

SENSOR = """/* @req GLD-30 */
int read_sensor(int raw)
{
    if (raw < 0) {
        /* @justify defensive: the ADC never returns a negative value */
        return 0;
    }
    return raw / 2;
}

/* @justify deactivated: factory calibration, disabled by configuration in this product */
int factory_calibration(int raw) { return raw + 7; }

/* @req GLD-30 */
int sensor_average(int a, int b)
{
    int s = a + b;
    return s / 2;
}

int legacy_hook(int x) { return x - 1; }
"""

TESTS = """#include "covguard_test.h"
int read_sensor(int raw);
int sensor_average(int a, int b);

CG_TEST(halves, "GLD-30") { CG_ASSERT_EQ_INT(5, read_sensor(10)); }
CG_TEST(averages, "GLD-30") { CG_ASSERT_EQ_INT(3, sensor_average(2, 4)); }

CG_MAIN()
"""


def _git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _project(tmp_path: Path) -> Path:
    require("gcc", "make", "git")
    project = tmp_path / "p"
    (project / "src").mkdir(parents=True)
    (project / "tests").mkdir()
    shutil.copy(FIXTURES / "golden" / "common.mk", tmp_path / "common.mk")
    shutil.copy(FIXTURES / "golden" / "justified" / "covguard.toml", project / "covguard.toml")
    (project / "requirements.csv").write_text("id,title,safety_class\nGLD-30,Read the sensor,B\n")
    (project / "src" / "sensor.c").write_text(SENSOR)
    (project / "tests" / "test_sensor.c").write_text(TESTS)
    (project / ".gitignore").write_text(".covguard/\ncovguard-report/\n")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "base")
    return project


def _run(project: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = covguard("run", "--set", "report.gcovr=[]", *args, cwd=project)  # gcovr: not needed here
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads((project / "covguard-report" / "findings.json").read_text())


def _edit(project: Path, old: str, new: str) -> None:
    path = project / "src" / "sensor.c"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _kinds(doc: dict[str, Any], *kinds: str) -> list[tuple[str, str | None]]:
    return sorted((f["kind"], f["function"]) for f in doc["findings"] if f["kind"] in kinds)


def _classes(doc: dict[str, Any]) -> dict[str, str]:
    return {f["function"]: f["class"] for f in doc["functions"]}


# ---------------------------------------------------------------------------------------------
# the code hash


def test_code_hash_ignores_white_space_and_comments_but_not_tokens() -> None:
    base = b"int f(int x)\n{\n    return x + 1; /* one */\n}\n"
    same = b"int f( int x ) {\n  // reformatted\n  return x+1;\n\n}\n"
    digest = tokenize(base, "a.c").digest(1, 4)
    assert tokenize(same, "a.c").digest(1, 5) == digest
    for changed in (b"return x + 2;", b"return x - 1;", b"return y + 1;", b'return x + "1";'):
        other = base.replace(b"return x + 1;", changed)
        assert tokenize(other, "a.c").digest(1, 4)[0] != digest[0], changed
    # a string's text counts; the end of a directive is a token of its own
    s1 = tokenize(b'const char *m = "a b";\n', "a.c").digest(1, 1)
    s2 = tokenize(b'const char *m = "a  b";\n', "a.c").digest(1, 1)
    assert s1 != s2
    d1 = tokenize(b"#define X 1\ny\n", "a.c").digest(1, 2)
    d2 = tokenize(b"#define X 1 y\n\n", "a.c").digest(1, 2)
    assert d1 != d2
    # found again after a move, and not when changed
    moved = b"/* new header */\nint g;\n\n" + same
    found = tokenize(moved, "a.c").find_tokens(digest[0], digest[1])
    assert found == (4, 8)
    assert tokenize(moved.replace(b"x+1", b"x+2"), "a.c").find_tokens(digest[0], digest[1]) is None


# ---------------------------------------------------------------------------------------------
# the ledger


@pytest.mark.slow
def test_justification_goes_stale_on_a_token_change_and_not_on_white_space(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, doc = _run(project)
    assert "justifications" not in doc  # no ledger: nothing changes
    assert _classes(doc)["factory_calibration"] == "justified"
    assert _classes(doc)["legacy_hook"] == "rogue"
    # justify a function in the ledger, one with an expiry in the past, and record the in-source ones
    ok = covguard("justify", "src/sensor.c:legacy_hook", "--category", "deactivated", "--reason",
                  "kept for the field service tool", "--approver", "J. Doe", "--date", "2026-01-05",
                  cwd=project)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "justified src/sensor.c:legacy_hook" in ok.stdout
    rec = covguard("justify", "--record", "--approver", "Q. A.", "--date", "2026-01-06", cwd=project)
    assert rec.returncode == 0, rec.stderr
    assert "recorded 2 in-source justification(s)" in rec.stdout
    ledger = read_ledger(project / "covguard-justifications.toml")
    assert [e.function for e in ledger.justifications] == ["legacy_hook"]
    assert sorted(e.function for e in ledger.recorded) == ["factory_calibration", "read_sensor"]
    code, doc = _run(project)
    assert code == 0, doc["gate"]
    assert _classes(doc)["legacy_hook"] == "justified"
    page = (project / "covguard-report" / "index.html").read_text()
    assert '<section id="justifications">' in page
    assert "kept for the field service tool</td><td>J. Doe</td><td>2026-01-05</td>" in page
    assert {(j["function"], j["state"]) for j in doc["justifications"]} == {
        ("legacy_hook", "fresh"), ("factory_calibration", "fresh"), ("read_sensor", "fresh")
    }  # fmt: skip
    # white space and comments only: nothing goes stale
    _edit(project, "int factory_calibration(int raw) { return raw + 7; }",
          "int factory_calibration(int raw)\n{\n    /* calibrate */\n    return raw+7;\n}")  # fmt: skip
    _edit(project, "int legacy_hook(int x) { return x - 1; }", "int legacy_hook( int x ) {  return x-1 ; }")
    code, doc = _run(project)
    assert code == 0, doc["gate"]
    assert _kinds(doc, "stale_justification", "expired_justification", "orphan_justification") == []
    # a token change: stale, and analysed as if unjustified
    _edit(project, "return raw+7;", "return raw+8;")
    code, doc = _run(project)
    assert code == 1
    assert _kinds(doc, "stale_justification") == [("stale_justification", "factory_calibration")]
    assert _classes(doc)["factory_calibration"] == "rogue"
    assert any(f["check"] == "max_findings.stale_justification" for f in doc["gate"]["failures"])
    listing = covguard("justify", "--list", cwd=project)
    assert listing.returncode == 0
    assert "stale" in listing.stdout
    assert "factory_calibration" in listing.stdout
    # renewing (a reviewed --record --renew) makes it fresh again
    renew = covguard("justify", "--record", "--renew", "--approver", "Q. A.", cwd=project)
    assert renew.returncode == 0, renew.stderr
    code, doc = _run(project)
    assert code == 0, doc["gate"]
    assert _classes(doc)["factory_calibration"] == "justified"
    # the ledger goes into the evidence package, and the verdicts re-derive from the packaged one
    package = tmp_path / "evidence.tar.gz"
    assert covguard("evidence", "export", "--output", package, cwd=project).returncode == 0
    (project / "covguard-justifications.toml").unlink()
    verified = covguard("evidence", "verify", package, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with tarfile.open(package) as tar:
        assert "covguard-evidence/justifications/covguard-justifications.toml" in tar.getnames()


@pytest.mark.slow
def test_expired_and_orphan_justifications(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project)
    for target, expires in (("src/sensor.c:legacy_hook", "2020-01-01"), ("src/sensor.c:17-18", "2999-01-01")):
        ok = covguard("justify", target, "--category", "defensive", "--reason", "r", "--approver", "A",
                      "--date", "2019-06-01", "--expires", expires, cwd=project)  # fmt: skip
        assert ok.returncode == 0, ok.stderr
    # the line range (the body of sensor_average) moves down by two lines: found there
    _edit(project, "/* @req GLD-30 */\nint sensor_average", "\n\n/* @req GLD-30 */\nint sensor_average")
    code, doc = _run(project)
    states = {(j["function"] or f"{j['line']}-{j['end_line']}", j["state"]) for j in doc["justifications"]}
    assert ("legacy_hook", "expired") in states
    assert ("19-20", "moved") in states
    assert _kinds(doc, "expired_justification") == [("expired_justification", "legacy_hook")]
    assert _classes(doc)["legacy_hook"] == "rogue"  # expired: as if unjustified
    assert code == 1
    # the function goes away: orphan
    _edit(project, "int legacy_hook(int x) { return x - 1; }", "")
    code, doc = _run(project)
    assert _kinds(doc, "orphan_justification") == [("orphan_justification", "legacy_hook")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schema = 'covguard.justifications/1'\n[[justification]\n", "invalid TOML"),
        ("justification = []\n", "schema"),
        (
            "schema = 'covguard.justifications/1'\n\n[[justification]]\nfile = '../etc/passwd'\n"
            "function = 'f'\ncategory = 'defensive'\nreason = 'r'\napprover = 'a'\ndate = 2026-01-01\n"
            "sha256 = '"
            + "0" * 64 + "'\ntokens = 1\n",
            "relative to the project root",
        ),
        (
            "schema = 'covguard.justifications/1'\n\n[[justification]]\nfile = 'src/a.c'\nfunction = 'f'\n"
            "category = 'nice'\nreason = 'r'\napprover = 'a'\ndate = 2026-01-01\nsha256 = 'x'\ntokens = 1\n",
            "'category' must be one of",
        ),
        (
            "schema = 'covguard.justifications/1'\n\n[[justification]]\nfile = 'src/a.c'\nfunction = 'f'\n"
            "category = 'defensive'\nreason = 'r'\napprover = 'a'\ndate = 2026-01-01\nsha256 = 'abc'\n"
            "tokens = 1\n",
            "'sha256' must be 64",
        ),
        (
            "schema = 'covguard.justifications/1'\n\n[[justification]]\nfile = 'src/a.c'\nlines = [9, 3]\n"
            "category = 'defensive'\nreason = 'r'\napprover = 'a'\ndate = 2026-01-01\nsha256 = '"
            + "0" * 64 + "'\ntokens = 1\nrun = 'rm -rf /'\n",
            "unknown key 'run'",
        ),
        (
            "schema = 'covguard.justifications/1'\n\n[[justification]]\nfile = 'src/a.c'\nfunction = 'f'\n"
            "category = 'defensive'\nreason = \"r\\u202e\"\napprover = 'a'\ndate = 2026-01-01\nsha256 = '"
            + "0" * 64 + "'\ntokens = 1\n",
            "bidirectional",
        ),
    ],
)  # fmt: skip
def test_hostile_ledger_is_refused_with_a_clear_message(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "covguard-justifications.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_ledger(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.slow
def test_hostile_ledger_stops_the_analysis_with_exit_2(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project)
    (project / "covguard-justifications.toml").write_bytes(b"\xff\xfe garbage")
    proc = covguard("gate", cwd=project)
    assert proc.returncode == 2
    assert "covguard-justifications.toml: the justification ledger is not UTF-8 text" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# the baseline gate


@pytest.mark.slow
def test_baseline_gate(tmp_path: Path) -> None:
    project = _project(tmp_path)
    base_commit = _git(project, "rev-parse", "HEAD").strip()
    code, doc = _run(project)
    assert code == 1
    assert _kinds(doc, "rogue") == [("rogue", "legacy_hook")]
    baseline = tmp_path / "baseline.json"
    shutil.copy(project / "covguard-report" / "findings.json", baseline)
    # the existing rogue function passes against the baseline, and when moved within its file
    assert covguard("gate", "--baseline", baseline, cwd=project).returncode == 0
    _edit(project, "int legacy_hook(int x) { return x - 1; }\n", "")
    _edit(project, "/* @req GLD-30 */\nint read_sensor", "int legacy_hook(int x) { return x - 1; }\n\n"
          "/* @req GLD-30 */\nint read_sensor")  # fmt: skip
    _run(project)
    passed = covguard("gate", "--baseline", baseline, cwd=project)
    assert passed.returncode == 0, passed.stdout
    # a file renamed (git detects it): still existing, given the baseline's commit
    _git(project, "mv", "src/sensor.c", "src/sensor_main.c")
    _git(project, "commit", "-qam", "rename")
    _run(project, "--clean")
    assert covguard("gate", "--baseline", baseline, cwd=project).returncode == 1  # no ref: looks new
    renamed = covguard(
        "gate", "--baseline", baseline, "--set", f"gate.baseline_ref={base_commit}", cwd=project
    )
    assert renamed.returncode == 0, renamed.stdout
    # a new rogue function fails
    src = project / "src" / "sensor_main.c"
    src.write_text(src.read_text() + "\nint debug_backdoor(int x) { return x * 3; }\n")
    _run(project)
    failed = covguard(
        "gate", "--baseline", baseline, "--set", f"gate.baseline_ref={base_commit}", cwd=project
    )
    assert failed.returncode == 1
    assert "baseline.new.rogue" in failed.stdout
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    assert "baseline" not in doc["findings"][0]  # covguard run had no baseline configured


@pytest.mark.slow
def test_baseline_coverage_drop_status_and_ratchet(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project)
    baseline = tmp_path / "baseline.json"
    shutil.copy(project / "covguard-report" / "findings.json", baseline)
    # read_sensor gains a branch its tests never take: its requirement-based coverage drops
    _edit(
        project,
        "    return raw / 2;",
        "    if (raw > 4000) {\n        return 2000;\n    }\n    return raw / 2;",
    )
    _run(project)
    drop = covguard("gate", "--baseline", baseline, cwd=project)
    assert drop.returncode == 1
    assert "baseline.coverage.line" in drop.stdout
    assert "src/sensor.c:read_sensor" in drop.stdout
    assert "GLD-30" in drop.stdout  # the requirement's coverage dropped too
    # ratchet: an uncovered_lines finding more (a warning kind, no limit) fails only in ratchet mode
    new_mode = covguard("gate", "--baseline", baseline, "--set", "gate.line={B = 0}",
                        "--set", "gate.branch={B = 0}", cwd=project)  # fmt: skip
    assert "baseline.ratchet" not in new_mode.stdout
    ratchet = covguard("gate", "--baseline", baseline, "--baseline-mode", "ratchet", cwd=project)
    assert ratchet.returncode == 1
    assert "baseline.ratchet.uncovered_lines" in ratchet.stdout


@pytest.mark.slow
def test_bad_baseline_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something else"}')
    proc = covguard("gate", "--baseline", bad, cwd=project)
    assert proc.returncode == 2
    assert "not a covguard findings document" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# the diff gate


@pytest.mark.slow
def test_diff_gate_fails_an_added_function_without_a_test(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project)
    assert covguard("gate", "--diff-base", "HEAD", "--set", "gate.max_findings={rogue = -1}",
                    cwd=project).returncode == 0  # fmt: skip
    _edit(
        project,
        "int legacy_hook",
        "/* @req GLD-30 */\nint sensor_scale(int v) { return v * 4; }\n\nint legacy_hook",
    )
    _run(project)
    proc = covguard("gate", "--diff-base", "HEAD", "--set", "gate.max_findings={rogue = -1}", cwd=project)
    assert proc.returncode == 1
    assert "diff.function" in proc.stdout
    assert "src/sensor.c:sensor_scale" in proc.stdout
    assert "diff.lines" in proc.stdout
    # with a test of its requirement that executes it, the same change passes
    tests = project / "tests" / "test_sensor.c"
    scale = 'int sensor_scale(int v);\nCG_TEST(scales, "GLD-30") { CG_ASSERT_EQ_INT(8, sensor_scale(2)); }\n'
    tests.write_text(tests.read_text().replace("CG_MAIN()", scale + "\nCG_MAIN()"))
    _run(project)
    ok = covguard("gate", "--diff-base", "HEAD", "--set", "gate.max_findings={rogue = -1}", cwd=project)
    assert ok.returncode == 0, ok.stdout
    # the pull-request views show only the findings on changed lines
    _edit(project, "int legacy_hook", "int debug_dump(int v) { return v; }\n\nint legacy_hook")
    _run(project)
    rep = covguard("report", "--format", "sarif", "--set", 'gate.diff_base="HEAD"', cwd=project)
    assert rep.returncode == 0, rep.stderr
    sarif = json.loads((project / "covguard-report" / "covguard.sarif").read_text())
    shown = sorted(r["locations"][0]["logicalLocations"][0]["name"] for r in sarif["runs"][0]["results"])
    assert shown == ["debug_dump"]  # legacy_hook's rogue finding is not on a changed line
    bad = covguard("gate", "--diff-base", "no-such-ref", cwd=project)
    assert bad.returncode == 2
    assert "is not a commit" in bad.stderr


# ---------------------------------------------------------------------------------------------
# who-covers and affected


OTHER = """#include "covguard_test.h"
int read_sensor(int raw);

/* reads a raw value */
CG_TEST(reads, "GLD-31") { CG_ASSERT_EQ_INT(2, read_sensor(4)); }

CG_MAIN()
"""


def _two_executables(tmp_path: Path) -> Path:
    project = _project(tmp_path)
    (project / "tests" / "test_other.c").write_text(OTHER)
    (project / "requirements.csv").write_text(
        "id,title,safety_class\nGLD-30,Read the sensor,B\nGLD-31,Report raw values,B\n"
    )
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "two executables")
    return project


def _affected(project: Path, *args: str) -> list[str]:
    proc = covguard("affected", "--base", "HEAD", "--output", "test.select", *args, cwd=project)
    assert proc.returncode == 0, proc.stderr
    lines = (project / "test.select").read_text().splitlines()
    assert lines[0].startswith("# covguard affected --base HEAD")
    return sorted(lines[1:])


@pytest.mark.slow
def test_who_covers_against_hand_derived_truth(tmp_path: Path) -> None:
    project = _two_executables(tmp_path)
    _run(project)
    # read_sensor's last line runs in 'halves' (10 -> 5) and 'reads' (4 -> 2), once each; its
    # defensive branch (line 6) in no test; GLD-30's code in both harness tests of test_sensor
    proc = covguard("who-covers", "src/sensor.c:8", "--json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    got = {(t["test"], t["count"], t["status"], t["origin"], tuple(t["verifies"])) for t in doc["tests"]}
    assert got == {
        ("test_sensor::halves", 1, "passed", "host", ("GLD-30",)),
        ("test_other::reads", 1, "passed", "host", ("GLD-31",)),
    }
    assert {t["test"]: t["verifies_target"] for t in doc["tests"]} == {
        "test_sensor::halves": True,
        "test_other::reads": False,
    }
    assert json.loads(covguard("who-covers", "src/sensor.c:6", "--json", cwd=project).stdout)["tests"] == []
    fn = json.loads(covguard("who-covers", "src/sensor.c:sensor_average", "--json", cwd=project).stdout)
    assert [(t["test"], t["count"]) for t in fn["tests"]] == [("test_sensor::averages", 1)]
    req = json.loads(covguard("who-covers", "GLD-30", "--json", cwd=project).stdout)
    assert {t["test"]: t["functions"] for t in req["tests"]} == {
        "test_other::reads": ["read_sensor"],
        "test_sensor::averages": ["sensor_average"],
        "test_sensor::halves": ["read_sensor"],
    }
    text = covguard("who-covers", "src/sensor.c:8", cwd=project).stdout
    assert "executed by 2 test(s)" in text
    bad = covguard("who-covers", "src/nowhere.c:3", cwd=project)
    assert bad.returncode == 2
    assert "not a source of the analysed build" in bad.stderr
    # the HTML code view names the tests that ran each line
    page = (project / "covguard-report" / "index.html").read_text()
    assert 'title="verified, executed by 2 test(s): test_other::reads, test_sensor::halves"' in page


def test_who_covers_on_the_sample(sample_run: Any) -> None:
    """src/bolus.c:112 is the clamp of bolus_apply_limit: by reading tests/test_bolus.c, only
    limit_clamps_bolus_above_maximum (2500 > 1000, once) and calculated_bolus_never_exceeds_maximum
    (two calculations over the maximum) exceed the limit."""
    from covguard.change.who_covers import who_covers

    result = who_covers(sample_run.analysis, "src/bolus.c:112")
    got = dict(zip(result.tests["test"], result.tests["count"], strict=True))
    assert got == {
        "test_bolus::limit_clamps_bolus_above_maximum": 1,
        "test_bolus::calculated_bolus_never_exceeds_maximum": 2,
    }
    assert all(result.tests["verifies_target"])


@pytest.mark.slow
def test_affected_against_hand_derived_truth(tmp_path: Path) -> None:
    project = _two_executables(tmp_path)
    _run(project)
    # a planted change in sensor_average: only 'averages' runs it (map of HEAD's sources)
    _edit(project, "return s / 2;", "return s / 3;")
    assert _affected(project) == ["test_sensor::averages"]
    note = covguard("affected", "--base", "HEAD", cwd=project).stdout
    assert "the map was built from HEAD's sources" in note
    # every test that fails after the change is selected (map of the working tree now)
    _code, doc = _run(project)
    assert {t["id"] for t in doc["tests"] if t["status"] != "passed"} == {"test_sensor::averages"}
    assert _affected(project) == ["test_sensor::averages"]
    # covguard test --select runs only the selected test cases
    proc = covguard("test", "--select", "test.select", cwd=project)
    assert proc.returncode == 1  # 'averages' fails
    assert "1 tests in 1 executables" in proc.stdout
    _git(project, "checkout", "-q", "--", ".")
    _run(project)
    # a line added to read_sensor: every test that entered read_sensor
    _edit(
        project,
        "    return raw / 2;",
        "    if (raw > 5000) {\n        return 2500;\n    }\n    return raw / 2;",
    )
    assert _affected(project) == ["test_other::reads", "test_sensor::halves"]
    _git(project, "checkout", "-q", "--", ".")
    # a test's own source; a changed requirement
    other = project / "tests" / "test_other.c"
    other.write_text(other.read_text().replace("reads a raw value", "reads one raw value"))
    assert _affected(project) == ["test_other::reads"]
    _git(project, "checkout", "-q", "--", ".")
    req = project / "requirements.csv"
    req.write_text(req.read_text().replace("Read the sensor", "Read the sensor every 10 ms"))
    assert _affected(project) == ["test_sensor::averages", "test_sensor::halves"]
    _git(project, "checkout", "-q", "--", ".")
    # a header no coverage can place: every test, and said so
    (project / "src" / "sensor.h").write_text("#define SENSOR_MAX 4095\n")
    assert _affected(project) == ["test_other::reads", "test_sensor::averages", "test_sensor::halves"]
    # a build after the last test run: the map is older than the build, and covguard says so
    assert covguard("build", cwd=project).returncode == 0
    older = covguard("affected", "--base", "HEAD", cwd=project)  # the rebuild recompiled the sources
    assert older.returncode == 3
    assert "is older than the build" in older.stderr
    assert "no longer matches the build" in older.stderr


def test_ledger_round_trip_and_targets(tmp_path: Path) -> None:
    import datetime as dt

    from covguard.analysis.ledger import Entry, Ledger, parse_target, render_ledger, write_ledger

    path = tmp_path / "covguard-justifications.toml"
    entries = [
        Entry("src/a.c", "f", None, "defensive", 'quote " backslash \\ unicode \u00e9', "J. Doe",
              dt.date(2026, 1, 2), dt.date(2027, 1, 1), "a" * 64, 12),
        Entry("src/a.c", "", (3, 9), "hardware", "bench only", "Q", dt.date(2026, 1, 3), None, "b" * 64, 4),
    ]  # fmt: skip
    recorded = Entry("src/b.c", "g", (5, 8), "deactivated", "r", "Q", dt.date(2026, 1, 4), None, "c" * 64, 7,
                     key="justify|src/b.c|g|deactivated|1", origin="justify")  # fmt: skip
    write_ledger(Ledger(path, list(reversed(entries)), [recorded]))
    back = read_ledger(path)
    assert back.justifications == sorted(entries, key=lambda e: (e.function, e.lines or (0, 0)))
    assert back.recorded == [recorded]
    assert render_ledger(back) == path.read_text()  # same ledger, same bytes
    assert parse_target("src/a.cpp:ns::f") == ("src/a.cpp", "ns::f", None)
    assert parse_target("src/a.c:10-20") == ("src/a.c", "", (10, 20))
    with pytest.raises(InputError):
        parse_target("src/a.c:20-10")


def test_git_diff_parsing() -> None:
    from covguard.change.changeset import parse_diff

    diff = (
        "diff --git src/a.c src/a.c\nindex 1..2 100644\n--- src/a.c\n+++ src/a.c\n"
        "@@ -3,0 +4,2 @@ int f(void)\n+x\n+y\n@@ -10,2 +12 @@\n-a\n-b\n+c\n@@ -20 +21,0 @@\n-gone\n"
        "diff --git old.c new.c\nsimilarity index 90%\nrename from old.c\nrename to new.c\n"
        "--- old.c\n+++ new.c\n"
        "@@ -1 +1 @@\n-p\n+q\n"
    )
    old: list[tuple[str, int]] = []
    changed, deleted_at, renames = parse_diff(diff, old)
    assert changed == [("src/a.c", 4), ("src/a.c", 5), ("src/a.c", 12), ("new.c", 1)]
    assert deleted_at == [("src/a.c", 21)]
    assert renames == {"old.c": "new.c"}
    assert old == [
        ("src/a.c", 3),
        ("src/a.c", 4),
        ("src/a.c", 10),
        ("src/a.c", 11),
        ("src/a.c", 20),
        ("old.c", 1),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not json", "not JSON"),
        (b'{"schema": "covguard.findings/1", "findings": {"a": 1}}', "'findings' is not a list of records"),
        (
            b'{"schema": "covguard.findings/1", "findings": [{"kind": ["rogue"]}]}',
            "findings[0].kind is not text",
        ),
        (b"[1, 2]", "not a covguard findings document"),
    ],
)
def test_hostile_baseline_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    from covguard.analysis.baseline import load_baseline

    path = tmp_path / "findings.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_baseline(path)
    assert expected in str(err.value)
    # an evidence package without findings.json
    package = tmp_path / "package.tar.gz"
    with tarfile.open(package, "w:gz") as tar:
        tar.add(path, arcname="covguard-evidence/reports/other.json")
    with pytest.raises(InputError, match=r"has no covguard-evidence/reports/findings\.json"):
        load_baseline(package)
