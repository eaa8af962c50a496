"""clang's coverage mapping, read natively from a test executable (LLVM's "Code Coverage Mapping
Format"): the ``__llvm_covmap`` section (per translation unit: its file names), ``__llvm_covfun``
(per function: name hash, structural hash, file ids, counter expressions and regions) and
``__llvm_prf_names`` (the function names).

Only what clang-19 writes for a 64-bit little-endian ELF is understood (coverage mapping version
7, region kinds 0-6); anything else raises :class:`UnsupportedMapping` and the executable is read
with llvm-cov instead.  Functions are deduplicated the way llvm-cov's reader does it (the first
record of a name wins unless it is a dummy - an unused inline function - and a real one follows).
"""

from __future__ import annotations

import hashlib
import posixpath
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

COVMAP_VERSION = 6  # CovMapVersion::Version7, clang-14 to clang-19 and later
MAX_BYTES = 1 << 30

# region kinds (CounterMappingRegion::RegionKind)
CODE, EXPANSION, SKIPPED, GAP, BRANCH, MCDC_DECISION, MCDC_BRANCH = range(7)
# counter kinds: zero, counter reference, subtract expression, add expression
ZERO, REF, SUB, ADD = range(4)

Counter = tuple[int, int]  # (kind, id)


class UnsupportedMapping(Exception):
    """A coverage mapping this decoder does not understand (llvm-cov reads it instead)."""


@dataclass
class Region:
    count: Counter
    false_count: Counter
    file_id: int
    expanded_file_id: int
    line_start: int
    column_start: int
    line_end: int
    column_end: int
    kind: int
    # MC/DC: a decision's (bitmap index, number of conditions); a condition's (id, false id, true id)
    decision: tuple[int, int] | None = None
    condition: tuple[int, int, int] | None = None

    def start(self) -> tuple[int, int]:
        return (self.line_start, self.column_start)

    def end(self) -> tuple[int, int]:
        return (self.line_end, self.column_end)


@dataclass
class FunctionMapping:
    name: str  # as llvm-cov names it (without a ``<first file>:`` prefix)
    name_ref: int
    func_hash: int
    filenames: list[str]
    expressions: list[tuple[int, Counter, Counter]]  # (kind SUB/ADD, lhs, rhs)
    regions: list[Region] = field(default_factory=list)
    dummy: bool = False


# ---------------------------------------------------------------------------------------------
# ELF


