"""`covguard build`: run the firmware's own build with coverage instrumentation injected.

The build command comes from the configuration (``make tests BUILD_DIR={build_dir}``).  covguard
runs it with its compiler wrapper as ``CC``/``CXX`` (in the environment, and as ``CC=``/``CXX=``
arguments when the command is ``make``, because command-line variables override a Makefile's own
``CC = ...``), and ``{build_dir}`` pointing into the work folder, so objects, notes and coverage
data never land in the source tree.  Afterwards it writes, in the toolchain's work area:

* ``compile_commands.json`` - every compiler invocation, as clang tooling expects it;
* ``build.json`` - the build manifest: command, toolchain versions, the notes files, and the
  SHA-256 of every source the compiler saw, taken at build time (analysis refuses a source that
  changed since);
* ``build.log`` - the build's full output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from covguard.builder import native_cc
from covguard.builder.area import Area, check_root, expand, placeholders
from covguard.builder.options import BuildOptions
from covguard.builder.shape import (
    check_compiled,
    collision_error,
    command_line,
    notes_collisions,
    notes_path,
    shown,
    wrapper_env,
)
from covguard.builder.toolchains import toolchain_for
from covguard.builder.toolchains.base import RUNTIME_DIR, Toolchain
from covguard.confine import confined
from covguard.errors import BuildError, ConfigError
from covguard.files import glob_regex, sha256_file, write_json, write_text
from covguard.ingest.gcno import read_notes
from covguard.model import BuildManifest
from covguard.procs import run_group

WRAPPER = Path(__file__).resolve().parent / "ccwrap.py"
# how long covguard waits for processes the build command left running (see covguard.procs)
BUILD_SETTLE_S = 120.0


def build_command(options: BuildOptions, area: Area) -> list[str]:
    """The build's argument vector: ``/bin/sh -c`` for a string, the list as it is (see
    :mod:`covguard.builder.shape`)."""
    raw = options.build_command
    if not raw:
        raise ConfigError(
            "no build command configured",
            path=options.config_path,
            hint='add: [build] command = "make tests BUILD_DIR={build_dir}"',
        )
    wrappers = (str(area.bin / "cc"), str(area.bin / "c++"))
    return command_line(raw, placeholders(options, area), "'build.command'", wrappers)


def _write_launchers(area: Area, config_file: Path) -> None:
    area.bin.mkdir(parents=True, exist_ok=True)
    for kind in ("cc", "c++"):
        script = (
            "#!/bin/sh\n"
            f"COVGUARD_CC_CONFIG={shlex.quote(str(config_file))} exec {shlex.quote(sys.executable)} "
            f'-I -S {shlex.quote(str(WRAPPER))} {kind} "$@"\n'
        )
        path = area.bin / kind
        write_text(path, script)
        path.chmod(0o755)


def _install_wrapper(
    area: Area, config_file: Path, work_dir: Path, echo: Callable[[str], None] | None
) -> None:
    """The native compiler wrapper as bin/cc, bin/c++; else the Python one, with a note."""
    why = native_cc.install(area.root, area.bin, config_file, work_dir, sys.executable, WRAPPER)
    if why is not None:
        _write_launchers(area, config_file)
        if echo:
            echo(f"note: compiling through covguard's Python compiler wrapper (slower); native one: {why}")


def _read_cc_log(area: Area) -> list[dict[str, object]]:
    """The wrappers' records of the build, in the order the compiles started."""
    return native_cc.read_records(area.cc_log)


def _previous_commands(area: Area) -> dict[tuple[str, str], dict[str, object]]:
    entries: dict[tuple[str, str], dict[str, object]] = {}
    if area.compile_commands.is_file():
        try:
            for e in json.loads(area.compile_commands.read_text(encoding="utf-8")):
                entries[(str(e.get("file")), str(e.get("output")))] = e
        except (OSError, ValueError, AttributeError):
            entries = {}
    return entries


def _compile_commands(area: Area, records: list[dict[str, object]]) -> list[dict[str, object]]:
    """Merge this build's compiles into the previous compile_commands.json (incremental builds);
    refuse two compiles that write one notes file (in this build, or with an earlier one whose
    object is still there)."""
    entries = _previous_commands(area)
    current = _entries(records)
    kept = [
        e
        for key, e in entries.items()
        if key not in {(str(c["file"]), str(c["output"])) for c in current}
        and e.get("output")
        and os.path.exists(str(e["output"]))
    ]
    collisions = notes_collisions([*current, *kept])
    if collisions:
        raise collision_error(collisions)
    for e in current:
        entries[(str(e["file"]), str(e["output"]))] = e
    return sorted(entries.values(), key=lambda e: (str(e["file"]), str(e["output"])))


