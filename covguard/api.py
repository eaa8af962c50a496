"""The covguard pipeline as plain functions: what the command line calls, and what a library user calls.

>>> from covguard import api
>>> settings = api.load_settings(Path("sample_firmware/covguard.toml"))
>>> outcome = api.run(settings)          # build, test, collect, analyse, report, gate
>>> outcome.exit_code, outcome.findings.summary

Each step is also available alone: :func:`build`, :func:`test`, :func:`coverage`,
:func:`analyse`, :func:`gate`.  Steps that write to the work folder hold its lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covguard.builder.area import check_root, load_manifest
from covguard.builder.instrumented import build as _build
from covguard.builder.toolchains import toolchain_for
from covguard.config import Settings, load_settings
from covguard.errors import EXIT_INFRASTRUCTURE, EXIT_OK
from covguard.files import work_lock
from covguard.model import BuildManifest
from covguard.options import (
    analysis_options,
    build_options,
    gate_options,
    ingest_options,
    report_options,
    run_options,
    run_settings,
)
from covguard.run.pytest_runner import (
    PythonRun,
    load_python_run,
    run_python_suite,
    with_python,
    with_python_coverage,
)
from covguard.run.runner import TestRun, load_results, run_tests

if TYPE_CHECKING:
    from covguard.analysis.analyse import Analysis
    from covguard.analysis.verdict import GateResult
    from covguard.evidence import ExportResult, VerifyResult
    from covguard.evidence.attach import Signed
    from covguard.evidence.diff import EvidenceDiff
    from covguard.evidence.sign import KeyPair
    from covguard.frames import CoverageData
    from covguard.ingest.collect import SourceFilter
    from covguard.ingest.options import IngestOptions
    from covguard.init import Guess
    from covguard.report.outputs import CoverageRun

Echo = Callable[[str], None]

# The coverage, analysis and report steps import pandas and numpy when they run (below, and in each
# step's function): `covguard build` and `covguard test` start without them.


def _coverage(
    options: IngestOptions, manifest: BuildManifest | None, results: TestRun | None
) -> CoverageData:
    from covguard.ingest.run_coverage import coverage

    return coverage(options, manifest, results)


def _source_filter(options: IngestOptions) -> SourceFilter:
    from covguard.ingest.run_coverage import source_filter

    return source_filter(options)


__all__ = [
    "Outcome",
    "analyse",
    "build",
    "coverage",
    "diff_evidence",
    "export_evidence",
    "gate",
    "keygen",
    "load_settings",
    "merge",
    "report",
    "run",
    "run_settings",
    "sign_evidence",
    "source_filter",
    "test",
    "verify_evidence",
]


def build(settings: Settings, *, clean: bool = False, echo: Echo | None = None) -> BuildManifest:
    """Build the firmware's tests with coverage (see :mod:`covguard.builder.instrumented`), and the product
    firmware with its call graph when ``product.command`` is set (:mod:`covguard.builder.product`)."""
    with work_lock(settings.work_dir):
        manifest = _build(build_options(settings), clean=clean, echo=echo)
        _build_product(settings, echo)
        return manifest


def _build_product(settings: Settings, echo: Echo | None) -> None:
    options = build_options(settings)
    if options.product_configured:
        from covguard.builder import product

        product.build_product(options, echo=echo)


def test(settings: Settings, *, echo: Echo | None = None) -> TestRun:
    """Run the test executables of the last build; write results.json and junit.xml."""
    from covguard.report.junit import write_junit

    with work_lock(settings.work_dir):
        check_root(build_options(settings))  # a work folder copied from another tree: its tests write there
        result = with_python(run_tests(run_options(settings), echo=echo), _python_suite(settings, echo))
        write_junit(settings.output_dir / "junit.xml", result.cases)
        return result


def _python_suite(settings: Settings, echo: Echo | None) -> PythonRun | None:
    """The Python suite's run when one is configured (once per `covguard test`, in shard 1 only)."""
    shard = str(settings.values.get("test_shard") or "")
    if not settings.python_tests or (shard and not shard.startswith("1/")):
        return None
    return run_python_suite(run_options(settings), echo=echo)


def coverage(
    settings: Settings, manifest: BuildManifest | None = None, results: TestRun | None = None
) -> CoverageData:
    """The per-test coverage of the last test run, checked against the build (see
    :mod:`covguard.ingest.run_coverage`)."""
    return _coverage(ingest_options(settings), manifest, results)


def source_filter(settings: Settings) -> SourceFilter:
    """Which files the analysis keeps (``root``, ``sources``, ``exclude``)."""
    return _source_filter(ingest_options(settings))


