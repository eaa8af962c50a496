"""A deterministic generator of synthetic firmware, for covguard's benchmarks.

``generate(Spec(functions=2000, tests=1000), out)`` writes a complete firmware project: C modules
of functions with decisions, loops (some on one line: gcov's loop-turn counting), switches and
calls into lower modules, every function tagged ``@req`` with its requirement; test files for
covguard's harness where every test verifies one requirement and calls a few of its functions;
``requirements.csv``; a ``Makefile`` that compiles every module once into a static library and
links one test executable per module against it; and ``covguard.toml``.

A few defects are planted at fixed rates so the analysis has real work: untagged (rogue)
functions, requirements no test verifies, and failing tests.  The same spec gives the same
bytes (a seeded ``random.Random``), so a cost curve over sizes compares like with like.

Run ``python bench/generate.py OUT --functions 2000 --tests 1000`` to write one project.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

PREFIX = "FW-SRS"


@dataclass(frozen=True)
class Spec:
    """What to generate.  ``tests`` is the number of test cases (``CG_TEST``) in all."""

    functions: int = 1000
    tests: int = 250
    functions_per_module: int = 50
    functions_per_requirement: int = 4
    seed: int = 1
    rogue_every: int = 97  # every n-th function carries no @req tag
    untested_every: int = 53  # every n-th requirement has no test
    failing_every: int = 499  # every n-th test fails

    @property
    def modules(self) -> int:
        return max(1, -(-self.functions // self.functions_per_module))

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Function:
    module: int
    index: int  # within the module
    name: str
    requirement: int | None  # requirement number, None for planted rogue code


@dataclass
class Generated:
    """What was written: counts for the benchmark table."""

    root: Path
    modules: int
    functions: int
    requirements: int
    tests: int
    source_lines: int


def req_id(n: int) -> str:
    return f"{PREFIX}-{n:06d}"


def _functions(spec: Spec) -> list[Function]:
    out: list[Function] = []
    for g in range(spec.functions):
        m, i = divmod(g, spec.functions_per_module)
        rogue = spec.rogue_every > 0 and g % spec.rogue_every == spec.rogue_every - 1
        req = None if rogue else 1 + g // spec.functions_per_requirement
        out.append(Function(m, i, f"m{m:04d}_f{i:03d}", req))
    return out


def _callee(rng: random.Random, fn: Function, by_module: list[list[Function]]) -> Function | None:
    """Calls go to an earlier function of the same module or into a lower module: a DAG."""
    roll = rng.random()
    if roll < 0.25 and fn.index > 0:
        return by_module[fn.module][rng.randrange(max(0, fn.index - 5), fn.index)]
    if roll < 0.35 and fn.module > 0:
        lower = by_module[(fn.module - 1) // 2]  # modules form a tree of layers: short link chains
        return lower[rng.randrange(len(lower))]
    return None


def _body(rng: random.Random, fn: Function, callee: Function | None) -> list[str]:
    k = [rng.randrange(3, 200) for _ in range(5)]
    call = f"{callee.name}(a ^ {k[0]}u, b)" if callee else f"(a ^ {k[0]}u)"
    shape = rng.randrange(4)
    if shape == 0:
        return [
            f"uint32_t {fn.name}(uint32_t a, uint32_t b)",
            "{",
            f"    uint32_t acc = {k[1]}u;",
            "    uint32_t i;",
            "",
            f"    if (a > {k[2]}u && b != {k[3]}u) {{",
            "        acc += a;",
            "    } else {",
            "        acc -= b;",
            "    }",
            "    for (i = 0; i < (a & 7u); i++) {",
            "        if ((i ^ b) & 1u) {",
            f"            acc += i * {k[4]}u;",
            "        }",
            "    }",
            f"    return acc + {call};",
            "}",
        ]
    if shape == 1:
        return [
            f"uint32_t {fn.name}(uint32_t a, uint32_t b)",
            "{",
            "    uint32_t r;",
            "",
            "    switch ((a + b) & 3u) {",
            "    case 0:",
            f"        r = a * {k[1]}u;",
            "        break;",
            "    case 1:",
            f"        r = b - {k[2]}u;",
            "        break;",
            "    case 2:",
            f"        r = {call};",
            "        break;",
            "    default:",
            f"        r = {k[3]}u;",
            "        break;",
            "    }",
            f"    if (r < {k[4]}u || r > 100000u) {{",
            f"        r = {k[4]}u;",
            "    }",
            "    return r;",
            "}",
        ]
    if shape == 2:
        return [
            f"uint32_t {fn.name}(uint32_t a, uint32_t b)",
            "{",
            "    uint32_t n = 0;",
            "",
            f"    if (b == {k[1]}u) {{",
            "        return 0u;",
            "    }",
            f"    while (a > 0u && n < {k[2] % 16 + 1}u) {{",
            "        a = a > (b & 15u) + 1u ? a - ((b & 15u) + 1u) : 0u;",
            "        n++;",
            "    }",
            f"    return n + {call};",
            "}",
        ]
    return [
        f"uint32_t {fn.name}(uint32_t a, uint32_t b)",
        "{",
        "    uint32_t s = 0, i;",
        "",
        f"    for (i = 0; i < (b & 15u); i++) s += i ^ {k[1]}u;",
        f"    if ((s & 1u) || a == {k[2]}u) {{",
        f"        s += {call};",
        "    }",
        f"    return s ^ {k[3]}u;",
        "}",
    ]


def _module_source(m: int, fns: list[Function], calls: dict[str, Function | None], rng: random.Random) -> str:
    head = [
        f"/* mod_{m:04d}.c - generated by covguard's benchmark generator (bench/generate.py). */",
        f'#include "mod_{m:04d}.h"',
    ]
    if m > 0:
        head.append(f'#include "mod_{(m - 1) // 2:04d}.h"')
    out = [*head, ""]
    for fn in fns:
        tag = f"@req {req_id(fn.requirement)}" if fn.requirement is not None else "diagnostic hook"
        out += [f"/* {fn.name}: {tag} */", *_body(rng, fn, calls[fn.name]), ""]
    return "\n".join(out)


def _module_header(m: int, fns: list[Function]) -> str:
    guard = f"MOD_{m:04d}_H"
    return "\n".join(
        [
            f"#ifndef {guard}",
            f"#define {guard}",
            "#include <stdint.h>",
            *(f"uint32_t {fn.name}(uint32_t a, uint32_t b);" for fn in fns),
            "#endif",
            "",
        ]
    )


def _tests_for(spec: Spec, fns: list[Function]) -> dict[int, list[tuple[int, list[Function], bool]]]:
    """Per module: (requirement, functions to call, fails) for each test case."""
    reqs: dict[int, list[Function]] = {}
    for fn in fns:
        if fn.requirement is not None:
            reqs.setdefault(fn.requirement, []).append(fn)
    tested = [r for r in sorted(reqs) if spec.untested_every <= 0 or r % spec.untested_every != 0]
    out: dict[int, list[tuple[int, list[Function], bool]]] = {}
    for t in range(spec.tests if tested else 0):
        r = tested[t % len(tested)]
        group = reqs[r]
        pick = group[(t // len(tested)) % len(group) :] + group[: (t // len(tested)) % len(group)]
        fails = spec.failing_every > 0 and t % spec.failing_every == spec.failing_every - 1
        out.setdefault(group[0].module, []).append((r, pick[: min(3, len(pick))], fails))
    return out


def _test_source(m: int, cases: list[tuple[int, list[Function], bool]], rng: random.Random) -> str:
    out = [
        f"/* test_mod_{m:04d}.c - generated unit tests of mod_{m:04d}.c */",
        '#include "covguard_test.h"',
        f'#include "mod_{m:04d}.h"',
        "",
    ]
    for n, (r, calls, fails) in enumerate(cases):
        out.append(f'CG_TEST(req_{r:06d}_case_{n}, "{req_id(r)}")')
        out.append("{")
        for fn in calls:
            a, b = rng.randrange(0, 300), rng.randrange(0, 300)
            check = "CG_ASSERT_NE_INT" if fails else "CG_ASSERT_EQ_INT"
            call = f"(long)(int32_t){fn.name}({a}u, {b}u)"
            out.append(f"    {check}({call}, {call});")
        out += ["}", ""]
    out += ["CG_MAIN()", ""]
    return "\n".join(out)


def library_makefile(comment: str, cflags: str, library: str, ldlibs: str = "") -> str:
    """A firmware-style Makefile: every ``src/*.c`` compiled once into ``$(BUILD_DIR)/<library>``,
    one test executable per ``tests/test_*.c`` linked against it (the linker pulls in only the
    objects it needs).  It honours CC, CFLAGS and BUILD_DIR, as covguard's wrapper expects."""
    link = f"$(BUILD_DIR)/{library}"
    extra = f" {ldlibs}" if ldlibs else ""
    return f"""\
{comment}
CFLAGS ?= {cflags}
BUILD_DIR ?= build
COVGUARD_RUNTIME ?= $(shell covguard runtime-dir)
OBJ := $(BUILD_DIR)/obj
SRCS := $(sort $(wildcard src/*.c))
OBJS := $(SRCS:src/%.c=$(OBJ)/src/%.o)
TESTS := $(sort $(wildcard tests/test_*.c))
BINS := $(TESTS:tests/%.c=$(BUILD_DIR)/tests/%)

.PHONY: tests
tests: $(BINS)

$(OBJ)/src/%.o: src/%.c
\t@mkdir -p $(@D)
\t$(CC) $(CFLAGS) -Isrc -c $< -o $@

$(OBJ)/tests/%.o: tests/%.c
\t@mkdir -p $(@D)
\t$(CC) $(CFLAGS) -Isrc -I$(COVGUARD_RUNTIME) -c $< -o $@

{link}: $(OBJS)
\t@rm -f $@
\tar rcs $@ $^

$(BUILD_DIR)/tests/%: $(OBJ)/tests/%.o {link}
\t@mkdir -p $(@D)
\t$(CC) $(CFLAGS) -o $@ $< {link}{extra}
"""


LIBRARY_CONFIG = Template("""\
# $comment
sources = ["src/**"]
test_sources = ["tests/**"]
requirements = ["requirements.csv"]

[build]
command = "make -j{jobs} tests BUILD_DIR={build_dir} COVGUARD_RUNTIME={runtime_dir}"

[test]
executables = ["{build_dir}/tests/test_*"]
timeout = $timeout

[gate]
max_findings = { $limits }
""")


def library_config(
    comment: str, timeout: int, limits: str = "rogue = -1, unverified_requirement = -1"
) -> str:
    """The covguard.toml of a :func:`library_makefile` project: its build and tests as the Makefile
    lays them out, and the gate's limits per finding kind (a benchmark measures, it does not judge)."""
    return LIBRARY_CONFIG.substitute(comment=comment, timeout=timeout, limits=limits)


MAKEFILE = library_makefile(
    "# Generated by covguard's benchmark generator: every module compiled once into libfw.a, one\n"
    "# test executable per module linked against it (the linker pulls in only the modules it calls).",
    "-std=c99 -O0 -g -w",
    "libfw.a",
)

CONFIG = library_config(
    "generated by covguard's benchmark generator",
    120,
    "rogue = -1, unverified_requirement = -1, failed_test = -1, incidental = -1",
)


def generate(spec: Spec, out: Path) -> Generated:
    """Write the project of ``spec`` into ``out`` (replaced; a marker file keeps an identical one)."""
    marker = out / "generated.json"
    fns = _functions(spec)
    by_module: list[list[Function]] = [[] for _ in range(spec.modules)]
    for fn in fns:
        by_module[fn.module].append(fn)
    by_module = [m for m in by_module if m]
    n_reqs = max((fn.requirement or 0) for fn in fns)
    tests = _tests_for(spec, fns)
    if marker.is_file():
        info = json.loads(marker.read_text(encoding="utf-8"))
        if info.get("spec") == spec.key():
            return Generated(out, len(by_module), len(fns), n_reqs, spec.tests, int(info["source_lines"]))
    if out.exists():
        shutil.rmtree(out)
    (out / "src").mkdir(parents=True)
    (out / "tests").mkdir()
    rng = random.Random(spec.seed)
    calls = {fn.name: _callee(rng, fn, by_module) for fn in fns}
    lines = 0
    for m, mfns in enumerate(by_module):
        text = _module_source(m, mfns, calls, rng)
        lines += text.count("\n") + 1
        (out / "src" / f"mod_{m:04d}.c").write_text(text, encoding="utf-8")
        (out / "src" / f"mod_{m:04d}.h").write_text(_module_header(m, mfns), encoding="utf-8")
    for m, cases in sorted(tests.items()):
        for part in range(0, len(cases), 1000):  # the harness holds up to 1024 tests per executable
            name = f"test_mod_{m:04d}" + (f"_{part // 1000}" if part else "")
            text = _test_source(m, cases[part : part + 1000], rng).replace(
                f"test_mod_{m:04d}.c -", f"{name}.c -", 1
            )
            (out / "tests" / f"{name}.c").write_text(text, encoding="utf-8")
    rows = ["id,title,safety_class,rationale"]
    for r in range(1, n_reqs + 1):
        cls = "ABC"[r % 3]
        rows.append(f"{req_id(r)},Generated requirement {r},{cls},Synthetic requirement of the benchmark.")
    (out / "requirements.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (out / "Makefile").write_text(MAKEFILE, encoding="utf-8")
    (out / "covguard.toml").write_text(CONFIG, encoding="utf-8")
    marker.write_text(json.dumps({"spec": spec.key(), "source_lines": lines}) + "\n", encoding="utf-8")
    return Generated(out, len(by_module), len(fns), n_reqs, spec.tests, lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=250)
    parser.add_argument("--functions-per-module", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    spec = Spec(
        functions=args.functions,
        tests=args.tests,
        functions_per_module=args.functions_per_module,
        seed=args.seed,
    )
    got = generate(spec, args.out)
    print(
        f"{got.root}: {got.modules} modules, {got.functions} functions, {got.requirements} requirements, "
        f"{got.tests} tests, {got.source_lines} source lines"
    )


if __name__ == "__main__":
    main()
