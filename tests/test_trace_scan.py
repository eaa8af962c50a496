"""Unit tests of the trace scanner: decoding, comment lexing, tag extraction and attachment."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from covguard.errors import ConfigError, InputError
from covguard.trace.source import Problem, decode_source, lex_comments, line_map, scan_source
from covguard.trace.tags import (
    TAG_COLUMNS,
    ScanResult,
    TagConfig,
    attach_to_functions,
    empty_tags,
    id_defect,
    scan_file,
    scan_files,
)
from tests.conftest import require

FIXTURES = Path(__file__).parent / "fixtures" / "trace"

Row = tuple[int, str, str]


def scan(source: str | bytes, path: str = "t.c", **config: object) -> ScanResult:
    """Scan a snippet (str is encoded as UTF-8)."""
    data = source.encode() if isinstance(source, str) else source
    return scan_file(path, data, TagConfig(**config))  # type: ignore[arg-type]


def rows(result: ScanResult) -> list[Row]:
    """(line, kind, value) of every tag row."""
    frame = result.tags
    return list(zip(frame["line"].tolist(), frame["kind"].tolist(), frame["value"].tolist(), strict=True))


def messages(result: ScanResult) -> list[tuple[int, str, str]]:
    """(line, severity, message) of every problem."""
    return [(p.line, p.severity, p.message) for p in result.problems]


def functions(*extents: tuple[str, int, int], file: str = "t.c") -> pd.DataFrame:
    """A functions frame from (name, line_start, line_end) triples."""
    return pd.DataFrame(
        {
            "file": [file] * len(extents),
            "function": [e[0] for e in extents],
            "line_start": [e[1] for e in extents],
            "line_end": [e[2] for e in extents],
        }
    )


def attached(source: str, *extents: tuple[str, int, int]) -> dict[str, object]:
    """ID or kind -> function of every tag of a snippet, given function extents."""
    result = scan(source)
    assert not result.problems, result.problems
    out = attach_to_functions(result.tags, functions(*extents))
    keys = [v or k for k, v in zip(out["kind"], out["value"], strict=True)]
    return {key: (None if pd.isna(f) else f) for key, f in zip(keys, out["function"], strict=True)}


# --------------------------------------------------------------------------------------------
# comments and literals


def test_line_and_block_comment_tags() -> None:
    result = scan("int a; // @req A-1\n/* @verifies T-2 */\n/*\n * @req B-3\n */\nint b;\n")
    assert rows(result) == [(1, "req", "A-1"), (2, "verifies", "T-2"), (4, "req", "B-3")]
    assert result.problems == []


def test_lex_comments_reports_style_text_lines_and_trailing() -> None:
    comments = lex_comments("int a; // one\n/* two\n   lines */ int b;\n  /**/\n")
    assert [(c.start_line, c.end_line, c.style, c.trailing, c.text) for c in comments] == [
        (1, 1, "line", True, " one"),
        (2, 3, "block", False, " two\n   lines "),
        (4, 4, "block", False, ""),
    ]
    assert comments[1].anchor_line == 3  # code follows the comment on its last line


def test_tag_in_string_literal_is_not_a_tag() -> None:
    src = 'const char *s = "@req FAKE-1 /* x */ // y \\" @req FAKE-2"; // @req REAL-1\n'
    assert rows(scan(src)) == [(1, "req", "REAL-1")]


def test_char_literal_quote_does_not_break_lexing() -> None:
    src = "char q = '\"'; char e = '\\''; // @req REAL-1\nconst char *s = \"// @req FAKE-1\";\n"
    result = scan(src)
    assert rows(result) == [(1, "req", "REAL-1")]
    assert result.problems == []


def test_line_comment_continued_by_backslash_newline() -> None:
    src = "// first line \\\n   @req CONT-1\nint x; /* @req NEXT-2 */\n// a\\\\\n@req CONT-3\n"
    result = scan(src)
    assert rows(result) == [(2, "req", "CONT-1"), (3, "req", "NEXT-2"), (5, "req", "CONT-3")]
    comments = lex_comments(src)
    assert (comments[0].start_line, comments[0].end_line) == (1, 2)


def test_string_continued_by_backslash_newline_stays_a_string() -> None:
    src = 'const char *s = "abc \\\n // @req FAKE-1 ";\n// @req REAL-1\n'
    assert rows(scan(src)) == [(3, "req", "REAL-1")]


def test_unterminated_block_comment_is_reported_and_read_to_the_end() -> None:
    result = scan("int a;\n/* @req A-1\nstill comment @req B-2\n")
    assert rows(result) == [(2, "req", "A-1"), (3, "req", "B-2")]
    assert messages(result) == [(2, "error", "unterminated /* comment: it runs to the end of the file")]


def test_unterminated_literals_end_at_their_line() -> None:
    src = "#if 0\nit's a note // @req A-1\n#endif\nx = \"open; // @req FAKE-1\n// @req B-2\n"
    result = scan(src)
    assert rows(result) == [(5, "req", "B-2")]
    assert [(line, sev) for line, sev, _ in messages(result)] == [(2, "warning"), (4, "warning")]
    assert "missing terminating ' character" in messages(result)[0][2]


def test_digit_separators_are_not_char_literals() -> None:
    src = "int n = 1'000'0; // @req A-1\nint m = 0x1'F; // @req B-2\n"
    result = scan(src, "t.cpp")
    assert rows(result) == [(1, "req", "A-1"), (2, "req", "B-2")]
    assert result.problems == []


def test_prefixed_char_and_string_literals() -> None:
    src = 'c = u8\'"\'; s = L"//"; t = u8"/*"; // @req A-1\n'
    assert rows(scan(src, "t.cpp")) == [(1, "req", "A-1")]


def test_raw_strings_in_cpp_only() -> None:
    src = 'auto s = R"x( " // @req IN-1 )x"; // @req OUT-2\n'
    assert rows(scan(src, "t.cpp")) == [(1, "req", "OUT-2")]
    # in C, R is an identifier and the string ends at the second quote: the rest is a comment
    assert rows(scan(src, "t.c")) == [(1, "req", "IN-1"), (1, "req", "OUT-2")]


def test_multiline_raw_string_and_unterminated_raw_string() -> None:
    src = 'auto s = R"(\n/* @req FAKE-1 */\n)"; // @req REAL-1\n'
    assert rows(scan(src, "t.hpp")) == [(3, "req", "REAL-1")]
    result = scan('auto s = R"d(\n// @req FAKE-1\n', "t.cc")
    assert rows(result) == []
    assert messages(result)[0][:2] == (1, "error")


# --------------------------------------------------------------------------------------------
# decoding


def test_crlf_and_lone_cr_count_as_one_line_break() -> None:
    lf = "int a;\n// @req A-1\n/* x\n @req B-2 */\nint b; // @req C-3\n"
    expected = rows(scan(lf))
    assert expected == [(2, "req", "A-1"), (4, "req", "B-2"), (5, "req", "C-3")]
    assert rows(scan(lf.replace("\n", "\r\n"))) == expected
    assert rows(scan(lf.replace("\n", "\r"))) == expected


def test_mixed_line_endings_follow_the_compiler() -> None:
    text, problems = decode_source(b"a\r\nb\rc\n\rd", "t.c")
    assert text == "a\nb\nc\n\nd"
    assert problems == []


def test_bom_is_removed_and_noted() -> None:
    result = scan(b"\xef\xbb\xbf// @req A-1\n")
    assert rows(result) == [(1, "req", "A-1")]
    assert messages(result) == [(1, "note", "UTF-8 byte order mark removed")]


def test_non_utf8_bytes_are_reported_and_tags_still_found() -> None:
    src = b"int a;\n/* caf\xe9 */ // @req A-1\n// d\xe9j\xe0 @req B-2\n"
    result = scan(src)
    assert rows(result) == [(2, "req", "A-1"), (3, "req", "B-2")]
    ((line, severity, message),) = messages(result)
    assert (line, severity) == (2, "warning")
    assert message.startswith("non-UTF-8 bytes on line 2 (3 undecodable bytes")


def test_utf16_file_is_an_error_not_a_crash() -> None:
    result = scan("// @req A-1\n".encode("utf-16"))
    assert rows(result) == []
    assert messages(result)[0][1] == "error"
    assert "UTF-16" in messages(result)[0][2]


def test_nul_bytes_are_reported_with_their_line() -> None:
    result = scan(b"int a;\nint\x00 b; // @req A-1\x00\n")
    assert rows(result) == [(2, "req", "A-1")]
    assert messages(result) == [
        (2, "warning", "NUL bytes on line 2 (2 in the file); the compiler ignores them")
    ]


def test_very_long_line() -> None:
    long_code = "int x = " + " + ".join(["1"] * 25_000) + ";"
    assert len(long_code) > 100_000
    src = f"{long_code} // @req LONG-1\n/* {'z' * 100_000} @req LONG-2 */\n// @req LONG-3\n"
    assert rows(scan(src)) == [(1, "req", "LONG-1"), (2, "req", "LONG-2"), (3, "req", "LONG-3")]


def test_tag_keyword_without_newline_at_end_of_file() -> None:
    assert rows(scan("// @req A-1")) == [(1, "req", "A-1")]
    assert rows(scan("")) == []


# --------------------------------------------------------------------------------------------
# #line


REMAPPED = """\
int a; // @req PHYS-1
#line 100 "gen.c"
// @req GEN-1
int f(void)
{
    return 0; // @req GEN-2
}
#line 7
/* @req GEN-3 */
# 50 "other.c" 2
// @req OTHER-1
"""


def test_line_directives_remap_tags_to_logical_lines() -> None:
    result = scan(REMAPPED, "phys.c")
    frame = result.tags
    got = list(zip(frame["file"], frame["line"], frame["value"], strict=True))
    assert got == [
        ("phys.c", 1, "PHYS-1"),
        ("gen.c", 100, "GEN-1"),
        ("gen.c", 103, "GEN-2"),
        ("gen.c", 7, "GEN-3"),
        ("other.c", 50, "OTHER-1"),
    ]
    gen1 = frame.iloc[1]
    assert (gen1["anchor_line"], gen1["decl_end_line"]) == (101, 102)
    assert result.problems == []


def test_line_directive_numbers_out_of_range_and_zero() -> None:
    src = "#line 99999999999\n#line " + "9" * 5000 + '\n# 0 "t.c"\n// @req A-1\n'
    result = scan(src)
    assert rows(result) == [(0, "req", "A-1")]  # GCC's own output starts with '# 0 "file"'
    assert [(line, sev) for line, sev, _ in messages(result)] == [(1, "warning"), (2, "warning")]
    assert "out of range" in messages(result)[0][2]


def test_line_map_lookup() -> None:
    lmap = line_map(REMAPPED)
    assert lmap.lookup(1) == (None, 1)
    assert lmap.lookup(3) == ("gen.c", 100)
    assert lmap.lookup(9) == ("gen.c", 7)
    assert lmap.lookup(11) == ("other.c", 50)
    assert line_map("int a;\n").is_identity


def test_line_directive_in_comment_or_string_is_ignored_and_bad_one_reported() -> None:
    src = '/*\n#line 100 "x.c"\n*/\nconst char *s = "\\\n#line 5";\n#line nonsense\n// @req A-1\n'
    result = scan(src)
    assert rows(result) == [(7, "req", "A-1")]
    assert [(line, sev) for line, sev, _ in messages(result)] == [(6, "warning")]


# --------------------------------------------------------------------------------------------
# IDs


def test_multi_id_tags_with_commas_and_spaces() -> None:
    src = "// @req A-1, B-2 C-3,D-4 , E-5 and then F-6\n/* @verifies T-1,T-2. More text X-9 */\n"
    assert rows(scan(src)) == [
        (1, "req", "A-1"),
        (1, "req", "B-2"),
        (1, "req", "C-3"),
        (1, "req", "D-4"),
        (1, "req", "E-5"),
        (2, "verifies", "T-1"),
        (2, "verifies", "T-2"),
    ]


def test_id_list_ends_at_end_of_comment_line() -> None:
    src = "/* @req A-1,\n   B-2 */\n"
    assert rows(scan(src)) == [(1, "req", "A-1")]


def test_default_pattern_accepts_multi_part_ids() -> None:
    src = "// @req PUMP-BOLUS-12 SRS-A1-7\n"
    assert rows(scan(src)) == [(1, "req", "PUMP-BOLUS-12"), (1, "req", "SRS-A1-7")]


def test_custom_id_pattern() -> None:
    src = "// @req REQ_001 REQ_002\n"
    assert rows(scan(src, id_pattern=r"REQ_[0-9]{3}")) == [(1, "req", "REQ_001"), (1, "req", "REQ_002")]


def test_lower_case_id_is_a_problem() -> None:
    result = scan("int a;\n// @req pump-1\n")
    assert rows(result) == []
    ((line, severity, message),) = messages(result)
    assert (line, severity) == (2, "error")
    assert message.startswith(
        "malformed ID after @req: requirement ID 'pump-1' does not match the ID pattern"
    )


def test_cyrillic_look_alike_is_a_problem_naming_the_code_point() -> None:
    result = scan("// @req A-1, Р\u0415Q-2\n")  # Cyrillic ER and IE
    assert rows(result) == [(1, "req", "A-1")]
    ((line, _, message),) = messages(result)
    assert line == 1
    assert "a non-ASCII look-alike of 'P', U+0420 CYRILLIC CAPITAL LETTER ER, at character 1" in message


def test_bidi_control_is_a_problem_and_is_escaped_in_the_message() -> None:
    result = scan("// @verifies PUMP\u202e-1\n")
    assert rows(result) == []
    ((_, _, message),) = messages(result)
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in message
    assert "bidirectional control character" in message
    assert "\u202e" not in message


def test_req_without_id_is_a_problem() -> None:
    for src in ("// @req\n", "// @req implements the limit\n", "/* @req */\n", "// @verifies: T-1\n"):
        result = scan(src)
        assert rows(result) == [], src
        assert len(result.problems) == 1, src
        assert result.problems[0].severity == "error"


def test_keywords_are_case_sensitive_and_word_bounded() -> None:
    src = "// @Req A-1 @requires B-2 mail@req C-3 \\@req D-4 @verifies-x E-5\n"
    result = scan(src)
    assert rows(result) == []
    assert result.problems == []


def test_id_defect() -> None:
    import re

    pattern = re.compile(r"[A-Z]+-[0-9]+")
    assert id_defect("A-1", pattern) is None
    assert id_defect("a-1", pattern) == "requirement ID 'a-1' does not match the ID pattern '[A-Z]+-[0-9]+'"
    assert id_defect("A\u200b-1", pattern) is not None


# --------------------------------------------------------------------------------------------
# OpenFastTrace


def test_oft_tags_only_when_enabled() -> None:
    src = "// [impl->req~pump-bolus-limit~1] [utest->dsn~x.y~2]\n/* [itest->req~z~3] [dsn->req~q~1] */\n"
    assert rows(scan(src)) == []
    assert rows(scan(src, oft=True)) == [
        (1, "req", "req~pump-bolus-limit~1"),
        (1, "verifies", "dsn~x.y~2"),
        (2, "verifies", "req~z~3"),
    ]


def test_oft_malformed_id_is_a_problem() -> None:
    result = scan("// [impl->req~pump~one] [impl->req~p\u0430~1]\n", oft=True)
    assert rows(result) == []
    assert len(result.problems) == 2
    assert "U+0430 CYRILLIC SMALL LETTER A" in result.problems[1].message


def test_oft_tag_in_string_is_ignored() -> None:
    assert rows(scan('s = "[impl->req~a~1]"; // [impl->req~b~1]\n', oft=True)) == [(1, "req", "req~b~1")]


# --------------------------------------------------------------------------------------------
# justifications and exclusions


def test_justify_categories() -> None:
    src = (
        "// @justify deactivated: feature off in this product\n"
        "// @justify defensive: cannot happen\n"
        "/* @justify hardware:register read */\n"
        "// @justify defensive without colon\n"
    )
    result = scan(src)
    frame = result.tags
    assert list(frame["value"]) == ["deactivated", "defensive", "hardware", "defensive"]
    assert list(frame["reason"]) == [
        "feature off in this product",
        "cannot happen",
        "register read",
        "without colon",
    ]
    assert result.problems == []


def test_bad_justifications_are_problems_not_rows() -> None:
    src = "// @justify paranoid: x\n// @justify defensive:\n// @justify\n// @justify-begin hardware: x\n"
    result = scan(src)
    assert rows(result) == []
    assert messages(result) == [
        (1, "error", "unknown justification category 'paranoid' (use deactivated, defensive or hardware)"),
        (2, "error", "@justify defensive without a reason (write @justify defensive: reason)"),
        (3, "error", "@justify without a category (use deactivated, defensive or hardware)"),
        (4, "error", "unknown tag '@justify-begin' (use @justify, @justify-start or @justify-stop)"),
    ]


def test_justify_reason_continues_over_comment_lines() -> None:
    src = (
        "/**\n * @justify defensive: the caller validates\n *   the weight first.\n"
        " * @return 0\n */\n"
        "// @justify hardware: needs the\n//   real board\n\n// unrelated\n"
    )
    assert list(scan(src).tags["reason"]) == [
        "the caller validates the weight first.",
        "needs the real board",
    ]


def test_justify_regions() -> None:
    src = "// @justify-start deactivated: debug build only\nint dbg(void) { return 1; }\n// @justify-stop\n"
    result = scan(src)
    assert rows(result) == [(1, "justify_start", "deactivated"), (3, "justify_stop", "")]
    assert result.tags["region_end"].tolist() == [3, pd.NA]
    assert result.problems == []


def test_unmatched_region_markers() -> None:
    src = "// @justify-stop\n// @justify-start defensive: x\nint a;\n// GCOVR_EXCL_STOP\nint b;\n"
    result = scan(src)
    assert messages(result) == [
        (1, "error", "@justify-stop without a @justify-start before it"),
        (4, "warning", "GCOVR_EXCL_STOP without a GCOVR_EXCL_START before it"),
        (
            2,
            "error",
            "@justify-start without a matching @justify-stop: the region runs to the end of the file",
        ),
    ]
    start = result.tags[result.tags["kind"] == "justify_start"].iloc[0]
    assert start["region_end"] == 5


def test_nested_region_start_is_ignored() -> None:
    src = "// GCOVR_EXCL_START\n// GCOVR_EXCL_START\n// GCOVR_EXCL_STOP\n"
    result = scan(src)
    assert result.tags["region_end"].tolist() == [3, pd.NA, pd.NA]
    assert [(line, sev) for line, sev, _ in messages(result)] == [(2, "warning")]


def test_broken_justify_start_still_pairs_its_stop() -> None:
    result = scan("// @justify-start nonsense: x\nint a;\n// @justify-stop\n")
    assert rows(result) == [(3, "justify_stop", "")]
    assert len(result.problems) == 1


def test_gcovr_markers() -> None:
    src = (
        "int a; // GCOVR_EXCL_LINE\n"
        "/* GCOVR_EXCL_START */\n"
        "/* GCOVR_EXCL_STOP */\n"
        "if (x) {} // GCOVR_EXCL_BR_LINE\n"
        "// text GCOVR_EXCL_BR_START more\n"
        "// GCOVR_EXCL_BR_STOP\n"
        "// GCOVR_EXCL_LINES GCOVR_EXCL_FOO XGCOVR_EXCL_LINE\n"
        'const char *s = "GCOVR_EXCL_LINE";\n'
    )
    result = scan(src)
    assert rows(result) == [
        (1, "excl_line", ""),
        (2, "excl_start", ""),
        (3, "excl_stop", ""),
        (4, "excl_br_line", ""),
        (5, "excl_br_start", ""),
        (6, "excl_br_stop", ""),
    ]
    assert result.tags["region_end"].tolist() == [pd.NA, 3, pd.NA, pd.NA, 6, pd.NA]
    assert result.problems == []


def test_custom_exclusion_prefix() -> None:
    src = "// LCOV_EXCL_LINE\n// GCOVR_EXCL_LINE\n"
    assert rows(scan(src, exclusion_prefix="LCOV_EXCL")) == [(1, "excl_line", "")]
    assert rows(scan(src, exclusion_prefix="(?:LCOV|GCOVR)_EXCL")) == [
        (1, "excl_line", ""),
        (2, "excl_line", ""),
    ]


# --------------------------------------------------------------------------------------------
# frames and errors


def test_empty_and_concatenated_frames_have_stable_dtypes() -> None:
    empty = scan("int a;\n").tags
    assert empty.empty
    assert {c: str(t) for c, t in empty.dtypes.items()} == {c: str(t) for c, t in empty_tags().dtypes.items()}
    assert list(empty.columns) == list(TAG_COLUMNS)
    both = scan_files([("a.c", b"// @req A-1\n"), ("b.c", b"int x;\n// @req pump\n// @req B-2\n")])
    assert list(zip(both.tags["file"], both.tags["value"], strict=True)) == [("a.c", "A-1"), ("b.c", "B-2")]
    assert both.tags.dtypes.equals(empty.dtypes)
    assert [(p.path, p.line) for p in both.problems] == [("b.c", 2)]


def test_wrong_argument_types_raise_input_error() -> None:
    with pytest.raises(InputError):
        scan_file("t.c", "// @req A-1", TagConfig())  # type: ignore[arg-type]
    with pytest.raises(InputError):
        attach_to_functions(empty_tags(), pd.DataFrame({"file": []}))
    with pytest.raises(InputError):
        attach_to_functions(empty_tags(), functions(("f", 1, 2)).assign(line_start=["x"]))
    with pytest.raises(InputError):
        attach_to_functions(scan("// @req A-1\n").tags.assign(line=["one"]), functions(("f", 1, 2)))
    with pytest.raises(InputError):
        attach_to_functions("not a frame", functions())  # type: ignore[arg-type]


def test_bad_config_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        TagConfig(id_pattern="[A-")
    with pytest.raises(ConfigError):
        TagConfig(exclusion_prefix="(")
    with pytest.raises(ConfigError):
        TagConfig(id_pattern="")


def test_problem_str() -> None:
    assert str(Problem("a.c", 3, "warning", "odd")) == "a.c:3: warning: odd"
    assert str(Problem("a.c", 0, "note", "odd")) == "a.c: note: odd"


# --------------------------------------------------------------------------------------------
# anchors and attachment


def test_comment_above_static_int_newline_name() -> None:
    src = "/*\n * @req A-1\n */\nstatic int\nname(void)\n{\n    return 0;\n}\n"
    result = scan(src)
    assert (result.tags["anchor_line"].iloc[0], result.tags["decl_end_line"].iloc[0]) == (4, 6)
    assert attached(src, ("name", 5, 8)) == {"A-1": "name"}


def test_tag_in_body() -> None:
    src = "int f(void)\n{\n    // @req A-1\n    return 0; /* @req B-2 */\n}\n"
    assert attached(src, ("f", 1, 5)) == {"A-1": "f", "B-2": "f"}


def test_tag_above_prototype_is_not_attached_to_later_definition() -> None:
    src = "// @req A-1\nint f(void);\n\nint f(void)\n{\n    return 0;\n}\n"
    assert attached(src, ("f", 4, 7)) == {"A-1": None}


def test_two_functions_each_with_their_own_block() -> None:
    src = (
        "/* @req A-1 */\nint f(void)\n{\n    return 0;\n}\n"
        "// @req B-2\n// @req B-3\nint g(void) { return 1; }\n"
    )
    assert attached(src, ("f", 2, 5), ("g", 8, 8)) == {"A-1": "f", "B-2": "g", "B-3": "g"}


def test_blank_lines_and_conditionals_between_comment_and_function() -> None:
    src = "// @req A-1\n\n#if defined(X)\n#pragma once\n#endif\n\nint f(void) { return 0; }\n"
    assert attached(src, ("f", 7, 7)) == {"A-1": "f"}


def test_define_between_comment_and_function_stops_attachment() -> None:
    src = "// @req A-1\n#define LIMIT \\\n    5\nint f(void) { return LIMIT; }\n"
    result = scan(src)
    assert (result.tags["anchor_line"].iloc[0], result.tags["decl_end_line"].iloc[0]) == (2, 3)
    assert attached(src, ("f", 4, 4)) == {"A-1": None}


def test_trailing_comment_before_function_is_not_above_it() -> None:
    src = "int x; // @req A-1\nint f(void) { return x; }\n"
    assert attached(src, ("f", 2, 2)) == {"A-1": None}


def test_comment_after_global_with_brace_is_not_above_later_function() -> None:
    src = "// @req A-1\nstatic const int t[] = {\n    1,\n};\nint f(void) { return t[0]; }\n"
    assert attached(src, ("f", 5, 5)) == {"A-1": None}


def test_tags_of_other_files_do_not_attach() -> None:
    result = scan("// @req A-1\nint f(void) { return 0; }\n")
    out = attach_to_functions(result.tags, functions(("f", 2, 2), file="other.c"))
    assert out["function"].isna().all()


def test_innermost_of_nested_functions_wins() -> None:
    src = (
        "void outer(void)\n{\n    // @req A-1\n    auto l = [](){\n        // @req B-2\n    };\n"
        "    // @req C-3\n}\n"
    )
    result = scan(src, "t.cpp")
    funcs = functions(("outer", 1, 8), ("lambda", 4, 6), file="t.cpp")
    out = attach_to_functions(result.tags, funcs)
    assert dict(zip(out["value"], out["function"], strict=True)) == {
        "A-1": "lambda",
        "B-2": "lambda",
        "C-3": "outer",
    }


def test_scopes() -> None:
    src = (
        "// @justify hardware: register access\n"  # 1
        "int f(void)\n"  # 2
        "{\n"  # 3
        "    // @justify defensive: cannot happen\n"  # 4
        "    if (x) return 1;\n"  # 5
        "    y(); // @justify deactivated: unused\n"  # 6
        "    z(); // GCOVR_EXCL_LINE\n"  # 7
        "    // GCOVR_EXCL_START\n"  # 8
        "    w();\n"  # 9
        "    // GCOVR_EXCL_STOP @req A-1\n"  # 10
        "    return 0;\n"  # 11
        "}\n"  # 12
        "// @justify defensive: orphan\n"  # 13
    )
    result = scan(src)
    assert result.problems == []
    out = attach_to_functions(result.tags, functions(("f", 2, 12)))
    got = list(
        zip(
            out["kind"],
            out["function"].fillna("-"),
            out["scope"],
            out["scope_start"].fillna(-1),
            out["scope_end"].fillna(-1),
            strict=True,
        )
    )
    assert got == [
        ("justify", "f", "function", 2, 12),
        ("justify", "f", "line", 5, 5),
        ("justify", "f", "line", 6, 6),
        ("excl_line", "f", "line", 7, 7),
        ("excl_start", "f", "region", 8, 10),
        ("excl_stop", "f", "none", -1, -1),
        ("req", "f", "none", -1, -1),
        ("justify", "-", "none", -1, -1),
    ]
    assert str(out["scope_start"].dtype) == "Int64"
    assert str(out["function"].dtype) == "str"


def test_attach_with_no_functions_and_no_tags() -> None:
    result = scan("// @justify defensive: x\nint a;\n")
    out = attach_to_functions(result.tags, functions())
    assert out["function"].isna().all()
    assert list(out["scope"]) == ["line"]
    empty = attach_to_functions(empty_tags(), functions(("f", 1, 2)))
    assert empty.empty
    assert list(empty.columns) == [*TAG_COLUMNS, "function", "scope", "scope_start", "scope_end"]


def test_attach_many_functions_is_vectorised() -> None:
    n = 4000
    body = "".join(
        f"// @req F-{i}\nint f{i}(void)\n{{\n    return {i}; // @req B-{i}\n}}\n" for i in range(n)
    )
    result = scan(body)
    funcs = functions(*((f"f{i}", 5 * i + 2, 5 * i + 5) for i in range(n)))
    out = attach_to_functions(result.tags, funcs)
    expected = [f"f{v.split('-')[1]}" for v in out["value"]]
    assert list(out["function"]) == expected


# --------------------------------------------------------------------------------------------
# fixtures


def fixture_tags(name: str) -> pd.DataFrame:
    """Scan a fixture and attach its tags to the fixture's gcov function extents."""
    result = scan_file(f"{name}.c", (FIXTURES / f"{name}.c").read_bytes(), TagConfig())
    assert result.problems == []
    funcs = pd.read_csv(FIXTURES / f"{name}_functions.csv")
    return attach_to_functions(result.tags, funcs)


