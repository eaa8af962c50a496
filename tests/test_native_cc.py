"""covguard's native compiler wrapper (runtime/ccwrap.c) against the Python one (ccwrap.py).

Every test builds a real project with gcc twice or three times - through the Python wrapper
(``COVGUARD_NATIVE_CC=0``), through the native one, and with a host compiler that cannot build
the native one (the fallback) - and requires the same records: compile_commands.json, the notes
files, the source hashes, the same error for two compiles writing one notes file.  The Python
wrapper is the reference: it is the one the earlier test suites established.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from covguard.builder import instrumented as build_mod
from covguard.builder import native_cc
from covguard.builder.area import Area
from covguard.builder.ccwrap import NATIVE_LOG
from covguard.config import Settings, load_settings
from covguard.errors import BuildError
from covguard.files import sha256_file
from covguard.options import build_options
from tests.conftest import SAMPLE, require

WAYS = {"python": {"COVGUARD_NATIVE_CC": "0"}, "native": {}, "fallback": {"COVGUARD_HOST_CC": "false"}}


def _settings(root: Path, work: Path) -> Settings:
    return load_settings(root / "covguard.toml", overrides={"work_dir": str(work)})


def _build(monkeypatch: pytest.MonkeyPatch, root: Path, work: Path, way: str) -> dict[str, Any]:
    """One clean build the given way; what it recorded."""
    for key in ("COVGUARD_NATIVE_CC", "COVGUARD_HOST_CC"):
        monkeypatch.delenv(key, raising=False)
    for key, value in WAYS[way].items():
        monkeypatch.setenv(key, value)
    notes: list[str] = []
    settings = _settings(root, work)
    manifest = build_mod.build(build_options(settings), clean=True, echo=notes.append)
    area = Area(build_options(settings))
    json_records = [json.loads(p.read_text()) for p in sorted(area.cc_log.glob("*.json"))]
    return {
        "compile_commands": json.loads(area.compile_commands.read_text(encoding="utf-8")),
        "notes_files": manifest.notes_files,
        "source_hashes": manifest.source_hashes,
        # in the order of the compiles, which a parallel make changes from one build to the next
        "records": sorted(json.dumps(r, sort_keys=True) for r in build_mod._read_cc_log(area)),
        "python_records": json_records,
        "native_log": (area.cc_log / NATIVE_LOG).is_file(),
        "launcher": (area.bin / "cc").read_bytes()[:2],
        "notes": [n for n in notes if n.startswith("note:")],
    }


def test_the_sample_firmware_builds_to_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real multi-file Makefile build (16 compiles and links): the same compile_commands.json,
    notes and source hashes; every invocation handled natively (no Python process started)."""
    require("gcc", "make")
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("build", ".covguard", "covguard-report"))
    got = {way: _build(monkeypatch, root, tmp_path / "work", way) for way in ("python", "native")}
    python, native = got["python"], got["native"]
    for key in ("compile_commands", "notes_files", "source_hashes", "records"):
        assert native[key] == python[key], key
    compiles = [r for r in map(json.loads, native["records"]) if r["mode"] == "compile"]
    assert len(compiles) >= 10
    assert all(s["instrumented"] for r in compiles for s in r["sources"])
    assert native["native_log"]
    assert native["python_records"] == []
    assert native["launcher"] == b"\x7fE"
    assert not python["native_log"]
    assert python["launcher"] == b"#!"
    assert python["notes"] == ["note: compiling through covguard's Python compiler wrapper (slower); "
                               "native one: COVGUARD_NATIVE_CC=0"]  # fmt: skip
    assert native["notes"] == []
    # the compile-time digest is the source's own
    for entry in native["compile_commands"]:
        assert entry["sha256"] == sha256_file(Path(entry["file"]))


BUILD_SH = r"""set -e
out="$1"
mkdir -p "$out" "$out/gen"
long=$(printf 'x%.0s' $(seq 1 20000))
many=$(seq 1 2000 | sed 's/^/-DM_/')
"$CC" -c "src/a b.c" -o "$out/a b.o" -DLONG="\"$long\"" $many -D'Q="it'"'"'s \"quoted\""'
"$CC" -c "src/it's.c" -o "$out/it's.o"
"$CC" -c 'src/new
line.c' -o "$out/nl.o"
(cd src/sub && "$CC" -c "./../../src/sub/../a b.c" -o "$out/again.o")
"$CC" -c "$2/outside.c" -o "$out/outside.o"
printf 'int gen_work(void) { return 4; }\n' > "$out/gen/work.c"
"$CC" -c "$out/gen/work.c" -o "$out/gen/work.o"
printf 'int gen_tree(void) { return 5; }\n' > src/gen_tree.c
"$CC" -c src/gen_tree.c -o "$out/gen_tree.o"
"$CC" -E "src/it's.c" > "$out/pre.i"
"$CC" "$out/a b.o" "$out/it's.o" "$out/nl.o" "$out/outside.o" "$out/gen/work.o" "$out/gen_tree.o" \
    -o "$out/prog"
"$out/prog"
"""


