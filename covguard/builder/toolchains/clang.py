"""The ``host-clang`` toolchain profile: clang-19 source-based coverage, with MC/DC.

Tests are built with ``clang-19 -O0 -g -fprofile-instr-generate -fcoverage-mapping
-fcoverage-mcdc`` and run on the build machine.  The harness (``COVGUARD_COVERAGE_LLVM``) resets
the profile counters and MC/DC bitmaps before each test case and writes them after it to
``<coverage dir>/<index>.profraw``; :mod:`covguard.ingest.llvm_cov` turns these into coverage
frames with ``llvm-profdata-19`` and ``llvm-cov-19``.

gcov's flags in ``build.coverage_flags``/``build.link_flags`` (``--coverage``,
``-fprofile-abs-path``, ...) are dropped for this profile: clang understands them, and would
instrument every object a second time for gcov.

Debian packages: ``clang-19``, ``llvm-19`` and ``libclang-rt-19-dev`` (without it the link fails
for want of ``libclang_rt.profile.a``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covguard.builder.toolchains.base import Toolchain
from covguard.errors import BuildError
from covguard.files import sha256_file
from covguard.model import BuildManifest

if TYPE_CHECKING:
    from covguard.builder.area import Area
    from covguard.builder.options import BuildOptions

INSTALL_HINT = (
    "apt-get install --no-install-recommends clang-19 llvm-19 libclang-rt-19-dev (Debian) - "
    "or run 'make test', whose bootstrap installs them"
)
# gcov instrumentation: never passed to clang for the llvm profile
GCOV_ONLY_FLAGS = frozenset(
    {"--coverage", "-coverage", "-fprofile-arcs", "-ftest-coverage", "-fprofile-abs-path", "-lgcov"}
)


@dataclass(frozen=True)
class LlvmToolchain(Toolchain):
    """A toolchain with clang's source-based coverage: the llvm tools that read its profiles."""

    profdata: str = "llvm-profdata-19"
    llvm_cov: str = "llvm-cov-19"

    def prepare_runtime(self, folder: Path) -> tuple[str, ...]:
        """covguard's Unity hooks, with clang's profile run-time (per test case, unchanged suites)."""
        from covguard.builder.toolchains.unity_hooks import build_unity_hooks

        return build_unity_hooks(self.cc, folder, ("-DCOVGUARD_COVERAGE_LLVM",))


def host_clang(cc: str = "", cxx: str = "") -> LlvmToolchain:
    return LlvmToolchain(
        name="host-clang",
        origin="host",
        cc=cc or "clang-19",
        cxx=cxx or "clang++-19",
        coverage="llvm",
        compile_flags=(
            "-O0",
            "-g",
            "-fprofile-instr-generate",
            "-fcoverage-mapping",
            "-fcoverage-mcdc",
        ),
        link_flags=("-fprofile-instr-generate",),
        defines=("-DCOVGUARD_COVERAGE_LLVM",),
        install_hint=INSTALL_HINT,
        tools=("llvm-profdata-19", "llvm-cov-19"),
    )


def without_gcov_flags(flags: Sequence[str]) -> tuple[str, ...]:
    """``flags`` without gcov's instrumentation flags (the settings' defaults are gcov's)."""
    return tuple(f for f in flags if f not in GCOV_ONLY_FLAGS)


def llvm_tools(toolchain: Toolchain) -> tuple[str, str]:
    """(llvm-profdata, llvm-cov) of a toolchain whose coverage is "llvm"."""
    if isinstance(toolchain, LlvmToolchain):
        return toolchain.profdata, toolchain.llvm_cov
    return "llvm-profdata-19", "llvm-cov-19"