def test_pump_fixture() -> None:
    out = fixture_tags("pump")
    got = {
        (kind, value or kind): (None if pd.isna(f) else f, scope)
        for kind, value, f, scope in zip(
            out["kind"], out["value"], out["function"], out["scope"], strict=True
        )
    }
    assert got == {
        ("req", "PUMP-RATE-1"): ("clamp_rate", "none"),
        ("req", "PUMP-RATE-2"): ("clamp_rate", "none"),
        ("req", "PUMP-BOLUS-3"): ("bolus_limit", "none"),
        ("req", "PUMP-BOLUS-4"): ("bolus_limit", "none"),
        ("justify", "defensive"): ("bolus_limit", "line"),
        ("req", "PUMP-PROTO-9"): (None, "none"),
        ("justify", "hardware"): ("pump_status", "function"),
        ("excl_line", "excl_line"): ("pump_status", "line"),
        ("justify_start", "deactivated"): ("pump_selftest", "region"),
        ("justify_stop", "justify_stop"): ("main", "none"),
    }
    defensive = out[out["value"] == "defensive"].iloc[0]
    assert defensive["reason"] == "weight is validated by the caller, so this branch cannot be taken"
    assert defensive["scope_start"] == 37
    region = out[out["kind"] == "justify_start"].iloc[0]
    assert (region["scope_start"], region["scope_end"]) == (54, 59)


