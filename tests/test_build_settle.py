"""The intermittent "cannot start the test executable: No such file or directory" (issue 15).

A build command that returns while a step it started still writes the build tree (a ``&`` in a
recipe or in ``build.command``: an install or a link still running) made the tests start from a
tree being rewritten: the executables' folder made anew, so starting one failed (Python reports a
failed chdir into the working folder as ``No such file``, and covguard named the executable, which
was there again a moment later).  covguard now waits for every process of the build's process
group before it runs the tests (:mod:`covguard.procs`), and names the folder a failed start could
not enter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from covguard.procs import run_group
from tests.conftest import FIXTURES, covguard, require


def test_a_build_step_left_in_the_background_is_waited_for(tmp_path: Path) -> None:
    out = tmp_path / "late.txt"
    script = f"(sleep 1; echo late > '{out}') & echo first"
    t0 = time.monotonic()
    done = run_group(
        ["/bin/sh", "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        settle=60,
    )
    assert done.returncode == 0
    assert done.left == ()
    assert time.monotonic() - t0 >= 1.0
    assert out.read_text() == "late\n"  # written before run_group returned


def test_a_background_process_that_never_ends_is_stopped_and_named(tmp_path: Path) -> None:
    done = run_group(
        ["/bin/sh", "-c", "sleep 300 & echo started"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        settle=1,
    )
    assert done.returncode == 0
    assert len(done.left) == 1, done.left
    assert "sleep 300" in done.left[0]
    pid = int(done.left[0].split()[0])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:  # killed (then reaped by init)
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def test_without_settle_the_group_is_not_waited_for(tmp_path: Path) -> None:
    """A test executable (no settle) returns as before; its group is still there meanwhile."""
    t0 = time.monotonic()
    done = run_group(
        ["/bin/sh", "-c", "sleep 3 & echo started"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert done.left == ()
    assert time.monotonic() - t0 < 2.5


# a build whose last step (an "install" of the test programs into bin/) goes on in the background:
# bin/ is moved away 2 s after the build command returned and back 7 s later; the first test
# (test_a_wait) runs 5 s, so the next one starts while bin/ is away
_STAGE = """#!/bin/sh
set -e
make tests BUILD_DIR="$1"
mkdir -p "$1/bin"
cp "$1/tests/test_gauge" "$1/tests/test_filter" "$1/bin/"
"$CC" -o "$1/bin/test_a_wait" tests/wait.c
( sleep 2; mv "$1/bin" "$1/bin.new"; sleep 7; mv "$1/bin.new" "$1/bin" ) > /dev/null 2>&1 &
"""


@pytest.mark.slow
def test_tests_start_only_when_the_build_has_ended(tmp_path: Path) -> None:
    """Before the fix (covguard 94d0089): 'covguard run' stopped with "cannot start the test
    executable: No such file or directory" for bin/test_filter, which existed when looked at."""
    require("gcc", "make")
    project = tmp_path / "onecmd"
    shutil.copytree(FIXTURES / "builds" / "onecmd", project)
    stage = project / "stage.sh"
    stage.write_text(_STAGE)
    stage.chmod(0o755)
    (project / "tests" / "wait.c").write_text("#include <unistd.h>\nint main(void) { sleep(5); return 0; }\n")
    proc = covguard(
        "run",
        "--set",
        "test.jobs=1",
        "--set",
        "build.command=./stage.sh {build_dir}",
        "--set",
        'test.executables=["{build_dir}/bin/test_*"]',
        cwd=project,
    )
    assert "cannot start" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the fixture's gate: one dead function
    doc = json.loads((project / ".covguard" / "host-gcc" / "results.json").read_text())
    assert {c["test"]: c["status"] for c in doc["cases"]} == {
        "test_a_wait": "passed",
        "test_filter::averages": "passed",
        "test_gauge::clamps": "passed",
        "test_gauge::scales": "passed",
    }


