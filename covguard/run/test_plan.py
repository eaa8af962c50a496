"""The test invocations of a run: ``[[test.invocations]]``, CTest's tests and custom runners' cases,
with placeholders expanded and every path resolved and confined (see :mod:`covguard.run.invocations`)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

from covguard.builder.area import Area, expand, placeholders
from covguard.errors import ConfigError
from covguard.files import display_path
from covguard.run.ctest import ctest_invocations
from covguard.run.custom_runner import list_cases, runner_invocations
from covguard.run.invocations import (
    Invocation,
    Planned,
    build_invocations,
    build_runners,
    folder_name,
    not_run_case,
    unique_names,
)
from covguard.run.options import RunOptions
from covguard.trace.definitions import StrayTag


def configured(options: RunOptions) -> bool:
    """Whether any invocation source is configured (then no test executable is required)."""
    return bool(options.test_invocations or options.test_ctest or options.test_runners)


def _confined(path: Path, options: RunOptions, what: str) -> Path:
    real = path.resolve()
    if not any(real.is_relative_to(f.resolve()) for f in (options.root, options.work_dir)):
        raise ConfigError(
            f"{what} {path} is outside the project root and the work folder",
            path=options.config_path,
            hint="give a path inside the project",
        )
    return real


def _path(text: str, options: RunOptions, values: dict[str, str], what: str) -> Path:
    p = Path(expand(text, values, what))
    return p if p.is_absolute() else options.root / p


def _program(text: str, options: RunOptions, values: dict[str, str], what: str) -> str:
    word = expand(text, values, what)
    if "/" not in word:
        found = shutil.which(word)
        if found is None:
            raise ConfigError(f"{what}: no program '{word}' on the PATH", path=options.config_path)
        return found
    p = Path(word) if os.path.isabs(word) else options.root / word
    return str(p)


def _name_lines(options: RunOptions) -> dict[str, int]:
    """The line of each ``name = "..."`` in the configuration file (where an invocation is defined)."""
    try:
        text = options.config_path.read_text(encoding="utf-8") if options.config_path else ""
    except (OSError, UnicodeDecodeError):
        return {}
    found: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"\s*name\s*=\s*[\"'](?P<name>[^\"']*)[\"']", line)
        if m:
            found.setdefault(m["name"], n)
    return found


def _configured_invocations(options: RunOptions, values: dict[str, str]) -> list[Invocation]:
    out: list[Invocation] = []
    shown = display_path(options.config_path, options.root) if options.config_path else ""
    lines = _name_lines(options) if options.test_invocations else {}
    for i, inv in enumerate(build_invocations(options.test_invocations)):
        w = f"'test.invocations[{i}]"
        stdin = cwd = None
        if inv.stdin is not None:
            p = _confined(_path(inv.stdin, options, values, w + ".stdin'"), options, f"{w}.stdin'")
            if not p.is_file():
                raise ConfigError(f"{w}.stdin': no file {p}", path=options.config_path)
            stdin = str(p)
        if inv.cwd is not None:
            p = _confined(_path(inv.cwd, options, values, w + ".cwd'"), options, f"{w}.cwd'")
            if not p.is_dir():
                raise ConfigError(f"{w}.cwd': no folder {p}", path=options.config_path)
            cwd = str(p)
        out.append(
            replace(
                inv,
                program=_program(inv.program, options, values, w + ".program'"),
                args=tuple(expand(a, values, w + ".args'") for a in inv.args),
                env=tuple((k, expand(v, values, f"{w}.env.{k}'")) for k, v in inv.env),
                stdin=stdin,
                cwd=cwd,
                file=shown,
                line=lines.get(inv.name, 0),
                folder=folder_name("invocation", i, inv.name),
            )
        )
    return out


def _runner_cases(
    options: RunOptions, values: dict[str, str], env_base: dict[str, str], stray: list[StrayTag]
) -> list[Invocation]:
    out: list[Invocation] = []
    for i, runner in enumerate(build_runners(options.test_runners)):
        w = f"'test.runners[{i}]"
        cwd: str | None = None
        if runner.cwd is not None:
            p = _confined(_path(runner.cwd, options, values, w + ".cwd'"), options, f"{w}.cwd'")
            if not p.is_dir():
                raise ConfigError(f"{w}.cwd': no folder {p}", path=options.config_path)
            cwd = str(p)
        env = {**env_base, **{k: expand(v, values, f"{w}.env.{k}'") for k, v in runner.env}}
        listing = [_program(runner.list[0], options, values, w + ".list'")]
        listing += [expand(a, values, w + ".list'") for a in runner.list[1:]]
        run = [_program(runner.run[0], options, values, w + ".run'")]
        run += [expand(a, {**values, "case": "{case}"}, w + ".run'") for a in runner.run[1:]]
        timeout = runner.timeout or float(options.test_timeout)
        folder = Path(cwd) if cwd else Path(listing[0]).parent
        cases = list_cases(runner, listing, cwd=folder, env=env, timeout=timeout)
        invs = runner_invocations(
            runner,
            cases,
            run,
            root=options.root,
            cwd=cwd,
            id_pattern=options.tags_id_pattern,
            index=i,
            stray=stray,
        )
        out += [
            replace(inv, env=tuple((k, expand(v, values, w + ".env'")) for k, v in runner.env))
            for inv in invs
        ]
    return out


def plan(options: RunOptions, area: Area, env_base: dict[str, str]) -> Planned:
    """Every configured invocation, CTest test and runner case; tests not run listed apart."""
    values = placeholders(options.build, area)
    invocations = _configured_invocations(options, values)
    stray: list[StrayTag] = []
    if options.test_ctest:
        build_dir = _path(options.test_ctest, options, values, "'test.ctest'")
        invocations += ctest_invocations(
            build_dir,
            root=options.root,
            work_dir=options.work_dir,
            id_pattern=options.tags_id_pattern,
            args=[expand(a, values, "'test.ctest_args'") for a in options.test_ctest_args],
            stray=stray,
        )
    invocations += _runner_cases(options, values, env_base, stray)
    unique_names([inv.name for inv in invocations], "in the invocations, CTest tests and runner cases")
    planned = Planned(stray=stray)
    for inv in invocations:
        if inv.skip or inv.not_available:
            shown = display_path(inv.program, options.root) if inv.program else inv.name
            planned.not_run.append(not_run_case(inv, shown))
        else:
            planned.invocations.append(inv)
    return planned


__all__ = ["configured", "plan"]
