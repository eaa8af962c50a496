"""Every run kind re-derived by `covguard evidence verify`: a clang (MC/DC) package, and a host + target
package (`analysis.runs`: host-clang beside cortex-m3-qemu), with the real clang-19, llvm-cov-19,
arm-none-eabi-gcc and qemu-system-arm.

Each package is verified with its project moved away (the verifier reads only the package), and a
forged MC/DC report in each - the findings changed and the manifest re-hashed - is caught; so is a
package whose llvm tools are not the verifier's, with both versions named.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.builder.toolchains.base import tool_version
from covguard.config import load_settings
from covguard.evidence import VerificationFailed, export_evidence, verify_evidence
from covguard.evidence.layout import PREFIX
from tests.conftest import FIXTURES, require
from tests.test_evidence import COVGUARD_REPORTS, drop, edit, forge_manifest, read_members, write_members

MCDC = FIXTURES / "c" / "mcdc"
TARGET = FIXTURES / "c" / "target"
RUNTIME = Path(__file__).resolve().parent.parent / "covguard" / "runtime"
DECISION = "    if (gauge_permille(raw) < 20 && raw != 4095u) {\n        return 1;\n    }\n    return 0;\n"


@contextmanager
def moved_away(root: Path) -> Iterator[None]:
    """The project is not where the package says it was: verify must need nothing of it."""
    away = root.with_name(root.name + "-away")
    root.rename(away)
    try:
        yield
    finally:
        away.rename(root)


@pytest.fixture(scope="module")
def clang_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("clang-19", "llvm-cov-19", "llvm-profdata-19", "make")
    tmp = tmp_path_factory.mktemp("clang")
    root = tmp / "mcdc"
    shutil.copytree(MCDC, root)
    settings = load_settings(root / "covguard.toml")
    api.run(settings)
    result = export_evidence(settings, tmp / "clang.tar.gz", environ={})
    assert result.rederived == COVGUARD_REPORTS
    assert not result.warnings
    with moved_away(root):
        verified = verify_evidence(result.path)
    assert verified.rederived == COVGUARD_REPORTS
    return result.path


@pytest.fixture(scope="module")
def multi_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("clang-19", "llvm-cov-19", "make", "arm-none-eabi-gcc", "arm-none-eabi-gcov", "qemu-system-arm")
    tmp = tmp_path_factory.mktemp("multi")
    root = tmp / "gauge"
    shutil.copytree(TARGET, root)
    make = root / "Makefile"
    make.write_text(make.read_text().replace("../../../../../covguard/runtime", str(RUNTIME)))
    source = root / "src" / "gauge.c"  # a decision with two conditions: MC/DC on the clang run
    source.write_text(source.read_text().replace("    return gauge_permille(raw) < 20;\n", DECISION))
    settings = load_settings(
        root / "covguard.toml",
        overrides={
            "build.command": "make {build_dir}/tests/test_gauge BUILD_DIR={build_dir}",
            "test.executables": ["{build_dir}/tests/test_gauge"],
            "toolchain": "host-clang",
            "analysis.runs": ["host-clang", "cortex-m3-qemu"],
            "output_dir": str(tmp / "out"),
        },
    )
    outcome = api.run(settings)
    assert not outcome.problems
    doc = json.loads((tmp / "out" / "findings.json").read_text())
    assert {t["origin"] for t in doc["tests"]} == {"host", "qemu-cortex-m3"}
    assert any(f["kind"] == "mcdc_gap" for f in doc["findings"])
    result = export_evidence(settings, tmp / "multi.tar.gz", environ={})
    assert result.rederived == COVGUARD_REPORTS
    names = {i.name for i, _ in read_members(result.path)}
    assert any(n.startswith(f"{PREFIX}/runs/cortex-m3-qemu/results/run/") for n in names)
    assert f"{PREFIX}/runs/cortex-m3-qemu/build/build.json" in names
    with moved_away(root):
        verified = verify_evidence(result.path)
    assert verified.rederived == COVGUARD_REPORTS
    return result.path


def _forge_mcdc(data: bytes) -> bytes:
    """Claim full MC/DC: every requirement's conditions verified, the gaps gone."""
    doc = json.loads(data)
    changed = 0
    for r in doc["requirements"]:
        cov = r["coverage"]
        if cov.get("conditions_total"):
            changed += cov["conditions_verified"] != cov["conditions_total"]
            cov["conditions_verified"] = cov["conditions_total"]
            cov["mcdc"] = 100.0
    doc["findings"] = [f for f in doc["findings"] if f["kind"] != "mcdc_gap"]
    assert changed  # the forgery changes something: the test can fail
    return (json.dumps(doc, indent=2) + "\n").encode()


