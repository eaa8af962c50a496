"""Parsers of test executables' output: covguard's harness protocol and Unity's standard output.

covguard protocol (see ``runtime/covguard_test.h``)::

    @@covguard<TAB>start<TAB>1<TAB>12
    @@covguard<TAB>begin<TAB>0<TAB>name<TAB>file<TAB>line<TAB>PUMP-SRS-004, PUMP-SRS-005
    @@covguard<TAB>end<TAB>0<TAB>name<TAB>PASS|FAIL|SKIP<TAB>file<TAB>line<TAB>us|-<TAB>message
    @@covguard<TAB>done<TAB>run<TAB>failed<TAB>skipped

The marker may follow text the test printed without a newline; it is searched anywhere in a line.

Unity (ThrowTheSwitch) prints one line per test and a summary::

    test/test_bolus.c:42:test_limit:PASS
    test/test_bolus.c:57:test_clamp:FAIL: Expected 10 Was 12
    test/test_bolus.c:60:test_slow:IGNORE
    -----------------------
    3 Tests 1 Failures 1 Ignored
    FAIL
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKER = "@@covguard\t"

_UNITY_CASE = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[^:\n]+):(?P<line>\d+):(?P<name>[A-Za-z_]\w*):"
    r"(?P<status>PASS|FAIL|IGNORE)(?::\s?(?P<message>.*))?\s*$"
)
_UNITY_SUMMARY = re.compile(r"^(?P<tests>\d+) Tests (?P<failures>\d+) Failures (?P<ignored>\d+) Ignored\s*$")
_STATUS = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped", "IGNORE": "skipped"}


@dataclass
class CaseOutput:
    """One test case as the executable reported it."""

    index: int
    name: str
    file: str
    line: int
    verifies: tuple[str, ...] = ()
    status: str | None = None  # passed | failed | skipped; None: began but never ended
    duration_s: float | None = None
    message: str = ""


@dataclass
class ParsedOutput:
    """What one run of one test executable printed."""

    format: str  # covguard | unity | unknown
    declared: int | None = None  # number of tests the executable announced
    cases: list[CaseOutput] = field(default_factory=list)
    done: bool = False
    summary: tuple[int, int, int] | None = None  # run/tests, failed, skipped/ignored
    problems: list[str] = field(default_factory=list)

    @property
    def unfinished(self) -> CaseOutput | None:
        """The case that began but did not end (a crash or hang inside it), if any."""
        for case in self.cases:
            if case.status is None:
                return case
        return None


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n")


def split_ids(text: str) -> tuple[str, ...]:
    """``"A-1, A-2 A-3"`` -> ``("A-1", "A-2", "A-3")``."""
    return tuple(t for t in re.split(r"[\s,;]+", text.strip()) if t)


def parse_covguard(text: str) -> ParsedOutput:
    out = ParsedOutput(format="covguard")
    by_index: dict[int, CaseOutput] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        at = raw.find(MARKER)
        if at < 0:
            continue
        fields = raw[at + len(MARKER) :].split("\t")
        kind = fields[0]
        try:
            if kind == "start":
                out.declared = int(fields[2])
            elif kind == "begin":
                index = int(fields[1])
                case = CaseOutput(
                    index=index,
                    name=fields[2],
                    file=fields[3],
                    line=int(fields[4]),
                    verifies=split_ids(fields[5]) if len(fields) > 5 else (),
                )
                by_index[index] = case
                out.cases.append(case)
            elif kind == "end":
                index = int(fields[1])
                began = by_index.get(index)
                if began is None:
                    out.problems.append(f"output line {lineno}: end of test {index} that never began")
                    continue
                began.status = _STATUS.get(fields[3], "failed")
                began.file = fields[4] or began.file
                began.line = int(fields[5]) if fields[5].lstrip("-").isdigit() else began.line
                began.duration_s = int(fields[6]) / 1e6 if fields[6].isdigit() else None
                began.message = _unescape("\t".join(fields[7:])) if len(fields) > 7 else ""
            elif kind == "done":
                out.done = True
                out.summary = (int(fields[1]), int(fields[2]), int(fields[3]))
            elif kind == "error":
                out.problems.append("\t".join(fields[1:]))
        except (IndexError, ValueError):
            out.problems.append(f"output line {lineno}: malformed covguard protocol line: {raw[at:][:200]!r}")
    return out


def parse_unity(text: str) -> ParsedOutput:
    out = ParsedOutput(format="unity")
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        m = _UNITY_CASE.match(line)
        if m:
            out.cases.append(
                CaseOutput(
                    index=len(out.cases),
                    name=m["name"],
                    file=m["file"],
                    line=int(m["line"]),
                    status=_STATUS[m["status"]],
                    message=(m["message"] or "").strip(),
                )
            )
            continue
        s = _UNITY_SUMMARY.match(line.strip())
        if s:
            out.done = True
            out.summary = (int(s["tests"]), int(s["failures"]), int(s["ignored"]))
    if out.summary is not None:
        tests, failures, ignored = out.summary
        seen_fail = sum(1 for c in out.cases if c.status == "failed")
        seen_skip = sum(1 for c in out.cases if c.status == "skipped")
        if (tests, failures, ignored) != (len(out.cases), seen_fail, seen_skip):
            out.problems.append(
                f"Unity summary says {tests} tests, {failures} failures, {ignored} ignored, but the "
                f"output lists {len(out.cases)} tests, {seen_fail} failures, {seen_skip} ignored"
            )
    return out


def detect_format(text: str) -> str:
    if MARKER in text:
        return "covguard"
    for raw in text.splitlines():
        if _UNITY_CASE.match(raw.rstrip("\r")) or _UNITY_SUMMARY.match(raw.strip()):
            return "unity"
    return "unknown"


def parse_output(text: str, fmt: str = "auto") -> ParsedOutput:
    """Parse one executable's stdout in the given (or detected) format."""
    kind = detect_format(text) if fmt == "auto" else fmt
    if kind == "covguard":
        return parse_covguard(text)
    if kind == "unity":
        return parse_unity(text)
    return ParsedOutput(format="unknown")
