"""CTest: the tests a CMake project registers (``add_test``), run one by one as CTest would.

``ctest --show-only=json-v1`` in the build folder lists every test with its command and properties;
each becomes an :class:`~covguard.run.invocations.Invocation` with CTest's own semantics:
``WORKING_DIRECTORY`` (default: the folder of the ``CMakeLists.txt`` that added it, in the build tree),
``ENVIRONMENT``, ``WILL_FAIL``, ``PASS_REGULAR_EXPRESSION``, ``FAIL_REGULAR_EXPRESSION``,
``SKIP_REGULAR_EXPRESSION``, ``SKIP_RETURN_CODE``, ``DISABLED`` (skipped, not run) and ``TIMEOUT``.
A test whose executable was not built (CTest's "Not Run") is an error.  The ``add_test`` line
(from the listing's backtrace) is where the test is defined: ``@verifies`` tags in a ``#`` comment
right above it are the test's requirements.

The listing is hostile input: its size is bounded, every field is type-checked, a working folder
outside the project root and the work folder is refused, and definition files are read only
inside the root.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from covguard.errors import TestRunError, ToolError
from covguard.files import display_path
from covguard.run.invocations import Invocation, folder_name
from covguard.trace.definitions import (
    DefinitionFile,
    StrayTag,
    read_definition,
    stray_tags,
    tag_block,
    verifies_at,
)

MAX_LISTING = 64 * 1024 * 1024
MAX_TESTS = 100_000


def _listing(build_dir: Path, ctest: str, args: Sequence[str] = ()) -> dict[str, Any]:
    exe = shutil.which(ctest)
    if exe is None:
        raise ToolError(f"{ctest} is not installed", hint="install CMake (apt-get install cmake)")
    if not (build_dir / "CTestTestfile.cmake").is_file():
        raise TestRunError(
            "no CTestTestfile.cmake in the CTest build folder",
            path=build_dir,
            hint="build the project first (covguard build) with enable_testing() in its CMakeLists.txt, and "
            "check 'test.ctest'",
        )
    try:
        proc = subprocess.run(
            [exe, "--show-only=json-v1", *args],
            cwd=build_dir,
            capture_output=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"ctest --show-only=json-v1 failed: {exc}", path=build_dir) from None
    if proc.returncode != 0 or len(proc.stdout) > MAX_LISTING:
        tail = proc.stderr.decode("utf-8", errors="replace").strip()[-500:]
        raise ToolError(
            f"ctest --show-only=json-v1 failed (status {proc.returncode}): {tail}", path=build_dir
        )
    try:
        data = json.loads(proc.stdout.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise ToolError(f"ctest printed a listing that is not JSON ({exc})", path=build_dir) from None
    if not isinstance(data, dict) or not isinstance(data.get("tests", []), list):
        raise ToolError("ctest printed a listing without a list of tests", path=build_dir)
    return data


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().upper() in {"1", "ON", "YES", "TRUE", "Y"}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v for v in value.split(";") if v)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int | float) and str(v))
    return ()


def _backtrace(data: dict[str, Any], node: Any) -> list[tuple[str, int]]:
    """The (file, line) frames of a test's backtrace, innermost (add_test) first."""
    graph = data.get("backtraceGraph")
    if not isinstance(graph, dict):
        return []
    nodes, files = graph.get("nodes", []), graph.get("files", [])
    if not isinstance(nodes, list) or not isinstance(files, list):
        return []
    out: list[tuple[str, int]] = []
    seen: set[int] = set()
    while (
        isinstance(node, int) and not isinstance(node, bool) and 0 <= node < len(nodes) and node not in seen
    ):
        seen.add(node)
        n = nodes[node]
        if not isinstance(n, dict):
            break
        f, line = n.get("file"), n.get("line")
        if isinstance(f, int) and 0 <= f < len(files) and isinstance(files[f], str) and isinstance(line, int):
            out.append((files[f], line))
        node = n.get("parent")
    return out


