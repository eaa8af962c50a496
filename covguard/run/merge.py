"""`covguard merge`: one test run from the shards of parallel CI jobs.

A large firmware's tests run as parallel CI jobs, each ``covguard test --shard K/N`` (every N-th
test executable) on the *same* build.  Each job leaves a **shard**: its toolchain work area
(``.covguard/host-gcc/`` - ``build.json``, ``results.json`` and the ``run/`` tree of per-test
coverage data and logs), or a work folder that holds one.  Merging rules:

* every shard must come from the same build: the same toolchain, variant, build command, notes
  files and notes stamps (``build.json``'s ``notes_stamps``: GCC gives every compile a new
  stamp) and the same source hashes (the same source revision).  Otherwise the merge refuses
  and names the shards and what differs;
* the shards' ``K/N`` must agree on ``N`` and not overlap; a shard missing from ``1..N`` is an
  error unless ``partial`` (an intermediate merge, itself a shard for a later merge);
* a test executable may appear in one shard only;
* the result does not depend on the order or grouping of the shards: executables are ordered by
  label, each keeps its own order of test cases, and ``K/N`` lists are sorted.  So
  ``merge(1, 2, 3)``, ``merge(3, 1, 2)`` and ``merge(merge(1, 2), 3)`` give the same bytes of
  ``results.json`` (paths aside) and of ``findings.json``.

The merged run is written into this job's own work area like a ``covguard test`` (the coverage
files are hard-linked, or copied across file systems), so ``covguard analyse`` and ``gate``
work on it unchanged, and it is itself a shard for a further merge.  The build's notes files
must be where the build left them (CI jobs that share one build artifact at the same workspace
path, as GitHub Actions and GitLab give them), because the coverage data names its objects by
absolute path.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from covguard.builder.area import Area
from covguard.confine import UnsafePath, confined, relative_name, shown
from covguard.errors import CoverageDataError, InputError
from covguard.files import write_json
from covguard.limits import LimitExceeded, Limits
from covguard.model import BuildManifest, ExecutableRun, TestCase
from covguard.run.options import RunOptions
from covguard.run.runner import TestRun

_HINT_SAME_BUILD = (
    "build once, share the build's work folder (build.json and build/) with every test job as a CI "
    "artifact, and run 'covguard test --shard K/N' in each job on that build"
)


@dataclass(frozen=True)
class Shard:
    """One shard: where it is, its build manifest and its test results."""

    name: str  # as the user gave it
    area: Path  # the folder with build.json and results.json
    manifest: BuildManifest
    results: TestRun


def _area_of(path: Path, options: RunOptions) -> Path:
    """The toolchain area inside a shard: the folder itself, or its <toolchain> sub-folder."""
    sub = options.build.toolchain_dir().name
    for candidate in (path, path / sub, path / ".covguard" / sub):
        if (candidate / "results.json").is_file():
            return candidate
    raise InputError(
        f"not a covguard shard: no results.json in it, nor in {sub}/ or .covguard/{sub}/",
        path=path,
        hint="give the work folder (or its toolchain folder) of a 'covguard test --shard K/N' job",
    )


def _read_json(path: Path, what: str) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"the shard has no {what}",
            path=path,
            hint="upload the whole toolchain work folder of each test job (build.json, results.json, run/)",
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"the shard's {what} is unreadable ({exc})", path=path) from None
    if not isinstance(data, dict):
        raise InputError(f"the shard's {what} is not a JSON object", path=path)
    return data


def load_shard(path: Path, options: RunOptions, name: str | None = None) -> Shard:
    area = _area_of(path, options)
    raw_manifest = _read_json(area / "build.json", "build manifest (build.json)")
    raw_results = _read_json(area / "results.json", "test results (results.json)")
    try:
        fields: dict[str, Any] = dict(raw_manifest)
        fields["command"] = tuple(fields["command"])
        fields["notes_files"] = tuple(fields["notes_files"])
        manifest = BuildManifest(**fields)
        results = TestRun.from_json(raw_results)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"the shard's build.json or results.json is not covguard's ({exc})",
            path=area,
            hint="produce shards with the same covguard version ('covguard test --shard K/N')",
        ) from None
    return Shard(name=name or str(path), area=area, manifest=manifest, results=results)


def build_identity(manifest: BuildManifest) -> dict[str, object]:
    """What must be equal for two runs' coverage to be decoded with one build's notes."""
    return {
        "toolchain": manifest.toolchain,
        "variant": manifest.variant,
        "command": list(manifest.command),
        "notes files": list(manifest.notes_files),
        "notes stamps": manifest.extra.get("notes_stamps", ""),
        "compilers": manifest.compilers,
        "sources": manifest.source_hashes,
    }


def _differences(a: BuildManifest, b: BuildManifest) -> str:
    ia, ib = build_identity(a), build_identity(b)
    parts: list[str] = []
    for key in ia:
        if ia[key] == ib[key]:
            continue
        if key == "sources":
            sa, sb = a.source_hashes, b.source_hashes
            changed = sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k))
            shown = ", ".join(os.path.basename(c) for c in changed[:3]) + (" ..." if len(changed) > 3 else "")
            differ = "1 file differs" if len(changed) == 1 else f"{len(changed)} files differ"
            parts.append(f"source revision ({differ}: {shown})")
        elif key == "notes stamps":
            parts.append("build (the notes files carry other stamps: they were compiled separately)")
        else:
            parts.append(key)
    return ", ".join(parts)


def check_same_build(shards: Sequence[Shard], own: BuildManifest | None = None) -> BuildManifest:
    """The shards' common build manifest; refuse shards of different builds or source revisions."""
    groups: dict[str, list[Shard]] = {}
    for s in sorted(shards, key=lambda s: s.name):
        groups.setdefault(json.dumps(build_identity(s.manifest), sort_keys=True), []).append(s)
    # the build most shards share is the reference; the others are named
    ranked = sorted(groups.values(), key=lambda g: (-len(g), g[0].name))
    first = ranked[0][0]
    if len(ranked) > 1:
        odd = [s for g in ranked[1:] for s in g]
        lines = [f"{s.name}: {_differences(first.manifest, s.manifest)}" for s in odd]
        raise CoverageDataError(
            f"the shards are not from one build: compared with {first.name} (and the shards of its "
            "build),\n  " + "\n  ".join(lines),
            hint=_HINT_SAME_BUILD,
        )
    if not first.manifest.extra.get("notes_stamps"):
        raise CoverageDataError(
            f"the build manifest of {first.name} records no notes stamps, so its build cannot be compared",
            path=first.area / "build.json",
            hint="rebuild with this covguard version (covguard build) and run the shards again",
        )
    if own is not None and build_identity(own) != build_identity(first.manifest):
        raise CoverageDataError(
            "this work folder holds another build than the shards: "
            f"{_differences(own, first.manifest)} (compared with {first.name})",
            hint="restore the build the shards were tested on into this work folder, or merge in a "
            "fresh --work-dir; " + _HINT_SAME_BUILD,
        )
    return first.manifest


