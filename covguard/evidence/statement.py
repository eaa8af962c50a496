"""The manifest: an in-toto Statement v1 whose subjects are the package's members and digests.

https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md - ``_type``, ``subject``
(``name`` and ``digest.sha256`` of every member except the manifest itself), ``predicateType``
(covguard's URI) and ``predicate`` (tool versions, configuration summary, the verdict summary,
which reports re-derive byte for byte).  Supply-chain tooling (in-toto, SLSA verifiers, Sigstore's
``cosign attest --type custom``) reads it as it is; signing it is a later step.
"""

from __future__ import annotations

import json
import re
from typing import Any

from covguard.evidence.layout import MANIFEST, PREDICATE_TYPE, PREFIX, STATEMENT_TYPE
from covguard.files import json_text

_HEX64 = re.compile(r"[0-9a-f]{64}")


def statement(digests: dict[str, str], predicate: dict[str, Any]) -> bytes:
    """The manifest's bytes (sorted subjects, sorted keys: deterministic)."""
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digests[name]}} for name in sorted(digests)],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    return (json_text(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def read_statement(data: bytes) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """The subjects (name -> sha256) and predicate of a manifest, and what is wrong with it."""
    where = f"{PREFIX}/{MANIFEST}"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return {}, {}, [f"{where}: not a JSON document ({exc})"]
    if not isinstance(doc, dict):
        return {}, {}, [f"{where}: not an in-toto Statement (a JSON object)"]
    problems: list[str] = []
    if doc.get("_type") != STATEMENT_TYPE:
        problems.append(f"{where}: _type is {doc.get('_type')!r}, not {STATEMENT_TYPE!r}")
    if doc.get("predicateType") != PREDICATE_TYPE:
        problems.append(f"{where}: predicateType is {doc.get('predicateType')!r}, not {PREDICATE_TYPE!r}")
    predicate = doc.get("predicate")
    if not isinstance(predicate, dict):
        problems.append(f"{where}: no predicate object")
        predicate = {}
    subjects = doc.get("subject")
    digests: dict[str, str] = {}
    if not isinstance(subjects, list) or not subjects:
        problems.append(f"{where}: no subject list")
        return digests, predicate, problems
    for i, s in enumerate(subjects):
        name = s.get("name") if isinstance(s, dict) else None
        digest = s.get("digest") if isinstance(s, dict) else None
        sha = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(name, str) or not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            problems.append(f"{where}: subject {i} is not {{name, digest: {{sha256: <64 hex digits>}}}}")
            continue
        if name in digests:
            problems.append(f"{PREFIX}/{name}: listed twice in the manifest")
            continue
        digests[name] = sha
    return digests, predicate, problems
