"""The auditor's evidence package, with the real gcc, make and git: export, reproducibility, verify,
and every kind of tampering rejected with a message that names the member.

The project is ``tests/fixtures/evidence/project`` (a valve controller with a planted rogue
function), copied into a temporary git repository with a fixed commit date, built and run once per
module.  The round trip also runs on the sample firmware (the session's ``sample_run``).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.cli import main
from covguard.config import Settings, load_settings
from covguard.errors import EXIT_GATE_FAILED, EXIT_USAGE, CovguardError, InputError
from covguard.evidence import EvidenceInputError, VerificationFailed, export_evidence, verify_evidence
from covguard.evidence.archive import scan
from covguard.evidence.export import git_state
from covguard.evidence.layout import ACTIVITIES, PREDICATE_TYPE, PREFIX, STATEMENT_TYPE
from covguard.report.outputs import COVGUARD_FORMATS
from tests.conftest import FIXTURES, require, run
from tests.test_golden import compare_golden

PROJECT = FIXTURES / "evidence" / "project"
GOLDEN = FIXTURES / "evidence"
COMMIT_DATE = "2024-01-02T03:04:05Z"
COMMIT_EPOCH = 1704164645
MANIFEST = f"{PREFIX}/manifest.intoto.json"
COVGUARD_REPORTS = sorted(f"reports/{name}" for name in COVGUARD_FORMATS.values())


@dataclass
class Run:
    root: Path
    settings: Settings
    outcome: api.Outcome


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Fixture",
        GIT_AUTHOR_EMAIL="fixture@example.invalid",
        GIT_COMMITTER_NAME="Fixture",
        GIT_COMMITTER_EMAIL="fixture@example.invalid",
        GIT_AUTHOR_DATE=COMMIT_DATE,
        GIT_COMMITTER_DATE=COMMIT_DATE,
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def project_run(folder: Path, *, git: bool = True) -> Run:
    """The fixture project copied to ``folder`` (committed to git), built, tested and analysed."""
    require("gcc", "make")
    root = folder / "valve"
    shutil.copytree(PROJECT, root)
    if git:
        require("git")
        env = _git_env()
        run(["git", "-c", "init.defaultBranch=main", "init", "-q"], cwd=root, env=env)
        run(["git", "add", "-A"], cwd=root, env=env)
        run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "fixture"], cwd=root, env=env)
    settings = load_settings(root / "covguard.toml")
    outcome = api.run(settings)
    assert outcome.exit_code == EXIT_GATE_FAILED  # the planted rogue function fails the gate
    return Run(root, settings, outcome)


@pytest.fixture(scope="module")
def valve(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return project_run(tmp_path_factory.mktemp("evidence"))


@pytest.fixture(scope="module")
def package(valve: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("package") / "valve-evidence.tar.gz"
    export_evidence(valve.settings, path, environ={})
    return path


# ---------------------------------------------------------------------------------------------
# archive surgery for the tamper tests


Member = tuple[tarfile.TarInfo, bytes]


def read_members(path: Path) -> list[Member]:
    out: list[Member] = []
    with tarfile.open(path, "r:gz") as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info) if info.isreg() else None
            out.append((info, handle.read() if handle else b""))
    return out


def write_members(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for original, data in members:
            info = copy.copy(original)
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def regular(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def edit(members: list[Member], name: str, change: Callable[[bytes], bytes]) -> list[Member]:
    out = []
    for info, data in members:
        out.append((info, change(data)) if info.name == f"{PREFIX}/{name}" else (info, data))
    return out


def drop(members: list[Member], name: str) -> list[Member]:
    return [(i, d) for i, d in members if i.name != f"{PREFIX}/{name}"]


def forge_manifest(
    members: list[Member], predicate: Callable[[dict[str, Any]], None] | None = None
) -> list[Member]:
    """Rewrite the manifest so that its digests agree with the (tampered) members: a forger's move."""
    manifest = json.loads(next(d for i, d in members if i.name == MANIFEST))
    manifest["subject"] = [
        {"name": i.name[len(PREFIX) + 1 :], "digest": {"sha256": hashlib.sha256(d).hexdigest()}}
        for i, d in sorted(members, key=lambda m: m[0].name)
        if i.name != MANIFEST and i.isreg()
    ]
    if predicate is not None:
        predicate(manifest["predicate"])
    text = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    return edit(members, "manifest.intoto.json", lambda _: text)


def rejected(path: Path) -> str:
    with pytest.raises(VerificationFailed) as caught:
        verify_evidence(path)
    return caught.value.render()


