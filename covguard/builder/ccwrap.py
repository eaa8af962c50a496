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

Usually ``bin/cc`` and ``bin/c++`` are covguard's native wrapper (``runtime/ccwrap.c``, see
:mod:`covguard.builder.native_cc`): it does the same for a compile of one source and for a
link without a test framework, appending its records to one log (:func:`read_native_log`), and
hands every other invocation to this script unchanged.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import struct
import subprocess
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


NATIVE_LOG = "native.log"  # the native wrapper's records, in the log folder
_MAGIC = b"CGW1"


def read_native_log(path: str, limit: int | None = None) -> list[tuple[int, int, dict[str, object]]]:
    """The native wrapper's records in ``path``: (time_ns, pid, record) with the record as this
    script writes it; ``limit``: read at most that many bytes (whole records).  Raises
    ``ValueError`` naming the byte offset of a damaged record (a write cut short: disk full)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read() if limit is None else handle.read(limit)
    except FileNotFoundError:
        return []
    out: list[tuple[int, int, dict[str, object]]] = []
    pos = 0
    while pos + 8 <= len(data):
        if data[pos : pos + 4] != _MAGIC:
            raise ValueError(f"no record starts at byte {pos}")
        (size,) = struct.unpack_from("<I", data, pos + 4)
        end = pos + 8 + size
        if end > len(data):
            if limit is not None:
                break
            raise ValueError(f"the record at byte {pos} is cut short")
        fields: list[str] = []
        at = pos + 8
        while at < end:
            (n,) = struct.unpack_from("<I", data, at) if at + 4 <= end else (end,)
            if at + 4 + n > end:
                raise ValueError(f"the record at byte {pos} is malformed")
            fields.append(os.fsdecode(data[at + 4 : at + 4 + n]))
            at += 4 + n
        try:
            mode, stamp, pid, cwd, output, count = fields[:6]
            n_src = int(count)
            if mode not in ("compile", "link") or n_src not in (0, 1) or output[:1] not in ("", "="):
                raise ValueError
            src = fields[6 : 6 + 3 * n_src]
            command = fields[6 + 3 * n_src :]
            if not command or len(src) != 3 * n_src:
                raise ValueError
            record: dict[str, object] = {
                "directory": cwd,
                "arguments": command,
                "mode": mode,
                "sources": [{"file": src[0], "sha256": src[1] or None, "instrumented": src[2] == "1"}]
                if n_src
                else [],
                "output": output[1:] if output else None,
            }
            out.append((int(stamp), int(pid), record))
        except ValueError:
            raise ValueError(f"the record at byte {pos} is malformed") from None
        pos = end
    if pos != len(data) and limit is None:
        raise ValueError(f"the record at byte {pos} is cut short")
    return out


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


# test frameworks whose executables get covguard's per-test hook at link time:
# framework -> (library names, hook source, header that locates the framework's include folder)
FRAMEWORKS = {
    # googletest's own CMake build names its Debug libraries with a "d"
    "gtest": (("gtest", "gtest_main", "gtestd", "gtest_maind"), "cg_gtest.cc", "gtest/gtest.h"),
    "cpputest": (("CppUTest",), "cg_cpputest.cpp", "CppUTest/TestHarness.h"),
    "cmocka": (("cmocka", "cmocka-static"), "cg_cmocka.c", "cmocka.h"),
}
HOOKS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime", "frameworks")


def _library_at(args: list[str], names: tuple[str, ...]) -> int:
    """Index of the first argument linking one of ``names`` (-lNAME, libNAME.a, libNAME.so*), or -1."""
    for i, a in enumerate(args):
        if a.startswith("-l") and a[2:] in names:
            return i
        base = os.path.basename(a)
        if not a.startswith("-") and any(
            base in (f"lib{n}.a", f"lib{n}.so") or base.startswith(f"lib{n}.so.") for n in names
        ):
            return i
    return -1


def _include_dir(cfg: dict[str, object], header: str) -> str | None:
    """The include folder the build's own compiles use for the framework (a vendored copy), if any."""
    log_dir = str(cfg["log_dir"])
    memo = os.path.join(log_dir, f".include-{header.replace('/', '_')}")  # once per build
    try:
        with open(memo, encoding="utf-8") as handle:
            return handle.read() or None
    except OSError:
        pass
    found = _find_include_dir(log_dir, header)
    tmp = f"{memo}.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(found or "")
        os.replace(tmp, memo)
    except OSError:
        pass
    return found