def _inside(path: Path, folders: list[Path]) -> bool:
    real = path.resolve()
    return any(real.is_relative_to(f.resolve()) for f in folders)


def ctest_invocations(
    build_dir: Path,
    *,
    root: Path,
    work_dir: Path,
    id_pattern: str,
    args: Sequence[str] = (),
    ctest: str = "ctest",
    stray: list[StrayTag] | None = None,
) -> list[Invocation]:
    """Every test of the CTest project built in ``build_dir`` (``args``: selection), as invocations."""
    data = _listing(build_dir, ctest, args)
    tests = data.get("tests", [])
    if len(tests) > MAX_TESTS:
        raise ToolError(f"ctest lists more than {MAX_TESTS} tests", path=build_dir)
    cache: dict[str, DefinitionFile | None] = {}
    attached: dict[str, set[int]] = {}
    out: list[Invocation] = []
    for i, t in enumerate(tests):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"]:
            raise ToolError(f"ctest's listing has a test without a name (entry {i})", path=build_dir)
        name = t["name"]
        props: dict[str, Any] = {}
        for p in t.get("properties", []) or []:
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                props[p["name"]] = p.get("value")
        command = t.get("command")
        words = [str(w) for w in command] if isinstance(command, list) else []
        frames = _backtrace(data, t.get("backtrace"))
        file, line = (frames[0][0], frames[0][1]) if frames else ("", 0)
        verifies: list[str] = []
        for f, ln in frames:
            if f not in cache:
                cache[f] = read_definition(Path(f), root)
            d = cache[f]
            if d is not None:
                verifies += verifies_at(d, ln, id_pattern)
                attached.setdefault(f, set()).update(tag_block(d, ln))
        cwd_raw = props.get("WORKING_DIRECTORY")
        cwd = str(cwd_raw) if isinstance(cwd_raw, str) and cwd_raw else None
        if cwd is None and file:
            # CTest's default: the build-tree folder of the CMakeLists.txt that added the test
            src_dir = Path(file).parent
            try:
                cwd = str(build_dir / src_dir.relative_to(root)) if src_dir.is_relative_to(root) else None
            except ValueError:
                cwd = None
        env = []
        for item in _strings(props.get("ENVIRONMENT")):
            k, sep, v = item.partition("=")
            if sep and k:
                env.append((k, v))
        timeout = props.get("TIMEOUT")
        skip_code = props.get("SKIP_RETURN_CODE")
        not_available = "" if words else "its executable was not built (CTest: Not Run)"
        if cwd is not None and not _inside(Path(cwd), [root, work_dir]):
            not_available = f"its WORKING_DIRECTORY {cwd} is outside the project root and the work folder"
        out.append(
            Invocation(
                name=name,
                program=words[0] if words else "",
                args=tuple(words[1:]),
                env=tuple(env),
                cwd=cwd,
                timeout=float(timeout)
                if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
                else None,
                verifies=tuple(dict.fromkeys(verifies)),
                will_fail=_truthy(props.get("WILL_FAIL")),
                pass_regex=_strings(props.get("PASS_REGULAR_EXPRESSION")),
                fail_regex=_strings(props.get("FAIL_REGULAR_EXPRESSION")),
                skip_regex=_strings(props.get("SKIP_REGULAR_EXPRESSION")),
                skip_exit_code=skip_code
                if isinstance(skip_code, int) and not isinstance(skip_code, bool) and 0 <= skip_code <= 255
                else None,
                skip="disabled in CTest (DISABLED)" if _truthy(props.get("DISABLED")) else "",
                not_available=not_available,
                file=display_path(file, root) if file else "",
                line=line,
                source="ctest",
                folder=folder_name("ctest", i, name),
            )
        )
    if stray is not None:  # tags in the CMake files of the tests attached to no add_test
        for f, d in cache.items():
            if d is not None:
                stray += stray_tags(d, attached.get(f, set()), id_pattern)
    return out


__all__ = ["ctest_invocations"]
