"""What every toolchain profile is: :class:`Toolchain`, the tool versions, the gcov check.

The profiles themselves are one module each (:mod:`~covguard.builder.toolchains.gcc`,
:mod:`~covguard.builder.toolchains.clang`, :mod:`~covguard.builder.toolchains.cortex_m`), registered
by name in :data:`covguard.builder.toolchains.PROFILES`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from covguard.errors import ToolError

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"


@dataclass(frozen=True)
class Toolchain:
    """A toolchain profile."""

    name: str
    origin: str  # where tests run: "host", "qemu-cortex-m3", ...
    cc: str
    cxx: str
    coverage: str  # "gcov" or "llvm"
    gcov: str | None = None  # the gcov matching the compiler (gcov engine and version checks)
    compile_flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    install_hint: str = ""
    tools: tuple[str, ...] = field(default_factory=tuple)  # executables that must exist
    # the target machine's flags (-mcpu=...): every compile and link, instrumented or not
    machine_flags: tuple[str, ...] = ()
    # coverage comes back from a target: a test that ended without its data is an error
    coverage_from_target: bool = False

    def check_installed(self) -> None:
        """Raise :class:`ToolError` naming the missing tool and the package to install."""
        for tool in (self.cc, *self.tools):
            if shutil.which(tool) is None:
                raise ToolError(
                    f"'{tool}' is not installed (needed by the {self.name} toolchain)",
                    hint=self.install_hint or f"install {tool}",
                )

    def run_command(self, executable: Path, env: Mapping[str, str] | None = None) -> list[str]:
        """The command that runs one test executable (``env``: the variables the runner sets)."""
        return [str(executable)]

    def prepare_runtime(self, folder: Path) -> tuple[str, ...]:
        """Build the profile's own run-time (start-up code, platform hooks) into ``folder``
        before the firmware's build; return what every link needs (objects, flags)."""
        return ()

    def after_run(self, coverage_dir: Path) -> list[str]:
        """After each run of a test executable: bring the coverage it wrote into the per-test
        layout (``<coverage_dir>/<test index>/<object path>.gcda``); return the problems."""
        return []

    def exit_reason(self, returncode: int | None) -> str | None:
        """What an exit status means on this platform (a target's fault status), if special."""
        return None

    def versions(self) -> dict[str, str]:
        """First line of ``--version`` of every tool of the profile."""
        out: dict[str, str] = {}
        for tool in dict.fromkeys((self.cc, self.cxx, *(t for t in (self.gcov,) if t), *self.tools)):
            out[tool] = tool_version(tool)
        return out


def tool_version(tool: str) -> str:
    """The first line a tool prints for ``--version``, or 'not installed'."""
    path = shutil.which(tool)
    if path is None:
        return "not installed"
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=20, check=False, errors="replace"
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def stamp_version(stamp: str) -> tuple[int, int] | None:
    """(major, minor) of the GCC that wrote a notes file, from its version stamp ('B22*' -> (12, 2))."""
    if len(stamp) != 4 or not ("A" <= stamp[0] <= "Z") or not stamp[1].isdigit() or not stamp[2].isdigit():
        return None
    return (ord(stamp[0]) - ord("A")) * 10 + int(stamp[1]), int(stamp[2])


def require_matching_gcov(gcov: str, stamp: str) -> None:
    """Refuse a gcov that is not the one of the compiler that wrote the coverage notes.

    gcov (and gcovr, which drives it) misreads notes of another GCC version, or of another
    compiler's gcov-compatible mode, without failing; covguard checks before it uses one.
    """
    want = stamp_version(stamp)
    line = tool_version(gcov)
    if line in ("not installed", "unknown"):
        raise ToolError(f"'{gcov}' is {line}", hint="install the gcov of the compiler that built the code")
    numbers = re.findall(r"(\d+)\.(\d+)(?:\.\d+)?", line)
    got = (int(numbers[-1][0]), int(numbers[-1][1])) if numbers else None
    is_gcc = "gcov" in line.lower() and "llvm" not in line.lower()
    if want is None or got is None or not is_gcc or got != want:
        shown = f"{want[0]}.{want[1]}" if want else f"stamp '{stamp}'"
        raise ToolError(
            f"'{gcov}' reports \"{line}\" but the coverage notes were written by GCC {shown}",
            hint="use the gcov of the compiler that built the code (gcov-12 for gcc-12, arm-none-eabi-gcov "
            "for arm-none-eabi-gcc)",
        )
