"""MC/DC arithmetic: test vectors, independence pairs, decision expressions and their truth tables.

A *decision* is a boolean expression of *conditions* joined by ``&&`` and ``||`` (``if ((a > 10
&& !override) || glucose < 70)`` has three).  clang's ``-fcoverage-mcdc`` records which *test
vectors* each execution took: one value per condition, ``T`` or ``F``, ``-`` when short-circuit
evaluation never looked at it, ``C`` when the compiler folded it to a constant, and the
decision's outcome.  Written as a string: ``"TF-=T"``.

A condition is shown to *independently affect the outcome* (it is "covered") by an
**independence pair**: two executed vectors with different outcomes that differ in that condition
and in no other condition evaluated by both (LLVM's rule: a condition one of the two did not
evaluate does not count as a difference).  Pairs are found in the *union* of the vectors of the
executions that count - which is why per-test flags cannot simply be added: test A's ``TT-=T``
and test B's ``F--=F`` are a pair for condition 1 that neither shows alone.

Everything here is vectorised over frames of vectors (one row per decision and vector); the
expression parser and the truth table work on one decision's text (a few tokens).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_CONDITIONS = 62  # vectors are bit masks in int64
MAX_TRUTH_TABLE = 16  # conditions up to which hints enumerate every input combination


# ---------------------------------------------------------------------------------------------
# test vectors


def explode_vectors(frame: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """One row per (key, vector) from a frame with a ``vectors`` column (``"TF-=T;FFT=F"``).

    Columns: the key, ``tv`` (the condition values, ``"TF-"``), ``result`` (bool), ``values``
    and ``visited`` (int64 bit masks, bit i = condition i + 1: true / evaluated).
    """
    cols = [*key, "vectors"]
    v = frame.loc[:, cols].assign(vectors=frame["vectors"].astype(str).str.split(";")).explode("vectors")
    v = v[v["vectors"].fillna("").astype(str).str.len() > 0]
    parts = v["vectors"].astype(str).str.split("=", n=1, expand=True)
    if not len(v):
        return pd.DataFrame(
            {
                **{k: pd.Series(dtype=object) for k in key},
                "tv": pd.Series(dtype=object),
                "result": pd.Series(dtype=bool),
                "values": pd.Series(dtype="int64"),
                "visited": pd.Series(dtype="int64"),
            }
        )
    out = v.loc[:, list(key)].assign(tv=parts[0].to_numpy(), result=(parts[1] == "T").to_numpy())
    out = out.drop_duplicates([*key, "tv", "result"]).reset_index(drop=True)
    values, visited = encode(out["tv"])
    return out.assign(values=values, visited=visited)


def encode(tv: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Bit masks (true, evaluated) of vectors ``"TF-C"``: bit i is condition i + 1."""
    if not len(tv):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    width = int(tv.str.len().max())
    if width > MAX_CONDITIONS:
        raise ValueError(f"a decision of {width} conditions (covguard computes MC/DC for up to 62)")
    raw = np.frombuffer(np.asarray(tv.tolist(), dtype=f"S{width}").tobytes(), dtype=np.uint8).reshape(
        len(tv), width
    )
    weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
    true = raw == ord("T")
    evaluated = true | (raw == ord("F"))
    return (true * weights).sum(axis=1).astype(np.int64), (evaluated * weights).sum(axis=1).astype(np.int64)


