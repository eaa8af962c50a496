"""Signing the manifest: a DSSE envelope around the in-toto Statement, Ed25519 or ECDSA P-256.

https://github.com/secure-systems-lab/dsse/blob/master/envelope.md - the envelope is
``{"payload": base64(statement), "payloadType": "application/vnd.in-toto+json",
"signatures": [{"keyid": ..., "sig": base64(signature)}]}``; what is signed is the
pre-authentication encoding ``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``
(lengths as ASCII decimals of the byte counts).  The payload is the package's
``manifest.intoto.json`` byte for byte, and the envelope is the package member
``manifest.dsse.json`` (outside the manifest's subjects: it signs them).

Keys are PEM files, as ``openssl`` and ``covguard keygen`` write them: a private key (PKCS#8, or
the traditional EC form; encrypted ones take the password from ``COVGUARD_SIGNING_KEY_PASSWORD``)
to sign, a public key (SubjectPublicKeyInfo) to verify; or ``env:NAME``, the PEM text (or its
base64) in the environment variable ``NAME``, for a CI secret.  A key's id is the SHA-256 of its
public key's DER SubjectPublicKeyInfo, in hex: the same for the private key and its public key,
whatever file or variable holds them.

Signatures: Ed25519 (RFC 8032, deterministic), and ECDSA over P-256 with SHA-256, DER-encoded as
DSSE implementations (securesystemslib, cosign) write them; deterministic (RFC 6979) when the
installed ``cryptography`` offers it, so that the same inputs still give the same package.

The library is ``cryptography`` (pyca): the maintained primitive library that ``securesystemslib``
and ``in-toto`` themselves sign with.  Those two add key formats of their own (keyids over
canonical JSON, securesystemslib's key dictionaries), a signer URI scheme and, for in-toto,
layouts: more surface than the one envelope covguard writes; the test suite uses
``securesystemslib`` as the independent verifier of covguard's envelopes instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covguard.errors import ConfigError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
PASSWORD_VARIABLE = "COVGUARD_SIGNING_KEY_PASSWORD"
MAX_KEY_BYTES = 64 << 10
MAX_ENVELOPE_BYTES = 96 << 20  # the payload is the manifest (at most 64 MiB), base64
KEY_SUFFIXES = (".pub", ".pem")
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256"
KINDS = (ED25519, ECDSA_P256)
KEY_HINT = (
    "give a PEM file ('covguard keygen' writes one; or openssl genpkey -algorithm ed25519), or "
    "env:NAME for a variable holding the PEM text"
)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload``: the bytes that are signed."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


# ---------------------------------------------------------------------------------------------
# keys


@dataclass(frozen=True)
class PublicKey:
    """A public key a signature may be checked with, and where it came from."""

    keyid: str
    kind: str
    key: Any  # Ed25519PublicKey | EllipticCurvePublicKey
    origin: str

    def verify(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            if self.kind == ED25519:
                self.key.verify(signature, data)
            else:
                self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A private key to sign with."""

    keyid: str
    kind: str
    key: Any  # Ed25519PrivateKey | EllipticCurvePrivateKey
    origin: str

    def sign(self, data: bytes) -> bytes:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if self.kind == ED25519:
            return bytes(self.key.sign(data))
        try:  # RFC 6979 (cryptography >= 43 with OpenSSL >= 3.2): reproducible packages
            algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
            return bytes(self.key.sign(data, algorithm))
        except (TypeError, UnsupportedAlgorithm):  # an older library, or OpenSSL < 3.2
            return bytes(self.key.sign(data, ec.ECDSA(hashes.SHA256())))