def test_a_folder_removed_during_the_run_is_named_and_nothing_is_mixed(tmp_path: Path) -> None:
    """The first test moves the executables' folder away: the next cannot start.  The message
    names the folder (not the executable, which is still in the moved folder), and the previous
    complete run's results are gone, so 'covguard analyse' refuses instead of mixing."""
    require("gcc", "make")
    project = tmp_path / "onecmd"
    shutil.copytree(FIXTURES / "builds" / "onecmd", project)
    assert covguard("run", cwd=project).returncode == 1  # a complete run: results written
    area = project / ".covguard" / "host-gcc"
    tests = area / "build" / "tests"
    assert (area / "results.json").is_file()
    mover = tests / "test_a_move"
    mover.write_text('#!/bin/sh\nmv "$PWD" "$PWD.moved"\n')
    mover.chmod(0o755)
    proc = covguard("test", "--set", "test.jobs=1", cwd=project)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot start the test executable: No such file or directory" in proc.stderr
    assert f"its folder {tests} did not exist when it was started" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (area / "results.json").exists()
    analysed = covguard("analyse", cwd=project)
    assert analysed.returncode == 3, analysed.stdout + analysed.stderr
    assert "no test results" in analysed.stderr
    assert "build tree moved" not in analysed.stderr  # never the old results over the half-written run folder


def test_a_folder_that_is_back_is_still_named(tmp_path: Path) -> None:
    """The folder a failed start could not enter is named from the error itself, also when it is
    there again by the time covguard looks (the build step that rewrote it has finished)."""
    from covguard.run.process import _missing_part

    folder = tmp_path / "bin"
    try:
        subprocess.Popen([sys.executable, "-c", "pass"], cwd=folder)
    except OSError as exc:
        error = exc
    else:  # pragma: no cover - the folder does not exist
        raise AssertionError("started in a missing folder")
    folder.mkdir()  # back again
    assert _missing_part([sys.executable], folder, error) == (
        f" (its folder {folder} did not exist when it was started; it is there again now)"
    )
    assert _missing_part([sys.executable], folder) == ""  # what looking afterwards alone says


def test_a_build_that_leaves_a_process_running_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process of the build still running after the wait is stopped and the build fails (exit 3
    from the CLI): the tests never start from a tree something may still be writing.  The wait is
    shortened from 120 s to 1 s for the test."""
    import covguard.builder.instrumented as build_module
    from covguard.api import build
    from covguard.config import load_settings
    from covguard.errors import BuildError

    require("gcc", "make")
    project = tmp_path / "onecmd"
    shutil.copytree(FIXTURES / "builds" / "onecmd", project)
    monkeypatch.setattr(build_module, "BUILD_SETTLE_S", 1.0)
    settings = load_settings(
        project / "covguard.toml",
        overrides={"build.command": "make tests BUILD_DIR={build_dir} && { sleep 300 & }"},
    )
    t0 = time.monotonic()
    with pytest.raises(BuildError, match=r"1 process\(es\) it started were still running 1 s later") as err:
        build(settings)
    assert "sleep 300" in str(err.value)
    assert err.value.exit_code == 3
    assert time.monotonic() - t0 < 60
    assert not (project / ".covguard" / "host-gcc" / "build.json").exists()


def test_a_failed_build_leaves_no_build_to_mix_the_last_run_with(tmp_path: Path) -> None:
    """After a complete run, a build that rewrote part of the tree and then failed: 'covguard
    analyse' refuses (no complete build) instead of reading the last run with the new notes."""
    require("gcc", "make")
    project = tmp_path / "onecmd"
    shutil.copytree(FIXTURES / "builds" / "onecmd", project)
    assert covguard("run", cwd=project).returncode == 1  # complete: the fixture's gate fails
    with (project / "tests" / "test_gauge.c").open("a") as handle:
        handle.write("/* changed */\n")  # new notes for test_gauge, then the build fails
    failing = "build.command=make tests BUILD_DIR={build_dir} && false"
    assert covguard("build", "--set", failing, cwd=project).returncode == 3
    analysed = covguard("analyse", cwd=project)
    assert analysed.returncode == 3, analysed.stdout + analysed.stderr
    assert "no complete build for this toolchain profile" in analysed.stderr
    assert "stamp" not in analysed.stderr
