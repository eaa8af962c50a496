"""Reachability, call paths and the image check, on C compiled by the real compilers.

``tests/fixtures/c/reach`` is a small product firmware with one case per rule (its README lists
them): it is built with host gcc through covguard (unit tests and product image), with a
prebuilt vendor archive compiled here and linked without its source.  The sample firmware's
Cortex-M3 image (arm-none-eabi-gcc) is checked through the session's ``sample_run``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from covguard import api
from covguard.analysis.reach import product_facts
from covguard.builder.product import ProductArea, build_product, load_product
from covguard.config import load_settings
from covguard.errors import BuildError, InputError, ToolError
from covguard.frames import records
from covguard.options import analysis_options, build_options
from covguard.trace.callgraph import build_callgraph, reachability, read_cgraph_dump
from covguard.trace.image import read_elf_symbols, read_linker_map
from covguard.trace.tags import TagConfig
from tests.conftest import FIXTURES, require, run
from tests.test_golden import compare_golden, scrub

REACH = FIXTURES / "c" / "reach"


def make_project(tmp: Path) -> Path:
    """The fixture in ``tmp/proj``, with ``lib/libvendor.a`` built from the vendor's source, which
    stays outside the project: a prebuilt archive with no source."""
    project = tmp / "proj"
    shutil.copytree(REACH, project, ignore=shutil.ignore_patterns("vendor", "*.golden.*", "*.actual.*"))
    (project / "lib").mkdir()
    run(["gcc", "-O1", "-c", REACH / "vendor" / "vendor_blob.c", "-o", tmp / "vendor_blob.o"])
    run(["ar", "rcs", project / "lib" / "libvendor.a", tmp / "vendor_blob.o"])
    return project


@pytest.fixture(scope="module")
def reach_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[api.Outcome, Path]:
    require("gcc", "make")
    tmp = tmp_path_factory.mktemp("reach")
    project = make_project(tmp)
    settings = load_settings(project / "covguard.toml")
    return api.run(settings), project


def facts(outcome: api.Outcome) -> dict[tuple[str, str], dict[str, Any]]:
    assert outcome.analysis is not None
    fn = outcome.analysis.functions
    return {(r["file"], r["function"]): r for r in records(fn)}


def finding(outcome: api.Outcome, kind: str, function: str | None) -> dict[str, Any]:
    assert outcome.analysis is not None
    f = outcome.analysis.findings
    rows = f[(f["kind"] == kind) & (f["function"].fillna("") == (function or ""))]
    assert len(rows) == 1, f"{kind} {function}: {len(rows)} findings"
    return dict(rows.iloc[0])


def test_findings_golden(reach_run: tuple[api.Outcome, Path]) -> None:
    """findings.json of the fixture (dead traced and untraced, rogue with its call path, the image
    facts): a golden file, refreshed with ``pytest --update-references``."""
    outcome, _ = reach_run
    doc = scrub(json.loads(outcome.outputs["findings"].read_text(encoding="utf-8")))
    compare_golden(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", REACH / "findings.golden.json")


# ---------------------------------------------------------------------------------------------
# the rules, one fixture case each


def test_function_pointer_table(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    f = facts(outcome)
    for name in ("op_read", "op_write", "debug_dump"):
        assert f[("src/table.c", name)]["reachable"] is True, name
    assert f[("src/table.c", "op_read")]["call_path"] == ["main", "dispatch", "handlers[]", "op_read"]
    rogue = finding(outcome, "rogue", "debug_dump")
    assert rogue["call_path"] == ["main", "dispatch", "handlers[]", "debug_dump"]
    assert "reaches it from main" in rogue["message"]


def test_tables_nothing_reads(reach_run: tuple[api.Outcome, Path]) -> None:
    """A static table nobody reads makes nothing reachable; a global one conservatively does."""
    outcome, _ = reach_run
    f = facts(outcome)
    assert f[("src/table.c", "orphan_op")]["class"] == "dead"
    public = f[("src/table.c", "via_public_table")]
    assert public["reachable"] is True
    assert public["call_path"] == ["public_table[]", "via_public_table"]


def test_callback_passed_as_an_argument(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    f = facts(outcome)
    tick = f[("src/callback.c", "on_tick")]
    assert tick["reachable"] is True
    assert tick["call_path"] == ["main", "app_init", "&on_tick"]
    # registered only by a function nothing calls: dead with it
    assert f[("src/callback.c", "never_called_init")]["class"] == "dead"
    assert f[("src/callback.c", "on_never")]["class"] == "dead"


def test_recursion(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    f = facts(outcome)
    assert f[("src/recursion.c", "factorial")]["reachable"] is True
    assert f[("src/recursion.c", "factorial")]["call_path"] == ["main", "factorial"]
    for name in ("parity_legacy", "is_even", "is_odd"):  # a cycle reached only from dead code
        assert f[("src/recursion.c", name)]["class"] == "dead", name


def test_static_functions_with_the_same_name_stay_distinct(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    f = facts(outcome)
    assert f[("src/a.c", "helper")]["reachable"] is True
    assert f[("src/a.c", "helper")]["call_path"] == ["main", "a_api", "helper"]
    assert f[("src/b.c", "helper")]["class"] == "dead"
    assert f[("src/b.c", "b_api")]["class"] == "dead"


def test_interrupt_handler_in_the_vector_table(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    f = facts(outcome)
    assert f[("src/isr.c", "TIMER0_IRQHandler")]["call_path"] == ["TIMER0_IRQHandler"]
    assert f[("src/isr.c", "isr_work")]["call_path"] == ["TIMER0_IRQHandler", "isr_work"]


def test_function_only_called_from_dead_code_is_dead(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    f = facts(outcome)
    for name in ("legacy_scale", "only_from_legacy"):
        assert f[("src/dead.c", name)]["class"] == "dead"
        assert f[("src/dead.c", name)]["reachable"] is False
        assert f[("src/dead.c", name)]["image"] == "removed"  # --gc-sections: not in the image


def test_dead_traced_and_dead_untraced_are_told_apart(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    traced = finding(outcome, "dead", "legacy_scale")
    untraced = finding(outcome, "dead", "old_debug_counter")
    assert traced["requirement"] == "RCH-5"
    assert "the requirement points at code that can never run" in traced["message"]
    assert untraced["requirement"] is None
    assert "traced to no requirement" in untraced["message"]
    assert "not in image" in traced["message"]


def test_function_called_only_by_a_prebuilt_object(reach_run: tuple[api.Outcome, Path]) -> None:
    """The linker map's cross references: the vendor archive calls app_hook, so it is not dead."""
    outcome, _ = reach_run
    hook = facts(outcome)[("src/hooks.c", "app_hook")]
    assert hook["reachable"] is True
    assert hook["call_path"] == ["libvendor.a(vendor_blob.o)", "app_hook"]


