"""The installed wheel, not the source tree: build covguard's wheel (``pip wheel``), install it into a
fresh virtual environment, and run the sample firmware from that installation on every toolchain
profile (host-gcc, host-clang, cortex-m3-qemu).  The editable install the other tests use cannot
see package data missing from the wheel (the Cortex-M start-up code once was).

covguard's own dependencies (pandas, lxml, gcovr, ...) are taken from the test environment through
a ``.pth`` line: the wheel's ``covguard`` package comes first on the fresh environment's path, and
the test checks that it is the one imported (a path line does not run the editable install's own
``.pth`` hooks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, require

PROFILES = {
    "host-gcc": ("gcc", "make", "arm-none-eabi-gcc"),
    "host-clang": ("clang-19", "llvm-cov-19", "make", "arm-none-eabi-gcc"),
    "cortex-m3-qemu": ("arm-none-eabi-gcc", "qemu-system-arm", "make"),
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``python`` of a fresh venv with covguard's wheel installed (not editable)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a clean copy: no build/ or egg-info left in the worktree
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".git",
            "tests",
            "bench",
            "build",
            "*.egg-info",
            ".*cache",
            ".covguard",
            "covguard-report",
        ),
    )
    dist = tmp / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("covguard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "covguard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    missing = [n for n in tracked if n not in names]
    assert missing == [], f"files of the package missing from the wheel: {missing}"
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "covguard-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run(
        [str(python), "-c", "import covguard; print(covguard.__file__)"],
        cwd=tmp,  # not the source tree, which '' on the path would find first
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where  # the wheel's copy, not the source tree
    return python


@pytest.mark.slow
@pytest.mark.parametrize("profile", list(PROFILES))
def test_the_wheel_runs_the_sample(installed: Path, profile: str, tmp_path: Path) -> None:
    require(*PROFILES[profile])
    project = tmp_path / "sample"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("build", ".covguard", "covguard-report"))
    bindir = installed.parent
    proc = subprocess.run(
        [str(bindir / "covguard"), "run", "--toolchain", profile],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the sample's planted defects fail the gate
    assert "Traceback" not in proc.stderr
    findings = json.loads((project / "covguard-report" / "findings.json").read_text(encoding="utf-8"))
    assert any(f["kind"] == "rogue" and f["function"] == "cmd_factory_bolus" for f in findings["findings"])
    assert findings["summary"]["tests"]["total"] > 60
    runtime = subprocess.run(
        [str(bindir / "covguard"), "runtime-dir"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert runtime.startswith(str(installed.parent.parent))
    assert (Path(runtime) / "cortex_m" / "cg_startup.c").is_file()
