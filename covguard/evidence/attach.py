"""`covguard evidence sign PACKAGE --sign KEY`: sign a package after it was made.

For teams that keep the signing key out of the job that builds and tests (a release job, a quality
manager's machine): the package is verified in full first (a package that does not verify is never
signed), then its manifest gets a DSSE signature by each key - added to the signatures it already
carries, so that several people can vouch for one package.  Every other member is copied byte for
byte and the archive is rewritten reproducibly (same members, same order, same timestamps), so the
package's manifest and digests do not change: only ``manifest.dsse.json`` does.
"""

from __future__ import annotations

import base64
import json
import shutil
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from covguard.evidence.archive import extract, scan, write_archive
from covguard.evidence.layout import DEFAULT_EPOCH, SIGNATURE, VerificationFailed
from covguard.evidence.sign import PAYLOAD_TYPE, load_signer, pae
from covguard.evidence.verify import verify_evidence
from covguard.files import atomic_write


@dataclass
class Signed:
    path: Path
    added: list[str]  # key ids that signed now
    signers: list[str]  # every key id the envelope holds


def _epoch(path: Path) -> int:
    """The timestamp of the package's members (export gives them all the same one)."""
    with tarfile.open(path, "r:gz") as tar:
        for info in tar:
            return int(info.mtime)
    return DEFAULT_EPOCH


def sign_package(
    path: Path, sign: Sequence[str], output: Path | None = None, environ: Mapping[str, str] | None = None
) -> Signed:
    """Verify the package, then add a signature of its manifest by every key of ``sign``."""
    signers = [load_signer(spec, environ) for spec in sign]
    verified = verify_evidence(path)
    with path.open("rb") as handle:
        found = scan(handle, str(path))
    manifest = found.manifest or b""
    out = (output or path).absolute()
    with tempfile.TemporaryDirectory(prefix="covguard-sign-") as tmp:
        stage = Path(tmp) / "stage"
        stage.mkdir()
        with path.open("rb") as handle:
            extract(handle, str(path), stage, set(found.digests))
        doc: dict[str, object] = {"payload": "", "payloadType": PAYLOAD_TYPE, "signatures": []}
        if verified.signature.signed:
            existing = json.loads((stage / SIGNATURE).read_text(encoding="utf-8"))
            doc["signatures"] = list(existing["signatures"])
        doc["payload"] = base64.b64encode(manifest).decode("ascii")
        message = pae(PAYLOAD_TYPE, manifest)
        signatures = doc["signatures"]
        assert isinstance(signatures, list)
        have = {str(s.get("keyid")) for s in signatures if isinstance(s, dict)}
        added = []
        for s in signers:
            if s.keyid in have:
                continue
            signatures.append({"keyid": s.keyid, "sig": base64.b64encode(s.sign(message)).decode("ascii")})
            have.add(s.keyid)
            added.append(s.keyid)
        (stage / SIGNATURE).write_bytes((json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("ascii"))
        names = sorted({*found.digests, SIGNATURE})
        epoch = _epoch(path)
        with tempfile.SpooledTemporaryFile(max_size=64 << 20, dir=tmp) as spool:
            write_archive(stage, names, epoch, spool)
            spool.seek(0)
            again = scan(spool, str(out))
            changed = [n for n, d in found.digests.items() if n != SIGNATURE and again.digests.get(n) != d]
            if again.problems or changed:  # pragma: no cover - the members are copied byte for byte
                raise VerificationFailed([*again.problems, *changed], path=str(out))
            spool.seek(0)

            def copy(handle: IO[bytes]) -> None:
                shutil.copyfileobj(spool, handle)

            atomic_write(out, copy)
    return Signed(out, added, sorted(have))


__all__ = ["Signed", "sign_package"]
