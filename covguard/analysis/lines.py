"""Line classification: every executable line is verified, incidental, unexecuted, justified or excluded.

A line is ``verified`` when a passing test of the enclosing function's requirement executed it,
``incidental`` when only other tests did, ``unexecuted`` when none did.  ``@justify`` scopes make
lines ``justified``; gcovr's ``GCOVR_EXCL`` markers without a justification make them ``excluded``
(honoured, as gcovr does, and reported by the analyser).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from covguard.analysis.keys import joint_keys, text_codes
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
    # the joins below on integer codes of the text keys (covguard.analysis.keys): the same matches
    # as on the text, several times faster at a hundred thousand lines
    le, br, vu = data.lines, data.branches, verifying_units.astype(str)
    f_cl, f_le, f_br, f_vu, f_fn = text_codes(cl["file"], le["file"], br["file"], vu["file"], fn["file"])
    n_cl, n_le, n_vu, n_fn = text_codes(cl["function"], le["function"], vu["function"], fn["function"])
    u_le, u_br, u_vu = text_codes(le["test"], br["test"], vu["coverage_unit"])
    line_cl = lines["line"].to_numpy()
    at_cl, at_le, at_br = joint_keys(
        (f_cl, line_cl),
        (f_le, le["line"].to_numpy()),
        (f_br, br["line"].to_numpy()),
    )  # (file, line)
    run_le, run_vu = joint_keys((u_le, f_le, n_le), (u_vu, f_vu, n_vu))  # (unit, file, function)
    rows = _LineRows(at_cl)
    # executions per line (rows of a missing file are not grouped, as pandas' groupby drops them)
    lines["tests"] = rows.counts(at_le[f_le >= 0])
    lines["executed"] = lines["tests"] > 0
    verified_at = at_le[pd.Series(run_le).isin(run_vu).to_numpy()]  # lines verifying runs executed
    lines["verified"] = rows.holds(verified_at)
    # branches: any test / verifying test (each branch row with the function of its line)
    br_fn = pd.DataFrame({"at": at_br, "file": f_br, "branch": br["branch"].to_numpy(), "unit": u_br})
    if rows.ordered:  # each branch's line found by binary search (one line per key)
        pos, found = rows.find(at_br)
        function = np.full(len(at_br), -1, dtype=np.int64)  # no such line: missing
        function[found] = n_cl[pos[found]]
        br_fn["function"] = function
    else:
        br_fn = br_fn.merge(pd.DataFrame({"at": at_cl, "function": n_cl}), on="at", how="left")
        br_fn["function"] = br_fn["function"].fillna(-1).astype("int64")  # no such line: missing
    br_fn = br_fn[br_fn["file"] >= 0]
    br_run = joint_keys(
        (br_fn["unit"].to_numpy(), br_fn["file"].to_numpy(), br_fn["function"].to_numpy()),
        (u_vu, f_vu, n_vu),
    )
    ver = br_fn[pd.Series(br_run[0]).isin(br_run[1]).to_numpy()]
    lines["branches_covered_any"] = rows.counts(_distinct_branches(br_fn))
    lines["branches_verified"] = rows.counts(_distinct_branches(ver))
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
    of_cl, of_fn = joint_keys((f_cl, n_cl), (f_fn, n_fn))  # (file, function)
    functions = pd.Index(of_fn)
    if functions.is_unique:  # each line's function looked up (-1: none, the appended "")
        known = np.append(fn["class"].fillna("").to_numpy(dtype=object), "")
        lines["function_class"] = known[functions.get_indexer(of_cl)]
    else:
        fclass = pd.DataFrame({"of": of_fn, "fc": fn["class"].to_numpy()})
        lines["function_class"] = (
            pd.DataFrame({"of": of_cl}).merge(fclass, on="of", how="left")["fc"].fillna("").to_numpy()
        )
    which = np.select(
        [
            lines["excluded"] & lines["justified_marker"],
            lines["excluded"],
            lines["verified"],
            lines["executed"],
        ],
        [0, 1, 2, 3],
        default=4,
    )  # the class's position in LINE_CLASS_NAMES: one text object per class, not one per line
    lines["class"] = pd.Series(LINE_CLASS_NAMES[which], index=lines.index, dtype="str")
    return lines


def _distinct_branches(branches: pd.DataFrame) -> np.ndarray:
    """The line key ``at`` of each distinct (``at``, ``branch``) of the branch rows (the first of
    equal rows, in order): ``drop_duplicates(["at", "branch"])["at"]``, on one integer key per
    row (:func:`covguard.analysis.keys.joint_keys`) instead of factorising both columns."""
    at = branches["at"].to_numpy(dtype=np.int64)
    (key,) = joint_keys((at, branches["branch"].to_numpy(dtype=np.int64)))
    return at[~pd.Series(key).duplicated().to_numpy()]


LINE_CLASS_NAMES = np.array(["justified", "excluded", "verified", "incidental", "unexecuted"], dtype=object)


class _LineRows:
    """Which rows of the lines hold given (file, line) keys: by binary search when the lines' keys
    ``at`` are strictly increasing (the coverage's own order: one row per key), else through
    pandas' hashing (what a merge on the keys gives, a repeated key included)."""

    def __init__(self, at: np.ndarray) -> None:
        self.at = at
        self.ordered = bool(np.all(at[1:] > at[:-1]))

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The row of each key (valid where the second array is True)."""
        pos = np.searchsorted(self.at, keys)
        if not len(self.at):
            return pos, np.zeros(len(keys), dtype=bool)
        return pos, (pos < len(self.at)) & (self.at[np.minimum(pos, len(self.at) - 1)] == keys)

    def counts(self, keys: np.ndarray) -> np.ndarray:
        """Per row, how many of ``keys`` are its key (int64)."""
        if self.ordered:
            pos, hit = self.find(keys)
            return np.bincount(pos[hit], minlength=len(self.at)).astype("int64")
        per_key = pd.Series(keys).value_counts()
        return np.asarray(pd.Series(self.at).map(per_key).fillna(0).astype("int64").to_numpy())

    def holds(self, keys: np.ndarray) -> np.ndarray:
        """Per row, whether its key is one of ``keys``."""
        if self.ordered:
            pos, hit = self.find(keys)
            out = np.zeros(len(self.at), dtype=bool)
            out[pos[hit]] = True
            return out
        return np.asarray(pd.Series(self.at).isin(keys).to_numpy(), dtype=bool)


def line_function_keys(data: CoverageData, fn: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer keys of the function of each line :func:`classify_lines` gives (one per row of
    ``data.code_lines``, in its order; -1 for a line whose file or function is missing) and of
    each row of ``fn``: equal exactly when file and function are (from the categorical codes of
    the coverage, without hashing a hundred thousand names again)."""
    cl = data.code_lines
    f_cl, f_fn = text_codes(cl["file"], fn["file"])
    n_cl, n_fn = text_codes(cl["function"], fn["function"])
    at_cl, at_fn = joint_keys((f_cl, n_cl), (f_fn, n_fn))
    return np.where((f_cl >= 0) & (n_cl >= 0), at_cl, -1), at_fn
