"""Toolchain profiles: which compilers build the tests, how coverage is taken and where tests run.

The registry of the extension point: :data:`PROFILES` maps each ``toolchain`` name to the factory
of its :class:`~covguard.builder.toolchains.base.Toolchain`.  ``host-gcc`` is the reference: GCC's
``--coverage`` on the build machine, tests run as ordinary processes.  A new profile is one module
beside these, with a factory ``(cc, cxx) -> Toolchain``, and one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from covguard.builder.options import BuildOptions
from covguard.builder.toolchains.base import Toolchain
from covguard.builder.toolchains.clang import host_clang
from covguard.builder.toolchains.cortex_m import cortex_m3_qemu
from covguard.builder.toolchains.gcc import host_gcc
from covguard.errors import ConfigError

# the ``toolchain`` setting's values: name -> factory (compiler, C++ compiler; "" for the default)
PROFILES: Mapping[str, Callable[[str, str], Toolchain]] = {
    "host-gcc": host_gcc,
    "host-clang": host_clang,
    "cortex-m3-qemu": cortex_m3_qemu,
}


def get_toolchain(name: str, cc: str = "", cxx: str = "") -> Toolchain:
    factory = PROFILES.get(name)
    if factory is None:
        raise ConfigError(
            f"toolchain '{name}' is not available in this version of covguard",
            hint=f"use one of: {', '.join(sorted(PROFILES))}",
        )
    return factory(cc, cxx)


def toolchain_for(options: BuildOptions) -> Toolchain:
    """The profile the options name, with the configured compilers."""
    return get_toolchain(options.toolchain, options.build_compiler, options.build_cxx_compiler)
