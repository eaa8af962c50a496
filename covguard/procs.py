"""Child processes in their own process group, killed as a group on timeout, error or Ctrl-C.

A firmware build (make and its compilers) or a test executable (and anything it started) runs in
a new session; covguard keeps a registry of the groups it started, so an interrupt of covguard
itself kills every one of them before the lock is released: nothing keeps running or writing
after covguard has stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_LOCK = threading.Lock()
_RUNNING: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Finished:
    returncode: int | None  # None when it was killed on timeout
    timed_out: bool
    seconds: float


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group of ``proc`` and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def kill_all() -> None:
    """Kill every process group covguard started and that is still running (on Ctrl-C)."""
    with _LOCK:
        procs = list(_RUNNING.values())
    for proc in procs:
        kill_group(proc)


def run_group(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: IO[bytes] | int,
    stderr: IO[bytes] | int,
    timeout: float | None = None,
    stdin: IO[bytes] | int = subprocess.DEVNULL,
) -> Finished:
    """Run ``command`` in a new process group; kill the group on timeout or any exception.

    Raises ``OSError`` when the command cannot start (the caller turns it into its own error).
    """
    t0 = time.monotonic()
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdout=stdout,
        stderr=stderr,
        stdin=stdin,
        start_new_session=True,
    )
    with _LOCK:
        _RUNNING[proc.pid] = proc
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return Finished(returncode=None, timed_out=True, seconds=time.monotonic() - t0)
        except BaseException:
            kill_group(proc)
            raise
        return Finished(returncode=proc.returncode, timed_out=False, seconds=time.monotonic() - t0)
    finally:
        with _LOCK:
            _RUNNING.pop(proc.pid, None)
