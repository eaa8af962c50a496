"""Hostile packages and shards, built for real: nothing is written outside the scratch or work
folder, nothing runs, and the message names the file and the field (issue "trust").

Every attack aims at a canary folder under the test's tmp_path; the test asserts the canary stays
empty, the exit code, and the message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from covguard.cli import main
from covguard.errors import EXIT_GATE_FAILED
from covguard.evidence import export_evidence
from covguard.evidence.layout import PREFIX
from tests.test_evidence import Member, edit, forge_manifest, project_run, read_members, write_members

DEEP = "/".join([".."] * 24)  # enough '..' to reach / from any scratch folder


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evidence fixture project's package (built, tested, analysed and exported for real)."""
    valve = project_run(tmp_path_factory.mktemp("trust"))
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
