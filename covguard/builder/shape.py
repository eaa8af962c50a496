"""How a configured build command runs, and what a build must have compiled to be usable.

Commands
    A *string* ``build.command``/``product.command`` runs through ``/bin/sh -c``, as a make
    recipe does: ``&&``, ``cd dir``, ``VAR=x cmd`` and pipes work.  The placeholders (``{cc}``,
    ``{cxx}``, ``{build_dir}``, ``{jobs}``, ``{root}``, ``{work_dir}``, ``{runtime_dir}``) are
    replaced by their values *shell-quoted*, so a work folder with a space stays one word; the
    shell's own ``${VAR}`` is left alone, and ``{{``/``}}`` give literal braces.  A TOML *list*
    runs as it is, without a shell, one element per argument.

    The wrapper reaches the build through ``CC``/``CXX`` in the environment, and through
    ``MAKEFLAGS``: GNU make takes variable definitions in ``MAKEFLAGS`` as command-line ones, so
    every ``make`` of a string command - after a ``cd``, in a sub-make - uses covguard's
    ``CC``/``CXX`` over a Makefile's own ``CC = gcc``.  CMake takes the compiler from ``CC``/``CXX``
    when it configures a *fresh* build folder; ``{build_dir}`` is covguard's own folder (fresh at
    the first build and after ``--clean``, and the wrapper's path never changes), so nothing needs
    to be added.  SCons ignores the environment: write ``scons CC={cc} CXX={cxx}`` where the
    SConstruct reads ``ARGUMENTS`` (see the README).

Build checks
    :func:`notes_path` says where GCC writes a compile's notes file; :func:`notes_collisions`
    finds two different compiles writing the same one (SCons's ``x.o`` and ``x.os`` share
    ``x.gcno``); :func:`check_compiled` refuses a build that compiled none of the configured
    ``sources`` and lists the ``sources`` no compile saw.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from covguard.errors import BuildError, ConfigError
from covguard.files import display_path, glob_matcher

SHELL = "/bin/sh"
C_FAMILY = (".c", ".cc", ".cpp", ".cxx", ".c++", ".C")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|(?<!\$)\{(\w*)\}")


def shell_expand(text: str, values: Mapping[str, str], what: str) -> str:
    """``text`` with every ``{name}`` replaced by its shell-quoted value (``${VAR}`` untouched)."""

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = m.group(1)
        if name not in values:
            raise ConfigError(
                f"{what} uses an unknown placeholder {{{name}}}",
                hint="known placeholders: "
                + ", ".join("{" + k + "}" for k in values)
                + " (write {{ and }} for literal braces)",
            )
        return shlex.quote(values[name])

    return _PLACEHOLDER.sub(one, text)


def command_line(
    raw: str | Sequence[str], values: Mapping[str, str], what: str, wrappers: tuple[str, str]
) -> list[str]:
    """The argument vector of a configured command: ``/bin/sh -c TEXT`` for a string, the list
    itself otherwise (a list that starts with ``make`` gets ``CC=``/``CXX=`` arguments)."""
    if isinstance(raw, str):
        if not raw.strip():
            raise ConfigError(f"{what} is empty")
        return [SHELL, "-c", shell_expand(raw, values, what)]
    from covguard.builder.area import expand

    command = [expand(p, dict(values), what) for p in raw]
    if not command:
        raise ConfigError(f"{what} is an empty list")
    if Path(command[0]).name in ("make", "gmake"):
        command += [f"CC={wrappers[0]}", f"CXX={wrappers[1]}"]
    return command


def shown(command: Sequence[str]) -> str:
    """A command as the user wrote it: the script of ``sh -c``, else the quoted words."""
    if len(command) == 3 and command[0] == SHELL and command[1] == "-c":
        return command[2]
    return shlex.join(command)


def _make_word(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def wrapper_env(base: Mapping[str, str], cc: str, cxx: str) -> dict[str, str]:
    """``base`` with covguard's wrappers as ``CC``/``CXX`` and as make's command-line variables."""
    env = dict(base)
    env["CC"], env["CXX"] = cc, cxx
    ours = f"CC={_make_word(cc)} CXX={_make_word(cxx)}"
    flags = env.get("MAKEFLAGS", "").strip()
    env["MAKEFLAGS"] = f"{flags} {ours}" if flags else ours
    return env


# ---------------------------------------------------------------------------------------------
# notes files


def notes_path(directory: str, source: str, output: str | None, mode: str) -> str:
    """Where GCC (11 and later) writes the notes file of ``source`` compiled in ``directory``.

    ``-c -o OBJ``: ``OBJ`` with its last suffix replaced (``x.c.o`` -> ``x.c.gcno``, ``x.os`` ->
    ``x.gcno``); ``-c`` alone: ``<source stem>.gcno`` in the folder; a compile-and-link
    (``-o fw.elf a.c b.c``): ``fw.elf-a.gcno`` beside the output, one per source (``a-a.gcno``
    without ``-o``).
    """
    stem = Path(source).stem
    if mode == "compile":
        if output:
            return os.path.normpath(str(Path(os.path.join(directory, output)).with_suffix(".gcno")))
        return os.path.normpath(os.path.join(directory, stem + ".gcno"))
    out = os.path.normpath(os.path.join(directory, output or "a"))
    return f"{out}-{stem}.gcno"


def _differences(a: Sequence[str], b: Sequence[str]) -> str:
    only_a = [x for x in a if x not in b]
    only_b = [x for x in b if x not in a]
    parts = []
    if only_a:
        parts.append("only the first has " + " ".join(only_a))
    if only_b:
        parts.append("only the second has " + " ".join(only_b))
    return "; ".join(parts) or "their arguments are the same but in another order"


def notes_collisions(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Two different instrumented compiles (compile_commands entries) writing one notes file."""
    seen: dict[str, Mapping[str, Any]] = {}
    out: list[str] = []
    for e in entries:
        path = e.get("notes")
        if not e.get("instrumented") or not path:
            continue
        first = seen.get(str(path))
        if first is None:
            seen[str(path)] = e
            continue
        if list(first["arguments"]) == list(e["arguments"]) and first["directory"] == e["directory"]:
            continue  # the same compile twice (a compile-and-link of several sources): the same notes
        out.append(
            f"two compiles write the same coverage notes {path}:\n"
            f"    (in {first['directory']}) {shlex.join(first['arguments'])}\n"
            f"    (in {e['directory']}) {shlex.join(e['arguments'])}\n"
            f"  they differ in: {_differences(first['arguments'], e['arguments'])}"
        )
    return out


