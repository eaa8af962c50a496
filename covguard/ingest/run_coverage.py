"""The ingest stage's entry: the per-test coverage of a test run, read with its toolchain's reader
(gcov notes and counters, or clang's profiles and llvm-cov) and checked against its build."""

from __future__ import annotations

from covguard.builder.area import Area, load_manifest
from covguard.builder.toolchains import toolchain_for
from covguard.config import Settings
from covguard.errors import CoverageDataError
from covguard.frames import CoverageData
from covguard.ingest.collect import SourceFilter, check_sources, collect, coverage_model
from covguard.model import BuildManifest
from covguard.options import build_options, run_options
from covguard.run.runner import TestRun, load_results


def source_filter(settings: Settings) -> SourceFilter:
    return SourceFilter(settings.root, settings.sources, settings.exclude)


def coverage(
    settings: Settings,
    manifest: BuildManifest | None = None,
    results: TestRun | None = None,
) -> CoverageData:
    """The per-test coverage of the last test run, checked against the build."""
    area = Area(build_options(settings))
    manifest = manifest or load_manifest(build_options(settings))
    results = results or load_results(run_options(settings))
    keep = source_filter(settings)
    stale = check_sources(manifest, settings.root, keep)
    if stale:
        raise CoverageDataError(
            "sources differ from the ones that were built and tested:\n  " + "\n  ".join(stale),
            hint="run 'covguard run' to rebuild and test the current sources",
        )
    toolchain = toolchain_for(build_options(settings))
    if toolchain.coverage == "llvm":  # clang's source-based coverage, with MC/DC
        from covguard.builder.toolchains.clang import llvm_tools
        from covguard.ingest.llvm_cov import LlvmTools, collect_test_run

        data, n_files = collect_test_run(
            results.units,
            results.cases,
            root=settings.root,
            keep=keep,
            tools=LlvmTools(*llvm_tools(toolchain)),
            origin=results.origin,
            variant=results.variant,
            jobs=int(settings.test_jobs),
            work=area.root,
            unmeasured=manifest.extra.get("mcdc_unmeasured", ""),
        )
    else:
        data, n_files = collect(
            manifest,
            results.units,
            root=settings.root,
            keep=keep,
            origin=results.origin,
            variant=results.variant,
            model=coverage_model(manifest, area.model_cache),
        )
    expected = [u for u, n in n_files.items() if n == 0 and _unit_ran(results, u)]
    if expected:
        raise CoverageDataError(
            f"no coverage data where expected for {len(expected)} of {len(n_files)} tests "
            f"(e.g. {expected[0]}): the tests ran but wrote no coverage data (.gcda, .profraw) "
            "where covguard put them",
            path=area.run_dir,
            hint="was the build tree moved or copied after the build, or the tests built without "
            "covguard's compiler wrapper? run 'covguard build --clean' and 'covguard run'",
        )
    return data


def _unit_ran(results: TestRun, unit: str) -> bool:
    return any(c.coverage_unit == unit and c.status in ("passed", "failed") for c in results.cases)
