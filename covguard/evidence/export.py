"""`covguard evidence export`: one reproducible archive with everything an auditor needs.

The members are staged in a scratch folder, the verdicts are re-derived from the staged raw data
(the same check ``verify`` makes: a package whose reports do not follow from its data is refused
here, before anyone relies on it), the index and the manifest are written, and the archive is
built from the staged files - so what is hashed is exactly what is archived, even when a file
changes on disk meanwhile.  The archive is written atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from covguard import __version__
from covguard.builder.area import Area, load_manifest
from covguard.config import Settings
from covguard.errors import ConfigError, InputError
from covguard.evidence.archive import scan, walk, write_archive
from covguard.evidence.layout import (
    ACTIVITIES,
    BASELINE,
    BUILD_MANIFEST,
    DEFAULT_EPOCH,
    DEFAULT_NAME,
    INDEX,
    INDEX_SCHEMA,
    MANIFEST,
    PREFIX,
    RESULTS,
    SETTINGS,
    SIGNATURE,
    category,
    notes_member,
    run_member,
)
from covguard.evidence.rederive import Rederivation, rederive
from covguard.evidence.statement import statement
from covguard.files import atomic_write, display_path, escapes_root, is_stdout, json_text, sha256_file
from covguard.ingest.collect import check_sources
from covguard.model import BuildManifest
from covguard.options import analysis_options, build_options, run_options
from covguard.run.runner import TestRun, load_results

Echo = Callable[[str], None]
SPOOL_BYTES = 64 << 20
FORMULA_START = r"^[=+\-@\t\r]"


@dataclass
class ExportResult:
    """What ``covguard evidence export`` wrote."""

    path: Path
    members: int
    size: int
    sha256: str
    source_date_epoch: int
    rederived: list[str] = field(default_factory=list)  # reports re-rendered byte for byte
    digest_only: list[str] = field(default_factory=list)  # reports only their digest protects
    withheld: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    gate_passed: bool | None = None
    signed_by: list[str] = field(default_factory=list)  # key ids of the DSSE envelope


class _Stage:
    """The package being assembled in a scratch folder: member name -> file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: set[str] = set()
        self.extra: dict[str, dict[str, Any]] = {}

    def copy(self, name: str, source: Path, **extra: Any) -> None:
        target = self._target(name)
        shutil.copyfile(source, target)
        if extra:
            self.extra[name] = extra

    def text(self, name: str, text: str) -> None:
        self._target(name).write_bytes(text.encode("utf-8", "surrogateescape"))

    def json(self, name: str, data: Any) -> None:
        self.text(name, json_text(data, indent=2, sort_keys=True) + "\n")

    def _target(self, name: str) -> Path:
        if name in self.names:  # pragma: no cover - the layout gives unique names
            raise AssertionError(f"member {name} staged twice")
        self.names.add(name)
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


# ---------------------------------------------------------------------------------------------
# facts about the project


def source_date_epoch(environ: Mapping[str, str], git: dict[str, Any]) -> int:
    """``SOURCE_DATE_EPOCH`` when set; else the firmware's commit time; else 1980-01-01."""
    raw = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        if not raw.isdigit():
            raise ConfigError(
                f"SOURCE_DATE_EPOCH must be a number of seconds since 1970, not {raw!r}",
                hint="unset it, or set it to e.g. $(git log -1 --format=%ct)",
            )
        return int(raw)
    commit_time = git.get("commit_time_epoch")
    return int(commit_time) if isinstance(commit_time, int) else DEFAULT_EPOCH


def _git(root: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # a status must not write the index
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            check=False,
            env=env,
        )
    except FileNotFoundError:
        return 127, "git is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr.strip()


def git_state(root: Path, own_folders: list[Path]) -> dict[str, Any]:
    """Commit and dirty state of the firmware (the project root); covguard's own folders ignored."""
    code, top = _git(root, "rev-parse", "--show-toplevel")
    if code == 127:
        return {"repository": None, "state": "unknown: git is not installed"}
    if code != 0:
        return {"repository": False, "state": "not a git repository"}
    code, head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    commit = head.strip() if code == 0 else None
    _, when = _git(root, "log", "-1", "--format=%ct", "HEAD") if commit else (1, "")
    exclude = []
    for folder in own_folders:
        rel = display_path(folder, root)
        if not rel.startswith("/") and rel not in ("", "."):
            exclude.append(f":(exclude){rel}")
    code, status = _git(root, "status", "--porcelain=v1", "--untracked-files=all", "--", ".", *exclude)
    lines = sorted(line for line in status.splitlines() if line.strip()) if code == 0 else []
    return {
        "repository": True,
        "toplevel": top.strip(),
        "commit": commit,
        "commit_time_epoch": int(when.strip()) if when.strip().isdigit() else None,
        "dirty": bool(lines) if code == 0 else None,
        "status": lines if code == 0 else f"unknown: {status}",
        "state": ("no commit yet" if commit is None else ("dirty" if lines else "clean"))
        if code == 0
        else "unknown",
    }