def _entries(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """compile_commands entries of this build's compiles, one per source."""
    out: list[dict[str, object]] = []
    for r in records:
        if r.get("mode") not in ("compile", "build"):
            continue
        directory = str(r["directory"])
        for src in r.get("sources", []):  # type: ignore[attr-defined]
            file = os.path.normpath(os.path.join(directory, src["file"]))
            output = r.get("output")
            out_abs = os.path.normpath(os.path.join(directory, str(output))) if output else None
            instrumented = bool(src.get("instrumented", False))
            out.append(
                {
                    "directory": directory,
                    "arguments": r["arguments"],
                    "file": file,
                    "output": out_abs,
                    "sha256": src.get("sha256"),
                    "instrumented": instrumented,
                    # where GCC wrote the notes (a compile-and-link names one per source)
                    "notes": notes_path(directory, str(src["file"]), output, str(r["mode"]))  # type: ignore[arg-type]
                    if instrumented
                    else None,
                }
            )
    return out


def _notes_of(entry: dict[str, object]) -> str | None:
    """The notes file of a compile_commands entry (entries of older builds: beside the object)."""
    if not entry.get("instrumented"):
        return None
    if "notes" in entry:
        return str(entry["notes"]) if entry["notes"] else None
    out = entry.get("output")
    return str(Path(str(out)).with_suffix(".gcno")) if out else None


def _tail(text: str, lines: int = 40) -> str:
    rows = text.rstrip().splitlines()
    return "\n".join(rows[-lines:])


def build(
    options: BuildOptions,
    *,
    clean: bool = False,
    echo: Callable[[str], None] | None = None,
) -> BuildManifest:
    """Run the configured build with coverage; return (and write) the build manifest."""
    toolchain = toolchain_for(options)
    toolchain.check_installed()
    area = _prepare_area(options, clean)
    _install_wrapper(area, _write_wrapper_config(options, toolchain, area), options.work_dir, echo)
    command = build_command(options, area)
    env = _build_env(options, area)
    if echo:
        echo("build: " + shown(command))
    started, duration = _run_build(options, area, command, env)
    commands, not_compiled = _record_compiles(options, area, echo)
    if toolchain.coverage == "llvm":  # clang: the coverage mapping is in the test executables
        from covguard.builder.toolchains.clang import llvm_manifest

        manifest = llvm_manifest(options, area, toolchain, command, commands, started, duration)
        write_json(area.manifest, asdict(manifest))
        return manifest
    manifest = _gcov_manifest(options, toolchain, area, command, commands, not_compiled, started, duration)
    write_json(area.manifest, asdict(manifest))
    if manifest.notes_files:
        # compile the coverage model now, once per build: every later read of coverage loads it
        # (numpy only: the frames of covguard.ingest.collect, and pandas, are not needed here)
        from covguard.ingest.model_cache import model_for

        model_for(manifest.notes_files, area.model_cache, options.build_jobs)
    return manifest


def _prepare_area(options: BuildOptions, clean: bool) -> Area:
    """The toolchain's work area, emptied with ``clean`` (else checked to belong to this project
    root), with an empty log of the compiles to come."""
    area = Area(options)
    if not clean:
        check_root(options)
    if clean and area.root.exists():
        confined(options.work_dir, area.root.name, "the toolchain work area", source=options.config_path)
        shutil.rmtree(area.root)
    # the tree is about to be rewritten: until this build succeeds there is no complete build to
    # read the last run's results with (a failed or stopped build leaves nothing to mix)
    area.manifest.unlink(missing_ok=True)
    area.build_dir.mkdir(parents=True, exist_ok=True)
    if area.cc_log.exists():
        shutil.rmtree(area.cc_log)
    area.cc_log.mkdir(parents=True)
    return area


def _write_wrapper_config(options: BuildOptions, toolchain: Toolchain, area: Area) -> Path:
    """The compiler wrapper's configuration (:mod:`covguard.builder.ccwrap`): compilers, flags,
    what gets coverage; written into the area, its path returned."""
    cfg_file = area.root / "cc-config.json"
    runtime_links = toolchain.prepare_runtime(area.root / "runtime")  # a target's start-up code
    coverage_flags, link_flags = options.build_coverage_flags, options.build_link_flags
    if toolchain.coverage == "llvm":  # the defaults are gcov's: clang would instrument twice
        from covguard.builder.toolchains.clang import without_gcov_flags

        coverage_flags, link_flags = without_gcov_flags(coverage_flags), without_gcov_flags(link_flags)
    write_json(
        cfg_file,
        {
            "compiler": toolchain.cc,
            "cxx_compiler": toolchain.cxx,
            "compile_flags": [*coverage_flags, *toolchain.compile_flags],
            "link_flags": [*link_flags, *toolchain.link_flags],
            # the profile's run-time (Unity hooks, a target's start-up code): executables only
            "runtime_links": list(runtime_links),
            "machine_flags": list(toolchain.machine_flags),
            "defines": list(toolchain.defines),
            "log_dir": str(area.cc_log),
            "root": str(options.root),
            "instrument": list(options.build_instrument),
            # only the project's own code gets coverage: never configure checks (conftest.c),
            # CMake's compiler probes or generated files in the work folder
            "analysed": "|".join(f"(?:{glob_regex(p)})" for p in (*options.sources, *options.test_sources)),
            "skip": [str(options.work_dir.resolve())],
        },
    )
    return cfg_file


def _build_env(options: BuildOptions, area: Area) -> dict[str, str]:
    """The build command's environment: the wrapper as CC/CXX, covguard's run-time, ``build.env``."""
    env = wrapper_env(os.environ, str(area.bin / "cc"), str(area.bin / "c++"))
    env["COVGUARD_RUNTIME"] = str(RUNTIME_DIR)
    values = placeholders(options, area)
    env.update({k: expand(v, values, f"'build.env.{k}'") for k, v in options.build_env.items()})
    return env


def _run_build(
    options: BuildOptions, area: Area, command: list[str], env: dict[str, str]
) -> tuple[datetime, float]:
    """Run the build command, its output into the area's build log; when it started, how long it took."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    log_tmp = area.root / "build.log.part"
    try:
        with log_tmp.open("wb") as log:
            done = run_group(
                command,
                cwd=options.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                settle=BUILD_SETTLE_S,  # the tests must not start while the build still writes
            )
    except FileNotFoundError:
        raise BuildError(
            f"the build command '{command[0]}' was not found",
            hint="check 'build.command' in the configuration",
        ) from None
    except OSError as exc:
        raise BuildError(f"the build command could not start: {exc.strerror}") from None
    duration = time.monotonic() - t0
    output = log_tmp.read_bytes().decode("utf-8", errors="replace")
    log_tmp.replace(area.build_log)
    if done.returncode != 0:
        raise BuildError(
            f"the build failed (exit status {done.returncode}): {shown(command)}\n" + _tail(output),
            hint=f"the full output is in {area.build_log}",
        )
    if done.left:
        raise BuildError(
            f"the build command returned, but {len(done.left)} process(es) it started were still "
            f"running {BUILD_SETTLE_S:g} s later and were stopped (the build tree they were writing "
            "may be half-written): " + "; ".join(done.left[:5]),
            hint="do not leave work in the background ('&' in 'build.command' or in a recipe): covguard "
            "runs the tests only when every process of the build has ended",
        )
    return started, duration


def _record_compiles(
    options: BuildOptions, area: Area, echo: Callable[[str], None] | None
) -> tuple[list[dict[str, object]], list[str]]:
    """The compiles the wrapper logged, written as ``compile_commands.json``, and the configured
    sources none of them saw."""
    commands = _compile_commands(area, _read_cc_log(area))
    write_json(area.compile_commands, commands)
    not_compiled = check_compiled(
        commands,
        root=options.root,
        sources=options.sources,
        exclude=options.exclude,
        work_dir=options.work_dir,
    )
    if echo:
        for f in not_compiled:
            echo(f"warning: {f} is in 'sources' but no compile of the test build saw it")
    return commands, not_compiled


def _gcov_manifest(
    options: BuildOptions,
    toolchain: Toolchain,
    area: Area,
    command: list[str],
    commands: list[dict[str, object]],
    not_compiled: list[str],
    started: datetime,
    duration: float,
) -> BuildManifest:
    """The manifest of a gcov build: its notes files, their identity, the sources they name."""
    notes = sorted({n for n in map(_notes_of, commands) if n and os.path.isfile(n)})
    if not notes:
        raise BuildError(
            "the build produced no coverage notes (.gcno): nothing was compiled with coverage",
            hint="make sure the build compiles with $(CC) and writes objects under $(BUILD_DIR) "
            "(covguard passes both); 'covguard build --clean' forces a full rebuild",
        )
    stamps, sources = _notes_identity(notes)
    hashes = {s: sha256_file(Path(s)) for s in sorted(sources) if Path(s).is_file()}
    return BuildManifest(
        toolchain=toolchain.name,
        command=tuple(command),
        build_dir=str(area.build_dir),
        started=started.isoformat(timespec="seconds"),
        duration_s=round(duration, 3),
        compilers=toolchain.versions(),
        notes_files=tuple(sorted(notes)),
        source_hashes=hashes,
        compile_commands=len(commands),
        variant=options.variant,
        extra={
            "notes_stamps": stamps,
            "sources_not_compiled": "\n".join(not_compiled),
            "root": str(options.root),
        },
    )


def _notes_identity(notes: list[str]) -> tuple[str, set[str]]:
    """The build's identity (a digest of every notes file's stamp: covguard merge checks it) and
    every source file the notes name."""
    sources: set[str] = set()
    stamps = hashlib.sha256()
    for path in sorted(notes):
        nf = read_notes(Path(path))
        stamps.update(f"{path}\t{nf.stamp:08x}\t{nf.checksum:08x}\n".encode("utf-8", "surrogateescape"))
        for fn in nf.functions:
            sources.add(os.path.normpath(os.path.join(nf.cwd, fn.source)))
            for locs in fn.locations.values():
                for loc in locs:
                    sources.add(os.path.normpath(os.path.join(nf.cwd, loc.source)))
    return stamps.hexdigest(), sources