def flip_one_byte(data: bytes) -> bytes:
    at = data.index(b'"rogue"') + 2  # inside a finding kind: still valid JSON text around it
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


# ---------------------------------------------------------------------------------------------
# export and round trip


def test_round_trip_on_the_sample_firmware(sample_run: api.Outcome, tmp_path: Path) -> None:
    out = sample_run.outputs["findings"].parent
    settings = load_settings(
        Path(__file__).resolve().parent.parent / "sample_firmware" / "covguard.toml",
        overrides={"work_dir": str(out.parent / "work"), "output_dir": str(out)},
    )
    result = export_evidence(settings, tmp_path / "sample.tar.gz")
    assert "reports/findings.json" in result.rederived
    assert "reports/junit.xml" in result.rederived
    verified = verify_evidence(result.path)
    assert verified.members == result.members
    assert verified.gate_passed is False  # the sample's planted defects
    assert verified.summary["findings"]["rogue"] >= 1
    names = {i.name[len(PREFIX) + 1 :] for i, _ in read_members(result.path)}
    for expected in (
        "reports/findings.json",
        "reports/junit.xml",
        "results/results.json",
        "build/build.json",
        "build/compile_commands.json",
        "config/covguard.toml",
        "config/settings.json",
        "requirements/files/requirements.csv",
        "requirements/baseline.csv",
        "sources/src/bolus.c",
        "sources/tests/test_bolus.c",
        "toolchain/versions.json",
        "vcs/git.json",
        "index.json",
        "manifest.intoto.json",
    ):
        assert expected in names
    assert any(n.startswith("coverage/notes/") and n.endswith(".gcno") for n in names)
    assert any(  # libgcov's .gcda, or the harness's per-process stream of the objects each test touched
        n.startswith("results/run/coverage/test_bolus/") and n.endswith((".gcda", ".cgcovs")) for n in names
    )
    assert not any("covguard_test.h" in n for n in names)  # outside the project root: not a source of it


def test_members_digests_and_index(package: Path, valve: Run) -> None:
    members = read_members(package)
    names = [i.name for i, _ in members]
    assert names == sorted(names)
    assert all(
        i.isreg() and i.uid == 0 and i.gid == 0 and i.uname == "" and i.mode == 0o644 for i, _ in members
    )
    assert {i.mtime for i, _ in members} == {COMMIT_EPOCH}  # no SOURCE_DATE_EPOCH: the commit time
    assert package.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime
    data = {i.name[len(PREFIX) + 1 :]: d for i, d in members}
    statement = json.loads(data["manifest.intoto.json"])
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == PREDICATE_TYPE
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects == {
        n: hashlib.sha256(d).hexdigest() for n, d in data.items() if n != "manifest.intoto.json"
    }
    predicate = statement["predicate"]
    assert predicate["firmware"] == {
        "repository": True,
        "state": "clean",  # covguard's own work and output folders inside the root do not count
        "commit": run(["git", "rev-parse", "HEAD"], cwd=valve.root).strip(),
        "dirty": False,
    }
    assert predicate["verdict"]["gate_passed"] is False
    assert predicate["reports"]["rederived"] == COVGUARD_REPORTS  # every covguard report re-renders
    assert predicate["reports"]["digest_only"]  # gcovr's formats need the object tree
    assert predicate["versions"]["toolchain_at_build"]["gcc"].startswith("gcc")
    index = json.loads(data["index.json"])
    assert {i["path"] for i in index["items"]} == set(data)
    assert all(set(i["activities"]) <= set(ACTIVITIES) and i["activities"] for i in index["items"])
    by_path = {i["path"]: i for i in index["items"]}
    assert (
        by_path["sources/src/valve.c"]["build_sha256"]
        == hashlib.sha256(data["sources/src/valve.c"]).hexdigest()
    )
    assert data["sources/src/valve.c"] == (valve.root / "src" / "valve.c").read_bytes()
    assert data["reports/findings.json"] == (valve.root / "covguard-report" / "findings.json").read_bytes()


def test_index_and_baseline_golden(package: Path, valve: Run) -> None:
    """The index (member -> IEC 62304 activities) and the normalised requirements baseline."""
    data = {i.name[len(PREFIX) + 1 :]: d for i, d in read_members(package)}
    root = str(valve.root)
    text = data["index.json"].decode().replace(root.lstrip("/"), "<root>")
    text = re.sub(r"\.[0-9a-f]{32}\.html", ".<md5>.html", text)  # gcovr's page names
    index = json.loads(text)
    compare_golden(json.dumps(index, indent=2) + "\n", GOLDEN / "index.golden.json")
    compare_golden(data["requirements/baseline.csv"].decode(), GOLDEN / "baseline.golden.csv")


