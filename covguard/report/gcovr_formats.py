"""gcovr's formats - Cobertura XML, its detailed HTML, SonarQube, LCOV, JaCoCo ... - from a covguard run.

gcovr reads ``.gcda`` files that lie next to their ``.gcno``.  covguard's tests write one folder of
data files per test case (``run/coverage/<exe>/<index>/<absolute object path>.gcda``), so this
module first sums them into one merged tree, ``<work area>/merged/<absolute object path>.gcno`` and
``.gcda``: a copy of every notes file of the build and one data file with the arc counters of every
test added up.  The counters are read with covguard's own checked reader (a truncated or foreign
``.gcda`` is an error, never low coverage) and written back in GCC's own layout (magic, version,
stamp, object summary, then per function its identity, checksums and 64-bit counters).  Objects
that no test executed get a data file of zeros, so gcovr shows them at 0 % as covguard does.

gcovr then runs once (``python -m gcovr``), with ``--root`` the project root, the analysed sources
as ``--filter``, the excluded ones as ``--exclude``, covguard's exclusion-marker prefix, and one
option per output (a second ``-o`` would silently override the first).  It writes into a scratch
folder; each output is moved into place only when gcovr succeeded, so a failed run never leaves a
half-written report.

Deterministic: the reports' timestamp is ``SOURCE_DATE_EPOCH`` when set, else the start time of
the build the coverage belongs to - the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from covguard.builder.area import Area
from covguard.errors import CoverageDataError, OutputError, ToolError
from covguard.files import glob_regex, write_bytes
from covguard.ingest.cgcov import unit_data
from covguard.ingest.gcda import TAG_COUNTER_ARCS, TAG_FUNCTION, TAG_OBJECT_SUMMARY, parse_data
from covguard.ingest.gcno import GCDA_MAGIC, NotesFile, read_notes
from covguard.model import BuildManifest
from covguard.report.options import ReportOptions

GCOVR_TIMEOUT_S = 1800


@dataclass(frozen=True)
class GcovrFormat:
    """One of gcovr's outputs: its option and where it goes in the output folder."""

    option: str
    output: str  # relative to the output folder
    extra: tuple[str, ...] = ()


FORMATS: dict[str, GcovrFormat] = {
    "gcovr-cobertura": GcovrFormat("--cobertura", "gcovr-cobertura.xml", ("--cobertura-pretty",)),
    "html-details": GcovrFormat(
        "--html-details", "gcovr/index.html", ("--html-title", "covguard: line coverage (gcovr)")
    ),
    "sonarqube": GcovrFormat("--sonarqube", "sonarqube.xml"),
    "lcov": GcovrFormat("--lcov", "coverage.lcov"),
    "jacoco": GcovrFormat("--jacoco", "jacoco.xml"),
    "clover": GcovrFormat("--clover", "clover.xml"),
    "coveralls": GcovrFormat("--coveralls", "coveralls.json"),
    "json": GcovrFormat("--json", "gcovr.json"),
    "json-summary": GcovrFormat("--json-summary", "gcovr-summary.json"),
    "csv": GcovrFormat("--csv", "gcovr.csv"),
    "txt": GcovrFormat("--txt", "gcovr.txt"),
}
"""gcovr's formats by the name used in ``report.gcovr`` and ``covguard report --format``."""


# ---------------------------------------------------------------------------------------------
# the merged tree


def _version_word(version: str) -> int:
    return int.from_bytes(version.encode("latin-1"), "big")


def gcda_bytes(notes: NotesFile, counters: Sequence[np.ndarray], *, runs: int, checksum: int) -> bytes:
    """A ``.gcda`` for ``notes`` with these counters (one int64 array per notes function, in order)."""
    sum_max = max((int(c.max()) for c in counters if len(c)), default=0)
    parts = [
        struct.pack(
            "<8I",
            GCDA_MAGIC,
            _version_word(notes.version),
            notes.stamp,
            checksum,
            TAG_OBJECT_SUMMARY,
            8,
            runs & 0xFFFFFFFF,
            min(sum_max, 0xFFFFFFFF),
        )
    ]
    for fn, c in zip(notes.functions, counters, strict=True):
        parts.append(struct.pack("<5I", TAG_FUNCTION, 12, fn.ident, fn.lineno_checksum, fn.cfg_checksum))
        parts.append(struct.pack("<2I", TAG_COUNTER_ARCS, 8 * len(c)))
        parts.append(np.asarray(c, dtype="<i8").tobytes())
    return b"".join(parts)