def keyid(public_key: Any) -> str:
    """The SHA-256 of the key's DER SubjectPublicKeyInfo, hex."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _kind(key: Any, origin: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return ED25519
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return ECDSA_P256
        raise ConfigError(
            f"an ECDSA key on the curve {key.curve.name}: covguard signs with Ed25519 or ECDSA P-256 only",
            path=origin,
            hint="make a P-256 key: 'covguard keygen --type ecdsa-p256', or openssl genpkey -algorithm EC "
            "-pkeyopt ec_paramgen_curve:P-256",
        )
    raise ConfigError(
        f"a {type(key).__name__.lstrip('_')} key: covguard signs with Ed25519 or ECDSA P-256 only",
        path=origin,
        hint="make one with 'covguard keygen' (Ed25519) or 'covguard keygen --type ecdsa-p256'",
    )


def _key_text(spec: str, environ: Mapping[str, str], what: str) -> tuple[bytes, str]:
    """The PEM bytes a key spec names (a file, or ``env:NAME``), and how to name it in messages."""
    if spec.startswith("env:"):
        name = spec[4:]
        value = environ.get(name)
        if not name or value is None or not value.strip():
            raise ConfigError(
                f"the environment variable {name or '(no name)'} holding the {what} is not set or empty",
                hint=KEY_HINT,
            )
        text = value.strip().encode("utf-8")
        if not text.startswith(b"-----BEGIN"):
            try:  # a CI secret store that keeps one line: the PEM in base64
                text = base64.b64decode(text, validate=True).strip()
            except (binascii.Error, ValueError):
                raise ConfigError(
                    f"the environment variable {name} holds neither a PEM {what} nor its base64",
                    path=spec,
                    hint=KEY_HINT,
                ) from None
        return text, spec
    path = Path(spec)
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise ConfigError(
                f"larger than {MAX_KEY_BYTES} bytes: not a PEM {what}", path=path, hint=KEY_HINT
            )
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise ConfigError(f"no such {what} file", path=path, hint=KEY_HINT) from None
    except IsADirectoryError:
        raise ConfigError(f"a folder, not a {what} file", path=path, hint=KEY_HINT) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the {what}: {exc.strerror}", path=path) from None


def load_signer(spec: str, environ: Mapping[str, str] | None = None) -> Signer:
    """The private key ``spec`` names (a PEM file, or ``env:NAME``)."""
    from cryptography.hazmat.primitives import serialization

    environ = os.environ if environ is None else environ
    data, origin = _key_text(spec, environ, "private key")
    password = environ.get(PASSWORD_VARIABLE)
    try:
        key = serialization.load_pem_private_key(data, password=password.encode() if password else None)
    except TypeError as exc:
        encrypted = "not encrypted" not in str(exc).lower()
        raise ConfigError(
            "the private key is encrypted and no password was given"
            if encrypted
            else f"the private key is not encrypted, but {PASSWORD_VARIABLE} is set",
            path=origin,
            hint=f"set {PASSWORD_VARIABLE} to its password" if encrypted else f"unset {PASSWORD_VARIABLE}",
        ) from None
    except ValueError as exc:
        public = b"PUBLIC KEY" in data[:200]
        raise ConfigError(
            "a public key: signing needs the private key"
            if public
            else f"not a PEM private key, or a wrong password ({str(exc).splitlines()[0][:120]})",
            path=origin,
            hint=KEY_HINT,
        ) from None
    except Exception as exc:  # cryptography's unsupported-algorithm errors
        raise ConfigError(f"not a usable private key ({exc})", path=origin, hint=KEY_HINT) from None
    kind = _kind(key, origin)
    return Signer(keyid(key.public_key()), kind, key, origin)


def load_public_key(spec: str, environ: Mapping[str, str] | None = None) -> PublicKey:
    """The public key ``spec`` names (a PEM SubjectPublicKeyInfo file, or ``env:NAME``)."""
    from cryptography.hazmat.primitives import serialization

    environ = os.environ if environ is None else environ
    data, origin = _key_text(spec, environ, "public key")
    if b"PRIVATE KEY" in data[:200]:
        raise ConfigError(
            "a private key: verification takes the public key (never hand the private key to a verifier)",
            path=origin,
            hint="give the .pub file 'covguard keygen' wrote, or: openssl pkey -in KEY -pubout -out KEY.pub",
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"not a PEM public key ({str(exc).splitlines()[0][:120]})", path=origin, hint=KEY_HINT
        ) from None
    except Exception as exc:  # cryptography's unsupported-algorithm errors
        raise ConfigError(f"not a usable public key ({exc})", path=origin, hint=KEY_HINT) from None
    return PublicKey(keyid(key), _kind(key, origin), key, origin)


def trusted_keys(
    keys: Sequence[str], folders: Sequence[Path] = (), environ: Mapping[str, str] | None = None
) -> list[PublicKey]:
    """The public keys given one by one, and every ``*.pub``/``*.pem`` file of the folders."""
    specs = list(keys)
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError("no such folder of public keys", path=folder, hint="give --keys a folder")
        found = sorted(p for p in folder.iterdir() if p.suffix in KEY_SUFFIXES and p.is_file())
        if not found:
            raise ConfigError(
                f"no public key in the folder (files ending in {', '.join(KEY_SUFFIXES)})",
                path=folder,
                hint="put the team's .pub files there",
            )
        specs += [str(p) for p in found]
    out: dict[str, PublicKey] = {}
    for spec in specs:
        key = load_public_key(spec, environ)
        out.setdefault(key.keyid, key)
    return list(out.values())


# ---------------------------------------------------------------------------------------------
# the envelope


def envelope(payload: bytes, signers: Sequence[Signer]) -> bytes:
    """The DSSE envelope of ``payload`` (an in-toto Statement) signed by every signer."""
    message = pae(PAYLOAD_TYPE, payload)
    doc = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [
            {"keyid": s.keyid, "sig": base64.b64encode(s.sign(message)).decode("ascii")} for s in signers
        ],
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("ascii")


@dataclass
class SignatureCheck:
    """What checking a package's envelope showed."""

    signed: bool = False
    signers: list[str] = field(default_factory=list)  # every key id the envelope names
    verified: list[str] = field(default_factory=list)  # key ids whose signature verified
    checked: bool = False  # whether trusted keys were given
    problems: list[str] = field(default_factory=list)


