"""The auditor's evidence package: `covguard evidence export` and `covguard evidence verify`.

One reproducible ``.tar.gz`` (every member under ``covguard-evidence/``):

=================================  ==============================================================
member                             content
=================================  ==============================================================
``reports/...``                    every report of the output folder (findings.json, junit.xml,
                                   HTML, SARIF, ...), as they are
``results/results.json``           per-test results, the coverage unit of each test
``results/run/coverage/...``       the raw per-test ``.gcda`` files, as the tests wrote them
``results/run/logs/...``           the raw output of every test executable
``coverage/notes/...``             the build's ``.gcno`` files (relative to the build folder)
``build/build.json``               build manifest: command, compilers, source SHA-256s
``build/compile_commands.json``    every compile with its flags; ``cc-config.json``, ``build.log``
``config/<file>``                  the configuration file; ``config/settings.json`` resolved
``requirements/files/...``         the requirement files as configured (``external/`` outside
                                   the root); ``requirements/baseline.csv`` the frame as read
``sources/...``                    every source the analysis read, as built (never one that a
                                   symbolic link takes outside the project root)
``toolchain/versions.json``        covguard, Python, gcovr, pandas; compilers at build time
``vcs/git.json``                   commit and dirty state of the firmware
``index.json``                     each member -> the IEC 62304 activities it supports
``manifest.intoto.json``           in-toto Statement v1: SHA-256 of every other member
``manifest.dsse.json``             with ``export --sign``: the manifest in a signed DSSE envelope
                                   (:mod:`covguard.evidence.sign`)
=================================  ==============================================================

See :mod:`covguard.evidence.verify` for what verification proves and what it cannot, and
:mod:`covguard.evidence.diff` for the comparison of two releases' packages.
"""

from __future__ import annotations

from covguard.evidence.export import ExportResult, export_evidence
from covguard.evidence.layout import EvidenceInputError, VerificationFailed
from covguard.evidence.verify import VerifyResult, verify_evidence

__all__ = [
    "EvidenceInputError",
    "ExportResult",
    "VerificationFailed",
    "VerifyResult",
    "export_evidence",
    "verify_evidence",
]
