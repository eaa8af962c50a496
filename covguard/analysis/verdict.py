"""The gate's verdict: each check with its outcome, and the result the gate, the baseline and the
diff gate add to (:mod:`covguard.analysis.gate`, :mod:`~covguard.analysis.baseline`,
:mod:`~covguard.analysis.diffgate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from covguard.errors import EXIT_GATE_FAILED, EXIT_OK


@dataclass(frozen=True)
class GateCheck:
    check: str  # e.g. "max_findings.rogue", "line.C"
    subject: str  # what was measured: a finding kind, a function
    actual: float
    limit: float
    passed: bool
    detail: str = ""


@dataclass
class GateResult:
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_GATE_FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failures": [
                {
                    "check": c.check,
                    "subject": c.subject,
                    "actual": c.actual,
                    "limit": c.limit,
                    "detail": c.detail,
                }
                for c in self.failures
            ],
            "checks": len(self.checks),
        }
