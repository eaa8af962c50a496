"""Property tests of the trace scanner: no bytes make it raise, and exactly comment tags count."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from covguard.trace.source import Problem
from covguard.trace.tags import TAG_COLUMNS, TagConfig, attach_to_functions, empty_tags, scan_file

Expected = tuple[int, str, str]

# fragments that exercise every branch of the lexer and the tag parser
C_FRAGMENTS = [
    b"/*",
    b"*/",
    b"//",
    b'"',
    b"'",
    b"\\",
    b"\n",
    b"\r",
    b"\r\n",
    b" ",
    b"@req ",
    b"@verifies ",
    b"@justify ",
    b"@justify-start defensive: r",
    b"@justify-stop",
    b"defensive:",
    b"A-1",
    b", ",
    b"GCOVR_EXCL_START",
    b"GCOVR_EXCL_STOP",
    b"GCOVR_EXCL_LINE",
    b'#line 7 "x.c"\n',
    b"# 3\n",
    b"#line\n",
    b"#line 99999999999999999999999\n",
    b"%:line 0\n",
    b"\\\n",
    b'R"(',
    b'R"d(',
    b')"',
    b'u8R"',
    b"1'0",
    b"[impl->req~a~1]",
    b"[utest->",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    "\u202e".encode(),
    "Р".encode(),
    b"{",
    b"}",
    b";",
    b"int f(void)",
]

FUNCTIONS = pd.DataFrame(
    {
        "file": ["a.c", "a.c", "x.c", "a.cpp"],
        "function": ["f", "g", "h", "k"],
        "line_start": [1, 3, 5, 2],
        "line_end": [10, 4, 9, 3],
    }
)

raw_bytes = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.one_of(st.sampled_from(C_FRAGMENTS), st.binary(max_size=4)), max_size=200).map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(data=raw_bytes, path=st.sampled_from(["a.c", "a.cpp", "a.h"]), oft=st.booleans())
def test_arbitrary_bytes_never_raise(data: bytes, path: str, oft: bool) -> None:
    result = scan_file(path, data, TagConfig(oft=oft))
    assert list(result.tags.columns) == list(TAG_COLUMNS)
    assert all(isinstance(p, Problem) and p.severity in ("error", "warning", "note") for p in result.problems)
    assert all(p.line >= 0 for p in result.problems)
    out = attach_to_functions(result.tags, FUNCTIONS)
    assert len(out) == len(result.tags)
    assert set(out["scope"]) <= {"function", "line", "region", "none"}


# --------------------------------------------------------------------------------------------
# generated C-like text

IDS = st.from_regex(r"[A-Z]{1,4}(-[A-Z0-9]{1,3})?-[0-9]{1,3}", fullmatch=True)
FILLER = st.sampled_from(["note", "the", "limit", "x", "see below", "*", "--", "(text)"])
CODE = ["int x = 1;", "{", "}", "a = b / c;", "p = *q;", "return 0;", "if (a) {", "#if FOO", "#endif"]
CPP_CODE = ["n = 1'000'000;", "m = 0x1'F;"]
STRING_PARTS = [
    "@req FAKE-1",
    "@verifies FAKE-2",
    "/*",
    "*/",
    "//",
    '\\"',
    "\\\\",
    "'",
    " ",
    "x",
    "GCOVR_EXCL_LINE",
    "@justify defensive: no",
    "[impl->req~fake~1]",
]
CHARS = ["'\"'", "'\\''", "'/'", "'*'", "'\\\\'", "u8'x'", "L'\"'"]
RAW_PARTS = ['"', ")", ')"', "\n", "@req FAKE-3", "/* */", "//", "x"]


@dataclass
class Generated:
    """Generated source text and the tags it holds, as (line, kind, value)."""

    path: str
    text: str = ""
    expected: list[Expected] = field(default_factory=list)

    @property
    def line(self) -> int:
        """The line the next appended text starts on."""
        return self.text.count("\n") + 1

    def add(self, text: str) -> None:
        """Append text."""
        self.text += text


@st.composite
def tag_line(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """One line of comment text: filler, a tag with its IDs, or a marker; and the tags in it."""
    choice = draw(st.sampled_from(["filler", "req", "verifies", "justify", "excl"]))
    if choice == "filler":
        return draw(FILLER), []
    if choice == "excl":
        marker = draw(st.sampled_from(["LINE", "BR_LINE"]))
        return f"GCOVR_EXCL_{marker}", [(f"excl_{marker.lower()}", "")]
    if choice == "justify":
        category = draw(st.sampled_from(["deactivated", "defensive", "hardware"]))
        return f"@justify {category}: {draw(FILLER)}", [("justify", category)]
    ids = draw(st.lists(IDS, min_size=1, max_size=4))
    separators = draw(
        st.lists(st.sampled_from([", ", " ", ",", " , ", "  "]), min_size=len(ids), max_size=len(ids))
    )
    listed = "".join(sep + i for sep, i in zip(separators, ids, strict=True)).lstrip(", ")
    tail = draw(st.sampled_from(["", " " + draw(FILLER)]))
    return f"@{choice} {listed}{tail}", [(choice, i) for i in ids]


@st.composite
def c_like(draw: st.DrawFn) -> Generated:
    """C-like text with tags in comments and decoy tags in literals."""
    cpp = draw(st.booleans())
    gen = Generated("gen.cpp" if cpp else "gen.c")
    kinds = ["code", "string", "char", "line", "block"] + (["raw"] if cpp else [])
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(kinds))
        if kind == "code":
            code = draw(st.sampled_from(CODE + (CPP_CODE if cpp else [])))
            gen.add(("\n" if code.startswith("#") else "") + code + ("\n" if code.startswith("#") else " "))
        elif kind == "string":
            gen.add('"' + "".join(draw(st.lists(st.sampled_from(STRING_PARTS), max_size=6))) + '" ')
        elif kind == "char":
            gen.add(draw(st.sampled_from(CHARS)) + " ")
        elif kind == "raw":
            body = "".join(draw(st.lists(st.sampled_from(RAW_PARTS), max_size=6)))
            gen.add(f'R"q({body})q" ')
        elif kind == "line":
            text, tags = draw(tag_line())
            gen.expected.extend((gen.line, k, v) for k, v in tags)
            gen.add(f"// {text}\n")
        else:
            lines = draw(st.lists(tag_line(), min_size=1, max_size=4))
            first = gen.line
            for offset, (_, tags) in enumerate(lines):
                gen.expected.extend((first + offset, k, v) for k, v in tags)
            gen.add("/* " + "\n * ".join(text for text, _ in lines) + " */ ")
        gen.add(draw(st.sampled_from(["", "\n", "\n\n"])))
    return gen


@settings(max_examples=300, deadline=None)
@given(gen=c_like(), newline=st.sampled_from(["\n", "\r\n", "\r"]), bom=st.booleans())
def test_exactly_the_comment_tags_are_found(gen: Generated, newline: str, bom: bool) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + gen.text.replace("\n", newline).encode()
    result = scan_file(gen.path, data, TagConfig())
    frame = result.tags
    found = sorted(zip(frame["line"].tolist(), frame["kind"].tolist(), frame["value"].tolist(), strict=True))
    assert found == sorted(gen.expected)
    assert [p for p in result.problems if p.severity != "note"] == []


# --------------------------------------------------------------------------------------------
# attachment against a reference written the slow, obvious way


@st.composite
def laminar_functions(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Function extents that nest or are disjoint (as the compiler's are), in any order."""
    candidates = draw(st.lists(st.tuples(st.integers(1, 60), st.integers(0, 15)), max_size=25))
    kept: list[tuple[int, int]] = []
    for start, length in candidates:
        end = start + length
        if all(
            end < s or start > e or (s <= start and end <= e) or (start <= s and e <= end) for s, e in kept
        ):
            kept.append((start, end))
    return kept


