"""Writes every output of a run into the output folder, each one atomically.

All of them render the one findings document (:func:`covguard.report.findings_json.findings_document`)
and the analysis frames, so no two disagree:

==============  ======================  ====================================================
format          file                    for
==============  ======================  ====================================================
findings        findings.json           every tool: covguard's contract
junit           junit.xml               CI test reports (requirements as properties)
html            index.html              the engineer and the auditor: one self-contained page
sarif           covguard.sarif          code scanning (GitHub, GitLab): findings inline
markdown        summary.md              a pull-request comment
trace-csv       trace-matrix.csv        the trace matrix for any tool
trace-xlsx      trace-matrix.xlsx       the trace matrix for the auditor's spreadsheet
cobertura       cobertura.xml           coverage viewers in CI, from covguard's own numbers
html-details .. gcovr/, gcovr-*.xml ...  gcovr's formats, optional (``report.gcovr``)
==============  ======================  ====================================================

Every writer is deterministic (same inputs, same bytes): the evidence package includes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covguard.analysis.analyse import Analysis
from covguard.analysis.verdict import GateResult
from covguard.errors import ConfigError, OutputError
from covguard.files import json_safe, visible_bytes, write_bytes, write_text
from covguard.frames import few_collections
from covguard.model import BuildManifest
from covguard.report import findings_json, gcovr_formats
from covguard.report.options import ReportOptions
from covguard.run.runner import TestRun

if TYPE_CHECKING:
    from covguard.report import forked

# Each writer imports its module when it writes (the HTML, the spreadsheet's lxml, ...): a command
# that writes findings.json alone (`covguard analyse`) does not load the others.


@dataclass(frozen=True)
class Rendering:
    """What every output renders: the one findings document and the analysis it came from."""

    options: ReportOptions
    analysis: Analysis
    gate: GateResult
    results: TestRun | None
    listed: list[tuple[str, str]]  # (format, file) of every output written but the HTML page

    @property
    def doc(self) -> dict[str, Any]:
        """The findings document (:func:`~covguard.report.findings_json.findings_document`, made
        once per analysis): made when an output reads it, so that findings.json alone, written from
        the tables' text, makes no dict per record."""
        return findings_json.findings_document(self.analysis, self.gate)


@dataclass(frozen=True)
class OutputFormat:
    """One output format: its name (``--format``), its file in the output folder, its writer."""

    name: str
    file: str
    write: Callable[[Rendering, Path], None]
    order: int  # when it is written among the others
    needs_results: bool = False  # the test results (JUnit): left out without them


@dataclass(frozen=True)
class CoverageRun:
    """One gcov test run whose data gcovr's formats are made from."""

    manifest: BuildManifest
    units: dict[str, str]  # coverage unit -> its folder of .gcda files
    gcov: str = "gcov"  # the gcov that reads them


def all_formats(options: ReportOptions) -> list[str]:
    """Every output `covguard run` writes: covguard's own, then the configured gcovr formats."""
    return [*COVGUARD_FORMATS, *options.report_gcovr]


def format_names() -> list[str]:
    return [*COVGUARD_FORMATS, *gcovr_formats.FORMATS]


def check_formats(formats: Sequence[str]) -> None:
    """Raise a usage error naming any format covguard does not know."""
    unknown = [f for f in formats if f not in format_names()]
    if unknown:
        raise ConfigError(
            f"unknown report format(s): {', '.join(unknown)}",
            hint="known formats: " + ", ".join(format_names()),
        )


def output_file(name: str) -> str:
    """Where format ``name`` goes, relative to the output folder."""
    return COVGUARD_FORMATS[name] if name in COVGUARD_FORMATS else gcovr_formats.FORMATS[name].output


