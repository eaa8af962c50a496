"""Every test run of a package, for export and for re-derivation: gcov and clang runs, one or several.

A package holds the run of its configured toolchain profile at the usual members
(``results/results.json``, ``results/run/...``, ``coverage/notes/...``, ``build/build.json``), and
every other run of ``analysis.runs`` (a target run beside the host run) with the same members
below ``runs/<profile>/``.  A clang run (coverage ``llvm``) adds its instrumented test executables,
whose coverage mapping ``llvm-cov`` reads, at ``coverage/executables/<path as the results name
it>``; the llvm tool versions are in the run's ``build/build.json`` (``compilers``), taken at build
time.

Re-derivation reads each run as :func:`covguard.api.run` did: gcov runs through covguard's
``.gcno``/``.gcda`` decoder, clang runs through ``llvm-profdata``/``llvm-cov`` *of the same version*
(refused otherwise, with both versions), with ``-path-equivalence`` mapping the mapping's original
source paths onto the packaged sources; then the runs are combined as the analysis combined them
(:mod:`covguard.run.provenance`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covguard.config import Settings
from covguard.evidence.layout import BUILD_MANIFEST, RESULTS, notes_member, rebased, run_member
from covguard.files import display_path
from covguard.frames import CoverageData
from covguard.model import BuildManifest
from covguard.options import build_options, run_options
from covguard.run.runner import TestRun

RUNS = "runs"
EXECUTABLES = "coverage/executables"


def run_prefix(name: str, primary: str) -> str:
    """Where a run's members are: '' for the package's own toolchain, else ``runs/<name>/``."""
    return "" if name == primary else f"{RUNS}/{name}/"


def run_names(settings: dict[str, Any]) -> list[str]:
    """The runs analysed together (``analysis.runs``; else the toolchain's), as the settings say."""
    toolchain = str(settings.get("toolchain", "host-gcc"))
    return [str(r) for r in settings.get("analysis.runs") or []] or [toolchain]


def executable_member(executable: str, root: str) -> str:
    """The member of a test executable (as results.json names it: relative to the root, or absolute)."""
    if executable.startswith("/"):
        return rebased(executable, root, EXECUTABLES)
    return f"{EXECUTABLES}/{executable}"


# ---------------------------------------------------------------------------------------------
# export


Copy = Callable[[str, Path], None]


def stage_executables(copy: Copy, results: TestRun, root: Path, prefix: str = "") -> None:
    """The instrumented test executables of a clang run (each once)."""
    seen: set[str] = set()
    for run in results.runs:
        exe = run.executable
        if exe in seen:
            continue
        seen.add(exe)
        path = Path(exe) if exe.startswith("/") else root / exe
        if path.is_file():
            copy(prefix + executable_member(exe, str(root)), path)


def stage_other_runs(
    copy: Copy, settings: Settings
) -> tuple[dict[str, Any], list[BuildManifest], list[TestRun]]:
    """Every run of ``analysis.runs`` other than the toolchain's own, below ``runs/<name>/``:
    its results, raw data, notes (gcov) or executables (clang) and build manifest.  Returns the
    origin record of each and their manifests and results (for the sources of the package)."""
    from covguard.builder.area import Area, load_manifest
    from covguard.builder.toolchains import toolchain_for
    from covguard.evidence.archive import walk
    from covguard.options import run_settings
    from covguard.run.runner import load_results

    origins: dict[str, Any] = {}
    manifests: list[BuildManifest] = []
    results_list: list[TestRun] = []
    for s in run_settings(settings):
        if s.toolchain == settings.toolchain:
            continue
        prefix = run_prefix(s.toolchain, settings.toolchain)
        area = Area(build_options(s))
        manifest = load_manifest(build_options(s))
        results = load_results(run_options(s))
        copy(prefix + RESULTS, area.results)
        copy(prefix + BUILD_MANIFEST, area.manifest)
        files, _links = walk(area.run_dir, lambda p: False) if area.run_dir.is_dir() else ([], [])
        for p in files:
            copy(prefix + run_member(str(p), str(area.run_dir)), p)
        for notes in manifest.notes_files:
            copy(prefix + notes_member(notes, manifest.build_dir), Path(notes))
        if toolchain_for(build_options(s)).coverage == "llvm":
            stage_executables(copy, results, settings.root, prefix)
        origins[s.toolchain] = {
            "build_dir": manifest.build_dir,
            "run_dir": str(area.run_dir),
            "members": prefix,
        }
        manifests.append(manifest)
        results_list.append(results)
    return origins, manifests, results_list


# ---------------------------------------------------------------------------------------------
# re-derivation


def confined(stage: Path, member: str, problem: Callable[[str, str], Exception]) -> Path:
    """``stage/member``, refused when the name (from the package's own records, hostile input)
    leads out of the package (``../``, a link)."""
    path = stage / member
    try:
        path.resolve().relative_to(stage.resolve())
    except (ValueError, OSError):
        raise problem(member, "a path that leads out of the package: refused") from None
    return path


@dataclass
class Scratch:
    """What the re-derivation of the runs needs to know about the scratch project."""

    stage: Path
    origin: dict[str, Any]
    project: Path
    work: Path


def unsupported_run(stage: Path, raw_settings: dict[str, Any]) -> str | None:
    """Why a run of the package cannot be re-derived here (a missing run, an unknown profile, llvm
    tools of another version or missing), if so."""
    from covguard.builder.toolchains import get_toolchain
    from covguard.builder.toolchains.base import tool_version
    from covguard.builder.toolchains.clang import llvm_tools
    from covguard.errors import CovguardError

    primary = str(raw_settings.get("toolchain", "host-gcc"))
    names = run_names(raw_settings)
    for name in names:
        try:
            toolchain = get_toolchain(name)
        except CovguardError:
            return f"the toolchain profile '{name}' is not known to this covguard"
        prefix = run_prefix(name, primary)
        if not (stage / prefix / RESULTS).is_file():
            return (
                f"several test runs analysed together (analysis.runs = {names}), but the package lacks "
                f"the run '{name}' ({prefix}{RESULTS}: made by a covguard that did not package it)"
            )
        if toolchain.coverage == "llvm":
            try:
                recorded = json.loads((stage / prefix / BUILD_MANIFEST).read_text(encoding="utf-8"))[
                    "compilers"
                ]
            except (OSError, ValueError, KeyError, TypeError):
                return None  # the re-derivation reports the unreadable manifest
            for tool in llvm_tools(toolchain):
                here = tool_version(tool)
                then = recorded.get(tool) if isinstance(recorded, dict) else None
                if here == "not installed":
                    return f"the run '{name}' needs {tool} ({then}), which is not installed here"
                if then != here:
                    return (
                        f"the run '{name}' was read with {tool} '{then}', this machine has '{here}': "
                        "a different llvm-cov may read the profiles differently, so the re-derivation is "
                        "refused (install the same version)"
                    )
    return None


def collect_runs(
    scratch: Scratch,
    raw_settings: dict[str, Any],
    settings: Settings,
    load_manifest: Callable[[str], BuildManifest],
    load_results: Callable[[str], TestRun],
    problem: Callable[[str, str], Exception],
    on_results: Callable[[TestRun, str, str], None] | None = None,
) -> tuple[CoverageData, TestRun, BuildManifest]:
    """Every run's coverage read from the package, combined as the analysis combined them;
    ``on_results(results, run_dir, member_prefix)`` sees each run's results as they are read."""
    from covguard.builder.toolchains import get_toolchain
    from covguard.ingest.collect import SourceFilter, collect
    from covguard.ingest.gcno import parse_notes
    from covguard.ingest.gcov_model import build_model
    from covguard.run.provenance import combine_coverage, combine_results

    stage, origin = scratch.stage, scratch.origin
    primary = str(raw_settings.get("toolchain", "host-gcc"))
    others: dict[str, Any] = origin["runs"] if isinstance(origin.get("runs"), dict) else {}
    root = Path(str(origin["root"]))
    runs: list[tuple[tuple[str, str], BuildManifest, TestRun, CoverageData]] = []
    for name in run_names(raw_settings):
        prefix = run_prefix(name, primary)
        where = origin if not prefix else others.get(name)
        if not isinstance(where, dict) or not all(k in where for k in ("build_dir", "run_dir")):
            raise problem("index.json", f"no 'origin' of the run '{name}' (its build and run folders)")
        manifest = load_manifest(prefix + BUILD_MANIFEST)
        results = load_results(prefix + RESULTS)
        if on_results is not None:
            on_results(results, str(where["run_dir"]), prefix)
        units = {  # names from the package's own records: confined to it
            u: str(confined(stage, prefix + run_member(p, str(where["run_dir"])), problem))
            for u, p in results.units.items()
        }
        if get_toolchain(name).coverage == "llvm":
            data = _collect_llvm(scratch, name, prefix, manifest, results, units, settings, problem)
        else:
            notes = []
            for path in manifest.notes_files:
                member = prefix + notes_member(path, str(where["build_dir"]))
                if not confined(stage, member, problem).is_file():
                    raise problem(member, f"missing from the package ({prefix}{BUILD_MANIFEST} names it)")
                notes.append(parse_notes((stage / member).read_bytes(), Path(path)))
            data, _ = collect(
                manifest,
                units,
                root=root,
                keep=SourceFilter(root, settings.sources, settings.exclude),
                origin=results.origin,
                variant=results.variant,
                model=build_model(notes),
            )
        runs.append(((name, results.origin), manifest, results, data))
    results = combine_results([(key, r) for key, _m, r, _d in runs])
    data = combine_coverage([(key, d) for key, _m, _r, d in runs])
    return data, results, runs[0][1]


def _collect_llvm(
    scratch: Scratch,
    name: str,
    prefix: str,
    manifest: BuildManifest,
    results: TestRun,
    units: dict[str, str],
    settings: Settings,
    problem: Callable[[str, str], Exception],
) -> CoverageData:
    """A clang run: the packaged executables and profiles through the same llvm tools, the coverage
    mapping's source paths moved onto the scratch project (``-path-equivalence``)."""
    from covguard.builder.toolchains import get_toolchain
    from covguard.builder.toolchains.clang import UNMEASURED_KEY, llvm_tools
    from covguard.ingest.collect import SourceFilter
    from covguard.ingest.llvm_cov import LlvmRun, LlvmTools, collect_llvm

    root = str(scratch.origin["root"])
    exe_of: dict[str, Path] = {}
    for case in results.cases:
        if case.coverage_unit and case.coverage_unit not in exe_of:
            member = prefix + executable_member(case.executable, root)
            confined(scratch.stage, member, problem)
            if not (scratch.stage / member).is_file():
                raise problem(
                    member, "missing from the package (llvm-cov reads the coverage mapping from it)"
                )
            exe_of[case.coverage_unit] = scratch.stage / member
    chosen = {u: (Path(p), exe_of[u]) for u, p in units.items() if p.endswith(".profraw") and u in exe_of}
    for profile, _exe in chosen.values():
        confined(scratch.stage, str(profile.relative_to(scratch.stage)), problem)
    for exe in {e for _, e in chosen.values()}:
        exe.chmod(0o755)  # llvm-cov reads it; nothing runs it
    profdata, llvm_cov = llvm_tools(get_toolchain(name))
    tools = LlvmTools(profdata, llvm_cov, path_equivalence=(root, str(scratch.project)))
    try:
        unmeasured = json.loads(manifest.extra.get(UNMEASURED_KEY, "") or "[]")
    except ValueError:
        unmeasured = []
    original = Path(root)  # llvm-cov names the sources as the mapping does: the original paths
    data, _ = collect_llvm(
        LlvmRun(units=chosen, executables=sorted(set(exe_of.values()), key=str)),
        root=original,
        keep=SourceFilter(original, settings.sources, settings.exclude),
        tools=tools,
        origin=results.origin,
        variant=results.variant,
        jobs=1,
        work=scratch.work,
        unmeasured=unmeasured,
    )
    return data


def shown_sources(manifests: list[BuildManifest], root: Path) -> list[str]:
    """The sources other runs' builds hashed (absolute paths), for the package's sources."""
    return [p for m in manifests for p in m.source_hashes if not display_path(p, root).startswith("/")]


__all__ = [
    "EXECUTABLES",
    "RUNS",
    "Scratch",
    "collect_runs",
    "executable_member",
    "run_names",
    "run_prefix",
    "shown_sources",
    "stage_executables",
    "stage_other_runs",
    "unsupported_run",
]
