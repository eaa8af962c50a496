"""Signed evidence packages: a DSSE envelope around the in-toto Statement, with the real gcc, make,
openssl and an independent DSSE implementation (securesystemslib) as the verifier of record.

Keys come from ``covguard keygen`` and from ``openssl`` (the documented commands); every refusal
(wrong key, a changed byte in the envelope or in a member, a stripped signature) must name the key
id and exit 1.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
from pathlib import Path

import pytest

from covguard.cli import main
from covguard.errors import EXIT_GATE_FAILED, EXIT_USAGE, ConfigError
from covguard.evidence import VerificationFailed, export_evidence, verify_evidence
from covguard.evidence.layout import PREFIX
from covguard.evidence.sign import PAYLOAD_TYPE, generate_key, load_public_key, load_signer, pae, trusted_keys
from tests.conftest import require, run
from tests.test_evidence import (
    Member,
    Run,
    drop,
    edit,
    flip_one_byte,
    forge_manifest,
    project_run,
    read_members,
    write_members,
)

SIGNATURE = "manifest.dsse.json"


@pytest.fixture(scope="module")
def valve(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return project_run(tmp_path_factory.mktemp("signed"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    out: dict[str, Path] = {}
    for kind in ("ed25519", "ecdsa-p256"):
        pair = generate_key(folder / kind, kind, environ={})
        out[kind], out[f"{kind}.pub"] = pair.private, pair.public
    other = generate_key(folder / "other", environ={})
    out["other"], out["other.pub"] = other.private, other.public
    return out


@pytest.fixture(scope="module")
def signed(valve: Run, keys: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pkg") / "signed.tar.gz"
    export_evidence(valve.settings, path, environ={}, sign=[str(keys["ed25519"])])
    return path


def members(path: Path) -> dict[str, bytes]:
    return {i.name[len(PREFIX) + 1 :]: d for i, d in read_members(path)}


def keyid_of(public: Path) -> str:
    """The key id computed with openssl alone: SHA-256 of the DER SubjectPublicKeyInfo."""
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(public), "-outform", "DER"], capture_output=True, check=True
    ).stdout
    import hashlib

    return hashlib.sha256(der).hexdigest()


def forge(members: list[Member]) -> list[Member]:
    """The forger's manifest (digests agreeing with the members), the envelope left out of it."""
    forged = forge_manifest(members)

    def unlist(data: bytes) -> bytes:
        doc = json.loads(data)
        doc["subject"] = [s for s in doc["subject"] if s["name"] != SIGNATURE]
        return json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"

    return edit(forged, "manifest.intoto.json", unlist)


def refused(path: Path, *keys: Path) -> str:
    with pytest.raises(VerificationFailed) as caught:
        verify_evidence(path, keys=trusted_keys([str(k) for k in keys]))
    assert caught.value.exit_code == EXIT_GATE_FAILED
    return caught.value.render()


# ---------------------------------------------------------------------------------------------
# round trip


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256"])
def test_sign_verify_round_trip_and_reproducible(
    kind: str, valve: Run, keys: dict[str, Path], tmp_path: Path
) -> None:
    require("openssl")
    first = export_evidence(valve.settings, tmp_path / "a.tar.gz", environ={}, sign=[str(keys[kind])])
    second = export_evidence(valve.settings, tmp_path / "b.tar.gz", environ={}, sign=[str(keys[kind])])
    assert first.signed_by == [keyid_of(keys[f"{kind}.pub"])]
    assert first.path.read_bytes() == second.path.read_bytes()  # deterministic signatures
    data = members(first.path)
    envelope = json.loads(data[SIGNATURE])
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert base64.b64decode(envelope["payload"]) == data["manifest.intoto.json"]
    manifest = json.loads(data["manifest.intoto.json"])
    assert SIGNATURE not in {s["name"] for s in manifest["subject"]}  # it signs them
    result = verify_evidence(first.path, keys=trusted_keys([str(keys[f"{kind}.pub"])]))
    assert result.signature.verified == first.signed_by
    assert "reports/findings.json" in result.rederived


