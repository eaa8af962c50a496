"""clang's raw profile (``.profraw``), read natively: every function's counters and MC/DC bitmap.

Only the layout clang-19's run-time writes is understood (raw profile version 10, 64-bit
little-endian, no value profiling data needed): a 16-word header, the binary ids, one 64-byte
data record per instrumented function (``NameRef``, ``FuncHash``, ``CounterPtr``, ``BitmapPtr``,
``NumCounters``, ``NumBitmapBytes``), the counters (one ``u64`` each) and the bitmap bytes.
Anything else raises :class:`UnsupportedProfile`, and the caller reads that profile with
llvm-profdata instead: the decoder never guesses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = 0xFF6C70726F667281  # "\xfflprofr\x81", 64-bit raw profile
VERSION = 10
HEADER = struct.Struct("<16Q")
DATA = np.dtype(
    [
        ("name_ref", "<u8"),
        ("func_hash", "<u8"),
        ("counter_ptr", "<i8"),
        ("bitmap_ptr", "<i8"),
        ("function_ptr", "<u8"),
        ("values", "<u8"),
        ("num_counters", "<u4"),
        ("num_value_sites", "<u2", (3,)),  # IPVK_Last + 1 (the header's ValueKindLast is 2)
        ("pad", "<u2"),
        ("num_bitmap_bytes", "<u4"),
    ]
)
MAX_BYTES = 1 << 30  # a raw profile larger than this is not a test's


class UnsupportedProfile(Exception):
    """A raw profile this decoder does not understand (llvm-profdata reads it instead)."""


@dataclass
class RawProfile:
    """Per data record: name hash, function hash, counters and bitmap (views into one buffer)."""

    name_ref: np.ndarray  # u64
    func_hash: np.ndarray  # u64
    counter_start: np.ndarray  # index of the record's first counter in ``counters``
    num_counters: np.ndarray
    bitmap_start: np.ndarray  # index of the record's first byte in ``bitmap``
    num_bitmap_bytes: np.ndarray
    counters: np.ndarray  # u64
    bitmap: np.ndarray  # u8


def read_profraw(path: Path) -> RawProfile:
    """Decode one ``.profraw`` (raises :class:`UnsupportedProfile` for anything unexpected)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES or size < HEADER.size:
            raise UnsupportedProfile(f"{size} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise UnsupportedProfile(str(exc)) from None
    return parse_profraw(raw)


def parse_profraw(raw: bytes) -> RawProfile:
    if len(raw) < HEADER.size:
        raise UnsupportedProfile("shorter than its header")
    (
        magic,
        version,
        binary_ids_size,
        num_data,
        pad_before_counters,
        num_counters,
        pad_after_counters,
        num_bitmap_bytes,
        pad_after_bitmap,
        names_size,
        counters_delta,
        bitmap_delta,
        _names_delta,
        num_vtables,
        vnames_size,
        _value_kind_last,
    ) = HEADER.unpack_from(raw, 0)
    if magic != MAGIC:
        raise UnsupportedProfile("not a 64-bit little-endian raw profile")
    if version & 0xFFFFFFFF != VERSION or version >> 32:
        # the high bits are variant flags (IR-level, context-sensitive, byte coverage, ...):
        # clang's front-end instrumentation sets none of them
        raise UnsupportedProfile(f"raw profile version {version:#x}, not {VERSION}")
    if num_vtables or vnames_size or _value_kind_last != 2:
        raise UnsupportedProfile("virtual-table profile data")
    sizes = (binary_ids_size, num_data, num_counters, num_bitmap_bytes, names_size)
    if any(s > MAX_BYTES for s in (*sizes, pad_before_counters, pad_after_counters, pad_after_bitmap)):
        raise UnsupportedProfile("a section larger than the file")
    data_at = HEADER.size + binary_ids_size
    counters_at = data_at + num_data * DATA.itemsize + pad_before_counters
    bitmap_at = counters_at + num_counters * 8 + pad_after_counters
    names_at = bitmap_at + num_bitmap_bytes + pad_after_bitmap
    if names_at + names_size > len(raw):
        raise UnsupportedProfile("truncated")
    data = np.frombuffer(raw, dtype=DATA, count=num_data, offset=data_at)
    counters = np.frombuffer(raw, dtype="<u8", count=num_counters, offset=counters_at)
    bitmap = np.frombuffer(raw, dtype=np.uint8, count=num_bitmap_bytes, offset=bitmap_at)
    if np.any(data["num_value_sites"]):
        raise UnsupportedProfile("value profiling data")
    # the pointers are relative to the data record (the run-time's deltas, one record on)
    rec = np.arange(num_data, dtype=np.int64) * DATA.itemsize
    c_off = data["counter_ptr"].astype(np.int64) - (_signed(counters_delta) - rec)
    b_off = data["bitmap_ptr"].astype(np.int64) - (_signed(bitmap_delta) - rec)
    n_c = data["num_counters"].astype(np.int64)
    n_b = data["num_bitmap_bytes"].astype(np.int64)
    if (
        np.any(c_off % 8)
        or np.any(c_off < 0)
        or np.any(c_off // 8 + n_c > num_counters)
        or np.any((b_off < 0) & (n_b > 0))
        or np.any(np.where(n_b > 0, b_off + n_b, 0) > num_bitmap_bytes)
    ):
        raise UnsupportedProfile("a data record points outside the counters or the bitmap")
    return RawProfile(
        name_ref=data["name_ref"].copy(),
        func_hash=data["func_hash"].copy(),
        counter_start=c_off // 8,
        num_counters=n_c,
        bitmap_start=np.where(n_b > 0, b_off, 0),
        num_bitmap_bytes=n_b,
        counters=counters,
        bitmap=bitmap,
    )


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


__all__ = ["RawProfile", "UnsupportedProfile", "parse_profraw", "read_profraw"]
