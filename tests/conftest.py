"""Shared test helpers: toolchain requirements, building C fixtures with the real compilers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = ROOT / "sample_firmware"
RUNTIME = ROOT / "covguard" / "runtime"
CRASHY = FIXTURES / "projects" / "crashy"  # a project whose tests crash and hang

# what each toolchain needs, and the Debian package that provides it
TOOLS = {
    "gcc": ("gcc", "gcc"),
    "gcov": ("gcov", "gcc"),
    "gcov-tool": ("gcov-tool", "gcc"),
    "make": ("make", "make"),
    "clang-19": ("clang-19", "clang-19 llvm-19 libclang-rt-19-dev"),
    "llvm-cov-19": ("llvm-cov-19", "llvm-19"),
    "arm-none-eabi-gcc": ("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi"),
    "arm-none-eabi-gcov": ("arm-none-eabi-gcov", "gcc-arm-none-eabi"),
    "qemu-system-arm": ("qemu-system-arm", "qemu-system-arm"),
    "chromium": ("chromium", "chromium"),
    "lcov": ("lcov", "lcov"),
}


def require(*tools: str) -> None:
    """Skip the test when a tool is missing - or fail, when COVGUARD_REQUIRE_TOOLCHAINS=1 (CI)."""
    for tool in tools:
        exe, package = TOOLS.get(tool, (tool, tool))
        if shutil.which(exe) is None:
            message = (
                f"{exe} is not installed (apt-get install --no-install-recommends {package}; make bootstrap)"
            )
            if os.environ.get("COVGUARD_REQUIRE_TOOLCHAINS") == "1":
                pytest.fail(message)
            pytest.skip(message)


def run(cmd: Sequence[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command; fail the test with its output when it fails."""
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False, errors="replace"
    )
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def update_references() -> bool:
    """Golden files are rewritten instead of compared when COVGUARD_UPDATE_REFERENCES=1."""
    return os.environ.get("COVGUARD_UPDATE_REFERENCES") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-references",
        action="store_true",
        default=False,
        help="rewrite golden reference files from the current output instead of comparing",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--update-references"):
        os.environ["COVGUARD_UPDATE_REFERENCES"] = "1"


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`covguard run` on the sample firmware, once per session (work and output folders in tmp)."""
    from covguard import api
    from covguard.config import load_settings

    require("gcc", "make", "arm-none-eabi-gcc")  # the sample's product image is a Cortex-M3 one
    tmp = tmp_path_factory.mktemp("sample")
    settings = load_settings(
        SAMPLE / "covguard.toml", overrides={"work_dir": str(tmp / "work"), "output_dir": str(tmp / "out")}
    )
    return api.run(settings)


def covguard(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m covguard ARGS`` in ``cwd`` (the command line as a user runs it), never raising."""
    return subprocess.run(
        [sys.executable, "-m", "covguard", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
