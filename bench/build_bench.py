"""The build's cost of covguard's compiler wrapper (issue 20, "Build": at most 10 % over the same
build with the same coverage flags passed by hand, on a project of 500+ compiles).

A synthetic firmware of 500 modules (``bench/generate.py``, 4 functions per module) and its test
files, compiled by its own Makefile with ``make -j2``, from clean, three ways, interleaved so that
a change of the machine's load hits all three alike:

* **by hand**: ``make CC=gcc CFLAGS="<the Makefile's flags> <covguard's coverage flags and
  defines>"`` - the same compiler, the same coverage flags, no wrapper;
* **covguard**: ``covguard build --clean`` through the native wrapper (``runtime/ccwrap.c``);
* **Python wrapper**: the same with ``COVGUARD_NATIVE_CC=0`` (the wrapper before issue 20).

Each figure is the median of ``--repeat`` runs under ``nice``, with the 1-minute load average
when it was taken.  The ratio of the target is the build command's own time (``duration_s`` in
``build.json``: what the wrapper costs) against the build by hand; the whole ``covguard build``
process (which also reads the notes and compiles the coverage model, the "per build" target) is
printed beside it.

    python bench/build_bench.py [--repeat 5] [--modules 500] [--no-python]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import Spec, generate  # noqa: E402

TARGET_RATIO = 1.10
JOBS = 2
MAKEFILE_CFLAGS = "-std=c99 -O0 -g -w"  # bench/generate.py's Makefile
# covguard's defaults (build.coverage_flags, the host-gcc profile's define): what "by hand" passes
COVERAGE_FLAGS = "-O0 -g --coverage -fprofile-abs-path -DCOVGUARD_COVERAGE_GCOV"


def project(cache: Path, modules: int) -> Path:
    """The generated firmware: ``modules`` modules of 4 functions and a test file for one in ten."""
    spec = Spec(functions=4 * modules, tests=max(50, modules // 10), functions_per_module=4)
    root = cache / f"build-{modules}"
    generate(spec, root)
    return root


def compiles(root: Path) -> int:
    return len(list((root / "src").glob("*.c"))) + len(list((root / "tests").glob("*.c")))


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def by_hand(root: Path) -> float:
    out = root / "plain-build"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        "nice", "make", f"-j{JOBS}", "tests", f"BUILD_DIR={out}", "CC=gcc",
        f"CFLAGS={MAKEFILE_CFLAGS} {COVERAGE_FLAGS}",
        f"COVGUARD_RUNTIME={ROOT / 'covguard' / 'runtime'}",
    ]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=root, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def through_covguard(root: Path, native: bool) -> tuple[float, float]:
    """(the build command's own time, the whole `covguard build` process)."""
    env = {**os.environ, "COVGUARD_NATIVE_CC": "1" if native else "0"}
    cmd = ["nice", sys.executable, "-m", "covguard", "build", "--clean", "--jobs", str(JOBS)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    whole = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"covguard build failed:\n{proc.stdout}{proc.stderr}")
    manifest = json.loads((root / ".covguard" / "host-gcc" / "build.json").read_text(encoding="utf-8"))
    return float(manifest["duration_s"]), whole


def per_compile(root: Path, n: int = 100) -> dict[str, float]:
    """CPU time (user + system, every child process: load-independent) of ``n`` compiles of one
    module in a row, by hand and through the work area's wrapper (after a covguard build): the
    wrapper's own cost per compile, in milliseconds."""
    source = sorted((root / "src").glob("*.c"))[0]
    out = root / ".covguard" / "per-compile.o"
    flags = [*MAKEFILE_CFLAGS.split(), "-Isrc", "-c", str(source), "-o", str(out)]
    wrapper = root / ".covguard" / "host-gcc" / "bin" / "cc"
    ways = {"by hand": ["gcc", *flags, *COVERAGE_FLAGS.split()], "covguard": [str(wrapper), *flags]}
    got: dict[str, float] = {}
    for name, cmd in ways.items():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(n):
            subprocess.run(cmd, cwd=root, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        got[name] = round(1000 * cpu / n, 2)
    got["wrapper"] = round(got["covguard"] - got["by hand"], 2)
    return got


def bench(cache: Path, repeat: int, modules: int = 500, python: bool = True) -> dict[str, Any]:
    root = project(cache, modules)
    runs: dict[str, list[tuple[float, float]]] = {"by hand": [], "covguard": [], "covguard process": []}
    if python:
        runs |= {"Python wrapper": [], "Python wrapper process": []}
    through_covguard(root, True)  # the native wrapper compiled (once per work folder), caches warm
    for _ in range(repeat):
        load = _load()
        runs["by hand"].append((by_hand(root), load))
        load = _load()
        build_s, whole = through_covguard(root, True)
        runs["covguard"].append((build_s, load))
        runs["covguard process"].append((whole, load))
        if python:
            load = _load()
            build_s, whole = through_covguard(root, False)
            runs["Python wrapper"].append((build_s, load))
            runs["Python wrapper process"].append((whole, load))
    median = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
    through_covguard(root, True)  # the native wrapper in bin/cc for the per-compile figure
    return {
        "per_compile_cpu_ms": per_compile(root),
        "project": f"synthetic, {compiles(root)} compiles ({modules} modules + test files)",
        "compiles": compiles(root),
        "median_s": {k: round(v, 3) for k, v in median.items()},
        "runs": {k: [[round(t, 3), load] for t, load in v] for k, v in runs.items()},
        "ratio": round(median["covguard"] / median["by hand"], 3),
        "ratio_process": round(median["covguard process"] / median["by hand"], 3),
        "ratio_python": round(median["Python wrapper"] / median["by hand"], 3) if python else None,
    }


def target(row: dict[str, Any]) -> dict[str, Any]:
    """The row of ``bench/run.py``'s targets table (measured / target: <= 1.00 meets it)."""
    loads = [load for _, load in row["runs"]["covguard"]]
    return {
        "target": "build: covguard's build <= 1.10x the same build by hand",
        "where": f"{row['project']}, load {min(loads):.1f}-{max(loads):.1f}",
        "measured": f"{row['median_s']['covguard']:.2f} s vs {row['median_s']['by hand']:.2f} s "
        f"= {row['ratio']:.3f}x",
        "ratio": round(row["ratio"] / TARGET_RATIO, 2),
    }


def lines(row: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"Build through covguard's wrapper vs by hand: {row['project']}, make -j{JOBS}, from clean "
        "(median s; 1-minute load at each run)",
        "",
    ]
    pc = row["per_compile_cpu_ms"]
    out.append(
        f"  CPU per compile (100 in a row, user+sys): by hand {pc['by hand']:.1f} ms, through the "
        f"wrapper {pc['covguard']:.1f} ms: the wrapper's own {pc['wrapper']:+.1f} ms"
    )
    for k, v in row["runs"].items():
        shown = ", ".join(f"{t:.2f}@{load:.1f}" for t, load in v)
        out.append(f"  {k:24} {row['median_s'][k]:8.2f}   runs: {shown}")
    out.append(
        f"  ratio covguard / by hand: {row['ratio']:.3f} (target <= {TARGET_RATIO:.2f}); whole "
        f"`covguard build` process (with notes + model) {row['ratio_process']:.3f}"
        + (f"; Python wrapper {row['ratio_python']:.3f}" if row["ratio_python"] is not None else "")
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--no-python", action="store_true", help="skip the Python wrapper's runs")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    row = bench(args.cache, args.repeat, args.modules, not args.no_python)
    print("\n".join(lines(row)))
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
