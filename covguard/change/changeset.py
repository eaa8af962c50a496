"""What changed since a git revision: the changed lines of every file, renames, new and deleted files.

``git diff --relative -U0 --find-renames REF`` from the project root (the working tree against
``REF``: committed and uncommitted changes), plus the untracked files git does not ignore (every
line of them is new).  Paths are relative to the project root, as in covguard's reports.  A line
is *changed* when it is added or modified; a deletion marks the line after which it happened
(``deleted_at``), so a function that only lost lines is changed too.

git is run without a shell, with ``GIT_*`` variables removed and optional locks off; the
revision is checked first (``git rev-parse --verify``), and one starting with ``-`` is refused.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from covguard.errors import InputError

_HUNK = re.compile(r"^@@ -([0-9]+)(?:,([0-9]+))? \+([0-9]+)(?:,([0-9]+))? @@")
MAX_DIFF_BYTES = 512 << 20


def git(root: Path, *args: str, what: str = "git") -> str:
    """The output of ``git -C root ARGS``; an :class:`InputError` naming ``what`` when it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_OPTIONAL_LOCKS"] = "0"
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "-c", "core.quotepath=off", *args],
            capture_output=True,
            timeout=300,
            check=False,
            env=env,
        )
    except FileNotFoundError:
        raise InputError(f"{what} needs git, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{what}: git {' '.join(args[:2])} did not finish in 300 s") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(
            f"{what}: git {' '.join(args[:2])} failed: {err[-1] if err else proc.returncode}", path=root
        )
    if len(proc.stdout) > MAX_DIFF_BYTES:
        raise InputError(f"{what}: git's output is over {MAX_DIFF_BYTES} bytes", path=root)
    return proc.stdout.decode("utf-8", "surrogateescape")