def collision_error(collisions: Sequence[str]) -> BuildError:
    return BuildError(
        f"{len(collisions)} notes file(s) written by two different compiles; the second overwrote the "
        "first, and both objects would write one .gcda:\n" + "\n".join(collisions[:5]),
        hint="give each compile an object name of its own stem (x.o and x.os share x.gcno: name the "
        "second x_pic.os, or put it in a folder of its own, e.g. a SCons variant_dir), or build only "
        "one of the variants for the tests; if one of them is left from an earlier build, "
        "'covguard build --clean'",
    )


# ---------------------------------------------------------------------------------------------
# what the build compiled


def _source_files(root: Path, patterns: Sequence[str], exclude: Sequence[str], skip: Path) -> list[str]:
    """The C/C++ files (not headers) on disk that ``patterns`` name, relative to ``root``."""
    match = glob_matcher(patterns, exclude)
    skip_shown = display_path(skip, root) + "/"
    found: set[str] = set()
    for pattern in patterns:
        base = root
        for part in Path(pattern).parts[:-1]:
            if any(c in part for c in "*?["):
                break
            base = base / part
        if not base.is_dir():
            continue
        for dirpath, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.endswith(C_FAMILY):
                    rel = display_path(os.path.join(dirpath, name), root)
                    if match(rel) and not rel.startswith(skip_shown):
                        found.add(rel)
    return sorted(found)


def check_compiled(
    entries: Sequence[Mapping[str, Any]],
    *,
    root: Path,
    sources: Sequence[str],
    exclude: Sequence[str],
    work_dir: Path,
) -> list[str]:
    """Raise :class:`BuildError` when the build compiled none of ``sources`` (naming what it did
    compile); return the ``sources`` on disk that no compile saw (the caller warns)."""
    match = glob_matcher(sources, exclude)
    compiled = sorted({display_path(str(e["file"]), root) for e in entries})
    ours = [f for f in compiled if match(f)]
    if not ours:
        what = ", ".join(compiled[:10]) + (f" and {len(compiled) - 10} more" if len(compiled) > 10 else "")
        raise BuildError(
            ("" if compiled else "the build produced no coverage notes: ")
            + "the build compiled none of the configured sources ("
            + ", ".join(sources)
            + ")"
            + (f"; it compiled {len(compiled)} other file(s): {what}" if compiled else ", nor anything else")
            + " through covguard's compiler wrapper",
            hint="check 'sources' and that the build compiles them with covguard's CC: make and CMake "
            "(on a fresh build folder, {build_dir}) take it from the environment; SCons needs "
            "'scons CC={cc} CXX={cxx}' and a SConstruct that reads ARGUMENTS; "
            "'covguard build --clean' forces a full rebuild",
        )
    return [f for f in _source_files(root, sources, exclude, work_dir) if f not in set(compiled)]
