"""Line classification: every executable line is verified, incidental, unexecuted, justified or excluded.

A line is ``verified`` when a passing test of the enclosing function's requirement executed it,
``incidental`` when only other tests did, ``unexecuted`` when none did.  ``@justify`` scopes make
lines ``justified``; gcovr's ``GCOVR_EXCL`` markers without a justification make them ``excluded``
(honoured, as gcovr does, and reported by the analyser).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from covguard.frames import CoverageData


def scopes(attached: pd.DataFrame) -> pd.DataFrame:
    """Justified and excluded line ranges: file, function, scope, scope_start, scope_end, category,
    reason, source ('justify'|'exclusion'), justified (bool), marker line."""
    j = attached[attached["kind"].isin(["justify", "justify_start"]) & (attached["scope"] != "none")]
    just = pd.DataFrame(
        {
            "file": j["file"].astype(str),
            "function": j["function"],
            "scope": j["scope"].astype(str),
            "scope_start": j["scope_start"].astype("int64"),
            "scope_end": j["scope_end"].astype("int64"),
            "category": j["value"].astype(str),
            "reason": j["reason"].astype(str),
            "source": "justify",
            "justified": True,
            "marker": j["line"].astype("int64"),
        }
    )
    x = attached[attached["kind"].isin(["excl_line", "excl_start"]) & (attached["scope"] != "none")]
    # an exclusion is justified when the same comment carries a @justify
    same_comment = attached[attached["kind"].isin(["justify", "justify_start"])].loc[
        :, ["file", "comment_start", "value", "reason"]
    ]
    xj = x.merge(same_comment, on=["file", "comment_start"], how="left", suffixes=("", "_j"))
    excl = pd.DataFrame(
        {
            "file": xj["file"].astype(str),
            "function": xj["function"],
            "scope": xj["scope"].astype(str),
            "scope_start": xj["scope_start"].astype("int64"),
            "scope_end": xj["scope_end"].astype("int64"),
            "category": xj["value_j"].fillna("").astype(str),
            "reason": xj["reason_j"].fillna("").astype(str),
            "source": "exclusion",
            "justified": xj["value_j"].notna(),
            "marker": xj["line"].astype("int64"),
        }
    )
    out = pd.concat([just, excl], ignore_index=True)
    return out.astype({"justified": bool})


def classify_lines(
    data: CoverageData, verifying_units: pd.DataFrame, fn: pd.DataFrame, scopes: pd.DataFrame
) -> pd.DataFrame:
    cl = data.code_lines
    lines = pd.DataFrame(
        {
            "file": cl["file"].astype(str),
            "line": cl["line"].astype("int64"),
            "function": cl["function"].astype(str),
            "count": cl["count"].astype("int64"),
            "branches_total": cl["branches_total"].astype("int64"),
        }
    )
    le = data.lines.loc[:, ["file", "line", "function", "test"]].astype(
        {"file": str, "function": str, "test": str}
    )
    le = le.rename(columns={"test": "coverage_unit"})
    le["line"] = le["line"].astype("int64")
    tests_per_line = le.groupby(["file", "line"]).size().rename("tests")
    vu = verifying_units.astype(str)
    lv = le.merge(vu, on=["coverage_unit", "file", "function"])
    verified_lines = lv.loc[:, ["file", "line"]].drop_duplicates()
    lines = lines.merge(tests_per_line, left_on=["file", "line"], right_index=True, how="left")
    lines["tests"] = lines["tests"].fillna(0).astype("int64")
    lines["executed"] = lines["tests"] > 0
    lines["verified"] = lines.set_index(["file", "line"]).index.isin(
        verified_lines.set_index(["file", "line"]).index
    )
    # branches: any test / verifying test
    br = data.branches.loc[:, ["file", "line", "branch", "test"]].astype({"file": str, "test": str})
    br = br.rename(columns={"test": "coverage_unit"})
    br["line"] = br["line"].astype("int64")
    br_fn = br.merge(lines.loc[:, ["file", "line", "function"]], on=["file", "line"], how="left")
    any_cov = br_fn.drop_duplicates(["file", "line", "branch"]).groupby(["file", "line"]).size()
    ver_cov = (
        br_fn.merge(vu, on=["coverage_unit", "file", "function"])
        .drop_duplicates(["file", "line", "branch"])
        .groupby(["file", "line"])
        .size()
    )
    lines = lines.merge(
        any_cov.rename("branches_covered_any"), left_on=["file", "line"], right_index=True, how="left"
    )
    lines = lines.merge(
        ver_cov.rename("branches_verified"), left_on=["file", "line"], right_index=True, how="left"
    )
    for c in ("branches_covered_any", "branches_verified"):
        lines[c] = lines[c].fillna(0).astype("int64")
    # justified / excluded ranges (function scopes use the function's extent)
    sc = scopes.copy()
    fext = fn.loc[:, ["file", "function", "line_start", "line_end"]]
    fsc = sc[sc["scope"] == "function"].merge(fext, on=["file", "function"], how="left")
    sc.loc[sc["scope"] == "function", "scope_start"] = fsc["line_start"].fillna(0).astype("int64").to_numpy()
    sc.loc[sc["scope"] == "function", "scope_end"] = fsc["line_end"].fillna(0).astype("int64").to_numpy()
    lines["justification"] = ""
    lines["excluded"] = False
    lines["justified_marker"] = False
    if len(sc):
        hit = lines.reset_index().merge(sc, on="file", suffixes=("", "_s"))
        hit = hit[(hit["line"] >= hit["scope_start"]) & (hit["line"] <= hit["scope_end"])]
        hit = hit.sort_values("justified", ascending=False).drop_duplicates("index")
        idx = hit["index"].to_numpy()
        lines.loc[idx, "excluded"] = True
        lines.loc[idx, "justified_marker"] = hit["justified"].to_numpy()
        lines.loc[idx, "justification"] = (hit["category"] + ": " + hit["reason"]).str.strip(": ").to_numpy()
    fclass = fn.set_index(["file", "function"])["class"]
    lines["function_class"] = (
        lines.merge(fclass.rename("fc"), left_on=["file", "function"], right_index=True, how="left")["fc"]
        .fillna("")
        .to_numpy()
    )
    lines["class"] = np.select(
        [
            lines["excluded"] & lines["justified_marker"],
            lines["excluded"],
            lines["verified"],
            lines["executed"],
        ],
        ["justified", "excluded", "verified", "incidental"],
        default="unexecuted",
    )
    return lines
