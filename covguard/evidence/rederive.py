"""Re-derive the verdicts from the raw data in a package, and compare them with its reports.

The package's coverage notes (``.gcno``), per-test data (``.gcda``), test results, product build
records, Python suite results and coverage.py data, requirement files, sources and resolved
settings go through covguard's own decoder (:func:`covguard.ingest.collect.collect`), analyser
(:func:`covguard.analysis.analyse.analyse_project`), gate and report writers
(:func:`covguard.report.outputs.write_outputs`), as ``covguard run`` did on the original machine.
The ``findings.json`` this gives must equal the package's; the other reports are sorted into those
that re-render byte for byte and those that do not (gcovr's, which need the object tree; any that
embed machine-specific paths).

Paths: the notes files and the per-test folders keep their original absolute names inside the
binary data (the decoder matches ``.gcda`` to ``.gcno`` by them), so the notes are parsed under
their original names and coverage is shown against the original project root.  Sources and
requirement files go into a scratch project folder (with the original's folder name, below an
empty ``.git`` marker when the original was in a checkout) that the analyser reads; the product
build's and the Python suite's records (``product.json``, the linker map, ``results.json``,
coverage.py's data file) have their paths moved there.  Rendered
reports get the scratch paths moved back before they are compared.

Re-derivation covers gcov and clang runs, one or several analysed together (``analysis.runs``),
and a Python suite beside them (see :mod:`covguard.evidence.runs`).  A clang run needs the same
llvm tool versions as the build recorded: otherwise, or with a run the package lacks, the package
says why, and its reports are then protected by their digests only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covguard.config import OPTIONS, Settings
from covguard.confine import UnsafePath, absolute_name, confined, inside, shown, single_name
from covguard.errors import CovguardError
from covguard.evidence.layout import (
    BUILD_MANIFEST,
    FINDINGS,
    INDEX,
    PREFIX,
    RESULTS,
    SETTINGS,
    run_member,
)
from covguard.model import BuildManifest
from covguard.options import analysis_options, gate_options, report_options, run_options
from covguard.run.runner import TestRun

MAX_DIFFERENCES = 12
REBASED_SUFFIXES = (".json", ".map", ".ci", ".cgraph")  # text records that name files by path


class _Bad(Exception):
    """A member the re-derivation needs is missing or malformed."""

    def __init__(self, member: str, why: str) -> None:
        super().__init__(f"{PREFIX}/{member}: {why}")


@dataclass
class Rederivation:
    """What re-deriving the verdicts from a package's raw data showed."""

    problems: list[str] = field(default_factory=list)  # each names its member
    identical: list[str] = field(default_factory=list)  # reports equal to their re-rendering
    differing: list[str] = field(default_factory=list)  # reports that differ from it
    not_rendered: list[str] = field(default_factory=list)  # reports the re-rendering did not produce
    unsupported: str | None = None  # why the verdicts were not re-derived at all
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    gate_passed: bool | None = None