def _shard_specs(shards: Sequence[Shard], partial: bool) -> list[str]:
    """The sorted K/N of every shard; refuse a mixed N, an overlap, or (unless partial) a gap."""
    owner: dict[str, str] = {}
    totals: dict[int, list[str]] = {}
    for s in shards:
        for spec in s.results.shards or ["1/1"]:
            if spec in owner:
                raise CoverageDataError(
                    f"shard {spec} is in both {owner[spec]} and {s.name}",
                    hint="give every shard once (each CI job's folder once)",
                )
            owner[spec] = s.name
            totals.setdefault(int(spec.split("/")[1]), []).append(s.name)
    if len(totals) > 1:
        detail = "; ".join(f"N={n}: {', '.join(sorted(set(names)))}" for n, names in sorted(totals.items()))
        raise CoverageDataError(
            f"the shards split the tests in different ways ({detail})",
            hint="run every job of one pipeline with the same N in --shard K/N",
        )
    n = next(iter(totals))
    present = {int(spec.split("/")[0]) for spec in owner}
    missing = [f"{k}/{n}" for k in range(1, n + 1) if k not in present]
    if missing and not partial:
        raise CoverageDataError(
            f"shards missing: {', '.join(missing)} (have {len(present)} of {n}); their tests would be "
            "reported as never run",
            hint="wait for every shard job and give all of them, or pass --partial for an intermediate merge",
        )
    return sorted(owner, key=lambda spec: (int(spec.split("/")[1]), int(spec.split("/")[0])))


def _run_dir_of(run: ExecutableRun) -> Path:
    """The run folder a run wrote into: its coverage folder is <run dir>/coverage/<label>."""
    cov = Path(run.coverage_dir)
    depth = len(Path(run.label).parts)
    if not cov.is_absolute() or len(cov.parents) <= depth + 1:
        raise UnsafePath(
            f"the coverage folder {shown(run.coverage_dir)} of '{shown(run.label)}' is not a run folder's",
            hint="give the shard as covguard test wrote it",
        )
    return cov.parents[depth]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


_SHARD_HINT = "make it with: tar czf shard-K.tar.gz -C .covguard/host-gcc build.json results.json run"


