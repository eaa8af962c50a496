"""covguard's benchmarks (``make bench``): covguard against gcov, gcovr, lcov and fastcov.

Three measurements, each on real coverage data written by real test executables:

1. **Whole project** (synthetic firmware of several sizes, and a real code base - Lua 5.4 from
   lupa's source distribution, see ``bench/real.py``): the tests run once the ordinary way
   (``.gcda`` beside the objects), then every tool reads the same files: ``gcov --json-format
   --stdout`` over all files in 2 parallel processes (the floor), covguard (coverage model,
   per-run ingestion, full analysis to findings.json), ``gcovr --json -j 2``, ``lcov --capture``
   and ``fastcov -j 2``.
2. **Per test**: one firmware of about 50k source lines with 250, 500 and 1,000 test cases, each
   test's coverage in its own folder (``covguard test``); covguard from those files to findings.
3. **Slopes**: covguard's cost against code size (1) and against the number of tests (2): a
   least-squares fit and the log-log exponent (1.0 is linear growth).

Every figure is the median of ``--repeat`` runs of a fresh process; memory is the peak resident
set of the process (the largest of its children for gcov and lcov), from ``wait4``.  The table is
printed and written to ``bench/results/`` with ``results.json`` and a chart (``chart.svg``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import Generated, Spec, generate  # noqa: E402

CACHE = HERE / ".cache"
RESULTS = HERE / "results"
PY = sys.executable
CPUS = 2  # the machine the targets are stated for; every parallel tool gets 2 jobs
COUNTS = ("rows", "lines", "functions", "objects")  # what the worker counts, beside its phase timings


# ---------------------------------------------------------------------------------------------
# running and measuring


@dataclass
class Sample:
    wall_s: float
    peak_mb: float
    phases: dict[str, float] = field(default_factory=dict)


def measure(commands: Sequence[Sequence[str]], cwd: Path) -> Sample:
    """Run ``commands`` at once, wait for all; wall time and the largest peak RSS among them."""
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(list(c), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for c in commands
    ]
    outputs: list[bytes] = []
    peak = 0
    for p in procs:
        assert p.stdout is not None
        outputs.append(p.stdout.read())
        _pid, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        peak = max(peak, usage.ru_maxrss)
    wall = time.perf_counter() - t0
    phases: dict[str, float] = {}
    for c, p, out in zip(commands, procs, outputs, strict=True):
        if p.returncode != 0:
            raise SystemExit(f"benchmark command failed ({p.returncode}): {' '.join(c)}")
        if c[:2] == [PY, str(Path(__file__))]:
            phases = json.loads(out.decode().strip().splitlines()[-1])
    return Sample(wall, peak / 1024, phases)


def median_of(samples: list[Sample]) -> Sample:
    keys = samples[0].phases.keys()
    return Sample(
        statistics.median(s.wall_s for s in samples),
        max(s.peak_mb for s in samples),
        {k: statistics.median(s.phases[k] for s in samples) for k in keys},
    )


def repeat(commands: Sequence[Sequence[str]], cwd: Path, n: int) -> Sample:
    return median_of([measure(commands, cwd) for _ in range(n)])


# ---------------------------------------------------------------------------------------------
# the projects


@dataclass
class Project:
    name: str
    root: Path
    functions: int
    source_lines: int
    tests: int
    build_dir: Path = Path()
    gcda: list[Path] = field(default_factory=list)
    executable_lines: int = 0


def run(cmd: Sequence[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False, errors="replace"
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def covguard(*args: str, cwd: Path) -> str:
    return run([PY, "-m", "covguard", *args], cwd=cwd)


def prepare(root: Path, name: str, functions: int, source_lines: int, tests: int) -> Project:
    """Build with covguard, run the tests per test (covguard test) and once plainly (.gcda beside
    the objects, for the whole-project comparison)."""
    project = Project(name, root, functions, source_lines, tests)
    manifest = root / ".covguard" / "host-gcc" / "build.json"
    results = root / ".covguard" / "host-gcc" / "results.json"
    if not manifest.is_file():
        print(f"  building {name} ...", flush=True)
        covguard("build", cwd=root)
    if not results.is_file():
        print(f"  running the tests of {name} (per-test coverage) ...", flush=True)
        covguard("test", cwd=root)
    build = Path(json.loads(manifest.read_text())["build_dir"])
    project.build_dir = build
    gcda = sorted(build.rglob("*.gcda"))
    if not gcda:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COVGUARD_", "GCOV_"))}
        for exe in sorted((build / "tests").iterdir()):
            if exe.is_file() and os.access(exe, os.X_OK):
                run([exe], cwd=exe.parent, env=env)
        gcda = sorted(build.rglob("*.gcda"))
    project.gcda = gcda
    return project


def synthetic(functions: int, tests: int) -> Project:
    spec = Spec(functions=functions, tests=tests)
    got: Generated = generate(spec, CACHE / f"fw-{functions}f-{tests}t")
    return prepare(got.root, f"synthetic {functions} fn", got.functions, got.source_lines, got.tests)


# ---------------------------------------------------------------------------------------------
# the tools


def gcov_floor(p: Project) -> list[list[str]]:
    """gcov's own JSON of every .gcda, the files split over 2 processes."""
    files = [str(g) for g in p.gcda]
    return [["gcov", "--json-format", "--stdout", *files[i::CPUS]] for i in range(CPUS) if files[i::CPUS]]