def test_reproducible_byte_for_byte(valve: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = export_evidence(valve.settings, tmp_path / "first.tar.gz", environ={})
    second = export_evidence(valve.settings, tmp_path / "second.tar.gz", environ={})
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    third = api.export_evidence(valve.settings, tmp_path / "third.tar.gz")
    fourth = api.export_evidence(valve.settings, tmp_path / "fourth.tar.gz")
    assert third.path.read_bytes() == fourth.path.read_bytes() != first.path.read_bytes()
    assert {i.mtime for i, _ in read_members(third.path)} == {1700000000}


def test_the_default_place_and_no_package_inside_a_package(valve: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(valve.settings.output_dir, out)
    settings = load_settings(valve.root / "covguard.toml", overrides={"output_dir": str(out)})
    first = export_evidence(settings, environ={})
    assert first.path == out / "covguard-evidence.tar.gz"
    shutil.copy(first.path, out / "yesterday.tgz")  # an earlier package under another name
    again = export_evidence(settings, tmp_path / "again.tar.gz", environ={})
    assert again.path.read_bytes() == first.path.read_bytes()


def test_bad_source_date_epoch(valve: Run, tmp_path: Path) -> None:
    with pytest.raises(CovguardError) as caught:
        export_evidence(valve.settings, tmp_path / "x.tar.gz", environ={"SOURCE_DATE_EPOCH": "yesterday"})
    assert "SOURCE_DATE_EPOCH" in caught.value.render()
    assert not (tmp_path / "x.tar.gz").exists()


def test_git_state_outside_a_repository(tmp_path: Path) -> None:
    require("git")
    assert git_state(tmp_path, []) == {"repository": False, "state": "not a git repository"}


def test_the_cli_exports_and_verifies(
    valve: Run, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.tar.gz"
    main(["evidence", "export", "--config", str(valve.root / "covguard.toml"), "--output", str(out)])
    printed = capsys.readouterr().out
    assert f"evidence package: {out}" in printed
    assert "reports/findings.json" in printed
    main(["evidence", "verify", str(out)])
    printed = capsys.readouterr().out
    assert f"verified: {out}" in printed
    assert "not signed" in printed
    bad = write_members(tmp_path / "bad.tar.gz", drop(read_members(package), "reports/junit.xml"))
    with pytest.raises(SystemExit) as exited:
        main(["evidence", "verify", str(bad)])
    assert exited.value.code == EXIT_GATE_FAILED
    err = capsys.readouterr().err
    assert f"{PREFIX}/reports/junit.xml: missing member" in err
    assert "Traceback" not in err
    (tmp_path / "notes.txt").write_text("not an archive\n")
    with pytest.raises(SystemExit) as exited:
        main(["evidence", "verify", str(tmp_path / "notes.txt")])
    assert exited.value.code == EXIT_USAGE
    assert "not a covguard evidence package" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# tampering


def _symlink(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


TAMPER: dict[str, tuple[Callable[[list[Member]], list[Member]], list[str]]] = {
    "one byte changed in a report": (
        lambda m: edit(m, "reports/findings.json", flip_one_byte),
        [f"{PREFIX}/reports/findings.json: modified"],
    ),
    "a member added": (
        lambda m: [*m, regular(f"{PREFIX}/reports/extra.html", b"<p>all verified</p>")],
        [f"{PREFIX}/reports/extra.html: added member"],
    ),
    "a member removed": (
        lambda m: drop(m, "reports/junit.xml"),
        [f"{PREFIX}/reports/junit.xml: missing member"],
    ),
    "a duplicate member": (
        lambda m: [*m, regular(f"{PREFIX}/reports/findings.json", b"{}")],
        [f"{PREFIX}/reports/findings.json: duplicate member"],
    ),
    "a ../ member": (
        lambda m: [*m, regular(f"{PREFIX}/../evil.sh", b"rm -rf ~\n")],
        [f"{PREFIX}/../evil.sh: rejected member: a '../' path"],
    ),
    "an absolute member": (
        lambda m: [*m, regular("/tmp/covguard-evil", b"x")],
        ["/tmp/covguard-evil: rejected member: an absolute path"],
    ),
    "a symlink member": (
        lambda m: [*m, _symlink(f"{PREFIX}/reports/passwd", "/etc/passwd")],
        [f"{PREFIX}/reports/passwd: rejected member: a symbolic link to /etc/passwd"],
    ),
    "a member outside the package folder": (
        lambda m: [*m, regular("elsewhere/readme.txt", b"x")],
        ["elsewhere/readme.txt: rejected member: outside the package folder"],
    ),
    "no manifest": (
        lambda m: drop(m, "manifest.intoto.json"),
        [f"{MANIFEST}: missing"],
    ),
    "a manifest of another predicate type": (
        lambda m: edit(
            m, "manifest.intoto.json", lambda d: d.replace(PREDICATE_TYPE.encode(), b"https://x/y")
        ),
        [f"{MANIFEST}: predicateType is 'https://x/y'"],
    ),
}


@pytest.mark.parametrize("case", list(TAMPER))
def test_tampering_is_rejected_naming_the_member(case: str, package: Path, tmp_path: Path) -> None:
    change, expected = TAMPER[case]
    bad = write_members(tmp_path / "bad.tar.gz", change(read_members(package)))
    message = rejected(bad)
    for text in expected:
        assert text in message


def _forge_findings(data: bytes) -> bytes:
    doc = json.loads(data)
    for f in doc["functions"]:
        if f["class"] == "rogue":
            f["class"] = "verified"
    doc["findings"] = [f for f in doc["findings"] if f["kind"] != "rogue"]
    return (json.dumps(doc, indent=2) + "\n").encode()


FORGED: dict[str, tuple[Callable[[list[Member]], list[Member]], list[str]]] = {
    "a report changed and re-hashed": (
        lambda m: edit(m, "reports/findings.json", _forge_findings),
        [
            f"{PREFIX}/reports/findings.json: the verdicts differ",
            'functions[2].class: "verified", re-derived "rogue"',
            "only when re-derived: {",
        ],
    ),
    "the JUnit report changed and re-hashed": (
        lambda m: edit(m, "reports/junit.xml", lambda d: d.replace(b'failures="0"', b'failures="1"', 1)),
        [f"{PREFIX}/reports/junit.xml: differs from the report re-rendered"],
    ),
    "one byte of the findings changed and re-hashed": (
        lambda m: edit(m, "reports/findings.json", flip_one_byte),
        [f"{PREFIX}/reports/findings.json: the verdicts differ"],
    ),
    "raw coverage data removed and re-hashed": (
        lambda m: [(i, d) for i, d in m if not i.name.endswith("/test_valve/from-0.cgcovs")],
        [
            "test_valve/from-0.cgcovs, which the package lacks",
            f"{PREFIX}/reports/findings.json: the verdicts differ",
        ],
    ),
    "a source changed and re-hashed": (
        lambda m: edit(
            m, "sources/src/valve.c", lambda d: d.replace(b"/* planted", b"/* @req EVD-1 */\n/* planted")
        ),
        [f"{PREFIX}/sources/src/valve.c: differs from the source that was compiled"],
    ),
    "the manifest's promise of a re-rendered report dropped": (
        lambda m: edit(m, "reports/junit.xml", lambda d: d.replace(b'failures="0"', b'failures="1"', 1)),
        [],  # see below: with the promise dropped, junit.xml is listed as digest-only instead
    ),
}


@pytest.mark.parametrize("case", [c for c in FORGED if FORGED[c][1]])
def test_forged_manifest_is_caught_by_the_rederivation(case: str, package: Path, tmp_path: Path) -> None:
    change, expected = FORGED[case]
    bad = write_members(tmp_path / "forged.tar.gz", forge_manifest(change(read_members(package))))
    message = rejected(bad)
    for text in expected:
        assert text in message


def test_a_dropped_promise_shows_as_digest_only(package: Path, tmp_path: Path) -> None:
    """What the check cannot prove: a forger who also edits the manifest's predicate can demote a
    report to 'digest only' - verify then says so instead of calling it re-derived."""

    def demote(predicate: dict[str, Any]) -> None:
        predicate["reports"]["rederived"].remove("reports/junit.xml")

    change, _ = FORGED["the manifest's promise of a re-rendered report dropped"]
    forged = write_members(tmp_path / "forged.tar.gz", forge_manifest(change(read_members(package)), demote))
    result = verify_evidence(forged)
    assert "reports/junit.xml" in result.digest_only
    assert "reports/junit.xml" not in result.rederived


def test_a_package_that_cannot_be_rederived_fails_unless_digests_are_accepted(
    package: Path, tmp_path: Path
) -> None:
    """Claiming an analysis that verify cannot re-derive (several runs) does not buy a pass."""

    def claim_two_runs(data: bytes) -> bytes:
        settings = json.loads(data)
        settings["analysis.runs"] = ["host-gcc", "cortex-m3-qemu"]
        return json.dumps(settings).encode()

    changed = edit(read_members(package), "config/settings.json", claim_two_runs)
    changed = edit(changed, "reports/findings.json", _forge_findings)
    forged = write_members(tmp_path / "forged.tar.gz", forge_manifest(changed))
    message = rejected(forged)
    assert f"{PREFIX}/reports/findings.json: the verdicts cannot be re-derived" in message
    assert "analysis.runs" in message
    accepted = verify_evidence(forged, digest_only=True)
    assert accepted.rederived == []
    assert "reports/findings.json" in accepted.digest_only
    assert any("NOT re-derived" in n for n in accepted.notes)


def test_verify_streams_without_a_seekable_file(package: Path) -> None:
    """The digest pass reads the archive as a stream: a pipe-like object is enough."""

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.source = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self.source.read(min(len(buffer), 4096))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    found = scan(Pipe(package.read_bytes()), "pipe")  # type: ignore[arg-type]
    assert not found.problems
    assert found.manifest is not None
    assert len(found.digests) == len(read_members(package))


def test_truncated_archive_is_an_input_error(package: Path, tmp_path: Path) -> None:
    data = package.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(EvidenceInputError) as caught:
        verify_evidence(cut)
    assert str(cut) in caught.value.render()
    with gzip.open(package) as g:  # the archive itself is a plain .tar.gz any tool reads
        assert g.read(512)[: len(PREFIX)] == PREFIX.encode()


# ---------------------------------------------------------------------------------------------
# export refuses what would not verify; symbolic links


def test_export_refuses_reports_that_do_not_follow_from_the_data(valve: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(valve.settings.output_dir, out)
    findings = out / "findings.json"
    findings.write_bytes(_forge_findings(findings.read_bytes()))
    settings = load_settings(valve.root / "covguard.toml", overrides={"output_dir": str(out)})
    with pytest.raises(InputError) as caught:
        export_evidence(settings, tmp_path / "stale.tar.gz", environ={})
    message = caught.value.render()
    assert "do not follow from the data" in message
    assert f"{PREFIX}/reports/findings.json: the verdicts differ" in message
    assert not (tmp_path / "stale.tar.gz").exists()


def test_export_refuses_sources_changed_since_the_build(tmp_path: Path) -> None:
    fresh = project_run(tmp_path, git=False)
    source = fresh.root / "src" / "valve.c"
    source.write_text(source.read_text() + "\n/* edited after the build */\n")
    with pytest.raises(InputError) as caught:
        export_evidence(fresh.settings, tmp_path / "x.tar.gz", environ={})
    assert "src/valve.c: changed after the build" in caught.value.render()


def test_a_source_linked_outside_the_root_is_never_copied(tmp_path: Path) -> None:
    fresh = project_run(tmp_path)
    secret = tmp_path / "outside" / "secret.h"
    secret.parent.mkdir()
    secret.write_text("/* TOP-SECRET-KEY 1234 */\n")
    (fresh.root / "tests" / "linked.h").symlink_to(secret)
    result = export_evidence(fresh.settings, tmp_path / "x.tar.gz", environ={})
    assert result.withheld == ["tests/linked.h"]
    data = {i.name: d for i, d in read_members(result.path)}
    assert f"{PREFIX}/sources/tests/linked.h" not in data
    assert not any(b"TOP-SECRET-KEY" in d for d in data.values())
    git = json.loads(data[f"{PREFIX}/vcs/git.json"])
    assert git["dirty"] is True
    assert "?? tests/linked.h" in git["status"]
    index = json.loads(data[f"{PREFIX}/index.json"])
    assert index["withheld"][0]["path"] == "tests/linked.h"
    assert verify_evidence(result.path).rederived == COVGUARD_REPORTS


def test_git_is_run_read_only(valve: Run) -> None:
    """Exporting never writes the firmware's repository (status without optional locks)."""
    index = valve.root / ".git" / "index"
    before = index.stat().st_mtime_ns
    git_state(valve.root, [valve.settings.work_dir])
    assert index.stat().st_mtime_ns == before
    assert subprocess.run(["git", "diff", "--quiet"], cwd=valve.root, check=False).returncode == 0