def test_image_check(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    vendor = finding(outcome, "image_unanalysed", "vendor_checksum")
    assert vendor["file"] == "lib/libvendor.a"
    assert "prebuilt lib/libvendor.a (vendor_blob.o)" in vendor["message"]
    assert " bytes)" in vendor["message"]
    hook = finding(outcome, "image_unanalysed", "trace_hook")  # product-only, untraced, shipped
    assert (hook["file"], hook["line"]) == ("src/main.c", 6)
    assert hook["call_path"] == ["main", "trace_hook"]
    dead = finding(outcome, "dead", "startup_check_v1")  # product-only and dead
    assert (dead["file"], dead["requirement"]) == ("src/main.c", "RCH-8")
    assert outcome.analysis is not None
    kinds = outcome.analysis.findings["kind"]
    libraries = outcome.analysis.findings[kinds == "image_library"]
    assert len(libraries) >= 1  # the C start-up files of the host toolchain
    assert all(str(f).startswith("/") for f in libraries["file"])
    assert not outcome.analysis.findings["function"].isin(["main", "Reset_Handler"]).any()
    f = facts(outcome)
    assert f[("src/table.c", "op_read")]["image"] == "linked"
    summary = outcome.analysis.summary["product"]
    assert summary["image_functions"] > 0
    assert summary["reachable"] < summary["functions"]


def test_gate_limits_of_the_new_kinds(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    assert outcome.gate is not None
    failed = {c.check for c in outcome.gate.failures}
    assert "max_findings.image_unanalysed" in failed  # default 0
    assert "max_findings.image_library" not in failed  # default -1: listed, not gated


def test_findings_json_carries_the_facts(reach_run: tuple[api.Outcome, Path]) -> None:
    outcome, _ = reach_run
    doc = json.loads(outcome.outputs["findings"].read_text(encoding="utf-8"))
    fn = {(f["file"], f["function"]): f for f in doc["functions"]}
    assert fn[("src/table.c", "debug_dump")]["reachable"] is True
    assert fn[("src/dead.c", "legacy_scale")]["reachable"] is False
    assert fn[("src/dead.c", "legacy_scale")]["image"] == "removed"
    rogue = next(f for f in doc["findings"] if f["kind"] == "rogue")
    assert rogue["call_path"] == ["main", "dispatch", "handlers[]", "debug_dump"]


def test_without_a_product_build_reachability_is_unknown(reach_run: tuple[api.Outcome, Path]) -> None:
    """No product build configured: reachable is null everywhere and nothing is dead."""
    _, project = reach_run
    settings = load_settings(project / "covguard.toml", overrides={"product.command": ""})
    analysis = api.analyse(settings)
    assert analysis.functions["reachable"].isna().all()
    assert analysis.functions["image"].isna().all()
    assert not (analysis.functions["class"] == "dead").any()
    assert not analysis.findings["kind"].str.startswith("image_").any()
    assert "product" not in analysis.summary


def test_entry_points_from_the_configuration(reach_run: tuple[api.Outcome, Path]) -> None:
    """User patterns add entry points; ``path:name`` picks a static function of one file."""
    _, project = reach_run
    settings = load_settings(project / "covguard.toml")
    graph = build_callgraph(load_product(build_options(settings)).units)
    nodes = graph.nodes.set_index("key")

    def reached(entries: tuple[str, ...]) -> set[str]:
        r = reachability(graph, entries, root=project).nodes.set_index("key")
        on = r[r["reachable"]].index
        return {f"{os.path.basename(str(nodes.loc[k, 'unit']))}:{nodes.loc[k, 'name']}" for k in on}

    base = reached(("main",))
    assert "b.c:helper" not in base
    assert "a.c:helper" in base
    more = reached(("main", "src/b.c:helper"))
    assert "b.c:helper" in more
    assert "a.c:helper" in more
    assert "b.c:b_api" not in more
    assert "recursion.c:is_odd" in reached(("main", "parity_*"))


def test_same_reachability_at_o0(reach_run: tuple[api.Outcome, Path], tmp_path: Path) -> None:
    """Without optimisation GCC marks every symbol force_output (as if ``used``): the reachable
    set must not change with the optimisation level."""
    outcome, project = reach_run
    assert outcome.analysis is not None
    settings = load_settings(
        project / "covguard.toml",
        overrides={
            "work_dir": str(tmp_path / "w"),
            "product.command": "make firmware BUILD_DIR={build_dir} FW_OPT=-O0",
        },
    )
    analysed = outcome.analysis.functions.loc[:, ["file", "function"]]
    at_o0 = product_facts(
        analysis_options(settings), build_product(build_options(settings)), analysed, {"RCH-8"}, TagConfig()
    ).functions
    at_o1 = outcome.analysis.functions

    def reachable(frame: pd.DataFrame) -> dict[tuple[str, str], bool]:
        return {(r["file"], r["function"]): r["reachable"] for r in records(frame)}

    assert reachable(at_o0) == reachable(at_o1)
    assert at_o0["reachable"].any()
    assert not at_o0["reachable"].all()


# ---------------------------------------------------------------------------------------------
# the sample firmware: a Cortex-M3 image


def test_sample_reachability(sample_run: api.Outcome) -> None:
    f = facts(sample_run)
    dead = sorted(k for k, r in f.items() if r["reachable"] is False)
    assert dead == [("src/bolus.c", "legacy_bolus_calc_v1")]
    assert f[("src/bolus.c", "legacy_bolus_calc_v1")]["image"] == "removed"
    # reached only through the handler table: never dead
    for name in ("cmd_handle_status", "cmd_handle_bolus", "cmd_handle_temp_basal"):
        assert f[("src/cmd.c", name)]["call_path"][-2:] == ["cmd_handlers[]", name]
    # reached only through the scheduler's task table (main.c)
    assert f[("src/basal.c", "basal_tick")]["call_path"] == ["main", "sched_run", "tasks[]", "basal_tick"]


def test_sample_image_lists_the_toolchain_libraries(sample_run: api.Outcome) -> None:
    assert sample_run.analysis is not None
    found = sample_run.analysis.findings
    libraries = found[found["kind"] == "image_library"]
    assert len(libraries) == 1
    message = libraries.iloc[0]["message"]
    assert "memcpy (" in message
    assert "memset (" in message
    assert not (found["kind"] == "image_unanalysed").any()  # main.c and the target HAL are traced


# ---------------------------------------------------------------------------------------------
# bad input: a clear error, never a traceback


def test_product_build_failure_is_exit_3(tmp_path: Path) -> None:
    require("gcc", "make")
    project = make_project(tmp_path)
    (project / "src" / "a.c").write_text("int a_api(void) { return + ; }\n", encoding="utf-8")
    settings = load_settings(project / "covguard.toml", overrides={"work_dir": str(tmp_path / "w")})
    with pytest.raises(BuildError) as err:
        build_product(build_options(settings))
    assert err.value.exit_code == 3
    assert "the product build failed" in err.value.message
    assert "a.c:1" in err.value.message


def test_product_compiler_missing(tmp_path: Path) -> None:
    require("gcc", "make")
    project = make_project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "covguard", "build", "--set", "product.compiler=no-such-gcc"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert "no-such-gcc" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    bad = load_settings(project / "covguard.toml", overrides={"product.compiler": "no-such-gcc"})
    with pytest.raises(ToolError):
        build_product(build_options(bad))


def test_missing_image_is_reported(tmp_path: Path) -> None:
    require("gcc", "make")
    project = make_project(tmp_path)
    settings = load_settings(
        project / "covguard.toml", overrides={"product.image": "{build_dir}/nothing.elf"}
    )
    with pytest.raises(BuildError, match="wrote no image"):
        build_product(build_options(settings))


def test_analyse_before_the_product_build(tmp_path: Path) -> None:
    settings = load_settings(REACH / "covguard.toml", overrides={"work_dir": str(tmp_path / "w")})
    with pytest.raises(BuildError, match="has not been built yet") as err:
        load_product(build_options(settings))
    assert err.value.location is not None
    assert str(err.value.location.path) == str(ProductArea(build_options(settings)).manifest)


def test_unusable_inputs_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "firmware.elf"
    text.write_text("not an image\n", encoding="utf-8")
    with pytest.raises(InputError, match="no ELF header") as err:
        read_elf_symbols(text)
    assert err.value.location is not None
    assert err.value.location.path == text
    with pytest.raises(InputError, match="not a GNU ld map"):
        read_linker_map(text)
    with pytest.raises(InputError, match="not a GCC call-graph dump"):
        read_cgraph_dump(text)
    with pytest.raises(InputError, match="cannot read"):
        read_elf_symbols(tmp_path / "missing.elf")


def test_truncated_image_is_an_input_error(tmp_path: Path) -> None:
    """Every prefix of a real ELF either parses or is an InputError (never another exception)."""
    require("gcc")
    src = tmp_path / "m.c"
    src.write_text("int main(void) { return 0; }\n", encoding="utf-8")
    run(["gcc", src, "-o", tmp_path / "m"])
    data = (tmp_path / "m").read_bytes()
    cut = tmp_path / "cut.elf"
    for size in sorted({0, 4, 20, 52, 64, len(data) // 3, len(data) // 2, len(data) - 200, len(data) - 1}):
        cut.write_bytes(data[:size])
        with contextlib.suppress(InputError):
            read_elf_symbols(cut)
    symbols, _ = read_elf_symbols(tmp_path / "m")
    assert "main" in set(symbols["name"])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_elf_reader_never_crashes(tail: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.elf"
        for head in (b"\x7fELF\x01\x01\x01", b"\x7fELF\x02\x01\x01", b"\x7fELF\x01\x02\x01"):
            path.write_bytes(head + tail)
            with contextlib.suppress(InputError):
                read_elf_symbols(path)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=" .0123456789abcdefx_()/*\t", max_size=60), max_size=30))
def test_map_and_dump_readers_never_crash(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x"
        heads = ("Linker script and memory map", "Discarded input sections", "Cross Reference Table")
        path.write_text("\n".join([*heads[:1], *lines, *heads[1:], *lines]), encoding="utf-8")
        found = read_linker_map(path)
        assert isinstance(found.sections, pd.DataFrame)
        path.write_text("\n".join(["Initial Symbol table:", "", "f/1 (f) @0x1", *lines]), encoding="utf-8")
        with contextlib.suppress(InputError):
            read_cgraph_dump(path)
