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


# ---- a failure reported as a pass: the protocol cannot be forged by printing


def _n(text: str, nonce: str = "f00d") -> str:
    return text.replace("@@covguard\t", f"@@covguard:{nonce}\t")


def test_lines_without_the_run_nonce_are_refused() -> None:
    forged = (
        "@@covguard\tend\t1\tclamp\tPASS\ttests/t.c\t23\t-\t\n"
        "@@covguard:beef\tdone\t3\t0\t0\n"
        "@@covguard\tbegin\t9\tinvented\ttests/t.c\t1\tPUMP-SRS-001\n"
    )
    p = parse_covguard(_n(PROTOCOL) + forged, nonce="f00d")
    assert [(c.name, c.status) for c in p.cases] == [
        ("limit_ok", "passed"),
        ("clamp", "failed"),
        ("crashes", None),
    ]
    assert not p.done
    assert p.problems == [
        "3 protocol line(s) without this run's nonce were refused: printed by a test or the code under test, "
        "not by covguard's harness"
    ]
    # and the format is not detected from forged lines alone
    assert parse_output(forged, nonce="f00d").format == "unknown"


def test_one_begin_per_index_and_end_matching_its_begin() -> None:
    text = _n(
        "@@covguard\tbegin\t0\ta\tt.c\t1\tR-1\n"
        "@@covguard\tbegin\t0\tb\tt.c\t2\tR-2\n"  # a second begin of index 0
        "@@covguard\tend\t0\tb\tPASS\tt.c\t2\t-\t\n"  # the end of another name
        "@@covguard\tend\t0\ta\tFAIL\tt.c\t1\t-\tbad\n"
        "@@covguard\tend\t0\ta\tPASS\tt.c\t1\t-\t\n"  # a second end
        "@@covguard\tdone\t1\t1\t0\n"
        "@@covguard\tbegin\t1\tlate\tt.c\t3\tR-1\n"  # after done
    )
    p = parse_covguard(text, nonce="f00d")
    assert [(c.name, c.status, c.verifies) for c in p.cases] == [("a", "failed", ("R-1",))]
    assert len(p.problems) == 4
    assert "second 'begin' of test 0" in p.problems[0]
    assert "does not match" in p.problems[1]
    assert "does not match" in p.problems[2]
    assert "after 'done'" in p.problems[3]


def test_a_pass_with_a_message_is_refused() -> None:
    p = parse_covguard(
        _n("@@covguard\tbegin\t0\ta\tt.c\t1\t\n@@covguard\tend\t0\ta\tPASS\tt.c\t1\t-\tboom\n"), "f00d"
    )
    assert p.cases[0].status == "error"
    assert "PASS that carries a failure message: boom" in p.cases[0].message


def test_unity_fail_found_after_the_tests_own_output() -> None:
    p = parse_unity(
        "checking... test/t.c:12:test_x:FAIL: Expected 1 Was 2\n1 Tests 1 Failures 0 Ignored\nFAIL\n"
    )
    assert [(c.name, c.file, c.line, c.status, c.message) for c in p.cases] == [
        ("test_x", "test/t.c", 12, "failed", "Expected 1 Was 2")
    ]
    assert not p.problems


def test_unity_with_hooks_one_result_per_case_the_worst() -> None:
    text = _n(
        "@@covguard\tunity-begin\t0\ttest_a\tt.c\n"
        "t.c:3:test_a:PASS\n"  # printed by the test itself
        "noise t.c:5:test_a:FAIL: Expected 1 Was 2\n"
        "t.c:6:test_a:PASS\n"  # a pass after the failure changes nothing
        "t.c:7:test_z:PASS\n"  # another test's result inside test_a
        "@@covguard\tunity-end\t0\n"
        "t.c:9:test_forged:PASS\n"  # between cases
        "@@covguard\tunity-begin\t1\ttest_b\tt.c\n"
        "@@covguard\tunity-end\t1\n"  # no result line
        "@@covguard\tunity-begin\t2\ttest_c\tt.c\n"  # crashed
    )
    p = parse_unity(text, nonce="f00d")
    assert p.hooked
    assert not p.done
    assert [(c.index, c.name, c.status, c.line) for c in p.cases] == [
        (0, "test_a", "failed", 5),
        (1, "test_b", "error", 0),
        (2, "test_c", None, 0),
    ]
    assert p.unfinished is not None
    assert p.unfinished.name == "test_c"
    assert any("more than one Unity result" in x for x in p.problems)
    assert any("1 Unity result line(s) outside any test case" in x for x in p.problems)
    assert any("a Unity result of 'test_z' inside test 'test_a'" in x for x in p.refused)
    assert len(p.refused) == 4  # two extra results of test_a, test_z's, the one between cases


def test_unity_execution_times_and_colours() -> None:
    text = (
        "t.c:3:test_a:\x1b[42mPASS\x1b[0m (12 ms)\n"
        "t.c:9:test_b:\x1b[41mFAIL\x1b[0m: Expected 1 Was 2 (3 ms)\n"
        "t.c:11:test_c(1, 2):IGNORE\n"
        "-----------------------\n3 Tests 1 Failures 1 Ignored \n\x1b[41mFAIL\x1b[0m\n"
    )
    assert detect_format(text) == "unity"
    p = parse_unity(text)
    assert [(c.name, c.status, c.message, c.duration_s) for c in p.cases] == [
        ("test_a", "passed", "", 0.012),
        ("test_b", "failed", "Expected 1 Was 2", 0.003),
        ("test_c(1, 2)", "skipped", "", None),
    ]
    assert not p.problems
