"""`covguard affected` on the benchmark firmware: how much of the suite a one-function change needs.

For a generated firmware (bench/generate.py) in a temporary git repository: one full
`covguard build` + `covguard test` (the per-test map, as main's CI would keep it); then, for each
of a few functions, a planted change (an ``abort()`` as the function's first statement, or inside
one branch of it), and

* ``covguard affected --base HEAD --output test.select`` with the map of the unchanged code;
* the rebuilt full suite: every test that now fails (or crashes) must be in the selection;
* ``covguard test --select test.select`` against the full ``covguard test``: the time saved.

Run: ``python bench/affected_bench.py [--functions 1000 --tests 250 --changes 5]``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import Spec, generate

_CPU: list[float] = [0.0]  # CPU seconds (user + system) of the last command and its children


def _cg(project: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "covguard", *args], cwd=project, capture_output=True, text=True, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, proc


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=b@b", "-c", "user.name=b", *args], cwd=project, check=True,
                   capture_output=True)  # fmt: skip


def _results(project: Path) -> list[dict[str, str]]:
    data = json.loads((project / ".covguard" / "host-gcc" / "results.json").read_text())
    cases: list[dict[str, str]] = data["cases"]
    return cases


def _plant(source: Path, function: str, inside_branch: bool) -> None:
    text = source.read_text()
    head = re.search(rf"\n[^\n]*\b{function}\(uint32_t a, uint32_t b\)\n\{{\n", text)
    assert head is not None, function
    at = head.end()
    if inside_branch:  # the first "if (...) {" of the function: only tests taking the branch fail
        end = text.find("\n}\n", at)
        m = re.compile(r"\n(\s+)if \([^\n]*\) \{\n").search(text, at, end)
        if m is not None:
            at = m.end()
    text = text[:at] + "    { extern void abort(void); abort(); }\n" + text[at:]
    source.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=250)
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="covguard-affected-") as tmp:
        project = Path(tmp) / "fw"
        generate(Spec(functions=args.functions, tests=args.tests), project)
        (project / ".gitignore").write_text(".covguard/\ncovguard-report/\n*.select\n")
        _git(project, "init", "-q")
        _git(project, "add", "-A")
        _git(project, "commit", "-qm", "base")
        t_build, proc = _cg(project, "build")
        assert proc.returncode == 0, proc.stderr
        t_full, proc = _cg(project, "test")
        assert proc.returncode in (0, 1), proc.stderr
        base_work = Path(tmp) / "base-work"
        shutil.copytree(project / ".covguard", base_work, symlinks=True)
        executed = sorted(
            {f["function"] for f in json.loads(_cg(project, "analyse")[1].stdout and
             (project / "covguard-report" / "findings.json").read_text())["functions"] if f["executed"]}
        )  # fmt: skip
        rng = random.Random(7)
        rows = []
        for k in range(args.changes):
            function = rng.choice(executed)
            module = function.split("_")[0][1:]
            source = project / "src" / f"mod_{module}.c"
            _plant(source, function, inside_branch=bool(k % 2))
            t_aff, proc = _cg(project, "affected", "--base", "HEAD", "--output", "test.select")
            assert proc.returncode == 0, proc.stderr
            selected = {
                ln for ln in (project / "test.select").read_text().splitlines() if not ln.startswith("#")
            }
            _cg(project, "build")
            t_all, _proc = _cg(project, "test")
            cpu_all = _CPU[0]
            failing = {c["test"] for c in _results(project) if c["status"] in ("failed", "error")}
            t_sel, proc = _cg(project, "test", "--select", "test.select")
            cpu_sel = _CPU[0]
            ran = len(_results(project))
            rows.append(
                {
                    "function": function,
                    "planted": "branch" if k % 2 else "entry",
                    "tests": args.tests,
                    "selected": len(selected),
                    "fraction_selected": round(len(selected) / args.tests, 4),
                    "tests_run_with_select": ran,
                    "failing_after_change": len(failing),
                    "failing_not_selected": sorted(failing - selected),
                    "affected_s": round(t_aff, 2),
                    "test_all_s": round(t_all, 2),
                    "test_select_s": round(t_sel, 2),
                    "test_all_cpu_s": round(cpu_all, 2),
                    "test_select_cpu_s": round(cpu_sel, 2),
                }
            )
            _git(project, "checkout", "-q", "--", ".")
            shutil.rmtree(project / ".covguard")
            shutil.copytree(base_work, project / ".covguard", symlinks=True)
        summary = {
            "functions": args.functions,
            "tests": args.tests,
            "build_s": round(t_build, 2),
            "full_test_s": round(t_full, 2),
            "changes": rows,
        }
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
