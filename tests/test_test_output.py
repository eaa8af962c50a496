"""Parsers of the harness protocol and of Unity's output."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from covguard.ingest.test_output import detect_format, parse_covguard, parse_output, parse_unity

PROTOCOL = (
    "@@covguard\tstart\t1\t3\n"
    "@@covguard\tbegin\t0\tlimit_ok\ttests/t.c\t10\tPUMP-SRS-004, PUMP-SRS-005\n"
    "some printf output without newline@@covguard\tend\t0\tlimit_ok\tPASS\ttests/t.c\t10\t15\t\n"
    "@@covguard\tbegin\t1\tclamp\ttests/t.c\t20\tPUMP-SRS-004\n"
    "@@covguard\tend\t1\tclamp\tFAIL\ttests/t.c\t23\t-\tx == 2 (expected 2, got 3)\\nsecond line\n"
    "@@covguard\tbegin\t2\tcrashes\ttests/t.c\t30\t\n"
)


def test_covguard_protocol() -> None:
    p = parse_covguard(PROTOCOL)
    assert p.declared == 3
    assert [(c.name, c.status) for c in p.cases] == [
        ("limit_ok", "passed"),
        ("clamp", "failed"),
        ("crashes", None),
    ]
    assert p.cases[0].verifies == ("PUMP-SRS-004", "PUMP-SRS-005")
    assert p.cases[0].duration_s == 15e-6
    assert p.cases[1].line == 23
    assert p.cases[1].duration_s is None
    assert p.cases[1].message == "x == 2 (expected 2, got 3)\nsecond line"
    assert p.unfinished is not None
    assert p.unfinished.name == "crashes"
    assert not p.done


def test_covguard_protocol_malformed_lines_are_problems() -> None:
    p = parse_covguard("@@covguard\tbegin\tnot-a-number\tx\n@@covguard\tend\t7\tx\tPASS\tf\t1\t-\t\n")
    assert len(p.problems) == 2
    assert not p.cases


UNITY = """\
test/test_bolus.c:42:test_limit:PASS
test/test_bolus.c:57:test_clamp:FAIL: Expected 10 Was 12
test/test_bolus.c:60:test_slow:IGNORE
C:\\fw\\test_x.c:7:test_win:PASS

-----------------------
4 Tests 1 Failures 1 Ignored
FAIL
"""


def test_unity() -> None:
    p = parse_unity(UNITY)
    assert [(c.name, c.status, c.line) for c in p.cases] == [
        ("test_limit", "passed", 42),
        ("test_clamp", "failed", 57),
        ("test_slow", "skipped", 60),
        ("test_win", "passed", 7),
    ]
    assert p.cases[1].message == "Expected 10 Was 12"
    assert p.cases[3].file == "C:\\fw\\test_x.c"
    assert p.done
    assert p.summary == (4, 1, 1)
    assert not p.problems


def test_unity_summary_mismatch_is_a_problem() -> None:
    p = parse_unity("t.c:1:test_a:PASS\n-----------------------\n2 Tests 0 Failures 0 Ignored\nOK\n")
    assert p.problems
    assert "2 tests" in p.problems[0]


def test_detect_format() -> None:
    assert detect_format(PROTOCOL) == "covguard"
    assert detect_format(UNITY) == "unity"
    assert detect_format("hello\nworld\n") == "unknown"
    assert parse_output("hello").format == "unknown"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_never_crash(text: str) -> None:
    for fmt in ("auto", "covguard", "unity"):
        parse_output(text, fmt)
    parse_output("@@covguard\t" + text)