def _rebase_inside(path: str, old: Path, new: Path, source: Path) -> str:
    """A path of the shard's run folder moved into this one; a path outside it is refused."""
    if not path:
        return path
    try:
        rel = Path(path).relative_to(old).as_posix()
    except ValueError:
        raise UnsafePath(
            f"{shown(path)} is refused: it is not inside the shard's run folder {old}",
            path=source,
            hint="give the shard as covguard test wrote it",
        ) from None
    return str(new / relative_name(rel, "a path in the run folder", source=source))


def _unpacked(path: Path, into: Path, limits: Limits) -> Path:
    """A shard folder: ``path`` itself, or a ``.tar.gz`` shard archive unpacked into ``into``.

    The archive is streamed once; every member is checked from its header before anything of it
    is written: a plain relative name (no absolute name, no '..'), a regular file or folder (no
    link, device or FIFO), and within the limits on member size, total size and member count."""
    if path.is_dir():
        return path
    if not path.is_file():
        raise InputError("no such shard (a folder or a .tar.gz archive)", path=path)
    count = total = 0
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for info in tar:
                count += 1
                tar.members = []  # type: ignore[attr-defined]  # streaming: keep no list of members
                if count > limits.members:
                    raise LimitExceeded(
                        "the shard archive",
                        f"has more than {limits.members} members",
                        "members",
                        limits.members,
                        path=str(path),
                    )
                name = info.name.removeprefix("./").rstrip("/")
                if name in ("", "."):
                    continue
                rel = relative_name(name, "a member", source=path)
                if not (info.isreg() or info.isdir()):
                    kind = (
                        f"a link to {shown(info.linkname)}"
                        if info.issym() or info.islnk()
                        else "a device or FIFO"
                    )
                    raise UnsafePath(
                        f"a member {shown(rel)} is refused: not a regular file or folder ({kind})",
                        path=path,
                        hint=_SHARD_HINT,
                    )
                if info.size > limits.member_bytes:
                    raise LimitExceeded(
                        f"the member {shown(rel)}",
                        f"of {info.size} bytes",
                        "member_bytes",
                        limits.member_bytes,
                        path=str(path),
                    )
                total += info.size
                if total > limits.total_bytes:
                    raise LimitExceeded(
                        "the shard archive",
                        f"unpacks to more than {total} bytes",
                        "total_bytes",
                        limits.total_bytes,
                        path=str(path),
                    )
                target = confined(into, rel, "a member", source=path)
                if info.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(info)
                if handle is None:  # pragma: no cover - regular members always have data
                    continue
                with target.open("xb") as out:  # never through an existing file or link
                    shutil.copyfileobj(handle, out, 1 << 20)
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        raise InputError(
            f"the shard archive cannot be unpacked ({exc})", path=path, hint=_SHARD_HINT
        ) from None
    return into


def _copy_run_tree(src: Path, dst: Path, shard: str) -> None:
    """Copy (hard-link) a shard's per-executable folder; a symbolic link anywhere in it is refused
    (a link would make the merged run read, or later write, a file outside the shard)."""
    for path in [src, *src.rglob("*")]:
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            raise UnsafePath(
                f"{shown(str(path))} is refused: a symbolic link or special file in the shard's run folder",
                path=shard,
                hint="give the shard as covguard test wrote it (plain files and folders only)",
            )
    shutil.copytree(src, dst, copy_function=_link_or_copy)


def merge_shards(
    options: RunOptions, paths: Sequence[Path], *, partial: bool = False
) -> tuple[TestRun, BuildManifest]:
    """Combine the shards at ``paths`` (folders or ``.tar.gz`` archives) into this work area's
    ``results.json`` and ``run/`` tree."""
    area = Area(options.build)
    limits = options.limits
    unpack = area.root / "merge-unpacked"
    try:
        shards = [
            load_shard(_unpacked(Path(p), unpack / str(i), limits), options, name=str(p))
            for i, p in enumerate(paths)
        ]
        return _merge(options, area, shards, partial)
    finally:
        shutil.rmtree(unpack, ignore_errors=True)  # merged files are hard links: they stay
        shutil.rmtree(area.root / "run.merging", ignore_errors=True)  # left only by a failed merge


def _check_against_raw_output(shard: Shard, limits: Limits) -> None:
    """Refuse a shard whose results.json is more favourable than its executables' raw output."""
    from covguard.run.results_check import results_problems

    runs = [
        (
            r.label,
            r.format,
            confined(
                shard.area,
                f"run/logs/{Path(r.stdout_path).name}",
                "a log folder",
                source=shard.area / "results.json",
            ),
            f"run/logs/{Path(r.stdout_path).name}",
            r.nonce,
        )
        for r in shard.results.runs
    ]
    problems = results_problems(runs, shard.results.cases)
    if problems:
        more = len(problems) - limits.problems
        listed = problems[: limits.problems] + ([f"... and {more} more"] if more > 0 else [])
        raise InputError(
            "the shard's results do not follow from its raw test output (results.json is derived data; "
            "the executables' output is the evidence):\n  " + "\n  ".join(listed),
            path=shard.area / "results.json",
            hint="do not merge this shard: run its tests again ('covguard test --shard K/N') and upload "
            "the whole toolchain work folder (results.json and run/)",
        )


