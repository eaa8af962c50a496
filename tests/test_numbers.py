"""One rounding of percentages, as gcovr rounds (checked against gcovr's own CoverageStat)."""

from __future__ import annotations

import itertools

from gcovr.data_model.stats import CoverageStat

from covguard.model import percent


def test_percent_rounds_once_as_gcovr_does() -> None:
    assert percent(44, 208) == 21.2  # 21.1538...: two roundings (21.15, then 21.1) gave 21.1
    assert percent(0, 0) is None
    for covered, total in itertools.chain(
        ((c, 208) for c in range(209)), ((c, 10000) for c in (1, 1234, 1235, 9994, 9995, 9999, 10000))
    ):
        assert percent(covered, total) == CoverageStat(total=total, covered=covered, excluded=0).percent
