"""Outputs written beside the others, in a second process.

The trace matrix (CSV and XLSX) depends on nothing the other outputs write, and on a large project
it is about a third of the reports' time (SQLite: 0.4 s of 1.0 s).  On Linux with more than one
core, when the trace matrix is large, :func:`covguard.report.outputs.write_outputs` writes it in a
forked child while it writes the others, and waits for it before the HTML page (which links to
it).  The child writes the same files the same way (atomically, the same bytes); its error is
raised in the parent as if the parent had written them.  No fork when other threads run (a fork
copies only the calling thread: a lock another thread held would never be released).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable

from covguard.errors import OutputError

MIN_ROWS = 5_000
"""A trace matrix of fewer links than this is written in the same process (a fork costs more)."""


def can_fork() -> bool:
    """Whether a second process can help here: Linux (a fork there is safe for a single-threaded
    process), more than one core, no other thread running.  (The load average is no guide: with
    the machine's other jobs at 2.3 on 2 cores the outputs at SQLite size still took 0.63-0.66 s
    forked against about 1 s in one process; the fork's copied pages cost about 0.25 s more CPU
    over both processes.)"""
    cores = os.cpu_count() or 1
    return sys.platform.startswith("linux") and cores > 1 and threading.active_count() == 1


class Forked:
    """``work`` run in a forked child from the start; :meth:`join` waits for it and raises the
    exception it raised (:meth:`stop` ends it when the parent gives up first)."""

    def __init__(self, work: Callable[[], None]) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage of the parent only)
            os.close(read)
            status = 0
            try:
                work()
            except BaseException as exc:  # every error goes to the parent
                status = 1
                try:
                    data = pickle.dumps(exc)
                except Exception:  # an error that does not pickle: its text
                    data = pickle.dumps(OutputError(str(exc)))
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
            finally:
                os._exit(status)  # no exit handlers, no flush of the parent's buffers
        os.close(write)
        self.pid = pid
        self.read = read
        self.done = False

    def join(self) -> None:
        if self.done:
            return
        self.done = True
        with os.fdopen(self.read, "rb") as pipe:
            data = pipe.read()  # until the child ends (it holds the only write end)
        _pid, status = os.waitpid(self.pid, 0)
        if data:
            error = pickle.loads(data)  # written by our own child, just above
            raise error
        if status:
            raise OutputError(f"the process writing the trace matrix ended abnormally (status {status})")

    def stop(self) -> None:
        """End the child if it is still running (the parent failed before :meth:`join`)."""
        if self.done:
            return
        self.done = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        os.waitpid(self.pid, 0)
        os.close(self.read)