def _json(stage: Path, member: str) -> Any:
    path = stage / member
    if not path.is_file():
        raise _Bad(member, "missing from the package (the re-derivation needs it)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _Bad(member, f"not a readable JSON document ({exc})") from None


def settings_from_dict(
    data: dict[str, Any], overrides: dict[str, Any], base: Path, config_path: Path | None = None
) -> Settings:
    """Settings from ``Settings.as_dict()`` data (keys as in the file), parsed by the option table;
    keys this covguard does not know are ignored, keys it knows and the data lacks get defaults."""
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        raw = overrides.get(opt.key, data.get(opt.key, opt.default))
        values[opt.attr] = opt.parse(raw, opt.key) if raw is not None else None
    return Settings(values=values, config_path=config_path, base_dir=base)


def unsupported(settings: dict[str, Any], stage: Path | None = None) -> str | None:
    """Why the verdicts of a run with these settings cannot be re-derived from a package (in
    ``stage``), if so: see :func:`covguard.evidence.runs.unsupported_run`."""
    from covguard.evidence.runs import unsupported_run

    if settings.get("gate.baseline") or settings.get("gate.diff_base"):
        return "a baseline or diff gate (gate.baseline, gate.diff_base) needs files and history outside it"
    return unsupported_run(stage or Path("/nonexistent"), settings)


def _manifest(stage: Path, member: str = BUILD_MANIFEST) -> BuildManifest:
    data = _json(stage, member)
    try:
        return BuildManifest(
            **{**data, "command": tuple(data["command"]), "notes_files": tuple(data["notes_files"])}
        )
    except (TypeError, KeyError, ValueError) as exc:
        raise _Bad(member, f"not a covguard build manifest ({exc})") from None


def _results(stage: Path, member: str = RESULTS) -> TestRun:
    try:
        return TestRun.from_json(_json(stage, member))
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise _Bad(member, f"not covguard test results ({exc})") from None


def _inside(path: str, base: str) -> str | None:
    return inside(path, base)


def _origin_path(origin: dict[str, Any], key: str) -> str:
    """An absolute path of the original machine recorded in the index (checked, never trusted)."""
    return absolute_name(origin.get(key), f"'origin.{key}'", source=f"{PREFIX}/{INDEX}")


def _member(stage: Path, name: object, what: str) -> Path:
    """A member of the package named by a record: it must stay inside the unpacked package."""
    return confined(stage, name, what, source=f"{PREFIX}/{INDEX}")


@dataclass
class _Scratch:
    """The scratch project and where things went: scratch path -> original path."""

    project: Path
    work_dir: Path
    config: Path | None
    requirements: list[str]
    back: dict[str, str]


def _scratch_project(stage: Path, scratch: Path, origin: dict[str, Any]) -> _Scratch:
    """The scratch project folder.  Every place a record names is checked first: absolute names of
    the original machine must be normalised, and what they give inside the scratch folder must stay
    there (nothing is written before the checks)."""
    root = _origin_path(origin, "root")
    git = _read_optional(stage, "vcs/git.json")
    top = str(git.get("toplevel", "")) if isinstance(git, dict) else ""
    if top:
        top = absolute_name(top, "'toplevel'", source=f"{PREFIX}/vcs/git.json")
    in_checkout = _inside(root, top) if top else None
    back: dict[str, str] = {}
    scratch.mkdir(parents=True, exist_ok=True)
    if in_checkout is not None:  # the same place below a checkout: paths relative to it match
        checkout = scratch / "checkout"
        project = confined(
            checkout, in_checkout, "the project root below the checkout", source=f"{PREFIX}/{INDEX}"
        )
        back[str(checkout)] = top
    else:
        checkout = None
        project = (
            scratch / "project" / (single_name(Path(root).name, "'origin.root'") if root != "/" else "root")
        )
    back[str(project)] = root
    requirements = origin.get("requirements", [])
    if not isinstance(requirements, list) or not all(isinstance(i, dict) for i in requirements):
        raise _Bad(INDEX, "'origin.requirements' is not a list of tables")
    planned: list[tuple[Path, Path, str]] = []
    for i, item in enumerate(requirements):
        original = absolute_name(
            item.get("original"), "a requirement file's 'original'", source=f"{PREFIX}/{INDEX}"
        )
        source = _member(stage, item.get("member"), "a requirement file's 'member'")
        target = _placed(original, root, project, scratch / "external" / str(i))
        if not source.is_file():
            raise _Bad(str(item.get("member")), "missing from the package (a configured requirement file)")
        planned.append((source, target, original))
    config = config_member = None
    if origin.get("config") and origin.get("config_path"):
        config_path = absolute_name(origin["config_path"], "'origin.config_path'", source=f"{PREFIX}/{INDEX}")
        config_member = _member(stage, origin["config"], "'origin.config'")
        config = _placed(config_path, root, project, scratch / "config")
    work_rel = _inside(_origin_path(origin, "work_dir"), root) if origin.get("work_dir") else None
    work_dir = (
        confined(project, work_rel, "'origin.work_dir'", source=f"{PREFIX}/{INDEX}")
        if work_rel
        else scratch / "work"
    )
    # every place checked: now write
    if checkout is not None:
        (checkout / ".git").mkdir(parents=True)
    project.mkdir(parents=True, exist_ok=True)
    sources = stage / "sources"
    if sources.is_dir():
        shutil.copytree(sources, project, dirs_exist_ok=True)
    requirement_paths: list[str] = []
    for source, target, original in planned:
        _confirm(scratch, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        requirement_paths.append(str(target))
        back[str(target)] = original
    if config is not None and config_member is not None:
        _confirm(scratch, config)
        config.parent.mkdir(parents=True, exist_ok=True)
        if not config.exists():
            shutil.copyfile(config_member, config)
    return _Scratch(project, work_dir, config, requirement_paths, back)


def _placed(original: str, root: str, project: Path, elsewhere: Path) -> Path:
    """Where a file of the original machine goes: below the scratch project when it was below the
    root, else in a folder of its own (checked to stay there; nothing is created yet)."""
    rel = _inside(original, root)
    if rel is not None:
        return confined(project, rel, "a path below the project root", source=f"{PREFIX}/{INDEX}")
    return confined(
        elsewhere.parent,
        f"{elsewhere.name}/{single_name(Path(original).name, 'a file name')}",
        "a file name",
        source=f"{PREFIX}/{INDEX}",
    )


def _confirm(scratch: Path, target: Path) -> None:
    """Just before a write: the place is still inside the scratch folder (links resolved)."""
    confined(scratch, target.relative_to(scratch).as_posix(), "a scratch path", source=f"{PREFIX}/{INDEX}")


def _read_optional(stage: Path, member: str) -> Any:
    try:
        return json.loads((stage / member).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def rebase_text(text: str, moves: dict[str, str]) -> str:
    """Replace each path prefix of ``moves`` in ``text`` by its new place, in one pass (longest first)."""
    if not moves:
        return text
    pattern = re.compile(
        "|".join(re.escape(k) for k in sorted(moves, key=len, reverse=True)) + r"(?=$|[/\s\"'<>,;:)\]])"
    )
    return pattern.sub(lambda m: moves[m.group(0)], text)


def _scratch_records(
    stage: Path, origin: dict[str, Any], work_dir: Path, project: Path, scratch: Path
) -> None:
    """The product build's and the Python suite's records in the scratch work folder, with the
    paths they name (text records, coverage.py's SQLite file table) moved there."""
    moves = {str(origin["work_dir"]): str(work_dir), str(origin["root"]): str(project)}
    external = origin.get("external") or {}
    if not isinstance(external, dict):
        raise _Bad(INDEX, "'origin.external' is not a table")
    moves.update({str(k): str(_member(stage, v, "an 'origin.external' member")) for k, v in external.items()})
    for folder in ("product", "python"):
        records = stage / folder
        if not records.is_dir():
            continue
        target = work_dir / folder
        shutil.copytree(records, target, ignore=shutil.ignore_patterns("_external"))
        for path in target.rglob("*"):
            if not path.is_file():
                continue
            if path.suffix in REBASED_SUFFIXES:
                text = path.read_bytes().decode("utf-8", errors="surrogateescape")
                path.write_bytes(rebase_text(text, moves).encode("utf-8", errors="surrogateescape"))
            elif path.read_bytes()[:16] == b"SQLite format 3\0":
                _rebase_sqlite(path, moves)
    _check_product_record(work_dir / "product" / "product.json", scratch, stage)


def _check_product_record(record: Path, scratch: Path, stage: Path) -> None:
    """The files the product build's record makes the analysis read (image, map, call-graph dumps)
    must be in the package: a record naming a file elsewhere on this machine is refused."""
    data = _read_optional(record.parent, record.name)
    if not isinstance(data, dict):
        return
    named = [data.get("image"), data.get("map")]
    for unit in data.get("units") or []:
        if isinstance(unit, dict):
            named += [unit.get("dump"), unit.get("info")]
    allowed = [Path(os.path.realpath(scratch)), Path(os.path.realpath(stage))]
    for name in named:
        if not name:
            continue
        real = Path(os.path.realpath(str(name)))
        if not any(real == a or a in real.parents for a in allowed):
            raise _Bad(
                "product/product.json", f"names {shown(str(name))}, a file outside the package: refused"
            )


COVERAGE_TABLES = ("coverage_schema", "meta", "file", "context", "line_bits", "arc", "tracer")
SQLITE_STEPS = 200_000_000  # virtual-machine steps one statement may take before it is stopped


def _rebase_sqlite(path: Path, moves: dict[str, str]) -> None:
    """Move the file names of a coverage.py data file (its ``file`` table).

    The packaged file is never written nor trusted: it is opened read-only (immutable, so no
    journal is replayed), only coverage.py's own tables are copied row by row into a new file that
    covguard creates (no trigger, view or index of the package comes along), and every statement
    runs under a step budget, so a crafted file cannot run a trigger or hang the verification."""
    fresh = path.with_name(path.name + ".copy")
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        with contextlib.closing(source), contextlib.closing(sqlite3.connect(fresh)) as out:
            for db in (source, out):
                db.set_progress_handler(_Budget(SQLITE_STEPS), 1000)
            tables = dict(
                source.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN "
                    f"({', '.join('?' * len(COVERAGE_TABLES))})",
                    COVERAGE_TABLES,
                ).fetchall()
            )
            if "file" not in tables:
                raise sqlite3.DatabaseError("no table 'file'")
            for name, sql in tables.items():
                if not str(sql).upper().startswith("CREATE TABLE"):
                    raise sqlite3.DatabaseError(f"table {name} is not a plain table")
                out.execute(sql)
                columns = len(source.execute(f'SELECT * FROM "{name}" LIMIT 0').description)
                rows = source.execute(f'SELECT * FROM "{name}"')
                out.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * columns)})', rows)
            files = out.execute("SELECT id, path FROM file").fetchall()
            out.executemany(
                "UPDATE file SET path = ? WHERE id = ?", [(rebase_text(str(p), moves), i) for i, p in files]
            )
            out.commit()
        fresh.replace(path)
    except sqlite3.Error as exc:
        fresh.unlink(missing_ok=True)
        raise _Bad(str(path), f"not a coverage.py data file ({exc})") from None