PER_TEST = "covguard per test"  # the project's per-test run: not the peers' files, phases only
RUN = "covguard run (process)"  # a process doing only what every run of the merged read pays
ANALYSE = "covguard analyse (process)"  # the command itself on the per-test run, a whole process


def tools(p: Project, out: Path) -> dict[str, list[list[str]]]:
    out.mkdir(parents=True, exist_ok=True)
    return {
        "gcov JSON (floor)": gcov_floor(p),
        "covguard": [[PY, str(Path(__file__)), "--worker", "whole", str(p.root), str(out / "covguard")]],
        # the same project's per-test run (covguard test): every test's own coverage, as `covguard
        # analyse` reads it, against the peers' one merged read
        PER_TEST: [[PY, str(Path(__file__)), "--worker", "pertest", str(p.root), str(out / "pertest")]],
        # what a user waits for, as whole processes (start-up and exit included): every run's part
        # of the merged read above, and `covguard analyse` itself on the per-test run
        RUN: [[PY, str(Path(__file__)), "--worker", "run", str(p.root), str(out / "run")]],
        ANALYSE: [[PY, "-m", "covguard", "analyse", "--output-dir", str(out / "analyse")]],
        "fastcov": [
            [
                str(Path(PY).parent / "fastcov"),
                "-d",
                str(p.build_dir),
                "-b",
                "-j",
                str(CPUS),
                "-o",
                str(out / "f.json"),
            ]
        ],
        "gcovr JSON": [
            [
                PY,
                "-m",
                "gcovr",
                "-r",
                str(p.root),
                "-j",
                str(CPUS),
                "--json",
                str(out / "g.json"),
                str(p.build_dir),
            ]
        ],
        "lcov": [
            [
                "lcov",
                "--quiet",
                "--capture",
                "--rc",
                "lcov_branch_coverage=1",
                "-d",
                str(p.build_dir),
                "-o",
                str(out / "l.info"),
            ]
        ],
    }


# ---------------------------------------------------------------------------------------------
# the worker: covguard measured phase by phase, in a fresh process


def reports_worker(root: Path, out: Path) -> None:
    """``covguard report``'s own part at this size: the analysis of the last test run (per test),
    then every covguard output written (findings.json, JUnit, Cobertura, Markdown, SARIF, the trace
    matrix as CSV and XLSX, the HTML report and its source pages), timed as a whole and per output."""
    t_start = time.perf_counter()
    from covguard import api
    from covguard.options import report_options, run_options
    from covguard.report.outputs import COVGUARD_FORMATS, write_outputs
    from covguard.run.runner import load_results

    t_import = time.perf_counter()
    settings = api.settings_from(root / "covguard.toml", {"output_dir": str(out)})
    results = load_results(run_options(settings))
    analysis = api.analyse(settings)
    verdict = api.gate(settings, analysis)
    t_analyse = time.perf_counter()
    marks: list[tuple[str, float]] = []
    cpu = time.process_time()
    write_outputs(
        report_options(settings),
        analysis,
        verdict,
        results=results,
        formats=list(COVGUARD_FORMATS),
        echo=lambda text: marks.append((text.removeprefix("report: "), time.perf_counter())),
    )
    t_end = time.perf_counter()
    phases = {
        "import": t_import - t_start,
        "analyse": t_analyse - t_import,
        "reports": t_end - t_analyse,
        "reports_cpu": time.process_time() - cpu,
        "lines": float(len(analysis.lines)),
        "functions": float(len(analysis.functions)),
    }
    ends = [t for _name, t in marks[1:]] + [t_end]
    phases |= {f"out:{name}": end - t for (name, t), end in zip(marks, ends, strict=True)}
    print(json.dumps(phases))