def _rejected(path: Path, **kwargs: Any) -> str:
    with pytest.raises(VerificationFailed) as caught:
        verify_evidence(path, **kwargs)
    return caught.value.render()


@pytest.mark.parametrize("kind", ["clang", "host+target"])
def test_a_forged_mcdc_report_is_caught(
    kind: str, clang_package: Path, multi_package: Path, tmp_path: Path
) -> None:
    package = clang_package if kind == "clang" else multi_package
    forged = write_members(
        tmp_path / "forged.tar.gz",
        forge_manifest(edit(read_members(package), "reports/findings.json", _forge_mcdc)),
    )
    message = _rejected(forged)
    assert f"{PREFIX}/reports/findings.json: the verdicts differ" in message
    assert "conditions_verified" in message


def test_target_raw_data_removed_is_caught(multi_package: Path, tmp_path: Path) -> None:
    """The target run is re-derived from its own raw data: dropping a test's stream shows."""
    members = read_members(multi_package)
    gone = next(
        i.name[len(PREFIX) + 1 :]
        for i, _ in members
        if i.name.startswith(f"{PREFIX}/runs/cortex-m3-qemu/results/run/coverage/")
        and i.name.endswith(".gcda")
    )
    forged = write_members(tmp_path / "forged.tar.gz", forge_manifest(drop(members, gone)))
    assert f"{PREFIX}/reports/findings.json: the verdicts differ" in _rejected(forged)


def test_other_llvm_tools_are_refused_with_both_versions(clang_package: Path, tmp_path: Path) -> None:
    here = tool_version("llvm-cov-19")

    def older(data: bytes) -> bytes:
        doc = json.loads(data)
        doc["compilers"]["llvm-cov-19"] = "Ubuntu LLVM version 19.0.0-forged"
        return json.dumps(doc, indent=2).encode()

    forged = write_members(
        tmp_path / "forged.tar.gz",
        forge_manifest(edit(read_members(clang_package), "build/build.json", older)),
    )
    message = _rejected(forged)
    assert "'Ubuntu LLVM version 19.0.0-forged'" in message
    assert f"'{here}'" in message
    assert "the verdicts cannot be re-derived" in message
    accepted = verify_evidence(forged, digest_only=True)  # the digests alone, said plainly
    assert accepted.rederived == []
    assert any("NOT re-derived" in n for n in accepted.notes)


def test_a_missing_executable_is_named(clang_package: Path, tmp_path: Path) -> None:
    members = read_members(clang_package)
    exe = next(i.name[len(PREFIX) + 1 :] for i, _ in members if "/coverage/executables/" in i.name)
    forged = write_members(tmp_path / "forged.tar.gz", forge_manifest(drop(members, exe)))
    message = _rejected(forged)
    assert f"{PREFIX}/{exe}: missing from the package" in message


def test_an_executable_path_leading_out_of_the_package_is_refused(
    clang_package: Path, tmp_path: Path
) -> None:
    """results.json is the package's own record, hostile: a test executable named '../...' must not
    make the verifier touch a file outside the package (llvm-cov would read it, chmod would change it)."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"not an executable\n")
    victim.chmod(0o600)

    def escape(data: bytes) -> bytes:
        doc = json.loads(data)
        for case in doc["cases"]:
            case["executable"] = "../" * 40 + str(victim).lstrip("/")
        return json.dumps(doc).encode()

    forged = write_members(
        tmp_path / "forged.tar.gz",
        forge_manifest(edit(read_members(clang_package), "results/results.json", escape)),
    )
    message = _rejected(forged)
    assert "a path that leads out of the package: refused" in message
    assert victim.stat().st_mode & 0o777 == 0o600
