"""The registry of finding kinds: every kind of finding covguard reports, in one table.

Each :class:`FindingKind` gives its name (the ``kind`` of a finding in ``findings.json``, SARIF's
rule id), its severity, whether the gate can limit it (``gate.max_findings``: the default limits
are policy, :data:`covguard.config.DEFAULT_MAX_FINDINGS`), and the words the reports use for it.
The order of the table is the order of SARIF's rules.  The findings themselves are made in
:mod:`covguard.analysis.findings` (and :mod:`~covguard.analysis.mcdc`, :mod:`~covguard.analysis.reach`,
:mod:`~covguard.analysis.ledger`).  This module imports nothing of covguard: configuration reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FindingKind:
    """One kind of finding."""

    name: str
    severity: str  # "error" or "warning"
    gated: bool  # a key of gate.max_findings
    short: str = ""  # SARIF rule's short description (empty: the name in words)
    full: str = ""  # SARIF rule's full description
    security_severity: str = ""  # SARIF's security-severity, for a kind that is a security risk


KINDS: Mapping[str, FindingKind] = {
    kind.name: kind
    for kind in (
        FindingKind(
            "rogue",
            "error",
            gated=True,
            short="Code traced to no requirement",
            full=(
                "The build contains a function that no requirement asks for: a forgotten debug "
                "command, a back door, legacy code. IEC 62304 requires every software item to be "
                "traced to a requirement. Trace it with @req, justify it with @justify, or remove it."
            ),
            security_severity="8.0",
        ),
        FindingKind(
            "dead",
            "error",
            gated=True,
            short="Code no entry point reaches",
            full=(
                "No entry point of the product firmware reaches this function (reachability analysis). "
                "Remove it, or justify it (@justify deactivated: ...)."
            ),
        ),
        FindingKind(
            "traced_untested",
            "error",
            gated=True,
            short="Traced code that no passing test of its requirement executes",
            full=(
                "The function implements a requirement, but no passing test of that requirement executes it."
            ),
        ),
        FindingKind(
            "incidental",
            "warning",
            gated=True,
            short="Code executed only by tests of other requirements",
            full=(
                "The function is executed, but only by tests that verify other requirements: its own "
                "requirement's tests do not reach it."
            ),
        ),
        FindingKind(
            "unverified_requirement",
            "error",
            gated=True,
            short="Requirement verified by no test",
            full="No test declares that it verifies this requirement (CG_TEST second argument or @verifies).",
        ),
        FindingKind(
            "unimplemented_requirement",
            "error",
            gated=True,
            short="Requirement implemented by no code",
            full="No function carries an @req tag for this requirement.",
        ),
        FindingKind(
            "hollow_verification",
            "error",
            gated=True,
            short="Test claims a requirement but executes none of its code",
            full=(
                "The test passes and claims to verify the requirement, yet executes none of the "
                "requirement's code: its verdict is no evidence for the requirement."
            ),
        ),
        FindingKind(
            "unknown_requirement",
            "error",
            gated=True,
            short="Tag names a requirement that is not in the requirement list",
            full="An @req or @verifies tag names an ID the requirement baseline does not contain.",
        ),
        FindingKind("unattached_verifies", "warning", gated=False),
        FindingKind("selected_run", "warning", gated=False),
        FindingKind(
            "failed_test", "error", gated=True, short="Test failed", full="A test case failed or crashed."
        ),
        FindingKind("coarse_attribution", "warning", gated=False),
        FindingKind(
            "uncovered_lines",
            "warning",
            gated=True,
            short="Lines no test executes",
            full="Executable lines that no test executed.",
        ),
        FindingKind(
            "unjustified_exclusion",
            "error",
            gated=True,
            short="Coverage exclusion without a justification",
            full="A GCOVR_EXCL marker hides code from coverage without an @justify reason.",
        ),
        FindingKind(
            "justified_executed",
            "warning",
            gated=True,
            short="Justified code that tests execute",
            full=(
                "Code marked @justify (deactivated, defensive, hardware) is executed by tests: check "
                "the justification still holds."
            ),
        ),
        FindingKind(
            "incomplete_coverage",
            "error",
            gated=True,
            short="Incomplete coverage data",
            full="A test crashed or hung: its coverage data is incomplete.",
        ),
        FindingKind(
            "source_problem",
            "warning",
            gated=True,
            short="Problem reading a source",
            full="A source could not be read exactly as written.",
        ),
        FindingKind(
            "host_only_evidence",
            "warning",
            gated=True,
            short="Coverage only on the host",
            full=(
                "The code is covered by host tests only, but its safety class requires coverage on the "
                "target."
            ),
        ),
        FindingKind(
            "mcdc_gap",
            "warning",
            gated=True,
            short="MC/DC gap",
            full="A condition's independent effect on its decision is not shown by any test.",
        ),
        FindingKind(
            "image_unanalysed",
            "error",
            gated=True,
            short="Code in the firmware image that covguard could not analyse",
            full=(
                "The shipped image contains reachable code from prebuilt objects or libraries of the "
                "project that no source covguard analysed explains: trace it or justify it."
            ),
        ),
        FindingKind(
            "image_library",
            "warning",
            gated=True,
            short="Toolchain library code in the firmware image",
            full=(
                "Functions from the toolchain's libraries (libc, libgcc, start-up files) are linked "
                "into the image: listed with their sizes for review."
            ),
        ),
        FindingKind("stale_justification", "error", gated=True),
        FindingKind("expired_justification", "error", gated=True),
        FindingKind("orphan_justification", "warning", gated=True),
        FindingKind("unrecorded_justification", "warning", gated=True),
    )
}
"""Every finding kind by name, in the order SARIF lists its rules."""
