"""The analyser: requirements x tags x per-test coverage -> classifications and findings.

Four facts about every function of the product build decide its class:

* **traced** - tagged ``@req`` with at least one requirement of the requirement list;
* **verified execution** - executed by a *passing* test that verifies one of its requirements;
* **executed** - executed by any test at all;
* **reachable** - reached from an entry point of the product firmware (reachability analysis;
  ``None`` = unknown until it has run).

==================  ===========================================================================
class               meaning
==================  ===========================================================================
``verified``        traced, and a passing test of its requirement executes it
``traced_untested`` traced, but no passing test of its requirement executes it (none executes
                    it at all, or only failing ones)
``incidental``      traced, executed only by tests of *other* requirements
``rogue``           in the build, traced to no requirement (a back door, a debug hook, legacy)
``dead``            no entry point reaches it
``justified``       ``@justify CATEGORY: reason`` (deactivated, defensive, hardware)
==================  ===========================================================================

Every executable line is ``verified`` (executed by a passing test that verifies the enclosing
function's requirement), ``incidental`` (executed, but only by other tests), ``unexecuted``,
``justified`` (inside ``@justify`` scope) or ``excluded`` (a gcovr ``GCOVR_EXCL`` marker with no
justification: honoured, as gcovr does, and reported).  Requirement-based coverage counts only
``verified`` lines and branches: the honest number for an auditor.

Every requirement is ``failing`` (a verifying test fails), ``unimplemented`` (no code),
``unverified`` (no test), ``hollow`` (its tests pass but execute none of its code) or
``verified`` - in that order of precedence.

Everything is pandas joins and group-bys: no Python loop per line of coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from covguard.analysis import findings as F
from covguard.analysis.hierarchy import roll_up
from covguard.analysis.keys import isin_rows, joint_keys, lists_per_function, matching_rows, text_codes
from covguard.analysis.line_bounds import bound_to_files, is_c_family, lexable
from covguard.analysis.lines import classify_lines, line_function_keys, scopes
from covguard.analysis.mcdc import McdcResult, analyse_mcdc
from covguard.analysis.options import AnalysisOptions
from covguard.files import RealPaths, display_path, glob_matcher
from covguard.frames import (
    ANALYSED_TESTS,
    FUNCTION_CLASSES,
    FUNCTION_COVERAGE,
    FUNCTION_FACTS,
    FUNCTION_REQUIREMENTS,
    FUNCTION_UNITS,
    JUSTIFICATION_SCOPES,
    LINE_CLASSES,
    REQUIREMENT_STATUSES,
    TAGGED_REQUIREMENTS,
    TEST_REQUIREMENTS,
    UNIT_REQUIREMENTS,
    VERIFYING_EXECUTIONS,
    VERIFYING_UNITS,
    CoverageData,
    check,
    few_collections,
    grouped_lists,
)
from covguard.model import BuildManifest, TestCase, percent
from covguard.requirements import ReadReport, read_requirements
from covguard.run.runner import TestRun
from covguard.trace.python_ast import is_python
from covguard.trace.scan_cache import scan_sources_cached
from covguard.trace.source import Problem
from covguard.trace.tags import TagConfig, attach_to_functions
from covguard.trace.test_defs import base_names, definitions, place_tests

if TYPE_CHECKING:
    import datetime

    from covguard.analysis.ledger import Ledger, Sources
    from covguard.analysis.reach import ProductFacts

    LedgerInput = tuple[Ledger, Sources, datetime.date]

CLASS_ORDER = {"A": 0, "B": 1, "C": 2}


@dataclass
class Analysis:
    """The one findings view every output renders from."""

    requirements: pd.DataFrame
    functions: pd.DataFrame
    lines: pd.DataFrame
    tests: pd.DataFrame
    findings: pd.DataFrame
    function_requirements: pd.DataFrame  # file, function, requirement, tag_line
    test_requirements: pd.DataFrame  # test, requirement, source
    coverage: CoverageData
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    manifest: BuildManifest | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # derived views
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)  # requirement-based MC/DC (clang)
    mcdc_measured: bool = False
    justifications: pd.DataFrame | None = None  # the justification ledger's table (ledger in use)


# ---------------------------------------------------------------------------------------------
# inputs


def tests_frame(cases: Sequence[TestCase]) -> pd.DataFrame:
    cols = ["test", "executable", "name", "status", "duration_s", "message", "file", "line", "verifies",
            "coverage_unit", "coverage", "origin", "variant"]  # fmt: skip
    rows = [
        {
            "test": c.test,
            "executable": c.executable,
            "name": c.name,
            "status": c.status,
            "duration_s": np.nan if c.duration_s is None else c.duration_s,
            "message": c.message,
            "file": c.file,
            "line": c.line,
            "verifies": ", ".join(c.verifies),
            "coverage_unit": c.coverage_unit,
            "coverage": c.coverage,
            "origin": c.origin,
            "variant": c.variant,
        }
        for c in cases
    ]
    df = pd.DataFrame(rows, columns=cols)
    df = df.astype({"line": "int64", "duration_s": "float64"})
    # what its coverage is: the test case's own, or its whole executable's (a suite without hooks)
    df["attribution"] = np.where(df["coverage_unit"].astype(str).str.endswith("::*"), "executable", "test")
    return df


def _read_sources(
    paths: Sequence[str], root: Path, read: dict[str, bytes] | None = None
) -> list[tuple[str, bytes]]:
    """(shown name, bytes) of each readable file of ``paths``; ``read``: files already read (by
    :func:`bound_to_files`, a moment before), not read again."""
    items: list[tuple[str, bytes]] = []
    for shown in paths:
        if read is not None and shown in read:
            items.append((shown, read[shown]))
            continue
        p = Path(shown) if shown.startswith("/") else root / shown
        try:
            items.append((shown, p.read_bytes()))
        except OSError:
            continue
    return items


def _test_source_files(settings: AnalysisOptions, tests: pd.DataFrame) -> list[str]:
    root = settings.root
    match = glob_matcher(settings.test_sources)
    found: set[str] = set()
    for pattern in settings.test_sources:
        # walk only below the pattern's fixed leading folders (never the whole work folder)
        base = root
        for part in Path(pattern).parts:
            if any(c in part for c in "*?["):
                break
            base = base / part
        if base.is_dir():
            found |= {
                display_path(p, root)
                for p in base.rglob("*")
                if p.suffix in (".c", ".cc", ".cpp", ".h", ".hpp") and p.is_file()
            }
    files = {f for f in found if match(f)}
    named = set(tests["file"].astype(str).unique())  # thousands of tests, a few files: each looked at once
    files |= {f for f in named if f and not f.startswith("/") and (root / f).is_file()}
    work = display_path(settings.work_dir, root)
    return sorted(f for f in files if not f.startswith(work + "/"))


# ---------------------------------------------------------------------------------------------
# the analysis


def load_requirements(options: AnalysisOptions, report: ReadReport | None = None) -> pd.DataFrame:
    """The configured requirement files, read and checked (:mod:`covguard.requirements`); what
    was not taken as a requirement, and the warnings, go to ``report``."""
    return read_requirements([Path(p) for p in options.requirements], options.requirement_options, report)


@few_collections
def analyse_project(
    settings: AnalysisOptions, data: CoverageData, results: TestRun, manifest: BuildManifest | None = None
) -> Analysis:
    """Read requirements and tags, classify functions, lines, requirements; list findings."""
    root = settings.root
    requirements = load_requirements(settings)
    shown = {s: display_path(s, root) for s in requirements["source"].unique()}
    requirements["source"] = requirements["source"].map(shown)
    tests = tests_frame(results.cases)
    tag_config = TagConfig(
        id_pattern=settings.tags_id_pattern,
        oft=settings.tags_oft,
        exclusion_prefix=settings.tags_exclusion_prefix,
    )
    read: dict[str, bytes] = {}  # the sources bound_to_files reads, read once
    data, bound_problems = bound_to_files(data, root, lambda: _compiled_sources(manifest, root), read)
    product_files = lexable(
        sorted(
            set(data.code_functions["file"].unique().astype(str))
            | set(data.code_lines["file"].unique().astype(str))
        )
    )
    cache = settings.work_dir / "tag-cache.json"
    product_sources = _read_sources(product_files, root, read)
    product_scan = scan_sources_cached(product_sources, tag_config, cache)
    test_files = lexable(_test_source_files(settings, tests))  # never a Tcl or TOML file as C
    test_items = _read_sources(test_files, root)
    test_scan = scan_sources_cached(test_items, tag_config, settings.work_dir / "test-tag-cache.json")
    # tests reported by name (Unity and kin): their definitions in the test sources
    by_name = {r.executable for r in results.runs if r.format not in ("covguard", "pytest")}
    named = tests.loc[tests["executable"].isin(by_name), "test"].tolist()
    found = definitions(test_items, set(base_names(tests.loc[tests["test"].isin(named), "name"])))
    placed = place_tests(tests, found, named)
    facts = _product_facts(settings, data, set(requirements["id"]), tag_config)
    analysis = classify(
        requirements=requirements,
        tests=tests,
        data=data,
        product_tags=product_scan.tags,
        test_tags=test_scan.tags,
        problems=[
            *product_scan.problems,
            *test_scan.problems,
            *_symlink_problems(product_files, root),
            *bound_problems,
            *(Problem(path=n.split(": ", 1)[0], line=0, severity="note", message=n) for n in data.notes),
        ],
        default_class=settings.default_safety_class,
        manifest=manifest,
        settings=settings.recorded,
        require_target=tuple(settings.gate_require_target),
        reachable=facts.functions if facts else None,
        product_findings=facts.findings if facts else None,
        product_summary=facts.summary if facts else None,
        test_definitions=placed,
        product_only=facts.product_only if facts else None,
        ledger=_ledger_input(settings, product_sources),
        run_findings=pd.concat(
            [F.definition_tag_findings(results.unattached), F.selected_run_findings(results.selection)],
            ignore_index=True,
        ),
    )
    analysis.problems.extend(_not_compiled(manifest))
    return analysis


def _compiled_sources(manifest: BuildManifest | None, root: Path) -> list[tuple[str, bytes]]:
    """The C/C++ sources the build compiled (where ``#line`` directives are looked for)."""
    names = sorted(manifest.source_hashes) if manifest else []
    return _read_sources([display_path(n, root) for n in names if is_c_family(n)], root)


def _not_compiled(manifest: BuildManifest | None) -> list[dict[str, Any]]:
    """The configured sources no compile of the test build saw (recorded by `covguard build`)."""
    names = (manifest.extra.get("sources_not_compiled", "") if manifest else "").split("\n")
    return [
        _problem_dict(
            Problem(
                path=name,
                line=0,
                severity="warning",
                message=f"{name} is in 'sources' but no compile of the test build saw it: it has no "
                "coverage (is it built only for the product, or not at all?)",
            )
        )
        for name in names
        if name
    ]


def _ledger_input(settings: AnalysisOptions, sources: list[tuple[str, bytes]]) -> LedgerInput | None:
    """The justification ledger (``justify.ledger``) with the sources it is checked against;
    without a ledger file, justifications apply as written."""
    from covguard.analysis.ledger import Sources, read_ledger, today

    return read_ledger(Path(settings.justify_ledger)), Sources(dict(sources)), today()


def _product_facts(
    settings: AnalysisOptions, data: CoverageData, known: set[str], tag_config: TagConfig
) -> ProductFacts | None:
    """Reachability and the image check from the product build, when one is configured
    (:mod:`covguard.analysis.reach`); ``None`` otherwise: reachability stays unknown."""
    if not settings.build.product_configured:
        return None
    from covguard.analysis.reach import product_facts
    from covguard.builder import product

    functions = _function_frame(data)
    # reachability is a fact of the C product build: Python software items stay unknown (None)
    functions = functions[~functions["file"].map(is_python).astype(bool)]
    return product_facts(settings, product.load_product(settings.build), functions, known, tag_config)


def _symlink_problems(files: Sequence[str], root: Path) -> list[Problem]:
    """Sources that a symbolic link takes outside the project root: analysed under their link
    name, flagged, and never copied into an evidence package."""
    out: list[Problem] = []
    where = RealPaths(root)
    for shown in files:
        real = where.escapes_root(shown)
        if real is not None:
            out.append(
                Problem(
                    path=shown,
                    line=0,
                    severity="warning",
                    message=f"{shown} is a symbolic link to {real}, outside the project root: analysed "
                    "under its link name, not copied into evidence packages",
                )
            )
    return out


def _function_frame(data: CoverageData) -> pd.DataFrame:
    f = data.code_functions
    return pd.DataFrame(
        {
            "file": f["file"].astype(str),
            "function": f["function"].astype(str),
            "line_start": f["line_start"].astype("int64"),
            "line_end": f["line_end"].astype("int64"),
        }
    )


def _to_instances(tagged: pd.DataFrame, functions: pd.DataFrame) -> pd.DataFrame:
    """A tag attached to one function also holds for every function with the same extent in the
    same file: the instances of a C++ template (``scaled<int>``, ``scaled<long>``), aliases.
    Tag attachment picks one of them."""
    ext = functions.loc[:, ["file", "function", "line_start", "line_end"]]
    if not ext.duplicated(["file", "line_start", "line_end"]).any():
        # no two functions share an extent: every function is its own only twin
        return tagged.drop_duplicates(ignore_index=True)
    placed = tagged.merge(ext, on=["file", "function"], how="left")
    twins = placed.merge(
        ext.rename(columns={"function": "twin"}), on=["file", "line_start", "line_end"], how="left"
    )
    twins["function"] = twins["twin"].where(twins["twin"].notna(), twins["function"])
    return twins.loc[:, list(tagged.columns)].drop_duplicates(ignore_index=True)


def _test_functions(tests: pd.DataFrame, definitions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Where each test's function is: harness tests at the line the harness reports (its
    ``CG_TEST`` line), tests of other frameworks at their definition found by name in the test
    sources (``definitions``: test, file, line_start, line_end; see :mod:`covguard.trace.test_defs`)."""
    base = pd.DataFrame(
        {
            "test": tests["test"].astype(str),
            "file": tests["file"].astype(str),
            "line_start": tests["line"].astype("int64"),
            "line_end": tests["line"].astype("int64"),
        }
    )
    if definitions is not None and len(definitions):
        d = definitions.drop_duplicates("test").set_index("test")
        at = base["test"].map(d["file"])
        found = at.notna()
        base.loc[found, "file"] = at[found].astype(str)
        base.loc[found, "line_start"] = base.loc[found, "test"].map(d["line_start"]).astype("int64")
        base.loc[found, "line_end"] = base.loc[found, "test"].map(d["line_end"]).astype("int64")
    return base.rename(columns={"test": "function"}).loc[:, ["file", "function", "line_start", "line_end"]]


def _shared_by_twins(tag_verifies: pd.DataFrame, test_funcs: pd.DataFrame) -> pd.DataFrame:
    """``@verifies`` tags of a test given to every test defined at the same place (the cases of a
    parametrised pytest function share one ``def``; tag attachment picks only one of them)."""
    placed = test_funcs[test_funcs["line_start"] > 0].loc[:, ["file", "line_start", "function"]]
    twins = placed.merge(placed, on=["file", "line_start"], suffixes=("", "_twin"))
    out = tag_verifies.merge(twins.loc[:, ["function", "function_twin"]], on="function", how="left")
    return out.assign(function=out["function_twin"].fillna(out["function"])).drop(columns="function_twin")


def _ids(series: pd.Series) -> pd.Series:
    return series.astype(str).str.split(r"[\s,;]+", regex=True)


def classify(
    *,
    requirements: pd.DataFrame,
    tests: pd.DataFrame,
    data: CoverageData,
    product_tags: pd.DataFrame,
    test_tags: pd.DataFrame,
    problems: Sequence[Any],
    default_class: str,
    manifest: BuildManifest | None = None,
    settings: dict[str, Any] | None = None,
    reachable: pd.DataFrame | None = None,
    require_target: Sequence[str] = (),
    product_findings: pd.DataFrame | None = None,
    product_summary: dict[str, int] | None = None,
    test_definitions: pd.DataFrame | None = None,
    product_only: pd.DataFrame | None = None,
    ledger: LedgerInput | None = None,
    run_findings: pd.DataFrame | None = None,
) -> Analysis:
    """The classification proper, on frames (what the tests drive with fixtures): the steps below,
    in order, each taking and returning the frames whose contracts :mod:`covguard.frames` names."""
    problems = _unique(problems)
    known = set(requirements["id"])
    functions = _function_frame(data)
    tags = attach_tags(product_tags, functions, known)
    vmap = verification_map(tests, test_tags, test_definitions)
    ex = executions(vmap.tests, vmap.test_requirements, tags.function_requirements, data, known)
    facts = function_facts(
        functions, tags.function_requirements, requirements, default_class, vmap, ex, data, reachable
    )
    just = justification_scopes(tags.attached, functions, ledger)
    fn = function_classes(facts, just.scopes)
    lines = line_classes(data, ex.verifying_units, fn, just.scopes)
    line_keys = line_function_keys(data, fn)  # each line's function, as an integer (also of fn's rows)
    fn = function_line_counts(fn, lines, line_keys)
    # which tests executed code of the requirements they verify: read by the statuses and the findings
    touched = _touched_pairs(
        vmap.test_requirements, vmap.tests, ex.function_units, tags.function_requirements
    )
    reqs = requirement_statuses(
        requirements,
        tags.function_requirements,
        vmap.test_requirements,
        vmap.tests,
        fn,
        ex,
        product_only,
        touched=touched,
    )
    mc = mcdc_coverage(data, lines, fn, reqs, tags, vmap, ex)
    found = all_findings(
        tags=tags,
        vmap=vmap,
        ex=ex,
        fn=mc.functions,
        lines=lines,
        reqs=mc.requirements,
        known=known,
        early=[run_findings, just.findings],
        mcdc_findings=mc.findings,
        problems=problems,
        require_target=require_target,
        product_findings=product_findings,
        touched=touched,
        line_keys=line_keys,
    )
    analysis = Analysis(
        requirements=mc.requirements,
        functions=_with_justification_text(mc.functions),
        lines=lines,
        tests=vmap.tests,
        findings=found,
        function_requirements=tags.function_requirements,
        test_requirements=vmap.test_requirements,
        coverage=data,
        summary=_summary(mc, lines, vmap.tests, found, product_summary),
        problems=[_problem_dict(p) for p in problems],
        manifest=manifest,
        settings=settings or {},
        decisions=mc.decisions,
        mcdc_measured=mc.measured,
        justifications=just.table,
    )
    if ledger is not None:  # what `covguard justify` needs: the in-source scopes and the sources
        analysis.cache["ledger_input"] = (ledger, just.in_source)
    return analysis


# ---------------------------------------------------------------------------------------------
# the steps of classify, in order


class Tags(NamedTuple):
    """Step 1: the product's tags on its functions."""

    attached: pd.DataFrame  # every product tag with its function and scope (attach_to_functions)
    tagged: pd.DataFrame  # TAGGED_REQUIREMENTS: every @req tag on a function, known requirement or not
    function_requirements: pd.DataFrame  # FUNCTION_REQUIREMENTS: those naming a known requirement


def attach_tags(product_tags: pd.DataFrame, functions: pd.DataFrame, known: set[str]) -> Tags:
    """Tags attached to product functions; the ``@req`` ones give each function its requirements
    (a tag on one instance of a template holds for its twins, see :func:`_to_instances`)."""
    attached = attach_to_functions(product_tags, functions)
    req_tags = attached[attached["kind"] == "req"]
    tagged = req_tags.dropna(subset=["function"]).loc[:, ["file", "function", "value", "line"]]
    tagged = _to_instances(tagged.rename(columns={"value": "requirement", "line": "tag_line"}), functions)
    function_requirements = (
        tagged[tagged["requirement"].isin(known)]
        .drop_duplicates(["file", "function", "requirement"])
        .reset_index(drop=True)
    )
    return Tags(
        attached=attached,
        tagged=check(tagged, TAGGED_REQUIREMENTS, "tagged requirements"),
        function_requirements=check(function_requirements, FUNCTION_REQUIREMENTS, "function requirements"),
    )


class VerificationMap(NamedTuple):
    """Step 2: what each test verifies."""

    tests: pd.DataFrame  # ANALYSED_TESTS: the tests, placed, with every requirement they verify
    test_tags: pd.DataFrame  # every test-source tag with its test function (attach_to_functions)
    test_requirements: pd.DataFrame  # TEST_REQUIREMENTS


def verification_map(
    tests: pd.DataFrame, test_tags: pd.DataFrame, test_definitions: pd.DataFrame | None
) -> VerificationMap:
    """What each test verifies: the harness's declaration plus the ``@verifies`` tags above its
    function; ``tests.verifies`` then lists both."""
    test_funcs = _test_functions(tests, test_definitions)
    if test_definitions is not None and len(test_definitions):
        # a test that crashed before its framework printed a line: located at its definition
        d = test_definitions.drop_duplicates("test").set_index("test")
        unplaced = (tests["line"] <= 0) & tests["test"].isin(d.index)
        tests = tests.copy()
        tests.loc[unplaced, "file"] = tests.loc[unplaced, "test"].map(d["file"])
        tests.loc[unplaced, "line"] = tests.loc[unplaced, "test"].map(d["line_start"]).astype("int64")
    t_attached = attach_to_functions(test_tags, test_funcs)
    tag_verifies = _shared_by_twins(
        t_attached[(t_attached["kind"] == "verifies") & t_attached["function"].notna()], test_funcs
    )
    declared = (
        tests.loc[:, ["test", "verifies"]].assign(requirement=_ids(tests["verifies"])).explode("requirement")
    )
    declared = declared[declared["requirement"].fillna("").astype(str) != ""]
    test_requirements = pd.concat(
        [
            declared.loc[:, ["test", "requirement"]].assign(source="harness"),
            pd.DataFrame(
                {
                    "test": tag_verifies["function"].astype(str),
                    "requirement": tag_verifies["value"].astype(str),
                    "source": "tag",
                }
            ),
        ],
        ignore_index=True,
    ).drop_duplicates(["test", "requirement"])
    test_requirements = test_requirements.astype({"test": str, "requirement": str})
    # every requirement a test verifies, from the harness and from tags, in tests[].verifies
    every = grouped_lists(test_requirements, ["test"], "requirement", sort=False)
    tests = tests.assign(verifies=[", ".join(every.get(t, [])) for t in tests["test"].tolist()])
    return VerificationMap(
        tests=check(tests, ANALYSED_TESTS, "tests"),
        test_tags=t_attached,
        test_requirements=check(test_requirements, TEST_REQUIREMENTS, "test requirements"),
    )


class Executions(NamedTuple):
    """Step 3: which coverage units executed which functions, and which of them verify."""

    function_units: pd.DataFrame  # FUNCTION_UNITS: every (function, coverage unit) execution
    unit_requirements: pd.DataFrame  # UNIT_REQUIREMENTS: requirements passing tests of each unit verify
    verifying: pd.DataFrame  # VERIFYING_EXECUTIONS: executions by a unit passing a test of its requirement
    verifying_units: pd.DataFrame  # VERIFYING_UNITS: the same, per (unit, function)


def executions(
    tests: pd.DataFrame,
    test_requirements: pd.DataFrame,
    function_requirements: pd.DataFrame,
    data: CoverageData,
    known: set[str],
) -> Executions:
    """Coverage units -> test cases -> requirements: the executions that verify a function are
    those of a unit where a passing test verifies one of the function's requirements."""
    t = tests.loc[:, ["test", "status", "coverage_unit"]]
    tr_known = test_requirements[test_requirements["requirement"].isin(known)]
    passing = t[t["status"] == "passed"]
    unit_reqs = (
        passing.merge(tr_known, on="test").loc[:, ["coverage_unit", "requirement"]].drop_duplicates()
    )  # requirements verified by passing tests of each coverage unit
    fexec = _distinct_as_text(data.functions.loc[:, ["file", "function", "test"]])
    fexec = fexec.rename(columns={"test": "coverage_unit"})
    # verifying executions: (unit, file, function) where the unit passes a test of a function's requirement
    verifying = matching_rows(
        fexec.merge(unit_reqs, on="coverage_unit"),
        function_requirements.loc[:, ["file", "function", "requirement"]],
        ["file", "function", "requirement"],
    )
    verifying_units = verifying.loc[:, ["coverage_unit", "file", "function"]].drop_duplicates()
    return Executions(
        function_units=check(fexec, FUNCTION_UNITS, "function executions"),
        unit_requirements=check(unit_reqs, UNIT_REQUIREMENTS, "unit requirements"),
        verifying=check(verifying, VERIFYING_EXECUTIONS, "verifying executions"),
        verifying_units=check(verifying_units, VERIFYING_UNITS, "verifying units"),
    )


def _distinct_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.astype(str).drop_duplicates()``: of categorical columns of text (the coverage's),
    the distinct rows are found on the categories' codes first (equal codes, equal text), so
    that only they are converted and no string is hashed."""
    if all(
        isinstance(t, pd.CategoricalDtype) and pd.api.types.infer_dtype(t.categories) in ("string", "empty")
        for t in frame.dtypes
    ):
        return frame[~frame.duplicated().to_numpy()].astype(str)
    return frame.astype(str).drop_duplicates()


def function_facts(
    functions: pd.DataFrame,
    function_requirements: pd.DataFrame,
    requirements: pd.DataFrame,
    default_class: str,
    vmap: VerificationMap,
    ex: Executions,
    data: CoverageData,
    reachable: pd.DataFrame | None,
) -> pd.DataFrame:
    """Step 4a: the facts that decide each function's class: its requirements and safety class,
    who executed it (verifying tests, failing ones), where the evidence ran, its reachability."""
    fkey = ["file", "function"]
    req_class = dict(zip(requirements["id"].tolist(), requirements["safety_class"].tolist(), strict=True))
    fn = functions.reset_index(drop=True)  # a new frame, numbered as the merges below numbered it
    fn["requirements"] = lists_per_function(fn, function_requirements, "requirement")
    fn["traced"] = fn["requirements"].str.len() > 0
    fn["safety_class"] = pd.Series(
        [
            # one requirement (the usual case): its class, without max()'s generator
            (req_class[ids[0]] if len(ids) == 1 and req_class[ids[0]] in CLASS_ORDER else
             max((req_class[i] for i in ids), key=CLASS_ORDER.__getitem__))
            if ids else default_class
            for ids in fn["requirements"].tolist()
        ],
        index=fn.index,
    )  # fmt: skip
    fn["executed_units"] = _rows_per_function(fn, ex.function_units).fillna(0).astype("int64")
    fn["executed"] = fn["executed_units"] > 0
    fn["verifying_units"] = _rows_per_function(fn, ex.verifying_units)  # NaN: none
    fn["verified_exec"] = fn["verifying_units"].fillna(0) > 0
    fn = _verified_on(fn, ex.verifying_units, data)
    # executed by a failing/erroring test of its own requirement
    t = vmap.tests.loc[:, ["test", "status", "coverage_unit"]]
    tr_known = vmap.test_requirements[vmap.test_requirements["requirement"].isin(set(requirements["id"]))]
    failing = t[t["status"].isin(["failed", "error"])].merge(tr_known, on="test")
    if failing.empty:  # no failing test of a known requirement: no such execution
        fn["failing_exec"] = np.zeros(len(fn), dtype=bool)
    else:
        failing_exec = ex.function_units.merge(
            failing.loc[:, ["coverage_unit", "requirement"]], on="coverage_unit"
        ).merge(
            function_requirements.loc[:, ["file", "function", "requirement"]],
            on=["file", "function", "requirement"],
        )
        fn["failing_exec"] = isin_rows(fn, failing_exec, fkey)
    return check(_with_reachability(fn, reachable), FUNCTION_FACTS, "function facts")


def _rows_per_function(fn: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """How many rows of ``rows`` name each function of ``fn`` (by file and function), NaN for
    none: what ``rows.groupby(["file", "function"]).size()`` merged into ``fn`` gives (a row with
    a missing name counts for no function, as the groupby drops it; int64 when every function
    has rows, as the merge keeps it), counted on integer codes of the names
    (:mod:`covguard.analysis.keys`) rather than by grouping ten thousand pairs of strings."""
    f_fn, f_rows = text_codes(fn["file"], rows["file"])
    n_fn, n_rows = text_codes(fn["function"], rows["function"])
    at_fn, at_rows = joint_keys((f_fn, n_fn), (f_rows, n_rows))
    named = (f_rows >= 0) & (n_rows >= 0)
    counts = pd.Series(at_rows[named]).value_counts()
    per_function = pd.Series(at_fn, index=fn.index).map(counts).rename(None)
    return per_function if per_function.isna().any() else per_function.astype("int64")


def _with_reachability(fn: pd.DataFrame, reachable: pd.DataFrame | None) -> pd.DataFrame:
    """``reachable`` (True, False or None: unknown) and the facts behind it: the shortest call path
    from an entry point, and the function in the image."""
    fkey = ["file", "function"]
    if reachable is not None and len(reachable):
        facts = [c for c in ("call_path", "image") if c in reachable.columns]
        fn = fn.merge(reachable.loc[:, ["file", "function", "reachable", *facts]], on=fkey, how="left")
    else:
        fn["reachable"] = None
    fn["reachable"] = fn["reachable"].astype(object).where(fn["reachable"].notna(), None)
    if "call_path" in fn.columns:
        fn["call_path"] = [list(v) if isinstance(v, list) else [] for v in fn["call_path"].tolist()]
    else:  # no product build: no call path
        fn["call_path"] = [[] for _ in range(len(fn))]
    fn["image"] = fn.get("image", pd.Series(None, index=fn.index)).astype(object)
    fn["image"] = fn["image"].where(fn["image"].notna(), None)
    return fn


class Justifications(NamedTuple):
    """Step 4b: the ``@justify`` and exclusion scopes in force."""

    scopes: pd.DataFrame  # JUSTIFICATION_SCOPES: in force (the ledger's checks applied)
    in_source: pd.DataFrame  # JUSTIFICATION_SCOPES: as the sources write them
    table: pd.DataFrame | None  # the justification ledger's table (a ledger in use), else None
    findings: pd.DataFrame | None  # the ledger's findings (a ledger in use), else None


def justification_scopes(
    attached: pd.DataFrame, functions: pd.DataFrame, ledger: LedgerInput | None
) -> Justifications:
    """The justified and excluded scopes of the product's tags; with a justification ledger,
    stale and expired justifications no longer apply."""
    in_source = check(scopes(attached), JUSTIFICATION_SCOPES, "justification scopes")
    if ledger is None or not ledger[0].exists:
        return Justifications(scopes=in_source, in_source=in_source, table=None, findings=None)
    from covguard.analysis.ledger import check_ledger

    checked = check_ledger(ledger[0], in_source, functions, ledger[1], ledger[2])
    return Justifications(
        scopes=check(checked.scopes, JUSTIFICATION_SCOPES, "ledger-checked justification scopes"),
        in_source=in_source,
        table=checked.table,
        findings=F.frame(checked.findings),
    )


def function_classes(facts: pd.DataFrame, just_scopes: pd.DataFrame) -> pd.DataFrame:
    """Step 4c: each function's class, from its facts and its function-scope justification:
    justified, dead, rogue, verified, incidental, else traced_untested (in that precedence)."""
    fkey = ["file", "function"]
    fn_just = just_scopes[just_scopes["scope"] == "function"].drop_duplicates(fkey)
    fn = facts.merge(fn_just.loc[:, [*fkey, "category", "reason"]], on=fkey, how="left")
    fn["justified"] = fn["category"].notna()
    fn["class"] = np.select(
        [
            fn["justified"],
            np.array([r is False for r in fn["reachable"].tolist()], dtype=bool),
            ~fn["traced"],
            fn["verified_exec"],
            fn["executed"] & ~fn["failing_exec"],
        ],
        ["justified", "dead", "rogue", "verified", "incidental"],
        default="traced_untested",
    )
    return check(fn, FUNCTION_CLASSES, "function classes")


def line_classes(
    data: CoverageData, verifying_units: pd.DataFrame, fn: pd.DataFrame, just_scopes: pd.DataFrame
) -> pd.DataFrame:
    """Step 5: every executable line's class (:func:`covguard.analysis.lines.classify_lines`)."""
    return check(classify_lines(data, verifying_units, fn, just_scopes), LINE_CLASSES, "line classes")


def function_line_counts(
    fn: pd.DataFrame, lines: pd.DataFrame, keys: tuple[np.ndarray, np.ndarray]
) -> pd.DataFrame:
    """Step 5b: each function's line and branch numbers (justified and excluded lines not counted).

    ``keys``: integer keys of each row of ``lines`` and of ``fn`` that are equal exactly when the
    file and function are (:func:`covguard.analysis.lines.line_function_keys`, -1 for a line of
    no function)."""
    at_line, at_fn = keys
    keep = ~lines["class"].isin(["justified", "excluded"]).to_numpy() & (at_line >= 0)
    sums = _line_sums_by_row(lines, keep, at_line, at_fn)
    if sums is None:  # a function twice in fn, or a column not of integers: grouped by the key
        counted = lines.loc[keep, list(_LINE_SUMS.values())].assign(at=at_line[keep])
        per_fn = _line_sums(counted, "at").reindex(at_fn)
        sums = {c: per_fn[c].fillna(0).astype("int64").to_numpy() for c in per_fn.columns}
    return check(fn.assign(**sums), FUNCTION_COVERAGE, "function coverage")


_LINE_SUMS = {  # each function's number -> the column of its lines it sums (lines_total: their count)
    "lines_executed": "executed",
    "lines_verified": "verified",
    "branches_total": "branches_total",
    "branches_executed": "branches_covered_any",
    "branches_verified": "branches_verified",
}


def _line_sums_by_row(
    lines: pd.DataFrame, keep: np.ndarray, at_line: np.ndarray, at_fn: np.ndarray
) -> dict[str, np.ndarray] | None:
    """What :func:`_line_sums` of the ``keep`` lines grouped by their function's key gives, each
    function's row of ``fn`` its sums (0 for none, int64): each line's row found once and every
    column summed by ``bincount`` (exact: counts of lines and branches stay far below 2**53),
    rather than a group-by of six aggregations.  ``None`` when ``fn`` holds a function twice or a
    column is not of integers or booleans."""
    functions = pd.Index(at_fn)
    columns = list(_LINE_SUMS.values())
    if not functions.is_unique or not all(
        pd.api.types.is_integer_dtype(lines[c]) or pd.api.types.is_bool_dtype(lines[c]) for c in columns
    ):
        return None
    rows = np.flatnonzero(keep)
    at = functions.get_indexer(at_line[rows])
    rows, at = rows[at >= 0], at[at >= 0]
    out = {"lines_total": np.bincount(at, minlength=len(at_fn)).astype(np.int64)}
    for name, column in _LINE_SUMS.items():
        weights = lines[column].to_numpy()[rows].astype(np.float64)
        out[name] = np.bincount(at, weights=weights, minlength=len(at_fn)).astype(np.int64)
    return out


def _line_sums(counted: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    return counted.groupby(by).agg(
        lines_total=("executed", "size"),
        lines_executed=("executed", "sum"),
        lines_verified=("verified", "sum"),
        branches_total=("branches_total", "sum"),
        branches_executed=("branches_covered_any", "sum"),
        branches_verified=("branches_verified", "sum"),
    )


def requirement_statuses(
    requirements: pd.DataFrame,
    function_requirements: pd.DataFrame,
    test_requirements: pd.DataFrame,
    tests: pd.DataFrame,
    fn: pd.DataFrame,
    ex: Executions,
    product_only: pd.DataFrame | None,
    touched: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Step 6: each requirement's status and requirement-based coverage (``touched``: the
    :func:`_touched_pairs` of these frames, when the caller has them already)."""
    reqs = _classify_requirements(
        requirements,
        function_requirements,
        test_requirements,
        tests,
        fn,
        ex.function_units,
        ex.verifying,
        product_only,
        touched,
    )
    return check(reqs, REQUIREMENT_STATUSES, "requirement statuses")


def mcdc_coverage(
    data: CoverageData,
    lines: pd.DataFrame,
    fn: pd.DataFrame,
    reqs: pd.DataFrame,
    tags: Tags,
    vmap: VerificationMap,
    ex: Executions,
) -> McdcResult:
    """Step 6b: MC/DC (clang's source-based coverage only), per function and per requirement: adds
    columns to the function and requirement frames (:func:`covguard.analysis.mcdc.analyse_mcdc`)."""
    return analyse_mcdc(
        data,
        lines=lines,
        fn=fn,
        reqs=reqs,
        verifying_units=ex.verifying_units,
        unit_reqs=ex.unit_requirements,
        function_requirements=tags.function_requirements,
        tests=vmap.tests,
    )


def all_findings(
    *,
    tags: Tags,
    vmap: VerificationMap,
    ex: Executions,
    fn: pd.DataFrame,
    lines: pd.DataFrame,
    reqs: pd.DataFrame,
    known: set[str],
    early: Sequence[pd.DataFrame | None],
    mcdc_findings: list[dict[str, Any]],
    problems: Sequence[Any],
    require_target: Sequence[str],
    product_findings: pd.DataFrame | None,
    touched: pd.DataFrame | None = None,
    line_keys: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Step 7: every finding, in one frame, severest first.  ``early``: the findings of the test run
    and of the justification ledger, when there are any; ``touched``: the :func:`_touched_pairs`
    of these frames, when the caller has them already; ``line_keys``: the integer keys of the
    functions of the lines and of ``fn`` (:func:`covguard.analysis.lines.line_function_keys`)."""
    tests, test_requirements = vmap.tests, vmap.test_requirements
    req_tags = tags.attached[tags.attached["kind"] == "req"]
    findings = [
        F.unknown_requirement_findings(
            tags.tagged, known, req_tags, vmap.test_tags, test_requirements, tests
        ),
        F.unattached_verifies_findings(vmap.test_tags),
        *(f for f in early if f is not None),
        F.function_findings(fn, ex.function_units, tests, test_requirements, known),
        F.frame(mcdc_findings),
        F.requirement_findings(reqs, tests),
        F.hollow_findings(
            hollow_pairs(test_requirements, tests, ex.function_units, tags.function_requirements, touched),
            reqs,
        ),
        F.test_result_findings(tests, test_requirements, known),
        F.coarse_attribution_findings(tests, test_requirements),
        F.line_findings(lines, fn, line_keys),
        F.justification_findings(tags.attached, lines, fn),
        F.problem_findings(problems, req_tags),
        F.host_only_findings(fn, require_target),
        *([product_findings] if product_findings is not None else []),
    ]
    present = [f for f in findings if len(f)]
    return F.finish_findings(pd.concat(present, ignore_index=True) if present else F.empty_findings())


def _with_justification_text(fn: pd.DataFrame) -> pd.DataFrame:
    """The functions as the Analysis shows them: ``category`` and ``reason`` as one ``justification``."""
    return fn.drop(columns=["category", "reason"], errors="ignore").assign(
        justification=fn["category"].fillna("")
        + np.where(fn["reason"].notna(), ": " + fn["reason"].fillna(""), "")
    )


def _verified_on(fn: pd.DataFrame, verifying_units: pd.DataFrame, data: CoverageData) -> pd.DataFrame:
    """Provenance of the evidence: the origins (host, host-python, qemu-cortex-m3, ...) of each
    function's verifying executions, as the coverage rows record them; ``verified_on_target``
    when one of them is not the host (``host`` or ``host-*``).  ``target_code``: code that can
    run on the target at all (not a host tool's Python), what ``gate.require_target`` covers."""
    fkey = ["file", "function"]
    unit_origin = data.functions.loc[:, ["test", "origin"]]
    if all(isinstance(t, pd.CategoricalDtype) for t in unit_origin.dtypes):
        # categories are distinct texts: the distinct rows first, then as text (fewer to convert)
        unit_origin = unit_origin.drop_duplicates()
    unit_origin = unit_origin.astype(str).drop_duplicates().rename(columns={"test": "coverage_unit"})
    vu = verifying_units.astype(str)
    one = _one_origin(fn, vu, unit_origin)
    if one is not None:
        fn["verified_on"], fn["verified_on_target"] = one
    else:
        on = vu.merge(unit_origin, on="coverage_unit").loc[:, [*fkey, "origin"]]
        fn["verified_on"] = lists_per_function(fn, on, "origin")
        target = on[~on["origin"].str.startswith("host")].drop_duplicates(fkey)
        fn["verified_on_target"] = isin_rows(fn, target, fkey)
    # a host tool's Python: asked once per file name (NaN, no name: not Python, as str.endswith says)
    codes, files = pd.factorize(fn["file"].astype(str))
    python = np.array([f.endswith(".py") for f in files.tolist()] + [False], dtype=bool)
    fn["target_code"] = ~python[codes]
    return fn


def _one_origin(
    fn: pd.DataFrame, verifying_units: pd.DataFrame, unit_origin: pd.DataFrame
) -> tuple[list[list[str]], np.ndarray] | None:
    """``verified_on`` and ``verified_on_target`` of a run whose coverage has one origin (every
    unit ran on the host, say), when each verifying unit has it: the origin for each function a
    verifying unit executed, without joining the origins to the executions (``fn``'s
    ``verifying_units``, when it has them, count the rows of ``verifying_units`` per function).
    ``None`` otherwise (several origins, a unit without one, a missing name): the caller joins
    them."""
    origins = unit_origin["origin"]
    names = verifying_units.loc[:, ["file", "function"]]
    if origins.nunique(dropna=False) != 1 or origins.isna().any() or names.isna().any().any():
        return None
    if not verifying_units["coverage_unit"].isin(unit_origin["coverage_unit"]).all():
        return None
    only = str(origins.iloc[0])
    # how many verifying units executed each function: counted already by function_facts
    counts = (
        fn["verifying_units"] if "verifying_units" in fn.columns else _rows_per_function(fn, verifying_units)
    )
    ran = (counts.fillna(0) > 0).to_numpy(dtype=bool)
    return [[only] if r else [] for r in ran.tolist()], ran & (not only.startswith("host"))


def _unique(problems: Sequence[Any]) -> list[Any]:
    """Each problem once (the same note of several runs or objects is one problem)."""
    seen: set[tuple[str, ...]] = set()
    out: list[Any] = []
    for row in problems:
        key = tuple(str(_problem_dict(row)[k]) for k in ("file", "line", "severity", "message"))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _problem_dict(p: Any) -> dict[str, Any]:
    return {
        "file": str(getattr(p, "path", "")),
        "line": getattr(p, "line", None),
        "severity": getattr(p, "severity", "warning"),
        "message": getattr(p, "message", str(p)),
    }


def _classify_requirements(
    requirements: pd.DataFrame,
    function_requirements: pd.DataFrame,
    test_requirements: pd.DataFrame,
    tests: pd.DataFrame,
    fn: pd.DataFrame,
    fexec: pd.DataFrame,
    verifying: pd.DataFrame,
    product_only: pd.DataFrame | None = None,
    touched: pd.DataFrame | None = None,
) -> pd.DataFrame:
    kept = [
        "id",
        "title",
        "safety_class",
        "source",
        "line",
        *(["parent"] if "parent" in requirements else []),
    ]
    r = requirements.loc[:, kept].copy()
    # functions that only the product build compiles implement their requirements too (a main.c
    # no test build compiles): never "unimplemented" for want of a unit test build
    implementing = function_requirements.loc[:, ["file", "function", "requirement"]]
    if product_only is not None and len(product_only):
        implementing = pd.concat([implementing, product_only], ignore_index=True).drop_duplicates()
    implemented = _implemented_by(r["id"], implementing)
    r["implemented_by"] = pd.Series(implemented, index=r.index, dtype=object)
    tr = test_requirements.merge(tests.loc[:, ["test", "status"]], on="test", how="left")
    by = grouped_lists(tr, ["requirement"], "test", sort_keys=False)
    ids = r["id"].tolist()
    r["verified_by"] = [by.get(i, []) for i in ids] if by else [[] for _ in ids]
    bad = grouped_lists(tr[tr["status"].isin(["failed", "error"])], ["requirement"], "test", sort_keys=False)
    r["failing_tests"] = [bad.get(i, []) for i in ids] if bad else [[] for _ in ids]
    # did any verifying test execute any implementing function (pass or fail)?
    if touched is None:
        touched = _touched_pairs(test_requirements, tests, fexec, function_requirements)
    r["executed_by_tests"] = r["id"].isin(touched["requirement"])
    # requirement-based coverage over its implementing functions (their verified lines count for
    # the requirement only when the verifying test is a test of this requirement)
    totals = _sums_per_requirement(r["id"], function_requirements, fn, ["lines_total", "branches_total"])
    per_req = _requirement_line_coverage(r["id"], verifying, fn)
    for c, sums in (totals | per_req).items():  # as left merges on the id added them (0 for none)
        r[c] = sums
    r["line_coverage"] = np.where(
        r["lines_total"] > 0, 100.0 * r["lines_verified"] / r["lines_total"].clip(lower=1), np.nan
    )
    r["branch_coverage"] = np.where(
        r["branches_total"] > 0, 100.0 * r["branches_verified"] / r["branches_total"].clip(lower=1), np.nan
    )
    n_impl = r["implemented_by"].str.len()
    n_tests = r["verified_by"].str.len()
    r["status"] = np.select(
        [r["failing_tests"].str.len() > 0, n_impl == 0, n_tests == 0, ~r["executed_by_tests"]],
        ["failing", "unimplemented", "unverified", "hollow"],
        default="verified",
    )
    return roll_up(r).reset_index(drop=True)


def _implemented_by(ids: pd.Series, implementing: pd.DataFrame) -> list[list[dict[str, Any]]]:
    """For each requirement of ``ids``, its implementing functions as ``{file, function}`` dicts,
    each once, in the order ``implementing`` (file, function, requirement) first names them.

    Grouped on integer codes (:mod:`covguard.analysis.keys`): the first row of each (requirement,
    file, function), each requirement's rows brought together in row order, one list sliced per
    requirement; rather than a tuple of names per row, hashed to group.  A missing value takes
    the grouping of :func:`covguard.frames.grouped_lists`."""
    if ids.isna().any() or implementing.loc[:, ["file", "function", "requirement"]].isna().any().any():
        named = list(zip(implementing["file"].tolist(), implementing["function"].tolist(), strict=True))
        impl = grouped_lists(
            implementing.assign(ref=pd.Series(named, dtype=object)), ["requirement"], "ref", sort=False
        )
        return [[{"file": f, "function": n} for f, n in impl.get(i, [])] for i in ids.tolist()]
    q_ids, q_rows = text_codes(ids, implementing["requirement"])
    (files,), (functions,) = text_codes(implementing["file"]), text_codes(implementing["function"])
    (row_key,) = joint_keys((q_rows, files, functions))
    rows = np.flatnonzero(~pd.Series(row_key).duplicated().to_numpy())  # each pair once, in order
    rows = rows[np.argsort(q_rows[rows], kind="stable")]  # by requirement, in row order
    width = int(max(q_ids.max(initial=-1), q_rows.max(initial=-1))) + 1
    ends = np.cumsum(np.bincount(q_rows[rows], minlength=width)).tolist()
    refs = [
        {"file": f, "function": n}
        for f, n in zip(
            implementing["file"].to_numpy(dtype=object)[rows].tolist(),
            implementing["function"].to_numpy(dtype=object)[rows].tolist(),
            strict=True,
        )
    ]
    starts = [0, *ends][: len(ends)]
    return [refs[starts[q] : ends[q]] for q in q_ids.tolist()]


def _touched_pairs(
    test_requirements: pd.DataFrame,
    tests: pd.DataFrame,
    fexec: pd.DataFrame,
    function_requirements: pd.DataFrame,
) -> pd.DataFrame:
    """(test, requirement) pairs where the test executed at least one function of the requirement,
    each once (in no particular order: callers ask whether a pair is among them).

    The (coverage unit, requirement) pairs that executed a function of the requirement are joined
    on integer codes of the text keys (:mod:`covguard.analysis.keys`): the same matches as the
    merges on the text, without hashing every function name of every execution twice."""
    if test_requirements.empty:  # no test verifies anything: no pair (without four empty merges)
        return test_requirements.loc[:, ["test", "requirement"]]
    units = test_requirements.loc[:, ["test", "requirement"]].merge(
        tests.loc[:, ["test", "coverage_unit"]], on="test"
    )
    fr = function_requirements
    f_x, f_r = text_codes(fexec["file"], fr["file"])
    n_x, n_r = text_codes(fexec["function"], fr["function"])
    u_x, u_t = text_codes(fexec["coverage_unit"], units["coverage_unit"])
    q_r, q_t = text_codes(fr["requirement"], units["requirement"])
    at_x, at_r = joint_keys((f_x, n_x), (f_r, n_r))  # (file, function)
    ran = pd.DataFrame({"at": at_x, "unit": u_x}).merge(pd.DataFrame({"at": at_r, "req": q_r}), on="at")
    ran_key, unit_key = joint_keys(
        (ran["unit"].to_numpy(), ran["req"].to_numpy()), (u_t, q_t)
    )  # (coverage unit, requirement)
    hit = units.loc[pd.Series(unit_key).isin(ran_key).to_numpy(), ["test", "requirement"]]
    return hit.drop_duplicates()


def hollow_pairs(
    test_requirements: pd.DataFrame,
    tests: pd.DataFrame,
    fexec: pd.DataFrame,
    function_requirements: pd.DataFrame,
    touched: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Passing tests that claim a requirement with code, yet execute none of that code.
    ``touched``: :func:`_touched_pairs` of the same frames, when the caller has it already."""
    implemented = set(function_requirements["requirement"].tolist())
    claims = test_requirements[test_requirements["requirement"].isin(implemented)].merge(
        tests.loc[:, ["test", "status", "file", "line"]], on="test"
    )
    claims = claims[claims["status"] == "passed"]
    if touched is None:
        touched = _touched_pairs(test_requirements, tests, fexec, function_requirements)
    key = ["test", "requirement"]
    return claims[~isin_rows(claims, touched, key)].reset_index(drop=True)


def _requirement_line_coverage(
    ids: pd.Series, verifying: pd.DataFrame, fn: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Lines/branches of each requirement's functions executed by passing tests of *that* requirement.

    Approximated per function: the verified lines of a function count for a requirement when a
    passing test of that requirement executed the function (exact per-requirement line sets are in
    the lines frame; functions usually implement one requirement).
    """
    pairs = verifying.loc[:, ["file", "function", "requirement"]]
    return _sums_per_requirement(ids, pairs, fn, ["lines_verified", "branches_verified"], distinct=True)


def _sums_per_requirement(
    ids: pd.Series, pairs: pd.DataFrame, fn: pd.DataFrame, columns: list[str], *, distinct: bool = False
) -> dict[str, np.ndarray]:
    """For each requirement of ``ids``, the sums of ``columns`` of ``fn`` over the functions
    ``pairs`` (file, function, requirement) give it, 0 for none (``distinct``: each pair once):
    what merging ``pairs`` with ``fn`` on file and function, grouping by requirement and mapping
    ``ids`` to the sums gave.  With one row of ``fn`` per function (the analysis' own) and integer
    numbers, each pair's function and requirement are found by integer codes
    (:mod:`covguard.analysis.keys`) and summed by ``bincount``, without a merge, a group-by and a
    lookup on text."""
    f_fn, f_pairs = text_codes(fn["file"], pairs["file"])
    n_fn, n_pairs = text_codes(fn["function"], pairs["function"])
    at_fn, at_pairs = joint_keys((f_fn, n_fn), (f_pairs, n_pairs))
    rows = pd.Index(at_fn)
    if not rows.is_unique or not all(pd.api.types.is_integer_dtype(fn[c]) for c in columns):
        m = pairs.drop_duplicates() if distinct else pairs
        m = m.merge(fn.loc[:, ["file", "function", *columns]], on=["file", "function"])
        grouped = m.groupby("requirement")[columns].sum()
        return {c: ids.map(grouped[c]).fillna(0).astype("int64").to_numpy() for c in columns}
    q_ids, q_pairs = text_codes(ids, pairs["requirement"])
    at = rows.get_indexer(at_pairs)
    hit = np.flatnonzero((at >= 0) & (q_pairs >= 0))  # a missing requirement counts for none
    width = int(max(q_ids.max(initial=-1), q_pairs.max(initial=-1))) + 1
    if distinct:  # (function, requirement) once each
        hit = hit[np.unique(at[hit] * width + q_pairs[hit], return_index=True)[1]]
    out: dict[str, np.ndarray] = {}
    for c in columns:
        sums = np.bincount(q_pairs[hit], weights=fn[c].to_numpy(dtype=np.float64)[at[hit]], minlength=width)
        # exact: sums of line and branch numbers stay far below 2**53; a missing id (-1): 0
        out[c] = np.append(sums, 0.0)[q_ids].astype(np.int64)
    return out


# ---------------------------------------------------------------------------------------------
# summary


def _pct(num: float, den: float) -> float | None:
    return percent(num, den)  # one rounding, as gcovr rounds


def _summary(
    mc: McdcResult,
    lines: pd.DataFrame,
    tests: pd.DataFrame,
    findings: pd.DataFrame,
    product_summary: dict[str, int] | None,
) -> dict[str, Any]:
    """The counts and percentages of the analysis (the MC/DC ones and the product's included)."""
    reqs, fn = mc.requirements, mc.functions
    summed = ["executed", "verified", "branches_total", "branches_covered_any", "branches_verified"]
    counted = lines.loc[~lines["class"].isin(["justified", "excluded"]).to_numpy(), summed]
    n_lines = len(counted)
    n_br = int(counted["branches_total"].sum())
    summary: dict[str, Any] = {
        "requirements": {"total": len(reqs), **reqs["status"].value_counts().sort_index().to_dict()},
        "functions": {"total": len(fn), **fn["class"].value_counts().sort_index().to_dict()},
        "lines": {"total": len(lines), **lines["class"].value_counts().sort_index().to_dict()},
        "tests": {"total": len(tests), **tests["status"].value_counts().sort_index().to_dict()},
        "coverage": {
            "line": _pct(int(counted["executed"].sum()), n_lines),
            "branch": _pct(int(counted["branches_covered_any"].sum()), n_br),
            "function": _pct(int(fn["executed"].sum()), len(fn)),
            "requirement_line": _pct(int(counted["verified"].sum()), n_lines),
            "requirement_branch": _pct(int(counted["branches_verified"].sum()), n_br),
        },
        "findings": {"total": len(findings), **findings["kind"].value_counts().sort_index().to_dict()},
    }
    summary["coverage"].update(mc.summary)
    if product_summary is not None:
        summary["product"] = dict(product_summary)
    return summary
