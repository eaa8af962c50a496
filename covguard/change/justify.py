"""`covguard justify`: write, renew, record and list the entries of the justification ledger.

The ledger itself (format, states, checks) is :mod:`covguard.analysis.ledger`.  These functions
analyse the last test run (for the compiler's function extents and the in-source justifications),
change the ledger and write it atomically.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from covguard.analysis.ledger import (
    CATEGORIES,
    Entry,
    Ledger,
    Sources,
    justify_entry,
    parse_target,
    read_ledger,
    record_in_source,
    write_ledger,
)
from covguard.config import Settings
from covguard.errors import InputError

if TYPE_CHECKING:
    from covguard.analysis.analyse import Analysis


def _analysis(settings: Settings, analysis: Analysis | None) -> Analysis:
    if analysis is None:
        from covguard import api

        analysis = api.analyse(settings)
    return analysis


def _input(analysis: Analysis, settings: Settings) -> tuple[Ledger, Sources, pd.DataFrame]:
    got = analysis.cache.get("ledger_input")
    if got is None:  # an analysis made from frames, without sources
        raise InputError("this analysis has no sources to hash", hint="analyse the project first")
    (_ledger, sources, _today), scopes = got
    return read_ledger(Path(settings.justify_ledger)), sources, scopes


def _date(value: str | dt.date | None, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what} must be a date YYYY-MM-DD, not {value!r}") from None


def justify(
    settings: Settings,
    target: str,
    *,
    category: str,
    reason: str,
    approver: str,
    expires: str | dt.date | None = None,
    date: str | dt.date | None = None,
    analysis: Analysis | None = None,
) -> Entry:
    """Write or renew the ledger entry of ``FILE:FUNCTION`` or ``FILE:FIRST-LAST`` with the hash of
    its code as the last build compiled it."""
    if category not in CATEGORIES:
        raise InputError(f"--category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    file, function, lines = parse_target(target)
    analysis = _analysis(settings, analysis)
    ledger, sources, _scopes = _input(analysis, settings)
    fn = analysis.functions
    extents = {
        (f, n): (int(s), int(e))
        for f, n, s, e in zip(fn["file"], fn["function"], fn["line_start"], fn["line_end"], strict=True)
    }
    entry = justify_entry(
        ledger,
        file=file,
        function=function,
        lines=lines,
        category=category,
        reason=reason,
        approver=approver,
        date=_date(date, "--date") or dt.datetime.now(tz=dt.UTC).date(),
        expires=_date(expires, "--expires"),
        extents=extents,
        sources=sources,
    )
    write_ledger(ledger)
    return entry


def record(
    settings: Settings,
    *,
    approver: str,
    date: str | dt.date | None = None,
    renew: bool = False,
    analysis: Analysis | None = None,
) -> list[Entry]:
    """Record the hash of every in-source justification not recorded yet (``renew``: also renew
    the stale ones, as reviewed); write the ledger."""
    if not approver.strip():
        raise InputError("--record needs --approver NAME: who reviewed these justifications")
    analysis = _analysis(settings, analysis)
    ledger, sources, scopes = _input(analysis, settings)
    written = record_in_source(
        ledger,
        scopes,
        sources,
        approver=approver,
        date=_date(date, "--date") or dt.datetime.now(tz=dt.UTC).date(),
        renew=renew,
    )
    write_ledger(ledger)
    return written


def table(settings: Settings, analysis: Analysis | None = None) -> pd.DataFrame:
    """Every justification with its state (see :mod:`covguard.analysis.ledger`)."""
    analysis = _analysis(settings, analysis)
    if analysis.justifications is not None:
        return analysis.justifications
    from covguard.analysis.ledger import check_ledger

    got = analysis.cache.get("ledger_input")
    if got is None:
        raise InputError("this analysis has no sources to hash", hint="analyse the project first")
    (ledger, sources, today), scopes = got
    return check_ledger(ledger, scopes, analysis.functions, sources, today).table


def render_table(rows: pd.DataFrame) -> str:
    """The ledger's table as text, one justification a line."""
    if not len(rows):
        return "no justifications"
    out = []
    for r in rows.to_dict("records"):
        where = f"{r['file']}:{r['function'] or ''}" if r["function"] else f"{r['file']}"
        where += f" {r['line']}-{r['end_line']}"
        who = f"{r['approver']} {r['date']}" if r["approver"] else "-"
        expires = f" expires {r['expires']}" if r["expires"] else ""
        out.append(
            f"{r['state']:<10} {r['origin']:<10} {where}  {r['category']}: {r['reason']}  [{who}{expires}]"
        )
    counts = {str(k): int(v) for k, v in rows["state"].value_counts().sort_index().items()}
    out.append(", ".join(f"{n} {k}" for k, n in counts.items()))
    return "\n".join(out)