def merged_tree(manifest: BuildManifest, units: dict[str, str], folder: Path) -> tuple[Path, dict[str, int]]:
    """Sum every unit's ``.gcda`` into ``folder`` beside copies of the build's ``.gcno``.

    Returns the folder and, per notes file, how many data files were added into it.  Files of
    another build already in ``folder`` stay (several runs share one tree).
    """
    notes = {p: read_notes(Path(p)) for p in manifest.notes_files}
    expected = {p: [f.n_counters for f in n.functions] for p, n in notes.items()}
    sums = {p: [np.zeros(k, dtype=np.int64) for k in expected[p]] for p in notes}
    added = dict.fromkeys(notes, 0)
    checksums: dict[str, int] = {}
    for unit in sorted(units):
        for gcda, compiled, raw in unit_data(Path(units[unit])):  # folder and stream (touched objects)
            notes_path = compiled[: -len(".gcda")] + ".gcno"
            if notes_path not in notes:
                raise CoverageDataError(
                    f"coverage data without its notes file: no {notes_path} in this build",
                    path=gcda,
                    hint="run 'covguard run' again (it rebuilds and reruns the tests)",
                )
            data = parse_data(raw, gcda, notes[notes_path], expected[notes_path])
            for total, c in zip(sums[notes_path], data.counters, strict=True):
                np.add(total, c, out=total)
            added[notes_path] += 1
            if notes_path not in checksums:
                head = int(struct.unpack_from("<I", raw, 12)[0]) if len(raw) >= 16 else 0
                checksums[notes_path] = head or notes[notes_path].checksum
    for path, nf in notes.items():
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        data_bytes = gcda_bytes(
            nf, sums[path], runs=max(added[path], 1), checksum=checksums.get(path, nf.checksum)
        )
        write_bytes(target.with_suffix(".gcda"), data_bytes)
    return folder, added


def missing_sources(manifest: BuildManifest) -> set[str]:
    """Absolute paths of the sources the notes name (``#line`` targets too) that do not exist."""
    names: set[str] = set()
    for p in manifest.notes_files:
        nf = read_notes(Path(p))
        for fn in nf.functions:
            names.add(os.path.normpath(os.path.join(nf.cwd, fn.source)))
            for locs in fn.locations.values():
                names.update(os.path.normpath(os.path.join(nf.cwd, loc.source)) for loc in locs)
    return {n for n in names if not os.path.exists(n)}


# ---------------------------------------------------------------------------------------------
# running gcovr


def report_timestamp(manifest: BuildManifest) -> int:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else the build's start time."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return int(epoch)
    try:
        return int(datetime.fromisoformat(manifest.started).timestamp())
    except ValueError:
        return 0


def _filters(options: ReportOptions) -> list[str]:
    root = options.root.resolve().as_posix().rstrip("/") + "/"
    base = "".join("\\" + c if c in ".^$*+?{}[]|()\\" else c for c in root)
    args: list[str] = []
    for pattern in options.sources:
        args += ["--filter", base + glob_regex(pattern) + "$"]
    for pattern in options.exclude:
        args += ["--exclude", base + glob_regex(pattern) + "$"]
    return args


def gcovr_command(
    options: ReportOptions, merged: Path, scratch: Path, formats: Sequence[str], timestamp: int, gcov: str
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "gcovr",
        "--root",
        str(options.root.resolve()),
        *_filters(options),
        "--gcov-executable",
        gcov,
        "--exclude-pattern-prefix",
        options.tags_exclusion_prefix,
        "--timestamp",
        f"@{timestamp}",
        "--merge-mode-functions",
        "separate",
        # counts over 2^32 are real (long-running firmware loops): gcovr's suspicious-hits check
        # would zero those lines and its outputs would disagree with covguard's numbers
        "--gcov-suspicious-hits-threshold",
        "0",
        # a source that a #line directive names but that does not exist: covguard warns about it
        # once (covguard.analysis.line_bounds); gcovr would stop the whole report
        "--gcov-ignore-errors",
        "source_not_found",
        "-j",
        str(max(1, min(os.cpu_count() or 1, int(options.build_jobs)))),
    ]
    cmd += list(options.gcovr_args or ())  # [gcovr] args: the user's options, passed through
    for name in formats:
        fmt = FORMATS[name]
        out = scratch / fmt.output
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd += [fmt.option, str(out), *fmt.extra]
    cmd.append(str(merged))
    return cmd


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


