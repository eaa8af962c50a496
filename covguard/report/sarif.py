"""SARIF 2.1.0 of the findings, so code scanning (GitHub, GitLab, Azure DevOps) shows them inline.

One run, tool ``covguard``, one rule per finding kind (``rogue``, ``dead``, ``hollow_verification``,
...), one result per finding of ``findings.json`` with its level (``error``/``warning``), message,
location (file, start and end line, function as a logical location) and the evidence as result
properties (tests, suggested requirements, call path).  Rogue code carries a
``security-severity`` so GitHub files it among the security alerts: untraced code in a medical
device is what a back door looks like.

Locations: URIs are relative to ``%SRCROOT%``, the top of the version-control checkout that holds
the project (the nearest folder above the project root with a ``.git``), else the project root:
code scanning matches results to files by their path from the top of the repository.  A finding
without a file (a note about the configuration) points at the configuration file.

Each result has a ``partialFingerprints`` entry that does not depend on the line, so a finding keeps
its identity across runs when code above it moves.  No timestamps: same inputs, same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from covguard import __version__
from covguard.analysis.findings import SEVERITY
from covguard.analysis.kinds import KINDS
from covguard.report.json_table import encode_value

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

# rule descriptions and severities come from the registry of finding kinds (analysis/kinds.py)
RULES: dict[str, tuple[str, str]] = {k.name: (k.short, k.full) for k in KINDS.values() if k.short}
SECURITY_SEVERITY = {k.name: k.security_severity for k in KINDS.values() if k.security_severity}


def vcs_root(root: Path) -> Path:
    """The nearest folder at or above ``root`` holding a ``.git`` (a checkout), else ``root``."""
    root = root.resolve()
    for folder in (root, *root.parents):
        if (folder / ".git").exists():
            return folder
    return root


@functools.lru_cache(maxsize=4096)  # the same few files for thousands of results
def _uri(file: str, prefix: str) -> str:
    """A relative URI reference: percent-encoded (a space, '#', '%', '?', a byte that is not UTF-8)."""
    path = str(PurePosixPath(prefix) / file) if prefix else file
    return quote(path.encode("utf-8", errors="surrogateescape"), safe="/")


_LINK_CHARACTERS = re.compile(r"([\\\[\]])")


def plain(text: str) -> str:
    """SARIF plain text: '\\', '[' and ']' escaped, so that nothing renders as an embedded link."""
    if "\\" not in text and "[" not in text and "]" not in text:
        return text
    return _LINK_CHARACTERS.sub(r"\\\1", text)


def _rule_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def _rules(kinds: list[str]) -> list[dict[str, Any]]:
    rules = []
    for kind in kinds:
        short, full = RULES.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
        level = SEVERITY.get(kind, "warning")
        props: dict[str, Any] = {
            "tags": ["iec-62304", "traceability", "coverage"],
            "precision": "very-high",
            "problem.severity": "error" if level == "error" else "warning",
        }
        if kind in SECURITY_SEVERITY:
            props["security-severity"] = SECURITY_SEVERITY[kind]
            props["tags"] = ["security", *props["tags"]]
        rules.append(
            {
                "id": kind,
                "name": _rule_name(kind),
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "defaultConfiguration": {"level": level},
                "help": {"text": full},
                "properties": props,
            }
        )
    return rules


def _fingerprint(f: dict[str, Any]) -> str:
    key = "|".join(str(f.get(k) or "") for k in ("kind", "file", "function", "requirement", "test"))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def finding_fingerprint(f: dict[str, Any]) -> str:
    """A finding's stable identity (``partialFingerprints.covguardFindingHash/v1``): its kind, file,
    function, requirement and test - never its line."""
    return _fingerprint(f)


def fingerprint(f: dict[str, Any]) -> str:
    """The line-independent fingerprint of a finding (what ``covguard gate --baseline`` matches on)."""
    return _fingerprint(f)


def _message(f: dict[str, Any]) -> str:
    """The finding's message; for rogue code the product reaches, with its call path (code scanning
    shows the text, not the properties)."""
    text = str(f["message"])
    if f.get("call_path"):
        text += "; call path: " + " -> ".join(f["call_path"])
    return plain(text)


def _result(f: dict[str, Any], rule_index: int, prefix: str, config_file: str) -> dict[str, Any]:
    file = f.get("file") or config_file
    region: dict[str, Any] = {}
    line = int(f.get("line") or 0)
    if line > 0 and f.get("file"):
        region = {"startLine": line}
        end = int(f.get("end_line") or line)
        if end > line:
            region["endLine"] = end
    if file.startswith("/"):  # outside the project (a toolchain library): an absolute file URI
        artifact: dict[str, Any] = {"uri": PurePosixPath(file).as_uri()}
    else:
        artifact = {"uri": _uri(file, prefix), "uriBaseId": "SRCROOT"}
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if region:
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    if f.get("function"):
        location["logicalLocations"] = [{"name": f["function"], "kind": "function"}]
    evidence = {
        k: f[k]
        for k in ("requirement", "test", "tests", "suggested_requirements", "call_path")
        if f.get(k) not in (None, "", [])
    }
    result: dict[str, Any] = {
        "ruleId": f["kind"],
        "ruleIndex": rule_index,
        "level": "error" if f.get("severity") == "error" else "warning",
        "message": {"text": _message(f)},
        "locations": [location],
        "partialFingerprints": {"covguardFindingHash/v1": _fingerprint(f)},
    }
    if f.get("baseline") in ("new", "existing"):  # covguard gate --baseline
        result["baselineState"] = "new" if f["baseline"] == "new" else "unchanged"
    if evidence:
        result["properties"] = evidence
    return result


def sarif_document(doc: dict[str, Any], *, root: Path, config_path: Path | None = None) -> dict[str, Any]:
    """The SARIF log of a findings document; ``root`` is the project root its paths are relative to."""
    top = vcs_root(root)
    prefix = root.resolve().relative_to(top).as_posix() if top != root.resolve() else ""
    prefix = "" if prefix == "." else prefix
    config_file = "covguard.toml"
    if config_path is not None:
        try:
            config_file = config_path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            config_file = config_path.name
    findings = doc["findings"]
    present = {f["kind"] for f in findings}
    kinds = [k for k in SEVERITY if k in present]
    kinds += sorted(present - set(kinds))
    index = {k: i for i, k in enumerate(kinds)}
    gate = doc.get("gate") or {}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "covguard",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": _rules(kinds),
            }
        },
        "originalUriBaseIds": {"SRCROOT": {"uri": top.as_uri() + "/"}},
        "invocations": [{"executionSuccessful": True}],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f["kind"]], prefix, config_file) for f in findings],
        "properties": {
            "schema": doc.get("schema"),
            "gatePassed": gate.get("passed"),
            "summary": doc.get("summary", {}),
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


INDENT_RESULTS = 1000
"""Up to this many results the log is indented throughout (``indent=2``); above it each result
and rule is one line, written by the C JSON encoder (with ``indent`` Python falls back to its
pure-Python encoder: half a second at SQLite size).  The same JSON either way."""


def render(doc: dict[str, Any], *, root: Path, config_path: Path | None = None) -> str:
    log = sarif_document(doc, root=root, config_path=config_path)
    if sum(len(run["results"]) for run in log["runs"]) <= INDENT_RESULTS:
        return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
    return _dump(log, "") + "\n"


def _dump(value: Any, pad: str) -> str:
    """Objects indented, the runs too; any other array of objects one object per line."""
    inner = pad + "  "
    if isinstance(value, dict) and value:
        items = (f"{inner}{encode_value(str(k))}: {_dump(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        if all("tool" in v for v in value):  # the runs
            return "[\n" + ",\n".join(inner + _dump(v, inner) for v in value) + "\n" + pad + "]"
        return "[\n" + ",\n".join(inner + encode_value(v) for v in value) + "\n" + pad + "]"
    return encode_value(value)