def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        try:  # DSSE allows URL-safe base64 too
            return base64.urlsafe_b64decode(value)
        except (binascii.Error, ValueError):
            return None


def check_envelope(
    data: bytes | None, manifest: bytes, keys: Sequence[PublicKey], where: str
) -> SignatureCheck:
    """Check the envelope ``data`` (None: the package has none) against the manifest and the
    trusted ``keys``; problems name ``where`` and the key ids.  Without keys the envelope is only
    checked to be well formed and to sign this manifest: authenticity is not checked."""
    result = SignatureCheck(checked=bool(keys))
    if data is None:
        if keys:
            result.problems.append(
                f"{where}: missing signature: the package is not signed, and trusted keys were given "
                f"({', '.join(k.keyid for k in keys)})"
            )
        return result
    result.signed = True
    if len(data) > MAX_ENVELOPE_BYTES:
        result.problems.append(
            f"{where}: invalid signature: the envelope is larger than {MAX_ENVELOPE_BYTES} bytes"
        )
        return result
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        doc = None
    signatures = doc.get("signatures") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(signatures, list):
        result.problems.append(
            f"{where}: invalid signature: not a DSSE envelope (a JSON object with signatures)"
        )
        return result
    if doc.get("payloadType") != PAYLOAD_TYPE:
        result.problems.append(f"{where}: payloadType is {doc.get('payloadType')!r}, not {PAYLOAD_TYPE!r}")
    payload = _b64(doc.get("payload"))
    if payload != manifest:
        result.problems.append(
            f"{where}: the signed statement is not the package's manifest (its payload differs from "
            "manifest.intoto.json)"
        )
    if not signatures:
        result.problems.append(f"{where}: missing signature: the envelope holds no signature")
    message = pae(str(doc.get("payloadType")), payload or b"")
    by_id = {k.keyid: k for k in keys}
    untrusted: list[str] = []
    for i, entry in enumerate(signatures):
        kid = entry.get("keyid") if isinstance(entry, dict) else None
        sig = _b64(entry.get("sig")) if isinstance(entry, dict) else None
        shown = str(kid) if isinstance(kid, str) and kid else f"(signature {i + 1}, no key id)"
        result.signers.append(shown)
        if sig is None:
            result.problems.append(f"{where}: invalid signature by key id {shown}: no base64 'sig'")
            continue
        if not keys:
            continue
        candidates = [by_id[kid]] if isinstance(kid, str) and kid in by_id else []
        if not candidates:
            # DSSE's keyid is an optional, unauthenticated hint, and other tools compute it their own
            # way (securesystemslib over canonical JSON, cosign often leaves it empty): try every
            # trusted key, the signature decides
            candidates = [k for k in keys if k.verify(sig, message)]
        if not candidates:
            untrusted.append(shown)
        elif candidates[0].verify(sig, message) and payload == manifest:
            result.verified.append(candidates[0].keyid)
        else:
            result.problems.append(
                f"{where}: invalid signature by key id {shown} ({candidates[0].origin}): it does not verify "
                "over this manifest - the manifest or the signature was changed after signing"
            )
    if keys and not result.verified and not result.problems:
        trusted = ", ".join(f"{k.keyid} ({k.origin})" for k in keys)
        result.problems.append(
            f"{where}: untrusted signature: signed by key id {', '.join(untrusted) or 'none'}, which is not "
            f"among the trusted keys: {trusted}"
        )
    return result


# ---------------------------------------------------------------------------------------------
# keygen


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    keyid: str
    kind: str


def generate_key(out: Path, kind: str = ED25519, environ: Mapping[str, str] | None = None) -> KeyPair:
    """Write ``<out>.key`` (PKCS#8 PEM, mode 0600; encrypted with ``COVGUARD_SIGNING_KEY_PASSWORD``
    when it is set) and ``<out>.pub`` (SubjectPublicKeyInfo PEM); never over existing files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from covguard.files import write_bytes

    environ = os.environ if environ is None else environ
    if kind not in KINDS:
        raise ConfigError(f"unknown key type {kind!r}", hint=f"one of {', '.join(KINDS)}")
    private_path = out.with_name(out.name + ".key")
    public_path = out.with_name(out.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ConfigError(
                "already exists: covguard never overwrites a key", path=path, hint="choose another name"
            )
    key: Any = (
        ed25519.Ed25519PrivateKey.generate() if kind == ED25519 else ec.generate_private_key(ec.SECP256R1())
    )
    password = environ.get(PASSWORD_VARIABLE)
    encryption: Any = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    write_bytes(public_path, public)
    return KeyPair(private_path, public_path, keyid(key.public_key()), kind)


__all__ = [
    "ECDSA_P256",
    "ED25519",
    "MAX_ENVELOPE_BYTES",
    "PAYLOAD_TYPE",
    "KeyPair",
    "PublicKey",
    "SignatureCheck",
    "Signer",
    "check_envelope",
    "envelope",
    "generate_key",
    "keyid",
    "load_public_key",
    "load_signer",
    "pae",
    "trusted_keys",
]
