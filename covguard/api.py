"""The covguard pipeline as plain functions: what the command line calls, and what a library user calls.

>>> from covguard import api
>>> settings = api.load_settings(Path("sample_firmware/covguard.toml"))
>>> outcome = api.run(settings)          # build, test, collect, analyse, report, gate
>>> outcome.exit_code, outcome.findings.summary

Each step is also available alone: :func:`build`, :func:`test`, :func:`coverage`,
:func:`analyse`, :func:`gate`.  Steps that write to the work folder hold its lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covguard.build import Area, load_manifest
from covguard.build import build as _build
from covguard.collect import SourceFilter, check_sources, collect, coverage_model
from covguard.config import Settings, load_settings
from covguard.errors import EXIT_INFRASTRUCTURE, EXIT_OK, CoverageDataError
from covguard.files import work_lock
from covguard.frames import CoverageData
from covguard.model import BuildManifest
from covguard.provenance import combine_coverage, combine_results
from covguard.runner import TestRun, load_results, run_tests

if TYPE_CHECKING:
    from covguard.analysis.analyse import Analysis
    from covguard.analysis.gate import GateResult
    from covguard.evidence import ExportResult, VerifyResult

Echo = Callable[[str], None]

__all__ = [
    "Outcome",
    "analyse",
    "build",
    "coverage",
    "export_evidence",
    "gate",
    "load_settings",
    "merge",
    "run",
    "test",
    "verify_evidence",
]


def build(settings: Settings, *, clean: bool = False, echo: Echo | None = None) -> BuildManifest:
    """Build the firmware's tests with coverage (see :mod:`covguard.build`)."""
    with work_lock(settings.work_dir):
        return _build(settings, clean=clean, echo=echo)


def test(settings: Settings, *, echo: Echo | None = None) -> TestRun:
    """Run the test executables of the last build; write results.json and junit.xml."""
    from covguard.report.junit import write_junit

    with work_lock(settings.work_dir):
        result = run_tests(settings, echo=echo)
        write_junit(settings.output_dir / "junit.xml", result.cases)
        return result


def merge(settings: Settings, shards: list[Path], *, partial: bool = False) -> TestRun:
    """Combine the results of `covguard test --shard K/N` jobs into this work folder's test run
    (see :mod:`covguard.merge`); write results.json and junit.xml."""
    from covguard.merge import merge_shards
    from covguard.report.junit import write_junit

    with work_lock(settings.work_dir):
        result, _manifest = merge_shards(settings, shards, partial=partial)
        write_junit(settings.output_dir / "junit.xml", result.cases)
        return result


def source_filter(settings: Settings) -> SourceFilter:
    return SourceFilter(settings.root, settings.sources, settings.exclude)


def coverage(
    settings: Settings,
    manifest: BuildManifest | None = None,
    results: TestRun | None = None,
) -> CoverageData:
    """The per-test coverage of the last test run, checked against the build."""
    manifest = manifest or load_manifest(settings)
    results = results or load_results(settings)
    keep = source_filter(settings)
    stale = check_sources(manifest, settings.root, keep)
    if stale:
        raise CoverageDataError(
            "sources differ from the ones that were built and tested:\n  " + "\n  ".join(stale),
            hint="run 'covguard run' to rebuild and test the current sources",
        )
    data, n_files = collect(
        manifest,
        results.units,
        root=settings.root,
        keep=keep,
        origin=results.origin,
        variant=results.variant,
        model=coverage_model(manifest, Area(settings).model_cache),
    )
    expected = [u for u, n in n_files.items() if n == 0 and _unit_ran(results, u)]
    if expected:
        raise CoverageDataError(
            f"no coverage data where expected for {len(expected)} of {len(n_files)} tests "
            f"(e.g. {expected[0]}): the tests ran but wrote no .gcda files where covguard put them",
            path=Area(settings).run_dir,
            hint="was the build tree moved or copied after the build, or the tests built without "
            "covguard's compiler wrapper? run 'covguard build --clean' and 'covguard run'",
        )
    return data


def _unit_ran(results: TestRun, unit: str) -> bool:
    return any(c.coverage_unit == unit and c.status in ("passed", "failed") for c in results.cases)


