"""The ingest stage's entry: the per-test coverage of a test run, read with its toolchain's reader
(gcov notes and counters, or clang's profiles and llvm-cov) and checked against its build."""

from __future__ import annotations

from covguard.builder.area import Area, load_manifest
from covguard.builder.toolchains import toolchain_for
from covguard.errors import CoverageDataError
from covguard.frames import CoverageData
from covguard.ingest.collect import SourceFilter, check_sources, collect, coverage_model
from covguard.ingest.options import IngestOptions
from covguard.model import BuildManifest
from covguard.run.runner import TestRun, load_results


def source_filter(options: IngestOptions) -> SourceFilter:
    return SourceFilter(options.root, options.sources, options.exclude)


def coverage(
    options: IngestOptions,
    manifest: BuildManifest | None = None,
    results: TestRun | None = None,
) -> CoverageData:
    """The per-test coverage of the last test run, checked against the build."""
    area = Area(options.run.build)
    manifest = manifest or load_manifest(options.run.build)
    results = results or load_results(options.run)
    keep = source_filter(options)
    stale = check_sources(manifest, options.root, keep)
    if stale:
        raise CoverageDataError(
            "sources differ from the ones that were built and tested:\n  " + "\n  ".join(stale),
            hint="run 'covguard run' to rebuild and test the current sources",
        )
    data, n_files = read_run(options, manifest, results, keep)
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


def read_run(
    options: IngestOptions, manifest: BuildManifest, results: TestRun, keep: SourceFilter
) -> tuple[CoverageData, dict[str, int]]:
    """The per-test coverage of ``results`` read with the toolchain's reader, and how many coverage
    files each unit had; no check against the build (:func:`coverage` makes them)."""
    area = Area(options.run.build)
    toolchain = toolchain_for(options.run.build)
    if toolchain.coverage == "llvm":  # clang's source-based coverage, with MC/DC
        from covguard.builder.toolchains.clang import llvm_tools
        from covguard.ingest.llvm_cov import LlvmTools, collect_test_run

        data, n_files = collect_test_run(
            results.units,
            results.cases,
            root=options.root,
            keep=keep,
            tools=LlvmTools(*llvm_tools(toolchain)),
            origin=results.origin,
            variant=results.variant,
            jobs=int(options.test_jobs),
            work=area.root,
            unmeasured=manifest.extra.get("mcdc_unmeasured", ""),
        )
    else:
        data, n_files = collect(
            manifest,
            results.units,
            root=options.root,
            keep=keep,
            origin=results.origin,
            variant=results.variant,
            model=coverage_model(manifest, area.model_cache),
        )
    return data, n_files


def _unit_ran(results: TestRun, unit: str) -> bool:
    return any(c.coverage_unit == unit and c.status in ("passed", "failed") for c in results.cases)
