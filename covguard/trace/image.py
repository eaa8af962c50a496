"""The shipped firmware image: its function symbols with sizes (ELF) and where each came from
(GNU ld's linker map).

The ELF reader is a small ``struct``/numpy parser of the section headers and the symbol table
(ELF32 and ELF64, either byte order): it needs no binutils of the right target and reads an ARM
image and a host executable alike.  On ARM the Thumb bit is cleared from function addresses.

The map (``-Wl,-Map=firmware.map``) says which object each input section came from, which
sections ``--gc-sections`` discarded, and, with ``-Wl,--cref``, which objects refer to each
global symbol.  Without a map, covguard still lists the image's functions, but can only name the
origin of the ones the product build compiled.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from covguard.errors import InputError

EM_ARM = 40
STT_OBJECT, STT_FUNC, STT_FILE = 1, 2, 4
BINDS = {0: "local", 1: "global", 2: "weak"}
SYMBOL_COLUMNS = ["name", "address", "size", "type", "bind", "defined", "file"]
SECTION_COLUMNS = ["section", "address", "size", "object", "discarded"]
NOT_CODE = (".debug", ".comment", ".ARM.attributes", ".note", ".stab", ".gnu.attributes", ".gnu_debug")

_SYM32 = np.dtype([("name", "u4"), ("value", "u4"), ("size", "u4"), ("info", "u1"), ("other", "u1"),
                   ("shndx", "u2")])  # fmt: skip
_SYM64 = np.dtype([("name", "u4"), ("info", "u1"), ("other", "u1"), ("shndx", "u2"), ("value", "u8"),
                   ("size", "u8")])  # fmt: skip


def _bad_elf(path: Path, what: str) -> InputError:
    return InputError(
        f"not a usable ELF image: {what}",
        path=path,
        hint="'product.image' must name the linked firmware (an ELF file with its symbol table: not "
        "stripped, not a .hex/.bin)",
    )


def read_elf_symbols(path: Path) -> tuple[pd.DataFrame, int]:
    """The symbols of an ELF file (``SYMBOL_COLUMNS``) and its machine number.

    ``type`` is func|object|file|other, ``bind`` local|global|weak|other, ``defined`` false for
    a symbol the image imports, ``file`` the source file name the compiler recorded before a run
    of local symbols (``STT_FILE``), else "".
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read the firmware image: {exc.strerror}",
            path=path,
            hint="check 'product.image': the product build must write it",
        ) from None
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise _bad_elf(path, "no ELF header")
    wide = data[4] == 2
    order: Literal["<", ">"] = "<" if data[5] == 1 else ">"
    try:
        if wide:
            (_, machine, _, _, _, shoff, _, _, _, _, shentsize, shnum, _) = struct.unpack_from(
                order + "HHIQQQIHHHHHH", data, 16
            )
            section = order + "IIQQQQIIQQ"
        else:
            (_, machine, _, _, _, shoff, _, _, _, _, shentsize, shnum, _) = struct.unpack_from(
                order + "HHIIIIIHHHHHH", data, 16
            )
            section = order + "IIIIIIIIII"
        headers = [struct.unpack_from(section, data, shoff + i * shentsize) for i in range(shnum)]
    except struct.error:
        raise _bad_elf(path, "truncated section headers") from None
    symtabs = [h for h in headers if h[1] == 2]  # SHT_SYMTAB
    if not symtabs:
        raise _bad_elf(path, "no symbol table (stripped?)")
    _, _, _, _, offset, size, link, _, _, _ = symtabs[0]
    if link >= len(headers) or offset + size > len(data):
        raise _bad_elf(path, "symbol table outside the file")
    str_off, str_size = headers[link][4], headers[link][5]
    if str_off + str_size > len(data):
        raise _bad_elf(path, "string table outside the file")
    strtab = np.frombuffer(data, dtype=np.uint8, count=str_size, offset=str_off)
    dtype = (_SYM64 if wide else _SYM32).newbyteorder(order)
    count = size // dtype.itemsize
    syms = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    nulls = np.flatnonzero(strtab == 0)
    starts = syms["name"].astype(np.int64)
    ends = nulls[np.minimum(np.searchsorted(nulls, starts), len(nulls) - 1)] if len(nulls) else starts
    raw = strtab.tobytes()
    names = [raw[s:e].decode("utf-8", "replace") for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    kind = syms["info"] & 0xF
    bind = syms["info"] >> 4
    address = syms["value"].astype(np.int64)
    if machine == EM_ARM:
        address = np.where(kind == STT_FUNC, address & ~1, address)
    frame = pd.DataFrame(
        {
            "name": names,
            "address": address,
            "size": syms["size"].astype(np.int64),
            "type": pd.Series(kind)
            .map({STT_FUNC: "func", STT_OBJECT: "object", STT_FILE: "file"})
            .fillna("other"),
            "bind": pd.Series(bind).map(BINDS).fillna("other"),
            "defined": syms["shndx"] != 0,  # SHN_UNDEF: imported from a shared library
        }
    )
    files = frame["name"].where(frame["type"] == "file")
    frame["file"] = files.ffill().fillna("").where(frame["bind"] == "local", "")
    return frame.iloc[1:].reset_index(drop=True), int(machine)


def image_functions(symbols: pd.DataFrame) -> pd.DataFrame:
    """The function symbols of an image, one row per (name, address)."""
    funcs = symbols[(symbols["type"] == "func") & symbols["defined"] & (symbols["name"] != "")]
    return funcs.drop_duplicates(["name", "address"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the linker map


@dataclass
class LinkerMap:
    """A GNU ld map: ``sections`` (``SECTION_COLUMNS``: every input section, kept or discarded,
    with the object it came from as the map prints it) and ``cref`` (``symbol``, ``object``,
    ``defines``: the cross-reference table, empty without ``--cref``)."""

    sections: pd.DataFrame
    cref: pd.DataFrame


_PLACE = r"0x(?P<address>[0-9a-fA-F]+)\s+0x(?P<size>[0-9a-fA-F]+)\s+(?P<object>\S.*)"
_INPUT = re.compile(r"^ (?P<section>[^\s*]\S*)(?:\s+" + _PLACE + ")?$")  # " .text.f  0x0  0x1c obj.o"
_CONTINUED = re.compile(r"^\s+" + _PLACE + "$")  # the place of a section named on the line above


def read_linker_map(path: Path) -> LinkerMap:
    """Parse a GNU ld map file (``-Wl,-Map=...``; ``-Wl,--cref`` adds the cross references)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(
            f"cannot read the linker map: {exc.strerror}",
            path=path,
            hint="check 'product.map': the product build must write it (-Wl,-Map=...)",
        ) from None
    if "Linker script and memory map" not in text:
        raise InputError(
            "not a GNU ld map file (no 'Linker script and memory map')",
            path=path,
            hint="'product.map' must name the map that GNU ld writes with -Wl,-Map=FILE",
        )
    rows: list[tuple[str, int, int, str, bool]] = []
    cref: list[tuple[str, str, bool]] = []
    part = ""
    pending: str | None = None
    symbol = ""
    for line in text.splitlines():
        if line in ("Discarded input sections", "Linker script and memory map", "Cross Reference Table"):
            part, pending = line, None
            continue
        if line.startswith("Memory Configuration"):
            part, pending = "", None
            continue
        if part == "Cross Reference Table":
            if not line.strip() or line.startswith("Symbol "):
                continue
            if line[0].isspace():
                if symbol:
                    cref.append((symbol, line.strip(), False))
                continue
            symbol, _, obj = line.partition(" ")
            if obj.strip():
                cref.append((symbol, obj.strip(), True))
            continue
        if part not in ("Discarded input sections", "Linker script and memory map"):
            continue
        discarded = part == "Discarded input sections"
        if pending is not None:
            m = _CONTINUED.match(line)
            if m is not None:
                rows.append(
                    (pending, int(m["address"], 16), int(m["size"], 16), m["object"].strip(), discarded)
                )
                pending = None
                continue
            pending = None
        m = _INPUT.match(line)
        if m is None:
            continue
        if m["address"] is None:
            pending = m["section"]
        else:
            rows.append(
                (m["section"], int(m["address"], 16), int(m["size"], 16), m["object"].strip(), discarded)
            )
    sections = pd.DataFrame(rows, columns=SECTION_COLUMNS)
    return LinkerMap(sections=sections, cref=pd.DataFrame(cref, columns=["symbol", "object", "defines"]))


def split_member(obj: str) -> tuple[str, str]:
    """``libc.a(lib_a-memcpy.o)`` -> (``libc.a``, ``lib_a-memcpy.o``); a plain object -> (obj, "")."""
    if obj.endswith(")") and "(" in obj:
        archive, _, member = obj[:-1].partition("(")
        return archive, member
    return obj, ""


def locate_functions(functions: pd.DataFrame, linker_map: LinkerMap) -> pd.Series:
    """The object (as the map names it) each function symbol's code came from ("" when unknown)."""
    code = linker_map.sections
    code = code[~code["discarded"] & (code["size"] > 0) & ~code["section"].str.startswith(NOT_CODE)]
    code = code.sort_values("address", kind="stable").reset_index(drop=True)
    if not len(code) or not len(functions):
        return pd.Series("", index=functions.index, dtype=object)
    starts = code["address"].to_numpy(dtype=np.int64)
    ends = starts + code["size"].to_numpy(dtype=np.int64)
    addr = functions["address"].to_numpy(dtype=np.int64)
    idx = np.searchsorted(starts, addr, side="right") - 1
    ok = (idx >= 0) & (addr < ends[np.clip(idx, 0, None)])
    objects = code["object"].to_numpy(dtype=object)[np.clip(idx, 0, None)]
    return pd.Series(np.where(ok, objects, ""), index=functions.index, dtype=object)


def resolve_object(obj: str, directory: str) -> str:
    """An object or archive path of the map, absolute (resolved against the link's folder)."""
    archive, member = split_member(obj)
    full = os.path.normpath(os.path.join(directory, archive))
    return f"{full}({member})" if member else full
