"""The console command's own exit (covguard.cli.entry): the process ends without the interpreter's
teardown, yet with all its output and the exit code main() chose."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from covguard.cli import main


def _command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "covguard", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_line_reaches_a_pipe_and_the_codes_stay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["config", "--list"])  # the same command in this process, which returns normally
    in_process = capsys.readouterr().out
    assert in_process.count("\n") > 20
    got = _command("config", "--list", cwd=tmp_path)
    assert got.returncode == 0
    assert got.stdout == in_process  # flushed before the process ended: nothing lost
    assert _command("--version", cwd=tmp_path).stdout.startswith("covguard, version ")
    bad = _command("analyse", "--no-such-option", cwd=tmp_path)
    assert bad.returncode == 2
    assert "No such option" in bad.stderr
    missing = _command("analyse", "--config", str(tmp_path / "absent.toml"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "absent.toml" in missing.stderr


def test_output_into_a_closed_pipe_exits_as_python_does(tmp_path: Path) -> None:
    """A reader that stops early: the same exit as without the fast path (no traceback)."""
    script = (
        f"{sys.executable} -m covguard config --list | head -1; echo rc=${{PIPESTATUS[0]}}; "
        f"{sys.executable} -c 'from covguard.cli import main; main()' config --list | head -1; "
        "echo rc=${PIPESTATUS[0]}"
    )
    got = subprocess.run(
        ["bash", "-c", script], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    lines = got.stdout.splitlines()
    codes = [line for line in lines if line.startswith("rc=")]
    assert len(codes) == 2
    assert codes[0] == codes[1]
    assert "Traceback" not in got.stderr
