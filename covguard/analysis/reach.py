"""Product facts for the analyser: reachability of every analysed function, and the image check.

Inputs are the product build (:mod:`covguard.builder.product`), its call graph
(:mod:`covguard.trace.callgraph`) and its image and linker map (:mod:`covguard.trace.image`).  Outputs:

* ``functions`` - per analysed function (``file``, ``function``): ``reachable`` (bool),
  ``call_path`` (the shortest path from a root) and ``image``: ``linked`` (a symbol of the
  image), ``inlined`` (reachable, but the compiler left no out-of-line copy: its code is in its
  callers), ``removed`` (not in the image: the linker's ``--gc-sections`` or the compiler
  dropped it), ``not_built`` (the product build does not compile it) or ``None`` (no image
  configured).  A function the product build does not compile is not reachable either.
* ``findings`` - the image check: functions of the shipped image that come from no analysed
  source (``image_unanalysed``: vendor objects, prebuilt libraries in the project, sources
  outside ``sources``; or untraced product code that the unit tests do not build), and the
  toolchain's libraries (``image_library``: libc, libgcc, start-up files), with their sizes.

Identity: a static function is (file, name); an analysed function in a header (a static inline
of several units) is reachable when any unit's copy is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from covguard.analysis import findings as F
from covguard.analysis.options import AnalysisOptions
from covguard.builder.product import ProductBuild
from covguard.files import display_path
from covguard.ingest.collect import SourceFilter
from covguard.trace.callgraph import CallGraph, build_callgraph, reachability
from covguard.trace.demangle import demangle
from covguard.trace.image import (
    LinkerMap,
    image_functions,
    locate_functions,
    read_elf_symbols,
    read_linker_map,
    resolve_object,
    split_member,
)
from covguard.trace.tags import TagConfig, attach_to_functions, scan_files

FACT_COLUMNS = ["file", "function", "reachable", "call_path", "image"]


@dataclass
class ProductFacts:
    functions: pd.DataFrame  # FACT_COLUMNS, one row per analysed function
    findings: pd.DataFrame  # F.FINDING_COLUMNS
    graph: CallGraph
    summary: dict[str, int]
    # functions only the product build compiles, with the known requirements their tags name
    # (file, function, requirement): they implement them though no test build compiles them
    product_only: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["file", "function", "requirement"])
    )


def product_facts(
    settings: AnalysisOptions,
    product: ProductBuild,
    functions: pd.DataFrame,
    known: set[str],
    tag_config: TagConfig,
) -> ProductFacts:
    """Reachability and image facts for ``functions`` (``file``, ``function``: the analysed ones)."""
    root = settings.root
    graph = build_callgraph(product.units)
    linker_map = read_linker_map(Path(product.map)) if product.map else None
    objects = {os.path.normpath(k): v for k, v in product.objects.items()}
    outside = _outside_references(linker_map, objects, product.link_directory, root)
    entries = (*settings.reachability_entry_points, *settings.reachability_extra_entry_points)
    reach = reachability(graph, entries, external_refs=outside, root=root)
    nodes = graph.nodes.merge(reach.nodes, on="key")
    nodes["unit_file"] = [display_path(u, root) if u else "" for u in nodes["unit"]]
    image = _image_frame(product, linker_map, nodes, objects, root) if product.image else None
    facts = _function_facts(functions, nodes, image)
    only_found, product_only = _product_only_findings(settings, nodes, image, functions, known, tag_config)
    parts = [only_found]
    if image is not None:
        parts.append(_foreign_findings(settings, image, nodes))
    found = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else F.empty_findings()
    )
    funcs = nodes[nodes["kind"] == "function"]
    summary = {
        "functions": int(funcs["defined"].sum()),
        "reachable": int((funcs["defined"] & funcs["reachable"]).sum()),
        "roots": reach.roots,
        "image_functions": 0 if image is None else len(image),
        "image_bytes": 0 if image is None else int(image["size"].sum()),
    }
    return ProductFacts(
        functions=facts, findings=found, graph=graph, summary=summary, product_only=product_only
    )


def _outside_references(
    linker_map: LinkerMap | None, objects: dict[str, str], link_dir: str, root: Path
) -> list[tuple[str, str]]:
    """(symbol, object) pairs of the cross-reference table: references from objects the product
    build did not compile from C (prebuilt objects, libraries, assembler)."""
    if linker_map is None or not len(linker_map.cref):
        return []
    refs = linker_map.cref[~linker_map.cref["defines"]]
    resolved = refs["object"].map(lambda o: resolve_object(o, link_dir))
    foreign = refs[~resolved.isin(set(objects))]
    shown = foreign["object"].map(lambda o: display_path(resolve_object(o, link_dir), root))
    return list(zip(foreign["symbol"], shown, strict=True))


def _image_frame(
    product: ProductBuild,
    linker_map: LinkerMap | None,
    nodes: pd.DataFrame,
    objects: dict[str, str],
    root: Path,
) -> pd.DataFrame:
    """The image's functions: ``name``, ``size``, ``bind``, ``object`` (absolute, archive(member)
    for a library member; "" unknown), ``source`` (absolute; "" when no unit compiled it)."""
    assert product.image is not None
    symbols, _machine = read_elf_symbols(Path(product.image))
    funcs = image_functions(symbols)
    if linker_map is not None:
        where = locate_functions(funcs, linker_map)
        funcs = funcs[where != "linker stubs"]  # veneers and the like: the linker's own code
        funcs["object"] = [resolve_object(o, product.link_directory) if o else "" for o in where[funcs.index]]
        funcs["source"] = funcs["object"].map(objects).fillna("")
    else:  # no map: by name, for what the product build compiled
        defined = nodes[(nodes["kind"] == "function") & nodes["defined"]]
        glob = defined[~defined["static"]].drop_duplicates("name").set_index("name")["unit"]
        statics = defined[defined["static"]].assign(base=defined["unit"].map(os.path.basename))
        stat = statics.drop_duplicates(["base", "name"]).set_index(["base", "name"])["unit"]
        local = pd.MultiIndex.from_arrays([funcs["file"].map(os.path.basename), funcs["name"]])
        from_local = pd.Series(stat.reindex(local).to_numpy(), index=funcs.index)
        from_global = funcs["name"].map(glob)
        funcs["source"] = from_local.where(funcs["bind"] == "local", from_global).fillna("")
        funcs["object"] = ""
    return funcs.reset_index(drop=True)


def _function_facts(
    functions: pd.DataFrame,
    nodes: pd.DataFrame,
    image: pd.DataFrame | None,
) -> pd.DataFrame:
    fn = functions.loc[:, ["file", "function"]].astype(str).drop_duplicates().reset_index(drop=True)
    fn["_row"] = np.arange(len(fn))
    defined = nodes[(nodes["kind"] == "function") & nodes["defined"]]
    defined = defined.assign(name=demangle(defined["name"].astype(str)))  # C++: as the coverage names it
    cols = ["_row", "key", "unit", "unit_file", "reachable", "call_path"]
    static = defined[defined["static"]]
    exact = fn.merge(static, left_on=["file", "function"], right_on=["unit_file", "name"]).loc[:, cols]
    public = fn.merge(defined[~defined["static"]], left_on="function", right_on="name").loc[:, cols]
    units = set(nodes["unit_file"])
    header = fn[~fn["file"].isin(units)].merge(static, left_on="function", right_on="name").loc[:, cols]
    matches = pd.concat([exact.assign(p=0), public.assign(p=1), header.assign(p=2)], ignore_index=True)
    if not len(matches):
        empty: pd.Series = pd.Series([[] for _ in range(len(fn))], index=fn.index, dtype=object)
        status = None if image is None else "not_built"
        return fn.assign(reachable=False, call_path=empty, image=status).loc[:, FACT_COLUMNS]
    matches = matches[matches["p"] == matches.groupby("_row")["p"].transform("min")]
    matches = matches.assign(depth=matches["call_path"].str.len().where(matches["reachable"], 1 << 30))
    matches = matches.assign(status=_image_status(matches, image))
    best = matches.sort_values(["_row", "depth", "key"]).drop_duplicates("_row").set_index("_row")
    linked = matches[matches["status"] == "linked"]["_row"].unique()
    out = fn.assign(
        reachable=fn["_row"].map(best["reachable"]).fillna(False).astype(bool),
        call_path=fn["_row"].map(best["call_path"]),
        image=fn["_row"].map(best["status"]).fillna("not_built"),
    )
    out.loc[out["_row"].isin(linked), "image"] = "linked"
    out["call_path"] = out["call_path"].apply(lambda v: list(v) if isinstance(v, list) else [])
    if image is None:
        out["image"] = None
    return out.loc[:, FACT_COLUMNS]


def _image_status(matches: pd.DataFrame, image: pd.DataFrame | None) -> pd.Series:
    """linked / inlined / removed for each matched (function, unit): a reachable function with no
    symbol of its own has its code in its callers (any out-of-line copy was dropped as unused)."""
    if image is None or not len(matches):
        return pd.Series(None, index=matches.index, dtype=object)
    key = pd.MultiIndex.from_arrays([matches["unit"], matches["key"].str.rpartition("::")[2]])
    linked = key.isin(pd.MultiIndex.from_arrays([image["source"], image["name"]]))
    status = np.where(linked, "linked", np.where(matches["reachable"], "inlined", "removed"))
    return pd.Series(status, index=matches.index, dtype=object)


def _product_only_findings(
    settings: AnalysisOptions,
    nodes: pd.DataFrame,
    image: pd.DataFrame | None,
    functions: pd.DataFrame,
    known: set[str],
    tag_config: TagConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Functions of analysed sources that only the product build compiles (``main.c``, a target
    HAL): reachable but traced to no known requirement -> ``image_unanalysed`` (untraced code
    that ships); reached by no entry point -> ``dead``.  Their places come from
    ``-fcallgraph-info``, so a static function the compiler inlined everywhere (no place, no
    symbol) is not listed: its code is part of its callers'."""
    root = settings.root
    keep = SourceFilter(root, settings.sources, settings.exclude)
    defs = nodes[(nodes["kind"] == "function") & nodes["defined"] & nodes["decl_line"].notna()]
    defs = defs.assign(file=[display_path(f, root) for f in defs["decl_file"]])
    analysed = pd.MultiIndex.from_frame(functions.loc[:, ["file", "function"]].astype(str))
    only = defs[
        defs["file"].map(keep) & ~pd.MultiIndex.from_arrays([defs["file"], defs["name"]]).isin(analysed)
    ]
    implements = pd.DataFrame(columns=["file", "function", "requirement"])
    if not len(only):
        return F.empty_findings(), implements
    traced = _traced(only, root, known, tag_config)
    pairs = [(f, n, r) for f, n, reqs in zip(only["file"], only["name"], traced, strict=True) for r in reqs]
    if pairs:
        implements = pd.DataFrame(pairs, columns=["file", "function", "requirement"]).drop_duplicates()
    sizes = (
        image.drop_duplicates(["source", "name"]).set_index(["source", "name"])["size"]
        if image is not None
        else pd.Series(dtype="int64")
    )
    size = pd.Series(
        sizes.reindex(pd.MultiIndex.from_arrays([only["unit"], only["name"]])).to_numpy(), index=only.index
    )
    rows: list[dict[str, object]] = []
    for rec, reqs, nbytes in zip(only.to_dict(orient="records"), traced, size, strict=True):
        name = rec["name"]
        where = {"file": rec["file"], "line": int(rec["decl_line"]), "function": name}
        if not rec["reachable"]:
            why = f"yet it is traced to {', '.join(reqs)}" if reqs else "and it is traced to no requirement"
            rows.append(
                {
                    "kind": "dead",
                    **where,
                    "requirement": ", ".join(reqs) or None,
                    "message": f"dead code: no entry point reaches '{name}', {why} "
                    "(product-only code: the unit tests do not build it)",
                }
            )
        elif not reqs:
            shipped = "inlined into its callers" if pd.isna(nbytes) else f"{int(nbytes)} bytes"
            rows.append(
                {
                    "kind": "image_unanalysed",
                    **where,
                    "call_path": rec["call_path"],
                    "message": f"'{name}' ({shipped}) is in the firmware image, but no requirement traces "
                    "it and the unit tests do not build it: untraced code that ships",
                }
            )
    return _findings(rows), implements