def _hostile_project(tmp_path: Path) -> Path:
    root = tmp_path / "proj with space"
    (root / "src" / "sub").mkdir(parents=True)
    (root / "src" / "a b.c").write_text(
        "#include <string.h>\n"
        "int it(void); int nl(void); int outside(void); int gen_work(void); int gen_tree(void);\n"
        "#ifdef LONG\n"
        "int main(void) { return (strlen(LONG) == 20000 && M_2000 == 1 && Q[0] == 'i' && it() + nl() "
        "+ outside() + gen_work() + gen_tree() == 15) ? 0 : 1; }\n"
        "#endif\n"
    )
    (root / "src" / "it's.c").write_text("int it(void) { return 1; }\n")
    (root / "src" / "new\nline.c").write_text("int nl(void) { return 2; }\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "outside.c").write_text("int outside(void) { return 3; }\n")
    (root / "build.sh").write_text(BUILD_SH)
    (root / "covguard.toml").write_text(
        f'sources = ["src/**"]\n[build]\ncommand = "sh ./build.sh {{build_dir}} {outside}"\n'
    )
    return root


def test_hostile_paths_and_long_command_lines_the_same_three_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spaces, quotes and a newline in paths, 2,000 arguments and a 20 kB one, a path through
    '..', sources outside the root, in the work folder and generated into the tree during the
    build, a preprocess-only run and a link: the same records from the Python wrapper, the
    native one and the fallback when the native one cannot be built."""
    require("gcc")
    root = _hostile_project(tmp_path)
    got = {}
    for way in WAYS:
        (root / "src" / "gen_tree.c").unlink(missing_ok=True)  # generated by the build, every time
        got[way] = _build(monkeypatch, root, tmp_path / "work", way)
    for way in ("native", "fallback"):
        for key in ("compile_commands", "notes_files", "source_hashes", "records"):
            assert got[way][key] == got["python"][key], (way, key)
    entries = {Path(e["file"]).name: e for e in got["native"]["compile_commands"]}
    assert {n: e["instrumented"] for n, e in entries.items()} == {
        "a b.c": True,
        "it's.c": True,
        "new\nline.c": False,
        "outside.c": False,
        "work.c": False,
        "gen_tree.c": True,
    }  # fmt: skip  (a newline: the 'sources' glob's regex does not match it, in both wrappers)
    [args] = [e["arguments"] for e in got["native"]["compile_commands"] if e["output"].endswith("/a b.o")]
    assert len(args) > 2000
    assert any(len(a) > 20000 for a in args)
    assert "--coverage" in args
    # natively: everything but the source the table did not know (generated in the tree) and -E
    python_ran = got["native"]["python_records"]
    assert [Path(r["sources"][0]["file"]).name for r in python_ran] == ["gen_tree.c"]
    fallback = got["fallback"]
    assert fallback["launcher"] == b"#!"
    assert not fallback["native_log"]
    assert len(fallback["notes"]) == 1
    note = fallback["notes"][0]
    assert note.startswith("note: compiling through covguard's Python compiler wrapper (slower); ")
    assert note.endswith("false' could not compile it (exit status 1)")


def test_two_compiles_of_one_notes_file_are_refused_with_the_same_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """x.o and x.os share x.gcno: the error names both compile commands, natively as before."""
    require("gcc")
    root = tmp_path / "dup"
    (root / "src").mkdir(parents=True)
    (root / "src" / "x.c").write_text("int x(void) { return 1; }\n")
    (root / "covguard.toml").write_text(
        'sources = ["src/**"]\n[build]\n'
        'command = "mkdir -p {build_dir} && $CC -c src/x.c -o {build_dir}/x.o && '
        '$CC -fPIC -c src/x.c -o {build_dir}/x.os"\n'
    )
    messages = {}
    for way in ("python", "native"):
        with pytest.raises(BuildError) as info:
            _build(monkeypatch, root, tmp_path / "work", way)
        messages[way] = str(info.value)
    assert messages["native"] == messages["python"]
    assert "two compiles write the same coverage notes" in messages["native"]
    assert "only the second has -fPIC" in messages["native"]


def test_a_damaged_record_log_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record cut short (the disk filled during the build): an error naming the log, no traceback."""
    require("gcc")
    root = _hostile_project(tmp_path)
    _build(monkeypatch, root, tmp_path / "work", "native")
    log = Area(build_options(_settings(root, tmp_path / "work"))).cc_log / NATIVE_LOG
    data = log.read_bytes()
    log.write_bytes(data[:-3])
    with pytest.raises(BuildError, match="cut short") as info:
        native_cc.read_records(log.parent)
    assert str(info.value).startswith(f"{log}: ")
    log.write_bytes(data + b"junk-that-is-no-record")
    with pytest.raises(BuildError, match="no record starts at byte"):
        native_cc.read_records(log.parent)


def test_the_wrapper_is_compiled_once_per_work_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("gcc")
    monkeypatch.delenv("COVGUARD_HOST_CC", raising=False)
    first, why = native_cc.wrapper_binary(tmp_path)
    assert first is not None
    assert why == ""
    stamp = first.stat().st_mtime_ns
    again, _ = native_cc.wrapper_binary(tmp_path)
    assert again == first
    assert again.stat().st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "native-cc").iterdir()] == [first.name]
    assert os.access(first, os.X_OK)
