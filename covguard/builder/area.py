"""The work area of one toolchain profile, and what a build leaves in it for the later stages:
its layout (:class:`Area`), the placeholders of configured commands, the build manifest, and the
test executables it made."""

from __future__ import annotations

import json
import os
from pathlib import Path

from covguard.builder.options import BuildOptions
from covguard.builder.toolchains.base import RUNTIME_DIR
from covguard.errors import BuildError, ConfigError
from covguard.model import BuildManifest


class Area:
    """The work area of one toolchain profile (and variant) inside the work folder."""

    def __init__(self, options: BuildOptions) -> None:
        self.root = options.toolchain_dir()
        self.build_dir = self.root / "build"
        self.bin = self.root / "bin"
        self.cc_log = self.root / "cc-log"
        self.run_dir = self.root / "run"
        self.manifest = self.root / "build.json"
        self.compile_commands = self.root / "compile_commands.json"
        self.build_log = self.root / "build.log"
        self.results = self.root / "results.json"
        self.model_cache = self.root / "coverage-model.bin"


def placeholders(options: BuildOptions, area: Area) -> dict[str, str]:
    return {
        "root": str(options.root),
        "work_dir": str(options.work_dir),
        "build_dir": str(area.build_dir),
        "runtime_dir": str(RUNTIME_DIR),
        "cc": str(area.bin / "cc"),
        "cxx": str(area.bin / "c++"),
        "jobs": str(options.build_jobs),
    }


def expand(text: str, values: dict[str, str], what: str) -> str:
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{what} uses an unknown placeholder {exc}",
            hint="known placeholders: " + ", ".join("{" + k + "}" for k in values),
        ) from None


def recorded_root(area: Area) -> str | None:
    """The project root the work area was built for (build.json, else cc-config.json), if recorded."""
    for record, key in ((area.manifest, "extra"), (area.root / "cc-config.json", None)):
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        table = data.get(key) if key and isinstance(data, dict) else data
        if isinstance(table, dict) and isinstance(table.get("root"), str):
            return str(table["root"])
    return None


def check_root(options: BuildOptions) -> None:
    """Refuse a work area built for another project root (a project copied or moved together with
    its work folder): its build records, notes and coverage data name the other tree, so every
    function would be missing and a rogue one unreported."""
    area = Area(options)
    recorded = recorded_root(area)
    if recorded is not None and os.path.normpath(recorded) != os.path.normpath(str(options.root)):
        raise BuildError(
            f"this work folder was built for another project root, {recorded}, not {options.root}: "
            "its build records, coverage notes and data name the other tree (was the project copied or "
            "moved together with its work folder?)",
            path=area.manifest if area.manifest.is_file() else area.root,
            hint="rebuild here with 'covguard build --clean' (or 'covguard run --clean'), or give this "
            "project a fresh work folder with --work-dir",
        )


def load_manifest(options: BuildOptions) -> BuildManifest:
    """The manifest of the last successful build of this toolchain profile."""
    area = Area(options)
    check_root(options)
    if not area.manifest.is_file():
        raise BuildError(
            "no complete build for this toolchain profile (nothing built yet, or the last build "
            "failed or was stopped)",
            path=area.manifest,
            hint="run 'covguard build' (or 'covguard run') first",
        )
    try:
        data = json.loads(area.manifest.read_text(encoding="utf-8"))
        data["command"] = tuple(data["command"])
        data["notes_files"] = tuple(data["notes_files"])
        return BuildManifest(**data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise BuildError(
            f"the build manifest is unreadable ({exc})",
            path=area.manifest,
            hint="run 'covguard build --clean'",
        ) from None


def _glob_abs(pattern: str) -> list[Path]:
    base = Path(pattern)
    anchor = Path(base.anchor or ".")
    rel = str(base.relative_to(anchor)) if base.is_absolute() else pattern
    return sorted(anchor.glob(rel)) if rel else []


def discover(options: BuildOptions, area: Area, *, required: bool = True) -> list[Path]:
    """The test executables matching ``test.executables`` (regular, executable files); none is an
    error only when ``required`` (no invocation, CTest or runner configured)."""
    values = placeholders(options, area)
    found: dict[str, Path] = {}
    patterns = [expand(p, values, "'test.executables'") for p in options.test_executables]
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(options.root / pattern)
        for path in _glob_abs(full):
            if path.is_file() and os.access(path, os.X_OK) and path.suffix not in (".o", ".gcno", ".gcda"):
                found[str(path)] = path
    if not found and required:
        raise ConfigError(
            "no test executables found matching " + ", ".join(repr(p) for p in patterns),
            path=options.config_path,
            hint="build them first (covguard build) and check 'test.executables' in the configuration",
        )
    return [found[k] for k in sorted(found)]