def merge(settings: Settings, shards: list[Path], *, partial: bool = False) -> TestRun:
    """Combine the results of `covguard test --shard K/N` jobs into this work folder's test run
    (see :mod:`covguard.run.merge`); write results.json and junit.xml."""
    from covguard.report.junit import write_junit
    from covguard.run.merge import merge_shards

    with work_lock(settings.work_dir):
        result, _manifest = merge_shards(run_options(settings), shards, partial=partial)
        write_junit(settings.output_dir / "junit.xml", result.cases)
        return result


def analyse(
    settings: Settings,
    data: CoverageData | None = None,
    results: TestRun | None = None,
    manifest: BuildManifest | None = None,
) -> Analysis:
    """Cross-reference requirements, tags and per-test coverage (see :mod:`covguard.analysis`)."""
    from covguard.analysis.analyse import analyse_project

    options = run_options(settings)
    if data is None and results is None and manifest is None and len(run_settings(settings)) > 1:
        runs = [_last_run(s) for s in run_settings(settings)]
        manifest, results = runs[0][1], with_python(_combined_results(runs), load_python_run(options))
        data = with_python_coverage(options, _combined_coverage(runs), results)
    manifest = manifest or load_manifest(options.build)
    if results is None:
        results = with_python(load_results(options), load_python_run(options))
    if data is None:
        data = with_python_coverage(options, _coverage(ingest_options(settings), manifest, results), results)
    return analyse_project(analysis_options(settings), data, results, manifest)


_Run = tuple[Settings, BuildManifest, TestRun]


def _last_run(settings: Settings) -> _Run:
    """The last build and test run of one toolchain profile."""
    return settings, load_manifest(build_options(settings)), load_results(run_options(settings))


def _combined_results(runs: list[_Run]) -> TestRun:
    from covguard.run.provenance import combine_results

    return combine_results([((s.toolchain, r.origin), r) for s, _m, r in runs])


def _combined_coverage(runs: list[_Run]) -> CoverageData:
    from covguard.run.provenance import combine_coverage

    return combine_coverage(
        [((s.toolchain, r.origin), _coverage(ingest_options(s), m, r)) for s, m, r in runs]
    )


def gate(settings: Settings, analysis: Analysis) -> GateResult:
    """Apply the configured policy to an analysis."""
    from covguard.analysis.gate import evaluate_gate

    return evaluate_gate(gate_options(settings), analysis)


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
    from covguard.requirements import ReadReport

    with work_lock(settings.work_dir):
        # bad requirement files stop the run before anything is built or written
        read_report = ReadReport()
        load_requirements(analysis_options(settings), read_report)
        if echo is not None:
            for line in read_report.lines():
                echo(f"requirements: {line}")
        runs: list[_Run] = []
        for s in run_settings(settings):  # analysis.runs: host and target runs in one analysis
            built = _build(build_options(s), clean=clean, echo=echo)
            runs.append((s, built, run_tests(run_options(s), echo=echo)))
        _build_product(settings, echo)
        manifest = runs[0][1]
        results = with_python(_combined_results(runs), _python_suite(settings, echo))
        write_junit(settings.output_dir / "junit.xml", results.cases)
        if echo:
            echo(f"coverage: per-test data of {len(results.cases)} tests")
        data = with_python_coverage(run_options(settings), _combined_coverage(runs), results)
        if echo:
            echo("analyse: requirements x tags x coverage")
        analysis = analyse(settings, data, results, manifest)
        verdict = gate(settings, analysis)
        outputs = write_outputs(
            report_options(settings),
            analysis,
            verdict,
            results=results,
            coverage_runs=_coverage_runs(runs),
            echo=echo,
        )
        return Outcome(
            manifest=manifest,
            results=results,
            analysis=analysis,
            gate=verdict,
            outputs=outputs,
            problems=results.infrastructure_problems,
        )


def _coverage_runs(runs: list[_Run]) -> list[CoverageRun]:
    """The gcov runs among ``runs``: what gcovr's formats are made from."""
    from covguard.report.outputs import CoverageRun

    out: list[CoverageRun] = []
    for s, manifest, results in runs:
        toolchain = toolchain_for(build_options(s))
        if toolchain.coverage == "gcov":
            out.append(CoverageRun(manifest, results.units, toolchain.gcov or "gcov"))
    return out


@dataclass
class Report:
    """What `covguard report` did: the analysis, the gate's verdict and every output written."""

    analysis: Analysis
    gate: GateResult
    outputs: dict[str, Path]


