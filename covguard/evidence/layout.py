"""The layout of an evidence package: member names, the IEC 62304 activities, the errors.

Every member lives under one folder, ``covguard-evidence/``; the names below are relative to it.
Paths of the original machine (project root, work folder, build folder) are recorded in
``index.json`` under ``origin``, so the raw data can be put back where covguard's decoder expects
it when the verdicts are re-derived.
"""

from __future__ import annotations

import posixpath
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from covguard.errors import EXIT_GATE_FAILED, CovguardError, InputError
from covguard.limits import Limits

PREFIX = "covguard-evidence"
MANIFEST = "manifest.intoto.json"
SIGNATURE = "manifest.dsse.json"  # DSSE envelope of the manifest (covguard.evidence.sign)
INDEX = "index.json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://covguard.dev/attestation/evidence-package/v1"
INDEX_SCHEMA = "covguard.evidence-index/1"
DEFAULT_EPOCH = 315532800  # 1980-01-01T00:00:00Z: the earliest time every archive format can hold
DEFAULT_NAME = "covguard-evidence.tar.gz"

FINDINGS = "reports/findings.json"
RESULTS = "results/results.json"
BUILD_MANIFEST = "build/build.json"
SETTINGS = "config/settings.json"
BASELINE = "requirements/baseline.csv"

ACTIVITIES = {
    "5.1/5.2": "IEC 62304 5.1/5.2 - software requirements and their traceability "
    "(requirement <-> code <-> test)",
    "5.5": "IEC 62304 5.5 - software unit implementation and verification",
    "5.6": "IEC 62304 5.6 - software integration and integration testing",
    "8": "IEC 62304 8 - software configuration management (configuration items, tool configuration)",
}


@dataclass(frozen=True)
class Category:
    """What a group of members is evidence of."""

    prefix: str
    activities: tuple[str, ...]
    description: str


# first matching prefix wins
CATEGORIES: tuple[Category, ...] = (
    Category(
        FINDINGS, ("5.5", "5.1/5.2"), "covguard's verdicts: requirements, functions, tests, findings, gate"
    ),
    Category("reports/junit.xml", ("5.5", "5.6"), "test results (JUnit XML) with the verified requirements"),
    Category("reports/trace-matrix.", ("5.1/5.2",), "the trace matrix: requirement <-> function <-> test"),
    Category("reports/cobertura.xml", ("5.5",), "Cobertura coverage report (covguard's numbers)"),
    Category("reports/gcovr-cobertura.xml", ("5.5",), "gcovr's Cobertura (from the raw coverage data)"),
    Category("reports/gcovr/", ("5.5",), "gcovr's line-level coverage report (from the raw coverage data)"),
    Category("reports/", ("5.5", "5.1/5.2"), "a report rendered from the findings"),
    Category(RESULTS, ("5.5", "5.6"), "per-test results and the coverage unit of each test"),
    Category("results/run/coverage/", ("5.5",), "raw per-test coverage data (.gcda) as the tests wrote it"),
    Category("results/run/logs/", ("5.5", "5.6"), "raw output of the test executables"),
    Category("results/run/", ("5.5",), "raw test-run data"),
    Category("coverage/notes/", ("5.5", "8"), "coverage notes (.gcno) of the build"),
    Category(
        "coverage/executables/", ("5.5", "8"), "an instrumented test executable (clang's coverage mapping)"
    ),
    Category("runs/", ("5.5", "5.6"), "another test run analysed together (analysis.runs): its raw data"),
    Category(BASELINE, ("5.1/5.2",), "the requirements baseline as covguard read it (normalised)"),
    Category("requirements/", ("5.1/5.2", "8"), "a requirement file as configured"),
    Category(
        "sources/", ("5.5", "8"), "a source analysed (its SHA-256 at build time is in build/build.json)"
    ),
    Category(BUILD_MANIFEST, ("8",), "build manifest: command, compilers, notes files, source SHA-256s"),
    Category("build/compile_commands.json", ("8", "5.6"), "every compile: arguments and flags"),
    Category("build/cc-config.json", ("8",), "the flags covguard's compiler wrapper added"),
    Category("build/", ("8",), "build record"),
    Category("product/", ("5.6", "8"), "product firmware build: image, linker map, call-graph dumps"),
    Category("python/", ("5.5",), "the Python suite's results, coverage.py data and output"),
    Category(
        "justifications/", ("5.5", "8"), "the justification ledger: who approved what, when, for which code"
    ),
    Category(SETTINGS, ("8",), "the resolved configuration (every key, after overrides)"),
    Category("config/", ("8",), "the configuration file"),
    Category("toolchain/", ("8",), "tool and toolchain versions"),
    Category("vcs/", ("8",), "version control state of the firmware (commit, dirty files)"),
    Category(INDEX, ("8",), "this index: each member and the IEC 62304 activity it supports"),
)


def category(name: str) -> Category:
    for c in CATEGORIES:
        if name == c.prefix or (c.prefix.endswith(("/", ".")) and name.startswith(c.prefix)):
            return c
    return Category(name, ("8",), "package member")


def member_problem(name: str) -> str | None:
    """Why an archive member name is unsafe or foreign (None when it is a plain package path)."""
    if not name:
        return "an empty member name"
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "an absolute path"
    if "\\" in name or "\0" in name:
        return "a name with a backslash or NUL"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "a name with a control or formatting character (shown escaped)"
    parts = name.split("/")
    if ".." in parts:
        return "a '../' path that leaves the package folder"
    if any(p in ("", ".") for p in parts) or posixpath.normpath(name) != name:
        return "a name that is not a normalised path"
    if parts[0] != PREFIX or len(parts) < 2:
        return f"outside the package folder '{PREFIX}/'"
    return None


def rebased(path: str, base: str, folder: str) -> str:
    """``folder/<path relative to base>`` when ``path`` is inside ``base``, else ``folder/_abs/<path>``."""
    norm = posixpath.normpath(path)
    b = posixpath.normpath(base)
    if norm.startswith(b.rstrip("/") + "/"):
        return f"{folder}/{norm[len(b.rstrip('/')) + 1 :]}"
    return f"{folder}/_abs/{norm.lstrip('/')}"


def notes_member(notes_path: str, build_dir: str) -> str:
    return rebased(notes_path, build_dir, "coverage/notes")


def run_member(path: str, run_dir: str) -> str:
    return rebased(path, run_dir, "results/run")


class EvidenceInputError(InputError):
    """The file given is not a usable evidence package (not an archive, unreadable)."""


class VerificationFailed(CovguardError):
    """The package does not verify: a digest, a member, or the re-derived verdicts disagree."""

    exit_code = EXIT_GATE_FAILED

    def __init__(
        self,
        problems: list[str],
        *,
        path: str,
        hint: str | None = None,
        limit: int = Limits().problems,
        unlisted: int = 0,
    ) -> None:
        count = len(problems) + unlisted
        more = max(0, len(problems) - limit) + unlisted
        shown = problems[:limit]
        if more:
            shown = [*shown, f"... and {more} more problems (not listed: limits.problems = {limit})"]
        lines = "\n  ".join(shown)
        super().__init__(
            f"the evidence package does not verify ({count} problem{'s' if count != 1 else ''}):\n  {lines}",
            path=path,
            hint=hint
            or "do not rely on this package: ask its author for the original, or make a new one "
            "with 'covguard evidence export'",
        )
        self.problems = problems