tag_rows = st.lists(
    st.tuples(
        st.integers(1, 80),  # line
        st.one_of(st.none(), st.integers(1, 80)),  # anchor_line
        st.integers(0, 5),  # decl_end_line - anchor_line
        st.booleans(),  # trailing
    ),
    max_size=40,
)


def reference(
    extents: list[tuple[int, int]], line: int, anchor: int | None, decl_gap: int, trailing: bool
) -> int | None:
    """The index of the function a tag belongs to, by the documented rules."""
    if not trailing and anchor is not None:
        above = [i for i, (s, _) in enumerate(extents) if anchor <= s <= anchor + decl_gap]
        if above:
            return min(above, key=lambda i: (extents[i][0], -extents[i][1], i))
    body = [i for i, (s, e) in enumerate(extents) if s <= line <= e]
    return max(body, key=lambda i: (extents[i][0], -extents[i][1], -i)) if body else None


@settings(max_examples=300, deadline=None)
@given(extents=laminar_functions(), tags=tag_rows)
def test_attachment_matches_reference(
    extents: list[tuple[int, int]], tags: list[tuple[int, int | None, int, bool]]
) -> None:
    funcs = pd.DataFrame(
        {
            "file": ["t.c"] * len(extents),
            "function": [f"f{i}" for i in range(len(extents))],
            "line_start": [s for s, _ in extents],
            "line_end": [e for _, e in extents],
        }
    )
    frame = pd.DataFrame(
        {
            "file": "t.c",
            "line": [t[0] for t in tags],
            "kind": "req",
            "value": "A-1",
            "reason": "",
            "comment_start": [t[0] for t in tags],
            "comment_end": [t[0] for t in tags],
            "anchor_line": [t[1] for t in tags],
            "decl_end_line": [None if t[1] is None else t[1] + t[2] for t in tags],
            "trailing": [t[3] for t in tags],
            "region_end": None,
        },
        columns=list(TAG_COLUMNS),
    )
    frame = pd.concat([empty_tags(), frame.astype(TAG_COLUMNS)], ignore_index=True) if tags else empty_tags()
    out = attach_to_functions(frame, funcs)
    got = [None if pd.isna(f) else f for f in out["function"]]
    expected = [None if (i := reference(extents, *t)) is None else f"f{i}" for t in tags]
    assert got == expected