def report(settings: Settings, *, formats: Sequence[str] | None = None, echo: Echo | None = None) -> Report:
    """Analyse the last test run and write the reports: all of them (``covguard run``'s set), or
    ``formats`` (names in :func:`covguard.report.outputs.format_names`)."""
    from covguard.report.outputs import check_formats, write_outputs

    if formats is not None:
        check_formats(formats)
    runs = [_last_run(s) for s in run_settings(settings)]
    options = run_options(settings)
    data: CoverageData | None = None
    if len(runs) > 1:
        results = with_python(_combined_results(runs), load_python_run(options))
        data = with_python_coverage(options, _combined_coverage(runs), results)
    else:
        results = with_python(runs[0][2], load_python_run(options))
    if echo:
        echo("analyse: requirements x tags x coverage")
    analysis = analyse(settings, data, results, runs[0][1])
    verdict = gate(settings, analysis)
    with work_lock(settings.work_dir):  # gcovr's merged data goes into the work folder
        outputs = write_outputs(
            report_options(settings),
            analysis,
            verdict,
            results=results,
            coverage_runs=_coverage_runs(runs),
            formats=formats,
            echo=echo,
        )
    return Report(analysis=analysis, gate=verdict, outputs=outputs)


def export_evidence(
    settings: Settings, output: Path | None = None, *, echo: Echo | None = None, sign: Sequence[str] = ()
) -> ExportResult:
    """Write the auditor's evidence package of the last run (see :mod:`covguard.evidence`).

    ``SOURCE_DATE_EPOCH`` (environment) sets the archive's timestamps; without it, the commit time
    of the firmware, or 1980-01-01 outside git.  Same inputs, same bytes.  ``sign``: private keys
    (PEM files or ``env:NAME``) that sign the manifest (a DSSE envelope in the package).
    """
    from covguard.evidence import export_evidence as _export

    with work_lock(settings.work_dir):
        return _export(settings, output, echo=echo, sign=sign)


def verify_evidence(
    path: Path,
    *,
    digest_only: bool = False,
    keys: Sequence[str] = (),
    key_folders: Sequence[Path] = (),
    limits: Sequence[str] = (),
) -> VerifyResult:
    """Check an evidence package's members and digests, and re-derive its verdicts from its raw
    data; raise :class:`covguard.evidence.VerificationFailed` naming every problem.
    ``digest_only`` accepts a package whose verdicts cannot be re-derived on its digests alone.
    ``keys`` (PEM files or ``env:NAME``) and the ``*.pub``/``*.pem`` of ``key_folders`` are the
    trusted public keys: the package must be signed by one of them; ``limits`` are ``KEY=N``
    changes to :class:`covguard.limits.Limits`."""
    from covguard.evidence import verify_evidence as _verify
    from covguard.evidence.sign import trusted_keys
    from covguard.limits import Limits

    return _verify(
        path,
        digest_only=digest_only,
        keys=trusted_keys(keys, key_folders),
        limits=Limits().with_assignments(limits),
    )


def sign_evidence(path: Path, sign: Sequence[str], output: Path | None = None) -> Signed:
    """Verify a package, then add signatures of its manifest by the keys of ``sign`` (PEM files or
    ``env:NAME``), written to ``output`` (default: the package itself, atomically)."""
    from covguard.evidence.attach import sign_package

    return sign_package(path, sign, output)


def keygen(out: Path, kind: str = "ed25519") -> KeyPair:
    """A new signing key pair: ``<out>.key`` (private, mode 0600) and ``<out>.pub``."""
    from covguard.evidence.sign import generate_key

    return generate_key(out, kind)


def diff_evidence(
    old: Path,
    new: Path,
    *,
    keys: Sequence[str] = (),
    key_folders: Sequence[Path] = (),
    digest_only: bool = False,
) -> EvidenceDiff:
    """Verify two evidence packages, then what changed from ``old`` to ``new`` (see
    :mod:`covguard.evidence.diff`)."""
    from covguard.evidence.diff import diff_packages
    from covguard.evidence.sign import trusted_keys

    return diff_packages(old, new, keys=trusted_keys(keys, key_folders), digest_only=digest_only)


def show_requirements(
    paths: Sequence[Path],
    *,
    config: Path | None = None,
    overrides: dict[str, Any] | None = None,
    profile: str | None = None,
    as_json: bool = False,
) -> str:
    """What covguard reads from requirement files (``covguard requirements show``), as text or JSON."""
    from covguard.requirements.settings import options_from, settings_values
    from covguard.requirements.show import render_json, render_text, show

    values = settings_values(config, overrides)
    paths = list(paths) or [Path(p) for p in values["requirements"]]
    tag_pattern = str(values.get("tags_id_pattern") or "")
    if values.get("tags_oft"):
        tag_pattern = f"(?:{tag_pattern})|(?:[a-z]+~[A-Za-z0-9_.-]+~[0-9]+)"
    shown = show(paths, options_from(values, profile_name=profile), tag_pattern)
    return render_json(shown) if as_json else render_text(shown)


def init_project(root: Path, *, force: bool = False) -> tuple[Path, Guess]:
    """Guess the build and tests of the tree at ``root``; write a commented covguard.toml there
    (see :mod:`covguard.init`)."""
    from covguard.init import init

    return init(root, force=force)


def settings_from(config: Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    return load_settings(config, overrides=overrides)
