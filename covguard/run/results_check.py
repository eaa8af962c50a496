"""Test results are derived data: the raw output of the test executables is the evidence.

``results.json`` says which test passed; the executables' own output (``run/logs/<label>/
stdout.N.txt``, one file per run of the executable: a crash or hang inside a test restarts it after
that test) says what really happened.  :func:`raw_verdicts` reads one executable's output files -
a pure function of their text - and :func:`results_problems` checks that ``results.json`` is never
more favourable than them: a test the output shows failing, crashing, skipped or absent is never a
pass, a passing test verifies exactly the requirements its output declares, and every test in the
output is in the results.  ``covguard merge`` (each shard) and ``covguard evidence verify`` (the
package) run the check, so an edited ``results.json`` cannot turn a failure into a pass.

The results may be *less* favourable than the raw output (the runner turns a pass into an error when
the executable then crashed, or when a target's coverage did not come back): that is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from covguard.confine import shown
from covguard.ingest.test_output import parse_output
from covguard.model import TestCase

# how favourable a verdict is: the results may never rank a test below its raw output
RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
_ATTEMPT = re.compile(r"stdout\.(\d+)\.txt")


@dataclass(frozen=True)
class RawCase:
    """One test as the raw output shows it (the worst verdict over the executable's runs)."""

    status: str  # passed | skipped | failed | error (began, never ended)
    verifies: tuple[str, ...]
    attempt: int  # the stdout.N.txt that gave the verdict


def raw_verdicts(texts: Sequence[str], fmt: str = "auto", nonce: str | None = None) -> dict[str, RawCase]:
    """What the output of one executable's runs (``texts[N]`` = ``stdout.N.txt``) says of each test;
    ``nonce``: the run's protocol nonce (recorded in results.json), when it had one."""
    out: dict[str, RawCase] = {}
    for attempt, text in enumerate(texts):
        parsed = parse_output(text, fmt, nonce)
        for c in parsed.cases:
            status = c.status or "error"
            prev = out.get(c.name)
            if prev is None or RANK.get(status, 3) > RANK.get(prev.status, 3):
                out[c.name] = RawCase(status, tuple(c.verifies), attempt)
    return out


def read_logs(folder: Path) -> list[str]:
    """The text of ``stdout.0.txt``, ``stdout.1.txt``, ... in a log folder (as the runner decodes it)."""
    found = sorted(
        (int(m[1]), p)
        for p in folder.glob("stdout.*.txt")
        if (m := _ATTEMPT.fullmatch(p.name)) and p.is_file()
    )
    return [p.read_bytes().decode("utf-8", errors="replace") for _n, p in found]


def case_problems(label: str, cases: Sequence[TestCase], raw: dict[str, RawCase], logs: str) -> list[str]:
    """Where the results of one executable are more favourable than its raw output (pure)."""
    problems: list[str] = []
    names = set()
    for c in cases:
        names.add(c.name)
        got = raw.get(c.name)
        if got is None:
            if c.status in ("passed", "skipped"):
                problems.append(
                    f"test '{shown(c.test)}' is {c.status} in the results, but its executable's output "
                    f"({logs}) has no such test"
                )
            continue
        if RANK.get(c.status, 3) < RANK.get(got.status, 3):
            problems.append(
                f"test '{shown(c.test)}' is {c.status} in the results, but the raw output says "
                f"{got.status} ({logs}/stdout.{got.attempt}.txt)"
            )
        elif c.status == "passed" and tuple(c.verifies) != got.verifies:
            problems.append(
                f"test '{shown(c.test)}' verifies {', '.join(c.verifies) or 'nothing'} in the results, but "
                f"the raw output declares {', '.join(got.verifies) or 'nothing'} "
                f"({logs}/stdout.{got.attempt}.txt)"
            )
    for name, got in sorted(raw.items()):
        if name not in names:
            problems.append(
                f"test '{shown(label)}::{shown(name)}' ({got.status} in {logs}/stdout.{got.attempt}.txt) is "
                "missing from the results"
            )
    return problems


CHECKED_FORMATS = ("covguard", "unity")  # whose verdicts are in the standard output covguard keeps


def results_problems(runs: Sequence[tuple[str, str, Path, str, str]], cases: Sequence[TestCase]) -> list[str]:
    """Check the results of every executable run against its raw output.

    ``runs`` holds, per executable: its label, its output format as recorded, its log folder, how
    to name that folder in a message, and its protocol nonce ("" for none).  Executables of other
    formats (exit status, GoogleTest/CppUTest/cmocka records, pytest) are not checked here: their
    verdicts are not in the standard output."""
    problems: list[str] = []
    for label, fmt, folder, shown_as, nonce in runs:
        if fmt not in CHECKED_FORMATS:
            continue
        mine = [c for c in cases if c.test.startswith(f"{label}::")]
        texts = read_logs(folder) if folder.is_dir() else []
        if not texts:
            if any(c.status in ("passed", "skipped") for c in mine):
                problems.append(
                    f"the raw output of '{shown(label)}' ({shown_as}/stdout.N.txt) is missing: its results "
                    "cannot be checked"
                )
            continue
        raw = raw_verdicts(texts, fmt, nonce or None)
        problems += case_problems(label, mine, raw, shown_as)
    return problems