def _find_include_dir(log_dir: str, header: str) -> str | None:
    try:
        names = sorted(n for n in os.listdir(log_dir) if n.endswith(".json") and not n.startswith("."))[
            -2000:
        ]
    except OSError:
        return None
    records: list[object] = []
    for name in names:
        try:
            with open(os.path.join(log_dir, name), encoding="utf-8") as handle:
                records.append(json.load(handle))
        except (OSError, ValueError):
            continue
    with contextlib.suppress(ValueError):  # the native wrapper's compiles (bounded: only a hint)
        records += [r for _, _, r in read_native_log(os.path.join(log_dir, NATIVE_LOG), 64 << 20)]
    for record in records:
        try:
            args = [str(a) for a in record.get("arguments", [])]  # type: ignore[attr-defined]
            where = str(record.get("directory", "."))  # type: ignore[attr-defined]
        except AttributeError:
            continue
        for i, a in enumerate(args):
            folder = None
            if a in ("-I", "-isystem", "-iquote") and i + 1 < len(args):
                folder = args[i + 1]
            elif a.startswith("-I") and len(a) > 2:
                folder = a[2:]
            elif a.startswith("-isystem") and len(a) > 8:
                folder = a[8:]
            if folder and os.path.isfile(os.path.join(where, folder, header)):
                return os.path.normpath(os.path.join(where, folder))
    return None


def _hook_object(cfg: dict[str, object], framework: str) -> str | None:
    """covguard's hook for a test framework, compiled once per build (no coverage flags)."""
    _, source, header = FRAMEWORKS[framework]
    include = _include_dir(cfg, header)
    compiler = str(cfg["compiler"] if source.endswith(".c") else cfg["cxx_compiler"])
    flags = [*map(str, cfg.get("machine_flags", [])), *map(str, cfg["defines"]), "-g", "-O0", "-I", HOOKS_DIR]  # type: ignore[call-overload]
    if include:
        flags += ["-I", include]
    digest = hashlib.sha256(json.dumps([compiler, flags, source]).encode())
    for part in (source, "cg_record.h", "../cg_gcov_stream.h"):  # a newer covguard's hook is compiled anew
        with open(os.path.join(HOOKS_DIR, part), "rb") as handle:
            digest.update(handle.read())
    key = digest.hexdigest()[:16]
    folder = os.path.join(os.path.dirname(str(cfg["log_dir"])), "framework-hooks")
    obj = os.path.join(folder, f"{framework}-{key}.o")
    if os.path.isfile(obj):
        return obj
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{framework}-{os.getpid()}.o")
    proc = subprocess.run(
        [compiler, *flags, "-c", os.path.join(HOOKS_DIR, source), "-o", tmp],
        capture_output=True, text=True, check=False, errors="replace",
    )  # fmt: skip
    if proc.returncode != 0:
        sys.stderr.write(
            f"covguard-cc: warning: cannot compile covguard's {framework} hook; this executable's tests "
            f"get one coverage for the whole executable:\n{proc.stderr[-2000:]}\n"
        )
        return None
    os.replace(tmp, obj)
    return obj


def with_framework_hooks(args: list[str], cfg: dict[str, object]) -> list[str]:
    """A link of a test executable using GoogleTest, CppUTest or cmocka, with covguard's hook
    object before the framework's library (and cmocka's group runner wrapped)."""
    if "-shared" in args or "-r" in args or os.environ.get("COVGUARD_NO_FRAMEWORK_HOOKS") == "1":
        return args
    out = list(args)
    for framework, (names, _, _) in FRAMEWORKS.items():
        at = _library_at(out, names)
        if at < 0:
            continue
        obj = _hook_object(cfg, framework)
        if obj is None:
            continue
        extra = [obj] + (["-Wl,--wrap=_cmocka_run_group_tests"] if framework == "cmocka" else [])
        out[at:at] = extra
    return out


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
    if mode in ("link", "build"):
        args = with_framework_hooks(args, cfg)
        if "-shared" not in args and "-r" not in args:  # never into a shared library or a partial link
            # before the link flags: the run-time objects need libgcov, which comes after them
            extra = [*(str(a) for a in cfg.get("runtime_links", [])), *extra]
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
