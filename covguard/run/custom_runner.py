"""Custom runners: a program that runs many test cases, and can list them and run one by name.

``[[test.runners]]`` gives a *list* command that prints one case id per line, and a *run* command
template in which ``{case}`` stands for one case id.  covguard runs the list command once, then
the run command once per case, each in its own process with its own coverage folder: a runner that
executes hundreds of cases in one process still gets a true per-case trace.  Each case is judged
by its exit status (:mod:`covguard.run.invocations`), unless it prints the harness's or Unity's output.

A case's requirements: the runner's ``verifies`` table in the configuration, and ``@verifies`` tags
where the case is defined, in the files matching ``definitions`` (see :mod:`covguard.trace.definitions`).

The list command's output is hostile input: bounded in size and count, one id per line (blank lines
and lines starting with ``#`` ignored), no control characters, no duplicates.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from covguard.errors import ConfigError, TestRunError
from covguard.run.invocations import Invocation, RunnerConfig, folder_name
from covguard.trace.definitions import (
    StrayTag,
    find_case,
    glob_definitions,
    stray_tags,
    tag_block,
    verifies_at,
)

MAX_LIST_OUTPUT = 16 * 1024 * 1024
MAX_CASES = 100_000
MAX_ID = 200


def list_cases(
    runner: RunnerConfig, command: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> list[str]:
    """Run the list command; return the case ids it prints."""
    what = f"the list command of runner '{runner.name}'"
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise TestRunError(f"{what} did not finish in {timeout:g} s", path=command[0]) from None
    except OSError as exc:
        raise TestRunError(
            f"cannot start {what}: {exc.strerror}", path=command[0], hint="build it first (covguard build)"
        ) from None
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", errors="replace").strip()[-300:]
        raise TestRunError(f"{what} failed with status {proc.returncode}: {tail}", path=command[0])
    if len(proc.stdout) > MAX_LIST_OUTPUT:
        raise TestRunError(f"{what} printed more than {MAX_LIST_OUTPUT} bytes", path=command[0])
    ids: list[str] = []
    seen: set[str] = set()
    for n, raw in enumerate(proc.stdout.decode("utf-8", errors="replace").splitlines(), start=1):
        case = raw.strip()
        if not case or case.startswith("#"):
            continue
        if len(case) > MAX_ID or any(ord(c) < 32 or ord(c) == 127 for c in case) or "\ufffd" in case:
            raise TestRunError(
                f"{what} printed an unusable case id on line {n}: {case[:80]!r}", path=command[0]
            )
        if case in seen:
            raise TestRunError(f"{what} lists case '{case}' twice (line {n})", path=command[0])
        seen.add(case)
        ids.append(case)
        if len(ids) > MAX_CASES:
            raise TestRunError(f"{what} lists more than {MAX_CASES} cases", path=command[0])
    return ids


def runner_invocations(
    runner: RunnerConfig,
    cases: list[str],
    run: list[str],
    *,
    root: Path,
    cwd: str | None,
    id_pattern: str,
    index: int,
    stray: list[StrayTag] | None = None,
) -> list[Invocation]:
    """One invocation per case: ``run`` with ``{case}`` replaced (never through a shell);
    ``@verifies`` tags of the definition files attached to no case are added to ``stray``."""
    definitions = glob_definitions(runner.definitions, root)
    attached: dict[str, set[int]] = {d.path: set() for d in definitions}
    configured = dict(runner.verifies)
    unknown = sorted(set(configured) - set(cases))
    if unknown:
        raise ConfigError(
            f"'test.runners' '{runner.name}': 'verifies' names case(s) the list command does not print: "
            + ", ".join(repr(u) for u in unknown[:5]),
            hint="fix the case ids (a requirement attached to no test would be dropped in silence)",
        )
    out: list[Invocation] = []
    for i, case in enumerate(cases):
        words = [w.replace("{case}", case) for w in run]
        found = find_case(definitions, case)
        tags = verifies_at(found[0], found[1], id_pattern) if found else ()
        if found:
            attached[found[0].path].update(tag_block(found[0], found[1]))
        out.append(
            Invocation(
                name=f"{runner.name}::{case}",
                program=words[0],
                args=tuple(words[1:]),
                env=runner.env,
                cwd=cwd,
                timeout=runner.timeout,
                verifies=tuple(dict.fromkeys((*configured.get(case, ()), *tags))),
                pass_regex=runner.pass_regex,
                fail_regex=runner.fail_regex,
                skip_exit_code=runner.skip_exit_code,
                format=runner.format,
                file=found[0].path if found else "",
                line=found[1] if found else 0,
                source="runner",
                folder=folder_name(f"runner{index}", i, case),
            )
        )
    if stray is not None:
        for d in definitions:
            stray += stray_tags(d, attached[d.path], id_pattern)
    return out


__all__ = ["list_cases", "runner_invocations"]
