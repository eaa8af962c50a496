"""`covguard init`: look at a source tree, guess its build and tests, write a commented covguard.toml.

The guesses come from files every build system leaves at the top of a tree (``CMakeLists.txt``,
``SConstruct``, ``configure``/``configure.ac``, ``Makefile``), from the folders that hold the
code (``src/``, ``lib/``, else the C files at the top) and the tests (``tests/``, ``test/``,
``unittests/``...), and from the headers the tests include (``unity.h``, ``covguard_test.h``,
``CppUTest``, ``gtest/gtest.h``, ``cmocka.h``, ``check.h``).  Nothing is run or built: the user
checks the printed guesses and the file, then runs ``covguard build``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from covguard.config import CONFIG_FILE
from covguard.errors import ConfigError
from covguard.files import write_text

C_SOURCES = (".c", ".cc", ".cpp", ".cxx")
TEST_FOLDERS = ("tests", "test", "unittests", "unit_tests", "utest", "testing")
CODE_FOLDERS = ("src", "source", "lib", "firmware", "app", "core")
FRAMEWORKS = (  # (name, pattern in a test file)
    ("covguard harness", re.compile(rb'#\s*include\s*[<"]covguard_test\.h[>"]')),
    ("Unity", re.compile(rb'#\s*include\s*[<"](?:[\w/]*/)?unity\.h[>"]')),
    ("CppUTest", re.compile(rb'#\s*include\s*[<"]CppUTest/')),
    ("GoogleTest", re.compile(rb'#\s*include\s*[<"]gtest/gtest\.h[>"]')),
    ("cmocka", re.compile(rb'#\s*include\s*[<"]cmocka\.h[>"]')),
    ("Check", re.compile(rb'#\s*include\s*[<"]check\.h[>"]')),
)
_MAX_SCAN = 2000  # test files read for framework headers
_HEAD = 64 * 1024  # bytes read of each


@dataclass
class Guess:
    """What :func:`guess` found in a tree, and what the user must check."""

    build_system: str
    command: str
    executables: list[str]
    sources: list[str]
    test_sources: list[str]
    framework: str
    requirements: list[str]
    checks: list[str] = field(default_factory=list)


def _first_dir(root: Path, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if (root / n).is_dir()), None)


def _build(root: Path, tests: str | None) -> tuple[str, str, list[str], list[str]]:
    """(build system, command, executables, checks)."""
    exe_dir = f"{{build_dir}}/{tests}/*" if tests else "{build_dir}/**/test*"
    if (root / "CMakeLists.txt").is_file():
        generator = " -G Ninja" if _which("ninja") else ""
        # CMake mirrors the source folders: a tests/ with its own CMakeLists.txt builds into tests/
        mirrored = tests is not None and (root / tests / "CMakeLists.txt").is_file()
        return (
            "CMake",
            f"cmake -S . -B {{build_dir}}{generator} && cmake --build {{build_dir}} -j {{jobs}}",
            [exe_dir if mirrored else "{build_dir}/*test*"],
            [
                "the CMake options that turn the tests on (e.g. -DBUILD_TESTING=ON) in 'build.command'",
                "'test.executables': where the test programs land in the build folder",
            ],
        )
    if (root / "SConstruct").is_file():
        reads = b"ARGUMENTS" in (root / "SConstruct").read_bytes()[:_HEAD]
        return (
            "SCons",
            "scons -Q -j {jobs} CC={cc} CXX={cxx}",
            ["**/test*"],
            [
                "that the SConstruct takes CC and CXX from ARGUMENTS"
                + (
                    ""
                    if reads
                    else " (it does not read ARGUMENTS: add Environment(CC=ARGUMENTS.get('CC', 'gcc')))"
                ),
                "where the variant build puts the test programs ('test.executables'), and put SCons's "
                "signature file there too (SConsignFile)",
            ],
        )
    if (root / "configure").is_file() or (root / "configure.ac").is_file():
        configure = "./configure" if (root / "configure").is_file() else "autoreconf -fi && ./configure"
        return (
            "autoconf",
            f"{configure} CC={{cc}} CXX={{cxx}} && make -j{{jobs}}",
            ["**/test*"],
            [
                "that configure's checks pass with covguard's compiler (they get no coverage)",
                "'test.executables': configure builds in the source tree; an out-of-tree build is "
                "'cd {build_dir} && {root}/configure ...'",
            ],
        )
    for name in ("GNUmakefile", "makefile", "Makefile"):
        if (root / name).is_file():
            text = (root / name).read_bytes()[:_HEAD]
            target = "tests" if re.search(rb"^tests?\s*:", text, re.MULTILINE) else ""
            target = "test" if not target and re.search(rb"^test\s*:", text, re.MULTILINE) else target
            dir_var = b"BUILD_DIR" in text
            command = (
                "make -j{jobs}"
                + (f" {target}" if target else "")
                + (" BUILD_DIR={build_dir}" if dir_var else "")
            )
            checks = ["the make target that builds the test programs without running them"]
            if not dir_var:
                checks.append(
                    "the Makefile has no BUILD_DIR: objects land in the source tree; 'test.executables' "
                    "names them there"
                )
            return "make", command, [exe_dir if dir_var else "**/test*"], checks
    return "unknown", "make", [exe_dir], ["no build system found: write 'build.command'"]


def _which(tool: str) -> bool:
    return any(
        os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep)
    )


def _framework(root: Path, test_dirs: list[str]) -> str:
    seen = 0
    for folder in test_dirs:
        for dirpath, dirs, files in os.walk(root / folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if not name.endswith((*C_SOURCES, ".h", ".hpp")):
                    continue
                seen += 1
                if seen > _MAX_SCAN:
                    return "unknown"
                try:
                    with open(os.path.join(dirpath, name), "rb") as handle:
                        head = handle.read(_HEAD)
                except OSError:
                    continue
                for framework, pattern in FRAMEWORKS:
                    if pattern.search(head):
                        return framework
    return "unknown"


def _requirements(root: Path) -> list[str]:
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_file()
        and (p.suffix in (".reqif", ".reqifz") or (p.suffix == ".csv" and "req" in p.name.lower()))
    )


def guess(root: Path) -> Guess:
    """Guess the build, the code, the tests and their framework of the tree at ``root``."""
    tests = _first_dir(root, TEST_FOLDERS)
    code = _first_dir(root, CODE_FOLDERS)
    if code:
        sources = [f"{code}/**"]
    else:
        sources = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix in C_SOURCES)
        sources = [s for s in sources if not re.match(r"(test|conftest)", s)] or ["src/**"]
    system, command, executables, checks = _build(root, tests)
    framework = _framework(root, [tests] if tests else [])
    requirements = _requirements(root)
    if not requirements:
        checks.append(
            "requirements: none found; write requirements.csv (id,title,safety_class) or name your "
            ".reqif export before 'covguard run' (build and test run without)"
        )
    if framework in ("unknown", "Check", "cmocka", "GoogleTest", "CppUTest"):
        checks.append(f"test framework: {framework}; see the README for how covguard reads its results")
    return Guess(
        build_system=system,
        command=command,
        executables=executables,
        sources=sources,
        test_sources=[f"{tests}/**"] if tests else ["tests/**"],
        framework=framework,
        requirements=requirements or ["requirements.csv"],
        checks=checks,
    )


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "]"


def render(g: Guess) -> str:
    """The commented covguard.toml of a guess."""
    command = g.command.replace("\\", "\\\\").replace('"', '\\"')
    return f"""# covguard.toml written by 'covguard init' - check every line marked CHECK.
# Build system: {g.build_system}; test framework: {g.framework}.

# the product code analysed (globs relative to this file)
sources = {_toml_list(g.sources)}
# the test code (where @verifies tags are read)
test_sources = {_toml_list(g.test_sources)}
# CHECK: requirement files (.csv with id,title,safety_class; .reqif; .reqifz)
requirements = {_toml_list(g.requirements)}

[build]
# runs through /bin/sh: '&&' and 'cd' work; {{cc}}, {{cxx}}, {{build_dir}} and {{jobs}} are filled in.
# covguard's compiler wrapper reaches make and CMake through CC/CXX; SCons through CC={{cc}}.
# CHECK: the command that builds the test programs
command = "{command}"

[test]
# CHECK: the test programs
executables = {_toml_list(g.executables)}
timeout = 60
"""


def init(root: Path, *, force: bool = False) -> tuple[Path, Guess]:
    """Write ``covguard.toml`` in ``root`` from :func:`guess`; return its path and the guess."""
    target = root / CONFIG_FILE
    if target.exists() and not force:
        raise ConfigError(f"{target} exists already", hint="use 'covguard init --force' to replace it")
    g = guess(root)
    write_text(target, render(g))
    return target, g
