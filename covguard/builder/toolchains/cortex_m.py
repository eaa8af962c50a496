"""The ``cortex-m3-qemu`` profile: the firmware's unit tests cross-compiled for an Arm Cortex-M3
and run on QEMU's ``mps2-an385`` board, with per-test coverage brought back through semihosting.

How it works (measured facts in ``/work/shared/FIELD-NOTES.md``):

* **Build.**  covguard's compiler wrapper calls ``arm-none-eabi-gcc`` with the machine flags
  (``-mcpu=cortex-m3 -mthumb``, and ``-DCG_NO_HOSTED_PLATFORM`` so the harness leaves out its
  hosted hooks) on every compile and link, and ``--coverage -fprofile-info-section=gcov_info``
  on instrumented sources.  Every test image is linked with newlib's semihosting start-up
  (``--specs=rdimon.specs``), libgcov, and covguard's Cortex-M run-time
  (``covguard/runtime/cortex_m``, compiled once per build into the work area): a vector table
  placed at address 0, a fault handler that reports the fault and exits with
  :data:`FAULT_STATUS`, and the harness's platform hooks (console, clock, per-test coverage,
  first test).  Debian's arm-none-eabi libgcov cannot write files, so the run-time turns each
  object's ``gcov_info`` into ``.gcda`` bytes with ``__gcov_info_to_gcda`` and streams them to
  the host through semihosting file calls.
* **Run.**  :meth:`CortexM3Qemu.run_command` starts ``qemu-system-arm`` with semihosting on and
  the console on QEMU's standard output; the image reads the index of its first test and the
  coverage folder from the semihosting command line.  The runner enforces the timeout (a hung
  image is killed with its process group) and restarts the image after a test that hung or
  faulted, as on the host.
* **Coverage.**  The image writes one stream file per test, ``<coverage dir>/<index>.cgcov``
  (semihosting cannot create folders); :meth:`CortexM3Qemu.after_run` unpacks it into
  ``<coverage dir>/<index>/<object path>.gcda``, the layout of a host run, so covguard's own
  decoder reads target and host data alike.  ``arm-none-eabi-gcov`` is the matching gcov (the
  notes carry the same GCC 12 version stamp as the host's, but only the cross gcov is
  guaranteed to match the cross compiler); the tests check covguard's numbers against it.

Every coverage row of a run with this profile has the origin ``qemu-cortex-m3``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from covguard.builder.toolchains.base import RUNTIME_DIR, Toolchain
from covguard.errors import BuildError, ToolError
from covguard.ingest.cgcov import StreamError, read_stream

NAME = "cortex-m3-qemu"
ORIGIN = "qemu-cortex-m3"
TARGET_RUNTIME = RUNTIME_DIR / "cortex_m"
RUNTIME_SOURCES = ("cg_startup.c", "cg_platform.c")
FAULT_STATUS = 250  # CG_TARGET_FAULT_STATUS in runtime/cortex_m/cg_semihost.h
PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
INSTALL_HINT = (
    f"apt-get install --no-install-recommends {PACKAGES} (Debian) - or run 'make bootstrap', "
    "which installs them"
)


@dataclass(frozen=True)
class CortexM3Qemu(Toolchain):
    """Cortex-M3 tests on QEMU (see the module documentation)."""

    qemu: str = "qemu-system-arm"
    board: str = "mps2-an385"
    cpu: str = "cortex-m3"

    def check_installed(self) -> None:
        super().check_installed()
        probe = subprocess.run(
            [self.cc, *self.machine_flags, "--specs=rdimon.specs", "-print-file-name=rdimon-crt0.o"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0 or not Path(probe.stdout.strip()).is_absolute():
            raise ToolError(
                "newlib's semihosting start-up (rdimon-crt0.o) is missing for arm-none-eabi-gcc",
                hint=INSTALL_HINT,
            )

    def prepare_runtime(self, folder: Path) -> tuple[str, ...]:
        """Compile the start-up code and the platform hooks (without coverage) into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        objects: list[str] = []
        for name in RUNTIME_SOURCES:
            source = TARGET_RUNTIME / name
            obj = folder / (Path(name).stem + ".o")
            command = [
                self.cc,
                *self.machine_flags,
                "-std=c99",
                "-O1",
                "-g",
                "-Wall",
                "-Wextra",
                f"-I{RUNTIME_DIR}",
                f"-I{TARGET_RUNTIME}",
                "-c",
                str(source),
                "-o",
                str(obj),
            ]
            try:
                proc = subprocess.run(command, capture_output=True, text=True, check=False, errors="replace")
            except OSError as exc:
                raise ToolError(f"cannot run '{self.cc}': {exc.strerror}", hint=INSTALL_HINT) from None
            if proc.returncode != 0:
                raise BuildError(
                    f"covguard's Cortex-M run-time does not compile with {self.cc}:\n"
                    + (proc.stdout + proc.stderr).strip(),
                    path=source,
                    hint="arm-none-eabi-gcc 12 or 13 with newlib is needed (" + INSTALL_HINT + ")",
                )
            objects.append(str(obj))
        return (*objects, "-lgcov")

    def run_command(self, executable: Path, env: Mapping[str, str] | None = None) -> list[str]:
        """qemu-system-arm on the board, semihosting console on standard output."""
        env = env or {}
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", executable.name) or "test"
        config = f"enable=on,target=native,chardev=cgcon,arg={name}"
        coverage_dir = env.get("COVGUARD_COVERAGE_DIR")
        first = env.get("COVGUARD_FIRST_TEST", "0")
        nonce = re.sub(r"[^0-9A-Za-z]", "", env.get("COVGUARD_NONCE", ""))
        if coverage_dir or first != "0" or nonce:
            config += f",arg={int(first)}"
        if nonce:
            config += f",arg=@{nonce}"  # the run's nonce for the protocol lines (cg_platform.c)
        if coverage_dir:
            config += ",arg=" + coverage_dir.replace(",", ",,")  # QEMU's escape for a comma
        return [
            shutil.which(self.qemu) or self.qemu,
            "-M",
            self.board,
            "-cpu",
            self.cpu,
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-chardev",
            "stdio,id=cgcon,signal=off",
            "-semihosting-config",
            config,
            "-kernel",
            str(executable),
        ]

    def after_run(self, coverage_dir: Path) -> list[str]:
        return unpack_streams(coverage_dir)

    def exit_reason(self, returncode: int | None) -> str | None:
        if returncode == FAULT_STATUS:
            return (
                f"stopped by a fault on the target (covguard's fault handler exited with status "
                f"{FAULT_STATUS}; the fault is in the output)"
            )
        return None


