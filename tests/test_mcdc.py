"""MC/DC from clang-19's source-based coverage: decisions compiled with the real clang-19
``-fcoverage-mcdc``, run with covguard's harness (one profile per test), read with the real
llvm-profdata-19 and llvm-cov-19, and checked against truth tables derived by hand.

The fixture (tests/fixtures/c/mcdc) holds ``a && b``, ``a || b``, ``(a && b) || c``, ``a && !b``,
two expansions of a macro holding a decision, a static function of a header compiled into two
objects, and ``(a && b) || (c && d) || (e && (f || g))`` - seven conditions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from covguard import api
from covguard.analysis.crosscheck import compare_runs
from covguard.builder.area import Area
from covguard.config import load_settings
from covguard.errors import EXIT_INFRASTRUCTURE, CoverageDataError
from covguard.frames import records
from covguard.ingest import mcdc_vectors as mcdc
from covguard.ingest.llvm_cov import LlvmTools, export, merge_profile
from covguard.ingest.llvm_export import line_counts, parse_export
from covguard.options import build_options
from tests.conftest import FIXTURES, SAMPLE, require

FIXTURE = FIXTURES / "c" / "mcdc"

# ---------------------------------------------------------------------------------------------
# hand-derived truth tables: every distinct short-circuit test vector, with the outcome

# (a && b) || c
NESTED = {"TT-": True, "TFT": True, "TFF": False, "F-T": True, "F-F": False}
# (a && b) || (c && d) || (e && (f || g)): a && b true ends it (1 vector); otherwise the first
# group failed as F- or TF, the second likewise as F- or TF or succeeded as TT (ending it), and
# e && (f || g) gives F----, TT-, TFT (true), TFF (false) for the last three conditions
_THIRD = {"F--": False, "TT-": True, "TFT": True, "TFF": False}
SEVEN = {"TT-----": True}
for _first in ("F-", "TF"):
    SEVEN[_first + "TT---"] = True
    for _second in ("F-", "TF"):
        for _tail, _out in _THIRD.items():
            SEVEN[_first + _second + _tail] = _out


def vectors(text: str) -> dict[str, bool]:
    return {v.split("=")[0]: v.split("=")[1] == "T" for v in text.split(";") if v}


# ---------------------------------------------------------------------------------------------
# the arithmetic, without a compiler


def test_hand_truth_tables_match_the_evaluator() -> None:
    assert len(SEVEN) == 19
    nested = mcdc.parse_expression_text("(1 && 2) || 3")
    seven = mcdc.parse_expression_text("(1 && 2) || (3 && 4) || (5 && (6 || 7))")
    assert nested is not None
    assert seven is not None
    assert dict(mcdc.truth_table(nested)) == NESTED
    assert dict(mcdc.truth_table(seven)) == SEVEN


def test_independence_pairs_follow_llvm() -> None:
    # a && b with TT=T and F-=F: a pair for condition 1 only (b was not evaluated by F-)
    frame = pd.DataFrame({"d": ["x"], "vectors": ["TT=T;F-=F"]})
    assert mcdc.covered_conditions(frame, ["d"])["covered"].tolist() == [(1,)]
    # united over two tests of one decision, the pair appears; apart, neither has one
    two = pd.DataFrame({"d": ["x", "x"], "t": ["A", "B"], "vectors": ["TT=T", "F-=F"]})
    assert mcdc.covered_conditions(two, ["d", "t"])["covered"].tolist() == [(), ()]
    assert mcdc.covered_conditions(two, ["d"])["covered"].tolist() == [(1,)]
    # two evaluated conditions differing: not a pair (TFT vs F-F in (a && b) || c)
    odd = pd.DataFrame({"d": ["x"], "vectors": ["TFT=T;F-F=F"]})
    assert mcdc.covered_conditions(odd, ["d"])["covered"].tolist() == [()]


def _pairs_by_hand(vecs: dict[str, bool]) -> set[int]:
    out = set()
    for a, ra in vecs.items():
        for b, rb in vecs.items():
            if ra and not rb:
                diff = [
                    i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x in "TF" and y in "TF" and x != y
                ]
                if len(diff) == 1:
                    out.add(diff[0] + 1)
    return out


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(SEVEN)), max_size=12))
def test_vectorised_pairs_equal_a_brute_force(chosen: set[str]) -> None:
    picked = {v: SEVEN[v] for v in chosen}
    text = ";".join(f"{v}={'T' if r else 'F'}" for v, r in sorted(picked.items()))
    got = mcdc.covered_conditions(pd.DataFrame({"d": ["x"], "vectors": [text]}), ["d"])["covered"][0]
    assert set(got) == _pairs_by_hand(picked)


def test_decision_parser_places_conditions_where_clang_does() -> None:
    text = "(requested > settings.max_bolus_cu && !clinician_override) ||\n        glucose < 70 || r < q"
    expr = mcdc.parse_decision(text, 147, 9)
    assert expr is not None
    assert [(leaf.start, leaf.text) for leaf in expr.leaves()] == [
        ((147, 10), "requested > settings.max_bolus_cu"),
        ((147, 47), "!clinician_override"),
        ((148, 9), "glucose < 70"),
        ((148, 25), "r < q"),
    ]
    assert mcdc.expression_text(expr, [1, 2, 3, 4]) == "(1 && 2) || 3 || 4"
    assert mcdc.parse_decision("f(a && b, c)", 1, 1) is None  # not a logical expression at the top


def test_suggestion_prefers_a_partner_already_executed() -> None:
    s = mcdc.suggest("(1 && 2) || 3 || 4", [("TT--", True), ("F-FF", False)], 2)
    assert s is not None
    assert (s.vector, s.result, s.partner, s.partner_executed) == ("TFFF", False, "TT--", True)


def test_line_counts_follow_llvm_cov_rules() -> None:
    # [line, col, count, has_count, is_region_entry, is_gap]
    segs = np.array(
        [
            [6, 1, 2, 1, 1, 0],  # function body starts: line 6
            [7, 1, 0, 0, 1, 0],  # a skipped region (comment) starts line 7
            [8, 1, 2, 1, 0, 0],  # the body resumes: line 8 is not a region start and the
            #                      region running into it (the skipped one) has no count
            [9, 9, 2, 1, 1, 0],
            [9, 20, 1, 1, 1, 0],  # two regions start on line 9: the largest count wins
            [11, 6, 1, 1, 0, 1],  # a gap region: line 11 counts the wrapped region (1)
            [13, 2, 0, 0, 0, 0],  # end of the function
        ]
    )
    lines, counts = line_counts(segs)
    assert dict(zip(lines.tolist(), counts.tolist(), strict=True)) == {
        6: 2, 9: 2, 10: 1, 11: 1, 12: 1, 13: 1,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the fixture, compiled and run with clang-19


@pytest.fixture(scope="module")
def mcdc_run(tmp_path_factory: pytest.TempPathFactory) -> api.Outcome:
    require("clang-19", "llvm-cov-19", "make")
    project = tmp_path_factory.mktemp("mcdc") / "mcdc"
    shutil.copytree(FIXTURE, project)
    return api.run(load_settings(project / "covguard.toml"))


def _per_test(outcome: api.Outcome) -> pd.DataFrame:
    d = outcome.analysis.coverage.decisions if outcome.analysis else None
    assert d is not None
    return d.astype({"test": str, "decision": str, "function": str})


def _decision(outcome: api.Outcome, function: str, line: int | None = None) -> dict[str, Any]:
    assert outcome.analysis is not None
    cd = outcome.analysis.coverage.code_decisions
    rows = cd[(cd["function"].astype(str) == function) & ((cd["line"] == line) if line else True)]
    assert len(rows) == 1, rows
    return dict(rows.iloc[0])


def test_every_test_vector_is_the_hand_derived_one(mcdc_run: api.Outcome) -> None:
    d = _per_test(mcdc_run)
    got = {
        (t.split("::")[1], f): vectors(v)
        for t, f, v in zip(d["test"], d["function"], d["vectors"], strict=True)
    }
    assert got[("and2_both_true", "and2")] == {"TT": True}
    assert got[("and2_first_false", "and2")] == {"F-": False}
    assert got[("or2_both_false", "or2")] == {"FF": False}
    assert got[("or2_first_true", "or2")] == {"T-": True}
    assert got[("or2_second_true", "or2")] == {"FT": True}
    assert got[("nested_ab", "nested")] == {"TT-": True}
    assert got[("nested_b_false", "nested")] == {"TFF": False}
    assert got[("nested_c_only", "nested")] == {"F-T": True}
    assert got[("nested_none", "nested")] == {"F-F": False}
    assert got[("negated_cases", "negated")] == {"TT": True, "TF": False, "F-": False}  # a && !b
    assert got[("seven_none", "seven")] == {"F-F-F--": False}
    assert got[("seven_e_only", "seven")] == {"F-F-TFF": False}
    assert got[("clamp_direct", "clamp_ok")] == {"TF": False}
    # every input combination gives exactly the hand-derived truth table
    assert got[("nested_truth_table", "nested")] == NESTED
    assert got[("seven_truth_table", "seven")] == SEVEN


def test_conditions_and_their_text(mcdc_run: api.Outcome) -> None:
    seven = _decision(mcdc_run, "seven")
    assert seven["text"] == "(a && b) || (c && d) || (e && (f || g))"
    assert seven["condition_texts"].split("\t") == list("abcdefg")
    assert seven["expression"] == "(1 && 2) || (3 && 4) || (5 && (6 || 7))"
    assert (seven["line"], seven["end_line"], seven["conditions_total"]) == (44, 45, 7)
    negated = _decision(mcdc_run, "negated")
    assert negated["condition_texts"].split("\t") == ["a", "!b"]
    # the two expansions of IN_RANGE: two decisions at their use, conditions in the macro
    for line in (34, 36):
        r = _decision(mcdc_run, "ranges", line)
        assert (r["decision_file"], r["decision_line"]) == ("src/logic.h", 5)
        assert r["condition_texts"].split("\t") == ["(x) >= (lo)", "(x) <= (hi)"]
    assert _decision(mcdc_run, "ranges", 34)["uncovered"] == ""
    assert _decision(mcdc_run, "ranges", 36)["uncovered"] == "2"  # b <= 19 never false


def test_whole_run_mcdc(mcdc_run: api.Outcome) -> None:
    """Over all tests (what llvm-cov shows): the truth-table tests complete nested and seven;
    the two copies of clamp_ok (logic.c and test_logic.c) unite their vectors."""
    uncovered = {
        r["function"]: r["uncovered"]
        for r in mcdc_run.analysis.coverage.code_decisions.to_dict(orient="records")  # type: ignore[union-attr]
        if r["function"] != "ranges"
    }
    assert uncovered == {
        "and2": "2", "or2": "", "nested": "", "negated": "", "seven": "", "clamp_ok": "1",
        "unmeasurable": "1",
    }  # fmt: skip


def test_requirement_based_mcdc(mcdc_run: api.Outcome) -> None:
    """Only vectors of passing tests of the function's own requirement count: or2's other tests
    (MC-9) and the truth-table tests (MC-9) do not."""
    a = mcdc_run.analysis
    assert a is not None
    fn = a.functions.set_index("function")
    got = {f: (int(fn.loc[f, "conditions_verified"]), int(fn.loc[f, "conditions_total"])) for f in fn.index}
    assert got == {
        "and2": (1, 2), "or2": (0, 2), "nested": (3, 3), "negated": (2, 2), "ranges": (3, 4),
        "seven": (5, 7), "identity": (0, 0), "clamp_ok": (0, 2), "unmeasurable": (0, 1),
    }  # fmt: skip
    req = {r["id"]: (r["conditions_verified"], r["conditions_total"]) for r in records(a.requirements)}
    assert req["MC-7"] == (5, 7)
    assert req["MC-3"] == (3, 3)
    doc = json.loads(mcdc_run.outputs["findings"].read_text(encoding="utf-8"))
    mc2 = next(r for r in doc["requirements"] if r["id"] == "MC-2")
    assert mc2["coverage"]["mcdc"] == 0.0
    assert doc["summary"]["coverage"]["requirement_mcdc"] < doc["summary"]["coverage"]["mcdc"]
    # the document written column by column is the document every other output reads, dumped
    from covguard.report import findings_json

    written = mcdc_run.outputs["findings"].read_text(encoding="utf-8")
    assert written == findings_json.dumps(findings_json.findings_document(a, mcdc_run.gate))
    seven = next(f for f in doc["functions"] if f["function"] == "seven")["coverage"]
    assert (seven["conditions_verified"], seven["conditions_total"], seven["mcdc"]) == (5, 7, 71.4)


def test_gaps_are_named_with_the_missing_input(mcdc_run: api.Outcome) -> None:
    a = mcdc_run.analysis
    assert a is not None
    gaps = a.findings[a.findings["kind"] == "mcdc_gap"]
    by_fn = {r["function"]: r for r in gaps.to_dict(orient="records")}
    assert sorted(by_fn) == ["and2", "clamp_ok", "or2", "ranges", "seven", "unmeasurable"]
    seven = by_fn["seven"]
    assert (seven["file"], seven["line"], seven["end_line"]) == ("src/logic.c", 44, 45)
    assert seven["decision"]["missing"] == [2, 4]
    assert seven["decision"]["suggestions"][0] == {
        "condition": 2,
        "add": "{T, F, F, -, F, -, - = F}",
        "pairs_with": "{T, T, -, -, -, -, - = T}",
        "pairs_with_executed": True,
    }
    assert "conditions 2 (`b`), 4 (`d`)" in seven["message"]
    assert "by the passing tests of MC-7" in seven["message"]
    assert "condition 2 needs a test with `a` true, `b` false, `c` false, `e` false" in seven["message"]
    and2 = by_fn["and2"]
    assert and2["decision"]["missing"] == [2]
    assert "`a` true, `b` false (outcome false)" in and2["message"]
    assert "(in a macro expansion; the decision is at src/logic.h:5)" in by_fn["ranges"]["message"]
    assert by_fn["ranges"]["line"] == 36
    # the gate: requirement-based MC/DC of class C functions must be 100 %
    failed = {c.subject for c in mcdc_run.gate.failures if c.check.startswith("mcdc.")}  # type: ignore[union-attr]
    assert failed == {
        "src/logic.c:and2", "src/logic.c:or2", "src/logic.c:ranges", "src/logic.c:seven",
        "src/logic.c:unmeasurable",
    }  # fmt: skip


def test_a_decision_clang_cannot_measure_is_reported(mcdc_run: api.Outcome) -> None:
    """clang-19 compiles `!(a || b) && c` without MC/DC and only warns: covguard reads the warning
    from the build, keeps it across incremental builds, and counts the decision as uncovered."""
    a = mcdc_run.analysis
    assert a is not None
    gap = next(r for r in records(a.findings) if r["function"] == "unmeasurable")
    assert (gap["file"], gap["line"]) == ("src/logic.c", 60)
    assert gap["decision"]["measured"] is False
    assert "nested boolean expression" in gap["message"]
    assert "MC/DC not measured in 'unmeasurable'" in gap["message"]


def test_lines_equal_llvm_cov_lcov_export(mcdc_run: api.Outcome, tmp_path: Path) -> None:
    """covguard's vectorised reading of the segments gives the lines ``llvm-cov export
    -format=lcov`` reports (DA records), counts included."""
    settings = load_settings(Path(mcdc_run.manifest.build_dir).parents[2] / "covguard.toml")
    area = Area(build_options(settings))
    exe = area.build_dir / "tests" / "test_logic"
    raws = sorted((area.run_dir / "coverage" / "test_logic").glob("*.profraw"))
    tools = LlvmTools()
    profdata = merge_profile(tools, raws, tmp_path / "all.profdata")
    lcov = subprocess.run(
        ["llvm-cov-19", "export", "-format=lcov", str(exe), f"-instr-profile={profdata}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected: set[tuple[str, int, int]] = set()
    current = ""
    for line in lcov.splitlines():
        if line.startswith("SF:"):
            current = line[3:]
        elif line.startswith("DA:") and "/src/" in current:
            no, count = line[3:].split(",")[:2]
            expected.add((Path(current).name, int(no), int(count)))
    frames = parse_export(export(tools, exe, profdata), lambda p: p, lambda p: "/src/" in p)
    lines = frames.lines
    got = {
        (Path(f).name, int(n), int(c))
        for f, n, c in zip(lines["file"], lines["line"], lines["count"], strict=True)
    }
    assert got == expected
    assert len(got) > 30


def test_truncated_profile_is_an_error_naming_the_file(mcdc_run: api.Outcome) -> None:
    settings = load_settings(Path(mcdc_run.manifest.build_dir).parents[2] / "covguard.toml")
    raw = Area(build_options(settings)).run_dir / "coverage" / "test_logic" / "0.profraw"
    data = raw.read_bytes()
    raw.write_bytes(data[: len(data) // 3])
    try:
        with pytest.raises(CoverageDataError) as info:
            api.coverage(settings)
        assert "0.profraw" in str(info.value)
        assert info.value.exit_code == EXIT_INFRASTRUCTURE
    finally:
        raw.write_bytes(data)


# ---------------------------------------------------------------------------------------------
# the sample firmware: the planted MC/DC gap, and gcc against clang


@pytest.fixture(scope="module")
def sample_clang(tmp_path_factory: pytest.TempPathFactory) -> api.Outcome:
    require("clang-19", "llvm-cov-19", "make")
    tmp = tmp_path_factory.mktemp("sample-clang")
    settings = load_settings(
        SAMPLE / "covguard.toml",
        overrides={"work_dir": str(tmp / "work"), "output_dir": str(tmp / "out"), "toolchain": "host-clang"},
    )
    return api.run(settings)


def test_sample_names_exactly_the_planted_gap(sample_clang: api.Outcome) -> None:
    a = sample_clang.analysis
    assert a is not None
    gaps = a.findings[a.findings["kind"] == "mcdc_gap"].to_dict(orient="records")
    assert [(g["file"], g["line"], g["function"], g["requirement"]) for g in gaps] == [
        ("src/bolus.c", 147, "bolus_check_safety", "PUMP-SRS-005")
    ]
    gap = gaps[0]
    assert gap["decision"]["missing"] == [2]
    assert gap["decision"]["conditions"][1] == {
        "number": 2,
        "text": "!clinician_override",
        "independent": False,
    }
    assert (
        "condition 2 (`!clinician_override`) never shown to independently affect the outcome"
        in gap["message"]
    )
    assert gap["decision"]["suggestions"][0]["add"] == "{T, F, F, F = F}"
    doc = json.loads(sample_clang.outputs["findings"].read_text(encoding="utf-8"))
    safety = next(r for r in doc["requirements"] if r["id"] == "PUMP-SRS-005")
    assert safety["coverage"]["conditions_total"] == 4
    assert safety["coverage"]["conditions_verified"] == 3
    assert [c.subject for c in sample_clang.gate.failures if c.check == "mcdc.C"] == [  # type: ignore[union-attr]
        "src/bolus.c:bolus_check_safety"
    ]
    # the other planted defects are found as with gcc
    kinds = set(a.findings["kind"])
    assert {"rogue", "hollow_verification", "failed_test", "unknown_requirement"} <= kinds


def test_gcc_and_clang_agree_on_what_was_executed(sample_run: api.Outcome, sample_clang: api.Outcome) -> None:
    """Same tests, two compilers: the same functions executed by every test, the same extents;
    every line-level difference has a documented reason (covguard.analysis.crosscheck)."""
    assert sample_run.analysis is not None
    assert sample_clang.analysis is not None
    diff = compare_runs(sample_run.analysis.coverage, sample_clang.analysis.coverage, SAMPLE)
    assert not len(diff[diff["kind"].isin(["function", "function_executed"])])
    assert set(diff["reason"]) <= {"signature", "brace", "macro", "continuation", "declaration"}
    executed = diff[diff["kind"] == "line_executed"]
    # only the second line of the bolus interlock, which short-circuit evaluation skips when
    # the first line decides: clang counts it with the decision's region
    assert set(zip(executed["file"], executed["line"], executed["reason"], strict=True)) == {
        ("src/bolus.c", 148, "continuation")
    }
    cf_g = sample_run.analysis.coverage.code_functions.astype({"file": str, "function": str})
    cf_c = sample_clang.analysis.coverage.code_functions.astype({"file": str, "function": str})
    key = ["file", "function", "line_start", "line_end"]
    assert (
        cf_g.loc[:, key].sort_values(key).values.tolist() == cf_c.loc[:, key].sort_values(key).values.tolist()
    )
