"""Reachability benchmark: call graph and reachability of a generated 2,000-function firmware.

The project comes from :mod:`bench.generate` (modules of functions calling earlier functions and
lower modules); this script adds a product entry, ``product/main.c``: ``main`` calls every seventh
function of the even modules, a ``static const`` table of handlers holds every tenth function of
the odd modules (``dispatch`` reads it) and ``TIMER0_IRQHandler`` calls one more.  The
product is built once through covguard's product build (host gcc ``-O2 -ffunction-sections``,
``--gc-sections``, a linker map, GCC's call-graph dumps), then timed, median of ``--repeat``:

* ``graph`` - reading every unit's ``-fdump-ipa-cgraph`` and ``.ci`` file into the call graph;
* ``reach`` - entry points, the walk and every shortest call path;
* ``facts`` - everything the analyser does with the product: graph, reachability, ELF symbols,
  linker map, the join to the analysed functions and the image check.

Run ``python bench/reach_bench.py`` (``--functions``, ``--repeat``); results are printed and
written to ``bench/results/reach.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import Spec, generate  # noqa: E402
from covguard.analysis.reach import product_facts  # noqa: E402
from covguard.builder.product import build_product  # noqa: E402
from covguard.config import load_settings  # noqa: E402
from covguard.files import display_path  # noqa: E402
from covguard.options import analysis_options, build_options  # noqa: E402
from covguard.trace.callgraph import build_callgraph, reachability  # noqa: E402
from covguard.trace.tags import TagConfig  # noqa: E402

PRODUCT_MK = """\
# the product image of the generated firmware (bench/reach_bench.py)
BUILD_DIR ?= build
SRCS := $(sort $(wildcard src/*.c)) product/main.c
OBJS := $(SRCS:%.c=$(BUILD_DIR)/fw/%.o)

.PHONY: firmware
firmware: $(BUILD_DIR)/firmware.elf

$(BUILD_DIR)/fw/%.o: %.c
\t@mkdir -p $(@D)
\t$(CC) -std=c99 -O2 -w -ffunction-sections -Isrc -c $< -o $@

$(BUILD_DIR)/firmware.elf: $(OBJS)
\t$(CC) -Wl,--gc-sections -Wl,-Map=$(BUILD_DIR)/firmware.map $^ -o $@
"""


def product_main(modules: list[list[str]]) -> str:
    heads = [name for m in modules[::2] for name in m[::7]]
    table = [name for m in modules[1::2] for name in m[9::10]]
    isr = modules[-1][len(modules[-1]) // 2]
    includes = [f'#include "mod_{i:04d}.h"' for i in range(len(modules))]
    calls = [f"    acc += {name}(acc, {i}u);" for i, name in enumerate(heads)]
    return "\n".join(
        [
            "/* product entry of the generated firmware (bench/reach_bench.py) */",
            "#include <stdint.h>",
            *includes,
            "",
            "typedef uint32_t (*handler_fn)(uint32_t a, uint32_t b);",
            "static const handler_fn handlers[] = {" + ", ".join(table) + "};",
            "",
            "uint32_t dispatch(uint32_t op, uint32_t a)",
            "{",
            f"    return handlers[op % {len(table)}u](a, op);",
            "}",
            "",
            "volatile uint32_t isr_acc;",
            "void TIMER0_IRQHandler(void)",
            "{",
            f"    isr_acc += {isr}(isr_acc, 1u);",
            "}",
            "",
            "int main(void)",
            "{",
            "    uint32_t acc = 1u;",
            *calls,
            "    acc += dispatch(acc, 3u);",
            "    return (int)(acc & 1u);",
            "}",
            "",
        ]
    )


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times: list[float] = []
    out: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "reach")
    args = parser.parse_args(argv)

    project = args.out / "project"
    spec = Spec(functions=args.functions, tests=10)
    generated = generate(spec, project)
    modules: list[list[str]] = [[] for _ in range(spec.modules)]
    for g in range(spec.functions):  # the generator's names: m<module>_f<index>
        m, i = divmod(g, spec.functions_per_module)
        modules[m].append(f"m{m:04d}_f{i:03d}")
    (project / "product").mkdir(exist_ok=True)
    (project / "product" / "main.c").write_text(product_main(modules), encoding="utf-8")
    (project / "product.mk").write_text(PRODUCT_MK, encoding="utf-8")
    settings = load_settings(
        project / "covguard.toml",
        overrides={
            "work_dir": str(args.out / "work"),
            "product.command": "make -f product.mk -j{jobs} firmware BUILD_DIR={build_dir}",
            "product.image": "{build_dir}/firmware.elf",
            "product.map": "{build_dir}/firmware.map",
            "sources": ["src/**", "product/**"],
        },
    )
    t0 = time.perf_counter()
    product = build_product(build_options(settings))
    build_s = time.perf_counter() - t0

    graph_s, graph = median_time(lambda: build_callgraph(product.units), args.repeat)
    entries = (*settings.reachability_entry_points, *settings.reachability_extra_entry_points)
    reach_s, reach = median_time(lambda: reachability(graph, entries, root=settings.root), args.repeat)
    funcs = graph.nodes[(graph.nodes["kind"] == "function") & graph.nodes["defined"]]
    analysed = funcs.assign(
        file=[display_path(u, settings.root) for u in funcs["unit"]], function=funcs["name"]
    )
    known = {f"FW-SRS-{n:06d}" for n in range(1, generated.requirements + 1)}
    facts_s, facts = median_time(
        lambda: product_facts(
            analysis_options(settings), product, analysed.loc[:, ["file", "function"]], known, TagConfig()
        ),
        args.repeat,
    )
    edges = graph.edges
    result = {
        "functions_generated": generated.functions,
        "units": len(product.units),
        "graph_functions": len(funcs),
        "graph_edges": len(edges),
        "reachable_functions": int(reach.nodes.merge(funcs, on="key")["reachable"].sum()),
        "image_functions": facts.summary["image_functions"],
        "product_build_s": round(build_s, 2),
        "graph_s": round(graph_s, 4),
        "reach_s": round(reach_s, 4),
        "graph_plus_reach_s": round(graph_s + reach_s, 4),
        "facts_s": round(facts_s, 4),
        "repeat": args.repeat,
    }
    print(
        f"{result['graph_functions']} functions in {result['units']} units, {result['graph_edges']} edges, "
        f"{result['reachable_functions']} reachable, {result['image_functions']} in the image\n"
        f"product build (compile + link, once): {build_s:.2f} s\n"
        f"call graph {graph_s * 1000:.0f} ms + reachability {reach_s * 1000:.0f} ms = "
        f"{(graph_s + reach_s) * 1000:.0f} ms; all product facts (+ ELF, map, join, image check) "
        f"{facts_s * 1000:.0f} ms  (median of {args.repeat})"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out.parent / "reach.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
