"""The extension points' registries agree with the places that cannot import them.

Each extension point has one registry the core reads (README, "Extension points"); a few facts
must also live elsewhere: the names a setting accepts (checked when the configuration is read,
before anything is built), the compiler wrapper's own table (it runs as a script that imports
nothing of covguard), the C hooks of the frameworks.  These tests fail when an entry is added to
one place and not the other.
"""

from __future__ import annotations

from pathlib import Path

from covguard import config
from covguard.analysis.gate import LEDGER_LIMITS
from covguard.analysis.kinds import KINDS
from covguard.builder import ccwrap
from covguard.builder.toolchains import PROFILES, get_toolchain
from covguard.report.gcovr_formats import FORMATS as GCOVR_FORMATS
from covguard.report.outputs import COVGUARD_FORMATS, OUTPUTS, format_names
from covguard.requirements import READERS
from covguard.run.frameworks import FRAMEWORKS, MARKER

RUNTIME = Path(__file__).resolve().parent.parent / "covguard" / "runtime"


def test_toolchain_profiles_are_the_names_the_setting_accepts() -> None:
    assert tuple(PROFILES) == config.TOOLCHAINS
    for name in PROFILES:
        assert get_toolchain(name).name == name


def test_finding_kinds_the_gate_limits_are_registered_and_gated() -> None:
    gated = {name for name, kind in KINDS.items() if kind.gated}
    assert set(config.DEFAULT_MAX_FINDINGS) <= gated
    assert set(LEDGER_LIMITS) <= gated
    assert tuple(name for name in KINDS if name in gated) == config.FINDING_KINDS
    assert {kind.severity for kind in KINDS.values()} == {"error", "warning"}
    assert all(name == kind.name for name, kind in KINDS.items())


def test_output_formats_have_one_name_and_one_file_each() -> None:
    names = [fmt.name for fmt in OUTPUTS]
    files = [fmt.file for fmt in OUTPUTS]
    assert len(set(names)) == len(names)
    assert len(set(files)) == len(files)
    assert list(COVGUARD_FORMATS) == names
    assert not set(names) & set(GCOVR_FORMATS)
    assert format_names() == [*names, *GCOVR_FORMATS]
    # the HTML page is written last: it links to the other outputs on disk
    assert max(OUTPUTS, key=lambda fmt: fmt.order).name == "html"


def test_frameworks_match_the_wrappers_table_and_the_hooks() -> None:
    assert set(FRAMEWORKS) == set(ccwrap.FRAMEWORKS)
    for name in FRAMEWORKS:
        _libraries, hook, _header = ccwrap.FRAMEWORKS[name]
        assert (RUNTIME / "frameworks" / hook).is_file()
        assert MARKER.fullmatch(f"@@covguard-framework:{name}@@".encode())
        # the hook marks the executable with its framework's name (cg_record.h)
        assert f'CG_RECORD_MARKER("{name}")' in (RUNTIME / "frameworks" / hook).read_text()
    assert not MARKER.fullmatch(b"@@covguard-framework:unity@@")


def test_requirement_readers_are_keyed_by_lower_case_suffix() -> None:
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in READERS)
