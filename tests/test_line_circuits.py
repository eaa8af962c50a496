"""The circuit count behind gcov's loop-turn arithmetic for lines that hold a loop.

covguard decides "no circuit / one circuit / more" from strongly connected components; the old
search enumerated simple paths and ran for minutes on a real project (libyaml) whose macros put a
large acyclic graph of blocks on one line.  Checked against that search on small graphs, and on a
graph with 2^60 paths, which the path search would never finish."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from covguard.ingest.gcov_model import _circuits_static


def _by_paths(blocks: list[int], succ: list[list[int]], dst: list[int], limit: int) -> int:
    """The old enumeration (gcov's search without its blocking lists): the reference."""
    members = set(blocks)
    found = 0
    for start in blocks:
        stack: list[tuple[int, list[int]]] = [(start, [start])]
        while stack:
            v, path = stack.pop()
            for a in succ[v]:
                w = dst[a]
                if w < start or w not in members:
                    continue
                if w == start:
                    found += 1
                    if found >= limit:
                        return found
                elif w not in path:
                    stack.append((w, [*path, w]))
    return found


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[int], list[list[int]], list[int]]:
    n = draw(st.integers(1, 7))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=14))
    succ: list[list[int]] = [[] for _ in range(n)]
    dst: list[int] = []
    for u, v in pairs:
        succ[u].append(len(dst))
        dst.append(v)
    blocks = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n + 2))
    return blocks, succ, dst


@settings(max_examples=400, deadline=None)
@given(graphs(), st.integers(1, 3))
def test_same_answer_as_the_path_search(g: tuple[list[int], list[list[int]], list[int]], limit: int) -> None:
    blocks, succ, dst = g
    assert _circuits_static(blocks, succ, dst, min(limit, 2)) == _by_paths(blocks, succ, dst, min(limit, 2))


def _ladder(rungs: int, loop: bool) -> tuple[list[int], list[list[int]], list[int]]:
    """Blocks 0..2*rungs: every block forks to the next two, so 2^rungs paths; optionally one arc back."""
    n = 2 * rungs + 1
    succ: list[list[int]] = [[] for _ in range(n)]
    dst: list[int] = []
    for b in range(0, n - 1, 2):
        for to in (b + 1, b + 2):
            succ[b].append(len(dst))
            dst.append(to)
        if b + 2 < n:
            succ[b + 1].append(len(dst))
            dst.append(b + 2)
    if loop:
        succ[n - 1].append(len(dst))
        dst.append(0)
    return list(range(n)), succ, dst


def test_a_line_of_many_paths_is_decided_at_once() -> None:
    assert _circuits_static(*_ladder(60, loop=False), limit=2) == 0
    assert _circuits_static(*_ladder(60, loop=True), limit=2) == 2
    assert _circuits_static(*_ladder(1, loop=True), limit=2) == 2  # two paths back to block 0
