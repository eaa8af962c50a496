"""The justification ledger: every justification tied to a hash of the code it covers, so it goes stale.

A justification says "this code need not be covered, because...".  Written for yesterday's code,
it must not keep covering whatever the code becomes.  The ledger (``covguard-justifications.toml``
at the project root, ``justify.ledger``) holds two kinds of entries:

``[[justification]]``
    a justification in its own right, for code the team does not want to annotate: a function
    (``file`` + ``function``) or a line range (``file`` + ``lines = [first, last]``), with its
    ``category`` (deactivated, defensive, hardware), ``reason``, ``approver``, ``date``, optional
    ``expires`` and the ``sha256`` (and ``tokens``, the token count) of the code it covers;
``[[recorded]]``
    the hash of an in-source justification (``@justify``, ``GCOVR_EXCL_*``), recorded by
    ``covguard justify --record``; ``key`` names it (origin, file, function, category and its
    number among same-named ones), so it follows the comment when the code moves.

The hash is :mod:`covguard.trace.code_hash`'s: white space and comments do not change it, any
token does.  Against the analysed sources each entry is in one state:

==============  ==============================================================================
``fresh``       the code is as approved; the justification applies
``moved``       a line range whose code is found unchanged at other lines of its file: applies
                there (renew the entry to record the new lines)
``stale``       the code changed: ``stale_justification`` (error), analysed as if unjustified
``expired``     past ``expires``: ``expired_justification`` (error), analysed as if unjustified
``orphan``      the file or function is gone: ``orphan_justification`` (warning)
``unrecorded``  an in-source justification whose hash is not recorded yet:
                ``unrecorded_justification`` (warning); it applies, but cannot go stale
==============  ==============================================================================

The ledger is input covguard did not write (or a person edited): it is read with a size cap,
every field is checked, and any problem is one message naming the file, the entry and its line.
Without a ledger file nothing changes: in-source justifications apply as before.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from covguard.errors import InputError
from covguard.files import write_text
from covguard.frames import records

if TYPE_CHECKING:
    from covguard.trace.code_hash import CodeTokens

LEDGER_FILE = "covguard-justifications.toml"
SCHEMA = "covguard.justifications/1"
CATEGORIES = ("deactivated", "defensive", "hardware")
MAX_BYTES = 1 << 20
MAX_ENTRIES = 10_000
MAX_TEXT = 2_000
MAX_LINE = 10_000_000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_JUSTIFICATION_KEYS = {"file", "function", "lines", "category", "reason", "approver", "date", "expires",
                       "sha256", "tokens"}  # fmt: skip
_RECORDED_KEYS = _JUSTIFICATION_KEYS | {"key", "origin"}
ORIGINS = {"ledger": "ledger", "justify": "@justify", "exclusion": "GCOVR_EXCL"}

TABLE_COLUMNS = ["origin", "key", "file", "function", "line", "end_line", "category", "reason", "approver",
                 "date", "expires", "state", "sha256", "current_sha256", "tokens"]  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One ledger entry (``[[justification]]`` when ``key`` is empty, else ``[[recorded]]``)."""

    file: str
    function: str
    lines: tuple[int, int] | None
    category: str
    reason: str
    approver: str
    date: dt.date
    expires: dt.date | None
    sha256: str
    tokens: int
    key: str = ""
    origin: str = "ledger"  # ledger | justify | exclusion

    @property
    def target(self) -> str:
        if self.function:
            return f"{self.file}:{self.function}"
        assert self.lines is not None
        return f"{self.file}:{self.lines[0]}-{self.lines[1]}"


@dataclass
class Ledger:
    path: Path
    justifications: list[Entry] = field(default_factory=list)
    recorded: list[Entry] = field(default_factory=list)
    exists: bool = False


# ---------------------------------------------------------------------------------------------
# reading (hostile input) and writing


