"""`covguard evidence verify`: is this package complete, untouched, and do its verdicts follow?

Four checks, each problem naming the member it is about:

1. **Members and digests**, streaming the archive once without writing anything to disk: every
   member is a regular file under ``covguard-evidence/`` (no link, device, absolute or ``../``
   name, no name twice); the manifest is an in-toto Statement v1 of covguard's predicate type; the
   members and the manifest's subjects are the same set, with the same SHA-256s; the index lists
   every member.
2. **Sources against the build**: every packaged source has the SHA-256 ``build/build.json``
   recorded for it when it was compiled.
3. **Re-derivation**: the raw data (notes, per-test data, results, requirements, sources, settings)
   go through covguard's decoder, analyser and gate again (in a scratch folder), and the result must
   equal ``reports/findings.json``; every report the manifest lists as re-rendering byte for byte
   must do so.  A report changed *and* re-hashed into a forged manifest is caught here.

4. **Signature** (:mod:`covguard.evidence.sign`): with trusted public keys, the package's DSSE
   envelope must sign this very manifest with one of them; a missing, invalid or untrusted
   signature fails, naming the key id.  Without keys the envelope is only checked to be well formed
   and to wrap this manifest: authenticity is not checked, and the result says so.

What it cannot prove: without a trusted key, someone who forges the raw data and every report
consistently (and re-hashes them) produces a package that verifies; with one, only the holder of
the private key can - the signature says who vouches for the package, not that the tests were
run honestly on the machine it names.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covguard.evidence.archive import extract, scan
from covguard.evidence.layout import (
    BUILD_MANIFEST,
    FINDINGS,
    INDEX,
    MANIFEST,
    PREFIX,
    SIGNATURE,
    EvidenceInputError,
    VerificationFailed,
)
from covguard.evidence.rederive import rederive
from covguard.evidence.sign import MAX_ENVELOPE_BYTES, PublicKey, SignatureCheck, check_envelope
from covguard.evidence.statement import read_statement
from covguard.limits import Limits


@dataclass
class VerifyResult:
    """A package that verified: what was checked, and how."""

    path: Path
    members: int
    rederived: list[str] = field(default_factory=list)  # reports equal to their re-derivation
    digest_only: list[str] = field(default_factory=list)  # reports only their digest protects
    notes: list[str] = field(default_factory=list)
    gate_passed: bool | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    predicate: dict[str, Any] = field(default_factory=dict)
    signature: SignatureCheck = field(default_factory=SignatureCheck)


def _member_checks(found_digests: dict[str, str], manifest: bytes | None) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    if manifest is None:
        return [f"{PREFIX}/{MANIFEST}: missing: the package has no manifest"], {}
    listed, predicate, bad = read_statement(manifest)
    problems += bad
    if MANIFEST in listed:
        problems.append(f"{PREFIX}/{MANIFEST}: the manifest lists itself as a subject")
        listed.pop(MANIFEST)
    members = {k: v for k, v in found_digests.items() if k not in (MANIFEST, SIGNATURE)}
    for name in sorted(set(members) - set(listed)):
        problems.append(f"{PREFIX}/{name}: added member: not in the manifest")
    for name in sorted(set(listed) - set(members)):
        problems.append(f"{PREFIX}/{name}: missing member: the manifest lists it, the archive lacks it")
    for name in sorted(set(listed) & set(members)):
        if listed[name] != members[name]:
            problems.append(
                f"{PREFIX}/{name}: modified: its SHA-256 is {members[name][:16]}..., "
                f"the manifest says {listed[name][:16]}..."
            )
    return problems, predicate


def _read(stage: Path, name: str) -> Any:
    try:
        return json.loads((stage / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _index_checks(stage: Path, members: set[str]) -> list[str]:
    index = _read(stage, INDEX)
    items = index.get("items") if isinstance(index, dict) else None
    if not isinstance(items, list):
        return [f"{PREFIX}/{INDEX}: missing or not a covguard evidence index"]
    listed = {str(i.get("path")) for i in items if isinstance(i, dict)}
    problems = [f"{PREFIX}/{n}: not in the index ({INDEX})" for n in sorted(members - listed)]
    problems += [f"{PREFIX}/{INDEX}: lists {n}, which the package lacks" for n in sorted(listed - members)]
    return problems


def _source_checks(stage: Path, digests: dict[str, str]) -> list[str]:
    """Every packaged source must have the SHA-256 the build recorded for it."""
    build = _read(stage, BUILD_MANIFEST)
    index = _read(stage, INDEX)
    if (
        not isinstance(build, dict)
        or not isinstance(index, dict)
        or not isinstance(index.get("origin"), dict)
    ):
        return []  # the re-derivation reports unreadable records
    hashes = build.get("source_hashes")
    if not isinstance(hashes, dict):
        return []
    root = str(index["origin"].get("root", "")).rstrip("/")
    problems: list[str] = []
    for name, digest in sorted(digests.items()):
        if name.startswith("sources/"):
            at_build = hashes.get(f"{root}/{name[len('sources/') :]}")
            if at_build is not None and at_build != digest:
                problems.append(
                    f"{PREFIX}/{name}: differs from the source that was compiled (its SHA-256 in "
                    f"{BUILD_MANIFEST} is {str(at_build)[:16]}...)"
                )
    return problems


def verify_evidence(
    path: Path, *, digest_only: bool = False, keys: Sequence[PublicKey] = (), limits: Limits | None = None
) -> VerifyResult:
    """Verify a package; raise :class:`VerificationFailed` listing every problem found.

    ``keys``: the trusted public keys; the package must then carry a signature of its manifest by
    one of them (see :func:`covguard.evidence.sign.check_envelope`).

    A package whose verdicts this covguard cannot re-derive (see
    :func:`covguard.evidence.rederive.unsupported`) fails too, unless ``digest_only`` accepts
    the digests alone for it."""
    if not path.is_file():
        raise EvidenceInputError(
            "no such evidence package", path=path, hint="give the .tar.gz 'covguard evidence export' wrote"
        )
    limits = limits or Limits()
    with path.open("rb") as handle:
        found = scan(handle, str(path), limits)
    problems = list(found.problems)
    member_problems, predicate = _member_checks(found.digests, found.manifest)
    problems += member_problems
    if problems:
        raise VerificationFailed(problems, path=str(path), limit=limits.problems, unlisted=found.unlisted)
    members = set(found.digests)
    result = VerifyResult(path=path, members=len(members), predicate=predicate)
    with tempfile.TemporaryDirectory(prefix="covguard-verify-") as tmp:
        stage = Path(tmp) / "stage"
        stage.mkdir()
        with path.open("rb") as handle:
            extract(handle, str(path), stage, members, limits)
        envelope = None
        if SIGNATURE in members:  # bounded: a hostile package may carry a huge member
            with (stage / SIGNATURE).open("rb") as handle:
                envelope = handle.read(MAX_ENVELOPE_BYTES + 1)
        result.signature = check_envelope(envelope, found.manifest or b"", keys, f"{PREFIX}/{SIGNATURE}")
        if result.signature.problems:  # before the (long) re-derivation
            raise VerificationFailed(
                result.signature.problems,
                path=str(path),
                hint="do not rely on this package: it is not signed by a key you trust",
            )
        problems += _index_checks(stage, members - {SIGNATURE})
        problems += _source_checks(stage, found.digests)
        check = rederive(stage, Path(tmp) / "scratch")
    problems += check.problems
    reports = predicate.get("reports") if isinstance(predicate.get("reports"), dict) else {}
    promised = reports.get("rederived", []) if isinstance(reports, dict) else []
    for name in sorted({str(n) for n in promised} - {FINDINGS}):
        if name not in members:
            problems.append(f"{PREFIX}/{MANIFEST}: promises that {name} re-renders, but the package lacks it")
        elif name in check.differing:
            problems.append(
                f"{PREFIX}/{name}: differs from the report re-rendered from the package's data "
                "(the manifest says it re-renders byte for byte)"
            )
        elif name in check.not_rendered:
            problems.append(f"{PREFIX}/{name}: covguard did not re-render it (the manifest says it does)")
    if problems:
        withheld = predicate.get("withheld") or []
        hint = (
            f"the package withholds {', '.join(map(str, withheld))} (symbolic links outside the project "
            "root), which the re-derivation cannot read: that alone can explain differing verdicts"
            if withheld and check.problems
            else None
        )
        raise VerificationFailed(problems, path=str(path), hint=hint, limit=limits.problems)
    result.rederived = check.identical
    result.digest_only = sorted(check.differing + check.not_rendered)
    result.notes = check.notes
    if check.unsupported is not None and not digest_only:
        raise VerificationFailed(
            [
                f"{PREFIX}/{FINDINGS}: the verdicts cannot be re-derived from this package "
                f"({check.unsupported}): only the digests were checked"
            ],
            path=str(path),
            hint="accept the digests alone with --digest-only (a report changed behind a forged manifest "
            "would then go unnoticed)",
        )
    if check.unsupported is not None:
        reports = sorted(n for n in members if n.startswith("reports/"))
        result.digest_only = reports
        result.notes.append(
            f"the verdicts were NOT re-derived: {check.unsupported} is not supported by the re-derivation "
            "yet; the reports are protected by their digests only"
        )
    result.gate_passed = check.gate_passed
    result.summary = check.summary
    return result