def test_independent_verifier_accepts_the_envelope(
    signed: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    """securesystemslib's DSSE implementation (PAE, base64, signature schemes of its own) and
    openssl's Ed25519 verify covguard's envelope; covguard's key id is openssl's SPKI digest."""
    require("openssl")
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer._key import SSlibKey

    envelope = json.loads(members(signed)[SIGNATURE])
    public = keys["ed25519.pub"]
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(public), "-outform", "DER"], capture_output=True, check=True
    ).stdout
    kid = keyid_of(public)
    key = SSlibKey.from_dict(
        kid, {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": der[-32:].hex()}}
    )
    accepted = Envelope.from_dict(copy.deepcopy(envelope)).verify([key], 1)  # from_dict consumes it
    assert list(accepted) == [kid]
    # openssl itself, over the pre-authentication encoding written out by hand (DSSE spec)
    payload = base64.b64decode(envelope["payload"])
    pae_bytes = b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)
    assert pae_bytes == pae(PAYLOAD_TYPE, payload)
    (tmp_path / "pae.bin").write_bytes(pae_bytes)
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    verify = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin"]
    out = run([*verify, "-in", "pae.bin", "-sigfile", "sig.bin"], cwd=tmp_path)
    assert "Signature Verified Successfully" in out
    # and a securesystemslib-made signature over a changed payload is refused by it: the test can fail
    envelope["payload"] = base64.b64encode(payload.replace(b"covguard", b"forgery!")).decode()
    from securesystemslib.exceptions import VerificationError

    with pytest.raises(VerificationError):
        Envelope.from_dict(envelope).verify([key], 1)


def test_independent_verifier_accepts_an_ecdsa_envelope(
    valve: Run, keys: dict[str, Path], tmp_path: Path
) -> None:
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer._key import SSlibKey

    result = export_evidence(
        valve.settings, tmp_path / "ec.tar.gz", environ={}, sign=[str(keys["ecdsa-p256"])]
    )
    envelope = json.loads(members(result.path)[SIGNATURE])
    key = SSlibKey.from_dict(
        result.signed_by[0],
        {
            "keytype": "ecdsa",
            "scheme": "ecdsa-sha2-nistp256",
            "keyval": {"public": keys["ecdsa-p256.pub"].read_text()},
        },
    )
    assert list(Envelope.from_dict(envelope).verify([key], 1)) == result.signed_by


# ---------------------------------------------------------------------------------------------
# refusals


def test_a_wrong_key_is_untrusted_naming_both_key_ids(signed: Path, keys: dict[str, Path]) -> None:
    message = refused(signed, keys["other.pub"])
    assert "untrusted signature" in message
    assert keyid_of(keys["ed25519.pub"]) in message  # who signed
    assert keyid_of(keys["other.pub"]) in message  # whom we trust


