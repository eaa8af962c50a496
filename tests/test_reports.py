"""The reports: golden files of every format (from the sample firmware's run), SARIF against the
official 2.1.0 schema, the XLSX read back with openpyxl, formula injection in CSV and XLSX, gcovr's
Cobertura against covguard's own numbers, the merged .gcda against gcov-tool's merge, determinism,
the Markdown size limit, the progress display and the `covguard report` command.

Refresh the golden files with ``pytest --update-references``; on a mismatch the actual output is
written beside the reference (``*.actual.*``)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from lxml import etree

from covguard import api
from covguard.builder.area import load_manifest
from covguard.cli import main
from covguard.config import GCOVR_FORMATS, load_settings
from covguard.ingest.cgcov import unit_data
from covguard.ingest.gcda import read_data
from covguard.ingest.gcno import read_notes
from covguard.options import build_options, run_options
from covguard.progress import Progress
from covguard.report import gcovr_formats, junit, markdown, trace_matrix
from covguard.report import trace_matrix as tm
from covguard.report.outputs import COVGUARD_FORMATS, format_names
from covguard.run.runner import load_results
from tests.conftest import FIXTURES, SAMPLE, require
from tests.test_golden import compare_golden

REPORTS = FIXTURES / "reports"
SARIF_SCHEMA = FIXTURES / "schemas" / "sarif-schema-2.1.0.json"


def _settings_of(outcome: Any) -> Any:
    """The settings the session's sample run used (its work and output folders are in tmp)."""
    out = outcome.outputs["findings"].parent
    work = Path(outcome.manifest.build_dir).parents[1]
    return load_settings(SAMPLE / "covguard.toml", overrides={"work_dir": str(work), "output_dir": str(out)})


def _scrub_paths(text: str, outcome: Any) -> str:
    work = str(Path(outcome.manifest.build_dir).parents[1])
    return text.replace(work, "<work>").replace(str(SAMPLE.resolve()), "<sample>")


# ---------------------------------------------------------------------------------------------
# golden files of every format


def _xlsx_text(data: bytes, rows: int = 12) -> str:
    """The workbook's parts, in archive order, XML pretty-printed, each sheet cut after ``rows``
    rows (the read-back test compares every row with the CSV): a reviewable golden file."""
    out = []
    main_ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            root = etree.fromstring(zf.read(info))
            for row in list(root.iter(f"{main_ns}row")):
                if int(row.get("r", "0")) > rows:
                    row.getparent().remove(row)  # type: ignore[union-attr]
            out.append(f"==== {info.filename} {info.date_time}\n")
            out.append(etree.tostring(root, pretty_print=True, encoding="unicode"))
    return "".join(out)


SCRUB: dict[str, list[tuple[str, str]]] = {
    "html": [(r'<td class="num dur">[^<]*</td>', '<td class="num dur">*</td>')],
    "sarif": [(r'"uri": "file://[^"]*"', '"uri": "file:///<checkout>/"')],
    "junit": [(r'time="[0-9.]+"', 'time="*"')],
    "cobertura": [
        (r'timestamp="[0-9]+"', 'timestamp="*"'),
        (r'version="covguard [^"]*"', 'version="covguard *"'),
        (r"<source>[^<]*</source>", "<source>*</source>"),
    ],
}
GOLDEN = {
    "html": "sample.golden.html",
    "sarif": "sample.golden.sarif",
    "markdown": "sample.golden.md",
    "trace-csv": "sample.golden.csv",
    "trace-xlsx": "sample.golden.xlsx.txt",
    "junit": "sample.golden.junit.xml",
    "cobertura": "sample.golden.cobertura.xml",
}


@pytest.mark.parametrize("fmt", sorted(GOLDEN))
def test_golden_reports(fmt: str, sample_run: Any) -> None:
    path = sample_run.outputs[fmt]
    data = path.read_bytes()
    text = _xlsx_text(data) if fmt == "trace-xlsx" else data.decode("utf-8")
    text = _scrub_paths(text, sample_run).replace("\r\n", "\n")  # CSV's CRLF: checked elsewhere
    for pattern, repl in SCRUB.get(fmt, []):
        text = re.sub(pattern, repl, text)
    compare_golden(text, REPORTS / GOLDEN[fmt])