def worker(kind: str, root: Path, out: Path) -> None:
    if kind == "reports":
        reports_worker(root, out)
        return
    t_start = time.perf_counter()
    from covguard import api
    from covguard.analysis.analyse import analyse_project
    from covguard.builder.area import Area, load_manifest
    from covguard.config import load_settings
    from covguard.files import write_text
    from covguard.ingest.collect import (
        collect,
        counters_in_place,
        coverage_model,
        frames_from_counts,
        load_notes,
    )
    from covguard.ingest.gcov_model import build_model, evaluate
    from covguard.ingest.model_cache import incremental_model, object_key
    from covguard.model import TestCase
    from covguard.options import analysis_options, build_options, run_options
    from covguard.report import findings_json
    from covguard.run.runner import TestRun, load_results

    t_import = time.perf_counter()
    settings = load_settings(root / "covguard.toml", overrides={"output_dir": str(out)})
    manifest = load_manifest(build_options(settings))
    results = load_results(run_options(settings))
    keep = api.source_filter(settings)
    t_setup = time.perf_counter()  # the settings, the build's manifest, the test results: per run
    t_notes = t_model = t_inc = t_inc_end = t_model_end = t_setup
    paths = list(manifest.notes_files)
    if kind != "run":  # the per-build phases; the "run" process does only what every run pays
        notes = load_notes(manifest)  # this and the next: what `covguard build` pays once per build
        t_notes = time.perf_counter()
        cold = build_model(
            notes, settings.build_jobs
        )  # in two processes on a large build, as `covguard build`
        t_model = time.perf_counter()
        del cold, notes
        # an incremental rebuild that changed one object: the per-object cache holds every other
        # object's model (written here, untimed), the changed one is compiled and all are merged
        folder = out / "objects"
        shutil.rmtree(folder, ignore_errors=True)
        incremental_model(paths, folder)
        changed = paths[len(paths) // 2]
        (folder / f"{object_key(Path(changed).read_bytes())}.model").unlink()
        t_inc = time.perf_counter()
        _inc, recompiled = incremental_model(paths, folder)
        t_inc_end = time.perf_counter()
        assert recompiled == [changed], recompiled
        del _inc
        t_model_end = time.perf_counter()
    # what every later run pays: the model from the build's cache (covguard.ingest.model_cache)
    model = coverage_model(manifest, Area(build_options(settings)).model_cache)
    t_load = time.perf_counter()
    if kind in ("whole", "run"):
        counters, _found = counters_in_place(model)
        counts = evaluate(model, [counters, counters])  # the unit, and the total (as collect does)
        data = frames_from_counts(model, counts, ["all"], 1, settings.root, keep, "host", manifest.variant)
        # one run of every test executable, as gcov and gcovr see it: no attribution per test
        whole_run = TestCase(
            test="workload::all", executable="tests", name="all", status="passed", duration_s=None,
            message="", file="", line=0, verifies=(), coverage_unit="all", coverage="complete",
        )  # fmt: skip
        results = TestRun(cases=[whole_run], runs=results.runs, units={"all": str(manifest.build_dir)})
    else:
        data, _n = collect(
            manifest,
            results.units,
            root=settings.root,
            keep=keep,
            origin=results.origin,
            variant=results.variant,
            model=model,
        )
    t_ingest = time.perf_counter()
    analysis = analyse_project(analysis_options(settings), data, results, manifest)
    t_analyse = time.perf_counter()
    # findings.json: the one contract every other output renders from (the HTML, XLSX, ... writers
    # of covguard.report.outputs are not part of this measurement)
    write_text(out / "findings.json", findings_json.render(analysis, api.gate(settings, analysis)))
    t_report = time.perf_counter()
    phases = {
        "import": t_import - t_start,
        "setup": t_setup - t_import,
        "notes": t_notes - t_setup,
        "model": t_model - t_notes,
        "incremental": t_inc_end - t_inc,
        "objects": float(len(paths)),
        "load": t_load - t_model_end,
        "ingest": t_ingest - t_load,
        "analyse": t_analyse - t_ingest,
        "report": t_report - t_analyse,
        "rows": float(len(data.lines)),
        "lines": float(len(data.code_lines)),
        "functions": float(len(data.code_functions)),
    }
    print(json.dumps(phases))
    if kind == "run":  # ended as the console command ends (covguard.cli.entry): no teardown
        sys.stdout.flush()
        os._exit(0)


# ---------------------------------------------------------------------------------------------
# slopes, table, chart


def fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float] | None:
    """Least-squares line ``y = a + b x`` and the log-log exponent (1.0: linear growth); None
    with fewer than two sizes (no slope to fit)."""
    n = len(xs)
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys) or 1.0
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1e-9)) for y in ys]
    mlx, mly = sum(lx) / n, sum(ly) / n
    exponent = sum((u - mlx) * (v - mly) for u, v in zip(lx, ly, strict=True)) / sum(
        (u - mlx) ** 2 for u in lx
    )
    return {"intercept": a, "slope": b, "r2": 1 - ss_res / ss_tot, "exponent": exponent}


