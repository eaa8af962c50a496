"""The test run's cost of per-test coverage (issue 20, "Test run": at most 2x the plain run).

For a project built twice - plainly (no coverage flags) and by ``covguard build`` - this runs every
test executable as ``covguard test`` runs it (``COVGUARD_COVERAGE_DIR`` and a nonce set: counters
reset before each test case and written after it), and the plain build's executables as a user
runs them, ``--repeat`` times each, and prints the medians, their ratio, the load average and
the files and bytes the per-test dumps wrote.  It times the executables alone: covguard's own
Python (parsing, results.json) is measured by ``bench/run.py``.

    python bench/test_run.py --plain BUILD/tests --covguard BUILD2/tests [--repeat 5] [--json OUT]

``--generate DIR`` writes the 1,000-test synthetic firmware (bench/generate.py), builds it both
ways and times it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_RATIO = 2.0


def executables(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and os.access(p, os.X_OK))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("COVGUARD_", "GCOV_", "LLVM_PROFILE"))}


def run_suite(exes: list[Path], coverage: Path | None) -> float:
    """Wall time of one run of every executable; with ``coverage``, per test into that folder."""
    base = _clean_env()
    t0 = time.perf_counter()
    for exe in exes:
        env = dict(base)
        if coverage is not None:
            folder = coverage / exe.name
            folder.mkdir(parents=True)
            env.update(
                COVGUARD_COVERAGE_DIR=str(folder),
                COVGUARD_FIRST_TEST="0",
                COVGUARD_NONCE="0123456789abcdef",
                GCOV_PREFIX=str(folder / "all"),
                GCOV_PREFIX_STRIP="0",
            )
        subprocess.run([str(exe)], cwd=exe.parent, env=env, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def written(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def measure(plain: Path, instrumented: Path, repeat: int) -> dict[str, Any]:
    plain_exes, cov_exes = executables(plain), executables(instrumented)
    plain_s: list[float] = []
    cov_s: list[float] = []
    loads: list[float] = []
    files = size = 0
    for _ in range(repeat):
        loads.append(os.getloadavg()[0])
        plain_s.append(run_suite(plain_exes, None))
        with tempfile.TemporaryDirectory(prefix="cg-testrun-") as tmp:
            cov_s.append(run_suite(cov_exes, Path(tmp) / "coverage"))
            files, size = written(Path(tmp) / "coverage")
    plain_m, cov_m = statistics.median(plain_s), statistics.median(cov_s)
    return {
        "executables": len(cov_exes),
        "plain_s": round(plain_m, 4),
        "covguard_s": round(cov_m, 4),
        "ratio": round(cov_m / plain_m, 2) if plain_m else None,
        "target": TARGET_RATIO,
        "files_written": files,
        "bytes_written": size,
        "load_1min": [round(x, 2) for x in loads],
        "runs": repeat,
    }


def generate_and_build(out: Path, functions: int, tests: int) -> tuple[Path, Path]:
    """The synthetic firmware, built plainly (make) and by covguard (its wrapper)."""
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent))
    from bench.generate import Spec, generate

    got = generate(Spec(functions=functions, tests=tests), out)
    runtime = here.parent / "covguard" / "runtime"
    plain_build = out / "plain-build"
    if not (plain_build / "tests").is_dir():
        subprocess.run(
            ["make", "-j2", "tests", f"BUILD_DIR={plain_build}", f"COVGUARD_RUNTIME={runtime}"],
            cwd=got.root,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    manifest = got.root / ".covguard" / "host-gcc" / "build.json"
    if not manifest.is_file():
        subprocess.run(
            [sys.executable, "-m", "covguard", "build"], cwd=got.root, check=True, stdout=subprocess.DEVNULL
        )
    build = Path(json.loads(manifest.read_text())["build_dir"])
    return plain_build / "tests", build / "tests"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--plain", type=Path, help="folder of the plain build's test executables")
    parser.add_argument("--covguard", type=Path, help="folder of covguard's build's test executables")
    parser.add_argument("--generate", type=Path, help="generate and build the synthetic firmware here")
    parser.add_argument("--functions", type=int, default=2800)
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.generate:
        plain, instrumented = generate_and_build(args.generate, args.functions, args.tests)
    elif args.plain and args.covguard:
        plain, instrumented = args.plain, args.covguard
    else:
        parser.error("give --plain and --covguard, or --generate")
    if shutil.which("make") is None and args.generate:
        parser.error("make is needed to build the synthetic firmware")
    row = measure(plain, instrumented, args.repeat)
    verdict = "met" if row["ratio"] is not None and row["ratio"] <= TARGET_RATIO else "NOT met"
    print(
        f"test run: plain {row['plain_s']:.3f} s, per-test coverage {row['covguard_s']:.3f} s "
        f"= {row['ratio']}x (target <= {TARGET_RATIO}x: {verdict}); {row['files_written']} files, "
        f"{row['bytes_written']} bytes written; {row['executables']} executables, median of {row['runs']}, "
        f"load {row['load_1min']}"
    )
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