def test_run_writes_every_format(sample_run: Any) -> None:
    expected = set(COVGUARD_FORMATS)  # gcovr's formats are optional (report.gcovr), off by default
    assert set(sample_run.outputs) == expected
    for path in sample_run.outputs.values():
        assert path.is_file()
        assert path.stat().st_size > 0
    assert not list(path.parent.glob(".gcovr-*")), "gcovr's scratch folder was left behind"


def test_config_and_gcovr_module_agree_on_gcovr_formats() -> None:
    assert set(GCOVR_FORMATS) == set(gcovr_formats.FORMATS)
    assert len({f.output for f in gcovr_formats.FORMATS.values()} | set(COVGUARD_FORMATS.values())) == len(
        format_names()
    )


# ---------------------------------------------------------------------------------------------
# SARIF


def _validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def test_sarif_is_valid_against_the_official_schema(sample_run: Any) -> None:
    log = json.loads(sample_run.outputs["sarif"].read_text(encoding="utf-8"))
    _validator().validate(log)
    doc = json.loads(sample_run.outputs["findings"].read_text(encoding="utf-8"))
    run = log["runs"][0]
    assert len(run["results"]) == len(doc["findings"])
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result, finding in zip(run["results"], doc["findings"], strict=True):
        assert result["ruleId"] == finding["kind"] == rules[result["ruleIndex"]]
        assert result["level"] == finding["severity"]
        path = finding.get("call_path")
        tail = "; call path: " + " -> ".join(path) if path else ""
        # SARIF plain text: '[', ']' and '\\' escaped so that nothing renders as an embedded link
        assert result["message"]["text"] == re.sub(r"([\\\[\]])", r"\\\1", finding["message"] + tail)
    rogue = [r for r in run["results"] if r["ruleId"] == "rogue"]
    assert rogue
    assert any(r["message"]["text"].endswith("cmd_handlers\\[\\] -> cmd_factory_bolus") for r in rogue)
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 0 for r in rogue)
    # the repository holds the sample: code scanning wants paths from the top of the checkout
    uri = rogue[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("sample_firmware/")


def test_large_sarif_is_the_same_log_one_result_per_line(
    sample_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``INDENT_RESULTS`` results the log is written one result per line (the C encoder):
    the same JSON as the indented one, valid against the schema, and every result on a line."""
    from covguard.report import sarif
    from tests.conftest import SAMPLE

    doc = json.loads(sample_run.outputs["findings"].read_text(encoding="utf-8"))
    indented = sarif.render(doc, root=SAMPLE)
    monkeypatch.setattr(sarif, "INDENT_RESULTS", 1)
    compact = sarif.render(doc, root=SAMPLE)
    assert compact != indented
    assert json.loads(compact) == json.loads(indented)
    _validator().validate(json.loads(compact))
    results = json.loads(compact)["runs"][0]["results"]
    assert len(results) > 1
    lines = compact.splitlines()
    for result in results:
        assert any(json.loads(line.strip().rstrip(",")) == result for line in lines if '"ruleId"' in line)


def test_sarif_edge_cases_are_valid() -> None:
    from covguard.report.sarif import sarif_document

    finding: dict[str, Any] = {
        "kind": "incomplete_coverage",
        "severity": "error",
        "file": None,
        "line": 0,
        "end_line": 0,
        "function": None,
        "requirement": None,
        "test": "t::x",
        "message": 'µ-dose ≥ 3 | "quoted" <b>',
        "tests": [],
        "suggested_requirements": [],
    }
    doc: dict[str, Any] = {
        "schema": "covguard.findings/1",
        "summary": {},
        "findings": [finding],
        "gate": None,
    }
    log = sarif_document(doc, root=Path("/nonexistent/project"))
    _validator().validate(log)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "covguard.toml"
    assert "region" not in location
    outside = {**finding, "kind": "image_library", "file": "/usr/lib/arm-none-eabi/lib/libg nano.a"}
    log = sarif_document({**doc, "findings": [outside]}, root=Path("/nonexistent/project"))
    _validator().validate(log)
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "file:///usr/lib/arm-none-eabi/lib/libg%20nano.a"}


# ---------------------------------------------------------------------------------------------
# trace matrix: XLSX read back, CSV, formula injection


def test_xlsx_reads_back_like_the_csv(sample_run: Any) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(sample_run.outputs["trace-xlsx"])
    assert wb.sheetnames == ["Trace matrix", "Requirements", "Functions", "Tests"]
    ws = wb["Trace matrix"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:K{ws.max_row}"
    sheet = [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]
    rows = list(csv.reader(io.StringIO(sample_run.outputs["trace-csv"].read_text(encoding="utf-8"))))
    assert sheet[0] == rows[0] == trace_matrix.LINK_COLUMNS
    assert len(sheet) == len(rows)
    for got, want in zip(sheet[1:], rows[1:], strict=True):
        assert [str(v) for v in got] == want
    doc = json.loads(sample_run.outputs["findings"].read_text(encoding="utf-8"))
    reqs = wb["Requirements"]
    assert reqs.max_row == len(doc["requirements"]) + 1
    assert wb["Functions"].max_row == len(doc["functions"]) + 1
    assert wb["Tests"].max_row == len(doc["tests"]) + 1
    # both directions: every requirement, every function and every test appears in the matrix
    matrix = {c: {r[i] for r in sheet[1:]} for i, c in enumerate(sheet[0])}
    assert {r["id"] for r in doc["requirements"]} <= matrix["requirement"]
    assert {f["function"] for f in doc["functions"]} <= matrix["function"]
    assert {t["id"] for t in doc["tests"]} <= matrix["test"]


def test_xlsx_is_deterministic(sample_run: Any) -> None:
    data = sample_run.outputs["trace-xlsx"].read_bytes()
    analysis = sample_run.analysis
    assert trace_matrix.xlsx_bytes(trace_matrix.workbook_sheets(analysis)) == data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.namelist()[0] == "[Content_Types].xml"


def test_escape_cells() -> None:
    import pandas as pd

    cells = pd.Series(["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx", "plain", "a=b", "", None])
    assert list(trace_matrix.escape_cells(cells)) == [
        "'=1+1", "'+SUM(A1)", "'-2", "'@cmd", "'\tx", "'\rx", "plain", "a=b", "", "",
    ]  # fmt: skip


INJECTION_CSV = """id,title,safety_class
INJ-1,"=HYPERLINK(""http://evil.example/"",""click"")",C
INJ-2,+SUM(1;2),B
INJ-3,-2+3 dose,A
INJ-4,@cmd /c calc,C
"""
INJECTION_SRC = """/* @req INJ-1 */
int add(int a, int b) { return a + b; }

/* @req INJ-2, INJ-3 */
int sub(int a, int b) { return a - b; }

int negate(int a) { return -a; }
"""
INJECTION_TEST = """#include "covguard_test.h"
int add(int a, int b);
int sub(int a, int b);

CG_TEST(adds, "INJ-1") { CG_ASSERT_EQ_INT(3, add(1, 2)); }
CG_TEST(subtracts, "INJ-2") { CG_ASSERT_EQ_INT(-1, sub(1, 2)); }

CG_MAIN()
"""


def test_formula_injection_is_escaped_in_csv_and_xlsx(tmp_path: Path) -> None:
    require("gcc", "make")
    project = tmp_path / "inj"
    (project / "src").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "src" / "calc.c").write_text(INJECTION_SRC)
    (project / "tests" / "test_calc.c").write_text(INJECTION_TEST)
    (project / "requirements.csv").write_text(INJECTION_CSV)
    shutil.copy(FIXTURES / "golden" / "common.mk", tmp_path / "common.mk")
    (project / "covguard.toml").write_text(
        'sources = ["src/**"]\nrequirements = ["requirements.csv"]\n[build]\n'
        'command = "make -f ../common.mk tests BUILD_DIR={build_dir}"\n'
        '[test]\nexecutables = ["{build_dir}/tests/*"]\ntimeout = 10\n[report]\ngcovr = []\n'
    )
    outcome = api.run(load_settings(project / "covguard.toml"))
    rows = list(csv.reader(io.StringIO(outcome.outputs["trace-csv"].read_text(encoding="utf-8"))))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    titles = {r[0]: r[1] for r in rows[1:] if r[0]}
    assert titles["INJ-1"] == '\'=HYPERLINK("http://evil.example/","click")'
    assert titles["INJ-2"] == "'+SUM(1;2)"
    assert titles["INJ-3"] == "'-2+3 dose"
    assert titles["INJ-4"] == "'@cmd /c calc"
    assert outcome.outputs["trace-csv"].read_bytes().count(b"\r\n") == len(rows)

    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(outcome.outputs["trace-xlsx"])
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type in ("s", "n"), f"{ws.title}!{cell.coordinate} is {cell.data_type}"
                if isinstance(cell.value, str):
                    assert cell.value[:1] not in ("=", "+", "-", "@"), f"{ws.title}!{cell.coordinate}"
    req_titles = {r[0]: r[1] for r in wb["Requirements"].iter_rows(min_row=2, values_only=True)}
    assert req_titles["INJ-1"] == '\'=HYPERLINK("http://evil.example/","click")'
    # the rogue function (no requirement) and the requirements without tests are in the matrix
    assert any(r[5] == "negate" and r[0] == "" for r in rows[1:])
    assert any(r[0] == "INJ-4" and r[5] == "" and r[8] == "" for r in rows[1:])


# ---------------------------------------------------------------------------------------------
# gcovr's formats: the merged tree and gcovr's numbers against covguard's own


def test_cobertura_agrees_with_covguard_line_by_line(sample_run: Any) -> None:
    root = etree.parse(str(sample_run.outputs["cobertura"])).getroot()
    hits: dict[tuple[str, int], int] = {}
    for cls in root.iter("class"):
        for line in cls.find("lines").iter("line"):  # type: ignore[union-attr]
            hits[(cls.get("filename", ""), int(line.get("number", "0")))] = int(line.get("hits", "0"))
    code = sample_run.analysis.coverage.code_lines
    ours = {
        (str(f), int(n)): int(c) for f, n, c in zip(code["file"], code["line"], code["count"], strict=True)
    }
    excluded = sample_run.analysis.lines
    excluded_keys = {
        (str(f), int(n))
        for f, n, x in zip(excluded["file"], excluded["line"], excluded["excluded"], strict=True)
        if x
    }
    ours = {k: v for k, v in ours.items() if k not in excluded_keys}
    assert ours
    assert set(ours) == set(hits)
    assert {k: v for k, v in ours.items() if hits[k] != v} == {}


@pytest.fixture(scope="module")
def gcovr_outputs(sample_run: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`covguard report` of the sample run with gcovr's optional formats too."""
    out = tmp_path_factory.mktemp("with-gcovr")
    settings = _settings_of(sample_run)
    settings = load_settings(
        SAMPLE / "covguard.toml", overrides={"work_dir": str(settings.work_dir), "output_dir": str(out)}
    )
    return api.report(settings, formats=["cobertura", "html", "html-details", "gcovr-cobertura"]).outputs


def test_gcovr_detail_pages_are_linked_from_the_report(gcovr_outputs: dict[str, Path]) -> None:
    index = gcovr_outputs["html-details"]
    page = gcovr_outputs["html"].read_text(encoding="utf-8")
    pages = re.findall(r'href="(gcovr/[^"]+)"', page)
    assert pages
    for link in pages:
        assert (index.parent.parent / link).is_file(), link


def _classes(root: Any) -> dict[str, bytes]:
    return {c.get("filename"): etree.tostring(c) for c in root.iter("class")}


def test_cobertura_from_frames_equals_gcovrs(gcovr_outputs: dict[str, Path]) -> None:
    """covguard's Cobertura (from its frames) and gcovr's (from the merged .gcda, read by gcov) of
    the same real gcc-built run: every class (source file) element for element, attribute for
    attribute (line hits, branch coverage per line, methods and their lines, rates); every package
    gcovr writes with the same rates; the same totals.  The intended differences: ``version``
    (the producer), and covguard's Python files (coverage.py's numbers, which gcovr cannot see)
    as classes of their own, counted in the totals."""
    ours = etree.parse(str(gcovr_outputs["cobertura"])).getroot()
    theirs = etree.parse(str(gcovr_outputs["gcovr-cobertura"])).getroot()
    assert ours.get("version", "").startswith("covguard ")
    assert theirs.get("version", "").startswith("gcovr ")
    mine, gcovrs = _classes(ours), _classes(theirs)
    python = {f for f in mine if f.endswith(".py")}
    assert python
    assert len(gcovrs) >= 5
    assert {f: c for f, c in mine.items() if f not in python} == gcovrs
    packages = {p.get("name"): dict(p.attrib) for p in ours.iter("package")}
    for package in theirs.iter("package"):
        assert packages[package.get("name")] == dict(package.attrib)
    py_lines = [
        line
        for c in ours.iter("class")
        if c.get("filename") in python
        for line in c.find("lines").iter("line")  # type: ignore[union-attr]
    ]
    extra = {
        "lines-valid": len(py_lines),
        "lines-covered": sum(int(line.get("hits", "0")) > 0 for line in py_lines),
        "branches-valid": sum(
            int(line.get("condition-coverage", "0% (0/0)").split("/")[1].rstrip(")")) for line in py_lines
        ),
        "branches-covered": sum(
            int(line.get("condition-coverage", "0% (0/0)").split("(")[1].split("/")[0]) for line in py_lines
        ),
    }
    for key, more in extra.items():
        assert int(ours.get(key, "")) == int(theirs.get(key, "")) + more, key
    for key in ("timestamp", "complexity"):
        assert ours.get(key) == theirs.get(key)


def _gcda_folder(unit: Path, out: Path) -> Path:
    """A coverage unit's data (its folder and its stream's objects) as ``.gcda`` files below ``out``."""
    for _shown, gcda_path, raw in unit_data(unit):
        target = out / gcda_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_merged_gcda_equals_gcov_tool_merge(sample_run: Any, tmp_path: Path) -> None:
    require("gcov-tool")
    settings = _settings_of(sample_run)
    results = load_results(run_options(settings))
    manifest = load_manifest(build_options(settings))
    units = dict(sorted(results.units.items())[:3])
    merged, added = gcovr_formats.merged_tree(manifest, units, tmp_path / "ours")
    # each test's data as libgcov would lay it out (the harness writes one stream per process)
    folders = [_gcda_folder(Path(units[u]), tmp_path / f"unit{i}") for i, u in enumerate(units)]
    out = tmp_path / "tool"
    subprocess.run(
        ["gcov-tool", "merge", str(folders[0]), str(folders[1]), "-o", str(tmp_path / "m1")], check=True
    )
    subprocess.run(["gcov-tool", "merge", str(tmp_path / "m1"), str(folders[2]), "-o", str(out)], check=True)
    compared = 0
    for gcda in sorted(out.rglob("*.gcda")):
        notes_path = "/" + gcda.relative_to(out).as_posix()[: -len(".gcda")] + ".gcno"
        notes = read_notes(Path(notes_path))
        theirs = read_data(gcda, notes)
        ours = read_data(merged / notes_path.lstrip("/").replace(".gcno", ".gcda"), notes)
        assert len(theirs.counters) == len(ours.counters)
        for a, b in zip(theirs.counters, ours.counters, strict=True):
            np.testing.assert_array_equal(a, b)
        compared += 1
    assert compared > 0
    assert sum(added.values()) >= compared


# ---------------------------------------------------------------------------------------------
# determinism, the report command


def _report_args(settings: Any, out: Path) -> list[str]:
    config = str(SAMPLE / "covguard.toml")
    return ["report", "--config", config, "--work-dir", str(settings.work_dir), "--output-dir", str(out)]


def test_report_command_rewrites_the_same_bytes(
    sample_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings_of(sample_run)
    out = tmp_path / "again"
    main(_report_args(settings, out))
    printed = capsys.readouterr().out
    assert "outputs (8)" in printed
    assert "index.html" in printed
    for name, path in sample_run.outputs.items():
        again = out / path.relative_to(path.parent)
        assert again.read_bytes() == path.read_bytes(), f"{name} differs between `run` and `report`"


def test_report_command_rejects_an_unknown_format(
    sample_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings_of(sample_run)
    with pytest.raises(SystemExit) as exit_info:
        main([*_report_args(settings, tmp_path / "x"), "--format", "htm"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown report format(s): htm" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_report_command_writes_only_the_formats_asked(sample_run: Any, tmp_path: Path) -> None:
    settings = _settings_of(sample_run).with_overrides(output_dir=str(tmp_path / "some"))
    result = api.report(settings, formats=["sarif", "markdown"])
    assert set(result.outputs) == {"sarif", "markdown"}
    assert sorted(p.name for p in (tmp_path / "some").iterdir()) == ["covguard.sarif", "summary.md"]


# ---------------------------------------------------------------------------------------------
# Markdown, progress


def test_markdown_fits_a_pull_request_comment() -> None:
    finding = {
        "kind": "rogue",
        "severity": "error",
        "file": "src/a|b.c",
        "line": 3,
        "message": "x|y\nz " * 40,
    }
    req = {"id": "R-1", "title": "t|t", "safety_class": "C", "status": "verified", "verified_by": ["a"],
           "coverage": {"line": 100.0}}  # fmt: skip
    doc = {
        "summary": {
            "requirements": {"total": 1}, "functions": {"total": 1}, "lines": {"total": 1},
            "tests": {"total": 1},
            "coverage": {"line": 1.0, "branch": None, "function": 1.0, "requirement_line": 1.0,
                         "requirement_branch": None},
        },
        "findings": [finding] * 5000,
        "requirements": [req] * 5000,
        "gate": {"passed": False, "failures": [{"check": "c", "subject": "s", "actual": 1, "limit": 0}]},
    }  # fmt: skip
    text = markdown.render(doc)
    assert len(text) <= markdown.MAX_CHARS + 200
    assert "and 4950 more in `findings.json`" in text
    assert text.count("<details>") == text.count("</details>")
    assert "src/a\\|b.c" in text
    assert "x\\|y z" in text
    assert markdown.cell("<script>") == "&lt;script&gt;"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress("build: make tests")
    progress("test: test_a")
    progress.close()
    assert stream.getvalue() == ""


def test_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    ticks = iter([0.0, 1.0, 2.0, 3.5])
    stream = _Terminal()
    with Progress(stream, clock=lambda: next(ticks), width=200) as progress:
        progress("build: make tests")
        progress("test: test_a")
        progress("test: test_b")
    text = stream.getvalue()
    assert "\rcovguard: build make tests (0.0 s)" in text
    assert "covguard: build done (1.0 s)\x1b[K\n" in text
    assert "covguard: test [2] test_b (1.0 s)" in text
    assert text.endswith("covguard: test done (2.5 s, 2 items)\x1b[K\n")
    monkeypatch.setenv("TERM", "dumb")
    assert not Progress(_Terminal()).enabled


def test_gate_verdict_in_html_and_markdown() -> None:
    from covguard.report import html

    base: dict[str, Any] = {"schema": "covguard.findings/1", "tool": {"version": "0"}}
    passed = {**base, "gate": {"passed": True, "failures": [], "checks": 12}}
    failed = {**base, "gate": {"passed": False, "failures": [{"check": "c"}], "checks": 12}}
    assert "gate PASSED (12 checks)" in html._header(passed, "t")
    assert 'class="passed"' in html._header(passed, "t")
    assert "gate FAILED: 1 of 12 checks failed" in html._header(failed, "t")
    assert "gate not evaluated" in html._header({**base, "gate": None}, "t")


def test_html_says_unknown_reachability_for_python_and_no_for_dead_code(sample_run: Any) -> None:
    page = sample_run.outputs["html"].read_text(encoding="utf-8")
    table = page[page.index('id="code-table"') :]
    table = table[: table.index("</table>")]
    rows = {
        name: row
        for row in table.split("<tr>")
        for name in ("Session.engineering_dose", "legacy_bolus_calc_v1", "cmd_factory_bolus")
        if f">{name}<" in row
    }
    assert "<td>unknown</td>" in rows["Session.engineering_dose"]  # Python: no static reachability
    assert '<span class="sev-error">no</span>' in rows["legacy_bolus_calc_v1"]  # dead
    assert ">yes</span>" in rows["cmd_factory_bolus"]  # reached, and linked into the image


# ---------------------------------------------------------------------------------------------
# the XLSX worksheets: written as text, equal to lxml's serialisation of the same tree


def _sheet_xml_lxml(frame: pd.DataFrame) -> bytes:
    """The worksheet built element by element with lxml: the reference the text writer must equal."""
    ws = tm._root(f"{{{tm._MAIN}}}worksheet", {None: tm._MAIN})
    n_rows, n_cols = len(frame) + 1, max(len(frame.columns), 1)
    last = f"{tm._column_letter(n_cols - 1)}{n_rows}"
    etree.SubElement(ws, f"{{{tm._MAIN}}}dimension", ref=f"A1:{last}")
    views = etree.SubElement(ws, f"{{{tm._MAIN}}}sheetViews")
    view = etree.SubElement(views, f"{{{tm._MAIN}}}sheetView", workbookViewId="0")
    etree.SubElement(
        view, f"{{{tm._MAIN}}}pane", ySplit="1", topLeftCell="A2", activePane="bottomLeft", state="frozen"
    )
    cols = etree.SubElement(ws, f"{{{tm._MAIN}}}cols")
    cells: dict[str, list[str | float | None]] = {}
    numeric: dict[str, bool] = {}
    for c in frame.columns:
        s = frame[c]
        numeric[c] = bool(pd.api.types.is_numeric_dtype(s)) and not pd.api.types.is_bool_dtype(s)
        if numeric[c]:
            values = pd.to_numeric(s, errors="coerce").astype("float64")
            cells[c] = [None if np.isnan(v) else float(v) for v in values.to_numpy()]
        else:
            text = tm.escape_cells(s).str.replace(tm._XML_INVALID, "", regex=True)
            cells[c] = list(text)
    for i, c in enumerate(frame.columns):
        longest = max([len(str(c)), *(len(str(v)) for v in cells[c] if v is not None)], default=8)
        width = min(max(longest + 2, 8), 60)
        etree.SubElement(
            cols, f"{{{tm._MAIN}}}col", min=str(i + 1), max=str(i + 1), width=str(width), customWidth="1"
        )
    data = etree.SubElement(ws, f"{{{tm._MAIN}}}sheetData")
    letters = [tm._column_letter(i) for i in range(len(frame.columns))]
    header = etree.SubElement(data, f"{{{tm._MAIN}}}row", r="1")
    for letter, name in zip(letters, frame.columns, strict=True):
        _text_cell_lxml(header, f"{letter}1", str(name), style="1")
    columns = list(frame.columns)
    for r in range(len(frame)):
        row = etree.SubElement(data, f"{{{tm._MAIN}}}row", r=str(r + 2))
        for letter, c in zip(letters, columns, strict=True):
            value = cells[c][r]
            ref = f"{letter}{r + 2}"
            if numeric[c]:
                if value is not None:
                    cell = etree.SubElement(row, f"{{{tm._MAIN}}}c", r=ref)
                    etree.SubElement(cell, f"{{{tm._MAIN}}}v").text = f"{value:g}"
            elif value:
                _text_cell_lxml(row, ref, str(value))
    if len(frame):
        etree.SubElement(ws, f"{{{tm._MAIN}}}autoFilter", ref=f"A1:{last}")
    return tm._xml(ws)


def _text_cell_lxml(row: etree._Element, ref: str, text: str, style: str | None = None) -> None:
    cell = etree.SubElement(row, f"{{{tm._MAIN}}}c", r=ref, t="inlineStr")
    if style:
        cell.set("s", style)
    inline = etree.SubElement(cell, f"{{{tm._MAIN}}}is")
    t = etree.SubElement(inline, f"{{{tm._MAIN}}}t")
    text = junit.xml_text(text)  # a control character or an undecodable file-name byte, shown escaped
    t.text = text
    if text != text.strip():
        t.set(tm._XML_SPACE, "preserve")


def test_xlsx_sheets_written_as_text_equal_lxmls(sample_run: Any) -> None:
    hostile = pd.DataFrame(
        {
            "text": [
                "=1+1",
                " lead",
                "trail ",
                "a<b & c>d",
                "cr\rlf\n",
                "bell\x07",
                "\udcff",
                "",
                None,
                "\tt",
            ],
            "n": [1, 2.5, np.nan, 0, -3, 1e20, 7, 8, 9, 10],
            "flag": [True, False] * 5,
        }
    )
    frames = [
        *(f for _n, f in tm.workbook_sheets(sample_run.analysis)),
        hostile,
        hostile.iloc[:0],
        pd.DataFrame(),
    ]
    for frame in frames:
        assert tm._sheet_xml(frame) == _sheet_xml_lxml(frame)


def test_source_page_data_holds_the_facts_of_the_inline_rows(sample_run: Any) -> None:
    """A large project's source page carries data the browser draws rows from: the same class,
    count and hover text per line as the inline layout's rows (``source_rows``), and a data block
    that cannot end its ``<script>`` early whatever the source or a test name holds."""
    import html as htmlmod

    from covguard.report import html, html_sources
    from tests.conftest import SAMPLE

    analysis = sample_run.analysis
    files = sorted(set(analysis.lines["file"].astype(str)))
    ids = {f: f"f{i}" for i, f in enumerate(files)}
    texts, _missing = html._read_sources(files, SAMPLE)
    inline = html.source_rows(analysis.lines, files, texts, ids, html.ran_per_line(analysis.coverage))
    data = html_sources.page_data(analysis.lines, analysis.coverage.lines, files, ids)
    row = re.compile(r'<tr class="l-([a-z]+)" id="(f\d+)-L(\d+)" title="([^"]*)"><td class="n">\d+</td>'
                     r'<td class="c">([0-9]*)</td>')  # fmt: skip

    def ints(value: Any) -> list[int]:  # the page's packed integers: "<bytes each>:<base64 LE>"
        if isinstance(value, list):
            return value
        width, text = value.split(":", 1)
        raw = base64.b64decode(text)
        w = int(width)
        return [int.from_bytes(raw[i : i + w], "little") for i in range(0, len(raw), w)]

    checked = 0
    for f in files:
        d = json.loads(data[f])
        for key in ("lines", "cls", "tests", "rl", "rt"):
            d[key] = ints(d[key])
        assert d["id"] == ids[f]
        ran: dict[int, list[str]] = {}
        for n, t in zip(d["rl"], d["rt"], strict=True):
            ran.setdefault(n, []).append(d["names"][t])
        facts = {n: i for i, n in enumerate(d["lines"])}
        for klass, _fid, n_text, title, count in row.findall(inline[f]):
            n = int(n_text)
            if klass == "none":
                assert n not in facts
                continue
            i = facts[n]
            assert d["classes"][d["cls"][i]] == klass
            assert str(d["count"][i]) == count
            names = ran.get(n, [])
            want = f"{klass}, executed by {d['tests'][i]} test(s)"
            if names:
                want += (
                    ": " + ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                )
            assert htmlmod.unescape(title) == want
            checked += 1
    assert checked == len(analysis.lines.drop_duplicates(["file", "line"]))

    lines = pd.DataFrame(
        {"file": ["x.c"], "line": [2], "class": ["verified"], "tests": [1], "count": [2**60]}
    )
    ran_frame = pd.DataFrame({"file": ["x.c"], "line": [2], "test": ["t::\udcff</script>"]})
    text = "int a; /* </script><!-- <script> */\nint b;\n"
    block = html_sources.page_data(lines, ran_frame, ["x.c"], {"x.c": "f0"})["x.c"]
    assert "<" not in block
    back = json.loads(block)
    view = html_sources.source_table(block, text)
    pre = view.split('<pre id="src-text" hidden>', 1)[1].split("</pre>", 1)[0]
    assert "<" not in pre
    assert htmlmod.unescape(pre) == "\n" + text  # the parser drops the first newline
    assert back["names"] == ["t::\udcff</script>"]
    assert back["count"] == [str(2**60)]  # beyond JavaScript's exact integers: sent as text
    for values, width in (([0, 255], "1"), ([1, 300], "2"), ([7, 70_000, 2**32 - 1], "4")):
        packed = html_sources.packed(np.array(values))
        assert isinstance(packed, str)
        assert packed.startswith(width + ":")
        assert ints(packed) == values
    assert html_sources.packed(np.array([-1, 2**40])) == [-1, 2**40]  # not packable: a list


def test_joined_matches_pandas_groupby_over_the_sorted_values() -> None:
    """``trace_matrix.joined`` (integer codes) gives what the pandas formulation gives: distinct
    non-empty values per group, sorted, joined; groups in the order of their first sorted value."""
    from covguard.report.trace_matrix import joined

    rng = np.random.default_rng(7)
    for n in (0, 1, 5, 200, 3000):
        frame = pd.DataFrame(
            {
                "a": rng.choice(["f.c", "g.c", "h/x.c", ""], n),
                "b": rng.choice(["main", "b2", "z", "A", ""], n),
                "v": rng.choice(["t9", "t10", "T1", "", "é", "a b"], n),
            }
        )
        for keys in ("a", ["a", "b"]):
            key_list = [keys] if isinstance(keys, str) else keys
            values = frame.loc[:, [*key_list, "v"]].astype(str)
            values = values[values["v"] != ""].drop_duplicates().sort_values("v", kind="stable")
            want = values.groupby(key_list, sort=False)["v"].agg(", ".join)
            pd.testing.assert_series_equal(joined(frame, keys, "v"), want)
