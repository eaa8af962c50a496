"""The gate's verdict: each check with its outcome, and the result the gate, the baseline and the
diff gate add to (:mod:`covguard.analysis.gate`, :mod:`~covguard.analysis.baseline`,
:mod:`~covguard.analysis.diffgate`).

The coverage thresholds are one check per function and metric (tens of thousands on a large
project): the gate holds them column by column (:class:`ThresholdChecks`) and makes a
:class:`GateCheck` of one only when someone asks for the checks as objects.  Whether the gate
passed, its failures' columns (``findings.json``) and the number of checks come from the columns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from covguard.errors import EXIT_GATE_FAILED, EXIT_OK

FAILURE_KEYS = ("check", "subject", "actual", "limit", "detail")  # a failure's keys in to_json


@dataclass(frozen=True)
class GateCheck:
    check: str  # e.g. "max_findings.rogue", "line.C"
    subject: str  # what was measured: a finding kind, a function
    actual: float
    limit: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True, eq=False)  # numpy columns: compared as the checks they make
class ThresholdChecks:
    """One coverage threshold check per function (``line.C``, ``branch.B``, ``mcdc.C`` ...), column by
    column, in the functions' order.

    Row ``i`` is the check ``GateCheck(names[i], f"{file}:{function}", round(percent, 2), limit,
    percent + 1e-9 >= limit, f"{verified}/{total} {unit} verified")``; :meth:`objects` makes those
    objects, :meth:`failure_columns` the failing rows' values without them.
    """

    names: np.ndarray  # the check's name per row (object)
    files: np.ndarray  # object
    functions: np.ndarray  # object
    verified: np.ndarray  # the two counts, as the functions frame holds them
    totals: np.ndarray
    percent: np.ndarray  # float: 100 * verified / total
    limits: np.ndarray  # the class's threshold (its values as the policy's map gave them)
    passed: np.ndarray  # bool
    unit: str  # "lines", "branches", "conditions"

    def __len__(self) -> int:
        return len(self.passed)

    def all_passed(self) -> bool:
        return bool(self.passed.all())

    def failed(self) -> np.ndarray:
        """The positions of the failing rows."""
        return np.flatnonzero(~self.passed)

    def columns(self, rows: np.ndarray | None = None) -> dict[str, list[Any]]:
        """The checks' fields (:class:`GateCheck`'s names) of ``rows`` (default: all), as plain
        Python values: the text fields and the rounding made for those rows only."""
        pick = slice(None) if rows is None else rows
        files, functions = self.files[pick].tolist(), self.functions[pick].tolist()
        verified, totals = (list(map(int, a[pick].tolist())) for a in (self.verified, self.totals))
        percent = self.percent[pick].tolist()
        # round once per distinct percentage (counts repeat); a zero is its own rounding and keeps
        # its sign (0.0 and -0.0 are one key)
        rounded = {p: round(p, 2) for p in set(percent) if p != 0}
        detail = "%d/%d " + self.unit.replace("%", "%%") + " verified"
        return {
            "check": self.names[pick].tolist(),
            "subject": list(map("%s:%s".__mod__, zip(files, functions, strict=True))),
            "actual": [rounded.get(p, p) for p in percent],
            "limit": self.limits[pick].tolist(),
            "passed": self.passed[pick].tolist(),
            "detail": list(map(detail.__mod__, zip(verified, totals, strict=True))),
        }

    def objects(self, rows: np.ndarray | None = None) -> list[GateCheck]:
        """The checks of ``rows`` (default: all) as :class:`GateCheck` objects."""
        c = self.columns(rows)
        fields = (c["check"], c["subject"], c["actual"], c["limit"], c["passed"], c["detail"])
        return list(map(GateCheck, *fields))

    @functools.cached_property
    def _failure_columns(self) -> dict[str, list[Any]]:
        c = self.columns(self.failed())
        return {key: c[key] for key in FAILURE_KEYS}

    def failure_columns(self) -> dict[str, list[Any]]:
        """The failing rows' values of :data:`FAILURE_KEYS` (made once: every output of a run reads
        them; the lists are new each call)."""
        return {key: list(values) for key, values in self._failure_columns.items()}


Part = list[GateCheck] | ThresholdChecks


class GateResult:
    """The gate's checks in order: lists of :class:`GateCheck` and blocks of :class:`ThresholdChecks`.

    ``checks`` is the one list of every check as an object (made from the blocks on first use, then
    kept: the baseline and the diff gate append to it, extend it or replace its items).  ``passed``,
    ``failures``, ``check_count`` and :meth:`failure_columns` read the blocks without making every
    check an object.
    """

    def __init__(self, checks: list[GateCheck] | None = None) -> None:
        self._parts: list[Part] = [checks if checks is not None else []]

    @property
    def checks(self) -> list[GateCheck]:
        """Every check as an object, in order (the list itself: append to it, or replace its items)."""
        if len(self._parts) != 1 or not isinstance(self._parts[0], list):
            every: list[GateCheck] = []
            for part in self._parts:
                every.extend(part if isinstance(part, list) else part.objects())
            self._parts = [every]
        return self._parts[0]  # type: ignore[return-value]  # the one list made above

    @checks.setter
    def checks(self, checks: list[GateCheck]) -> None:
        self._parts = [checks]

    def add(self, *items: GateCheck | ThresholdChecks) -> None:
        """Append checks (objects or a block of threshold checks) after the ones held."""
        for item in items:
            if isinstance(item, ThresholdChecks):
                self._parts.append(item)
                continue
            last = self._parts[-1]
            if isinstance(last, list):
                last.append(item)
            else:
                self._parts.append([item])

    def named(self, *prefixes: str) -> list[GateCheck]:
        """The checks whose name starts with one of ``prefixes``, in order (a block's rows as
        objects only when its names match)."""
        out: list[GateCheck] = []
        for part in self._parts:
            if isinstance(part, list):
                out.extend(c for c in part if c.check.startswith(prefixes))
            else:  # a block's few distinct names first: most often none matches
                wanted = {n for n in set(part.names.tolist()) if str(n).startswith(prefixes)}
                if wanted:
                    match = np.fromiter((n in wanted for n in part.names.tolist()), bool, len(part))
                    out.extend(part.objects(np.flatnonzero(match)))
        return out

    @property
    def check_count(self) -> int:
        """How many checks (``len(checks)``, without making them objects)."""
        return sum(len(part) for part in self._parts)

    @property
    def passed(self) -> bool:
        return all(
            all(c.passed for c in part) if isinstance(part, list) else part.all_passed()
            for part in self._parts
        )

    @property
    def failures(self) -> list[GateCheck]:
        out: list[GateCheck] = []
        for part in self._parts:
            if isinstance(part, list):
                out.extend(c for c in part if not c.passed)
            else:
                out.extend(part.objects(part.failed()))
        return out

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_GATE_FAILED

    def failure_columns(self) -> dict[str, list[Any]]:
        """The failures' :data:`FAILURE_KEYS` column by column (``to_json``'s ``failures``)."""
        out: dict[str, list[Any]] = {key: [] for key in FAILURE_KEYS}
        for part in self._parts:
            if isinstance(part, list):
                failed = [c for c in part if not c.passed]
                for key in FAILURE_KEYS:
                    out[key].extend(getattr(c, key) for c in failed)
            else:
                for key, values in part.failure_columns().items():
                    out[key].extend(values)
        return out

    def to_json(self) -> dict[str, Any]:
        columns = self.failure_columns()
        return {
            "passed": self.passed,
            "failures": [
                dict(zip(FAILURE_KEYS, row, strict=True)) for row in zip(*columns.values(), strict=True)
            ],
            "checks": self.check_count,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GateResult) and self.checks == other.checks

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was

    def __repr__(self) -> str:
        return f"GateResult(checks={self.checks!r})"
