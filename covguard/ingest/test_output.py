"""Parsers of test executables' output: covguard's harness protocol and Unity's standard output.

covguard protocol (see ``runtime/covguard_test.h``)::

    @@covguard<TAB>start<TAB>1<TAB>12
    @@covguard<TAB>begin<TAB>0<TAB>name<TAB>file<TAB>line<TAB>PUMP-SRS-004, PUMP-SRS-005
    @@covguard<TAB>end<TAB>0<TAB>name<TAB>PASS|FAIL|SKIP<TAB>file<TAB>line<TAB>us|-<TAB>message
    @@covguard<TAB>done<TAB>run<TAB>failed<TAB>skipped

The marker may follow text the test printed without a newline; it is searched anywhere in a line.
When covguard runs the executable the marker carries the run's nonce (``@@covguard:<nonce>``) and
lines without it are refused.  covguard's Unity hooks print ``unity-begin``/``unity-end``/
``unity-done`` lines around each Unity test case in the same form.

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
# the marker, with the run's nonce when covguard runs the executable: "@@covguard:<nonce><TAB>"
_MARK = re.compile(r"@@covguard(?::(?P<nonce>[^\t\s]*))?\t")

_UNITY_RESULT = (
    # a parametrised case (TEST_CASE, TEST_RANGE) is named "test_x(1, 2)"
    r"(?P<file>(?:[A-Za-z]:)?[^:\s]+):(?P<line>\d+):(?P<name>[A-Za-z_]\w*(?:\([^\n]*?\))?):"
    # UNITY_INCLUDE_EXEC_TIME adds " (N ms)" to the line
    r"(?P<status>PASS|FAIL|IGNORE)(?::\s?(?P<message>.*?))?(?:\s\((?P<ms>\d+) ms\))?\s*$"
)
# UNITY_OUTPUT_COLOR: "\033[42mPASS\033[0m"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNITY_CASE = re.compile(r"^" + _UNITY_RESULT)
# a result line after text the test printed without a newline: found anywhere in the line
_UNITY_ANYWHERE = re.compile(r"(?<![^\s])" + _UNITY_RESULT)
_UNITY_SUMMARY = re.compile(r"^(?P<tests>\d+) Tests (?P<failures>\d+) Failures (?P<ignored>\d+) Ignored\s*$")
_STATUS = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped", "IGNORE": "skipped"}
_WORST = {"error": 3, "failed": 2, "skipped": 1, "passed": 0}
_UNITY_MARKS = ("unity-begin", "unity-end", "unity-done")


@dataclass
class CaseOutput:
    """One test case as the executable reported it."""

    index: int
    name: str
    file: str
    line: int
    verifies: tuple[str, ...] = ()
    status: str | None = None  # passed | failed | skipped | error; None: began but never ended
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
    hooked: bool = False  # Unity with covguard's hooks: one coverage folder per case
    refused: list[str] = field(default_factory=list)  # lines that could turn a failure into a pass

    def refuse(self, problem: str) -> None:
        """A line that breaks the protocol's rules: refused, reported, and the executable an error."""
        self.refused.append(problem)
        self.problems.append(problem)

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


def _protocol_lines(text: str, nonce: str | None, out: ParsedOutput) -> list[tuple[int, str, list[str]]]:
    """(line number, raw, fields) of every protocol line carrying this run's nonce; lines with
    another nonce or none (printed by a test or the code under test) are counted and refused."""
    lines: list[tuple[int, str, list[str]]] = []
    forged = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        m = _MARK.search(raw)
        if m is None:
            continue
        if nonce is not None and m["nonce"] != nonce:
            forged += 1
            continue
        lines.append((lineno, raw[m.start() :], raw[m.end() :].split("\t")))
    if forged:
        out.refuse(
            f"{forged} protocol line(s) without this run's nonce were refused: printed by a test or the "
            "code under test, not by covguard's harness"
        )
    return lines


