"""covguard's native compiler wrapper: the build's ``CC``/``CXX`` without a Python process per compile.

``runtime/ccwrap.c`` is compiled once per work folder with the host's C compiler (``cc``, else
``gcc`` or ``clang``; ``COVGUARD_HOST_CC`` names another) and cached under
``<work folder>/native-cc/``, keyed by the SHA-256 of its source and of the host compiler's path
and version.  The work area's ``bin/cc`` and ``bin/c++`` are hard links to it.  For a compile of
one source and for a link without a test framework library it does what the Python wrapper
(:mod:`covguard.builder.ccwrap`) does - the same flags, the same record - and ``exec``s the
compiler; every other invocation (several sources, compile-and-link, ``-E``/``-M``, ``@file``, a
source it cannot decide, a link that gets a framework hook) goes to the Python wrapper unchanged.

Whether a source gets coverage is the Python wrapper's decision, taken *before* the build for
every source file in the project (:func:`decision_table`: a walk of the root, without the work
folder and ``.git``) and written with the flags to ``cc-native.conf``: NUL-terminated
``key=value`` entries, so that no path or flag needs quoting.  A source the table does not hold
(one generated into the tree during the build) inside the root goes to the Python wrapper; a
source in the work folder or outside the root gets no coverage, as there.

Its records go to ``cc-log/native.log`` (length-prefixed fields, one ``write`` per record on an
``O_APPEND`` descriptor); :func:`read_records` merges them with the Python wrapper's JSON records
in the order of the compiles, so that everything decided after the build (``compile_commands.json``,
the notes file of each compile, two compiles writing one notes file) is decided from the same
records either way.

Without a host compiler (or with ``COVGUARD_NATIVE_CC=0``) the build goes through the Python
wrapper, with a one-line note.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from covguard.builder.ccwrap import (
    FRAMEWORKS,
    NATIVE_LOG,
    SOURCE_EXTENSIONS,
    _instrumented,
    read_native_log,
)
from covguard.builder.toolchains.base import RUNTIME_DIR, tool_version
from covguard.errors import BuildError
from covguard.files import write_bytes

SOURCE = RUNTIME_DIR / "ccwrap.c"
CONFIG_NAME = "cc-native.conf"
HOST_CC_ENV = "COVGUARD_HOST_CC"
SWITCH_ENV = "COVGUARD_NATIVE_CC"  # "0": always the Python wrapper
MAX_TABLE = 200_000  # sources in the decision table; beyond, the Python wrapper decides
MAX_WALK = 2_000_000  # folder entries looked at to find them
VCS = frozenset({".git", ".hg", ".svn"})  # never holds the build's sources


def host_compiler() -> str | None:
    """The C compiler that builds the wrapper: ``COVGUARD_HOST_CC``, else cc, gcc or clang."""
    named = os.environ.get(HOST_CC_ENV)
    if named:
        return shutil.which(named)
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return found
    return None


def wrapper_binary(work_dir: Path) -> tuple[Path | None, str]:
    """The native wrapper for this work folder (compiled on first use); or None and why not."""
    host = host_compiler()
    if host is None:
        return None, f"no host C compiler ({os.environ.get(HOST_CC_ENV) or 'cc, gcc, clang'}) to build it"
    source = SOURCE.read_bytes()
    key = hashlib.sha256(
        source + b"\0" + os.fsencode(os.path.realpath(host)) + b"\0" + tool_version(host).encode()
    ).hexdigest()[:16]
    folder = work_dir / "native-cc"
    binary = folder / f"ccwrap-{key}"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary, ""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".ccwrap-{key}.{os.getpid()}"
    try:
        proc = subprocess.run(
            [host, "-O2", "-o", str(tmp), str(SOURCE)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"'{host}' could not compile it ({exc})"
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        last = (proc.stderr or proc.stdout).strip().splitlines() or [f"exit status {proc.returncode}"]
        return None, f"'{host}' could not compile it ({last[-1]})"
    os.replace(tmp, binary)
    for old in folder.glob("ccwrap-*"):  # earlier builds of the wrapper
        if old != binary:
            old.unlink(missing_ok=True)
    return binary, ""


def _skipped(path: str, skips: list[str]) -> bool:
    return any(path == s or path.startswith(s.rstrip(os.sep) + os.sep) for s in skips)


def decision_table(cfg: dict[str, object]) -> list[tuple[bool, str]]:
    """(instrumented, absolute path) of every source file under the root, as the Python wrapper
    decides it (:func:`ccwrap._instrumented` itself); without the skipped folders (the work
    folder) and version-control ones."""
    root = str(cfg["root"])
    skips = [str(s) for s in cfg.get("skip", [])]  # type: ignore[attr-defined]
    out: list[tuple[bool, str]] = []
    seen = 0
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in VCS and not _skipped(os.path.join(dirpath, d), skips))
        seen += len(dirs) + len(files)
        if seen > MAX_WALK:  # a huge tree: the rest is decided by the Python wrapper
            return out
        for name in sorted(files):
            if name.endswith(SOURCE_EXTENSIONS):
                full = os.path.join(dirpath, name)
                out.append((_instrumented(full, "/", cfg), full))
                if len(out) >= MAX_TABLE:
                    return out
    return out


def native_config(cfg: dict[str, object], cfg_file: Path, python: str, script: Path) -> bytes:
    """``cc-native.conf`` for the wrapper configuration ``cfg`` (the JSON of ``cfg_file``)."""

    def items(key: str) -> list[str]:
        return [str(v) for v in cfg.get(key, [])]  # type: ignore[attr-defined]

    entries = [
        ("python", python),
        ("script", str(script)),
        ("json", str(cfg_file)),
        ("log", os.path.join(str(cfg["log_dir"]), NATIVE_LOG)),
        ("cc", str(cfg["compiler"])),
        ("cxx", str(cfg["cxx_compiler"])),
        *(("machine", v) for v in items("machine_flags")),
        *(("cflag", v) for v in [*items("compile_flags"), *items("defines")]),
        *(("lflag", v) for v in items("link_flags")),
        *(("runtime", v) for v in items("runtime_links")),
        *(("skip", v) for v in items("skip")),
        *(("fwlib", name) for names, _, _ in FRAMEWORKS.values() for name in names),
    ]
    root = str(cfg["root"])
    if os.path.isabs(root) and os.path.normpath(root) == root and not root.startswith("//"):
        entries.append(("root", root))
        entries += [("src", ("1" if yes else "0") + path) for yes, path in decision_table(cfg)]
    return b"".join(os.fsencode(f"{k}={v}") + b"\0" for k, v in entries)


def install(
    area_root: Path, bin_dir: Path, cfg_file: Path, work_dir: Path, python: str, script: Path
) -> str | None:
    """Make ``bin_dir/cc`` and ``bin_dir/c++`` the native wrapper for the configuration in
    ``cfg_file``; return None, or why not (the caller writes the Python wrapper's launchers)."""
    if os.environ.get(SWITCH_ENV) == "0":
        return f"{SWITCH_ENV}=0"
    binary, why = wrapper_binary(work_dir)
    if binary is None:
        return why
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    write_bytes(area_root / CONFIG_NAME, native_config(cfg, cfg_file, python, script))
    bin_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("cc", "c++"):
        tmp = bin_dir / f".{kind}.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        try:
            os.link(binary, tmp)
        except OSError:
            shutil.copy2(binary, tmp)
        os.replace(tmp, bin_dir / kind)
    return None


def read_records(log_dir: Path) -> list[dict[str, object]]:
    """Every record of a build's wrappers (the Python one's JSON files and the native log), in the
    order the compiler invocations started (their clock, then process id)."""
    found: list[tuple[int, int, dict[str, object]]] = []
    for item in log_dir.glob("*.json"):
        pid, _, stamp = item.stem.partition("-")  # ccwrap.py names them <pid>-<time_ns>.json
        try:
            record = json.loads(item.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        when = (int(stamp), int(pid)) if stamp.isdigit() and pid.isdigit() else (0, 0)
        found.append((*when, record))
    log = log_dir / NATIVE_LOG
    try:
        found += read_native_log(str(log))
    except ValueError as exc:
        raise BuildError(
            f"the compiler wrapper's record log is damaged: {exc}",
            path=log,
            hint="was the disk full during the build? free space and run 'covguard build --clean'",
        ) from None
    found.sort(key=lambda t: (t[0], t[1]))
    return [r for _, _, r in found]