def tool_versions(manifest: BuildManifest) -> dict[str, Any]:
    """covguard, Python and the Python packages it runs on; the toolchain recorded at build time."""
    packages: dict[str, str] = {}
    for name in ("gcovr", "pandas", "numpy", "lxml", "click"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return {
        "covguard": __version__,
        "python": sys.version.split()[0],
        "python_packages": packages,
        "toolchain_profile": manifest.toolchain,
        "toolchain_at_build": dict(sorted(manifest.compilers.items())),
    }


def requirements_baseline(settings: Settings) -> str:
    """The requirement frame as covguard reads it, as CSV (spreadsheet formulas neutralised)."""
    from covguard.analysis.analyse import load_requirements

    frame = load_requirements(analysis_options(settings))
    if frame["parent"].isna().all():  # no hierarchy: the baseline keeps its columns
        frame = frame.drop(columns="parent")
    else:
        frame["parent"] = frame["parent"].fillna("")
    frame["source"] = [display_path(s, settings.root) for s in frame["source"]]
    frame["attributes"] = [json.dumps(a, sort_keys=True, ensure_ascii=False) for a in frame["attributes"]]
    for col in [c for c in ("id", "title", "safety_class", "source", "attributes", "parent") if c in frame]:
        text = frame[col].astype(str)
        frame[col] = text.where(~text.str.match(FORMULA_START), "'" + text)
    return str(frame.to_csv(index=False, lineterminator="\n"))


# ---------------------------------------------------------------------------------------------
# gathering


def is_package(path: Path) -> bool:
    """Whether ``path`` is a covguard evidence package (a gzip whose first member is ours)."""
    if not path.is_file() or path.suffix not in (".gz", ".tgz"):
        return False
    try:
        with gzip.open(path, "rb") as handle:
            head = handle.read(1024)
    except (OSError, EOFError, zlib.error):
        return False
    return f"{PREFIX}/".encode() in head


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _reports(stage: _Stage, settings: Settings, archive: Path, withheld: list[dict[str, str]]) -> None:
    out = settings.output_dir
    archive_abs = archive.resolve()

    def skip(p: Path) -> bool:
        name = p.name
        return (
            p.resolve() == archive_abs
            or (name.startswith(".") and name.endswith(".tmp"))  # a write in progress
            or p.resolve() == settings.work_dir.resolve()
            or is_package(p)  # an earlier export: a package never contains packages
        )

    files, links = walk(out, skip)
    for p in files:
        stage.copy("reports/" + p.relative_to(out).as_posix(), p)
    for p in links:
        withheld.append(
            {
                "path": display_path(p, settings.root),
                "kind": "report",
                "reason": "a symbolic link: not copied",
            }
        )


def _product(stage: _Stage, settings: Settings) -> tuple[list[str], dict[str, str]]:
    """The product build's records (call-graph dumps, image, map: what reachability reads).

    Returns the sources the product build compiled, and the files it records outside its own
    folder (original path -> member)."""
    from covguard.builder import product

    if not build_options(settings).product_configured:
        return [], {}
    area = product.ProductArea(build_options(settings))
    if not area.root.is_dir():
        return [], {}
    files, _links = walk(area.root, lambda p: p.parent == area.root and p.name in ("bin", "cc-log"))
    for p in files:
        stage.copy("product/" + p.relative_to(area.root).as_posix(), p)
    try:
        record = json.loads(area.manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return [], {}
    units = [u for u in record.get("units", []) if isinstance(u, dict)]
    sources = [str(u.get("source")) for u in units] + [str(v) for v in record.get("objects", {}).values()]
    external: dict[str, str] = {}
    referenced = [
        record.get("image"),
        record.get("map"),
        *(u.get(k) for u in units for k in ("dump", "info")),
    ]
    for path in referenced:
        if isinstance(path, str) and path and not _is_inside(Path(path), area.root) and Path(path).is_file():
            member = "product/_external/" + os.path.normpath(path).lstrip("/")
            if member not in stage.names:
                stage.copy(member, Path(path))
            external[path] = member
    return sources, external


def _python(stage: _Stage, settings: Settings, external: dict[str, str]) -> list[str]:
    """The Python suite's records (results, coverage.py data, output); returns its sources and
    tests (absolute paths) for the sources of the package."""
    if not settings.values.get("python_tests"):
        return []
    from covguard.ingest.coverage_py import source_files
    from covguard.run.pytest_runner import work_folder

    folder = work_folder(run_options(settings))
    files, _links = walk(folder, lambda p: False) if folder.is_dir() else ([], [])
    for p in files:
        stage.copy("python/" + p.relative_to(folder).as_posix(), p)
    root = settings.root
    found = [str(p) for p in source_files(root, settings.python_sources, settings.exclude)]
    for tests in settings.python_tests:
        path = root / tests
        found += [str(p) for p in (sorted(path.rglob("*.py")) if path.is_dir() else [path]) if p.is_file()]
    try:
        record = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return found
    found += [str(root / shown) for shown in record.get("source_hashes", {})]
    data_file = record.get("data_file")
    if isinstance(data_file, str) and Path(data_file).is_file() and not _is_inside(Path(data_file), folder):
        member = "python/_external/" + os.path.normpath(data_file).lstrip("/")
        stage.copy(member, Path(data_file))
        external[data_file] = member
    return found


def _sources(
    settings: Settings, manifest: BuildManifest, results: TestRun, product_sources: list[str]
) -> tuple[dict[str, str | None], list[dict[str, str]]]:
    """Every source the analysis read (product and test code), relative to the root; and the withheld."""
    from covguard.analysis.analyse import _test_source_files, tests_frame

    root = settings.root
    hashes: dict[str, str | None] = {}
    for path, digest in manifest.source_hashes.items():
        shown = display_path(path, root)
        if not shown.startswith("/"):
            hashes[shown] = digest
    for path in product_sources:
        shown = display_path(path, root)
        if not shown.startswith("/"):
            hashes.setdefault(shown, None)
    for shown in _test_source_files(analysis_options(settings), tests_frame(results.cases)):
        hashes.setdefault(shown, None)
    keep: dict[str, str | None] = {}
    withheld: list[dict[str, str]] = []
    for shown in sorted(hashes):
        real = escapes_root(shown, root)
        if real is not None:
            withheld.append(
                {
                    "path": shown,
                    "kind": "source",
                    "reason": f"a symbolic link to {real}, outside the project root: not copied",
                }
            )
        elif (root / shown).is_file():
            keep[shown] = hashes[shown]
    return keep, withheld


def _stage_all(
    stage: _Stage,
    settings: Settings,
    manifest: BuildManifest,
    results: TestRun,
    archive: Path,
    git: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    area = Area(build_options(settings))
    root = settings.root
    withheld: list[dict[str, str]] = []
    _reports(stage, settings, archive, withheld)
    # per-test results and raw coverage data
    stage.copy(RESULTS, area.results)
    run_files, run_links = walk(area.run_dir, lambda p: False) if area.run_dir.is_dir() else ([], [])
    for p in run_files:
        stage.copy(run_member(str(p), str(area.run_dir)), p)
    for p in run_links:
        withheld.append({"path": str(p), "kind": "run", "reason": "a symbolic link: not copied"})
    for notes in manifest.notes_files:
        stage.copy(notes_member(notes, manifest.build_dir), Path(notes))
    # the build
    stage.copy(BUILD_MANIFEST, area.manifest)
    for record in (area.compile_commands, area.root / "cc-config.json", area.build_log):
        if record.is_file():
            stage.copy(f"build/{record.name}", record)
    # configuration
    config_member = None
    if settings.config_path is not None and Path(settings.config_path).is_file():
        config_member = f"config/{Path(settings.config_path).name}"
        stage.copy(config_member, Path(settings.config_path))
    stage.json(SETTINGS, settings.as_dict())
    ledger = Path(settings.justify_ledger)
    if ledger.is_file():  # the justification ledger (covguard justify)
        stage.copy(f"justifications/{ledger.name}", ledger)
    # requirements: the files as configured, and the baseline as read
    requirements = []
    for i, path in enumerate(settings.requirements):
        shown = display_path(path, root)
        member = (
            f"requirements/files/{shown}"
            if not shown.startswith("/")
            else f"requirements/external/{i}/{Path(path).name}"
        )
        stage.copy(member, Path(path))
        requirements.append({"original": str(path), "member": member})
    stage.text(BASELINE, requirements_baseline(settings))
    # clang's test executables (their coverage mapping); the other runs of analysis.runs
    from covguard.evidence.runs import shown_sources, stage_executables, stage_other_runs

    if manifest.extra.get("coverage") == "llvm":
        stage_executables(stage.copy, results, root)
    runs, run_manifests, _run_results = stage_other_runs(stage.copy, settings)
    # the product build (reachability) and the sources
    product_sources, external = _product(stage, settings)
    python_sources = _python(stage, settings, external)
    more = [*product_sources, *python_sources, *shown_sources(run_manifests, root)]
    sources, held = _sources(settings, manifest, results, more)
    withheld += held
    for shown, digest in sources.items():
        stage.copy(f"sources/{shown}", root / shown, **({"build_sha256": digest} if digest else {}))
    # tools and version control
    stage.json("toolchain/versions.json", tool_versions(manifest))
    stage.json("vcs/git.json", git)
    origin = {
        "root": str(root),
        "work_dir": str(settings.work_dir),
        "output_dir": str(settings.output_dir),
        "build_dir": manifest.build_dir,
        "run_dir": str(area.run_dir),
        "config": config_member,
        "config_path": str(settings.config_path) if config_member else None,
        "requirements": requirements,
        "external": external,
    }
    if runs:
        origin["runs"] = runs
    return origin, withheld


def _index(stage: _Stage, origin: dict[str, Any], withheld: list[dict[str, str]]) -> dict[str, Any]:
    items = []
    for name in sorted({*stage.names, INDEX, MANIFEST}):
        c = category(name)
        item: dict[str, Any] = {"path": name, "activities": list(c.activities), "description": c.description}
        if name == MANIFEST:
            item.update(
                activities=["8"],
                description="in-toto Statement v1: the SHA-256 of every other member",
            )
        item.update(stage.extra.get(name, {}))
        items.append(item)
    return {
        "schema": INDEX_SCHEMA,
        "activities": ACTIVITIES,
        "origin": origin,
        "items": items,
        "withheld": sorted(withheld, key=lambda w: w["path"]),
    }


def _predicate(
    settings: Settings,
    git: dict[str, Any],
    epoch: int,
    versions: dict[str, Any],
    findings: dict[str, Any],
    check: Rederivation,
    digest_only: list[str],
    withheld: list[dict[str, str]],
    origin: dict[str, Any],
) -> dict[str, Any]:
    """covguard's predicate of the in-toto Statement: what an auditor reads first."""
    conf = settings.as_dict()
    gate = findings.get("gate") if isinstance(findings.get("gate"), dict) else {}
    return {
        "tool": {"name": "covguard", "version": __version__},
        "created": datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z"),
        "source_date_epoch": epoch,
        "firmware": {k: git.get(k) for k in ("repository", "state", "commit", "dirty") if k in git},
        "versions": versions,
        "configuration": {
            "file": origin["config"],
            "settings": SETTINGS,
            "toolchain": conf.get("toolchain"),
            "variant": conf.get("variant"),
            "default_safety_class": conf.get("default_safety_class"),
            "gate": {k: v for k, v in conf.items() if k.startswith("gate.")},
        },
        "verdict": {
            "gate_passed": gate.get("passed") if gate else None,
            "summary": findings.get("summary", {}),
        },
        "reports": {"rederived": check.identical, "digest_only": digest_only},
        "rederivation": "supported" if check.unsupported is None else f"not supported: {check.unsupported}",
        "withheld": sorted(w["path"] for w in withheld),
    }


def _inputs(settings: Settings) -> tuple[BuildManifest, TestRun, dict[str, Any]]:
    """The last build, test run and findings; refused when the sources changed since the build."""
    findings_path = settings.output_dir / "findings.json"
    manifest = load_manifest(build_options(settings))
    results = load_results(run_options(settings))
    if not findings_path.is_file():
        raise InputError(
            "no findings.json in the output folder: nothing has been analysed yet",
            path=findings_path,
            hint="run 'covguard run' (or 'covguard analyse') first, with the same settings",
        )
    stale = check_sources(manifest, settings.root, lambda shown: not shown.startswith("/"))
    if stale:
        raise InputError(
            "sources differ from the ones that were built and tested, so the package could not attest "
            "them:\n  " + "\n  ".join(stale),
            hint="run 'covguard run' again, then export",
        )
    try:
        findings = json.loads(findings_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"findings.json is unreadable ({exc})", path=findings_path) from None
    return manifest, results, findings if isinstance(findings, dict) else {}


def _judge(check: Rederivation, withheld: list[dict[str, str]], settings: Settings) -> list[str]:
    """Refuse a package whose reports do not follow from its data; the warnings for one that is
    written although its verdicts cannot be re-derived."""
    warnings = list(check.notes)
    if check.unsupported:
        warnings.append(
            f"the verdicts cannot be re-derived from this package yet ({check.unsupported}): "
            "its reports are protected by their digests only"
        )
    if check.problems:
        held_sources = [w["path"] for w in withheld if w["kind"] == "source"]
        if not held_sources:
            raise InputError(
                f"the reports in {settings.output_dir} do not follow from the data in "
                f"{settings.work_dir}:\n  " + "\n  ".join(check.problems),
                hint="run 'covguard run' again (or 'covguard analyse' with the same settings) and export "
                "again: the package would not verify",
            )
        warnings.append(
            "the verdicts cannot be re-derived from this package because sources were withheld "
            f"({', '.join(held_sources)}): 'covguard evidence verify' will report it"
        )
    return warnings


def _write(
    stage: _Stage, digests: dict[str, str], epoch: int, archive: Path, scratch: str, extra: list[str]
) -> tuple[int, str]:
    """Build the archive from the staged files, check it holds exactly them, write it atomically
    (or through, to ``-`` or a device); its size and SHA-256."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, dir=scratch) as spool:
        write_archive(stage.folder, [*digests, *extra], epoch, spool)
        spool.seek(0)
        found = scan(spool, str(archive))
        if found.problems or {k: v for k, v in found.digests.items() if k not in extra} != digests:
            raise AssertionError(f"the archive does not hold what was staged: {found.problems}")
        spool.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: spool.read(1 << 20), b""):
            digest.update(chunk)
        size = spool.tell()
        spool.seek(0)

        def copy(handle: IO[bytes]) -> None:
            shutil.copyfileobj(spool, handle)

        atomic_write(archive, copy)
    return size, digest.hexdigest()


def export_evidence(
    settings: Settings,
    output: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    echo: Echo | None = None,
    sign: Sequence[str] = (),
) -> ExportResult:
    """Write the evidence package of the last run (see :mod:`covguard.evidence`); ``sign``: private
    keys (PEM files, or ``env:NAME``) whose DSSE signatures of the manifest the package carries."""
    from covguard.evidence.sign import envelope, load_signer

    environ = os.environ if environ is None else environ
    signers = [load_signer(spec, environ) for spec in sign]  # a bad key fails before any work
    archive = output if is_stdout(output) else (output or settings.output_dir / DEFAULT_NAME).absolute()
    assert archive is not None
    manifest, results, findings = _inputs(settings)
    beside = [] if is_stdout(archive) else [archive.parent]
    git = git_state(settings.root, [settings.work_dir, settings.output_dir, *beside])
    epoch = source_date_epoch(environ, git)
    with tempfile.TemporaryDirectory(prefix="covguard-evidence-") as tmp:
        stage = _Stage(Path(tmp) / "stage")
        stage.folder.mkdir()
        if echo:
            echo("evidence: gathering reports, results, coverage data, sources and records")
        origin, withheld = _stage_all(stage, settings, manifest, results, archive, git)
        stage.json(INDEX, _index(stage, origin, withheld))
        if echo:
            echo("evidence: re-deriving the verdicts from the staged data")
        check = rederive(stage.folder, Path(tmp) / "scratch")
        warnings = _judge(check, withheld, settings)
        reports = sorted(n for n in stage.names if n.startswith("reports/"))
        digest_only = [n for n in reports if n not in check.identical]
        predicate = _predicate(
            settings, git, epoch, tool_versions(manifest), findings, check, digest_only, withheld, origin
        )
        digests = {name: sha256_file(stage.folder / name) for name in sorted(stage.names)}
        manifest_bytes = statement(digests, predicate)
        stage.folder.joinpath(MANIFEST).write_bytes(manifest_bytes)
        extra = [MANIFEST]
        if signers:
            stage.folder.joinpath(SIGNATURE).write_bytes(envelope(manifest_bytes, signers))
            extra.append(SIGNATURE)
        size, sha256 = _write(stage, digests, epoch, archive, tmp, extra)
    return ExportResult(
        path=archive,
        members=len(digests) + 1 + len(signers[:1]),
        size=size,
        sha256=sha256,
        source_date_epoch=epoch,
        rederived=check.identical,
        digest_only=digest_only,
        withheld=sorted(w["path"] for w in withheld),
        warnings=warnings,
        gate_passed=check.gate_passed,
        signed_by=[s.keyid for s in signers],
    )