def analyse(
    settings: Settings,
    data: CoverageData | None = None,
    results: TestRun | None = None,
    manifest: BuildManifest | None = None,
) -> Analysis:
    """Cross-reference requirements, tags and per-test coverage (see :mod:`covguard.analysis`)."""
    from covguard.analysis.analyse import analyse_project

    if data is None and results is None and manifest is None and len(run_settings(settings)) > 1:
        runs = [(s, load_manifest(s), load_results(s)) for s in run_settings(settings)]
        manifest, results = runs[0][1], _combined_results(runs)
        data = _combined_coverage(runs)
    manifest = manifest or load_manifest(settings)
    results = results or load_results(settings)
    data = data if data is not None else coverage(settings, manifest, results)
    return analyse_project(settings, data, results, manifest)


def run_settings(settings: Settings) -> list[Settings]:
    """The settings of every run analysed together (``analysis.runs``; else the toolchain's)."""
    names = tuple(settings.analysis_runs) or (settings.toolchain,)
    return [settings if n == settings.toolchain else settings.with_overrides(toolchain=n) for n in names]


_Run = tuple[Settings, BuildManifest, TestRun]


def _combined_results(runs: list[_Run]) -> TestRun:
    return combine_results([((s.toolchain, r.origin), r) for s, _m, r in runs])


def _combined_coverage(runs: list[_Run]) -> CoverageData:
    return combine_coverage([((s.toolchain, r.origin), coverage(s, m, r)) for s, m, r in runs])


def gate(settings: Settings, analysis: Analysis) -> GateResult:
    """Apply the configured policy to an analysis."""
    from covguard.analysis.gate import evaluate_gate

    return evaluate_gate(settings, analysis)


@dataclass
class Outcome:
    """What `covguard run` did: every product, and the exit code it ends with."""

    manifest: BuildManifest
    results: TestRun
    analysis: Analysis | None
    gate: GateResult | None
    outputs: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_INFRASTRUCTURE
        return self.gate.exit_code if self.gate is not None else EXIT_OK


def run(settings: Settings, *, clean: bool = False, echo: Echo | None = None) -> Outcome:
    """Build, test, collect, analyse, write the reports and apply the gate."""
    from covguard.analysis.analyse import load_requirements
    from covguard.report.junit import write_junit
    from covguard.report.outputs import write_outputs

    with work_lock(settings.work_dir):
        # bad requirement files stop the run before anything is built or written
        load_requirements(settings)
        runs: list[_Run] = []
        for s in run_settings(settings):  # analysis.runs: host and target runs in one analysis
            built = _build(s, clean=clean, echo=echo)
            runs.append((s, built, run_tests(s, echo=echo)))
        manifest, results = runs[0][1], _combined_results(runs)
        write_junit(settings.output_dir / "junit.xml", results.cases)
        data = _combined_coverage(runs)
        analysis = analyse(settings, data, results, manifest)
        verdict = gate(settings, analysis)
        outputs = write_outputs(settings, analysis, verdict)
        outputs["junit"] = settings.output_dir / "junit.xml"
        return Outcome(
            manifest=manifest,
            results=results,
            analysis=analysis,
            gate=verdict,
            outputs=outputs,
            problems=results.infrastructure_problems,
        )


def export_evidence(
    settings: Settings, output: Path | None = None, *, echo: Echo | None = None
) -> ExportResult:
    """Write the auditor's evidence package of the last run (see :mod:`covguard.evidence`).

    ``SOURCE_DATE_EPOCH`` (environment) sets the archive's timestamps; without it, the commit time
    of the firmware, or 1980-01-01 outside git.  Same inputs, same bytes.
    """
    from covguard.evidence import export_evidence as _export

    with work_lock(settings.work_dir):
        return _export(settings, output, echo=echo)


def verify_evidence(path: Path) -> VerifyResult:
    """Check an evidence package's members and digests, and re-derive its verdicts from its raw
    data; raise :class:`covguard.evidence.VerificationFailed` naming every problem."""
    from covguard.evidence import verify_evidence as _verify

    return _verify(path)


def settings_from(config: Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    return load_settings(config, overrides=overrides)
