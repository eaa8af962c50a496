"""Configuration: discovery, types, unknown keys, overrides, placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from covguard.config import OPTIONS, load_settings, parse_assignment
from covguard.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_covguard_toml_found_upwards_and_paths_resolved(tmp_path: Path) -> None:
    write(tmp_path / "covguard.toml", 'requirements = ["reqs/r.csv"]\n[build]\ncommand = "make"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    s = load_settings(cwd=sub)
    assert s.config_path == tmp_path / "covguard.toml"
    assert s.requirements == (str(tmp_path / "reqs" / "r.csv"),)
    assert s.root == tmp_path
    assert s.work_dir == tmp_path / ".covguard"
    assert s.build_command == "make"
    assert s.test_timeout == 60.0


def test_pyproject_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n[tool.covguard]\ntoolchain = "host-gcc"\n')
    assert load_settings(cwd=tmp_path).toolchain == "host-gcc"


def test_unknown_key_suggests(tmp_path: Path) -> None:
    write(tmp_path / "covguard.toml", "[test]\ntimeuot = 3\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cwd=tmp_path)
    assert "test.timeuot" in exc.value.message
    assert exc.value.hint == "did you mean 'test.timeout'?"


def test_bad_types_and_values(tmp_path: Path) -> None:
    for text, expected in [
        ('[test]\ntimeout = "soon"\n', "must be a number"),
        ("[test]\ntimeout = 0\n", "more than 0"),
        ('toolchain = "pdp11"\n', "must be one of"),
        ("[gate]\nline = { D = 50 }\n", "classes are A, B and C"),
        ("[gate]\nline = { C = 150 }\n", "between 0 and 100"),
        ("[gate]\nmax_findings = { rouge = 0 }\n", "did you mean 'rogue'"),
        ('[tags]\nid_pattern = "(["\n', "not a valid regular expression"),
        ("[build\n", "invalid TOML"),
    ]:
        write(tmp_path / "covguard.toml", text)
        with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace("[", r"\[")):
            load_settings(cwd=tmp_path)


def test_no_config_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no covguard configuration found") as exc:
        load_settings(cwd=tmp_path)
    assert exc.value.hint
    assert "covguard.toml" in exc.value.hint


def test_overrides_win_and_gate_tables_merge_with_defaults(tmp_path: Path) -> None:
    write(tmp_path / "covguard.toml", "[gate]\nline = { C = 90 }\n[test]\ntimeout = 5\n")
    s = load_settings(cwd=tmp_path, overrides={"test.timeout": 9})
    assert s.test_timeout == 9.0
    assert s.gate_line == {"A": 0.0, "B": 80.0, "C": 90.0}
    key, value = parse_assignment("gate.max_findings={ dead = 2 }")
    assert (key, value) == ("gate.max_findings", {"dead": 2})
    assert parse_assignment("toolchain=host-gcc") == ("toolchain", "host-gcc")


def test_every_option_has_help_and_a_default_that_parses() -> None:
    for opt in OPTIONS:
        assert opt.help
        if opt.default is not None:
            opt.parse(list(opt.default) if isinstance(opt.default, tuple) else opt.default, opt.key)