def check_ref(root: Path, ref: str, what: str) -> str:
    """The commit ``ref`` names, or an error naming it."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\x00\n\r"):
        raise InputError(f"{what}: '{ref}' is not a git revision")
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", what=what).strip()
    except InputError:
        raise InputError(
            f"{what}: '{ref}' is not a commit of the repository at {root}",
            hint="fetch it first (in CI: actions/checkout with fetch-depth: 0, or git fetch origin main)",
        ) from None


@dataclass
class ChangeSet:
    """The changes of the working tree since ``base``."""

    base: str
    commit: str
    lines: pd.DataFrame  # file, line: added or modified lines (new numbering)
    deleted_at: pd.DataFrame  # file, line: a deletion happened after this line (new numbering)
    old_lines: pd.DataFrame  # file, line: the touched lines in the base's files and numbering
    renames: dict[str, str] = field(default_factory=dict)  # old path -> new path
    added_files: set[str] = field(default_factory=set)
    deleted_files: set[str] = field(default_factory=set)

    @property
    def files(self) -> set[str]:
        return set(self.lines["file"]) | set(self.deleted_at["file"]) | set(self.renames.values())

    def touched(self) -> pd.DataFrame:
        """Changed lines and deletion points together (file, line)."""
        return pd.concat([self.lines, self.deleted_at], ignore_index=True).drop_duplicates()


def _unquote(path: str) -> str:
    if path.startswith('"') and path.endswith('"'):
        return (
            path[1:-1]
            .encode("latin-1", "backslashreplace")
            .decode("unicode_escape")
            .encode("latin-1", "replace")
            .decode("utf-8", "replace")
        )
    return path


def parse_diff(
    text: str, old_side: list[tuple[str, int]] | None = None
) -> tuple[list[tuple[str, int]], list[tuple[str, int]], dict[str, str]]:
    """Changed lines, deletion points and renames of a ``git diff --no-prefix -U0``; ``old_side``
    receives the touched lines in the base's numbering (modified or removed lines; both
    neighbours of an insertion)."""
    old_side = [] if old_side is None else old_side
    old = ""
    changed: list[tuple[str, int]] = []
    deleted_at: list[tuple[str, int]] = []
    renames: dict[str, str] = {}
    current = ""
    rename_from = ""
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            current, rename_from, old = "", "", ""
        elif line.startswith("--- "):
            old = "" if line[4:] == "/dev/null" else _unquote(line[4:])
        elif line.startswith("rename from "):
            rename_from = _unquote(line[len("rename from ") :])
        elif line.startswith("rename to "):
            renames[rename_from] = current = _unquote(line[len("rename to ") :])
        elif line.startswith("+++ "):
            target = line[4:]
            current = "" if target == "/dev/null" else _unquote(target)
        elif line.startswith("@@") and current:
            m = _HUNK.match(line)
            if m is None:
                continue
            start, count = int(m.group(3)), int(m.group(4) if m.group(4) is not None else 1)
            old_count = int(m.group(2) if m.group(2) is not None else 1)
            if count:
                changed.extend((current, n) for n in range(start, start + count))
            elif old_count:
                deleted_at.append((current, start))
            old_start = int(m.group(1))
            if old and old_count:
                old_side.extend((old, n) for n in range(old_start, old_start + old_count))
            elif old:
                old_side.extend([(old, old_start), (old, old_start + 1)])
    return changed, deleted_at, renames


def changes_since(root: Path, base: str, *, what: str = "--diff-base") -> ChangeSet:
    """The changes of the project's working tree since ``base`` (see the module docstring)."""
    commit = check_ref(root, base, what)
    diff = git(root, "diff", "--relative", "--no-prefix", "-U0", "--find-renames", "--no-color",
               "--no-ext-diff", commit, "--", ".", what=what)  # fmt: skip
    old_side: list[tuple[str, int]] = []
    changed, deleted_at, renames = parse_diff(diff, old_side)
    status = git(root, "diff", "--relative", "--name-status", "--find-renames", commit, "--", ".", what=what)
    added = {ln.split("\t", 1)[1] for ln in status.splitlines() if ln.startswith("A\t")}
    deleted = {ln.split("\t", 1)[1] for ln in status.splitlines() if ln.startswith("D\t")}
    untracked = git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", ".", what=what)
    for name in (n for n in untracked.split("\x00") if n):
        path = root / name
        if path.is_file() and path.stat().st_size < (16 << 20):
            n_lines = path.read_bytes().count(b"\n") + 1
            changed.extend((name, i) for i in range(1, n_lines + 1))
            added.add(name)
    frame = pd.DataFrame(changed, columns=["file", "line"]).astype({"file": str, "line": "int64"})
    dels = pd.DataFrame(deleted_at, columns=["file", "line"]).astype({"file": str, "line": "int64"})
    return ChangeSet(
        base=base,
        commit=commit,
        lines=frame.drop_duplicates().reset_index(drop=True),
        deleted_at=dels.drop_duplicates().reset_index(drop=True),
        old_lines=pd.DataFrame(old_side, columns=["file", "line"])
        .astype({"file": str, "line": "int64"})
        .drop_duplicates()
        .reset_index(drop=True),
        renames=renames,
        added_files=added,
        deleted_files=deleted,
    )


def renames_since(root: Path, base: str, *, what: str = "gate.baseline") -> dict[str, str]:
    """Files git detects as renamed since ``base`` (old path -> new path, relative to the root)."""
    commit = check_ref(root, base, what)
    status = git(root, "diff", "--relative", "--name-status", "--find-renames", commit, "--", ".", what=what)
    out: dict[str, str] = {}
    for line in status.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].startswith("R"):
            out[parts[1]] = parts[2]
    return out


def functions_touched(functions: pd.DataFrame, touched: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``functions`` (file, function, line_start, line_end) whose extent holds a touched line."""
    if not len(touched) or not len(functions):
        return functions.iloc[0:0]
    f = functions.reset_index(drop=True).reset_index().loc[:, ["index", "file", "line_start", "line_end"]]
    m = f.astype({"file": str}).merge(touched, on="file")
    hit = m[(m["line"] >= m["line_start"]) & (m["line"] <= m["line_end"])]["index"].unique()
    return functions.reset_index(drop=True).loc[sorted(hit)]