def read_ledger(path: Path) -> Ledger:
    """The ledger at ``path`` (an empty one when the file does not exist), every field checked."""
    if not path.exists():
        return Ledger(path)
    if not path.is_file():
        raise InputError("the justification ledger is not a regular file", path=path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(
            f"the justification ledger is {size} bytes, over the limit of {MAX_BYTES}",
            path=path,
            hint="split rarely used justifications out, or check the file is the ledger",
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the justification ledger is not UTF-8 text", path=path) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"invalid TOML: {exc}", path=path, line=getattr(exc, "lineno", None), hint="fix the syntax"
        ) from None
    unknown = sorted(set(doc) - {"schema", "justification", "recorded"})
    if unknown:
        raise InputError(
            f"unknown top-level key '{unknown[0]}' in the justification ledger",
            path=path,
            hint="the ledger holds schema, [[justification]] and [[recorded]] only",
        )
    if doc.get("schema") != SCHEMA:
        raise InputError(
            f'the justification ledger must start with schema = "{SCHEMA}" (found {doc.get("schema")!r})',
            path=path,
        )
    headers = {
        name: [i + 1 for i, ln in enumerate(text.splitlines()) if ln.strip() == f"[[{name}]]"]
        for name in ("justification", "recorded")
    }
    out = Ledger(path, exists=True)
    for name, target in (("justification", out.justifications), ("recorded", out.recorded)):
        items = doc.get(name, [])
        if not isinstance(items, list):
            raise InputError(f"'{name}' must be an array of tables ([[{name}]])", path=path)
        if len(items) > MAX_ENTRIES:
            raise InputError(f"more than {MAX_ENTRIES} [[{name}]] entries", path=path)
        seen: dict[str, int] = {}
        for n, item in enumerate(items):
            line = headers[name][n] if n < len(headers[name]) else None
            entry = _entry(item, name, n + 1, path, line)
            ident = entry.key or entry.target
            if ident in seen:
                raise InputError(
                    f"[[{name}]] entry {n + 1} repeats entry {seen[ident]} ({ident})",
                    path=path,
                    line=line,
                    hint="keep one entry per justified code",
                )
            seen[ident] = n + 1
            target.append(entry)
    return out


def _entry(item: Any, name: str, number: int, path: Path, line: int | None) -> Entry:
    def bad(message: str, hint: str | None = None) -> InputError:
        return InputError(f"[[{name}]] entry {number}: {message}", path=path, line=line, hint=hint)

    if not isinstance(item, Mapping):
        raise bad("not a table")
    allowed = _RECORDED_KEYS if name == "recorded" else _JUSTIFICATION_KEYS
    extra = sorted(set(item) - allowed)
    if extra:
        raise bad(f"unknown key '{extra[0]}'", hint=f"known keys: {', '.join(sorted(allowed))}")

    def text(key: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
        value = item.get(key)
        if value is None:
            if required:
                raise bad(f"'{key}' is missing")
            return ""
        if not isinstance(value, str):
            raise bad(f"'{key}' must be a string, not {type(value).__name__}")
        if len(value) > limit:
            raise bad(f"'{key}' is longer than {limit} characters")
        if _CONTROL.search(value):
            raise bad(f"'{key}' holds a control or bidirectional character")
        if required and not value.strip():
            raise bad(f"'{key}' is empty")
        return value

    file = text("file", limit=4096)
    if (
        file.startswith(("/", "\\"))
        or "\\" in file
        or ".." in file.split("/")
        or re.match(r"[A-Za-z]:", file)
    ):
        raise bad(f"'file' must be a path relative to the project root, without '..': {file!r}")
    function = text("function", required=False, limit=512)
    lines_value = item.get("lines")
    lines: tuple[int, int] | None = None
    if lines_value is not None:
        if (
            not isinstance(lines_value, list)
            or len(lines_value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in lines_value)
            or not 1 <= lines_value[0] <= lines_value[1] <= MAX_LINE
        ):
            raise bad(f"'lines' must be [first, last] with 1 <= first <= last, not {lines_value!r}")
        lines = (int(lines_value[0]), int(lines_value[1]))
    if name == "justification" and bool(function) == (lines is not None):
        raise bad("give either 'function' or 'lines' (a justification covers a function or a line range)")
    if name == "recorded" and lines is None:
        raise bad("'lines' is missing")
    category = text("category")
    if category not in CATEGORIES:
        raise bad(f"'category' must be one of {', '.join(CATEGORIES)}, not {category!r}")
    sha = text("sha256", limit=64)
    if not _HEX64.fullmatch(sha):
        raise bad("'sha256' must be 64 lowercase hexadecimal digits", hint="renew it with covguard justify")
    tokens = item.get("tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool) or not 0 <= tokens <= 100_000_000:
        raise bad(f"'tokens' must be a count, not {tokens!r}")
    origin = "ledger"
    if name == "recorded":
        origin = text("origin", limit=16)
        if origin not in ("justify", "exclusion"):
            raise bad(f"'origin' must be justify or exclusion, not {origin!r}")
    return Entry(
        file=file,
        function=function,
        lines=lines,
        category=category,
        reason=text("reason"),
        approver=text("approver", limit=200),
        date=_date(item.get("date"), "date", bad, required=True) or dt.date(1970, 1, 1),
        expires=_date(item.get("expires"), "expires", bad, required=False),
        sha256=sha,
        tokens=int(tokens),
        key=text("key", limit=5000) if name == "recorded" else "",
        origin=origin,
    )


def _date(value: Any, key: str, bad: Any, *, required: bool) -> dt.date | None:
    if value is None:
        if required:
            raise bad(f"'{key}' is missing")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise bad(f"'{key}' must be a date (YYYY-MM-DD), not {value!r}")


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _render_entry(e: Entry) -> list[str]:
    out = []
    if e.key:
        out += [f"key = {_toml_str(e.key)}", f"origin = {_toml_str(e.origin)}"]
    out.append(f"file = {_toml_str(e.file)}")
    if e.function:
        out.append(f"function = {_toml_str(e.function)}")
    if e.lines is not None:
        out.append(f"lines = [{e.lines[0]}, {e.lines[1]}]")
    out += [
        f"category = {_toml_str(e.category)}",
        f"reason = {_toml_str(e.reason)}",
        f"approver = {_toml_str(e.approver)}",
        f"date = {e.date.isoformat()}",
    ]
    if e.expires is not None:
        out.append(f"expires = {e.expires.isoformat()}")
    out += [f'sha256 = "{e.sha256}"', f"tokens = {e.tokens}"]
    return out


def render_ledger(ledger: Ledger) -> str:
    """The ledger as TOML, entries sorted (same ledger, same bytes)."""
    lines = [
        "# covguard justification ledger: `covguard justify` writes it; review its changes like code.",
        "# sha256: the covered code without white space and comments; any token change makes it stale.",
        f'schema = "{SCHEMA}"',
    ]
    for name, entries in (("justification", ledger.justifications), ("recorded", ledger.recorded)):
        for e in sorted(entries, key=lambda e: (e.file, e.key, e.function, e.lines or (0, 0))):
            lines += ["", f"[[{name}]]", *_render_entry(e)]
    return "\n".join(lines) + "\n"


def write_ledger(ledger: Ledger) -> None:
    write_text(ledger.path, render_ledger(ledger))


def today() -> dt.date:
    """The date expiry is judged on: ``SOURCE_DATE_EPOCH`` when set (reproducible runs), else today (UTC)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.datetime.now(tz=dt.UTC).date()


# ---------------------------------------------------------------------------------------------
# checking against the analysed code


@dataclass
class LedgerResult:
    scopes: pd.DataFrame  # the justification scopes that apply
    findings: list[dict[str, Any]]
    table: pd.DataFrame  # TABLE_COLUMNS, one row per justification


class Sources:
    """Token streams of the analysed sources, tokenised once each, on demand."""

    def __init__(self, items: Mapping[str, bytes]) -> None:
        self.items = dict(items)
        self._tokens: dict[str, CodeTokens] = {}

    def tokens(self, file: str) -> CodeTokens | None:
        if file not in self.items:
            return None
        if file not in self._tokens:
            from covguard.trace.code_hash import tokenize  # its lexers: only when a ledger is checked

            self._tokens[file] = tokenize(self.items[file], file)
        return self._tokens[file]


def in_source(scopes: pd.DataFrame) -> pd.DataFrame:
    """The in-source justification scopes with their ledger key (origin|file|function|category|n)."""
    s = scopes[scopes["justified"].astype(bool)].copy()
    s["origin"] = s["source"].astype(str)
    s["fname"] = s["function"].where(s["function"].notna(), "").astype(str)
    s = s.sort_values(["file", "origin", "fname", "category", "scope_start"], kind="stable")
    s["n"] = s.groupby(["file", "origin", "fname", "category"]).cumcount() + 1
    s["key"] = (
        s["origin"] + "|" + s["file"] + "|" + s["fname"] + "|" + s["category"] + "|" + s["n"].astype(str)
    )
    return s


def check_ledger(
    ledger: Ledger, scopes: pd.DataFrame, functions: pd.DataFrame, sources: Sources, on: dt.date
) -> LedgerResult:
    """Every justification's state against the current code; the scopes that still apply."""
    rows: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    keep = pd.Series(True, index=scopes.index)
    recorded = {e.key: e for e in ledger.recorded}
    src = in_source(scopes)
    seen: set[str] = set()
    for rec in records(src.reset_index()):
        first, last = int(rec["scope_start"]), int(rec["scope_end"])
        toks = sources.tokens(rec["file"])
        current, n = toks.digest(first, last) if toks is not None else ("", 0)
        entry = recorded.get(rec["key"])
        seen.add(rec["key"])
        row = _row(ORIGINS[rec["origin"]], rec["key"], rec["file"], rec["fname"], first, last, current, n)
        row.update(category=rec["category"], reason=rec["reason"])
        if entry is None:
            row["state"] = "unrecorded"
            if ledger.exists:
                findings.append(_finding("unrecorded_justification", row, _unrecorded_message(row)))
        else:
            row.update(approver=entry.approver, date=entry.date.isoformat(), sha256=entry.sha256)
            row["expires"] = entry.expires.isoformat() if entry.expires else ""
            state = "stale" if entry.sha256 != current else _expiry(entry, on)
            row["state"] = state
            if state != "fresh":
                keep[rec["index"]] = False
                findings.append(_finding(f"{state}_justification", row, _message(state, row, entry)))
        rows.append(row)
    for key, entry in sorted(recorded.items()):
        if key not in seen:
            row = _entry_row(entry, "orphan")
            rows.append(row)
            findings.append(_finding("orphan_justification", row, _message("orphan", row, entry)))
    added: list[dict[str, Any]] = []
    fext = {
        (f, n): (int(s), int(e))
        for f, n, s, e in zip(
            functions["file"],
            functions["function"],
            functions["line_start"],
            functions["line_end"],
            strict=True,
        )
    }
    for entry in ledger.justifications:
        row, scope = _check_entry(entry, fext, sources, on)
        rows.append(row)
        if row["state"] in ("fresh", "moved"):
            added.append(scope)
        else:
            findings.append(
                _finding(f"{row['state']}_justification", row, _message(row["state"], row, entry))
            )
    applied = scopes[keep]
    if added:
        applied = pd.concat(
            [applied, pd.DataFrame(added).astype(applied.dtypes.to_dict())], ignore_index=True
        )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS) if rows else pd.DataFrame(columns=TABLE_COLUMNS)
    table = table.sort_values(["file", "line", "origin", "key"], kind="stable").reset_index(drop=True)
    return LedgerResult(scopes=applied.reset_index(drop=True), findings=findings, table=table)


def _row(
    origin: str, key: str, file: str, function: str, first: int, last: int, sha: str, n: int
) -> dict[str, Any]:
    return {
        "origin": origin, "key": key, "file": file, "function": function, "line": first, "end_line": last,
        "category": "", "reason": "", "approver": "", "date": "", "expires": "", "state": "",
        "sha256": "", "current_sha256": sha, "tokens": n,
    }  # fmt: skip


def _entry_row(entry: Entry, state: str, current: str = "") -> dict[str, Any]:
    first, last = entry.lines or (0, 0)
    row = _row(
        ORIGINS[entry.origin], entry.key, entry.file, entry.function, first, last, current, entry.tokens
    )
    row.update(
        category=entry.category,
        reason=entry.reason,
        approver=entry.approver,
        date=entry.date.isoformat(),
        expires=entry.expires.isoformat() if entry.expires else "",
        sha256=entry.sha256,
        state=state,
    )
    return row


def _expiry(entry: Entry, on: dt.date) -> str:
    return "expired" if entry.expires is not None and entry.expires < on else "fresh"


def _check_entry(
    entry: Entry, fext: dict[tuple[str, str], tuple[int, int]], sources: Sources, on: dt.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    toks = sources.tokens(entry.file)
    if toks is None:
        return _entry_row(entry, "orphan"), {}
    if entry.function:
        ext = fext.get((entry.file, entry.function))
        if ext is None:
            return _entry_row(entry, "orphan"), {}
        first, last = ext
        current, _n = toks.digest(first, last)
        state = "stale" if current != entry.sha256 else _expiry(entry, on)
    else:
        assert entry.lines is not None
        first, last = entry.lines
        current, _n = toks.digest(first, last)
        state = _expiry(entry, on)
        if current != entry.sha256:
            found = toks.find_tokens(entry.sha256, entry.tokens, near=first)
            if found is None:
                state = "stale"
            else:
                first, last = found
                current = entry.sha256
                state = "moved" if state == "fresh" else state
    row = _entry_row(entry, state, current)
    row.update(line=first, end_line=last)
    scope = {
        "file": entry.file,
        "function": entry.function or None,
        "scope": "function" if entry.function else "region",
        "scope_start": first,
        "scope_end": last,
        "category": entry.category,
        "reason": entry.reason,
        "source": "ledger",
        "justified": True,
        "marker": first,
    }
    return row, scope


def _what(row: dict[str, Any]) -> str:
    where = f"'{row['function']}'" if row["function"] else f"lines {row['line']}-{row['end_line']}"
    return f"{row['origin']} justification of {where} ({row['category']}: {row['reason']})"


def _renew(row: dict[str, Any]) -> str:
    if row["origin"] != "ledger":
        return "review it and run 'covguard justify --record --approver NAME'"
    target = row["function"] or f"{row['line']}-{row['end_line']}"
    return (
        f"review it and renew it: covguard justify {row['file']}:{target} --category {row['category']} "
        "--reason ... --approver NAME"
    )


def _message(state: str, row: dict[str, Any], entry: Entry) -> str:
    approved = f"approved by {entry.approver} on {entry.date.isoformat()}"
    if state == "stale":
        return (
            f"{_what(row)}, {approved}, covers code that changed since (sha256 {entry.sha256[:12]} recorded, "
            f"{(row['current_sha256'] or 'none')[:12]} now): analysed as if unjustified until renewed; "
            + _renew(row)
        )
    if state == "expired":
        return (
            f"{_what(row)}, {approved}, expired on {row['expires']}: analysed as if unjustified until "
            "renewed; " + _renew(row)
        )
    gone = "the file" if row["function"] == "" or entry.origin != "ledger" else "the function"
    return (
        f"{_what(row)}, {approved}: {gone} it covers no longer exists in the analysed build; "
        "remove the entry from the ledger"
    )


def _unrecorded_message(row: dict[str, Any]) -> str:
    return (
        f"{_what(row)} has no recorded hash in the ledger, so it cannot go stale: run "
        "'covguard justify --record --approver NAME'"
    )


def _finding(kind: str, row: dict[str, Any], message: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "file": row["file"],
        "line": row["line"],
        "end_line": row["end_line"],
        "function": row["function"] or None,
        "message": message,
    }


# ---------------------------------------------------------------------------------------------
# writing entries (covguard justify)


def parse_target(text: str) -> tuple[str, str, tuple[int, int] | None]:
    """``FILE:FUNCTION`` or ``FILE:FIRST-LAST`` -> (file, function, lines)."""
    file, sep, what = text.partition(":")  # a C++ name may hold "::"
    if not sep or not file or not what:
        raise InputError(
            f"'{text}' is not FILE:FUNCTION or FILE:FIRST-LAST",
            hint="e.g. src/pump.c:pump_debug or src/pump.c:40-52",
        )
    m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", what)
    if m:
        first = int(m.group(1))
        last = int(m.group(2) or first)
        if not 1 <= first <= last <= MAX_LINE:
            raise InputError(f"'{text}': the line range must be FIRST-LAST with 1 <= FIRST <= LAST")
        return file, "", (first, last)
    return file, what, None


def justify_entry(
    ledger: Ledger,
    *,
    file: str,
    function: str,
    lines: tuple[int, int] | None,
    category: str,
    reason: str,
    approver: str,
    date: dt.date,
    expires: dt.date | None,
    extents: dict[tuple[str, str], tuple[int, int]],
    sources: Sources,
) -> Entry:
    """Add or renew the ledger entry for a function or line range, with the hash of its code now."""
    checked = _entry(
        {"file": file, "category": category, "reason": reason, "approver": approver, "sha256": "0" * 64,
         "tokens": 0, "date": date, **({"function": function} if function else {"lines": list(lines or ())}),
         **({"expires": expires} if expires else {})},
        "justification", 1, ledger.path, None,
    )  # fmt: skip
    toks = sources.tokens(file)
    if toks is None:
        raise InputError(
            f"{file} is not a source of the analysed build", hint="give a path relative to the root"
        )
    if function:
        ext = extents.get((file, function))
        if ext is None:
            known = sorted(n for f, n in extents if f == file)
            raise InputError(
                f"no function '{function}' in {file} in the last build",
                hint=f"functions there: {', '.join(known[:10]) or 'none'}",
            )
        first, last = ext
    else:
        assert lines is not None
        first, last = lines
    sha, n = toks.digest(first, last)
    if n == 0:
        raise InputError(f"{file}:{first}-{last} holds no code to justify")
    entry = replace(checked, sha256=sha, tokens=n)
    ledger.justifications = [
        e
        for e in ledger.justifications
        if not (e.file == file and e.function == function and (function or e.lines == lines))
    ]
    ledger.justifications.append(entry)
    return entry


def record_in_source(
    ledger: Ledger,
    scopes: pd.DataFrame,
    sources: Sources,
    *,
    approver: str,
    date: dt.date,
    renew: bool = False,
) -> list[Entry]:
    """Record the hash of every in-source justification not yet recorded (all of them with
    ``renew``: the stale ones are renewed, as reviewed).  Returns the entries written."""
    have = {e.key: e for e in ledger.recorded}
    written: list[Entry] = []
    for rec in records(in_source(scopes)):
        if rec["key"] in have and not renew:
            continue
        toks = sources.tokens(rec["file"])
        if toks is None:
            continue
        first, last = int(rec["scope_start"]), int(rec["scope_end"])
        sha, n = toks.digest(first, last)
        old = have.get(rec["key"])
        if old is not None and old.sha256 == sha:
            continue
        reason = _CONTROL.sub(" ", rec["reason"])[:MAX_TEXT] or "(none given)"
        entry = Entry(
            file=rec["file"], function=rec["fname"], lines=(first, last), category=rec["category"],
            reason=reason, approver=approver, date=date, expires=old.expires if old else None,
            sha256=sha, tokens=n, key=rec["key"], origin=rec["origin"],
        )  # fmt: skip
        have[rec["key"]] = entry
        written.append(entry)
    ledger.recorded = list(have.values())
    return written
