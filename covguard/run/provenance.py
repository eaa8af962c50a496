"""Several test runs in one analysis: host and target (and later real hardware), with provenance.

``analysis.runs = ["host-gcc", "cortex-m3-qemu"]`` makes covguard analyse the last test run of
each listed toolchain profile together.  Every coverage row keeps the ``origin`` (``host``,
``qemu-cortex-m3``) and ``variant`` of the run it came from, and every test case its own.

Test ids must stay unique across runs, and the same test usually runs in several: the
*reference* run (the first run on the host, or the first listed run when none is on the host)
keeps its ids (``test_bolus::limit_clamps``); every other run's ids, and coverage units, get a
prefix: its origin (``qemu-cortex-m3/test_bolus::limit_clamps``), or its profile name when two
listed runs share an origin (``host-clang/...``).  With a single run nothing changes.

The code universes are united by :func:`covguard.frames.merge_coverage` (a line known to both
builds appears once); per-test rows are concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from covguard.frames import CoverageData, merge_coverage
from covguard.run.runner import TestRun

RunKey = tuple[str, str]  # (toolchain profile, origin)


def run_prefixes(runs: Sequence[RunKey]) -> list[str]:
    """The test-id prefix of each run ('' for the reference run)."""
    origins = [origin for _profile, origin in runs]
    reference = origins.index("host") if "host" in origins else 0
    out: list[str] = []
    for i, (profile, origin) in enumerate(runs):
        if i == reference:
            out.append("")
        else:
            out.append(f"{origin if origins.count(origin) == 1 else profile}/")
    return out


def prefixed_results(results: TestRun, prefix: str) -> TestRun:
    """``results`` with every test id and coverage unit prefixed."""
    if not prefix:
        return results
    return replace(
        results,
        cases=[
            replace(
                c, test=prefix + c.test, coverage_unit=prefix + c.coverage_unit if c.coverage_unit else ""
            )
            for c in results.cases
        ],
        units={prefix + unit: folder for unit, folder in results.units.items()},
    )


def prefixed_coverage(data: CoverageData, prefix: str) -> CoverageData:
    """``data`` with every coverage unit (the ``test`` column) prefixed; vectorised."""
    if not prefix:
        return data

    def rename(df: pd.DataFrame) -> pd.DataFrame:
        tests = df["test"].astype("category")
        return df.assign(test=tests.cat.rename_categories([prefix + str(c) for c in tests.cat.categories]))

    return replace(
        data,
        lines=rename(data.lines),
        functions=rename(data.functions),
        branches=rename(data.branches),
        decisions=rename(data.decisions),
    )


def combine_results(runs: Sequence[tuple[RunKey, TestRun]]) -> TestRun:
    """One test run from several (ids prefixed as :func:`run_prefixes` says)."""
    if len(runs) == 1:
        return runs[0][1]
    prefixes = run_prefixes([key for key, _r in runs])
    parts = [prefixed_results(r, p) for (_key, r), p in zip(runs, prefixes, strict=True)]
    return TestRun(
        cases=[c for r in parts for c in r.cases],
        runs=[x for r in parts for x in r.runs],
        units={u: f for r in parts for u, f in r.units.items()},
        origin="+".join(dict.fromkeys(r.origin for r in parts)),
        variant="+".join(dict.fromkeys(r.variant for r in parts)),
    )


def combine_coverage(runs: Sequence[tuple[RunKey, CoverageData]]) -> CoverageData:
    """One :class:`CoverageData` from several runs (coverage units prefixed like the test ids)."""
    if len(runs) == 1:
        return runs[0][1]
    prefixes = run_prefixes([key for key, _d in runs])
    return merge_coverage([prefixed_coverage(d, p) for (_key, d), p in zip(runs, prefixes, strict=True)])


__all__ = [
    "combine_coverage",
    "combine_results",
    "prefixed_coverage",
    "prefixed_results",
    "run_prefixes",
]