@few_collections
def write_outputs(
    options: ReportOptions,
    analysis: Analysis,
    gate: GateResult,
    *,
    results: TestRun | None = None,
    coverage_runs: Sequence[CoverageRun] = (),
    formats: Sequence[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write ``formats`` (default: :func:`all_formats`); return format -> path of what was written.

    JUnit needs the test ``results`` and gcovr's formats the ``coverage_runs``: without them those
    formats are left out and the others written.
    """
    selected = list(dict.fromkeys(formats if formats is not None else all_formats(options)))
    check_formats(selected)
    out = options.output_dir
    written: dict[str, Path] = {}

    def step(name: str) -> Path:
        if echo:
            echo(f"report: {output_file(name)}")
        return out / output_file(name)

    # the outputs other than the HTML page, which lists them
    listed = [(name, output_file(name)) for name in selected if name != "html"]
    given = Rendering(options, analysis, gate, results, listed)
    wanted_gcovr = [f for f in selected if f in gcovr_formats.FORMATS]
    steps: list[tuple[int, OutputFormat | None]] = [(f.order, f) for f in OUTPUTS if f.name in selected]
    beside = _trace_beside(given, selected)  # the trace matrix in a second process (or None)
    try:
        for _order, fmt in sorted([*steps, (GCOVR_ORDER, None)], key=lambda step: step[0]):
            if fmt is None:  # gcovr's formats
                if wanted_gcovr and coverage_runs:
                    if echo:
                        echo("report: gcovr " + ", ".join(wanted_gcovr))
                    written.update(
                        gcovr_formats.write_gcovr_formats(
                            options,
                            [(r.manifest, r.units) for r in coverage_runs],
                            wanted_gcovr,
                            gcov=coverage_runs[0].gcov,
                        )
                    )
                continue
            if fmt.needs_results and results is None:
                continue
            path = step(fmt.name)
            if beside is not None and fmt.name in BESIDE:
                beside.join()  # written by the second process
            else:
                fmt.write(given, path)
            written[fmt.name] = path
    finally:
        if beside is not None:
            beside.stop()
    return written


BESIDE = ("trace-csv", "trace-xlsx")
"""The outputs written in a second process when that helps (:mod:`covguard.report.forked`)."""


def _trace_beside(given: Rendering, selected: Sequence[str]) -> forked.Forked | None:
    """The trace matrix's outputs started in a forked process, when it is large and a second core
    can take it (None: they are written in turn, as the others)."""
    wanted = [f for f in OUTPUTS if f.name in BESIDE and f.name in selected]
    if not wanted:
        return None
    from covguard.report import forked, trace_matrix

    if not forked.can_fork():
        return None
    # built before the fork: the HTML page reads the same links
    if len(trace_matrix.trace_links(given.analysis)) < forked.MIN_ROWS:
        return None
    out = given.options.output_dir

    def work() -> None:
        for fmt in wanted:
            fmt.write(given, out / fmt.file)

    return forked.Forked(work)


def _findings(given: Rendering, path: Path) -> None:
    write_text(path, json_safe(findings_json.render(given.analysis, given.gate)))


def _junit(given: Rendering, path: Path) -> None:
    from covguard.report import junit

    assert given.results is not None  # needs_results
    write_bytes(path, junit.junit_xml(junit.with_verifies(given.results.cases, given.analysis.tests)))


def _cobertura(given: Rendering, path: Path) -> None:
    from covguard.report import cobertura

    analysis, root = given.analysis, given.options.root
    stamp = gcovr_formats.report_timestamp(analysis.manifest) if analysis.manifest else 0
    write_text(path, visible_bytes(cobertura.render(analysis, source=root.as_posix(), timestamp=stamp)))


def _markdown(given: Rendering, path: Path) -> None:
    from covguard.report import markdown

    shown = _changed_only(given.doc, given.analysis)
    reports = [p for _n, p in given.listed if p != "summary.md"]
    write_text(path, visible_bytes(markdown.render(shown, reports=reports)))


def _sarif(given: Rendering, path: Path) -> None:
    from covguard.report import sarif

    shown = _changed_only(given.doc, given.analysis)
    options = given.options
    write_text(path, json_safe(sarif.render(shown, root=options.root, config_path=options.config_path)))


def _trace_csv(given: Rendering, path: Path) -> None:
    from covguard.report import trace_matrix

    trace_matrix.write_csv(path, given.analysis)


def _trace_xlsx(given: Rendering, path: Path) -> None:
    from covguard.report import trace_matrix

    trace_matrix.write_xlsx(path, given.analysis)


def _html(given: Rendering, path: Path) -> None:
    from covguard.report import html

    options, out = given.options, path.parent
    page, pages = html.render_site(
        given.doc,
        given.analysis,
        root=options.root,
        title=f"covguard report: {options.root.name}",
        gcovr_pages=_gcovr_pages(out, given.analysis, options.root),
        outputs=[(p, p) for _n, p in given.listed if (out / p).is_file()],
    )
    _write_pages(out, pages)
    write_text(path, visible_bytes(page))


OUTPUTS: tuple[OutputFormat, ...] = (
    OutputFormat("findings", "findings.json", _findings, order=10),
    OutputFormat("junit", "junit.xml", _junit, order=20, needs_results=True),
    OutputFormat("html", "index.html", _html, order=90),
    OutputFormat("sarif", "covguard.sarif", _sarif, order=60),
    OutputFormat("markdown", "summary.md", _markdown, order=50),
    OutputFormat("trace-csv", "trace-matrix.csv", _trace_csv, order=70),
    OutputFormat("trace-xlsx", "trace-matrix.xlsx", _trace_xlsx, order=80),
    OutputFormat("cobertura", "cobertura.xml", _cobertura, order=40),
)
"""The registry of output formats: covguard's own, in the order they are listed (``--format``,
the reports' lists of outputs); ``order`` is when each is written (the HTML page last: it links
to the outputs on disk).  gcovr's formats are :data:`covguard.report.gcovr_formats.FORMATS`."""

GCOVR_ORDER = 30  # gcovr's optional formats (``report.gcovr``) are written after the JUnit report

COVGUARD_FORMATS: dict[str, str] = {f.name: f.file for f in OUTPUTS}
"""covguard's own outputs: format name -> file in the output folder."""


def _changed_only(doc: dict[str, Any], analysis: Analysis) -> dict[str, Any]:
    """Under the diff gate (``gate.diff_base``): the document with only the findings that touch a
    changed line, for the pull-request views (SARIF, Markdown); else the document itself."""
    changes = analysis.cache.get("diff_scope")
    if changes is None:
        return doc
    from covguard.analysis.diffgate import in_diff

    return {**doc, "findings": in_diff(doc["findings"], changes)}


def _gcovr_pages(out: Path, analysis: Analysis, root: Path) -> dict[str, str]:
    """Links from the HTML report to each file's page in gcovr's detailed HTML, when it is there."""
    index = out / gcovr_formats.FORMATS["html-details"].output
    if not index.is_file():
        return {}
    folder = index.parent.relative_to(out).as_posix()
    pages: dict[str, str] = {}
    for file in sorted(set(analysis.lines["file"].drop_duplicates().astype(str).tolist())):
        page = gcovr_formats.detail_page(index, root, file)
        if page is not None:
            pages[file] = f"{folder}/{page}"
    return pages


def _write_pages(out: Path, pages: dict[str, str]) -> None:
    """The HTML report's source pages (``sources/f<N>.html``): written into a scratch folder, then
    swapped in whole, so the folder never mixes two runs; a stale folder of a larger run (only
    covguard's page names in it) is removed when this run's report has its sources inline."""
    import re
    import shutil

    from covguard.report import html

    folder = out / html.SOURCE_PAGES
    ours = re.compile(r"f[0-9]+\.html")
    if not pages:
        if folder.is_dir() and all(ours.fullmatch(p.name) and p.is_file() for p in folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
        return
    scratch = out / f".{html.SOURCE_PAGES}.new"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        scratch.mkdir(parents=True)
        for rel, text in pages.items():
            (scratch / Path(rel).name).write_text(visible_bytes(text), encoding="utf-8")
        old = out / f".{html.SOURCE_PAGES}.old"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        scratch.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise OutputError(f"cannot write the report's source pages: {exc.strerror}", path=folder) from exc
