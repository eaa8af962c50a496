"""Real builds as they are: CMake (Ninja and Makefiles), SCons with a variant build, a firmware
Makefile that compiles and links in one command, and builds that compile nothing of the project.

Each fixture (tests/fixtures/builds/<shape>) is the README's worked example of its build system; each
runs end to end with the real tools and the verdicts that follow from its sources are asserted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from covguard.builder.shape import command_line, notes_path, shell_expand
from covguard.errors import ConfigError
from tests.conftest import FIXTURES, covguard, require

BUILDS = FIXTURES / "builds"


def _project(tmp_path: Path, shape: str) -> Path:
    project = tmp_path / shape
    shutil.copytree(BUILDS / shape, project)
    return project


def _findings(project: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((project / "covguard-report" / "findings.json").read_text())
    return doc


def _classes(doc: dict[str, Any]) -> dict[str, str]:
    return {f["function"]: f["class"] for f in doc["functions"]}


def _gauge_verified(project: Path, proc: Any) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = _findings(project)
    assert _classes(doc) == {"gauge_scale": "verified", "gauge_clamp": "verified"}
    assert {r["id"]: r["status"] for r in doc["requirements"]} == {"G-1": "verified", "G-2": "verified"}
    assert sorted(t["id"] for t in doc["tests"]) == ["test_gauge::clamps", "test_gauge::scales"]
    return doc


# ---------------------------------------------------------------------------------------------
# commands


def test_a_string_command_is_shell_text_with_quoted_placeholders() -> None:
    values = {"build_dir": "/w/a dir/build", "cc": "/w/bin/cc", "jobs": "2"}
    cmd = command_line(
        "cd src && CFLAGS=-O2 make -j{jobs} O={build_dir} X=${HOME} {{}}", values, "x", ("c", "d")
    )
    assert cmd == ["/bin/sh", "-c", "cd src && CFLAGS=-O2 make -j2 O='/w/a dir/build' X=${HOME} {}"]
    with pytest.raises(ConfigError, match=r"unknown placeholder \{nope\}"):
        shell_expand("make {nope}", values, "'build.command'")


def test_a_list_command_runs_without_a_shell() -> None:
    values = {"build_dir": "/w/a dir/build"}
    cmd = command_line(["make", "&&", "O={build_dir}"], values, "x", ("/w/cc", "/w/c++"))
    assert cmd == ["make", "&&", "O=/w/a dir/build", "CC=/w/cc", "CXX=/w/c++"]


def test_makeflags_carry_the_wrapper_into_every_make(tmp_path: Path) -> None:
    """A Makefile's own `CC = gcc` loses to MAKEFLAGS' CC, in a sub-make too, and flags already
    in MAKEFLAGS (a parent make's) stay."""
    import subprocess

    from covguard.builder.shape import wrapper_env

    require("make")
    (tmp_path / "Makefile").write_text(
        "CC = gcc\nall:\n\t@echo top $(CC) $(FOO)\n\t@$(MAKE) -s sub\nsub:\n\t@echo sub $(CC)\n"
    )
    env = wrapper_env({"PATH": "/usr/bin:/bin", "MAKEFLAGS": "-- FOO=kept"}, "/w d/bin/cc", "/w/bin/c++")
    out = subprocess.run(
        ["/bin/sh", "-c", "cd . && make -s"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines() == ["top /w d/bin/cc kept", "sub /w d/bin/cc"]


def test_notes_paths_follow_gcc(tmp_path: Path) -> None:
    """Where GCC 12 really writes the notes: each case compiled and looked for."""
    require("gcc")
    import subprocess

    for name in ("a", "b", "main"):
        body = "int main(void){return 0;}" if name == "main" else f"int {name}(void){{return 1;}}"
        (tmp_path / f"{name}.c").write_text(body + "\n")
    (tmp_path / "out").mkdir()
    cases = [
        (["-c", "a.c", "-o", "out/a.c.o"], "compile", "out/a.c.o", ["a.c"]),
        (["-c", "a.c", "-o", "out/a.os"], "compile", "out/a.os", ["a.c"]),
        (["-c", "b.c"], "compile", None, ["b.c"]),
        (["-o", "out/fw.elf", "a.c", "b.c", "main.c"], "build", "out/fw.elf", ["a.c", "b.c", "main.c"]),
        (["a.c", "b.c", "main.c"], "build", None, ["a.c", "b.c", "main.c"]),
    ]
    for args, mode, output, sources in cases:
        for p in tmp_path.rglob("*.gcno"):
            p.unlink()
        subprocess.run(["gcc", "--coverage", *args], cwd=tmp_path, check=True)
        made = sorted(str(p) for p in tmp_path.rglob("*.gcno"))
        assert made == sorted(notes_path(str(tmp_path), s, output, mode) for s in sources), args


def test_a_shell_command_with_cd_and_variables(tmp_path: Path) -> None:
    require("gcc", "make")
    project = _project(tmp_path, "onecmd")
    (project / "sub").mkdir()
    proc = covguard(
        "build",
        "--work-dir",
        "wd",
        "--set",
        "build.command=cd sub && cd .. && BUILD_DIR={build_dir} make tests",
        cwd=project,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "wd" / "host-gcc" / "build" / "tests" / "test_gauge").is_file()
    assert "warning: src/main.c is in 'sources' but no compile of the test build saw it" in proc.stderr


# ---------------------------------------------------------------------------------------------
# build systems, end to end


@pytest.mark.slow
@pytest.mark.parametrize("generator", ["Ninja", "Unix Makefiles"])
def test_cmake_with_the_wrapper_from_the_environment(tmp_path: Path, generator: str) -> None:
    require("gcc", "cmake", "ninja" if generator == "Ninja" else "make")
    project = _project(tmp_path, "cmake")
    command = f'cmake -S . -B {{build_dir}} -G "{generator}" && cmake --build {{build_dir}} -j {{jobs}}'
    proc = covguard("run", "--set", f"build.command={command}", cwd=project)
    _gauge_verified(project, proc)
    area = project / ".covguard" / "host-gcc"
    manifest = json.loads((area / "build.json").read_text())
    # CMake's compiler probe went through the wrapper but got no coverage: only the project's code
    assert sorted(Path(n).name for n in manifest["notes_files"]) == ["gauge.c.gcno", "test_gauge.c.gcno"]
    probes = [e for e in json.loads((area / "compile_commands.json").read_text()) if "CMake" in e["file"]]
    assert probes
    assert not any(e["instrumented"] for e in probes)
    assert "CMakeCCompilerId" not in (project / "covguard-report" / "cobertura.xml").read_text()


@pytest.mark.slow
def test_scons_variant_build(tmp_path: Path) -> None:
    require("gcc", "scons")
    project = _project(tmp_path, "scons")
    _gauge_verified(project, covguard("run", cwd=project))
    build = project / ".covguard" / "host-gcc" / "build"
    assert (build / "src" / "gauge.gcno").is_file()
    assert not (project / "src" / "gauge.o").exists()


@pytest.mark.slow
def test_scons_objects_sharing_a_notes_file_fail_the_build(tmp_path: Path) -> None:
    """SCons builds gauge.o (program) and gauge.os (shared library) beside each other: both write
    gauge.gcno, and at run time one gauge.gcda.  Caught at build time, incremental or not."""
    require("gcc", "scons")
    project = _project(tmp_path, "scons")
    base = "scons -Q BUILD_DIR={build_dir} CC={cc} CXX={cxx}"
    assert covguard("build", cwd=project).returncode == 0
    for clean in ((), ("--clean",)):
        proc = covguard("build", *clean, "--set", f"build.command={base} SHARED=1", cwd=project)
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "two compiles write the same coverage notes" in proc.stderr
        assert "gauge.gcno" in proc.stderr
        assert "-fPIC" in proc.stderr
        assert "gauge.os" in proc.stderr
        assert "gauge.o " in proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_build_of_configure_checks_only_is_exit_3(tmp_path: Path) -> None:
    require("gcc", "scons")
    project = _project(tmp_path, "scons")
    command = "scons -Q BUILD_DIR={build_dir} CC={cc} CXX={cxx} ONLY_CONFIGURE=1"
    proc = covguard("build", "--set", f"build.command={command}", cwd=project)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "compiled none of the configured sources (src/**)" in proc.stderr
    assert ".sconf_temp/conftest_" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_autoconf_like_configure_alone_is_exit_3(tmp_path: Path) -> None:
    require("gcc")
    project = _project(tmp_path, "configure")
    proc = covguard("build", cwd=project)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "compiled none of the configured sources" in proc.stderr
    assert "conftest.c" in proc.stderr
    assert not list((project / ".covguard").rglob("*.gcno"))  # the probe got no coverage


@pytest.mark.slow
def test_one_command_compile_and_link(tmp_path: Path) -> None:
    """`$(CC) -o fw.elf gauge.c filter.c main.c`: every source is a unit of its own, in the tests'
    coverage and in the product's call graph.  main() calls gauge_scale and filter_avg, nothing
    calls gauge_clamp: that one (and only that one) is dead."""
    require("gcc", "make")
    project = _project(tmp_path, "onecmd")
    proc = covguard("run", cwd=project)
    doc = _findings(project)
    assert _classes(doc) == {"gauge_scale": "verified", "filter_avg": "verified", "gauge_clamp": "dead"}
    assert {f["function"]: f["reachable"] for f in doc["functions"]} == {
        "gauge_scale": True,
        "filter_avg": True,
        "gauge_clamp": False,
    }
    assert proc.returncode == 1  # the dead code fails the gate
    product = json.loads((project / ".covguard" / "product" / "product.json").read_text())
    assert sorted(Path(u["source"]).name for u in product["units"]) == ["filter.c", "gauge.c", "main.c"]
    area = project / ".covguard" / "host-gcc"
    notes = json.loads((area / "build.json").read_text())["notes_files"]
    assert sorted(Path(n).name for n in notes) == [
        "test_filter-filter.gcno",
        "test_filter-gauge.gcno",
        "test_filter-test_filter.gcno",
        "test_gauge-filter.gcno",
        "test_gauge-gauge.gcno",
        "test_gauge-test_gauge.gcno",
    ]
    commands = json.loads((area / "compile_commands.json").read_text())
    assert len(commands) == 6
    # main() (src/main.c, built for the product only) implements G-4: implemented, not tested
    g4 = next(r for r in doc["requirements"] if r["id"] == "G-4")
    assert g4["implemented_by"] == [{"file": "src/main.c", "function": "main"}]
    assert g4["status"] == "unverified"
    # src/main.c is built for the product only: named once, as a warning
    warned = [p for p in doc["problems"] if p["file"] == "src/main.c"]
    assert len(warned) == 1
    assert warned[0]["severity"] == "warning"


# ---------------------------------------------------------------------------------------------
# one set of numbers in every output


def _html_summary(index: Path) -> dict[str, tuple[int, int]]:
    import re

    text = index.read_text()
    out = {}
    for what in ("Lines", "Branches", "Functions"):
        m = re.search(rf">{what}:</div>\s*<div[^>]*>(\d+) / (\d+)</div>", text)
        assert m, what
        out[what] = (int(m.group(1)), int(m.group(2)))
    return out


@pytest.mark.slow
def test_counts_over_two_to_the_32_agree_in_cobertura_gcovr_html_and_findings(tmp_path: Path) -> None:
    """A loop line runs 4 295 000 001 times (n + 1 tests of ``i < n`` for n = 4 295 000 000).
    gcovr's default suspicious-hits check zeroes such a line; covguard turns it off, so Cobertura,
    gcovr's HTML, findings.json and covguard's own frames show the same counts."""
    import xml.etree.ElementTree as ET

    from covguard import api
    from covguard.config import load_settings

    require("gcc", "make", "gcov")
    project = _project(tmp_path, "bigcount")
    # gcovr's HTML and Cobertura are optional: asked for here to compare with covguard's own
    proc = covguard("run", "--set", 'report.gcovr=["html-details", "gcovr-cobertura"]', cwd=project)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: the gate (an uncovered line)
    doc = _findings(project)
    cobertura = ET.parse(project / "covguard-report" / "cobertura.xml").getroot()
    spin = cobertura.find(".//class[@filename='src/spin.c']")
    assert spin is not None
    hits = {int(line.get("number", "0")): int(line.get("hits", "0")) for line in spin.iter("line")}
    assert hits[7] == 4_295_000_001
    settings = load_settings(project / "covguard.toml")
    frames = api.coverage(settings).code_lines
    mine = frames[frames["file"] == "src/spin.c"]
    ours = dict(zip(mine["line"].astype(int).tolist(), mine["count"].astype(int).tolist(), strict=True))
    assert ours == hits  # line for line, the same counts
    covered = sum(1 for c in ours.values() if c > 0)
    lines = doc["summary"]["lines"]
    assert int(cobertura.get("lines-covered", "0")) == covered == lines["total"] - lines["unexecuted"]
    assert int(cobertura.get("lines-valid", "0")) == len(ours) == lines["total"]
    html = _html_summary(project / "covguard-report" / "gcovr" / "index.html")
    assert html["Lines"] == (covered, len(ours))
    branches = sum(f["coverage"]["branches_executed"] for f in doc["functions"])
    branches_total = sum(f["coverage"]["branches_total"] for f in doc["functions"])
    assert html["Branches"] == (branches, branches_total)
    assert int(cobertura.get("branches-covered", "0")) == branches
    theirs = ET.parse(project / "covguard-report" / "gcovr-cobertura.xml").getroot()
    gcovr_spin = theirs.find(".//class[@filename='src/spin.c']")
    assert gcovr_spin is not None
    assert {int(x.get("number", "0")): int(x.get("hits", "0")) for x in gcovr_spin.iter("line")} == hits


# ---------------------------------------------------------------------------------------------
# test runs: stable ids, a run that stops part-way


def _ids(project: Path) -> list[str]:
    doc = json.loads((project / ".covguard" / "host-gcc" / "results.json").read_text())
    return sorted(c["test"] for c in doc["cases"])


def test_a_test_id_does_not_change_when_another_executable_is_added(tmp_path: Path) -> None:
    require("gcc", "make")
    project = _project(tmp_path, "onecmd")
    assert covguard("build", cwd=project).returncode == 0
    pattern = 'test.executables=["{build_dir}/**/test_gauge*"]'
    assert covguard("test", "--set", pattern, cwd=project).returncode == 0
    alone = _ids(project)
    assert alone == ["tests/test_gauge::clamps", "tests/test_gauge::scales"]
    build = project / ".covguard" / "host-gcc" / "build"
    (build / "more").mkdir()
    shutil.copy2(build / "tests" / "test_filter", build / "more" / "test_gauge_filter")
    assert covguard("test", "--set", pattern, cwd=project).returncode == 0
    assert set(alone) <= set(_ids(project))
    assert "more/test_gauge_filter::averages" in _ids(project)


def test_executables_whose_names_differ_only_in_suffix_keep_their_own_folders(tmp_path: Path) -> None:
    """test_gauge and test_gauge.bin (a copy) once shared one label: one log and coverage folder
    for two parallel runs, each deleting the other's.  Each now has its own id and folder."""
    require("gcc", "make")
    project = _project(tmp_path, "onecmd")
    copy = (
        "make tests BUILD_DIR={build_dir} && cp {build_dir}/tests/test_gauge {build_dir}/tests/test_gauge.bin"
    )
    proc = covguard("run", "--set", "test.jobs=2", "--set", f"build.command={copy}", cwd=project)
    assert "Traceback" not in proc.stderr, proc.stderr
    ids = _ids(project)
    assert "test_gauge::scales" in ids
    assert "test_gauge.bin::scales" in ids
    doc = _findings(project)
    assert {t["coverage"] for t in doc["tests"]} == {"complete"}


def test_a_run_that_stops_part_way_leaves_no_results_to_mix(tmp_path: Path) -> None:
    """covguard is interrupted while a test hangs: the previous run's results must not be read
    with this run's half-rewritten folder (analyse then says there are no results)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    require("gcc", "make")
    project = _project(tmp_path, "onecmd")
    assert covguard("run", cwd=project).returncode == 1  # the dead-code gate; results written
    area = project / ".covguard" / "host-gcc"
    assert (area / "results.json").is_file()
    hang = area / "build" / "tests" / "test_zz_hang"
    hang.write_text("#!/bin/sh\nsleep 60\n")
    hang.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "covguard", "test", "--set", "test.jobs=1"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (area / "run" / "logs" / "test_zz_hang").is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not (area / "results.json").exists()
    analysed = covguard("analyse", cwd=project)
    assert analysed.returncode == 3, analysed.stdout + analysed.stderr
    assert "no test results" in analysed.stderr
    assert "Traceback" not in analysed.stderr


def test_a_test_executable_that_cannot_start_is_named_with_what_is_missing(tmp_path: Path) -> None:
    from covguard.errors import TestRunError
    from covguard.run.process import _run_once

    script = tmp_path / "test_script"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    with pytest.raises(TestRunError, match="names the interpreter /nonexistent/interpreter"):
        _run_once([str(script)], {}, tmp_path, tmp_path / "out", tmp_path / "err", 5)


# ---------------------------------------------------------------------------------------------
# #line directives


@pytest.mark.slow
def test_line_directives_to_toml_past_the_end_and_to_a_missing_file(tmp_path: Path) -> None:
    """src/gen.c says `#line 40 "src/short.c"` (a 5-line file), `#line 3 "src/cases.toml"` and
    `#line 1 "src/missing.c"`.  The TOML file is never lexed as C, the code past the end of
    short.c is no function of it, the missing file is one warning, and gcovr's reports run."""
    import xml.etree.ElementTree as ET

    require("gcc", "make", "gcov")
    project = _project(tmp_path, "lines")
    proc = covguard("run", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the gate: rogue code in the TOML file
    doc = _findings(project)
    assert {(f["file"], f["function"]): f["class"] for f in doc["functions"]} == {
        ("src/gen.c", "gen_one"): "verified",
        ("src/short.c", "short_one"): "verified",
        ("src/cases.toml", "from_toml"): "rogue",
    }
    by_file: dict[str, list[dict[str, Any]]] = {}
    for p in doc["problems"]:
        by_file.setdefault(p["file"], []).append(p)
    assert sorted(by_file) == ["src/cases.toml", "src/missing.c", "src/short.c"]
    assert all(len(v) == 1 for v in by_file.values())  # one problem per file, no lexing noise
    assert "not C or C++" in by_file["src/cases.toml"][0]["message"]
    assert "does not exist" in by_file["src/missing.c"][0]["message"]
    past = by_file["src/short.c"][0]
    assert past["line"] == 40
    assert "the file has 5 lines" in past["message"]
    assert "src/gen.c:7" in past["message"]
    cobertura = ET.parse(project / "covguard-report" / "cobertura.xml").getroot()
    assert int(cobertura.get("lines-valid", "0")) == doc["summary"]["lines"]["total"]


def test_the_readme_examples_are_the_fixtures() -> None:
    """Every block of the README marked ``<!-- fixture: PATH -->`` is that file, byte for byte."""
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- fixture: (\S+) -->\n```\w*\n(.*?)\n```\n", readme, re.DOTALL)
    assert len(blocks) >= 8
    for rel, text in blocks:
        assert (ROOT / rel).read_text().rstrip("\n") == text, rel


# ---------------------------------------------------------------------------------------------
# covguard init


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "system", "tools"),
    [("cmake", "CMake", ("cmake", "ninja")), ("scons", "SCons", ("scons",)), ("onecmd", "make", ("make",))],
)
def test_init_writes_a_configuration_that_runs(
    tmp_path: Path, shape: str, system: str, tools: tuple[str, ...]
) -> None:
    """The fixture without its covguard.toml: `covguard init` guesses, and `covguard run` then
    gives the verdicts the hand-written configuration gives."""
    require("gcc", *tools)
    project = _project(tmp_path, shape)
    (project / "covguard.toml").unlink()
    proc = covguard("init", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"build system    {system}" in proc.stdout
    assert "test framework  covguard harness" in proc.stdout
    assert "check:" in proc.stdout
    assert (project / "covguard.toml").is_file()
    again = covguard("init", cwd=project)
    assert again.returncode == 2
    assert "exists already" in again.stderr
    if shape == "onecmd":  # the product build is not guessed: the tests' verdicts only
        proc = covguard("run", cwd=project)
        assert _classes(_findings(project)) == {
            "gauge_scale": "verified",
            "gauge_clamp": "verified",
            "filter_avg": "verified",
        }
        return
    proc = covguard("run", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = _findings(project)
    assert _classes(doc) == {"gauge_scale": "verified", "gauge_clamp": "verified"}
    assert sorted(t["name"] for t in doc["tests"]) == ["clamps", "scales"]