def parse_covguard(text: str, nonce: str | None = None) -> ParsedOutput:
    """The harness's protocol.  With ``nonce`` (covguard ran the executable) only lines carrying it
    count.  One ``begin`` per index, an ``end`` only for the open ``begin`` of the same index and
    name, nothing after ``done``, no PASS with a failure message: anything else is refused and
    reported as a problem (which makes the executable's coverage incomplete, never a pass)."""
    out = ParsedOutput(format="covguard")
    by_index: dict[int, CaseOutput] = {}
    open_case: CaseOutput | None = None
    for lineno, raw, fields in _protocol_lines(text, nonce, out):
        kind = fields[0]
        if out.done:
            out.refuse(f"output line {lineno}: protocol line after 'done' refused: {raw[:200]!r}")
            continue
        try:
            if kind == "start":
                out.declared = int(fields[2])
            elif kind == "begin":
                index = int(fields[1])
                if index in by_index:
                    out.refuse(f"output line {lineno}: a second 'begin' of test {index} refused")
                    continue
                if open_case is not None:
                    out.refuse(
                        f"output line {lineno}: 'begin' of test {index} while test {open_case.index} "
                        "has not ended"
                    )
                case = CaseOutput(
                    index=index,
                    name=fields[2],
                    file=fields[3],
                    line=int(fields[4]),
                    verifies=split_ids(fields[5]) if len(fields) > 5 else (),
                )
                by_index[index] = case
                out.cases.append(case)
                open_case = case
            elif kind == "end":
                index = int(fields[1])
                began = by_index.get(index)
                if began is None:
                    out.refuse(f"output line {lineno}: end of test {index} that never began")
                    continue
                if began is not open_case or fields[2] != began.name:
                    out.refuse(
                        f"output line {lineno}: 'end' of test {index} ({fields[2]!r}) does not match the "
                        "test that is running; refused"
                    )
                    continue
                open_case = None
                status = _STATUS.get(fields[3], "failed")
                message = _unescape("\t".join(fields[7:])) if len(fields) > 7 else ""
                if status == "passed" and message:
                    status = "error"
                    message = "refused: a PASS that carries a failure message: " + message
                    out.refuse(f"output line {lineno}: test {index} reported PASS with a message")
                began.status = status
                began.file = fields[4] or began.file
                began.line = int(fields[5]) if fields[5].lstrip("-").isdigit() else began.line
                began.duration_s = int(fields[6]) / 1e6 if fields[6].isdigit() else None
                began.message = message
            elif kind == "done":
                out.done = True
                out.summary = (int(fields[1]), int(fields[2]), int(fields[3]))
            elif kind == "error":
                out.problems.append("\t".join(fields[1:]))
        except (IndexError, ValueError):
            out.problems.append(f"output line {lineno}: malformed covguard protocol line: {raw[:200]!r}")
    return out


def _unity_result(line: str) -> re.Match[str] | None:
    return _UNITY_CASE.match(line) or _UNITY_ANYWHERE.search(line)