def test_a_changed_byte_in_the_envelope_is_an_invalid_signature(
    signed: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    def flip_signature(data: bytes) -> bytes:
        doc = json.loads(data)
        sig = bytearray(base64.b64decode(doc["signatures"][0]["sig"]))
        sig[7] ^= 0x01
        doc["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
        return json.dumps(doc).encode()

    bad = write_members(tmp_path / "bad.tar.gz", edit(read_members(signed), SIGNATURE, flip_signature))
    message = refused(bad, keys["ed25519.pub"])
    assert f"{PREFIX}/{SIGNATURE}: invalid signature by key id {keyid_of(keys['ed25519.pub'])}" in message


def test_a_changed_byte_in_a_member_is_caught_even_with_a_forged_manifest(
    signed: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    """The forger re-hashes the manifest after changing a report: the digests agree again, but the
    signed statement is no longer the manifest."""
    changed = forge(edit(read_members(signed), "reports/findings.json", flip_one_byte))
    bad = write_members(tmp_path / "bad.tar.gz", changed)
    message = refused(bad, keys["ed25519.pub"])
    assert "the signed statement is not the package's manifest" in message
    # and re-wrapping the forged manifest in the envelope without the key gives an invalid signature
    data = members(bad)
    doc = json.loads(data[SIGNATURE])
    doc["payload"] = base64.b64encode(data["manifest.intoto.json"]).decode()
    worse = write_members(
        tmp_path / "worse.tar.gz", edit(changed, SIGNATURE, lambda _: json.dumps(doc).encode())
    )
    assert "invalid signature by key id" in refused(worse, keys["ed25519.pub"])


def test_a_stripped_signature_is_missing(signed: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    bare = write_members(tmp_path / "bare.tar.gz", drop(read_members(signed), SIGNATURE))
    message = refused(bare, keys["ed25519.pub"])
    assert "missing signature: the package is not signed" in message
    assert keyid_of(keys["ed25519.pub"]) in message
    assert not verify_evidence(bare).signature.signed  # without a key: verifies, says it is unsigned


def test_the_cli_signs_verifies_and_says_when_authenticity_was_not_checked(
    valve: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keygen", str(tmp_path / "team")])
    printed = capsys.readouterr().out
    assert "key id:" in printed
    assert (tmp_path / "team.key").stat().st_mode & 0o777 == 0o600
    out = tmp_path / "cli.tar.gz"
    config = str(valve.root / "covguard.toml")
    main(
        ["evidence", "export", "--config", config, "--output", str(out), "--sign", str(tmp_path / "team.key")]
    )
    assert "signed (DSSE) by key id" in capsys.readouterr().out
    main(["evidence", "verify", str(out)])
    assert "authenticity NOT checked" in capsys.readouterr().out
    (tmp_path / "trusted").mkdir()
    (tmp_path / "trusted" / "team.pub").write_bytes((tmp_path / "team.pub").read_bytes())
    main(["evidence", "verify", str(out), "--keys", str(tmp_path / "trusted")])
    assert "signature verified: signed by trusted key id" in capsys.readouterr().out
    main(["keygen", str(tmp_path / "stranger"), "--type", "ecdsa-p256"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["evidence", "verify", str(out), "--key", str(tmp_path / "stranger.pub")])
    assert exited.value.code == EXIT_GATE_FAILED
    err = capsys.readouterr().err
    assert "untrusted signature" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as exited:  # never over an existing key
        main(["keygen", str(tmp_path / "team")])
    assert exited.value.code == EXIT_USAGE
    assert "never overwrites a key" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# keys from openssl and from the environment


def test_openssl_keys_and_ci_secrets(valve: Run, tmp_path: Path) -> None:
    """The README's openssl commands make keys covguard signs with; a key in an environment
    variable (PEM, or its base64) and an encrypted key with its password variable work too."""
    require("openssl")
    run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", "ed.key"], cwd=tmp_path)
    run(["openssl", "pkey", "-in", "ed.key", "-pubout", "-out", "ed.pub"], cwd=tmp_path)
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"], cwd=tmp_path)
    run(["openssl", "ec", "-in", "ec.key", "-pubout", "-out", "ec.pub"], cwd=tmp_path)
    run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "ed25519",
            "-aes-256-cbc",
            "-pass",
            "pass:s3cret",
            "-out",
            "enc.key",
        ],
        cwd=tmp_path,
    )
    run(
        ["openssl", "pkey", "-in", "enc.key", "-passin", "pass:s3cret", "-pubout", "-out", "enc.pub"],
        cwd=tmp_path,
    )
    for name in ("ed", "ec"):
        assert load_signer(str(tmp_path / f"{name}.key"), {}).keyid == keyid_of(tmp_path / f"{name}.pub")
    pem = (tmp_path / "ed.key").read_text()
    env = {"SIGNING_KEY": pem, "SIGNING_KEY_B64": base64.b64encode(pem.encode()).decode()}
    assert load_signer("env:SIGNING_KEY", env).keyid == load_signer("env:SIGNING_KEY_B64", env).keyid
    with pytest.raises(ConfigError) as caught:
        load_signer(str(tmp_path / "enc.key"), {})
    assert "encrypted and no password" in caught.value.render()
    with pytest.raises(ConfigError) as caught:  # a password for a key that has none
        load_signer(str(tmp_path / "ed.key"), {"COVGUARD_SIGNING_KEY_PASSWORD": "s3cret"})
    assert "not encrypted, but COVGUARD_SIGNING_KEY_PASSWORD is set" in caught.value.render()
    with pytest.raises(ConfigError) as caught:
        load_signer(str(tmp_path / "enc.key"), {"COVGUARD_SIGNING_KEY_PASSWORD": "wrong"})
    assert "wrong password" in caught.value.render()
    secret = {"COVGUARD_SIGNING_KEY_PASSWORD": "s3cret", "K": (tmp_path / "enc.key").read_text()}
    result = export_evidence(valve.settings, tmp_path / "enc.tar.gz", environ=secret, sign=["env:K"])
    verified = verify_evidence(result.path, keys=trusted_keys([str(tmp_path / "enc.pub")]))
    assert verified.signature.verified == [keyid_of(tmp_path / "enc.pub")]


def test_unusable_keys_are_refused_by_name(tmp_path: Path) -> None:
    require("openssl")
    run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key"],
        cwd=tmp_path,
    )
    run(["openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "p384.key"], cwd=tmp_path)
    run(["openssl", "pkey", "-in", "rsa.key", "-pubout", "-out", "rsa.pub"], cwd=tmp_path)
    cases = {
        "rsa.key": "covguard signs with Ed25519 or ECDSA P-256 only",
        "p384.key": "on the curve secp384r1",
        "rsa.pub": "a public key: signing needs the private key",
        "missing.key": "no such private key file",
    }
    for name, expected in cases.items():
        with pytest.raises(ConfigError) as caught:
            load_signer(str(tmp_path / name), {})
        assert expected in caught.value.render()
        assert str(tmp_path / name) in caught.value.render()
    with pytest.raises(ConfigError) as caught:
        load_public_key(str(tmp_path / "rsa.key"), {})
    assert "a private key: verification takes the public key" in caught.value.render()
    with pytest.raises(ConfigError) as caught:
        load_signer("env:NOT_SET", {})
    assert "NOT_SET" in caught.value.render()


def test_pae_is_the_dsse_specifications_example() -> None:
    """DSSE protocol.md's example: PAE("http://example.com/HelloWorld", "hello world")."""
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_sign_later_and_countersign(
    valve: Run, keys: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`evidence sign` on an unsigned package gives what `export --sign` gives, byte for byte; a
    second signer adds a signature; members and manifest never change; an unverifiable package is
    never signed."""
    plain = export_evidence(valve.settings, tmp_path / "plain.tar.gz", environ={}).path
    direct = export_evidence(
        valve.settings, tmp_path / "direct.tar.gz", environ={}, sign=[str(keys["ed25519"])]
    )
    main(
        [
            "evidence",
            "sign",
            str(plain),
            "--sign",
            str(keys["ed25519"]),
            "--output",
            str(tmp_path / "later.tar.gz"),
        ]
    )
    assert "signed" in capsys.readouterr().out
    assert (tmp_path / "later.tar.gz").read_bytes() == direct.path.read_bytes()
    main(["evidence", "sign", str(tmp_path / "later.tar.gz"), "--sign", str(keys["ecdsa-p256"])])  # in place
    capsys.readouterr()
    both = members(tmp_path / "later.tar.gz")
    assert {n: d for n, d in both.items() if n != SIGNATURE} == {
        n: d for n, d in members(plain).items() if n != SIGNATURE
    }
    assert len(json.loads(both[SIGNATURE])["signatures"]) == 2
    for pub in ("ed25519.pub", "ecdsa-p256.pub"):  # each signer alone is trusted enough
        verified = verify_evidence(tmp_path / "later.tar.gz", keys=trusted_keys([str(keys[pub])]))
        assert verified.signature.verified == [keyid_of(keys[pub])]
    bad = write_members(tmp_path / "bad.tar.gz", drop(read_members(plain), "reports/junit.xml"))
    with pytest.raises(SystemExit) as exited:
        main(["evidence", "sign", str(bad), "--sign", str(keys["ed25519"])])
    assert exited.value.code == EXIT_GATE_FAILED
    assert SIGNATURE not in members(bad)


def test_an_envelope_made_by_securesystemslib_verifies_with_covguard(valve: Run, tmp_path: Path) -> None:
    """The other direction: securesystemslib signs the package's manifest (its own key id, its own
    PAE), covguard verifies it with the PEM public key; a key that did not sign stays untrusted."""
    require("openssl")
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer._crypto_signer import CryptoSigner

    run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", "sslib.key"], cwd=tmp_path)
    run(["openssl", "pkey", "-in", "sslib.key", "-pubout", "-out", "sslib.pub"], cwd=tmp_path)
    private = serialization.load_pem_private_key((tmp_path / "sslib.key").read_bytes(), password=None)
    signer = CryptoSigner(private)
    plain = export_evidence(valve.settings, tmp_path / "plain.tar.gz", environ={}).path
    manifest = members(plain)["manifest.intoto.json"]
    envelope = Envelope(manifest, PAYLOAD_TYPE, {})
    envelope.sign(signer)
    assert envelope.signatures  # one signature, under securesystemslib's own key id
    assert next(iter(envelope.signatures)) != keyid_of(tmp_path / "sslib.pub")
    data = json.dumps(envelope.to_dict()).encode()
    from tests.test_evidence import regular

    signed_by_sslib = write_members(
        tmp_path / "sslib.tar.gz", [*read_members(plain), regular(f"{PREFIX}/{SIGNATURE}", data)]
    )
    result = verify_evidence(signed_by_sslib, keys=trusted_keys([str(tmp_path / "sslib.pub")]))
    assert result.signature.verified == [keyid_of(tmp_path / "sslib.pub")]
    other = generate_key(tmp_path / "other", environ={})
    assert "untrusted signature" in refused(signed_by_sslib, other.public)


def test_diff_verifies_both_signatures(signed: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    from covguard.evidence.diff import diff_packages

    same = diff_packages(signed, signed, keys=trusted_keys([str(keys["ed25519.pub"])]))
    assert same.changes == []
    assert same.new_signature == f"signed by trusted key id {keyid_of(keys['ed25519.pub'])}"
    bare = write_members(tmp_path / "bare.tar.gz", drop(read_members(signed), SIGNATURE))
    with pytest.raises(VerificationFailed) as caught:
        diff_packages(signed, bare, keys=trusted_keys([str(keys["ed25519.pub"])]))
    assert "missing signature" in caught.value.render()
    assert "bare.tar.gz" in caught.value.render()