def costs(ph: dict[str, float]) -> dict[str, float]:
    """covguard's three figures from its phases.

    * per build - reading the notes and compiling the coverage model (``covguard build`` does it
      once and caches the model);
    * per run - what ``covguard analyse`` pays on every run: start-up, loading the cached model,
      reading the ``.gcda`` files (ingestion), the analysis and ``findings.json``;
    * total - both: the cost of one commit whose build is new.
    """
    ingestion = ph["load"] + ph["ingest"]
    per_run = ph["import"] + ph.get("setup", 0.0) + ingestion + ph["analyse"] + ph["report"]
    per_build = ph["notes"] + ph["model"]
    return {"per_build": per_build, "ingestion": ingestion, "per_run": per_run, "total": per_build + per_run}


def whole_row(p: Project, samples: dict[str, Sample]) -> dict[str, Any]:
    floor = samples["gcov JSON (floor)"].wall_s
    gcovr = samples["gcovr JSON"].wall_s if "gcovr JSON" in samples else math.nan
    ph = samples["covguard"].phases
    c = costs(ph)
    return {
        "project": p.name,
        "functions": int(ph["functions"]),
        "source_lines": p.source_lines,
        "executable_lines": int(ph["lines"]),
        "gcda_files": len(p.gcda),
        "objects": int(ph.get("objects", 0)),
        "tools": {
            k: {"median_s": round(s.wall_s, 3), "peak_mb": round(s.peak_mb, 1)}
            for k, s in samples.items()
            if k != PER_TEST  # other files (the per-test run): its phases are below
        },
        "covguard_phases": {k: round(v, 3) for k, v in ph.items() if k not in COUNTS},
        "pertest_phases": (
            {k: round(v, 3) for k, v in samples[PER_TEST].phases.items()} if PER_TEST in samples else {}
        ),
        "covguard": {k: round(v, 3) for k, v in c.items()},
        # the same per-run work as whole processes (start-up and exit included), when measured
        "process": {
            key: round(samples[name].wall_s, 3)
            for key, name in (("run", RUN), ("analyse", ANALYSE))
            if name in samples
        },
        "ratio_to_floor": {k: round(v / floor, 2) for k, v in c.items()},
        "gcovr_over_covguard": {k: round(gcovr / v, 1) for k, v in c.items()},
    }


def print_whole(rows: list[dict[str, Any]]) -> list[str]:
    names = list(rows[0]["tools"])
    out = ["", "Whole project: the same .gcda files read by every tool (median seconds / peak MB)", ""]
    head = f"{'project':22} {'lines':>8} {'gcda':>5} " + " ".join(f"{n[:17]:>17}" for n in names)
    out += [head, "-" * len(head)]
    for r in rows:
        cells = " ".join(
            f"{r['tools'][n]['median_s']:>8.2f}s {r['tools'][n]['peak_mb']:>5.0f}MB".rjust(17) for n in names
        )
        out.append(
            f"{r['project'][:22]:22} {r['executable_lines']:>8} {r['gcda_files']:>5} {cells}"
            f"  (load {r.get('load_average', math.nan):.1f})"
        )
    out += [
        "",
        "covguard by phase (s; the 'covguard' column above is one process that does them all, and compiles",
        "the model and loads it from the cache): per build =",
        "notes + model; per run = import (with reading the settings, manifest and test results) + load",
        "(cached model) + ingest + analyse + report (findings.json)",
        "",
    ]
    head2 = (
        f"{'project':22} {'import':>6} {'notes':>6} {'model':>6} {'load':>6} {'ingest':>6} {'analyse':>7}"
        f" {'report':>6} {'build':>6} {'run':>6} {'total':>6}"
    )
    out += [head2, "-" * len(head2)]
    for r in rows:
        ph, c = r["covguard_phases"], r["covguard"]
        out.append(
            f"{r['project'][:22]:22} {ph['import'] + ph.get('setup', 0.0):>6.2f} {ph['notes']:>6.2f} "
            f"{ph['model']:>6.2f} "
            f"{ph['load']:>6.2f} {ph['ingest']:>6.2f} {ph['analyse']:>7.2f} {ph['report']:>6.2f} "
            f"{c['per_build']:>6.2f} {c['per_run']:>6.2f} {c['total']:>6.2f}"
        )
        pt = r.get("pertest_phases") or {}
        if pt:
            cp = costs(pt)
            out.append(
                f"{'  the same, per test':22} {pt['import'] + pt.get('setup', 0.0):>6.2f} {'':>6} {'':>6} "
                f"{pt['load']:>6.2f} "
                f"{pt['ingest']:>6.2f} {pt['analyse']:>7.2f} {pt['report']:>6.2f} {'':>6} "
                f"{cp['per_run']:>6.2f}   ({int(pt['rows'])} per-test rows)"
            )
    out += [
        "",
        "Ratios: covguard / gcov floor (target <= 1.5x) and gcovr JSON / covguard (target >= 20x)",
        "",
    ]
    head3 = (
        f"{'project':22} {'ingestion/floor':>16} {'run/floor':>10} {'total/floor':>12} "
        f"{'gcovr/ingestion':>16} {'gcovr/run':>10} {'gcovr/total':>12}"
    )
    out += [head3, "-" * len(head3)]
    for r in rows:
        f, g = r["ratio_to_floor"], r["gcovr_over_covguard"]
        out.append(
            f"{r['project'][:22]:22} {f['ingestion']:>15.2f}x {f['per_run']:>9.1f}x {f['total']:>11.1f}x "
            f"{g['ingestion']:>15.1f}x {g['per_run']:>9.1f}x {g['total']:>11.1f}x"
        )
    return out


