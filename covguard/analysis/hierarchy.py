"""Requirement hierarchy: a parent requirement is verified when its children are.

Requirement files may say which requirement refines which (a ReqIF SPEC-HIERARCHY, an sdoc
``Parent`` relation or composite, a needs link, a Doorstop link; the ``parent`` column of the
requirement frame).  A parent that has no implementing code or no test of its own
(``unimplemented`` / ``unverified``) is ``verified`` when every one of its children is
``verified``, directly or, in turn, through its own children; ``verified_through`` lists those
children.  A parent with its own evidence keeps its own status (a failing or hollow parent is not
hidden by good children), and a parent with a child that is not verified keeps its status too.
Cycles cannot verify anything: a requirement is never verified through itself.
"""

from __future__ import annotations

import pandas as pd

ROLL_UP_FROM = ("unimplemented", "unverified")


def roll_up(requirements: pd.DataFrame) -> pd.DataFrame:
    """``requirements`` (with ``id``, ``parent``, ``status``) with parents verified through children.

    Adds the column ``verified_through`` (a list of child IDs, empty for most requirements).
    """
    out = requirements.copy()
    if "parent" not in out.columns:
        out["parent"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    has_parent = out["parent"].notna()
    through: dict[str, list[str]] = {}
    if has_parent.any():
        grouped = out.loc[has_parent].groupby("parent", sort=False)["id"].agg(list)
        children: dict[str, list[str]] = {str(k): list(v) for k, v in grouped.items()}
        status = dict(zip(out["id"], out["status"], strict=True))
        changed = True
        while changed:  # bottom-up, one level per pass; ends: each pass verifies at least one more
            changed = False
            for parent, kids in children.items():
                if status.get(parent) in ROLL_UP_FROM and all(status.get(k) == "verified" for k in kids):
                    status[parent] = "verified"
                    through[parent] = list(kids)
                    changed = True
        out["status"] = out["id"].map(status)
    out["verified_through"] = pd.Series(
        [through.get(i, []) for i in out["id"]], index=out.index, dtype=object
    )
    return out