def independence_pairs(vectors: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """The independence pairs in exploded vectors (:func:`explode_vectors`), grouped by ``key``.

    Columns: the key, ``condition`` (1-based), ``tv_true``/``tv_false`` (the pair).
    """
    key = list(key)
    t = vectors[vectors["result"]].loc[:, [*key, "tv", "values", "visited"]]
    f = vectors[~vectors["result"]].loc[:, [*key, "tv", "values", "visited"]]
    m = t.merge(f, on=key, suffixes=("_true", "_false"))
    if not len(m):
        return pd.DataFrame(
            {**{k: pd.Series(dtype=object) for k in key}, "condition": pd.Series(dtype="int64")}
        )
    diff = (
        (m["values_true"].to_numpy() ^ m["values_false"].to_numpy())
        & m["visited_true"].to_numpy()
        & m["visited_false"].to_numpy()
    )
    single = (diff != 0) & ((diff & (diff - 1)) == 0)
    kept: pd.DataFrame = m.loc[single, [*key, "tv_true", "tv_false"]]
    condition = np.log2(diff[single].astype(np.float64)).round().astype(np.int64) + 1
    return kept.assign(condition=condition).reset_index(drop=True)


def covered_conditions(frame: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """Per key (a decision, or a decision and a requirement): the conditions shown independent.

    ``frame`` has the key and ``vectors``; several rows of one key (several tests) are united
    first.  Returns the key and ``covered`` (a sorted tuple of 1-based condition numbers).
    """
    key = list(key)
    pairs = independence_pairs(explode_vectors(frame, key), key)
    got = pairs.drop_duplicates([*key, "condition"]).sort_values([*key, "condition"])
    grouped = got.groupby(key, sort=False, observed=True)["condition"].agg(tuple).rename("covered")
    base = frame.loc[:, key].drop_duplicates()
    out = base.merge(grouped.reset_index(), on=key, how="left")
    out["covered"] = out["covered"].apply(lambda v: v if isinstance(v, tuple) else ())
    return out.reset_index(drop=True)


def uncovered_text(conditions_total: pd.Series, folded: pd.Series, covered: pd.Series) -> list[str]:
    """The conditions (1-based, ``"2,3"``) neither covered nor constant-folded, per decision."""
    out = []
    for total, fold, cov in zip(conditions_total, folded, covered, strict=True):
        skip = set(numbers(str(fold))) | set(cov)
        n = int(total) + len(numbers(str(fold)))
        out.append(",".join(str(k) for k in range(1, n + 1) if k not in skip))
    return out


def unite_decisions(code_decisions: pd.DataFrame) -> pd.DataFrame:
    """A decision universe with each decision once: the vectors of its rows (several runs)
    united, its coverage recomputed from them."""
    d = code_decisions.astype(
        {c: object for c in code_decisions.columns if str(code_decisions[c].dtype) == "category"}
    )
    first = d.drop(columns=["vectors"]).groupby("decision", as_index=False, sort=False).first()
    vectors = d.groupby("decision", sort=False)["vectors"].agg(join_vectors).reset_index()
    out = first.merge(vectors, on="decision")
    cov = covered_conditions(out, ["decision"])
    out = out.drop(columns=["conditions_covered", "uncovered"]).merge(cov, on="decision")
    out["conditions_covered"] = out["covered"].map(len)
    out["uncovered"] = uncovered_text(out["conditions_total"], out["folded"], out["covered"])
    return out.drop(columns=["covered"]).sort_values(["file", "line", "decision"], ignore_index=True)


def join_vectors(vectors: pd.Series) -> str:
    """The union of several ``vectors`` strings, sorted, as one string."""
    seen = sorted({v for text in vectors.dropna().astype(str) for v in text.split(";") if v})
    return ";".join(seen)


def numbers(text: str) -> list[int]:
    """``"2,3"`` -> [2, 3]."""
    return [int(x) for x in re.findall(r"\d+", text or "")]


# ---------------------------------------------------------------------------------------------
# decision expressions (for truth tables and hints)

_TOKEN = re.compile(
    r"""(?P<ws>\s+|/\*.*?\*/|//[^\n]*)
      | (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
      | (?P<op>&&|\|\||[!=<>]=|->|<<=?|>>=?|\+\+|--|[-+*/%&|^~!<>=?:;,.()\[\]{}])
      | (?P<word>[A-Za-z_0-9][A-Za-z_0-9.]*)
      | (?P<other>\S)""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Expr:
    """A decision's boolean structure: ``and``/``or`` of children, or a ``leaf`` (a condition)."""

    op: str  # "and" | "or" | "leaf"
    children: tuple[Expr, ...] = ()
    negated: bool = False
    start: tuple[int, int] = (0, 0)  # (line, column) of a leaf's first character
    text: str = ""  # a leaf's source, white space collapsed
    index: int = -1  # leaf: 0-based position from the left

    def leaves(self) -> list[Expr]:
        if self.op == "leaf":
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int
    col: int
    start: int  # offset in the decision's text
    end: int


def _tokens(text: str, line: int, col: int) -> list[_Tok]:
    """C tokens (enough of them for logical expressions) with their line and column."""
    out: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        chunk = m.group(0)
        if m.lastgroup != "ws":
            out.append(_Tok(m.lastgroup or "other", chunk, line, col, m.start(), m.end()))
        newlines = chunk.count("\n")
        if newlines:
            line += newlines
            col = len(chunk) - chunk.rfind("\n")
        else:
            col += len(chunk.encode("utf-8", "surrogateescape"))  # clang's columns count bytes
    return out


class _Parser:
    """Recursive descent over ``||``, ``&&``, ``!`` and parentheses; anything else is a leaf."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.leaves = 0

    def parse(self, toks: list[_Tok]) -> Expr:
        for op, name in (("||", "or"), ("&&", "and")):
            parts = _split(toks, op)
            if len(parts) > 1:
                return Expr(name, tuple(self.parse(p) for p in parts))
        group = self.group(toks)
        if group is not None:
            return group
        depth = 0
        for t in toks:
            depth += t.text in ("(", "[", "{")
            depth -= t.text in (")", "]", "}")
            if depth == 0 and t.text in ("?", ":", "=", ";", ","):
                raise ValueError("not a plain condition")
        first, last = toks[0], toks[-1]
        source = re.sub(r"\s+", " ", self.text[first.start : last.end])
        index = self.leaves
        self.leaves += 1
        return Expr("leaf", start=(first.line, first.col), text=source, index=index)

    def group(self, toks: list[_Tok]) -> Expr | None:
        """``!...( logical )``: the logical expression inside, negated per the ``!``s."""
        lead = 0
        while lead < len(toks) and toks[lead].text == "!":
            lead += 1
        inner = _group_inner(toks[lead:])
        if inner is None:
            return None
        if _has_logical(inner):
            sub = self.parse(inner)
        else:
            nested = self.group(inner)
            if nested is None:
                return None
            sub = nested
        return Expr(sub.op, sub.children, sub.negated ^ bool(lead % 2))


def parse_decision(text: str, line: int, column: int) -> Expr | None:
    """The ``&&``/``||`` structure of a decision's source text (which starts at ``line:column``).

    Leaves are the operands that hold no top-level ``&&``/``||`` (after stripping parentheses
    and ``!`` around a group); a leaf starts where its first token does, which is where clang
    places the condition.  Returns None when the text is not a plain logical expression.
    """
    toks = _tokens(text, line, column)
    if not toks:
        return None
    try:
        expr = _Parser(text).parse(toks)
    except ValueError:
        return None
    return expr if expr.op != "leaf" else None


def _split(toks: list[_Tok], op: str) -> list[list[_Tok]]:
    parts: list[list[_Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.text in ("(", "[", "{"):
            depth += 1
        elif t.text in (")", "]", "}"):
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced")
        if depth == 0 and t.text == op:
            parts.append([])
        else:
            parts[-1].append(t)
    if depth != 0 or any(not p for p in parts):
        raise ValueError("unbalanced or empty operand")
    return parts


def _group_inner(toks: list[_Tok]) -> list[_Tok] | None:
    """The inside of ``( ... )`` when ``toks`` is exactly one parenthesised group."""
    if len(toks) < 3 or toks[0].text != "(" or toks[-1].text != ")":
        return None
    depth = 0
    for i, t in enumerate(toks):
        depth += t.text == "("
        depth -= t.text == ")"
        if depth == 0 and i != len(toks) - 1:
            return None
    return toks[1:-1]


def _has_logical(toks: list[_Tok]) -> bool:
    depth = 0
    for t in toks:
        depth += t.text in ("(", "[", "{")
        depth -= t.text in (")", "]", "}")
        if depth == 0 and t.text in ("&&", "||"):
            return True
    return False


def evaluate(expr: Expr, inputs: Sequence[bool], seen: list[str]) -> bool:
    """Short-circuit evaluation with ``inputs`` per leaf index; ``seen`` gets 'T'/'F' per
    evaluated leaf (pre-filled with '-')."""
    if expr.op == "leaf":
        value = bool(inputs[expr.index])
        seen[expr.index] = "T" if value else "F"
        return value
    if expr.op == "and":
        result = True
        for child in expr.children:
            if not evaluate(child, inputs, seen):
                result = False
                break
    else:
        result = False
        for child in expr.children:
            if evaluate(child, inputs, seen):
                result = True
                break
    return result != expr.negated


def truth_table(expr: Expr) -> list[tuple[str, bool]]:
    """Every distinct test vector the decision can take (leaf order), with its outcome."""
    n = len(expr.leaves())
    if n > MAX_TRUTH_TABLE:
        return []
    out: dict[str, bool] = {}
    for bits in itertools.product((False, True), repeat=n):
        seen = ["-"] * n
        result = evaluate(expr, bits, seen)
        out["".join(seen)] = result
    return sorted(out.items())


def expression_text(expr: Expr, order: Sequence[int]) -> str:
    """The structure with condition numbers: ``(1 && 2) || 3``; ``order[leaf index]`` = number."""
    if expr.op == "leaf":
        return str(order[expr.index])
    parts = []
    for child in expr.children:
        text = expression_text(child, order)
        if child.op not in ("leaf", expr.op) and not child.negated:
            text = f"({text})"
        parts.append(text)
    inner = (" && " if expr.op == "and" else " || ").join(parts)
    return f"!({inner})" if expr.negated else inner


def parse_expression_text(text: str) -> Expr | None:
    """The inverse of :func:`expression_text`: leaf ``index`` = condition number - 1."""
    toks = _tokens(text, 1, 1)
    if not toks:
        return None
    try:
        expr = _Parser(text).parse(toks)
    except ValueError:
        return None

    def renumber(e: Expr) -> Expr:
        if e.op == "leaf":
            return Expr("leaf", start=e.start, text=e.text, index=int(e.text) - 1)
        return Expr(e.op, tuple(renumber(c) for c in e.children), e.negated)

    try:
        out = renumber(expr)
    except ValueError:
        return None
    indexes = sorted(leaf.index for leaf in out.leaves())
    return out if indexes == list(range(len(indexes))) else None


# ---------------------------------------------------------------------------------------------
# what is missing


@dataclass(frozen=True)
class Suggestion:
    """An input combination that would show ``condition`` independent."""

    condition: int
    vector: str  # the vector to add, condition order
    result: bool
    partner: str  # the vector it pairs with
    partner_result: bool
    partner_executed: bool


def suggest(expression: str, executed: Sequence[tuple[str, bool]], condition: int) -> Suggestion | None:
    """The cheapest way to cover ``condition``: a pair with one vector already executed if there is
    one (one new test), else any pair (two new tests).  None without a usable expression."""
    expr = parse_expression_text(expression)
    if expr is None:
        return None
    table = truth_table(expr)
    if not table:
        return None
    done = dict(executed)
    i = condition - 1
    best: Suggestion | None = None
    for (a, ra), (b, rb) in itertools.product(table, table):
        if ra == rb or not ra:
            continue
        if a[i] == "-" or b[i] == "-" or a[i] == b[i]:
            continue
        if any(
            x != y and x in "TF" and y in "TF" for j, (x, y) in enumerate(zip(a, b, strict=True)) if j != i
        ):
            continue
        for new, new_r, old, old_r in ((a, ra, b, rb), (b, rb, a, ra)):
            executed_old = done.get(old) == old_r
            candidate = Suggestion(condition, new, new_r, old, old_r, executed_old)
            if best is None or (executed_old and not best.partner_executed):
                best = candidate
            if executed_old and done.get(new) != new_r:
                return candidate
    return best


def describe_vector(vector: str, texts: Sequence[str]) -> str:
    """``"T F -"`` with condition texts: "`a > 10` true, `!c` false"."""
    parts = []
    for value, text in zip(vector, texts, strict=False):
        if value in "TF":
            parts.append(f"`{text}` {'true' if value == 'T' else 'false'}")
    return ", ".join(parts)


def show_vector(vector: str, result: bool) -> str:
    """``"TF-"``, True -> ``"{T, F, - = T}"`` (llvm-cov's notation)."""
    return "{" + ", ".join(vector) + f" = {'T' if result else 'F'}" + "}"


__all__ = [
    "Expr",
    "Suggestion",
    "covered_conditions",
    "describe_vector",
    "encode",
    "explode_vectors",
    "expression_text",
    "independence_pairs",
    "join_vectors",
    "parse_decision",
    "parse_expression_text",
    "suggest",
    "truth_table",
    "uncovered_text",
    "unite_decisions",
]