def cortex_m3_qemu(cc: str = "", cxx: str = "") -> CortexM3Qemu:
    return CortexM3Qemu(
        name=NAME,
        origin=ORIGIN,
        cc=cc or "arm-none-eabi-gcc",
        cxx=cxx or "arm-none-eabi-g++",
        coverage="gcov",
        gcov="arm-none-eabi-gcov",
        compile_flags=("-fprofile-info-section=gcov_info",),
        link_flags=("--specs=rdimon.specs", "-Wl,--section-start=isr_vector=0"),
        machine_flags=("-mcpu=cortex-m3", "-mthumb", "-DCG_NO_HOSTED_PLATFORM"),
        defines=("-DCOVGUARD_COVERAGE_GCOV",),
        install_hint=INSTALL_HINT,
        tools=("arm-none-eabi-gcov", "qemu-system-arm"),
        coverage_from_target=True,
    )


# ---------------------------------------------------------------------------------------------
# coverage streams


def unpack_streams(coverage_dir: Path) -> list[str]:
    """Unpack every ``<index>.cgcov`` in ``coverage_dir`` into ``<index>/<gcda path>``.

    A stream that cannot be used is renamed ``<index>.cgcov.bad`` and reported; its test then has
    no coverage data, which the runner reports as missing.
    """
    problems: list[str] = []
    for stream in sorted(coverage_dir.glob("*.cgcov")):
        index = stream.stem
        try:
            if not index.isdigit():
                raise StreamError("its name is not <test index>.cgcov")
            files = read_stream(stream.read_bytes())
        except (OSError, StreamError) as exc:
            problems.append(f"the coverage the target wrote for test {index} is unusable ({stream}): {exc}")
            stream.replace(stream.with_name(stream.name + ".bad"))
            continue
        for path, data in files:  # work files, not outputs: no fsync per file
            target = coverage_dir / index / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        stream.unlink()
    return problems