PER_BUILD_TARGET_S = 1.0  # notes + model at SQLite size (issue 20)
REPORTS_TARGET_S = 1.0  # every covguard output at SQLite size (issue 20)
REPORTS_PEAK_MB = 300.0


def report_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in rows:
        ph = r["phases"]
        where = f"{r['project']} ({r['executable_lines']} lines, {r['functions']} fn)"
        out.append(
            {
                "target": "reports: every covguard output <= 1.0 s at SQLite size",
                "where": where,
                "measured": f"{ph['reports']:.2f} s (CPU {ph['reports_cpu']:.2f} s; "
                f"load {r['load_average']:.1f})",
                "ratio": round(ph["reports"] / REPORTS_TARGET_S, 2),
            }
        )
        out.append(
            {
                "target": "reports: peak <= 300 MB (the whole process, analysis included)",
                "where": where,
                "measured": f"{r['peak_mb']:.0f} MB",
                "ratio": round(r["peak_mb"] / REPORTS_PEAK_MB, 2),
            }
        )
    return out


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of the speed issue that this benchmark measures, against its measured figure
    (peers measured in the same run, so the ratios hold on a loaded machine too)."""
    out: list[dict[str, Any]] = []
    for r in rows:
        ph, c = r["covguard_phases"], r["covguard"]
        where = f"{r['project']} ({r['executable_lines']} lines, {r['functions']} fn)"
        if r["project"].startswith("SQLite"):
            out.append(
                {
                    "target": "per build: notes + model <= 1.0 s at SQLite size",
                    "where": where,
                    "measured": f"{c['per_build']:.2f} s",
                    "ratio": round(c["per_build"] / PER_BUILD_TARGET_S, 2),
                }
            )
        n_obj = int(r.get("objects", 0))
        if n_obj > 1:
            out.append(
                {
                    "target": "per build, incremental: one changed object compiled, not the build",
                    "where": where,
                    "measured": f"{ph['incremental']:.2f} s (1 of {n_obj} objects) vs "
                    f"{c['per_build']:.2f} s cold",
                    "ratio": round(ph["incremental"] / max(c["per_build"], 1e-9), 2),
                }
            )
        fastcov = r["tools"].get("fastcov")
        process = r.get("process") or {}
        if fastcov and "run" in process:
            out.append(
                {
                    "target": "per run: the process (start-up to exit) <= fastcov",
                    "where": where,
                    "measured": f"{process['run']:.2f} s (phases {c['per_run']:.2f}) vs fastcov "
                    f"{fastcov['median_s']:.2f} s",
                    "ratio": round(process["run"] / fastcov["median_s"], 2),
                }
            )
        pt = r.get("pertest_phases") or {}
        if fastcov and pt and "analyse" in process:
            per_test = costs(pt)["per_run"]
            out.append(
                {
                    "target": "per run, per test: `covguard analyse` (the process) <= fastcov",
                    "where": f"{where}, {int(pt['rows'])} per-test rows",
                    "measured": f"{process['analyse']:.2f} s (phases {per_test:.2f}: ingest "
                    f"{pt['ingest']:.2f}, analyse {pt['analyse']:.2f}, findings.json {pt['report']:.2f}) "
                    f"vs fastcov {fastcov['median_s']:.2f} s",
                    "ratio": round(process["analyse"] / fastcov["median_s"], 2),
                }
            )
    return out


def print_targets(rows: list[dict[str, Any]]) -> list[str]:
    out = ["", "Targets (issue 20): measured / target, <= 1.00 meets it; load average at each project", ""]
    head = f"{'target':66} {'ratio':>6}  measured, where"
    out += [head, "-" * len(head)]
    for t in rows:
        out.append(f"{t['target']:66} {t['ratio']:>6.2f}  {t['measured']}, {t['where']}")
    return out


def print_pertest(rows: list[dict[str, Any]]) -> list[str]:
    out = ["", "Per test: covguard from each test's .gcda files to findings.json (median s, peak MB)", ""]
    head = (
        f"{'tests':>6} {'lines':>7} {'gcda':>6} {'rows':>7} {'build':>6} {'load':>6} {'ingest':>6} "
        f"{'analyse':>7} {'report':>6} {'run':>6} {'total':>6} {'peak MB':>8}"
    )
    out += [head, "-" * len(head)]
    for r in rows:
        ph, c = r["phases"], r["covguard"]
        out.append(
            f"{r['tests']:>6} {r['executable_lines']:>7} {r['gcda_files']:>6} {r['rows']:>7} "
            f"{c['per_build']:>6.2f} {ph['load']:>6.2f} {ph['ingest']:>6.2f} {ph['analyse']:>7.2f} "
            f"{ph['report']:>6.2f} {c['per_run']:>6.2f} {c['total']:>6.2f} {r['peak_mb']:>8.0f}"
        )
    return out


def svg_chart(whole: list[dict[str, Any]], pertest: list[dict[str, Any]], path: Path) -> None:
    """Two log-log panels: every tool's time against code size; covguard's time against tests."""
    width, height, pad = 980, 420, 60
    colours = ["#444444", "#d62728", "#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]

    def panel(x0: float, title: str, xlabel: str, series: dict[str, list[tuple[float, float]]]) -> None:
        w, h = width / 2 - pad * 1.5, height - 2 * pad
        pts = [pt for s in series.values() for pt in s]
        if not pts:
            return
        lx = [math.log10(x) for x, _ in pts]
        ly = [math.log10(max(y, 1e-3)) for _, y in pts]
        x_lo, x_hi = math.floor(min(lx) * 2) / 2, math.ceil(max(lx) * 2) / 2 + 1e-9
        y_lo, y_hi = math.floor(min(ly)), math.ceil(max(ly)) + 1e-9

        def sx(x: float) -> float:
            return x0 + (math.log10(x) - x_lo) / (x_hi - x_lo) * w

        def sy(y: float) -> float:
            return pad + h - (math.log10(max(y, 1e-3)) - y_lo) / (y_hi - y_lo) * h

        parts.append(f'<text x="{x0}" y="{pad - 25}" font-size="13" font-weight="bold">{title}</text>')
        parts.append(f'<rect x="{x0}" y="{pad}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
        for e in range(int(y_lo), int(y_hi) + 1):
            y = pad + h - (e - y_lo) / (y_hi - y_lo) * h
            parts.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            parts.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{10.0**e:g} s</text>')
        xs = sorted({x for x, _ in pts})
        for x in xs:
            parts.append(f'<text x="{sx(x):.1f}" y="{pad + h + 15}" text-anchor="middle">{x:g}</text>')
        parts.append(f'<text x="{x0 + w / 2}" y="{pad + h + 32}" text-anchor="middle">{xlabel}</text>')
        for i, (name, s) in enumerate(series.items()):
            colour = colours[i % len(colours)]
            line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(s))
            parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for x, y in s:
                parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
            parts.append(f'<text x="{x0 + 8}" y="{pad + 14 + 14 * i}" fill="{colour}">{name}</text>')

    synth = [r for r in whole if r["project"].startswith("synthetic")]
    series: dict[str, list[tuple[float, float]]] = {}
    for r in synth:
        for name, t in r["tools"].items():
            if name != "covguard":  # its process does both the per-build and the per-run phases
                series.setdefault(name, []).append((r["executable_lines"], t["median_s"]))
        series.setdefault("covguard total", []).append((r["executable_lines"], r["covguard"]["total"]))
        series.setdefault("covguard per run (phases)", []).append(
            (r["executable_lines"], r["covguard"]["per_run"])
        )
        series.setdefault("covguard ingestion", []).append(
            (r["executable_lines"], r["covguard"]["ingestion"])
        )
    panel(pad, "Whole project: time against code size", "executable lines (log)", series)
    per = {
        "covguard total": [(r["tests"], r["covguard"]["total"]) for r in pertest],
        "covguard per run": [(r["tests"], r["covguard"]["per_run"]) for r in pertest],
        "covguard ingestion": [(r["tests"], r["covguard"]["ingestion"]) for r in pertest],
    }
    panel(
        width / 2 + pad / 2, "Per test: covguard against tests (50k-line firmware)", "test cases (log)", per
    )
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# main


def bench_whole(projects: list[Project], n: int) -> list[dict[str, Any]]:
    rows = []
    for p in projects:
        print(f"whole project: {p.name} ({len(p.gcda)} .gcda files), {n} runs per tool ...", flush=True)
        samples: dict[str, Sample] = {}
        for name, commands in tools(p, CACHE / "out" / p.root.name).items():
            if name != "covguard" and shutil.which(commands[0][0]) is None:
                print(f"  {name}: not installed, skipped", flush=True)
                continue
            samples[name] = repeat(commands, p.root, n)
            print(f"  {name:18} {samples[name].wall_s:8.3f} s  {samples[name].peak_mb:7.1f} MB", flush=True)
        rows.append(whole_row(p, samples) | {"load_average": round(os.getloadavg()[0], 2)})
    return rows


def bench_reports(projects: list[Project], n: int) -> list[dict[str, Any]]:
    """Every covguard output at SQLite size (the size the Reports target is stated at)."""
    rows = []
    for p in projects:
        if not p.name.startswith("SQLite"):
            continue
        print(f"reports: {p.name}, {n} runs ...", flush=True)
        command = [
            PY,
            str(Path(__file__)),
            "--worker",
            "reports",
            str(p.root),
            str(CACHE / "out" / "reports"),
        ]
        s = repeat([command], p.root, n)
        print(f"  covguard reports {s.phases['reports']:8.3f} s  {s.peak_mb:7.1f} MB", flush=True)
        rows.append(
            {
                "project": p.name,
                "executable_lines": int(s.phases["lines"]),
                "functions": int(s.phases["functions"]),
                "process_s": round(s.wall_s, 3),
                "peak_mb": round(s.peak_mb, 1),
                "phases": {k: round(v, 3) for k, v in s.phases.items() if k not in COUNTS},
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
    return rows


def print_reports(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "Reports: every covguard output from one analysis (median s; peak MB of the whole process)",
        "",
    ]
    for r in rows:
        ph = r["phases"]
        each = ", ".join(f"{k[4:]} {v:.2f}" for k, v in ph.items() if k.startswith("out:"))
        out.append(
            f"{r['project'][:30]:30} import {ph['import']:.2f}  analysis {ph['analyse']:.2f}  "
            f"outputs {ph['reports']:.2f} (CPU {ph['reports_cpu']:.2f})  process {r['process_s']:.2f}  "
            f"peak {r['peak_mb']:.0f} MB  (load {r['load_average']:.1f})"
        )
        out.append(f"{'':30} {each}")
    return out


def bench_pertest(functions: int, tests: Sequence[int], n: int) -> list[dict[str, Any]]:
    rows = []
    for t in tests:
        p = synthetic(functions, t)
        run_folder = p.root / ".covguard" / "host-gcc" / "run"
        # per-test coverage files: libgcov's .gcda, and the harness's per-process streams
        per_test_gcda = sum(1 for _ in run_folder.rglob("*.gcda")) + sum(
            1 for _ in run_folder.rglob("*.cgcovs")
        )
        print(f"per test: {t} tests, {per_test_gcda} .gcda files, {n} runs ...", flush=True)
        command = [
            PY,
            str(Path(__file__)),
            "--worker",
            "pertest",
            str(p.root),
            str(CACHE / "out" / p.root.name),
        ]
        s = repeat([command], p.root, n)
        print(f"  covguard {s.wall_s:8.3f} s  {s.peak_mb:7.1f} MB", flush=True)
        rows.append(
            {
                "tests": t,
                "functions": p.functions,
                "source_lines": p.source_lines,
                "executable_lines": int(s.phases["lines"]),
                "gcda_files": per_test_gcda,
                "rows": int(s.phases["rows"]),
                "process_s": round(s.wall_s, 3),
                "peak_mb": round(s.peak_mb, 1),
                "phases": {k: round(v, 3) for k, v in s.phases.items() if k not in COUNTS},
                "covguard": {k: round(v, 3) for k, v in costs(s.phases).items()},
            }
        )
    return rows


def compile_bytecode() -> None:
    """Compile covguard's modules to bytecode before anything is timed, as pip does when it installs
    the wheel.  A source tree run with ``PYTHONDONTWRITEBYTECODE=1`` (these machines set it) would
    otherwise compile every module again in every fresh process: about 0.12 s of a start-up that a
    user's installed covguard never pays."""
    import compileall

    if not compileall.compile_dir(ROOT / "covguard", quiet=1):
        raise SystemExit("could not compile covguard's modules to bytecode (see above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="covguard's benchmarks (make bench)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--sizes", default="1000,4000,16000", help="functions of the synthetic firmwares")
    parser.add_argument("--tests", default="250,500,1000", help="test cases of the per-test benchmark")
    parser.add_argument("--pertest-functions", type=int, default=2800, help="about 50k source lines")
    parser.add_argument("--no-real", action="store_true", help="skip the real code bases (Lua, SQLite)")
    parser.add_argument(
        "--only",
        default="synthetic,lua,sqlite,pertest,reports,mcdc,build",
        help="parts to run, comma-separated: synthetic, lua, sqlite, pertest, reports (every covguard "
        "output at SQLite size), mcdc (clang MC/DC per test), build (the compiler wrapper's cost); "
        "e.g. --only sqlite,reports",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 runs: a smoke test")
    parser.add_argument("--chart", action="store_true", help="only redraw chart.svg from results.json")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "ROOT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))
        return 0
    if args.chart:
        saved = json.loads((RESULTS / "results.json").read_text(encoding="utf-8"))
        svg_chart(saved["whole"], saved["pertest"], RESULTS / "chart.svg")
        return 0
    if args.quick:
        args.repeat, args.sizes, args.tests, args.pertest_functions = 3, "500,1000,2000", "50,100,200", 600
    sizes = [int(s) for s in args.sizes.split(",")]
    test_counts = [int(s) for s in args.tests.split(",")]
    for tool in ("gcc", "gcov", "make"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run 'make bootstrap' first")
    CACHE.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    t0 = time.perf_counter()
    only = {part.strip() for part in args.only.split(",")}
    unknown = only - {"synthetic", "lua", "sqlite", "pertest", "reports", "mcdc", "build"}
    if unknown:
        raise SystemExit(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    projects = [synthetic(f, max(50, f // 4)) for f in sizes] if "synthetic" in only else []
    if not args.no_real:
        from bench.real import lua_project
        from bench.sqlite import sqlite_project

        for part, make in (("lua", lua_project), ("sqlite", sqlite_project)):
            wanted = part in only or (part == "sqlite" and "reports" in only)
            real = make(CACHE) if wanted else None
            if real is not None:
                projects.append(prepare(real.root, real.name, real.functions, real.source_lines, real.tests))
    compared = [p for p in projects if "sqlite" in only or not p.name.startswith("SQLite")]
    whole = bench_whole(compared, args.repeat)
    pertest = bench_pertest(args.pertest_functions, test_counts, args.repeat) if "pertest" in only else []
    reports = bench_reports(projects, args.repeat) if "reports" in only else []
    synth = [r for r in whole if r["project"].startswith("synthetic")]
    size = [float(r["executable_lines"]) for r in synth]
    tests_n = [float(r["tests"]) for r in pertest]
    fits = {
        "gcov floor vs executable lines": fit(
            size, [r["tools"]["gcov JSON (floor)"]["median_s"] for r in synth]
        ),
        **{
            f"covguard {k.replace('_', ' ')} vs executable lines": fit(
                size, [r["covguard"][k] for r in synth]
            )
            for k in ("per_build", "ingestion", "per_run", "total")
        },
        **{
            f"covguard {k.replace('_', ' ')} vs tests": fit(tests_n, [r["covguard"][k] for r in pertest])
            for k in ("ingestion", "per_run", "total")
        },
    }
    slopes = {name: f for name, f in fits.items() if f is not None}
    goals = targets(whole) + report_targets(reports)
    lines = (print_whole(whole) if whole else []) + (print_pertest(pertest) if pertest else [])
    lines += print_reports(reports) if reports else []
    build_row = None
    if "build" in only:  # the compiler wrapper's cost (bench/build_bench.py)
        from bench import build_bench

        build_row = build_bench.bench(CACHE, args.repeat, 100 if args.quick else 500, python=False)
        lines += build_bench.lines(build_row)
        goals.append(build_bench.target(build_row))
    lines += print_targets(goals)
    mcdc: list[dict[str, Any]] = []
    if "mcdc" in only and shutil.which("clang-19") and shutil.which("llvm-cov-19"):
        from bench import mcdc_bench  # MC/DC with clang: native reader against llvm-cov per test

        mcdc = mcdc_bench.run_parts({"sample", "synthetic"}, 200 if args.quick else 1000, 1000, args.repeat)
        lines += mcdc_bench.print_rows(mcdc)
    lines += ["", "Slopes (least squares; exponent of the log-log fit: 1.0 = linear)", ""]
    for name, f in slopes.items():
        unit = "per 1k tests" if "tests" in name else "per 10k lines"
        scale = 1000 if "tests" in name else 10000
        lines.append(
            f"  {name:40} {f['slope'] * scale:8.3f} s {unit:14} R2 {f['r2']:.3f}"
            f"  exponent {f['exponent']:.2f}"
        )
    lines.append("")
    load = os.getloadavg()
    took = time.perf_counter() - t0
    lines.append(
        f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[2]:.1f} (1 / 15 min); "
        f"{args.repeat} runs per figure; benchmark took {took:.0f} s"
    )
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results.txt").write_text(text + "\n", encoding="utf-8")
    (RESULTS / "results.json").write_text(
        json.dumps(
            {
                "whole": whole,
                "pertest": pertest,
                "reports": reports,
                "build": build_row,
                "slopes": slopes,
                "targets": goals,
                "mcdc": mcdc,
                "repeat": args.repeat,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    svg_chart(whole, pertest, RESULTS / "chart.svg")
    print(f"wrote {RESULTS / 'results.txt'}, results.json and chart.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