def parse_unity(text: str, nonce: str | None = None) -> ParsedOutput:
    """Unity's output.  With covguard's hooks linked in (``runtime/covguard_unity.c``) the result
    line printed between a case's ``unity-begin`` and ``unity-end`` is that case's (the worst,
    when a test printed result-like lines of its own); result lines outside any case are refused."""
    out = ParsedOutput(format="unity")
    marks = [
        (lineno, fields)
        for lineno, _raw, fields in _protocol_lines(text, nonce, out)
        if fields and fields[0] in _UNITY_MARKS
    ]
    # hooked when a case began; marks without any (a runner whose calls the hooks never saw) leave
    # the output to be read as plain Unity, attributed per executable
    out.hooked = any(fields[0] == "unity-begin" for _lineno, fields in marks)
    if not out.hooked:
        marks = []
    by_line = dict(marks)
    current: CaseOutput | None = None
    seen: set[int] = set()
    stray = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _ANSI.sub("", raw.rstrip("\r"))
        fields = by_line.get(lineno)
        if fields is not None:
            try:
                index = int(fields[1])
            except (IndexError, ValueError):
                out.problems.append(f"output line {lineno}: malformed covguard Unity mark")
                continue
            if fields[0] == "unity-begin" and index not in seen and not out.done:
                seen.add(index)
                name = fields[2] if len(fields) > 2 else f"<test {index}>"
                file = fields[3] if len(fields) > 3 else ""
                current = CaseOutput(index=index, name=name, file=file, line=0)
                out.cases.append(current)
            elif fields[0] == "unity-end" and current is not None and current.index == index:
                if current.status is None:
                    current.status = "error"
                    current.message = "the test ended without printing a Unity result line"
                current = None
            elif fields[0] == "unity-done" and current is None:
                out.done = True
            else:
                out.problems.append(
                    f"output line {lineno}: covguard Unity mark out of order: {fields[0]} {index}"
                )
            continue
        m = _unity_result(line)
        if m:
            if out.hooked and current is None:
                stray += 1
                continue
            status = _STATUS[m["status"]]
            if current is None:
                out.cases.append(
                    CaseOutput(
                        index=len(out.cases),
                        name=m["name"],
                        file=m["file"],
                        line=int(m["line"]),
                        status=status,
                        message=(m["message"] or "").strip(),
                        duration_s=int(m["ms"]) / 1e3 if m["ms"] else None,
                    )
                )
            elif m["name"] != current.name and current.name not in ("", "?"):
                out.refuse(
                    f"output line {lineno}: a Unity result of '{m['name']}' inside test '{current.name}'"
                )
            else:
                if current.status is not None:
                    out.refuse(f"test '{current.name}' printed more than one Unity result; the worst counts")
                if current.status is None or _WORST[status] > _WORST[current.status]:
                    current.name, current.file, current.line = m["name"], m["file"], int(m["line"])
                    current.status, current.message = status, (m["message"] or "").strip()
                    current.duration_s = int(m["ms"]) / 1e3 if m["ms"] else None
            continue
        s = _UNITY_SUMMARY.match(line.strip())
        if s:
            out.summary = (int(s["tests"]), int(s["failures"]), int(s["ignored"]))
            if not out.hooked:
                out.done = True
    if stray:
        out.refuse(
            f"{stray} Unity result line(s) outside any test case were refused (printed by a test or the "
            "code under test between cases)"
        )
    if out.summary is not None and not out.hooked:
        tests, failures, ignored = out.summary
        seen_fail = sum(1 for c in out.cases if c.status == "failed")
        seen_skip = sum(1 for c in out.cases if c.status == "skipped")
        if (tests, failures, ignored) != (len(out.cases), seen_fail, seen_skip):
            out.problems.append(
                f"Unity summary says {tests} tests, {failures} failures, {ignored} ignored, but the "
                f"output lists {len(out.cases)} tests, {seen_fail} failures, {seen_skip} ignored"
            )
    return out


def detect_format(text: str, nonce: str | None = None) -> str:
    unity_mark = False
    for m in _MARK.finditer(text):
        if nonce is not None and m["nonce"] != nonce:
            continue
        if text.startswith("unity-", m.end()):
            unity_mark = True
            continue
        return "covguard"
    if unity_mark:
        return "unity"
    for raw in text.splitlines():
        line = _ANSI.sub("", raw.rstrip("\r"))
        if _UNITY_CASE.match(line) or _UNITY_SUMMARY.match(line.strip()):
            return "unity"
    return "unknown"


def parse_output(text: str, fmt: str = "auto", nonce: str | None = None) -> ParsedOutput:
    """Parse one executable's stdout in the given (or detected) format; with ``nonce`` (covguard
    ran it) only protocol lines carrying the run's nonce count."""
    kind = detect_format(text, nonce) if fmt == "auto" else fmt
    if kind == "covguard":
        return parse_covguard(text, nonce)
    if kind == "unity":
        return parse_unity(text, nonce)
    return ParsedOutput(format="unknown")