def llvm_manifest(
    options: BuildOptions,
    area: Area,
    toolchain: Toolchain,
    command: Sequence[str],
    commands: Sequence[dict[str, object]],
    started: datetime,
    duration: float,
) -> BuildManifest:
    """The build manifest of a clang build: no notes files (the coverage mapping is in the test
    executables); the SHA-256 of every source the mapping names (headers too), compiled sources
    with the digest the compiler wrapper took at compile time."""
    from covguard.builder.area import discover
    from covguard.ingest.llvm_cov import LlvmTools, mapped_sources

    executables = discover(options, area)
    profdata, llvm_cov = llvm_tools(toolchain)
    mapped = mapped_sources(LlvmTools(profdata, llvm_cov), executables, area.root)
    if not mapped:
        raise BuildError(
            "the test executables hold no coverage mapping: nothing was compiled with "
            "-fprofile-instr-generate -fcoverage-mapping",
            hint="make sure the build compiles and links with $(CC) (covguard passes it); "
            "'covguard build --clean' forces a full rebuild",
        )
    unmeasured = unmeasured_decisions(area, mapped)
    hashes = {s: sha256_file(Path(s)) for s in mapped if Path(s).is_file()}
    for entry in commands:
        digest = entry.get("sha256")
        if entry.get("instrumented") and isinstance(digest, str) and str(entry["file"]) in hashes:
            hashes[str(entry["file"])] = digest  # as the compiler saw it
    return BuildManifest(
        toolchain=toolchain.name,
        command=tuple(command),
        build_dir=str(area.build_dir),
        started=started.isoformat(timespec="seconds"),
        duration_s=round(duration, 3),
        compilers=toolchain.versions(),
        notes_files=(),
        source_hashes=dict(sorted(hashes.items())),
        compile_commands=len(commands),
        variant=options.variant,
        extra={
            "coverage": "llvm",
            "test_executables": str(len(executables)),
            UNMEASURED_KEY: json.dumps(unmeasured),
        },
    )


UNMEASURED_KEY = "mcdc_unmeasured"
_UNSUPPORTED = re.compile(
    r"^(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?P<col>\d+): warning: unsupported MC/DC boolean expression; "
    r"(?P<why>[^\n]*?)\.? Expression will not be covered",
    re.MULTILINE,
)


def unmeasured_decisions(area: Area, mapped: Sequence[str]) -> list[dict[str, object]]:
    """Decisions clang compiled without MC/DC ("unsupported MC/DC boolean expression": a
    condition holding a nested boolean expression, or too many conditions), from the warnings of
    this build's compiles, kept from the previous manifest for sources not recompiled since."""
    from covguard.builder.native_cc import read_records

    records: list[Any] = read_records(area.cc_log)
    folders = list(dict.fromkeys(str(r.get("directory", "")) for r in records))
    compiled = {
        os.path.normpath(os.path.join(str(r.get("directory", "")), str(src.get("file", ""))))
        for r in records
        for src in r.get("sources", [])
    }
    try:
        text = area.build_log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    known = set(mapped)
    found: dict[tuple[str, int, int], dict[str, object]] = {}
    for m in _UNSUPPORTED.finditer(text):
        name = m.group("file")
        candidates = [name] if os.path.isabs(name) else [os.path.join(f, name) for f in folders]
        path = next((os.path.normpath(c) for c in candidates if os.path.isfile(c)), None)
        if path is None:
            continue
        key = (path, int(m.group("line")), int(m.group("col")))
        found[key] = {"file": path, "line": key[1], "column": key[2], "why": m.group("why").strip()}
    previous: list[dict[str, object]] = []
    if area.manifest.is_file():
        try:
            old = json.loads(area.manifest.read_text(encoding="utf-8")).get("extra", {})
            previous = json.loads(old.get(UNMEASURED_KEY, "[]"))
        except (OSError, ValueError, AttributeError):
            previous = []
    for entry in previous:
        path = str(entry.get("file"))
        if path not in compiled:  # its source was not recompiled: its warning still holds
            found.setdefault((path, int(str(entry["line"])), int(str(entry["column"]))), entry)
    # the decision is in a file of the test executables' mapping (headers count where included)
    return [found[k] for k in sorted(found) if k[0] in known or os.path.isfile(k[0])]


__all__ = [
    "UNMEASURED_KEY",
    "LlvmToolchain",
    "host_clang",
    "llvm_manifest",
    "llvm_tools",
    "unmeasured_decisions",
    "without_gcov_flags",
]
