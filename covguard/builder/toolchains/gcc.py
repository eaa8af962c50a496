"""``host-gcc``, the reference profile: GCC's ``--coverage`` on the build machine, tests run as
ordinary processes."""

from __future__ import annotations

from covguard.builder.toolchains.base import Toolchain
from covguard.builder.toolchains.unity_hooks import HostGcc


def host_gcc(cc: str = "", cxx: str = "") -> Toolchain:
    return HostGcc(
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
