"""`covguard affected --base REF`: the tests a change needs, from the per-test coverage map.

A test is selected when

* its recorded coverage touches the change: it executed a changed (or removed) line, or entered a
  function whose extent holds one (so lines added to a function select every test that ran it);
* its own source changed (the file the harness reports for it);
* it verifies a requirement whose row in a requirement file changed, was added or removed;
* or the change cannot be mapped: a changed header, build file or source that is not in the map
  selects every test (said so, with the file).  Added product sources select nothing by
  themselves (no recorded test can run them; their new tests are selected as changed test
  sources, and the diff gate holds the new code to the policy).

The map is the per-test coverage of the last `covguard test` in the work folder.  Its line
numbers are those of the sources *it was built from*: when those are the working tree's, the
changed lines are taken in the working tree's numbering; when they are ``REF``'s (a map cached from
the main branch), in ``REF``'s numbering (git's old side); otherwise covguard says the map matches
neither and selects by functions as far as names allow.  It also says when the map is older than
the last build.  Main still runs every test: a selection is only as good as the last full map.

The selection is written as a ``test.select`` file (one test id a line) that `covguard test
--select FILE` takes: it runs only the selected test cases (see :mod:`covguard.run.selection`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from covguard.builder.area import Area, load_manifest
from covguard.change.changeset import ChangeSet, changes_since, functions_touched, git
from covguard.config import Settings
from covguard.errors import CoverageDataError, InputError
from covguard.files import display_path, glob_matcher, write_text
from covguard.frames import CoverageData
from covguard.ingest.collect import check_sources
from covguard.ingest.run_coverage import coverage, read_run, source_filter
from covguard.model import BuildManifest
from covguard.options import analysis_options, build_options, ingest_options, run_options
from covguard.run.runner import TestRun, load_results

BUILD_FILES = ("Makefile", "makefile", "GNUmakefile", "CMakeLists.txt", "SConstruct", "SConscript",
               "covguard.toml", "meson.build")  # fmt: skip
BUILD_SUFFIXES = (".mk", ".cmake", ".ld", ".h", ".hpp", ".hh", ".hxx", ".inc")
CODE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".s", ".S")


@dataclass
class Affected:
    base: str
    total: int
    selected: list[str]
    reasons: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    side: str = "new"  # the numbering the map's lines are in: new (working tree) or old (REF)

    @property
    def fraction(self) -> float:
        return len(self.selected) / self.total if self.total else 0.0


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _map(settings: Settings, manifest: BuildManifest, results: TestRun) -> CoverageData:
    """The per-test coverage of the last run, without refusing sources changed since its build."""
    options = ingest_options(settings)
    if manifest.extra.get("coverage") == "llvm":
        return coverage(options, manifest, results)
    return read_run(options, manifest, results, source_filter(options))[0]


def _side(settings: Settings, manifest: BuildManifest, changes: ChangeSet, notes: list[str]) -> str:
    """Whether the map's sources are the working tree's ("new") or REF's ("old")."""
    root = settings.root
    stale = check_sources(manifest, root, source_filter(ingest_options(settings)))
    if not stale:
        return "new"
    built = {display_path(p, root): h for p, h in manifest.source_hashes.items()}
    matches_base = True
    for file in sorted(changes.files | set(changes.renames)):
        if file not in built:
            continue
        try:
            old = git(root, "show", f"{changes.commit}:./{file}", what="--base").encode(
                "utf-8", "surrogateescape"
            )
        except InputError:
            matches_base = False
            break
        if _sha(old) != built[file]:
            matches_base = False
            break
    if matches_base:
        notes.append(
            f"the map was built from {changes.base}'s sources: changes taken in {changes.base}'s numbering"
        )
        return "old"
    notes.append(
        "the map was built from sources that are neither the working tree's nor "
        f"{changes.base}'s ({len(stale)} differ): line numbers may be off; run the full suite"
    )
    return "old"


