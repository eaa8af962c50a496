"""The product build: the firmware as it ships, compiled with GCC's call-graph dumps.

Reachability is a property of the *product* firmware (its ``main``, vector table and interrupt
handlers), not of the unit tests, so it comes from a separate, configured build
(``product.command``, e.g. ``make firmware BUILD_DIR={build_dir}``).  covguard runs it the way it
runs the test build (:mod:`covguard.builder.instrumented`): its compiler wrapper is ``CC`` and appends flags
after the build's own, here ``-fdump-ipa-cgraph -fcallgraph-info`` (no coverage flags, so the
image is the one the build makes), and ``{build_dir}`` points into ``<work>/product/build``.  No
Makefile edit is needed.  When ``product.map`` is set the wrapper also adds ``-Wl,--cref`` to the
link, so the map lists who refers to each symbol.

Afterwards ``<work>/product/product.json`` records the units (source, folder, object, the dump
files), the image, the map and the compiler; :func:`load_product` reads it back for
``covguard analyse``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from covguard.builder.area import Area, expand, placeholders
from covguard.builder.instrumented import _read_cc_log, _tail, _write_launchers
from covguard.builder.options import BuildOptions
from covguard.builder.shape import command_line, shown, wrapper_env
from covguard.builder.toolchains import toolchain_for
from covguard.builder.toolchains.base import tool_version
from covguard.errors import BuildError, ConfigError, ToolError
from covguard.files import write_json, write_text
from covguard.trace.callgraph import DUMP_FLAGS, Unit

ASSEMBLER = (".s", ".S", ".sx")


class ProductArea(Area):
    """The product build's corner of the work folder: ``<work>/product``."""

    def __init__(self, options: BuildOptions) -> None:
        self.root = options.work_dir / "product"
        self.build_dir = self.root / "build"
        self.bin = self.root / "bin"
        self.cc_log = self.root / "cc-log"
        self.run_dir = self.root / "run"
        self.manifest = self.root / "product.json"
        self.compile_commands = self.root / "compile_commands.json"
        self.build_log = self.root / "build.log"
        self.results = self.root / "results.json"


@dataclass(frozen=True)
class ProductBuild:
    """What the product build made: its units with their call-graph dumps, the image, the map."""

    command: tuple[str, ...]
    compiler: str
    compiler_version: str
    duration_s: float
    units: tuple[Unit, ...]
    image: str | None
    map: str | None
    link_directory: str  # where the image was linked: the map's relative paths start there
    objects: dict[str, str] = field(default_factory=dict)  # object (absolute) -> its source
    assembler: tuple[str, ...] = ()  # sources the compiler assembled: no call graph


def _command(options: BuildOptions, area: ProductArea) -> list[str]:
    wrappers = (str(area.bin / "cc"), str(area.bin / "c++"))
    return command_line(
        options.product_command or "", placeholders(options, area), "'product.command'", wrappers
    )


def _path_option(options: BuildOptions, raw: str | None, key: str, area: ProductArea) -> str | None:
    if not raw:
        return None
    text = expand(str(raw), placeholders(options, area), f"'{key}'")
    return os.path.normpath(os.path.join(options.root, text))


def _dump_candidates(directory: str, source: str, output: str | None) -> list[tuple[str, str]]:
    """Where GCC 12 writes a unit's dumps: beside ``-o OBJ`` as ``<OBJ stem><source suffix>`` (the
    ``.ci`` file as ``<OBJ stem>.ci``); for a compile-and-link, ``<OUT>-<source stem>...``; without
    ``-o``, in the compile's folder, named after the source."""
    src = Path(source)
    out: list[tuple[str, str]] = []
    if output:
        obj = Path(os.path.normpath(os.path.join(directory, output)))
        stem = obj.with_suffix("")
        out.append((f"{stem}{src.suffix}.000i.cgraph", f"{stem}.ci"))
        out.append((f"{obj}-{src.name}.000i.cgraph", f"{obj}-{src.stem}.ci"))
    base = os.path.join(directory, src.stem)
    out.append((f"{base}{src.suffix}.000i.cgraph", f"{base}.ci"))
    return out


def _units(
    records: list[dict[str, Any]], skip: str = "\0"
) -> tuple[list[Unit], dict[str, str], list[str], list[str]]:
    units: dict[str, Unit] = {}
    objects: dict[str, str] = {}
    assembler: list[str] = []
    missing: list[str] = []
    for r in records:
        if r.get("mode") not in ("compile", "build"):
            continue
        directory = str(r["directory"])
        output = r.get("output")
        for item in r.get("sources", []):
            source = os.path.normpath(os.path.join(directory, item["file"]))
            if source.startswith(skip) or not os.path.isfile(source):
                continue  # a compiler probe in the work folder, a configure check's deleted conftest.c
            if source.endswith(ASSEMBLER):
                assembler.append(source)
                continue
            if output and r.get("mode") == "compile":
                objects[os.path.normpath(os.path.join(directory, str(output)))] = source
            found = [
                (d, i) for d, i in _dump_candidates(directory, item["file"], output) if os.path.isfile(d)
            ]
            if not found:
                missing.append(source)
                continue
            dump, info = found[0]
            # a compile-and-link of several sources has one output and one unit per source
            key = os.path.normpath(os.path.join(directory, str(output)) if output else source) + "\0" + source
            units[key] = Unit(source, directory, dump, info if os.path.isfile(info) else None)
    return sorted(units.values(), key=lambda u: (u.source, u.dump)), objects, sorted(set(assembler)), missing