def elf_sections(path: Path, wanted: set[str]) -> dict[str, bytes]:
    """The contents of the named sections of a 64-bit little-endian ELF file."""
    try:
        size = path.stat().st_size
        if size > 4 * MAX_BYTES:
            raise UnsupportedMapping(f"{size} bytes")
        with path.open("rb") as fh:
            head = fh.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                raise UnsupportedMapping("not a 64-bit little-endian ELF file")
            (shoff,) = struct.unpack_from("<Q", head, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", head, 0x3A)
            if shentsize != 64 or shnum == 0 or shstrndx >= shnum or shoff + shnum * 64 > size:
                raise UnsupportedMapping("no section table")
            fh.seek(shoff)
            table = fh.read(shnum * 64)
            heads = [struct.unpack_from("<IIQQQQIIQQ", table, i * 64) for i in range(shnum)]

            def contents(h: tuple[int, ...]) -> bytes:
                _name, sh_type, flags, _addr, offset, sh_size = h[:6]
                if sh_type == 8:  # SHT_NOBITS
                    return b""
                if flags & 0x800:  # SHF_COMPRESSED
                    raise UnsupportedMapping("a compressed section")
                if offset + sh_size > size or sh_size > MAX_BYTES:
                    raise UnsupportedMapping("a section beyond the end of the file")
                fh.seek(offset)
                return fh.read(sh_size)

            strtab = contents(heads[shstrndx])
            out: dict[str, bytes] = {}
            for h in heads:
                end = strtab.find(b"\0", h[0])
                name = strtab[h[0] : end if end >= 0 else len(strtab)].decode("latin-1")
                if name in wanted:
                    if name in out:
                        raise UnsupportedMapping(f"two sections {name}")
                    out[name] = contents(h)
            return out
    except OSError as exc:
        raise UnsupportedMapping(str(exc)) from None


# ---------------------------------------------------------------------------------------------
# encodings


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def uleb(self) -> int:
        result = shift = 0
        while True:
            if self.pos >= self.end:
                raise UnsupportedMapping("truncated coverage mapping")
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise UnsupportedMapping("malformed LEB128")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise UnsupportedMapping("truncated coverage mapping")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def md5_low(data: bytes) -> int:
    """llvm's ``MD5Hash``: the first 8 bytes of the digest, little-endian."""
    return int.from_bytes(hashlib.md5(data, usedforsecurity=False).digest()[:8], "little")


def _names(section: bytes) -> dict[int, str]:
    """``__llvm_prf_names``: chunks of (uncompressed size, compressed size, names joined by 0x01)."""
    out: dict[int, str] = {}
    r = _Reader(section)
    while r.pos < r.end:
        raw_size = r.uleb()
        packed = r.uleb()
        blob = r.take(packed if packed else raw_size)
        if packed:
            try:
                blob = zlib.decompress(blob)
            except zlib.error:
                raise UnsupportedMapping("undecodable function names") from None
        for name in blob.split(b"\x01"):
            if name:
                out[md5_low(name)] = name.decode("utf-8", errors="surrogateescape")
        while r.pos < r.end and section[r.pos] == 0:
            r.pos += 1
    return out


def _filenames(blob: bytes) -> list[str]:
    r = _Reader(blob)
    n = r.uleb()
    raw_len = r.uleb()
    packed = r.uleb()
    if packed:
        try:
            data = zlib.decompress(r.take(packed))
        except zlib.error:
            raise UnsupportedMapping("undecodable file names") from None
        if len(data) != raw_len:
            raise UnsupportedMapping("file names of the wrong size")
        r = _Reader(data)
    out: list[str] = []
    cwd = ""
    for i in range(n):
        name = r.take(r.uleb()).decode("utf-8", errors="surrogateescape")
        if i == 0:
            cwd = name
            out.append(name)
        elif name.startswith("/"):
            out.append(name)
        else:
            out.append(_remove_dots(posixpath.join(cwd, name)))
    return out


def _remove_dots(path: str) -> str:
    """llvm's ``sys::path::remove_dots(P, remove_dot_dot=true)`` for a POSIX path."""
    absolute = path.startswith("/")
    parts: list[str] = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts and parts[-1] != "..":
                parts.pop()
                continue
            if absolute:
                continue
        parts.append(p)
    return ("/" if absolute else "") + "/".join(parts)


def _counter(value: int, kinds: list[int]) -> Counter:
    tag = value & 3
    if tag == ZERO:
        return (ZERO, 0)
    if tag == REF:
        return (REF, value >> 2)
    idx = value >> 2
    if idx >= len(kinds):
        raise UnsupportedMapping("a counter expression out of range")
    kinds[idx] = tag  # the kind comes from the counter that refers to it
    return (tag, idx)


def _is_dummy(func_hash: int, mapping: bytes) -> bool:
    if func_hash:
        return False
    r = _Reader(mapping)
    if r.uleb() != 1:
        return False
    r.uleb()
    if r.uleb() != 0 or r.uleb() != 1:
        return False
    return (r.uleb() & 3) == ZERO


def _decode(
    mapping: bytes, filenames: list[str]
) -> tuple[list[str], list[tuple[int, Counter, Counter]], list[Region]]:
    r = _Reader(mapping)
    n_files = r.uleb()
    if n_files > 1 << 16:
        raise UnsupportedMapping("too many file ids")
    files = []
    for _ in range(n_files):
        i = r.uleb()
        if i >= len(filenames):
            raise UnsupportedMapping("a file index out of range")
        files.append(filenames[i])
    n_expr = r.uleb()
    if n_expr > 1 << 24:
        raise UnsupportedMapping("too many expressions")
    kinds = [SUB] * n_expr
    operands: list[tuple[Counter, Counter]] = []
    for _ in range(n_expr):
        lhs = _counter(r.uleb(), kinds)
        operands.append((lhs, _counter(r.uleb(), kinds)))
    regions: list[Region] = []
    for file_id in range(n_files):
        n_regions = r.uleb()
        line = 0
        for _ in range(n_regions):
            enc = r.uleb()
            kind, expanded = CODE, 0
            c: Counter = (ZERO, 0)
            c2: Counter = (ZERO, 0)
            decision = condition = None
            if enc & 3:
                c = _counter(enc, kinds)
            elif enc & 4:
                kind = EXPANSION
                expanded = enc >> 3
                if expanded >= n_files:
                    raise UnsupportedMapping("an expansion of an unknown file id")
            else:
                k = enc >> 3
                if k == CODE:
                    pass
                elif k == SKIPPED:
                    kind = SKIPPED
                elif k == BRANCH:
                    kind = BRANCH
                    c = _counter(r.uleb(), kinds)
                    c2 = _counter(r.uleb(), kinds)
                elif k == MCDC_BRANCH:
                    kind = MCDC_BRANCH
                    c = _counter(r.uleb(), kinds)
                    c2 = _counter(r.uleb(), kinds)
                    ident, true_id, false_id = r.uleb(), r.uleb(), r.uleb()
                    if ident == 0 or max(ident, true_id, false_id) > 0x7FFF:
                        raise UnsupportedMapping("a malformed MC/DC condition")
                    condition = (ident - 1, false_id - 1, true_id - 1)
                elif k == MCDC_DECISION:
                    kind = MCDC_DECISION
                    decision = (r.uleb(), r.uleb())
                else:
                    raise UnsupportedMapping(f"region kind {k}")
            delta, col_start, n_lines, col_end = r.uleb(), r.uleb(), r.uleb(), r.uleb()
            line += delta
            if col_end & (1 << 31):
                kind = GAP
                col_end &= ~(1 << 31)
            if col_start == 0 and col_end == 0:
                col_start, col_end = 1, 0xFFFFFFFF
            region = Region(
                c, c2, file_id, expanded, line, col_start, line + n_lines, col_end, kind, decision, condition
            )
            if region.start() > region.end():
                raise UnsupportedMapping("a region that ends before it starts")
            regions.append(region)
    if r.pos != r.end:
        raise UnsupportedMapping("trailing bytes in a function's mapping")
    # an expansion region counts what the first region of the expanded file counts
    while True:
        slot: dict[int, Region] = {x.expanded_file_id: x for x in regions if x.kind == EXPANSION}
        changed = False
        for x in regions:
            target = slot.pop(x.file_id, None)
            if target is not None and target.count != x.count:
                target.count = x.count
                changed = True
        if not changed:
            break
    return files, [(k, a, b) for k, (a, b) in zip(kinds, operands, strict=True)], regions


# a function's decoded mapping, by its bytes and its unit's file names: the test executables of a
# project link the same product objects (read-only once decoded)
_DECODED: dict[
    tuple[bytes, tuple[str, ...]], tuple[list[str], list[tuple[int, Counter, Counter]], list[Region]]
] = {}


def read_mapping(executable: Path) -> list[FunctionMapping]:
    """Every function record of the executable's coverage mapping, deduplicated as llvm-cov does."""
    sections = elf_sections(executable, {"__llvm_covmap", "__llvm_covfun", "__llvm_prf_names"})
    covmap = sections.get("__llvm_covmap", b"")
    covfun = sections.get("__llvm_covfun", b"")
    if not covmap or not covfun:
        raise UnsupportedMapping("no coverage mapping")
    names = _names(sections.get("__llvm_prf_names", b""))
    # translation units: the hash of their file-name blob -> their file names
    units: dict[int, list[str]] = {}
    pos = 0
    while pos + 16 <= len(covmap):
        n_records, fn_size, cov_size, version = struct.unpack_from("<IIII", covmap, pos)
        if version != COVMAP_VERSION or n_records or cov_size:
            raise UnsupportedMapping(f"coverage mapping version {version + 1}")
        blob = covmap[pos + 16 : pos + 16 + fn_size]
        if len(blob) != fn_size:
            raise UnsupportedMapping("truncated coverage map")
        ref = md5_low(blob)
        names_here = _filenames(blob)
        if ref in units and units[ref] != names_here:
            raise UnsupportedMapping("two translation units with colliding file-name hashes")
        units[ref] = names_here
        pos += 16 + fn_size
        pos += -pos % 8
    # function records: NameRef (8), DataSize (4), FuncHash (8), FilenamesRef (8), mapping, 8-aligned
    records: list[FunctionMapping] = []
    index: dict[int, int] = {}
    raw_of: dict[int, tuple[int, bytes]] = {}
    pos = 0
    while pos + 28 <= len(covfun):
        name_ref, size, func_hash, files_ref = struct.unpack_from("<QIQQ", covfun, pos)
        mapping = covfun[pos + 28 : pos + 28 + size]
        if len(mapping) != size:
            raise UnsupportedMapping("truncated function record")
        pos += 28 + size
        pos += -pos % 8
        if files_ref not in units:
            raise UnsupportedMapping("a function record of an unknown translation unit")
        if name_ref in index:
            old_hash, old_mapping = raw_of[name_ref]
            if not _is_dummy(old_hash, old_mapping) or _is_dummy(func_hash, mapping):
                continue
        name = names.get(name_ref)
        if name is None:
            raise UnsupportedMapping("a function record without a name")
        key = (mapping, tuple(units[files_ref]))
        decoded = _DECODED.get(key)
        if decoded is None:
            if len(_DECODED) > 100_000:
                _DECODED.clear()
            decoded = _DECODED[key] = _decode(mapping, units[files_ref])
        files, exprs, regions = decoded
        if not regions:
            raise UnsupportedMapping("a function without regions")
        shown = name
        if files and name.startswith(files[0] + ":"):
            shown = name[len(files[0]) + 1 :]
        rec = FunctionMapping(
            shown, name_ref, func_hash, files, exprs, regions, _is_dummy(func_hash, mapping)
        )
        if name_ref in index:
            old = records[index[name_ref]]
            rec.name = old.name
            records[index[name_ref]] = rec
        else:
            index[name_ref] = len(records)
            records.append(rec)
        raw_of[name_ref] = (func_hash, mapping)
    return records


__all__ = ["FunctionMapping", "Region", "UnsupportedMapping", "read_mapping"]
