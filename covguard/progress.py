"""Progress of the long steps (build, tests, coverage collection, reports) on a terminal.

A :class:`Progress` is the ``echo`` callback the pipeline takes (:mod:`covguard.api`): each message
is ``"<step>: <detail>"``.  On a terminal it keeps one status line on stderr, rewritten in place
with the step, how many items of it have started, the detail and the elapsed time; when the step
changes, the finished step stays on screen as one line with its duration.  When stderr is not a
terminal (CI logs, pipes, files) or ``TERM=dumb``, it prints nothing at all: a CI log holds only
the summary.  The test runner calls it from several threads; a lock keeps the lines whole.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal that understands carriage returns."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


class Progress:
    """A status line for the pipeline's steps; silent unless ``stream`` is a terminal."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self._clock = clock
        self._width = width
        self._lock = threading.Lock()
        self._step: str | None = None
        self._step_started = 0.0
        self._count = 0

    def __call__(self, message: str) -> None:
        """Show one ``"<step>: <detail>"`` message."""
        if not self.enabled:
            return
        step, _, detail = message.partition(": ")
        with self._lock:
            now = self._clock()
            if step != self._step:
                self._finish_step(now)
                self._step, self._step_started, self._count = step, now, 0
            self._count += 1
            counter = f" [{self._count}]" if self._count > 1 else ""
            text = f"covguard: {step}{counter} {detail} ({now - self._step_started:.1f} s)"
            self._write("\r" + self._fit(text) + "\x1b[K")

    def close(self) -> None:
        """End the status line (the last step stays on screen with its duration)."""
        if not self.enabled:
            return
        with self._lock:
            self._finish_step(self._clock())
            self._step = None

    def _finish_step(self, now: float) -> None:
        if self._step is None:
            return
        items = f", {self._count} items" if self._count > 1 else ""
        self._write(
            "\r" + self._fit(f"covguard: {self._step} done ({now - self._step_started:.1f} s{items})")
        )
        self._write("\x1b[K\n")

    def _fit(self, text: str) -> str:
        width = self._width or shutil.get_terminal_size((100, 24)).columns
        return text if len(text) < width else text[: max(width - 2, 10)] + "…"

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False  # the terminal went away: progress is not worth an error

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
