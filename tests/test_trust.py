"""Hostile packages and shards, built for real: nothing is written outside the scratch or work
folder, nothing runs, and the message names the file and the field (issue "trust").

Every attack aims at a canary folder under the test's tmp_path; the test asserts the canary stays
empty, the exit code, and the message.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from bench.generate import Spec, generate
from covguard import api
from covguard.cli import main
from covguard.config import load_settings
from covguard.errors import EXIT_GATE_FAILED, EXIT_INFRASTRUCTURE, EXIT_USAGE, CovguardError
from covguard.evidence import VerificationFailed, export_evidence, verify_evidence
from covguard.evidence.layout import PREFIX
from tests.conftest import FIXTURES, SAMPLE, covguard, require
from tests.test_evidence import Member, Run, edit, forge_manifest, project_run, read_members, write_members

EVIDENCE_PROJECT = FIXTURES / "evidence" / "project"
DEEP = "/".join([".."] * 24)  # enough '..' to reach / from any scratch folder


@pytest.fixture(scope="module")
def valve(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The evidence fixture project, built, tested and analysed for real."""
    return project_run(tmp_path_factory.mktemp("trust"))


@pytest.fixture(scope="module")
def package(valve: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Its evidence package."""
    path = tmp_path_factory.mktemp("package") / "valve-evidence.tar.gz"
    export_evidence(valve.settings, path, environ={})
    return path


def _index_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[list[Member]], list[Member]]:
    def apply(members: list[Member]) -> list[Member]:
        def rewrite(data: bytes) -> bytes:
            doc = json.loads(data)
            change(doc)
            return (json.dumps(doc, indent=2) + "\n").encode()

        return edit(members, "index.json", rewrite)

    return apply


def _git_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[list[Member]], list[Member]]:
    def apply(members: list[Member]) -> list[Member]:
        def rewrite(data: bytes) -> bytes:
            doc = json.loads(data)
            change(doc)
            return (json.dumps(doc, indent=2) + "\n").encode()

        return edit(members, "vcs/git.json", rewrite)

    return apply


def _set_requirement(key: str, value: Callable[[str, Path], str]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        origin = doc["origin"]
        origin["requirements"][0][key] = value(origin["root"], CANARY_HOLDER[0])

    return change


CANARY_HOLDER: list[Path] = []  # the current test's canary folder (set by the fixture)


def _escape(root: str, canary: Path) -> str:
    return f"{root}/{DEEP}{canary}"


def _set_origin(key: str, value: Callable[[str, Path], Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["origin"][key] = value(doc["origin"]["root"], CANARY_HOLDER[0])

    return change


VERIFY_ATTACKS: dict[str, tuple[Callable[[list[Member]], list[Member]], str]] = {
    "requirement file written through '..' in requirements[].original": (
        _index_edit(_set_requirement("original", lambda r, c: _escape(r, c) + "/req.csv")),
        "a requirement file's 'original'",
    ),
    "an arbitrary file copied through '..' in requirements[].member": (
        _index_edit(_set_requirement("member", lambda r, c: f"{DEEP}/etc/passwd")),
        "a requirement file's 'member'",
    ),
    "an absolute requirements[].member": (
        _index_edit(_set_requirement("member", lambda r, c: "/etc/passwd")),
        "a requirement file's 'member' /etc/passwd is refused: an absolute path",
    ),
    "a .pth file through config_path": (
        _index_edit(_set_origin("config_path", lambda r, c: _escape(r, c) + "/evil.pth")),
        "'origin.config_path'",
    ),
    "every source dropped into a folder through origin.root": (
        _index_edit(_set_origin("root", lambda r, c: f"{r}/{DEEP}{c}/..")),
        "'origin.root'",
    ),
    "the work folder moved through origin.work_dir": (
        _index_edit(_set_origin("work_dir", _escape)),
        "'origin.work_dir'",
    ),
    "the project placed through vcs/git.json toplevel": (
        _git_edit(lambda g: g.__setitem__("toplevel", f"{CANARY_HOLDER[0]}/{DEEP}/x")),
        "'toplevel'",
    ),
    "a relative root with '..' below the checkout": (
        _index_edit(_set_origin("root", lambda r, c: "../../../" + str(c).lstrip("/"))),
        "'origin.root'",
    ),
    "an external record read through '..'": (
        _index_edit(_set_origin("external", lambda r, c: {"/x": f"{DEEP}/etc/passwd"})),
        "an 'origin.external' member",
    ),
}


@pytest.mark.parametrize("case", list(VERIFY_ATTACKS))
def test_a_hostile_index_writes_nothing_outside(
    case: str, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    CANARY_HOLDER[:] = [canary]
    change, expected = VERIFY_ATTACKS[case]
    bad = write_members(tmp_path / "hostile.tar.gz", forge_manifest(change(read_members(package))))
    with pytest.raises(SystemExit) as exited:
        main(["evidence", "verify", str(bad)])
    err = capsys.readouterr().err
    assert exited.value.code == EXIT_GATE_FAILED, err
    assert list(canary.rglob("*")) == [], "written outside the scratch folder"
    assert "Traceback" not in err
    assert f"{PREFIX}/" in err
    assert expected in err, err
    assert "refused" in err


# ---------------------------------------------------------------------------------------------
# covguard merge: hostile shards


@dataclass
class Shards:
    project: Path
    shards: list[Path]  # the work areas of shard 1/2 and 2/2


@pytest.fixture(scope="module")
def two_shards(tmp_path_factory: pytest.TempPathFactory) -> Shards:
    require("gcc", "make")
    tmp = tmp_path_factory.mktemp("shards")
    project = tmp / "firmware"
    spec = Spec(functions=8, tests=4, functions_per_module=4, functions_per_requirement=2, failing_every=2)
    generate(spec, project)
    work = tmp / "work"
    settings = load_settings(project / "covguard.toml", overrides={"work_dir": str(work)})
    api.build(settings)
    shards = []
    for k in (1, 2):
        api.test(settings.with_overrides(**{"test.shard": f"{k}/2"}))
        shard = tmp / "shards" / str(k)
        shutil.copytree(work / "host-gcc", shard)
        shards.append(shard)
    return Shards(project, shards)


def _merge(project: Path, tmp: Path, *shards: Path, **extra: Any) -> CovguardError:
    settings = load_settings(
        project / "covguard.toml",
        overrides={"work_dir": str(tmp / "merged"), "output_dir": str(tmp / "out"), **extra},
    )
    with pytest.raises(CovguardError) as caught:
        api.merge(settings, list(shards))
    return caught.value


def _tarred(folder: Path, into: Path, extra: Callable[[tarfile.TarFile], None] | None = None) -> Path:
    with tarfile.open(into, "w:gz") as tar:
        tar.add(folder, arcname=".")
        if extra is not None:
            extra(tar)
    return into


def _hostile_copy(shard: Path, tmp: Path) -> Path:
    copy = tmp / "hostile-shard"
    shutil.copytree(shard, copy)
    return copy


def _results(shard: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = shard / "results.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def test_merge_refuses_a_label_that_leaves_the_run_folder(two_shards: Shards, tmp_path: Path) -> None:
    """The reported attack: a label with '../' and a relative symbolic link in the shard archive."""
    canary = tmp_path / "canary"
    canary.mkdir()
    shard = _hostile_copy(two_shards.shards[0], tmp_path)
    label = json.loads((shard / "results.json").read_text())["runs"][0]["label"]
    evil = "../../../../../../../../../../../../" + str(canary).lstrip("/") + "/pkg"

    def relabel(doc: dict[str, Any]) -> None:
        for r in doc["runs"]:
            if r["label"] == label:
                r["label"] = evil

    _results(shard, relabel)
    (shard / "run" / "coverage" / "link").symlink_to(label)  # relative, inside the shard
    archive = _tarred(shard, tmp_path / "shard1.tar.gz")
    error = _merge(two_shards.project, tmp_path, archive, two_shards.shards[1])
    assert error.exit_code == EXIT_USAGE
    assert "a member run/coverage/link is refused: not a regular file or folder (a link to" in error.render()
    (shard / "run" / "coverage" / "link").unlink()
    error = _merge(two_shards.project, tmp_path, shard, two_shards.shards[1])
    assert error.exit_code == EXIT_USAGE
    assert "the test executable label ../../" in error.render()
    assert "is refused: a '..' part" in error.render()
    assert str(shard / "results.json") in error.render()
    assert list(canary.rglob("*")) == []


def test_merge_refuses_a_symbolic_link_in_a_shard_folder(two_shards: Shards, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.gcda"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    shard = _hostile_copy(two_shards.shards[0], tmp_path)
    label = json.loads((shard / "results.json").read_text())["runs"][0]["label"]
    (shard / "run" / "coverage" / label / "stolen.gcda").symlink_to(secret)
    error = _merge(two_shards.project, tmp_path, shard, two_shards.shards[1])
    assert error.exit_code == EXIT_USAGE
    assert "stolen.gcda is refused: a symbolic link or special file" in error.render()
    assert secret.stat().st_nlink == 1  # never hard-linked into the merged run
    assert not (tmp_path / "merged" / "host-gcc" / "run").exists()


def test_merge_refuses_paths_outside_the_shards_run_folder(two_shards: Shards, tmp_path: Path) -> None:
    shard = _hostile_copy(two_shards.shards[0], tmp_path)
    _results(shard, lambda d: d["units"].update({next(iter(d["units"])): "/etc"}))
    error = _merge(two_shards.project, tmp_path, shard, two_shards.shards[1])
    assert error.exit_code == EXIT_USAGE
    assert "/etc is refused: it is not inside the shard's run folder" in error.render()


@pytest.mark.parametrize(
    ("limit", "value", "extra", "expected"),
    [
        ("limits.member_bytes", 4096, None, "over the limit on the size of one member (4096)"),
        ("limits.members", 5, None, "has more than 5 members: over the limit on the number of members"),
        ("limits.total_bytes", 2048, None, "over the limit on the total size of the members, unpacked"),
        (None, None, "device", "is refused: not a regular file or folder (a device or FIFO)"),
        (None, None, "absolute", "a member /tmp/evil is refused: an absolute path"),
    ],
)
def test_merge_bounds_a_shard_archive_before_unpacking(
    two_shards: Shards, tmp_path: Path, limit: str | None, value: int | None, extra: str | None, expected: str
) -> None:
    def add(tar: tarfile.TarFile) -> None:
        if extra == "device":
            info = tarfile.TarInfo("run/null")
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 3
            tar.addfile(info)
        elif extra == "absolute":
            info = tarfile.TarInfo("/tmp/evil")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        else:
            info = tarfile.TarInfo("run/big.bin")
            info.size = 1 << 20
            tar.addfile(info, io.BytesIO(bytes(1 << 20)))

    archive = _tarred(two_shards.shards[0], tmp_path / "shard1.tar.gz", add)
    overrides = {limit: value} if limit else {}
    error = _merge(two_shards.project, tmp_path, archive, two_shards.shards[1], **overrides)
    assert error.exit_code == EXIT_USAGE
    assert str(archive) in error.render()
    assert expected in error.render(), error.render()
    assert not (tmp_path / "merged" / "host-gcc" / "merge-unpacked").exists()


def test_a_variant_that_is_a_path_is_refused(tmp_path: Path) -> None:
    """`--set 'variant="x/../../../somewhere"'` with `build --clean` deleted an arbitrary folder."""
    require("gcc", "make")
    project = tmp_path / "firmware"
    generate(Spec(functions=4, tests=2, functions_per_module=4), project)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    proc = covguard("build", "--clean", "--set", 'variant="x/../../../precious"', cwd=project)
    assert proc.returncode == EXIT_USAGE
    assert "'variant' = 'x/../../../precious' is not a plain name" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (precious / "keep.txt").read_text() == "keep"
    # a work area that is a symbolic link out of the work folder is not deleted through it either
    (project / ".covguard").mkdir()
    (project / ".covguard" / "host-gcc").symlink_to(precious)
    proc = covguard("build", "--clean", cwd=project)
    assert proc.returncode == EXIT_USAGE
    assert "the toolchain work area host-gcc is refused: it leads outside" in proc.stderr
    assert (precious / "keep.txt").read_text() == "keep"


# ---------------------------------------------------------------------------------------------
# coverage.py's SQLite data in a package: read-only, no trigger runs


@pytest.fixture(scope="module")
def mixed_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C + Python fixture project run for real and exported (its package holds coverage.py data)."""
    from tests.test_python_items import copy_mixed

    require("gcc", "make")
    project = copy_mixed(tmp_path_factory.mktemp("mixed"))
    settings = load_settings(project / "covguard.toml")
    api.run(settings)
    path = tmp_path_factory.mktemp("mixed-package") / "mixed.tar.gz"
    export_evidence(settings, path, environ={})
    return path


def _with_sql(members: list[Member], tmp: Path, sql: str) -> list[Member]:
    out = []
    for info, data in members:
        if data[:16] == b"SQLite format 3\0":
            db_path = tmp / "data.sqlite"
            db_path.write_bytes(data)
            db = sqlite3.connect(db_path)
            db.executescript(sql)
            db.commit()
            db.close()
            out.append((info, db_path.read_bytes()))
        else:
            out.append((info, data))
    return out


HANG = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.mark.parametrize(
    ("sql", "code", "expected"),
    [
        (f"CREATE TRIGGER hang BEFORE UPDATE ON file BEGIN SELECT ({HANG}); END;", 0, "verified:"),
        (f"CREATE TRIGGER hang2 BEFORE INSERT ON file BEGIN SELECT ({HANG}); END;", 0, "verified:"),
        (
            "ALTER TABLE file RENAME TO file_real; "
            f"CREATE VIEW file AS SELECT id, path FROM file_real, ({HANG});",
            EXIT_GATE_FAILED,
            "not a coverage.py data file",
        ),
    ],
)
def test_sqlite_data_in_a_package_runs_no_trigger(
    mixed_package: Path, tmp_path: Path, sql: str, code: int, expected: str
) -> None:
    members = read_members(mixed_package)
    assert any(d[:16] == b"SQLite format 3\0" for _, d in members)
    bad = write_members(tmp_path / "trigger.tar.gz", forge_manifest(_with_sql(members, tmp_path, sql)))
    proc = subprocess.run(
        [sys.executable, "-m", "covguard", "evidence", "verify", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,  # the trigger made verify hang forever
        check=False,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert expected in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# evidence packages: bounds checked while streaming, before anything is unpacked; names shown safely


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def verify_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    """``covguard evidence verify PATH ARGS`` through the command line's entry point."""

    def call(path: Path, *args: str) -> Outcome:
        try:
            main(["evidence", "verify", str(path), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Outcome(code, out.out, out.err)

    return call


def test_a_huge_member_is_refused_from_its_header(tmp_path: Path, verify_cli: Callable[..., Outcome]) -> None:
    """A few hundred bytes that claim a 5 GiB member: refused before a byte of it is read."""
    info = tarfile.TarInfo(f"{PREFIX}/results/run/logs/huge.txt")
    info.size = 5 << 30
    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(info.tobuf(format=tarfile.PAX_FORMAT))
        out.write(bytes(1 << 16))  # the start of the data only
    proc = verify_cli(bomb)
    assert proc.returncode == EXIT_USAGE
    assert "the member covguard-evidence/results/run/logs/huge.txt of 5368709120 bytes: over the limit" in (
        proc.stderr
    )
    assert "--limit member_bytes=N" in proc.stderr
    assert "Traceback" not in proc.stderr


def _many(path: Path, count: int, name: Callable[[int], str]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i in range(count):
            info = tarfile.TarInfo(name(i))
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return path


def test_too_many_members_and_the_problems_are_bounded(
    tmp_path: Path, verify_cli: Callable[..., Outcome]
) -> None:
    many = _many(tmp_path / "many.tar.gz", 3000, lambda i: f"elsewhere/{i}.txt")
    proc = verify_cli(many, "--limit", "members=2000")
    assert proc.returncode == EXIT_USAGE
    assert "has more than 2000 members: over the limit on the number of members (2000)" in proc.stderr
    proc = verify_cli(many)  # within the default count: every member is a problem, 50 are listed
    assert proc.returncode == EXIT_GATE_FAILED
    assert "does not verify (3001 problems)" in proc.stderr
    assert "... and 2951 more problems (not listed: limits.problems = 50)" in proc.stderr
    assert len(proc.stderr.splitlines()) < 60
    proc = verify_cli(many, "--limit", "problems=5", "--limit", "total_bytes=1")
    assert proc.returncode == EXIT_USAGE
    assert "over the limit on the total size of the members, unpacked (1)" in proc.stderr
    proc = verify_cli(many, "--limit", "members")
    assert proc.returncode == EXIT_USAGE
    assert "--limit 'members': not KEY=N" in proc.stderr


@pytest.mark.parametrize("trick", ["\nverified: all good", "\u202etxt.exe", "\x1b[2Kok"])
def test_member_names_cannot_forge_lines_of_output(
    tmp_path: Path, trick: str, verify_cli: Callable[..., Outcome]
) -> None:
    path = _many(tmp_path / "names.tar.gz", 1, lambda i: f"{PREFIX}/reports/x{trick}")
    proc = verify_cli(path)
    assert proc.returncode == EXIT_GATE_FAILED
    assert "rejected member: a name with a control or formatting character" in proc.stderr
    assert trick not in proc.stderr + proc.stdout
    assert not any(line.startswith("verified") for line in (proc.stdout + proc.stderr).splitlines())
    escaped = trick.encode("unicode_escape").decode().replace("\\x1b", "\\u001b")
    assert f"{PREFIX}/reports/x{escaped}" in proc.stderr


# ---------------------------------------------------------------------------------------------
# a work folder built for another project root


def test_a_work_folder_built_for_another_root_is_refused(tmp_path: Path) -> None:
    require("gcc", "make")
    original = tmp_path / "original"
    generate(Spec(functions=8, tests=4, functions_per_module=4, functions_per_requirement=2), original)
    assert covguard("build", cwd=original).returncode == 0
    assert covguard("test", cwd=original).returncode in (0, 1)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)  # the project together with its .covguard
    rogue = copy / "src" / "backdoor.c"
    rogue.write_text("int backdoor(int x) { return x ^ 0x5a; }\n")
    for command in (["analyse"], ["test"], ["build"], ["run"]):
        proc = covguard(*command, cwd=copy)
        assert proc.returncode == EXIT_INFRASTRUCTURE, (command, proc.stdout + proc.stderr)
        assert f"this work folder was built for another project root, {original}, not {copy}" in proc.stderr
        assert "covguard build --clean" in proc.stderr
        assert "Traceback" not in proc.stderr
    proc = covguard("run", "--clean", cwd=copy)
    assert proc.returncode == EXIT_GATE_FAILED, proc.stdout + proc.stderr
    findings = json.loads((copy / "covguard-report" / "findings.json").read_text())
    assert any(f["kind"] == "rogue" and f["file"] == "src/backdoor.c" for f in findings["findings"])


# ---------------------------------------------------------------------------------------------
# writing to '-', a device or a FIFO: through, never replacing it


def test_export_to_stdout_a_device_and_a_fifo(valve: Run, package: Path, tmp_path: Path) -> None:
    config = str(valve.root / "covguard.toml")
    proc = subprocess.run(
        [sys.executable, "-m", "covguard", "evidence", "export", "--config", config, "--output", "-"],
        capture_output=True,
        check=False,
        env={**os.environ, "SOURCE_DATE_EPOCH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == package.read_bytes()  # the archive alone, byte for byte
    assert b"evidence package: (standard output)" in proc.stderr
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a null device of our own
    export_evidence(valve.settings, device, environ={})
    assert stat.S_ISCHR(device.stat().st_mode)  # still the device, not a regular file
    assert list(tmp_path.iterdir()) == [device]  # no temporary file left beside it
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    export_evidence(valve.settings, fifo, environ={})
    reader.join(timeout=60)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got == [package.read_bytes()]


# ---------------------------------------------------------------------------------------------
# output injection: requirement titles, failure messages and file names in the reports

EVIL_TITLE = "![px](https://evil.example/p.png) [click](https://evil.example/x) <img src=x> www.evil.example"
EVIL_MESSAGE = "boom \\x1b[31m [x](https://evil.example/a) \\x01 `tick`"


def test_untrusted_text_cannot_inject_markup_into_the_reports(tmp_path: Path) -> None:
    require("gcc", "make")
    root = tmp_path / "valve"
    shutil.copytree(EVIDENCE_PROJECT, root)
    reqs = root / "requirements.csv"
    reqs.write_text(
        reqs.read_text().replace("Open the valve up to the commanded position", f'"{EVIL_TITLE}"')
    )
    test = root / "tests" / "test_valve.c"
    test.write_text(
        test.read_text().replace(
            "CG_MAIN()", f'CG_TEST(injects, "EVD-2")\n{{\n    CG_FAIL("{EVIL_MESSAGE}");\n}}\n\nCG_MAIN()'
        )
    )
    (root / "src" / "we`ird.c").write_text("int weird_backdoor(int x) { return x + 1; }\n")
    make = root / "Makefile"
    make.write_text(
        make.read_text()
        .replace("-c $< -o $@", "-c '$<' -o '$@'")
        .replace("$(LDFLAGS) $^ -o $@", "$(LDFLAGS) $(foreach f,$^,'$(f)') -o '$@'")
    )
    settings = load_settings(root / "covguard.toml")
    outcome = api.run(settings)
    assert outcome.exit_code == EXIT_GATE_FAILED
    out = settings.output_dir
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "](http" not in md.replace("\\](http", "")  # no link or image
    assert "![" not in md.replace("!\\[", "")
    assert "<img" not in md
    assert "https://" not in md  # no bare URL GitHub would link
    assert "www.evil" not in md
    assert "\\[click\\]" in md
    assert "``src/we`ird.c:1``" in md  # the backtick stays inside its code span
    sarif = json.loads((out / "covguard.sarif").read_text(encoding="utf-8"))
    results = sarif["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert any(u.endswith("src/we%60ird.c") for u in uris), uris
    texts = [r["message"]["text"] for r in results]
    assert any("\\[x\\](https://evil.example/a)" in t for t in texts), texts
    assert not any("[x](" in t for t in texts)
    junit = etree.parse(str(out / "junit.xml"))  # XML-valid although the message held control characters
    failure = junit.find(".//testcase[@name='injects']/failure")
    assert failure is not None
    assert "boom \\u001b[31m" in failure.get("message", "")
    assert "\\u0001" in failure.get("message", "")


def test_a_source_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """A source named with a Latin-1 byte: the build, the analysis, every report and the evidence
    package handle it (today: a crash writing compile_commands.json)."""
    require("gcc", "make")
    root = tmp_path / "valve"
    shutil.copytree(EVIDENCE_PROJECT, root)
    (root / b"src/caf\xe9.c".decode("utf-8", "surrogateescape")).write_bytes(
        b"int cafe_backdoor(int x) { return x * 2; }\n"
    )
    settings = load_settings(root / "covguard.toml", overrides={"report.gcovr": []})
    outcome = api.run(settings)
    assert outcome.exit_code == EXIT_GATE_FAILED
    area = settings.toolchain_dir()
    for record in (area / "compile_commands.json", area / "build.json"):
        json.loads(record.read_bytes().decode("utf-8"))  # valid UTF-8 JSON
    commands = json.loads((area / "compile_commands.json").read_text(encoding="utf-8"))
    assert any(c["file"].endswith("src/caf\udce9.c") for c in commands)  # the name, byte for byte
    out = settings.output_dir
    for report in out.iterdir():
        if report.suffix in (".json", ".sarif", ".md", ".html", ".xml", ".csv"):
            report.read_bytes().decode("utf-8")  # every report is valid UTF-8
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert any(f["kind"] == "rogue" and f["file"] == "src/caf\udce9.c" for f in findings["findings"])
    assert "`src/caf\\xe9.c:1`" in (out / "summary.md").read_text(encoding="utf-8")
    sarif = (out / "covguard.sarif").read_text(encoding="utf-8")
    assert "src/caf%E9.c" in sarif
    package = export_evidence(settings, tmp_path / "e.tar.gz", environ={})
    assert "reports/findings.json" in package.rederived
    verified = api.verify_evidence(package.path)
    assert "reports/findings.json" in verified.rederived


# ---------------------------------------------------------------------------------------------
# results.json is derived data: merge and verify re-derive the verdicts from the raw test output


def test_merge_refuses_results_that_turn_a_failure_into_a_pass(two_shards: Shards, tmp_path: Path) -> None:
    def failed_in(shard: Path) -> list[dict[str, Any]]:
        cases: list[dict[str, Any]] = json.loads((shard / "results.json").read_text())["cases"]
        return [c for c in cases if c["status"] == "failed"]

    k = next(i for i, shard in enumerate(two_shards.shards) if failed_in(shard))
    failed = failed_in(two_shards.shards[k])
    victim = failed[0]["test"]
    copy = _hostile_copy(two_shards.shards[k], tmp_path)

    def forge(doc: dict[str, Any]) -> None:
        for c in doc["cases"]:
            if c["test"] == victim:
                c["status"], c["message"] = "passed", ""

    _results(copy, forge)
    others = [s for i, s in enumerate(two_shards.shards) if i != k]
    error = _merge(two_shards.project, tmp_path, copy, *others)
    assert error.exit_code == EXIT_USAGE
    text = error.render()
    assert str(copy / "results.json") in text
    assert f"test '{victim}' is passed in the results, but the raw output says failed" in text
    assert not (tmp_path / "merged" / "host-gcc" / "results.json").exists()
    # an invented test that verifies a requirement
    copy2 = _hostile_copy(two_shards.shards[k], tmp_path / "b")

    def invent(doc: dict[str, Any]) -> None:
        first = doc["cases"][0]
        label = first["test"].split("::")[0]
        doc["cases"].append({**first, "test": f"{label}::invented", "name": "invented", "status": "passed"})

    _results(copy2, invent)
    error = _merge(two_shards.project, tmp_path / "b", copy2, *others)
    assert "::invented' is passed in the results, but its executable's output" in error.render()


def _results_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[list[Member]], list[Member]]:
    def apply(members: list[Member]) -> list[Member]:
        def rewrite(data: bytes) -> bytes:
            doc = json.loads(data)
            change(doc)
            return (json.dumps(doc, indent=2) + "\n").encode()

        return edit(members, "results/results.json", rewrite)

    return apply


def _log_edit(members: list[Member]) -> list[Member]:
    return [
        (i, d.replace(b"close_above_limit\tPASS", b"close_above_limit\tFAIL"))
        if i.name.endswith("/logs/test_valve/stdout.0.txt")
        else (i, d)
        for i, d in members
    ]


def _add_verifies(doc: dict[str, Any]) -> None:
    doc["cases"][0]["verifies"] = ["EVD-1", "EVD-2"]


def _invent(doc: dict[str, Any]) -> None:
    doc["cases"].append(
        {**doc["cases"][0], "test": "test_valve::sneaky", "name": "sneaky", "verifies": ["EVD-2"]}
    )


RAW_ATTACKS: dict[str, tuple[Callable[[list[Member]], list[Member]], str]] = {
    "the raw output says FAIL, results.json says passed": (
        _log_edit,
        "test 'test_valve::close_above_limit' is passed in the results, but the raw output says failed",
    ),
    "a requirement added to a passing test": (
        _results_edit(_add_verifies),
        "test 'test_valve::open_clamps_to_limit' verifies EVD-1, EVD-2 in the results, but the raw output "
        "declares EVD-1",
    ),
    "an invented passing test": (
        _results_edit(_invent),
        "test 'test_valve::sneaky' is passed in the results, but its executable's output",
    ),
}


@pytest.mark.parametrize("case", list(RAW_ATTACKS))
def test_verify_rederives_results_from_the_raw_output(case: str, package: Path, tmp_path: Path) -> None:
    change, expected = RAW_ATTACKS[case]
    bad = write_members(tmp_path / "forged.tar.gz", forge_manifest(change(read_members(package))))
    with pytest.raises(VerificationFailed) as caught:
        verify_evidence(bad)
    text = caught.value.render()
    assert f"{PREFIX}/results/results.json: the results do not follow from the raw test output" in text
    assert expected in text, text


def test_a_product_record_naming_a_file_outside_the_package(sample_run: Any, tmp_path: Path) -> None:
    """The product build's record makes the analysis read the image, the map and the call-graph
    dumps: in a package they must be files of the package."""
    out = sample_run.outputs["findings"].parent
    settings = load_settings(
        SAMPLE / "covguard.toml", overrides={"work_dir": str(out.parent / "work"), "output_dir": str(out)}
    )
    package = export_evidence(settings, tmp_path / "sample.tar.gz", environ={}).path
    verify_evidence(package)  # the genuine package verifies

    def elsewhere(data: bytes) -> bytes:
        doc = json.loads(data)
        doc["map"] = "/etc/passwd"
        return json.dumps(doc).encode()

    bad = write_members(
        tmp_path / "bad.tar.gz",
        forge_manifest(edit(read_members(package), "product/product.json", elsewhere)),
    )
    with pytest.raises(VerificationFailed) as caught:
        verify_evidence(bad)
    assert (
        "product/product.json: names /etc/passwd, a file outside the package: refused"
        in caught.value.render()
    )


def test_a_forged_tool_name_cannot_print_a_line(
    package: Path, tmp_path: Path, verify_cli: Callable[..., Outcome]
) -> None:
    def retool(data: bytes) -> bytes:
        doc = json.loads(data)
        doc["tool"] = "covguard 9\nverified: everything\u202e"
        return (json.dumps(doc, indent=2) + "\n").encode()

    bad = write_members(
        tmp_path / "tool.tar.gz", forge_manifest(edit(read_members(package), "reports/findings.json", retool))
    )
    proc = verify_cli(bad, "--digest-only")
    printed = proc.stdout + proc.stderr
    assert "verified: everything" not in printed.replace("\\nverified: everything", "")
    assert "\u202e" not in printed
    assert "covguard 9\\nverified: everything\\u202e" in printed