def test_remapped_fixture() -> None:
    out = fixture_tags("remapped")
    got = list(zip(out["file"], out["line"], out["value"], out["function"], strict=True))
    assert got == [("remapped.c", 2, "GEN-1", "helper"), ("pump_model.c", 200, "GEN-2", "model_step")]


def gcov_functions(tmp_path: Path, name: str) -> pd.DataFrame:
    """Compile and run a fixture with coverage and read gcov's function extents."""
    source = tmp_path / f"{name}.c"
    shutil.copy(FIXTURES / f"{name}.c", source)
    subprocess.run(["gcc", "--coverage", "-O0", "-o", name, source.name], cwd=tmp_path, check=True)
    subprocess.run([f"./{name}"], cwd=tmp_path, check=False)
    out = subprocess.run(
        ["gcov", "--json-format", "--stdout", f"{name}.gcda"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    records = [
        (Path(f["file"]).name, fn["name"], fn["start_line"], fn["end_line"])
        for f in json.loads(out)["files"]
        for fn in f["functions"]
    ]
    return pd.DataFrame(records, columns=["file", "function", "line_start", "line_end"])


@pytest.mark.toolchain("gcc")
@pytest.mark.parametrize("name", ["pump", "remapped"])
def test_fixture_extents_match_gcc(tmp_path: Path, name: str) -> None:
    require("gcc", "gcov")
    live = gcov_functions(tmp_path, name).sort_values(["file", "line_start"]).reset_index(drop=True)
    stored = pd.read_csv(FIXTURES / f"{name}_functions.csv").sort_values(["file", "line_start"])
    assert live.values.tolist() == stored.reset_index(drop=True).values.tolist()


def test_scan_source_last_line_and_anchor_without_code() -> None:
    scanned = scan_source("int a;\n// tail\n", "t.c")
    assert scanned.last_line == 2
    assert scanned.comments[0].anchor_line is None
    assert scanned.comments[0].decl_end_line is None