def affected(settings: Settings, base: str) -> Affected:
    """The tests the changes since ``base`` need (see the module docstring)."""
    root = settings.root
    changes = changes_since(root, base, what="--base")
    manifest = load_manifest(build_options(settings))
    results = load_results(run_options(settings))
    if results.selection:  # a partial map would leave out every test it did not run
        raise InputError(
            f"the per-test map is a run of selected tests only ({results.selection.get('file')}): "
            "it cannot say which other tests a change needs",
            path=Area(build_options(settings)).results,
            hint="run every test (covguard test, no --select) for the map",
        )
    area = Area(build_options(settings))
    notes: list[str] = []
    started = dt.datetime.fromisoformat(manifest.started.replace("Z", "+00:00"))
    ran = dt.datetime.fromtimestamp(area.results.stat().st_mtime, tz=dt.UTC)
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    if ran < started:
        notes.append(
            f"the per-test map ({ran:%Y-%m-%d %H:%M:%S} UTC) is older than the build "
            f"({started:%Y-%m-%d %H:%M:%S} UTC): run 'covguard test' for a current map"
        )
    try:
        data = _map(settings, manifest, results)
    except CoverageDataError as exc:
        if not notes:
            raise
        raise CoverageDataError(
            f"{notes[0].split(': run')[0]}, and its coverage data no longer matches the build "
            f"({exc.message})",
            hint="run 'covguard test' for a current map; in CI keep the map with its build (the work folder)",
        ) from None
    side = _side(settings, manifest, changes, notes)
    touched = changes.touched() if side == "new" else changes.old_lines
    tests = pd.DataFrame(
        {
            "test": [c.test for c in results.cases],
            "unit": [c.coverage_unit for c in results.cases],
            "file": [c.file for c in results.cases],
            "verifies": [list(c.verifies) for c in results.cases],
        }
    )
    reasons: dict[str, list[str]] = {}

    def add(ids: list[str], why: str) -> None:
        for t in ids:
            reasons.setdefault(t, []).append(why)

    # 1. recorded coverage touches the change
    fn = data.code_functions.loc[:, ["file", "function", "line_start", "line_end"]].astype(
        {"file": str, "function": str}
    )
    hit_fn = functions_touched(fn, touched).loc[:, ["file", "function"]]
    ex = data.functions.loc[:, ["file", "function", "test"]].astype(
        {"file": str, "function": str, "test": str}
    )
    by_fn = ex.merge(hit_fn, on=["file", "function"])
    lines = data.lines.loc[:, ["file", "line", "test"]].astype({"file": str, "test": str, "line": "int64"})
    by_line = lines.merge(touched, on=["file", "line"]).assign(function="")
    hits = pd.concat(
        [by_fn.loc[:, ["test", "file", "function"]], by_line.loc[:, ["test", "file", "function"]]]
    )
    for (unit, file), g in hits.groupby(["test", "file"], sort=True):
        names = sorted({f for f in g["function"] if f})
        why = f"executes changed code in {file}" + (f" ({', '.join(names[:5])})" if names else "")
        add(tests[tests["unit"] == unit]["test"].tolist(), why)
    # 2. its own source changed
    changed_files = (
        set(changes.lines["file"]) | set(changes.deleted_at["file"]) | set(changes.renames)
        | set(changes.renames.values()) | changes.added_files | changes.deleted_files
    )  # fmt: skip
    own = tests[tests["file"].isin(changed_files)]
    for file, g in own.groupby("file"):
        add(g["test"].tolist(), f"its source {file!s} changed")
    # 3. changes the map cannot place
    mapped = set(data.code_lines["file"].astype(str)) | set(data.code_functions["file"].astype(str))
    test_files = set(tests["file"])
    is_test_source = glob_matcher(settings.test_sources)
    for file in sorted(changed_files - mapped - test_files):
        name = PurePosixPath(file).name
        added_code = file in changes.added_files and name.endswith(CODE_SUFFIXES) and not is_test_source(file)
        if added_code:
            continue
        if name in BUILD_FILES or name.endswith(BUILD_SUFFIXES) or name.endswith(CODE_SUFFIXES):
            add(tests["test"].tolist(), f"{file} changed and is not in the coverage map (every test)")
    # 4. tests of changed requirements
    changed_reqs = _changed_requirements(settings, changes, changed_files)
    if changed_reqs:
        pairs = _test_requirements(settings, data, results, manifest, tests, notes)
        for req in sorted(changed_reqs):
            add(sorted(set(pairs[pairs["requirement"] == req]["test"])), f"verifies {req}, which changed")
    order = {t: i for i, t in enumerate(tests["test"].tolist())}
    selected = sorted(reasons, key=lambda t: order.get(t, len(order)))
    return Affected(base=base, total=len(tests), selected=selected, reasons=reasons, notes=notes, side=side)