def _link_directory(records: list[dict[str, Any]], image: str | None, root: Path) -> str:
    for r in records:
        out = r.get("output")
        if image and out and os.path.normpath(os.path.join(str(r["directory"]), str(out))) == image:
            return str(r["directory"])
    return str(root)


def build_product(options: BuildOptions, *, echo: Callable[[str], None] | None = None) -> ProductBuild:
    """Run the configured product build with the call-graph dumps; write and return its record."""
    area = ProductArea(options)
    compiler = options.product_compiler or toolchain_for(options).cc
    if shutil.which(compiler) is None:
        raise ToolError(
            f"the product compiler '{compiler}' is not installed",
            hint="install it (arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi), "
            "or set 'product.compiler'",
        )
    version = tool_version(compiler)
    if "clang" in version.lower():
        raise ConfigError(
            f"the product compiler '{compiler}' is clang; the call graph comes from GCC's -fdump-ipa-cgraph",
            hint="build the product with GCC for the reachability analysis ('product.compiler')",
        )
    if area.build_dir.exists():
        shutil.rmtree(area.build_dir)  # the dumps must be this build's: always a full build
    area.build_dir.mkdir(parents=True, exist_ok=True)
    if area.cc_log.exists():
        shutil.rmtree(area.cc_log)
    area.cc_log.mkdir(parents=True)
    map_file = _path_option(options, options.product_map, "product.map", area)
    image = _path_option(options, options.product_image, "product.image", area)
    cfg_file = area.root / "cc-config.json"
    write_json(
        cfg_file,
        {
            "compiler": compiler,
            "cxx_compiler": options.build_cxx_compiler or toolchain_for(options).cxx,
            "compile_flags": list(DUMP_FLAGS),
            "link_flags": ["-Wl,--cref"] if map_file else [],
            "defines": [],
            "log_dir": str(area.cc_log),
            "root": "/",
            "instrument": ["**"],
        },
    )
    _write_launchers(area, cfg_file)
    command = _command(options, area)
    env = wrapper_env(os.environ, str(area.bin / "cc"), str(area.bin / "c++"))
    values = placeholders(options, area)
    env.update({k: expand(v, values, f"'product.env.{k}'") for k, v in options.product_env.items()})
    if echo:
        echo("product build: " + shown(command))
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            command,
            cwd=options.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise BuildError(
            f"the product build command '{command[0]}' could not start: {exc.strerror}",
            hint="check 'product.command' in the configuration",
        ) from None
    duration = time.monotonic() - t0
    write_text(area.build_log, proc.stdout)
    if proc.returncode != 0:
        raise BuildError(
            f"the product build failed (exit status {proc.returncode}): {shown(command)}\n"
            + _tail(proc.stdout),
            hint=f"the full output is in {area.build_log}",
        )
    records = _read_cc_log(area)
    units, objects, assembler, missing = _units(records, str(options.work_dir.resolve()) + os.sep)
    if missing:
        raise BuildError(
            f"the product build compiled {len(missing)} source(s) without a call-graph dump "
            f"(e.g. {missing[0]})",
            hint="is the product compiler GCC, and does the build compile with $(CC)? covguard adds "
            "-fdump-ipa-cgraph through its wrapper",
        )
    if not units:
        raise BuildError(
            "the product build compiled nothing through covguard's wrapper",
            path=area.build_log,
            hint="the build must compile with $(CC) (covguard passes its wrapper) and write under "
            "$(BUILD_DIR)",
        )
    for what, path in (("image", image), ("map", map_file)):
        if path and not os.path.isfile(path):
            raise BuildError(
                f"the product build wrote no {what} at {path}",
                hint=f"check 'product.{what}' against what '{shown(command)}' writes",
            )
    product = ProductBuild(
        command=tuple(command),
        compiler=compiler,
        compiler_version=version,
        duration_s=round(duration, 3),
        units=tuple(units),
        image=image,
        map=map_file,
        link_directory=_link_directory(records, image, options.root),
        objects=objects,
        assembler=tuple(assembler),
    )
    write_json(area.manifest, asdict(product))
    return product


def load_product(options: BuildOptions) -> ProductBuild:
    """The record of the last product build."""
    area = ProductArea(options)
    if not area.manifest.is_file():
        raise BuildError(
            "the product firmware has not been built yet",
            path=area.manifest,
            hint="run 'covguard build' (or 'covguard run'): it builds the product when 'product.command' "
            "is set",
        )
    try:
        data = json.loads(area.manifest.read_text(encoding="utf-8"))
        data["command"] = tuple(data["command"])
        data["units"] = tuple(Unit(**u) for u in data["units"])
        data["assembler"] = tuple(data.get("assembler", ()))
        return ProductBuild(**data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise BuildError(
            f"the product build record is unreadable ({exc})",
            path=area.manifest,
            hint="run 'covguard build' again",
        ) from None
