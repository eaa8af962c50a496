# ruff: noqa: E501  (the Lua workloads below read best one statement per line)
"""A real, large C code base for the benchmarks: Lua 5.4, from lupa's source distribution on PyPI.

``lua_project(cache)`` downloads ``lupa`` (a pinned version) with pip's ordinary client
(``pip download --no-binary :all: --no-deps``), takes the Lua 5.4 interpreter sources from its
``third-party/lua54/`` folder (the core and the standard libraries: about 30 files, 25k lines of
C), and writes a firmware-style project around them: a Makefile that compiles every file once
into ``liblua.a``; unit tests for covguard's harness that run Lua workloads through the C API
(arithmetic, tables, closures, metatables, coroutines, errors, strings and patterns, UTF-8,
``table.sort``, ``string.pack``, ``load``/``string.dump``), each verifying a requirement of a
small ``requirements.csv``; and ``covguard.toml``.  Lua's sources carry no ``@req`` tags, so
the analysis reports them as untraced: it still classifies every function and line.

Everything is cached under ``bench/.cache`` (gitignored).  Without network access the function
returns ``None`` and the benchmark runs on the synthetic firmware only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bench.generate import library_config, library_makefile

LUPA = "lupa==2.8"
SKIP = {"lua.c", "luac.c", "onelua.c", "ltests.c"}  # programs and Lua's internal test build

TESTS: dict[str, list[tuple[str, str, str]]] = {
    "core": [
        (
            "integer_and_float_arithmetic",
            "LUA-REQ-001",
            "return 7 // 2 == 3 and 7 / 2 == 3.5 and 2^10 == 1024",
        ),
        (
            "bitwise_operators",
            "LUA-REQ-001",
            "return (0xF0 | 0x0F) == 0xFF and (1 << 10) == 1024 and ~0 == -1",
        ),
        (
            "table_array_and_hash_parts",
            "LUA-REQ-002",
            "local t = {} for i = 1, 1000 do t[i] = i; t['k'..i] = i end "
            "local s = 0 for k, v in pairs(t) do s = s + v end return s == 1001000 and #t == 1000",
        ),
        (
            "closures_capture_upvalues",
            "LUA-REQ-003",
            "local function counter() local n = 0 return function() n = n + 1 return n end end "
            "local c = counter() c() c() return c() == 3",
        ),
        (
            "metatables_and_operators",
            "LUA-REQ-004",
            "local V = {} V.__index = V V.__add = function(a, b) return setmetatable({x = a.x + b.x}, V) end "
            "V.__eq = function(a, b) return a.x == b.x end V.__tostring = function(v) return 'V' .. v.x end "
            "local a = setmetatable({x = 1}, V) local b = setmetatable({x = 2}, V) "
            "return tostring(a + b) == 'V3' and (a + b) == setmetatable({x = 3}, V)",
        ),
        (
            "coroutines_yield_and_resume",
            "LUA-REQ-005",
            "local co = coroutine.wrap(function(a) local s = a while true do s = s + coroutine.yield(s) end end) "
            "co(1) co(2) return co(3) == 6",
        ),
        (
            "errors_and_pcall",
            "LUA-REQ-006",
            "local ok, e = pcall(function() error({code = 42}) end) "
            "local ok2, e2 = pcall(function() local x = nil; return x.y end) "
            "return not ok and e.code == 42 and not ok2 and type(e2) == 'string'",
        ),
        (
            "garbage_collection_of_cycles",
            "LUA-REQ-007",
            "local weak = setmetatable({}, {__mode = 'k'}) for i = 1, 200 do local t = {} t.self = t weak[t] = i end "
            "collectgarbage() collectgarbage() local n = 0 for _ in pairs(weak) do n = n + 1 end return n == 0",
        ),
        (
            "goto_and_numeric_for",
            "LUA-REQ-001",
            "local s = 0 for i = 10, 1, -2 do if i == 4 then goto skip end s = s + i ::skip:: end return s == 26",
        ),
        (
            "varargs_and_select",
            "LUA-REQ-003",
            "local function f(...) return select('#', ...), select(2, ...) end local n, b = f(1, nil, 3) "
            "return n == 3 and b == nil and table.pack(1, 2, 3).n == 3",
        ),
    ],
    "strings": [
        (
            "string_format_numbers",
            "LUA-REQ-010",
            "return string.format('%5.2f|%d|%x|%q', 3.14159, 42, 255, 'a\\nb') == ' 3.14|42|ff|\"a\\\\\\nb\"'",
        ),
        (
            "pattern_matching_find_and_match",
            "LUA-REQ-011",
            "local d, m, y = string.match('on 26/11/2026', '(%d+)/(%d+)/(%d+)') "
            "return d == '26' and m == '11' and y == '2026' and ('hello world'):find('o w') == 5",
        ),
        (
            "gsub_with_function_and_table",
            "LUA-REQ-011",
            "local s = ('$a + $b'):gsub('%$(%w+)', {a = '1', b = '2'}) "
            "local u = ('abc'):gsub('.', function(c) return c:upper() end) return s == '1 + 2' and u == 'ABC'",
        ),
        (
            "gmatch_words",
            "LUA-REQ-011",
            "local n = 0 for w in ('the quick brown fox'):gmatch('%a+') do n = n + #w end return n == 16",
        ),
        (
            "string_rep_sub_byte_char",
            "LUA-REQ-010",
            "local s = ('ab'):rep(3, '-') return s == 'ab-ab-ab' and s:sub(-2) == 'ab' "
            "and s:byte(1) == 97 and string.char(72, 105) == 'Hi'",
        ),
        (
            "utf8_library",
            "LUA-REQ-012",
            "local s = utf8.char(72, 228, 8364, 128512) return utf8.len(s) == 4 and utf8.codepoint(s, 2) == 228",
        ),
        (
            "string_pack_and_unpack",
            "LUA-REQ-013",
            "local p = string.pack('>I2 i4 z', 513, -2, 'ok') local a, b, c = string.unpack('>I2 i4 z', p) "
            "return a == 513 and b == -2 and c == 'ok'",
        ),
        (
            "tostring_tonumber_conversions",
            "LUA-REQ-010",
            "return tonumber('0x10') == 16 and tonumber('1e2') == 100.0 and tostring(1/0) == 'inf' "
            "and math.tointeger(3.0) == 3 and tonumber('z', 36) == 35",
        ),
    ],
    "libs": [
        (
            "table_sort_with_comparator",
            "LUA-REQ-020",
            "local t = {} for i = 1, 500 do t[i] = (i * 7919) % 1009 end "
            "table.sort(t, function(a, b) return a > b end) for i = 2, #t do if t[i-1] < t[i] then return false end end "
            "return true",
        ),
        (
            "table_concat_insert_remove_move",
            "LUA-REQ-020",
            "local t = {1, 2, 3} table.insert(t, 1, 0) table.remove(t) local m = table.move(t, 1, 3, 2, {}) "
            "return table.concat(t, ',') == '0,1,2' and m[4] == 2",
        ),
        (
            "math_library",
            "LUA-REQ-021",
            "math.randomseed(42) local r = math.random(1, 6) return r >= 1 and r <= 6 and math.floor(-3.5) == -4 "
            "and math.max(1, 9, 3) == 9 and math.abs(math.sin(math.pi)) < 1e-12 and math.ult(1, -1)",
        ),
        (
            "load_compiles_chunks",
            "LUA-REQ-022",
            "local f = load('local a, b = ... return a * b') return f(6, 7) == 42 and load('return +') == nil",
        ),
        (
            "string_dump_and_reload",
            "LUA-REQ-022",
            "local function sq(x) return x * x end local g = load(string.dump(sq), 'sq', 'b') return g(9) == 81",
        ),
        (
            "os_and_io_free_functions",
            "LUA-REQ-023",
            "return type(os.time()) == 'number' and os.date('!%Y', 0) == '1970' and type(os.clock()) == 'number'",
        ),
        (
            "debug_traceback_and_getinfo",
            "LUA-REQ-023",
            "local info = debug.getinfo(1, 'Sl') return info.currentline >= 1 "
            "and debug.traceback('x'):find('stack traceback') ~= nil",
        ),
        (
            "parser_of_a_larger_program",
            "LUA-REQ-022",
            "local src = {} for i = 1, 200 do src[#src + 1] = ('local v%d = %d * 2 + (%d // 3) '):format(i, i, i) end "
            "src[#src + 1] = 'return v200' return load(table.concat(src, '\\n'))() == 466",
        ),
    ],
}

REQUIREMENTS = {
    "LUA-REQ-001": "Integer and float and bitwise arithmetic",
    "LUA-REQ-002": "Tables with array and hash parts",
    "LUA-REQ-003": "Functions and closures and varargs",
    "LUA-REQ-004": "Metatables and metamethods",
    "LUA-REQ-005": "Coroutines",
    "LUA-REQ-006": "Errors and protected calls",
    "LUA-REQ-007": "Garbage collection",
    "LUA-REQ-010": "String formatting and conversion",
    "LUA-REQ-011": "Pattern matching",
    "LUA-REQ-012": "UTF-8 support",
    "LUA-REQ-013": "Binary packing",
    "LUA-REQ-020": "Table library",
    "LUA-REQ-021": "Math library",
    "LUA-REQ-022": "Loading and dumping chunks",
    "LUA-REQ-023": "OS and debug libraries",
}

MAKEFILE = library_makefile(
    "# Lua 5.4 (from lupa's sdist) as a firmware-style project: every file compiled once into\n"
    "# liblua.a, one test executable per tests/test_*.c linked against it.",
    "-std=gnu99 -O0 -g -w -DLUA_USE_LINUX",
    "liblua.a",
    "-lm -ldl",
)

CONFIG = library_config("Lua 5.4 under covguard (bench/real.py)", 120)


@dataclass
class RealProject:
    name: str
    root: Path
    functions: int
    source_lines: int
    tests: int


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _test_file(group: str, cases: list[tuple[str, str, str]]) -> str:
    out = [
        f"/* test_lua_{group}.c - Lua workloads through the C API, one covguard test each */",
        '#include "covguard_test.h"',
        '#include "lua.h"',
        '#include "lauxlib.h"',
        '#include "lualib.h"',
        "",
        "static int run_chunk(const char *code)",
        "{",
        "    lua_State *L = luaL_newstate();",
        "    int ok;",
        "    luaL_openlibs(L);",
        "    ok = luaL_dostring(L, code) == LUA_OK && lua_toboolean(L, -1);",
        "    lua_close(L);",
        "    return ok;",
        "}",
        "",
    ]
    for name, req, code in cases:
        out += [f'CG_TEST({name}, "{req}")', "{", f"    CG_ASSERT(run_chunk({_c_string(code)}));", "}", ""]
    out += ["CG_MAIN()", ""]
    return "\n".join(out)


def download_sdist(cache: Path, requirement: str, pattern: str) -> Path | None:
    """The source distribution of ``requirement`` under ``cache/downloads`` (downloaded once with
    pip's ordinary client), or None without network access."""
    dl = cache / "downloads"
    found = sorted(dl.glob(pattern))
    if not found:
        dl.mkdir(parents=True, exist_ok=True)
        print(f"  downloading {requirement} (source distribution) with pip ...", flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "-d", str(dl), requirement],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        found = sorted(dl.glob(pattern))
        if proc.returncode != 0 and not found:
            print(f"  could not download {requirement}: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
            return None
    return found[-1] if found else None


def write_project(root: Path, files: dict[str, str]) -> None:
    """Write the project's own files (tests, requirements, Makefile, config) under ``root``; a file
    that changed drops the project's work folder, so the next run rebuilds and reruns it."""
    for name, text in files.items():
        path = root / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            shutil.rmtree(root / ".covguard", ignore_errors=True)


def lua_project(cache: Path) -> RealProject | None:
    """The Lua project under ``cache/lua54`` (written once), or None without the download."""
    root = cache / "lua54"
    src = root / "src"
    if not (src / "lapi.c").is_file():
        archive = download_sdist(cache, LUPA, "lupa-*.tar.gz")
        if archive is None:
            return None
        src.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) == 4 and parts[1:3] == ("third-party", "lua54") and member.isfile():
                    name = parts[3]
                    if name.endswith((".c", ".h")) and name not in SKIP:
                        handle = tar.extractfile(member)
                        assert handle is not None
                        (src / name).write_bytes(handle.read())
    rows = ["id,title,safety_class,rationale"]
    rows += [
        f"{rid},{title},B,Lua behaviour the benchmark workload checks." for rid, title in REQUIREMENTS.items()
    ]
    files = {f"tests/test_lua_{group}.c": _test_file(group, cases) for group, cases in TESTS.items()}
    files |= {"requirements.csv": "\n".join(rows) + "\n", "Makefile": MAKEFILE, "covguard.toml": CONFIG}
    write_project(root, files)
    lines = sum(p.read_bytes().count(b"\n") for p in (root / "src").glob("*.[ch]"))
    return RealProject(
        name="Lua 5.4 (lupa sdist)",
        root=root,
        functions=0,
        source_lines=lines,
        tests=sum(len(c) for c in TESTS.values()),
    )


if __name__ == "__main__":
    got = lua_project(Path(__file__).resolve().parent / ".cache")
    print(got)
