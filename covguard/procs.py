"""Child processes in their own process group, killed as a group on timeout, error or Ctrl-C.

A firmware build (make and its compilers) or a test executable (and anything it started) runs in
a new session; covguard keeps a registry of the groups it started, so an interrupt of covguard
itself kills every one of them before the lock is released: nothing keeps running or writing
after covguard has stopped.

A build is finished when every process of its group has ended, not when its first process
returns: a step the build left in the background (a ``&`` in a recipe or in ``build.command``, a
link or an install still writing) would otherwise rewrite the tree while the tests start from it
(an executable unlinked by the linker, a folder made anew: "cannot start ... No such file or
directory" for a file that is there a moment later).  ``run_group(..., settle=S)`` waits up to
``S`` seconds for such processes and stops the ones still running (:attr:`Finished.left`).
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
    # processes of the group still running ``settle`` seconds after the first one returned
    # (stopped): "pid command" each
    left: tuple[str, ...] = ()


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group of ``proc`` and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def group_members(pgid: int) -> list[str]:
    """The live processes of process group ``pgid`` (zombies excluded), as "pid command"."""
    if not os.path.isdir("/proc/self"):  # no procfs: only whether the group still exists
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [f"process group {pgid}"]
    out: list[str] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "stat"), "rb") as handle:
                stat = handle.read(4096)
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
            fields = stat[stat.rfind(b")") + 2 :].split()
            if len(fields) < 3 or fields[0] in (b"Z", b"X") or int(fields[2]) != pgid:
                continue
            with open(os.path.join(entry.path, "cmdline"), "rb") as handle:
                cmdline = handle.read(300).replace(b"\0", b" ").strip()
        except (OSError, ValueError):
            continue  # it ended meanwhile
        out.append(f"{entry.name} {cmdline.decode(errors='replace')}".strip())
    return out


def _settle(pgid: int, seconds: float) -> tuple[str, ...]:
    """Wait up to ``seconds`` for the rest of group ``pgid`` to end; kill what is still running."""
    deadline = time.monotonic() + seconds
    left = group_members(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = group_members(pgid)
    if left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    return tuple(left)


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
    settle: float = 0.0,
) -> Finished:
    """Run ``command`` in a new process group; kill the group on timeout or any exception.

    With ``settle`` (a build), the command is done only when every process of its group has
    ended: up to ``settle`` seconds after the first one returned; the ones still running then are
    killed and named in :attr:`Finished.left`.

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
        try:
            left = _settle(proc.pid, settle) if settle > 0 else ()
        except BaseException:  # Ctrl-C while waiting: the rest of the group goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        return Finished(returncode=proc.returncode, timed_out=False, seconds=time.monotonic() - t0, left=left)
    finally:
        with _LOCK:
            _RUNNING.pop(proc.pid, None)