_NAMES_A_FILE = re.compile(r"\(ERROR\)|error|File '|cannot open|no such file|not found", re.IGNORECASE)


def gcovr_error_text(text: str) -> str:
    """What to show of a failed gcovr: its lines that name an error or a file (gcov's "File 'x.c'"
    before a failure, "Cannot open source file"), then its last lines."""
    rows = text.rstrip().splitlines()
    named = list(dict.fromkeys(r.strip() for r in rows if _NAMES_A_FILE.search(r)))[:15]
    tail = _tail(text, 8)
    if not named:
        return _tail(text)
    return "\n".join(named) + "\n... last lines:\n" + tail


def write_gcovr_formats(
    options: ReportOptions,
    runs: Sequence[tuple[BuildManifest, dict[str, str]]],
    formats: Sequence[str],
    *,
    gcov: str = "gcov",
) -> dict[str, Path]:
    """Write gcovr's ``formats`` of the gcov test ``runs`` (build manifest, coverage unit -> folder)
    into the output folder; return name -> path of each written.

    Several runs (host and target) go into one merged tree and one gcovr invocation, with ``gcov``.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown gcovr formats {unknown}")
    if not formats or not runs:
        return {}
    if shutil.which(gcov) is None:
        raise ToolError(
            f"'{gcov}' is not installed: gcovr needs it to write {', '.join(formats)}",
            hint="install it, or set 'report.gcovr = []' to skip gcovr's formats",
        )
    merged = Area(options.build).root / "merged"
    if merged.exists():
        shutil.rmtree(merged)
    missing: set[str] = set()
    for manifest, units in runs:
        merged_tree(manifest, units, merged)
        missing |= missing_sources(manifest)
    out_dir = options.output_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".gcovr-", dir=out_dir))
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}", path=out_dir) from exc
    try:
        cmd = gcovr_command(options, merged, scratch, formats, report_timestamp(runs[0][0]), gcov)
        # a source that only a #line directive names and that does not exist: covguard warns about
        # it (covguard.analysis.line_bounds); gcovr's HTML would stop the whole report
        for path in sorted(missing):
            cmd[-1:-1] = ["--exclude", re.escape(path) + "$"]
        try:
            proc = subprocess.run(
                cmd,
                cwd=options.root,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=GCOVR_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(f"gcovr did not finish within {GCOVR_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            raise ToolError(
                f"gcovr failed (exit status {proc.returncode}) writing {', '.join(formats)}:\n"
                + gcovr_error_text(proc.stderr + proc.stdout),
                hint="pass options to gcovr with '[gcovr] args' "
                '(e.g. ["--gcov-ignore-errors=source_not_found"]), '
                "or set 'report.gcovr = []' to skip gcovr's formats; covguard's own reports do not need it",
            )
        return _move_into_place(scratch, out_dir, formats)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _move_into_place(scratch: Path, out_dir: Path, formats: Sequence[str]) -> dict[str, Path]:
    written: dict[str, Path] = {}
    for name in formats:
        rel = Path(FORMATS[name].output)
        produced = scratch / rel
        if not produced.is_file():
            raise ToolError(f"gcovr reported success but wrote no {rel}")
        # a format that writes a folder of pages (html-details) replaces the whole folder
        top = rel.parts[0]
        source, target = scratch / top, out_dir / top
        if source.is_dir():
            old = out_dir / f".{top}.old"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            source.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(source, target)
        written[name] = out_dir / rel
    return written


def detail_page(index_html: Path, root: Path, file: str) -> str | None:
    """The page of ``file`` (relative to ``root``) in gcovr's detailed HTML, relative to its folder."""
    absolute = (root / file).resolve().as_posix()
    prefix, suffix = index_html.name.rsplit(".", 1) if "." in index_html.name else (index_html.name, "")
    for name in (file, absolute):  # gcovr 8 digests the path relative to its --root
        digest = hashlib.md5(name.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()
        page = f"{prefix}.{Path(file).name}.{digest}" + (f".{suffix}" if suffix else "")
        if (index_html.parent / page).is_file():
            return page
    return None
