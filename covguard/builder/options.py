"""What the build stage reads of the configuration: :class:`BuildOptions`, built from the settings
by :func:`covguard.options.build_options` (field names are the settings' attribute names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """The values the instrumented build, the product build, the toolchain profiles and the work
    area (:class:`~covguard.builder.area.Area`, test executables) read."""

    root: Path
    work_dir: Path
    config_path: Path | None
    toolchain: str
    variant: str
    sources: tuple[str, ...]
    exclude: tuple[str, ...]
    test_sources: tuple[str, ...]
    test_executables: tuple[str, ...]
    build_command: tuple[str, ...] | str | None
    build_env: dict[str, str]
    build_jobs: int
    build_compiler: str
    build_cxx_compiler: str
    build_coverage_flags: tuple[str, ...]
    build_link_flags: tuple[str, ...]
    build_instrument: tuple[str, ...]
    product_command: tuple[str, ...] | str | None
    product_compiler: str
    product_env: dict[str, str]
    product_map: str | None
    product_image: str | None

    @property
    def product_configured(self) -> bool:
        """Whether a product build is configured (else reachability stays unknown)."""
        return bool(self.product_command)

    def toolchain_dir(self) -> Path:
        """The work area of the toolchain profile and variant."""
        return self.work_dir / (
            self.toolchain if self.variant == "default" else f"{self.toolchain}-{self.variant}"
        )