def _test_requirements(
    settings: Settings,
    data: CoverageData,
    results: TestRun,
    manifest: BuildManifest,
    tests: pd.DataFrame,
    notes: list[str],
) -> pd.DataFrame:
    """(test, requirement): the harness's declarations and the ``@verifies`` tags (through the analysis)."""
    from covguard.analysis.analyse import analyse_project
    from covguard.errors import CovguardError

    declared = tests.loc[:, ["test", "verifies"]].explode("verifies").dropna()
    declared = declared.rename(columns={"verifies": "requirement"}).astype(str)
    try:
        analysis = analyse_project(analysis_options(settings), data, results, manifest)
    except CovguardError as exc:
        notes.append(
            f"@verifies tags not read ({exc.message}): tests of changed requirements by declaration only"
        )
        return declared
    tagged = analysis.test_requirements.loc[:, ["test", "requirement"]].astype(str)
    return pd.concat([declared, tagged], ignore_index=True).drop_duplicates()


def _changed_requirements(settings: Settings, changes: ChangeSet, changed_files: set[str]) -> set[str]:
    from covguard.analysis.analyse import load_requirements
    from covguard.requirements import RequirementOptions, read_requirements

    root = settings.root
    out: set[str] = set()
    for path in settings.requirements:
        shown = display_path(path, root)
        if shown not in changed_files:
            continue
        now = load_requirements(analysis_options(settings.with_overrides(requirements=(path,))))
        try:
            old_text = git(root, "show", f"{changes.commit}:./{shown}", what="--base")
        except InputError:
            out |= set(now["id"])  # a new requirement file: all its requirements are new
            continue
        with tempfile.TemporaryDirectory(prefix="covguard-affected-") as tmp:
            old_path = Path(tmp) / Path(shown).name
            old_path.write_bytes(old_text.encode("utf-8", "surrogateescape"))
            options = RequirementOptions(
                id_pattern=settings.tags_id_pattern,
                reqif_id_attribute=settings.reqif_id_attribute,
                reqif_title_attributes=tuple(settings.reqif_title_attributes),
                reqif_class_attribute=settings.reqif_class_attribute,
            )
            old = read_requirements([old_path], options)
        cols = ["id", "title", "safety_class"]
        a = set(map(tuple, now.loc[:, cols].astype(str).to_numpy().tolist()))
        b = set(map(tuple, old.loc[:, cols].astype(str).to_numpy().tolist()))
        out |= {str(row[0]) for row in a ^ b}
    return out


def render(result: Affected) -> str:
    lines = [
        f"{len(result.selected)} of {result.total} tests affected by the changes since {result.base} "
        f"({100 * result.fraction:.1f} %)"
    ]
    lines += [f"note: {n}" for n in result.notes]
    for t in result.selected:
        lines.append(f"  {t}: {'; '.join(result.reasons[t][:3])}")
    return "\n".join(lines)


def write_select(path: Path, result: Affected) -> None:
    """The selection as a ``test.select`` file: a comment, then one test id a line."""
    head = f"# covguard affected --base {result.base}: {len(result.selected)} of {result.total} tests"
    write_text(path, "\n".join([head, *result.selected]) + "\n")
