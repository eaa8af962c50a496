"""`covguard test --shard K/N` and `covguard merge`, with the real gcc and make on a generated
firmware: any order and grouping of the shards gives the same findings.json, the merged run finds
what an unsharded run finds, and shards of another build, another source revision, a missing or
a repeated shard are refused with a message that names them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.generate import Spec, generate
from covguard import api
from covguard.config import Settings, load_settings
from covguard.errors import ConfigError, CoverageDataError, InputError
from covguard.options import report_options
from covguard.report.outputs import write_outputs
from tests.conftest import require

N = 3


@dataclass
class Sharded:
    project: Path
    tmp: Path
    work: Path  # the work folder of the one build every shard ran on
    shards: list[Path]  # shards[k - 1] is the work area of shard k/N
    whole: dict[str, Any]  # findings.json of an unsharded run on the same build


def settings_for(project: Path, work: Path, out: Path, **extra: Any) -> Settings:
    return load_settings(
        project / "covguard.toml",
        overrides={"work_dir": str(work), "output_dir": str(out), **extra},
    )


def findings_after_merge(s: Sharded, name: str, shards: list[Path], partial: bool = False) -> bytes:
    settings = settings_for(s.project, s.tmp / f"merge-{name}", s.tmp / f"out-{name}")
    merged = api.merge(settings, shards, partial=partial)
    analysis = api.analyse(settings, results=merged)
    outputs = write_outputs(report_options(settings), analysis, api.gate(settings, analysis))
    return outputs["findings"].read_bytes()


def without_durations(doc: dict[str, Any]) -> dict[str, Any]:
    for t in doc["tests"]:
        t["duration_s"] = None
    return doc


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Sharded:
    require("gcc", "make")
    tmp = tmp_path_factory.mktemp("merge")
    project = tmp / "firmware"
    generate(Spec(functions=160, tests=60, functions_per_module=20, failing_every=25), project)
    work = tmp / "work"
    settings = settings_for(project, work, tmp / "out-whole")
    api.build(settings)
    api.test(settings)
    analysis = api.analyse(settings)
    whole = json.loads(
        write_outputs(report_options(settings), analysis, api.gate(settings, analysis))[
            "findings"
        ].read_text()
    )
    shards: list[Path] = []
    for k in range(1, N + 1):
        api.test(settings_for(project, work, tmp / "out-shard", **{"test.shard": f"{k}/{N}"}))
        shard = tmp / "shards" / str(k)
        shutil.copytree(work / "host-gcc", shard)  # what a CI job uploads: its work area
        shards.append(shard)
    return Sharded(project, tmp, work, shards, whole)


def test_shards_split_the_executables(sharded: Sharded) -> None:
    labels: list[set[str]] = []
    for shard in sharded.shards:
        results = json.loads((shard / "results.json").read_text())
        labels.append({r["label"] for r in results["runs"]})
        assert results["shards"] == [f"{sharded.shards.index(shard) + 1}/{N}"]
    assert all(labels)
    assert not labels[0] & labels[1]
    assert not labels[1] & labels[2]
    assert not labels[0] & labels[2]
    everything = {t["executable"].rsplit("/", 1)[-1] for t in sharded.whole["tests"]}
    assert set().union(*labels) == everything


def test_any_order_and_grouping_gives_identical_findings(sharded: Sharded) -> None:
    s1, s2, s3 = sharded.shards
    reference = findings_after_merge(sharded, "123", [s1, s2, s3])
    assert findings_after_merge(sharded, "312", [s3, s1, s2]) == reference
    assert findings_after_merge(sharded, "213", [s2, s1, s3]) == reference
    # grouping: an intermediate merge of shards 3 and 2 is itself a shard of the final merge
    part = settings_for(sharded.project, sharded.tmp / "merge-part", sharded.tmp / "out-part")
    assert api.merge(part, [s3, s2], partial=True).shards == [f"2/{N}", f"3/{N}"]
    grouped = findings_after_merge(sharded, "g", [sharded.tmp / "merge-part", s1])
    assert grouped == reference
    # a shard exported as an archive (what a CI job uploads) merges like its folder
    archive = sharded.tmp / "shard-2.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("build.json", "results.json", "run"):
            tar.add(s2 / name, arcname=name)
    assert findings_after_merge(sharded, "tar", [s1, archive, s3]) == reference
    # and the merged run finds what one unsharded run on the same build finds
    merged = json.loads(reference)
    assert without_durations(merged) == without_durations(sharded.whole)
    assert merged["summary"]["tests"]["failed"] >= 1
    results = json.loads((sharded.tmp / "merge-123" / "host-gcc" / "results.json").read_text())
    assert results["shards"] == [f"{k}/{N}" for k in range(1, N + 1)]


def test_a_shard_of_another_build_and_revision_is_refused(sharded: Sharded) -> None:
    # the next commit (one source edited), built and tested on its own: its shard 3
    src = sharded.project / "src" / "mod_0001.c"
    original = src.read_text()
    src.write_text(original + "\n/* edited */\n")
    try:
        other = sharded.tmp / "other-work"
        api.build(settings_for(sharded.project, other, sharded.tmp / "out-other"))
        api.test(settings_for(sharded.project, other, sharded.tmp / "out-other", **{"test.shard": "3/3"}))
    finally:
        src.write_text(original)
    foreign = sharded.tmp / "shards-other" / "3"
    shutil.copytree(other / "host-gcc", foreign)
    target = settings_for(sharded.project, sharded.tmp / "merge-bad", sharded.tmp / "out-bad")
    with pytest.raises(CoverageDataError) as err:
        api.merge(target, [sharded.shards[0], sharded.shards[1], foreign])
    message = err.value.render()
    assert str(foreign) in message
    assert "source revision (1 file differs: mod_0001.c)" in message
    assert "compiled separately" in message
    assert not (sharded.tmp / "merge-bad" / "host-gcc" / "results.json").exists()
    # the merge job's own work folder holds that other build: the right shards are refused too
    with pytest.raises(CoverageDataError, match="this work folder holds another build"):
        api.merge(settings_for(sharded.project, other, sharded.tmp / "out-other"), sharded.shards)


def test_missing_repeated_and_mixed_shards_are_refused(sharded: Sharded) -> None:
    s1, s2, s3 = sharded.shards
    target = settings_for(sharded.project, sharded.tmp / "merge-x", sharded.tmp / "out-x")
    with pytest.raises(CoverageDataError, match="shards missing: 3/3"):
        api.merge(target, [s1, s2])
    copy = sharded.tmp / "shards" / "1-again"
    shutil.copytree(s1, copy)
    with pytest.raises(CoverageDataError, match=r"shard 1/3 is in both"):
        api.merge(target, [s1, s2, s3, copy])
    evil = sharded.tmp / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(s1 / "results.json", arcname="../escaped.json")
    with pytest.raises(InputError, match=r"a member \.\./escaped\.json is refused: a '\.\.' part"):
        api.merge(target, [evil, s2, s3])
    assert not (sharded.tmp / "merge-x" / "host-gcc" / "escaped.json").exists()
    with pytest.raises(ConfigError, match="K/N"):
        settings_for(sharded.project, sharded.tmp / "w", sharded.tmp / "o", **{"test.shard": "4/3"})


def test_merge_command_line(sharded: Sharded) -> None:
    def covguard(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "covguard", *map(str, args)],
            cwd=sharded.project,
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
            capture_output=True,
            text=True,
            check=False,
        )

    work, out = sharded.tmp / "merge-cli", sharded.tmp / "out-cli"
    ok = covguard("merge", "--work-dir", work, "--output-dir", out, *sharded.shards)
    assert "merged shards 1/3, 2/3, 3/3" in ok.stdout, ok.stderr
    assert ok.returncode == 1  # the generated firmware has planted defects: the gate fails
    assert (out / "findings.json").is_file()
    assert (out / "junit.xml").is_file()
    bad = covguard("merge", "--work-dir", sharded.tmp / "merge-cli2", *sharded.shards[:2])
    assert bad.returncode == 3
    assert "shards missing: 3/3" in bad.stderr
    assert "Traceback" not in bad.stderr
    nothing = covguard("merge", "--work-dir", sharded.tmp / "merge-cli3", sharded.tmp)
    assert nothing.returncode == 2
    assert "not a covguard shard" in nothing.stderr


def test_the_benchmark_generator_is_deterministic(tmp_path: Path) -> None:
    """The same spec gives the same bytes (the sharded firmware above and every benchmark size)."""
    spec = Spec(functions=230, tests=70, functions_per_module=40)
    a, b = generate(spec, tmp_path / "a"), generate(spec, tmp_path / "b")
    files = sorted(p.relative_to(a.root) for p in a.root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b.root) for p in b.root.rglob("*") if p.is_file())
    assert all((a.root / f).read_bytes() == (b.root / f).read_bytes() for f in files)
    assert (a.modules, a.functions, a.tests) == (6, 230, 70)
    sources = "".join((a.root / f).read_text() for f in files if f.suffix == ".c" and f.parts[0] == "src")
    assert sources.count("@req FW-SRS-") == 230 - 230 // spec.rogue_every
    tests = "".join((a.root / f).read_text() for f in files if f.parts[0] == "tests")
    assert tests.count("CG_TEST(") == 70
