"""covguard's compiler wrapper: the build's CC/CXX while `covguard build` runs.

It is started for every compiler invocation of the firmware's build, so it is kept small and
free of imports beyond the standard library (run as ``python -I -S``: about 15 ms).  It:

1. records the invocation (working folder, arguments, sources, output, SHA-256 of each source
   at compile time) as one JSON file in the log folder: covguard turns these into
   ``compile_commands.json`` and the build manifest;
2. appends covguard's coverage flags after the build's own flags, so they win (``-O0`` after a
   build's ``-O2``), and defines ``COVGUARD_COVERAGE_GCOV``/``COVGUARD_COVERAGE_LLVM`` for the
   harness; only sources that match the instrumentation globs get coverage flags, while a cross
   toolchain's machine flags (``-mcpu=cortex-m3 -mthumb``) go to every compile and link;
3. replaces itself with the real compiler (``exec``), so exit status, signals and output are the
   compiler's own.

Why a wrapper rather than ``CFLAGS=...`` on the make command line: overriding CFLAGS replaces the
Makefile's own flags (include paths, defines, warnings) and breaks the build; a wrapper appends to
whatever the build passes, works with any build system that honours CC, and can record exactly
what was compiled.

Configuration comes from the JSON file named by ``COVGUARD_CC_CONFIG``; the launchers covguard
writes (``bin/cc``, ``bin/c++`` in the work folder) call ``ccwrap.py cc|c++ ARGS...``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import sys
import time

SOURCE_EXTENSIONS = (".c", ".cc", ".cpp", ".cxx", ".c++", ".C", ".s", ".S", ".sx")
# options whose value is the next argument
TAKES_VALUE = {
    "-o", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote", "-idirafter", "-MF",
    "-MT", "-MQ", "-x", "-L", "-l", "-T", "-Xlinker", "-Xassembler", "-Xpreprocessor", "-aux-info",
    "--param", "-arch", "-target", "--sysroot", "-specs", "-e", "-u", "-z",
}  # fmt: skip
ONLY_PREPROCESS = {"-E", "-M", "-MM"}


def classify(args: list[str]) -> tuple[str, list[str], str | None]:
    """(mode, sources, output) of a compiler command line; mode: compile, link, build, other."""
    sources: list[str] = []
    output: str | None = None
    compile_only = False
    preprocess = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in TAKES_VALUE:
            if a == "-o" and i + 1 < len(args):
                output = args[i + 1]
            i += 2
            continue
        if a.startswith("-o") and len(a) > 2:
            output = a[2:]
        elif a in ("-c", "-S"):
            compile_only = True
        elif a in ONLY_PREPROCESS:
            preprocess = True
        elif not a.startswith("-") and a.endswith(SOURCE_EXTENSIONS):
            sources.append(a)
        i += 1
    if preprocess:
        return "other", sources, output
    if compile_only:
        return "compile", sources, output
    if sources:
        return "build", sources, output
    if any(a in ("--version", "-v", "-dumpversion", "-dumpmachine", "--help") for a in args):
        return "other", sources, output
    return "link", sources, output


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _instrumented(source: str, cwd: str, cfg: dict[str, object]) -> bool:
    """Whether ``source`` gets coverage: inside the root, not in the work folder (CMake's compiler
    probes, generated files), matching ``instrument`` and the project's source and test globs
    (``analysed``: never a configure check such as autoconf's conftest.c)."""
    full = os.path.normpath(os.path.join(cwd, source))
    for skip in cfg.get("skip", []):  # type: ignore[attr-defined]
        if full == skip or full.startswith(skip.rstrip(os.sep) + os.sep):
            return False
    rel = os.path.relpath(full, str(cfg["root"]))
    if rel.startswith(".."):
        return False
    rel = rel.replace(os.sep, "/")
    analysed = cfg.get("analysed")
    if analysed is not None and not re.fullmatch(str(analysed) or "(?!)", rel):
        return False
    return any(fnmatch.fnmatchcase(rel, p) for p in cfg["instrument"])  # type: ignore[attr-defined]


_COMPILING = (
    "--coverage",
    "-fprofile-arcs",
    "-ftest-coverage",
    "-fprofile-instr-generate",
    "-fcoverage-mapping",
)


def _runtime_only(link_flags: list[str]) -> list[str]:
    """The link flags of a compile-and-link whose sources get no coverage: the coverage run-time
    (other objects may carry coverage) without the options that would also instrument the sources."""
    out = [f for f in link_flags if f not in _COMPILING]
    return [*out, "-lgcov"] if "--coverage" in link_flags else out


def main(argv: list[str]) -> int:
    config_path = os.environ.get("COVGUARD_CC_CONFIG")
    if not config_path:
        sys.stderr.write("covguard-cc: COVGUARD_CC_CONFIG is not set (run through 'covguard build')\n")
        return 2
    with open(config_path, encoding="utf-8") as handle:
        cfg = json.load(handle)
    if len(argv) < 2:
        sys.stderr.write("covguard-cc: usage: ccwrap.py cc|c++ ARGS...\n")
        return 2
    compiler = cfg["cxx_compiler"] if argv[1] == "c++" else cfg["compiler"]
    args = argv[2:]
    mode, sources, output = classify(args)
    cwd = os.getcwd()
    extra: list[str] = []
    instrumented = False
    if mode in ("compile", "build"):
        # one compile-and-link of several sources is one command: coverage for all or none
        instrumented = any(_instrumented(s, cwd, cfg) for s in sources)
        if instrumented:
            extra = list(cfg["compile_flags"]) + list(cfg["defines"])
        if mode == "build":
            extra += list(cfg["link_flags"]) if instrumented else _runtime_only(cfg["link_flags"])
    elif mode == "link":
        extra = list(cfg["link_flags"])
    # a cross toolchain's machine flags (-mcpu=...) go to every invocation, instrumented or not
    command = [compiler, *args, *cfg.get("machine_flags", []), *extra]
    if mode != "other":
        record = {
            "directory": cwd,
            "arguments": command,
            "mode": mode,
            "sources": [
                {"file": s, "sha256": _digest(os.path.join(cwd, s)), "instrumented": instrumented}
                for s in sources
            ],
            "output": output,
        }
        log_dir = cfg["log_dir"]
        name = f"{os.getpid()}-{time.time_ns()}.json"
        tmp = os.path.join(log_dir, f".{name}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(tmp, os.path.join(log_dir, name))
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"covguard-cc: cannot run the compiler '{command[0]}': {exc.strerror}\n")
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
