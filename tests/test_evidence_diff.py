"""`covguard evidence diff`: two exports of the sample firmware, before and after a planted change
(a new rogue function, the fix of the failing test's product bug, a requirement removed), with the
real gcc, arm-none-eabi-gcc and make.  The comparison must list exactly those changes and what
follows from them, and nothing else.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.cli import main
from covguard.config import load_settings
from covguard.errors import EXIT_GATE_FAILED
from covguard.evidence import VerificationFailed, export_evidence
from covguard.evidence.diff import EvidenceDiff, Side, _justifications, _ledger, _ledger_key, diff_packages
from covguard.evidence.verify import VerifyResult
from tests.conftest import SAMPLE, require
from tests.test_evidence import edit, forge_manifest, read_members, write_members

ROGUE = """
/* service hook for the bench */
static uint32_t bolus_service_override(uint32_t units)
{
    return units;
}
"""


@dataclass
class Releases:
    old: Path
    new: Path
    diff: EvidenceDiff


def _plant(root: Path) -> None:
    bolus = root / "src" / "bolus.c"
    text = bolus.read_text()
    text = text.replace(
        "/*\n * Clamp a bolus to the maximum bolus.", ROGUE.lstrip("\n") + "\n/*\n * Clamp a bolus", 1
    )
    text = text.replace("uint32_t limited = units;", "uint32_t limited = bolus_service_override(units);", 1)
    bolus.write_text(text)
    basal = root / "src" / "basal.c"  # the README's defect 7, fixed
    basal.write_text(
        basal.read_text().replace("segment >= BASAL_SEGMENTS - 1u", "segment >= BASAL_SEGMENTS", 1)
    )
    requirements = root / "requirements.csv"
    lines = requirements.read_text().splitlines(keepends=True)
    requirements.write_text("".join(line for line in lines if not line.startswith("PUMP-SRS-022,")))


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    require("gcc", "make", "arm-none-eabi-gcc")
    tmp = tmp_path_factory.mktemp("releases")
    root = tmp / "fw"
    shutil.copytree(
        SAMPLE,
        root,
        ignore=shutil.ignore_patterns("covguard-work", "covguard-report", ".covguard", "demo-output*"),
    )
    settings = load_settings(root / "covguard.toml")
    assert api.run(settings).exit_code == EXIT_GATE_FAILED
    old = export_evidence(settings, tmp / "1.0.tar.gz", environ={}).path
    _plant(root)
    settings = load_settings(root / "covguard.toml")
    assert api.run(settings).exit_code == EXIT_GATE_FAILED
    new = export_evidence(settings, tmp / "1.1.tar.gz", environ={}).path
    return Releases(old, new, diff_packages(old, new))


def rows(diff: EvidenceDiff, section: str) -> set[tuple[str, str]]:
    return {(c.item, c.change) for c in diff.section(section)}


@pytest.mark.slow
def test_the_planted_changes_and_only_them(releases: Releases) -> None:
    d = releases.diff
    assert rows(d, "requirements") == {("PUMP-SRS-022", "removed"), ("PUMP-SRS-007", "status")}
    assert [c.detail for c in d.section("requirements") if c.item == "PUMP-SRS-007"] == [
        "failing -> verified"
    ]
    assert rows(d, "tests") == {("test_basal::rate_lookup_last_segment_2330_to_2400", "status")}
    assert [c.detail for c in d.section("tests")] == ["failed -> passed"]
    assert rows(d, "functions") == {("src/bolus.c::bolus_service_override", "added")}
    assert [c.detail for c in d.section("functions")] == ["rogue"]
    findings = {(c.change, c.item.split(" (")[0]) for c in d.section("findings")}
    assert findings == {
        ("new", "rogue bolus_service_override"),
        ("resolved", "failed_test PUMP-SRS-007"),
        ("resolved", "unimplemented_requirement PUMP-SRS-022"),
    }
    sources = {c.item: c.detail for c in d.section("sources")}
    assert set(sources) == {"src/bolus.c", "src/basal.c"}
    assert "basal_scheduled_rate: its tests did NOT change (tests/test_basal.c)" in sources["src/basal.c"]
    assert "bolus_service_override: no test verifies it" in sources["src/bolus.c"]
    assert "bolus_apply_limit: its tests did NOT change" in sources["src/bolus.c"]
    assert rows(d, "versions") == set()
    assert rows(d, "requirement coverage") == set()  # the rogue function is traced to nothing
    assert rows(d, "function coverage") == set()  # the fix moves no line in or out of a test's reach
    assert rows(d, "justifications") == set()
    assert rows(d, "gate") == set()  # failed before and after (the sample's other planted defects)
    regressions = {c.item.split(" (")[0] for c in d.regressions}
    assert regressions == {"rogue bolus_service_override"}


@pytest.mark.slow
def test_markdown_html_and_the_exit_code(
    releases: Releases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md, page = tmp_path / "diff.md", tmp_path / "diff.html"
    main(
        ["evidence", "diff", str(releases.old), str(releases.new), "--markdown", str(md), "--html", str(page)]
    )
    printed = capsys.readouterr().out
    assert printed == md.read_text()
    assert "| REGRESSION | rogue bolus_service_override" in printed
    assert "| PUMP-SRS-022 | removed | Delivery event log |" in printed
    html = page.read_text()
    assert "Content-Security-Policy" in html
    assert "<script" not in html
    assert "http://" not in html  # self-contained
    assert "https://" not in html
    assert '<tr class="regression"><td>regression</td><td>rogue bolus_service_override' in html
    main(
        ["evidence", "diff", str(releases.new), str(releases.new), "--fail-on-regression"]
    )  # no change: exit 0
    assert "0 changes, 0 regressions" in capsys.readouterr().out


@pytest.mark.slow
def test_both_packages_are_verified_first(releases: Releases, tmp_path: Path) -> None:
    def hide_rogue(data: bytes) -> bytes:
        return data.replace(b'"rogue"', b'"verified"')

    forged = write_members(
        tmp_path / "forged.tar.gz",
        forge_manifest(edit(read_members(releases.new), "reports/findings.json", hide_rogue)),
    )
    with pytest.raises(VerificationFailed) as caught:
        diff_packages(releases.old, forged)
    assert "forged.tar.gz" in caught.value.render()
    assert "the verdicts differ" in caught.value.render()


def _side(ledger: list[dict[str, Any]] | None, functions: list[dict[str, Any]] | None = None) -> Side:
    return Side(Path("x"), VerifyResult(Path("x"), 0), {}, {"functions": functions or []}, {}, ledger, {})


def test_justifications_from_a_ledger_member_and_without_one() -> None:
    """A package with a justification ledger (another covguard's member): added, renewed, gone
    stale, removed; a package without one: the functions' justifications compared instead."""
    old: list[dict[str, Any]] = [
        {"file": "src/a.c", "function": "f", "sha256": "1" * 64, "date": "2026-01-01", "state": "fresh"},
        {"file": "src/a.c", "function": "g", "sha256": "2" * 64, "date": "2026-01-01", "state": "fresh"},
        {"file": "src/a.c", "function": "h", "sha256": "3" * 64, "date": "2026-01-01", "state": "fresh"},
        {"key": "justify:src/b.c:k:defensive:1", "sha256": "4" * 64, "state": "fresh"},
    ]
    new: list[dict[str, Any]] = [
        {"file": "src/a.c", "function": "f", "sha256": "9" * 64, "date": "2026-06-01", "state": "fresh"},
        {"file": "src/a.c", "function": "g", "sha256": "2" * 64, "date": "2026-01-01", "state": "stale"},
        {"key": "justify:src/b.c:k:defensive:1", "sha256": "4" * 64, "state": "fresh"},
        {"file": "src/c.c", "lines": [3, 9], "category": "hardware", "reason": "ROM", "state": "fresh"},
    ]
    changes = {(c.item, c.change, c.regression) for c in _justifications(_side(old), _side(new))}
    assert changes == {
        ("src/a.c::f", "renewed", False),
        ("src/a.c::g", "gone stale", True),
        ("src/a.c::h", "removed", False),
        ("src/c.c::lines [3, 9]", "added", False),
    }
    appeared = {c.change for c in _justifications(_side(None), _side(new))}
    assert appeared == {"added", "gone stale"}  # a ledger appears, one of its entries already stale
    before = [{"file": "src/a.c", "function": "f", "justification": "defensive: unreachable default"}]
    after = [{"file": "src/a.c", "function": "f", "justification": None}]
    assert [(c.item, c.change) for c in _justifications(_side(None, before), _side(None, after))] == [
        ("src/a.c::f", "removed")
    ]


def test_the_ledger_member_is_read_as_json_or_as_the_ledger_file(tmp_path: Path) -> None:
    (tmp_path / "justifications").mkdir()
    (tmp_path / "justifications" / "ledger.toml").write_text(
        '[[justification]]\nfile = "src/a.c"\nfunction = "f"\nsha256 = "' + "1" * 64 + '"\n'
        '[[recorded]]\nkey = "justify:src/b.c:g:defensive:1"\nsha256 = "' + "2" * 64 + '"\n'
    )
    (tmp_path / "justifications" / "states.json").write_text(
        json.dumps({"entries": [{"key": "k", "state": "stale"}]})
    )
    (tmp_path / "justifications" / "broken.json").write_text("{not json")
    names = ["justifications/ledger.toml", "justifications/states.json", "justifications/broken.json"]
    entries = _ledger(tmp_path, names)
    assert entries is not None
    assert sorted(_ledger_key(e) for e in entries) == ["justify:src/b.c:g:defensive:1", "k", "src/a.c::f"]
    assert _ledger(tmp_path, ["reports/findings.json"]) is None  # no ledger member: None, not an error