class _Budget:
    """A progress handler that stops a statement after a number of steps (a crafted query loop)."""

    def __init__(self, steps: int) -> None:
        self.left = steps // 1000

    def __call__(self) -> int:
        self.left -= 1
        return 1 if self.left < 0 else 0


def differences(stored: Any, derived: Any, where: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: stored X, re-derived Y`` lines."""
    if isinstance(stored, dict) and isinstance(derived, dict):
        out: list[str] = []
        for key in sorted(set(stored) | set(derived), key=str):
            sub = f"{where}.{key}" if where else str(key)
            if key not in stored:
                out.append(f"{sub}: absent, re-derived {_short(derived[key])}")
            elif key not in derived:
                out.append(f"{sub}: {_short(stored[key])}, absent when re-derived")
            else:
                out += differences(stored[key], derived[key], sub)
        return out
    if isinstance(stored, list) and isinstance(derived, list):
        if len(stored) != len(derived):
            head = [f"{where}: {len(stored)} entries, re-derived {len(derived)}"]
            a = [json.dumps(v, sort_keys=True) for v in stored]
            b = [json.dumps(v, sort_keys=True) for v in derived]
            head += [f"{where}: only in the package: {_short(json.loads(v))}" for v in a if v not in b][:3]
            head += [f"{where}: only when re-derived: {_short(json.loads(v))}" for v in b if v not in a][:3]
            return head
        out = []
        for i, (x, y) in enumerate(zip(stored, derived, strict=True)):
            out += differences(x, y, f"{where}[{i}]")
        return out
    return [] if stored == derived else [f"{where}: {_short(stored)}, re-derived {_short(derived)}"]


_NAMING_KEYS = ("kind", "id", "file", "line", "function", "test", "requirement", "status")


def _short(value: Any) -> str:
    if isinstance(value, dict) and any(k in value for k in _NAMING_KEYS):
        value = {k: value[k] for k in _NAMING_KEYS if value.get(k) not in (None, "", [])}
    text = shown(json.dumps(value, ensure_ascii=False), backslash=False)  # no bidi override printed
    return text if len(text) <= 80 else text[:77] + "..."


def rederive(stage: Path, scratch: Path) -> Rederivation:
    """Re-run covguard's decoder, analyser, gate and report writers over the package in ``stage``."""
    result = Rederivation()
    try:
        _rederive(stage, scratch, result)
    except _Bad as exc:
        result.problems.append(f"the verdicts cannot be re-derived: {exc}")
    except CovguardError as exc:
        text = exc.render().replace(str(stage) + "/", PREFIX + "/").replace(str(scratch) + "/", "")
        result.problems.append(f"the verdicts cannot be re-derived from the package's data: {text}")
    return result


def _rederive(stage: Path, scratch: Path, result: Rederivation) -> None:
    raw_settings = _json(stage, SETTINGS)
    if not isinstance(raw_settings, dict):
        raise _Bad(SETTINGS, "not a table of settings")
    result.unsupported = unsupported(raw_settings, stage)
    if result.unsupported is not None:
        return
    index = _json(stage, INDEX)
    origin = index.get("origin") if isinstance(index, dict) else None
    if not isinstance(origin, dict) or not all(k in origin for k in ("root", "build_dir", "run_dir")):
        raise _Bad(INDEX, "no 'origin' with the original root, build and run folders")
    try:
        place = _scratch_project(stage, scratch, origin)
        _scratch_records(stage, origin, place.work_dir, place.project, scratch)
    except UnsafePath as exc:
        raise _Bad(INDEX, exc.message) from None
    overrides = {
        "root": str(place.project),
        "work_dir": str(place.work_dir),
        "output_dir": str(scratch / "out"),
        "requirements": place.requirements,
    }
    # the justification ledger as packaged (never the original machine's file)
    ledger = stage / "justifications" / Path(str(raw_settings.get("justify.ledger") or "none")).name
    overrides["justify.ledger"] = str(ledger if ledger.is_file() else scratch / "no-ledger.toml")
    try:
        settings = settings_from_dict(raw_settings, overrides, place.project, place.config)
    except CovguardError as exc:
        raise _Bad(SETTINGS, exc.message) from None
    from covguard.analysis.analyse import analyse_project
    from covguard.analysis.gate import evaluate_gate
    from covguard.evidence.runs import Scratch, collect_runs
    from covguard.run.pytest_runner import load_python_run, with_python, with_python_coverage

    data, results, manifest = collect_runs(
        Scratch(stage, origin, place.project, scratch / "llvm"),
        raw_settings,
        settings,
        lambda member: _manifest(stage, member),
        lambda member: _results(stage, member),
        _Bad,
        # every run's results.json against its raw test output (results are derived data)
        on_results=lambda run, run_dir, prefix: result.problems.extend(
            _raw_output_problems(stage, run, run_dir, prefix)
        ),
    )
    results = with_python(results, load_python_run(run_options(settings)))
    data = with_python_coverage(run_options(settings), data, results)
    # what covguard.api.analyse and .gate do with the data, results and build given
    analysis = analyse_project(analysis_options(settings), data, results, manifest)
    verdict = evaluate_gate(gate_options(settings), analysis)
    _compare(stage, scratch / "out", settings, analysis, verdict, results, place.back, result)


def _raw_output_problems(stage: Path, results: TestRun, run_dir: str, prefix: str = "") -> list[str]:
    """results.json against the executables' raw output in the package (the evidence)."""
    from covguard.run.results_check import results_problems

    runs = []
    for r in results.runs:
        member = prefix + run_member(r.stdout_path, run_dir)
        runs.append(
            (
                r.label,
                r.format,
                _member(stage, member, f"the log folder of '{r.label}'"),
                f"{PREFIX}/{member}",
                r.nonce,
            )
        )
    return [
        f"{PREFIX}/{prefix}{RESULTS}: the results do not follow from the raw test output: {p}"
        for p in results_problems(runs, results.cases)
    ]


def _compare(
    stage: Path,
    out: Path,
    settings: Settings,
    analysis: Any,
    verdict: Any,
    results: TestRun,
    back: dict[str, str],
    result: Rederivation,
) -> None:
    """Re-render every report from the re-derived analysis; compare each with the package's."""
    from covguard.report.outputs import write_outputs

    reports = stage / "reports"
    stored = (
        sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*") if p.is_file())
        if reports.is_dir()
        else []
    )
    if "findings.json" not in stored:
        raise _Bad(FINDINGS, "missing from the package: the verdicts to compare with")
    # what the writers do not make (gcovr's formats) is put in place first, so that the pages that
    # link to them are rendered as they were
    from covguard.report.outputs import COVGUARD_FORMATS

    written_by_covguard = set(COVGUARD_FORMATS.values())
    for name in stored:
        if name not in written_by_covguard:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(reports / name, out / name)
    try:
        written = write_outputs(report_options(settings), analysis, verdict, results=results)
    except CovguardError as exc:
        result.notes.append(
            f"re-rendering the reports failed ({exc.message}); they are checked by digest only"
        )
        written = {}
    rendered: dict[str, bytes] = {}
    for path in written.values():
        name = path.relative_to(out).as_posix()
        # byte-exact: surrogateescape round-trips any byte, and no newline is translated
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        rendered[name] = rebase_text(text, back).encode("utf-8", errors="surrogateescape")
    derived = json.loads(rendered.get("findings.json", b"{}"))
    result.summary = dict(derived.get("summary", {}))
    result.gate_passed = bool(verdict.passed)
    try:
        kept = json.loads((reports / "findings.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        kept = None
        result.problems.append(f"{PREFIX}/{FINDINGS}: not a readable JSON document ({exc})")
    if kept is not None:
        if isinstance(kept, dict) and kept.get("tool") != derived.get("tool"):
            result.notes.append(
                f"{FINDINGS} was written by {kept.get('tool')}, the re-derivation ran {derived.get('tool')}: "
                "an analyser of another version may judge differently"
            )
        diff = differences(
            {k: v for k, v in kept.items() if k != "tool"} if isinstance(kept, dict) else kept,
            {k: v for k, v in derived.items() if k != "tool"},
        )
        if diff:
            shown = diff[:MAX_DIFFERENCES]
            more = f"\n      ... and {len(diff) - len(shown)} more" if len(diff) > len(shown) else ""
            result.problems.append(
                f"{PREFIX}/{FINDINGS}: the verdicts differ from the ones re-derived from the raw data in "
                "the package:\n      " + "\n      ".join(shown) + more
            )
        else:
            result.identical.append(FINDINGS)
    for name in stored:
        member = f"reports/{name}"
        if name == "findings.json":
            continue
        if name not in rendered:
            result.not_rendered.append(member)
        elif (reports / name).read_bytes() == rendered[name]:
            result.identical.append(member)
        else:
            result.differing.append(member)
    result.identical.sort()
