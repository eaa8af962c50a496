"""A Markdown summary of a findings document, sized for a pull-request comment.

GitHub-flavoured Markdown (tables, ``<details>``): the gate verdict first, then coverage (plain and
requirement-based), the counts, the gate's failed checks, the findings (errors first) and the
requirement table folded away.  Cell text is escaped (``|``, newlines, HTML) and the whole comment
stays under GitHub's 65,536-character limit: long lists are cut with a line saying how many more
are in ``findings.json``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

MAX_CHARS = 60_000  # GitHub refuses comments over 65,536 characters
MAX_FINDINGS = 50
STATUS_MARK = {"verified": "✅", "failing": "❌", "unverified": "⚠️", "unimplemented": "⚠️", "hollow": "❌"}


_MARKUP = re.compile(r"([\\`\[\]|])")
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(//)|\b(www)(\.)")


def cell(text: Any) -> str:
    """Untrusted text (a title, a message, a test id) safe inside a Markdown table cell: no pipes, no
    line breaks, no HTML, no link or image (``[`` escaped), no code span, and no bare URL that
    GitHub would link (a zero-width space after ``https:/`` and ``www``)."""
    value = "" if text is None else str(text)
    value = html.escape(_MARKUP.sub(r"\\\1", value), quote=False)
    value = _AUTOLINK.sub(lambda m: f"{m[1]}/\u200b/" if m[1] else f"{m[3]}\u200b.", value)
    return " ".join(value.split())


def code(text: Any) -> str:
    """Untrusted text as a code span: fenced with more backticks than it holds, so a backtick in a
    file name cannot close the span; pipes escaped for the table around it."""
    value = " ".join(("" if text is None else str(text)).split())
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    value = value.replace("|", "\\|")
    return f"{fence}{pad}{value}{pad}{fence}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _counts(d: dict[str, Any]) -> str:
    return ", ".join(f"{v} {k}" for k, v in d.items() if k != "total" and v) or "none"


def render(doc: dict[str, Any], *, reports: Sequence[str] = ()) -> str:
    """The comment; ``reports`` names the other output files, listed at the end."""
    s = doc["summary"]
    cov = s["coverage"]
    gate = doc.get("gate") or {}
    passed = gate.get("passed")
    failures = gate.get("failures", [])
    if passed is None:
        head = "## covguard"
    elif passed:
        head = "## covguard: gate passed ✅"
    else:
        head = f"## covguard: gate failed ❌ ({len(failures)} check{'s' if len(failures) != 1 else ''})"
    out = [
        head,
        "",
        f"{s['requirements']['total']} requirements · {s['functions']['total']} functions · "
        f"{s['lines']['total']} executable lines · {s['tests']['total']} tests",
        "",
        "| coverage | line | branch | function |",
        "|---|---:|---:|---:|",
        f"| plain | {_pct(cov['line'])} | {_pct(cov['branch'])} | {_pct(cov['function'])} |",
        f"| requirement-based | {_pct(cov['requirement_line'])} | {_pct(cov['requirement_branch'])} | |",
        "",
        "Requirement-based coverage counts only what passing tests of the code's own requirements execute.",
        "",
        f"- **requirements**: {_counts(s['requirements'])}",
        f"- **functions**: {_counts(s['functions'])}",
        f"- **tests**: {_counts(s['tests'])}",
    ]
    if failures:
        out += ["", "### Gate failures", "", "| check | subject | actual | limit |", "|---|---|---:|---:|"]
        out += [
            f"| {cell(f['check'])} | {cell(f['subject'])} | {cell(f['actual'])} | {cell(f['limit'])} |"
            for f in failures
        ]
    findings = doc["findings"]
    out += ["", f"### Findings ({len(findings)})" if findings else "### Findings: none"]
    if findings:
        out += ["", "| | kind | where | message |", "|---|---|---|---|"]
        for f in findings[:MAX_FINDINGS]:
            mark = "❌" if f["severity"] == "error" else "⚠️"
            line = f":{f['line']}" if f.get("line") else ""
            where = code(f"{f['file']}{line}") if f.get("file") else ""
            message = cell(f["message"])
            if f.get("call_path"):  # rogue code the product reaches: how
                message += "<br>call path: " + " → ".join(code(c) for c in f["call_path"])
            out.append(f"| {mark} | {cell(f['kind'])} | {where} | {message} |")
        if len(findings) > MAX_FINDINGS:
            out.append(f"\n… and {len(findings) - MAX_FINDINGS} more in `findings.json`.")
    reqs = doc["requirements"]
    out += [
        "",
        f"<details><summary>Requirements ({len(reqs)})</summary>",
        "",
        "| requirement | class | status | tests | requirement-based line coverage |",
        "|---|---|---|---:|---:|",
    ]
    for r in reqs:
        mark = STATUS_MARK.get(r["status"], "")
        out.append(
            f"| {cell(r['id'])} {cell(r['title'])} | {cell(r['safety_class'])} | "
            f"{mark} {cell(r['status'])} | {len(r['verified_by'])} | {_pct(r['coverage']['line'])} |"
        )
    out += ["", "</details>"]
    if reports:
        out += [
            "",
            "Reports (in the output folder or CI artifacts): " + " · ".join(code(r) for r in reports),
        ]
    text = "\n".join(out) + "\n"
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS].rsplit("\n", 1)[0]
        text = cut + "\n\n… (cut to fit a comment; the full list is in `findings.json`)\n"
        if text.count("<details>") > text.count("</details>"):
            text += "\n</details>\n"
    return text