def _foreign_findings(settings: AnalysisOptions, image: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """Image functions from no analysed source: sources outside ``sources`` (or excluded),
    prebuilt objects and archives of the project (``image_unanalysed``), libraries from outside
    the project - the toolchain's libc, libgcc, start-up files (``image_library``, one finding
    per library, with every function and its size)."""
    root = settings.root
    keep = SourceFilter(root, settings.sources, settings.exclude)
    img = image.assign(file=[display_path(s, root) if s else "" for s in image["source"]])
    rows: list[dict[str, object]] = []
    compiled = img[(img["file"] != "") & ~img["file"].map(keep)]
    for rec in compiled.to_dict(orient="records"):
        rows.append(
            {
                "kind": "image_unanalysed",
                "file": rec["file"],
                "line": _decl_line(nodes, rec["source"], rec["name"]),
                "function": rec["name"],
                "message": f"'{rec['name']}' ({rec['size']} bytes) is in the firmware image from "
                f"{rec['file']}, which is not an analysed source (see 'sources' and 'exclude')",
            }
        )
    foreign = img[img["file"] == ""]
    archive = foreign["object"].map(lambda o: split_member(o)[0])
    shown = archive.map(lambda a: display_path(a, root) if a else "")
    inside = shown.map(lambda s: bool(s) and not s.startswith("/"))
    for rec in foreign[~inside].to_dict(orient="records"):
        if rec["object"]:
            continue  # a library: below
        rows.append(
            {
                "kind": "image_unanalysed",
                "line": 0,
                "function": rec["name"],
                "message": f"'{rec['name']}' ({rec['size']} bytes) is in the firmware image from an object "
                "of unknown origin (no linker map: set 'product.map'): no requirement traces it",
            }
        )
    for rec, path in zip(foreign[inside].to_dict(orient="records"), shown[inside], strict=True):
        member = split_member(rec["object"])[1]
        rows.append(
            {
                "kind": "image_unanalysed",
                "file": path,
                "line": 0,
                "function": rec["name"],
                "message": f"'{rec['name']}' ({rec['size']} bytes) is in the firmware image from the "
                f"prebuilt {path}"
                + (f" ({member})" if member else "")
                + ", with no source covguard analyses: "
                "no requirement traces it and no test covers it",
            }
        )
    libs = foreign[~inside & (foreign["object"] != "")].assign(archive=archive)
    for lib, members in libs.groupby("archive", sort=True):
        group = members.sort_values("name")
        listed = ", ".join(f"{n} ({s} bytes)" for n, s in zip(group["name"], group["size"], strict=True))
        rows.append(
            {
                "kind": "image_library",
                "file": str(lib),
                "line": 0,
                "message": f"{len(group)} function(s), {int(group['size'].sum())} bytes, from the library "
                f"{os.path.basename(str(lib))} are in the firmware image: {listed}",
            }
        )
    return _findings(rows)


def _findings(rows: list[dict[str, object]]) -> pd.DataFrame:
    if not rows:
        return F.empty_findings()
    return pd.DataFrame(rows).reindex(columns=F.FINDING_COLUMNS)


def _decl_line(nodes: pd.DataFrame, unit: str, name: str) -> int:
    hit = nodes[(nodes["unit"] == unit) & (nodes["name"] == name) & nodes["decl_line"].notna()]
    return int(hit["decl_line"].iloc[0]) if len(hit) else 0


def _traced(defs: pd.DataFrame, root: Path, known: set[str], tag_config: TagConfig) -> list[list[str]]:
    """The known requirements of each function of ``defs`` (``file``, ``name``, ``decl_line``):
    ``@req`` tags in the comment directly above its name, as :mod:`covguard.trace.tags` attaches
    them (the function's extent is unknown here, so tags inside its body do not count)."""
    items: list[tuple[str, bytes]] = []
    for shown in sorted(set(defs["file"])):
        path = Path(shown) if shown.startswith("/") else root / shown
        try:
            items.append((shown, path.read_bytes()))
        except OSError:
            continue
    extents = pd.DataFrame(
        {
            "file": defs["file"].astype(str),
            "function": defs["name"].astype(str),
            "line_start": defs["decl_line"].astype("int64"),
            "line_end": defs["decl_line"].astype("int64"),
        }
    ).drop_duplicates(["file", "function"])
    attached = attach_to_functions(scan_files(items, tag_config).tags, extents)
    req = attached[(attached["kind"] == "req") & attached["value"].isin(known) & attached["function"].notna()]
    by_fn = req.groupby(["file", "function"])["value"].agg(lambda s: sorted(set(s)))
    return [list(by_fn.get((f, n), [])) for f, n in zip(defs["file"], defs["name"], strict=True)]
