"""Unity per test case on the host: covguard's Unity hooks (``runtime/covguard_unity.c``), compiled
once per build and linked into every test executable with GNU ld's ``--wrap`` of Unity's entry
points, so each test case's coverage lands in its own folder with no change to the user's tests,
runners or build files (see the C file for which calls are wrapped and why)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from covguard.builder.toolchains.base import RUNTIME_DIR, Toolchain
from covguard.errors import BuildError, ToolError

SOURCE = RUNTIME_DIR / "covguard_unity.c"
WRAPPED = ("UnityBegin", "UnityEnd", "UnityDefaultTestRun", "UnityConcludeTest", "setUp")
WRAP_FLAG = "-Wl," + ",".join(f"--wrap={name}" for name in WRAPPED)


def build_unity_hooks(cc: str, folder: Path, defines: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Compile the hooks (without coverage) into ``folder``; the link arguments that add them.
    ``defines``: ``-DCOVGUARD_COVERAGE_LLVM`` for clang's profile run-time (gcov's otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)
    obj = folder / "covguard_unity.o"
    command = [cc, *defines, "-std=c99", "-O1", "-Wall", "-Wextra", "-c", str(SOURCE), "-o", str(obj)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, check=False, errors="replace")
    except OSError as exc:
        raise ToolError(f"cannot run '{cc}': {exc.strerror}", hint="install the compiler") from None
    if proc.returncode != 0:
        raise BuildError(
            f"covguard's Unity hooks do not compile with {cc}:\n" + (proc.stdout + proc.stderr).strip(),
            path=SOURCE,
            hint="the host profiles need a C compiler that links with GNU ld",
        )
    return (str(obj), WRAP_FLAG)


@dataclass(frozen=True)
class HostGcc(Toolchain):
    """The host-gcc profile: links covguard's Unity hooks into every test executable."""

    def prepare_runtime(self, folder: Path) -> tuple[str, ...]:
        return build_unity_hooks(self.cc, folder)
