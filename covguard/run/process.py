"""One run of a test process: started in its own process group with its output captured to files,
and how it ended, in words.  Shared by the runner and the framework runners."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from covguard.errors import TestRunError
from covguard.files import display_path
from covguard.procs import run_group
from covguard.run.invocations import open_stdin
from covguard.run.options import RunOptions


def fresh_folders(run_dir: Path, folder: str) -> tuple[Path, Path]:
    """An executable's log and coverage folders in the run folder (``logs/<folder>``,
    ``coverage/<folder>``), made empty: nothing of an earlier attempt is read as this one's."""
    exe_dir, cov_dir = run_dir / "logs" / folder, run_dir / "coverage" / folder
    for d in (exe_dir, cov_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    return exe_dir, cov_dir


def _describe_exit(returncode: int | None, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return f"timed out after {timeout:g} s (hung); killed with its process group"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode} before it finished"


def _run_once(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    stdout: Path,
    stderr: Path,
    timeout: float,
    stdin: str | None = None,
) -> tuple[int | None, bool, float]:
    with stdout.open("wb") as out, stderr.open("wb") as err, open_stdin(stdin) as given:
        try:
            done = run_group(command, cwd=cwd, env=env, stdout=out, stderr=err, timeout=timeout, stdin=given)
        except OSError as exc:
            missing = _missing_part(command, cwd, exc)
            raise TestRunError(
                f"cannot start the test executable: {exc.strerror}{missing}",
                path=command[-1],
                hint=_FOLDER_HINT
                if missing.startswith(" (its folder ")
                else "check that it was built for this machine (toolchain profile) and is executable",
            ) from None
    return done.returncode, done.timed_out, done.seconds


_FOLDER_HINT = (
    "something removed or replaced that folder while the tests ran (a build step still running in the "
    "background, a test, another tool): run 'covguard build' and 'covguard test' again"
)


def _missing_part(command: list[str], cwd: Path, exc: OSError | None = None) -> str:
    """What of a command that could not start is missing: its folder, the program, or the
    interpreter a script's first line names (all of which exec reports as 'No such file').

    The folder is the one the failed call names (Python names ``cwd`` when the chdir failed):
    one that is back a moment later (rewritten by a build still running) is still named."""
    failed = os.fsdecode(exc.filename) if exc is not None and exc.filename is not None else None
    if failed == str(cwd) or not cwd.is_dir():
        now = "; it is there again now" if cwd.is_dir() else ""
        return f" (its folder {cwd} did not exist when it was started{now})"
    for word in dict.fromkeys((command[0], command[-1])):
        if os.sep not in word:
            continue
        program = Path(word) if os.path.isabs(word) else cwd / word
        try:
            with program.open("rb") as handle:
                head = handle.read(256)
        except OSError:
            return f" ({program} is gone)"
        if head.startswith(b"#!"):
            interpreter = head[2:].split(b"\n", 1)[0].strip().split(b" ", 1)[0].decode(errors="replace")
            if interpreter and not os.path.exists(interpreter):
                return f" ({program} names the interpreter {interpreter}, which does not exist)"
    return ""


def _profiling_errors(stderr_text: str) -> list[str]:
    return [
        "libgcov reported a coverage data problem: " + line.strip()
        for line in stderr_text.splitlines()
        if "profiling:" in line or "profiling error" in line or "LLVM Profile Error" in line
    ][:5]


def _source_path(file: str, options: RunOptions) -> str:
    p = Path(file)
    if not p.is_absolute():
        p = options.root / p
    return display_path(p, options.root) if p.exists() else file
