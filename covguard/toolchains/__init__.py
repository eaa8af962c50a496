"""Toolchain profiles: which compilers build the tests, how coverage is taken and where tests run.

Each profile is a :class:`Toolchain`.  ``host-gcc`` is the reference: GCC's ``--coverage`` on the
build machine, tests run as ordinary processes.  Later profiles (clang for MC/DC, Cortex-M on
QEMU) add their own module and register here.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from covguard.errors import ConfigError, ToolError

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"


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

    def check_installed(self) -> None:
        """Raise :class:`ToolError` naming the missing tool and the package to install."""
        for tool in (self.cc, *self.tools):
            if shutil.which(tool) is None:
                raise ToolError(
                    f"'{tool}' is not installed (needed by the {self.name} toolchain)",
                    hint=self.install_hint or f"install {tool}",
                )

    def run_command(self, executable: Path) -> list[str]:
        """The command that runs one test executable."""
        return [str(executable)]

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


def host_gcc(cc: str = "", cxx: str = "") -> Toolchain:
    return Toolchain(
        name="host-gcc",
        origin="host",
        cc=cc or "gcc",
        cxx=cxx or "g++",
        coverage="gcov",
        gcov="gcov",
        defines=("-DCOVGUARD_COVERAGE_GCOV",),
        install_hint="apt-get install gcc (Debian) - or run 'make test', whose bootstrap installs it",
        tools=("gcov",),
    )


_PROFILES: dict[str, Callable[[str, str], Toolchain]] = {"host-gcc": host_gcc}


def register(name: str, factory: Callable[[str, str], Toolchain]) -> None:
    _PROFILES[name] = factory


def get_toolchain(name: str, cc: str = "", cxx: str = "") -> Toolchain:
    factory = _PROFILES.get(name)
    if factory is None:
        raise ConfigError(
            f"toolchain '{name}' is not available in this version of covguard",
            hint=f"use one of: {', '.join(sorted(_PROFILES))}",
        )
    return factory(cc, cxx)
