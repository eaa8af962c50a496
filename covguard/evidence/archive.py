"""The archive: a reproducible ``.tar.gz`` writer, and a streaming reader that never trusts it.

Reproducible: members in sorted order, every member a regular file with mode 0644, uid/gid 0
without user or group names, the mtime of ``SOURCE_DATE_EPOCH``, POSIX (pax) format, and a gzip
header with mtime 0 and no file name.  The same staged files give the same bytes.

The reader streams the archive once (``r|gz``): it hashes every member as it passes, without
writing anything to disk, and records every member that is not a plain file under the package
folder (a symbolic or hard link, a device, a directory, an absolute or ``../`` name, a name seen
twice).  :func:`extract` writes the members of an archive that passed those checks into a
folder (for the re-derivation step only).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from covguard.confine import shown
from covguard.evidence.layout import MANIFEST, PREFIX, EvidenceInputError, member_problem
from covguard.limits import LimitExceeded, Limits

CHUNK = 1 << 20
MAX_MANIFEST_BYTES = Limits().manifest_bytes

_KIND = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.DIRTYPE: "a directory entry",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.CONTTYPE: "a contiguous file",
}


def write_archive(stage: Path, names: Iterable[str], epoch: int, out: IO[bytes]) -> None:
    """Write ``stage/<name>`` for every name, as ``covguard-evidence/<name>``, reproducibly."""
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(names):
            path = stage / name
            info = tarfile.TarInfo(f"{PREFIX}/{name}")
            info.size = path.stat().st_size
            info.mtime = epoch
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            with path.open("rb") as handle:
                tar.addfile(info, handle)


@dataclass
class Scan:
    """What one streaming pass over an archive found."""

    digests: dict[str, str] = field(default_factory=dict)  # name (without the prefix) -> sha256
    sizes: dict[str, int] = field(default_factory=dict)
    manifest: bytes | None = None
    problems: list[str] = field(default_factory=list)  # each names its member
    unlisted: int = 0  # problems beyond limits.problems, counted only
    limit: int = Limits().problems

    def problem(self, text: str) -> None:
        if len(self.problems) < self.limit:
            self.problems.append(text)
        else:
            self.unlisted += 1


def _open_stream(fileobj: IO[bytes], path: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=fileobj, mode="r|gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise EvidenceInputError(
            f"not a covguard evidence package (a .tar.gz archive): {exc}",
            path=path,
            hint="give the file 'covguard evidence export' wrote",
        ) from None


def _bounded(info: tarfile.TarInfo, count: int, total: int, limits: Limits, path: str) -> int:
    """The total unpacked size with this member; refuse an archive beyond the limits (from the
    member's header, before its data is read)."""
    if count > limits.members:
        raise LimitExceeded(
            "the package", f"has more than {limits.members} members", "members", limits.members, path=path
        )
    if info.size > limits.member_bytes:
        raise LimitExceeded(
            f"the member {shown(info.name)}",
            f"of {info.size} bytes",
            "member_bytes",
            limits.member_bytes,
            path=path,
        )
    total += info.size
    if total > limits.total_bytes:
        raise LimitExceeded(
            "the package",
            f"of more than {total} bytes unpacked",
            "total_bytes",
            limits.total_bytes,
            path=path,
        )
    return total


def scan(fileobj: IO[bytes], path: str, limits: Limits | None = None) -> Scan:
    """Hash every member of the archive in one streaming pass; nothing is written to disk."""
    limits = limits or Limits()
    result = Scan(limit=limits.problems)
    seen: set[str] = set()
    tar = _open_stream(fileobj, path)
    count = total = 0
    try:
        for info in tar:
            count += 1
            tar.members = []  # type: ignore[attr-defined]  # streaming: keep no list of members
            total = _bounded(info, count, total, limits, path)
            name = info.name
            why = member_problem(name)
            if name in seen:
                result.problem(f"{shown(name)}: duplicate member (the name occurs more than once)")
                continue
            if len(seen) < limits.members:
                seen.add(name)
            if why is not None:
                result.problem(f"{shown(name)}: rejected member: {why}")
                continue
            if not info.isreg():
                kind = _KIND.get(info.type, f"a member of type {info.type!r}")
                target = f" to {shown(info.linkname)}" if info.issym() or info.islnk() else ""
                result.problem(f"{name}: rejected member: {kind}{target}, not a regular file")
                continue
            rel = name[len(PREFIX) + 1 :]
            keep = rel == MANIFEST
            if keep and info.size > limits.manifest_bytes:
                raise LimitExceeded(
                    f"the manifest {name}",
                    f"of {info.size} bytes",
                    "manifest_bytes",
                    limits.manifest_bytes,
                    path=path,
                )
            handle = tar.extractfile(info)
            if handle is None:  # pragma: no cover - regular members always have data
                result.problem(f"{name}: unreadable member")
                continue
            digest = hashlib.sha256()
            kept = bytearray()
            size = 0
            for chunk in _chunks(handle):
                digest.update(chunk)
                size += len(chunk)
                if keep:
                    kept += chunk
            result.digests[rel] = digest.hexdigest()
            result.sizes[rel] = size
            if keep:
                result.manifest = bytes(kept)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise EvidenceInputError(
            f"the archive is damaged or truncated: {exc}",
            path=path,
            hint="copy the package again from its source; a damaged package cannot be verified",
        ) from None
    finally:
        tar.close()
    return result


def extract(fileobj: IO[bytes], path: str, dest: Path, names: set[str], limits: Limits | None = None) -> None:
    """Write the regular members listed in ``names`` (without the prefix) under ``dest``.

    Only call this on an archive :func:`scan` found clean: names are re-checked anyway, and each
    file is created anew (never through an existing link).
    """
    limits = limits or Limits()
    tar = _open_stream(fileobj, path)
    count = total = 0
    try:
        for info in tar:
            count += 1
            tar.members = []  # type: ignore[attr-defined]  # streaming: keep no list of members
            total = _bounded(info, count, total, limits, path)  # the archive may differ from the scan
            if not info.isreg() or member_problem(info.name) is not None:
                continue
            rel = info.name[len(PREFIX) + 1 :]
            if rel not in names:
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = tar.extractfile(info)
            if handle is None:  # pragma: no cover
                continue
            with target.open("xb") as out:
                for chunk in _chunks(handle):
                    out.write(chunk)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise EvidenceInputError(f"the archive cannot be unpacked: {exc}", path=path) from None
    finally:
        tar.close()


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


def walk(folder: Path, skip: Callable[[Path], bool]) -> tuple[list[Path], list[Path]]:
    """Regular files under ``folder`` (sorted), and the symbolic links found (never followed)."""
    files: list[Path] = []
    links: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                links.append(base / d)
                dirnames.remove(d)
            elif skip(base / d):
                dirnames.remove(d)
        for f in filenames:
            p = base / f
            if p.is_symlink():
                links.append(p)
            elif p.is_file() and not skip(p):
                files.append(p)
    return sorted(files), sorted(links)