def _merge(
    options: RunOptions, area: Area, shards: list[Shard], partial: bool
) -> tuple[TestRun, BuildManifest]:
    target = area.root.resolve()
    seen: dict[Path, str] = {}
    for s in shards:
        where = s.area.resolve()
        if where == target:
            raise InputError(
                "a shard is this job's own work folder, which the merge rewrites",
                path=s.name,
                hint="download the shards into folders of their own (shards/1, shards/2, ...), merge there",
            )
        if where in seen:
            raise InputError(f"the same shard is given twice ({seen[where]} and {s.name})", path=s.name)
        seen[where] = s.name
    own: BuildManifest | None = None
    if area.manifest.is_file():
        from covguard.builder.area import load_manifest

        own = load_manifest(options.build)
    manifest = check_same_build(shards, own)
    specs = _shard_specs(shards, partial)
    selected = [s.name for s in shards if s.results.selection]
    if selected:  # a merged run would look like a full one
        raise InputError(
            "a shard ran only selected tests (covguard test --select): " + ", ".join(selected),
            path=selected[0],
            hint="merge shards of full runs only; a selected run is analysed on its own",
        )
    origins = {(s.results.origin, s.results.variant) for s in shards}
    if len(origins) > 1:
        raise CoverageDataError(
            "the shards ran on different toolchains or variants: "
            + ", ".join(f"{s.name} ({s.results.origin}/{s.results.variant})" for s in shards),
            hint="merge the shards of one toolchain profile and variant at a time",
        )
    label_owner: dict[str, str] = {}
    for s in shards:
        for r in s.results.runs:
            relative_name(r.label, "the test executable label", source=s.area / "results.json")
            if r.label in label_owner:
                raise CoverageDataError(
                    f"test executable '{r.label}' ran in two shards: {label_owner[r.label]} and {s.name}",
                    hint="each shard must run its own executables (covguard test --shard K/N with one N)",
                )
            label_owner[r.label] = s.name
    for s in shards:
        _check_against_raw_output(s, options.limits)

    staging = area.root / "run.merging"
    if staging.exists():
        shutil.rmtree(staging)
    runs: list[ExecutableRun] = []
    cases_by_label: dict[str, list[TestCase]] = {}
    units: dict[str, str] = {}
    final_run = area.run_dir
    for s in shards:
        for r in s.results.runs:
            old_run_dir = _run_dir_of(r)
            for kind in ("coverage", "logs"):
                src = confined(
                    s.area, f"run/{kind}/{r.label}", "a run folder", source=s.area / "results.json"
                )
                if src.is_dir():
                    _copy_run_tree(src, staging / kind / r.label, s.name)
                elif kind == "coverage":
                    raise InputError(
                        f"the shard lacks the coverage data of '{r.label}' (no {src})",
                        path=s.name,
                        hint="upload the whole run/ folder of each test job",
                    )
            where = s.area / "results.json"
            runs.append(
                replace(
                    r,
                    coverage_dir=_rebase_inside(r.coverage_dir, old_run_dir, final_run, where),
                    stdout_path=_rebase_inside(r.stdout_path, old_run_dir, final_run, where),
                    stderr_path=_rebase_inside(r.stderr_path, old_run_dir, final_run, where),
                )
            )
            prefix = f"{r.label}::"
            cases_by_label[r.label] = [c for c in s.results.cases if c.test.startswith(prefix)]
            for unit, folder in s.results.units.items():
                if unit.startswith(prefix):
                    units[unit] = _rebase_inside(folder, old_run_dir, final_run, where)
    runs.sort(key=lambda r: r.label)
    first = shards[0].results
    merged = TestRun(
        cases=[c for r in runs for c in cases_by_label[r.label]],
        runs=runs,
        units=dict(sorted(units.items())),
        origin=first.origin,
        variant=first.variant,
        shards=specs,
        unattached=[t for s in shards for t in s.results.unattached],  # shard 1's: its planned tests
    )
    if final_run.exists():
        shutil.rmtree(final_run)
    staging.mkdir(parents=True, exist_ok=True)
    os.replace(staging, final_run)
    if own is None:
        write_json(area.manifest, asdict(manifest))
    write_json(area.results, merged.to_json())
    return merged, manifest


__all__ = ["Shard", "build_identity", "check_same_build", "load_shard", "merge_shards"]
