"""Configuration: one option table gives the config keys, their types, defaults, docs and CLI flags.

covguard reads ``covguard.toml`` (keys at top level) or the ``[tool.covguard]`` table of a
``pyproject.toml``, found in the current folder or above it, or the file given with ``--config``.
Command-line options override the file; ``--set key=value`` overrides any key.  Unknown keys are
an error with a "did you mean" suggestion.  Paths in the file are relative to the file's folder.

String values may use placeholders: ``{root}`` (the project root), ``{work_dir}``,
``{build_dir}`` (where the build puts objects; the work folder's build area), ``{runtime_dir}``
(covguard's C harness), ``{cc}``/``{cxx}`` (covguard's compiler wrappers) and ``{jobs}``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covguard.analysis.kinds import KINDS
from covguard.errors import ConfigError
from covguard.run.invocations import check_invocations, check_runners

CONFIG_FILE = "covguard.toml"
TOOLCHAINS = ("host-gcc", "host-clang", "cortex-m3-qemu")
SAFETY_CLASSES = ("A", "B", "C")
# the kinds gate.max_findings may limit, from the registry of finding kinds
FINDING_KINDS = tuple(kind.name for kind in KINDS.values() if kind.gated)


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be a string, not {type(value).__name__}")
    return value


_FOLDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")


def _folder_name(value: Any, key: str) -> str:
    """A value that becomes part of a folder name: one plain name, never a path."""
    text = _str(value, key)
    if not _FOLDER_NAME.fullmatch(text):
        raise ConfigError(
            f"'{key}' = {text!r} is not a plain name: it names a folder of the work area, so it may hold "
            "only letters, digits, '_', '-', '+' and '.' (not first), at most 64 characters",
            hint=f'for example: {key} = "release-arm"',
        )
    return text


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.lower() in {"true", "1", "yes"}
    raise ConfigError(f"'{key}' must be true or false, not {value!r}")


def _int(value: Any, key: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"'{key}' must be an integer, not {value!r}") from None


def _positive(value: Any, key: str) -> int:
    number = _int(value, key)
    if number < 1:
        raise ConfigError(f"'{key}' must be a whole number above 0, not {value!r}")
    return number


def _float(value: Any, key: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"'{key}' must be a number, not {value!r}") from None


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"'{key}' must be a string or a list of strings, not {value!r}")


def _command(value: Any, key: str) -> tuple[str, ...] | str:
    if isinstance(value, str):
        return value
    return _str_list(value, key)


def _str_map(value: Any, key: str) -> dict[str, str]:
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: str(v) for k, v in value.items()}
    raise ConfigError(f"'{key}' must be a table of strings, not {value!r}")


def _percent_by_class(value: Any, key: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"'{key}' must be a table like {{ A = 0, B = 80, C = 100 }}")
    out: dict[str, float] = {}
    for cls, pct in value.items():
        if cls not in SAFETY_CLASSES:
            raise ConfigError(f"'{key}' has class '{cls}'; IEC 62304 classes are A, B and C")
        number = _float(pct, f"{key}.{cls}")
        if not 0 <= number <= 100:
            raise ConfigError(f"'{key}.{cls}' must be a percentage between 0 and 100, not {number}")
        out[cls] = number
    return out


def _limits(value: Any, key: str) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"'{key}' must be a table like {{ rogue = 0, dead = 0 }}")
    out: dict[str, int] = {}
    for kind, limit in value.items():
        if kind not in FINDING_KINDS:
            close = difflib.get_close_matches(kind, FINDING_KINDS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"'{key}' names an unknown finding kind '{kind}'{hint}")
        number = _int(limit, f"{key}.{kind}")
        if number < -1:
            raise ConfigError(f"'{key}.{kind}' must be -1 (no limit) or a count, not {number}")
        out[kind] = number
    return out


def _shard(value: Any, key: str) -> str:
    """``K/N``: run the K-th of N shards (every N-th test executable); empty: run them all."""
    text = _str(value, key).strip()
    if not text:
        return ""
    m = re.fullmatch(r"([0-9]+)/([0-9]+)", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ConfigError(
            f"'{key}' must be K/N with 1 <= K <= N (shard K of N), not {text!r}",
            hint="for example --shard 2/4 in the second of four parallel CI jobs",
        )
    return f"{int(m.group(1))}/{int(m.group(2))}"


def _class_list(value: Any, key: str) -> tuple[str, ...]:
    classes = _str_list(value, key)
    for cls in classes:
        if cls not in SAFETY_CLASSES:
            raise ConfigError(f"'{key}' has class '{cls}'; IEC 62304 classes are A, B and C")
    return classes


def _toolchain_list(value: Any, key: str) -> tuple[str, ...]:
    names = _str_list(value, key)
    for name in names:
        if name not in TOOLCHAINS:
            raise ConfigError(f"'{key}' names an unknown toolchain '{name}'; known: {', '.join(TOOLCHAINS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"'{key}' lists a toolchain twice: {list(names)}")
    return names


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, key: str) -> str:
        text = _str(value, key)
        if text not in choices:
            raise ConfigError(f"'{key}' must be one of {', '.join(choices)}; got '{text}'")
        return text

    return parse


GCOVR_FORMATS = (
    "gcovr-cobertura", "html-details", "sonarqube", "lcov", "jacoco", "clover", "coveralls", "json",
    "json-summary", "csv", "txt",
)  # fmt: skip


def _gcovr_formats(value: Any, key: str) -> tuple[str, ...]:
    # "cobertura" is covguard's own output now (from its frames): asking gcovr for it is a no-op
    names = [n for n in _str_list(value, key) if n != "cobertura"]
    for name in names:
        if name not in GCOVR_FORMATS:
            close = difflib.get_close_matches(name, GCOVR_FORMATS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(GCOVR_FORMATS)}"
            raise ConfigError(f"'{key}' names an unknown gcovr format '{name}'{hint}")
    return tuple(dict.fromkeys(names))


def _class_map(value: Any, key: str) -> dict[str, str]:
    """``{"Class B" = "B", "SIL3" = "C"}``: tool values (any case) mapped to IEC 62304 classes."""
    table = _str_map(value, key)
    for raw, cls in table.items():
        if cls not in SAFETY_CLASSES:
            raise ConfigError(f"'{key}' maps {raw!r} to {cls!r}; IEC 62304 classes are A, B and C")
    return table


def _prefix_map(value: Any, key: str) -> dict[str, str]:
    """``"SRS-"`` (every file) or ``{"srs.reqif" = "SRS-", "Pump module" = "PUMP-"}``."""
    if isinstance(value, str):
        return {"*": value} if value else {}
    return _str_map(value, key)


@dataclass(frozen=True)
class Option:
    """One configuration option: its key, parser, default, documentation and CLI flag."""

    key: str
    parse: Callable[[Any, str], Any]
    default: Any
    help: str
    cli: str | None = None  # a dedicated command-line flag, e.g. "--timeout"
    path: bool = False  # relative paths resolve against the config file's folder

    @property
    def attr(self) -> str:
        return self.key.replace(".", "_")


DEFAULT_GATE_LINE = {"A": 0.0, "B": 80.0, "C": 100.0}
DEFAULT_GATE_BRANCH = {"A": 0.0, "B": 50.0, "C": 100.0}
DEFAULT_GATE_MCDC = {"A": 0.0, "B": 0.0, "C": 100.0}
DEFAULT_MAX_FINDINGS = {
    "rogue": 0,
    "dead": 0,
    "hollow_verification": 0,
    "unknown_requirement": 0,
    "failed_test": 0,
    "unverified_requirement": 0,
    "unimplemented_requirement": 0,
    "traced_untested": 0,
    "incomplete_coverage": 0,
    "unjustified_exclusion": 0,
    "incidental": -1,
    "uncovered_lines": -1,
    "justified_executed": -1,
    "source_problem": -1,
    "host_only_evidence": -1,
    "mcdc_gap": -1,
    "image_unanalysed": 0,
    "image_library": -1,
}

REQUIREMENT_OPTIONS: tuple[Option, ...] = (
    Option(
        "requirements.id_pattern",
        _str,
        "",
        "Regex of a requirement ID in the requirement files; empty: the profile's, else tags.id_pattern.",
    ),
    Option(
        "requirements.default_class",
        _choice(("", *SAFETY_CLASSES)),
        "",
        "Safety class of a requirement that has none; empty: an error (C under a reqif.profile).",
    ),
    Option(
        "requirements.class_map",
        _class_map,
        {},
        'Tool values mapped to classes, e.g. {"Class B" = "B", "SIL3" = "C"} (enumeration labels too).',
    ),
    Option(
        "requirements.id_prefix",
        _prefix_map,
        {},
        'Prefix added to IDs: "SRS-", or per file, archive member or ReqIF specification name '
        '{"srs.reqif" = "SRS-", "*" = "REQ-"}.',
    ),
    Option(
        "requirements.columns",
        _str_map,
        {},
        'Spreadsheet (.xlsx) / CSV column names: {id = "Key", title = "Summary", safety_class = "Risk"}.',
    ),
    Option(
        "reqif.profile",
        _choice(("", "doors", "polarion", "capella", "ea", "reqif-studio", "pror")),
        "",
        "The tool that exported the ReqIF files: doors, polarion, capella, ea, reqif-studio, pror.",
    ),
    Option(
        "reqif.id_attribute",
        _str_list,
        (),
        "Where the ID is: attribute LONG-NAME or IDENTIFIER, SPEC-OBJECT.IDENTIFIER or SPEC-OBJECT.LONG-NAME "
        "(a list: the first the type defines); empty: the profile's, else ReqIF.ForeignID.",
    ),
    Option(
        "reqif.title_attributes",
        _str_list,
        (),
        "Where the title is (first with a value wins); empty: the profile's, else ReqIF.Name, ReqIF.Text.",
    ),
    Option(
        "reqif.class_attribute",
        _str,
        None,
        'Where the IEC 62304 class is; "": nowhere (requirements.default_class); unset: SafetyClass.',
    ),
    Option(
        "reqif.include_types", _str_list, (), "SPEC-OBJECT-TYPE names (globs) of requirements; empty: all."
    ),
    Option(
        "reqif.exclude_types", _str_list, (), "SPEC-OBJECT-TYPE names (globs) that are never requirements."
    ),
    Option("reqif.heading_types", _str_list, (), "SPEC-OBJECT-TYPE names (globs) of headings."),
)

OPTIONS: tuple[Option, ...] = (
    Option("root", _str, ".", "Project root: paths in reports are relative to it.", path=True),
    Option(
        "work_dir",
        _str,
        ".covguard",
        "Work folder for objects, coverage data and logs (never the source tree).",
        cli="--work-dir",
        path=True,
    ),
    Option(
        "output_dir",
        _str,
        "covguard-report",
        "Folder for findings.json and the reports.",
        cli="--output-dir",
        path=True,
    ),
    Option("toolchain", _choice(TOOLCHAINS), "host-gcc", "Toolchain profile.", cli="--toolchain"),
    Option("sources", _str_list, ("src/**",), "Globs (relative to root) of the product code analysed."),
    Option("exclude", _str_list, (), "Globs of files excluded from the analysis."),
    Option(
        "test_sources",
        _str_list,
        ("tests/**", "test/**"),
        "Globs of test code, where @verifies tags are read.",
    ),
    Option(
        "requirements",
        _str_list,
        ("requirements.csv",),
        "Requirement files (.csv, .reqif, .reqifz, .sdoc, needs.json, .xlsx, .md, a Doorstop folder); "
        "also `files` of a [requirements] table.",
        path=True,
    ),
    Option(
        "default_safety_class",
        _choice(SAFETY_CLASSES),
        "C",
        "IEC 62304 class of code traced to no requirement (the gate's thresholds for it).",
    ),
    Option(
        "variant", _folder_name, "default", "Name of this build variant, recorded with every coverage row."
    ),
    Option("build.command", _command, None, "The firmware's own build command (required)."),
    Option("build.env", _str_map, {}, "Extra environment for the build."),
    Option("build.jobs", _int, 0, "Parallel build jobs ({jobs}); 0 means the number of CPUs.", cli="--jobs"),
    Option("build.compiler", _str, "", "The real C compiler the wrapper calls (default: the toolchain's)."),
    Option("build.cxx_compiler", _str, "", "The real C++ compiler the wrapper calls."),
    Option(
        "build.coverage_flags",
        _str_list,
        ("-O0", "-g", "--coverage", "-fprofile-abs-path"),
        "Flags the wrapper appends to every compile (after the build's own flags).",
    ),
    Option("build.link_flags", _str_list, ("--coverage",), "Flags the wrapper appends to every link."),
    Option(
        "build.instrument",
        _str_list,
        ("**",),
        "Globs (relative to root) of the sources compiled with coverage, among 'sources' and "
        "'test_sources' outside the work folder; others (configure checks) are compiled as is.",
    ),
    Option(
        "test.executables",
        _str_list,
        ("{build_dir}/tests/*",),
        "Globs of the test executables to run.",
    ),
    Option(
        "test.timeout",
        _float,
        60.0,
        "Seconds one test executable may run before it is killed.",
        cli="--timeout",
    ),
    Option("test.jobs", _int, 0, "Test executables run at once; 0 means the number of CPUs."),
    Option(
        "test.format",
        _choice(("auto", "covguard", "unity", "exit-status")),
        "auto",
        "Test output format; exit-status: every executable is one test, judged by its exit status.",
    ),
    Option(
        "test.shard",
        _shard,
        "",
        "Run only shard K/N of the test executables (every N-th); combine shards with covguard merge.",
        cli="--shard",
    ),
    Option(
        "test.select",
        _str,
        None,
        "A test.select file (covguard affected): run only the test cases it lists (a partial run).",
        cli="--select",
        path=True,
    ),
    Option("test.env", _str_map, {}, "Extra environment for the tests."),
    Option(
        "test.invocations",
        check_invocations,
        (),
        "[[test.invocations]]: programs run as one test each (name, program, args, stdin, env, cwd, "
        "timeout, verifies, will_fail, pass_regex, fail_regex, skip_exit_code, skip, format).",
    ),
    Option(
        "test.ctest",
        _str,
        "",
        "CTest build folder, e.g. '{build_dir}': run every test of `ctest --show-only=json-v1` as CTest "
        "would, each with its own coverage; empty: no CTest.",
    ),
    Option(
        "test.ctest_args",
        _str_list,
        (),
        "Extra arguments of the CTest listing, e.g. ['-C', 'Debug'] (multi-config generators) or "
        "['-L', 'unit'] (a label), ['-E', 'slow'] (exclude by name).",
    ),
    Option(
        "test.runners",
        check_runners,
        (),
        "[[test.runners]]: custom runners (name, list, run with {case}, definitions, env, cwd, timeout, "
        "skip_exit_code, pass_regex, fail_regex, verifies, format): one process per case.",
    ),
    Option(
        "python.tests",
        _str_list,
        (),
        "pytest paths (relative to root) that `covguard test` runs as one more suite, with per-test "
        "coverage.py contexts; empty: no Python suite.",
    ),
    Option(
        "python.sources",
        _str_list,
        (),
        "Globs (relative to root) of the Python product code analysed beside the C sources.",
    ),
    Option(
        "python.python",
        _str,
        "",
        "Interpreter of the Python suite (with pytest, coverage and covguard installed); "
        "empty: the one covguard runs in.",
    ),
    Option("python.args", _str_list, (), "Extra pytest arguments."),
    Option("python.timeout", _float, 600.0, "Seconds the whole pytest suite may run before it is stopped."),
    Option(
        "product.command",
        _command,
        None,
        "The product firmware's build, e.g. 'make firmware BUILD_DIR={build_dir}': run with covguard's "
        "wrapper and GCC's call-graph dumps for reachability; empty: reachability stays unknown.",
    ),
    Option("product.compiler", _str, "", "The C compiler of the product build (default: the toolchain's)."),
    Option("product.env", _str_map, {}, "Extra environment for the product build."),
    Option(
        "product.image",
        _str,
        None,
        "The linked firmware (ELF with symbols), e.g. '{build_dir}/firmware.elf': the image check.",
        path=True,
    ),
    Option(
        "product.map",
        _str,
        None,
        "The GNU ld map of the image (-Wl,-Map=...), e.g. '{build_dir}/firmware.map': where each "
        "function came from, what --gc-sections removed; covguard adds -Wl,--cref to the link.",
        path=True,
    ),
    Option(
        "reachability.entry_points",
        _str_list,
        ("main", "Reset_Handler", "*_IRQHandler", "*_Handler"),
        "Function names (globs; 'path-glob:name' for a static function) where the firmware starts.",
    ),
    Option(
        "reachability.extra_entry_points",
        _str_list,
        (),
        "More entry points, added to the defaults: RTOS tasks, callbacks registered from assembly.",
    ),
    Option(
        "tags.id_pattern",
        _str,
        r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-[0-9]+",
        "Regex of a requirement ID in code tags.",
    ),
    Option("tags.oft", _bool, False, "Also read OpenFastTrace tags ([impl->req~name~1])."),
    Option("tags.exclusion_prefix", _str, "GCOVR_EXCL", "Prefix of gcovr's exclusion markers."),
    *REQUIREMENT_OPTIONS,
    Option(
        "gate.line",
        _percent_by_class,
        DEFAULT_GATE_LINE,
        "Minimum requirement-based line coverage (%) per safety class.",
    ),
    Option(
        "gate.branch",
        _percent_by_class,
        DEFAULT_GATE_BRANCH,
        "Minimum requirement-based branch coverage (%) per safety class.",
    ),
    Option(
        "gate.mcdc",
        _percent_by_class,
        DEFAULT_GATE_MCDC,
        "Minimum requirement-based MC/DC (%) per safety class (clang profile only).",
    ),
    Option(
        "gate.max_findings",
        _limits,
        DEFAULT_MAX_FINDINGS,
        "Maximum count per finding kind (-1: no limit).",
    ),
    Option(
        "gate.require_target",
        _class_list,
        (),
        "Safety classes whose code must be verified by tests on the target, not only on the host "
        "(host_only_evidence findings; the gate's require_target checks).",
    ),
    Option(
        "gate.baseline",
        _str,
        None,
        "A findings.json or evidence package of an earlier release: the gate fails only on what is new or "
        "worse than it (covguard gate --baseline); empty: no baseline.",
        path=True,
    ),
    Option(
        "gate.baseline_mode",
        _choice(("new", "ratchet")),
        "new",
        "new: findings in the baseline are reported as existing, not failed; ratchet: also their count "
        "per kind must not grow.",
    ),
    Option(
        "gate.baseline_ref",
        _str,
        "",
        "The git revision the baseline was made from, for rename detection (default: the commit an "
        "evidence package records).",
    ),
    Option(
        "gate.diff_base",
        _str,
        "",
        "A git revision: every function and executable line changed since it must be verified or "
        "justified (covguard gate --diff-base); SARIF and the Markdown summary show only changed lines.",
    ),
    Option(
        "justify.ledger",
        _str,
        "covguard-justifications.toml",
        "The justification ledger (covguard justify): hashes of the justified code, approvers, expiry.",
        path=True,
    ),
    Option(
        "analysis.runs",
        _toolchain_list,
        (),
        "Toolchain profiles whose test runs are analysed together, e.g. host and target "
        '(["host-gcc", "cortex-m3-qemu"]); `covguard run` builds and tests each. Empty: the toolchain only.',
    ),
    Option(
        "report.gcovr",
        _gcovr_formats,
        (),
        "gcovr's formats written beside covguard's reports (html-details, gcovr-cobertura, sonarqube, "
        "lcov, jacoco, clover, coveralls, json, json-summary, csv, txt); [] (the default) skips gcovr. "
        "covguard writes cobertura.xml itself; 'cobertura' here is accepted and changes nothing.",
    ),
    Option(
        "gcovr.args",
        _str_list,
        (),
        "Extra options for gcovr, passed through as they are "
        '(e.g. ["--gcov-ignore-errors=source_not_found"]).',
    ),
    Option("limits.member_bytes", _positive, 512 << 20, "Largest member of a shard archive (bytes)."),
    Option("limits.total_bytes", _positive, 4 << 30, "Largest unpacked size of a shard archive (bytes)."),
    Option("limits.members", _positive, 100_000, "Most members of a shard archive."),
    Option("limits.manifest_bytes", _positive, 64 << 20, "Largest evidence manifest (bytes)."),
    Option("limits.problems", _positive, 50, "Most problems listed in a message (the rest are counted)."),
)

OPTIONS_BY_KEY = {o.key: o for o in OPTIONS}
_TABLES = {o.key.split(".")[0] for o in OPTIONS if "." in o.key}
_MAP_DEFAULTS_MERGE = {"gate.line", "gate.branch", "gate.mcdc", "gate.max_findings"}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration (attribute names: the keys with '.' replaced by '_')."""

    values: dict[str, Any]
    config_path: Path | None
    base_dir: Path
    overrides: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, key: str) -> Any:
        return self.values[key.replace(".", "_")]

    @property
    def root(self) -> Path:
        return Path(self.values["root"])

    @property
    def work_dir(self) -> Path:
        return Path(self.values["work_dir"])

    @property
    def output_dir(self) -> Path:
        return Path(self.values["output_dir"])

    def toolchain_dir(self) -> Path:
        """The work area of the current toolchain profile and variant."""
        name = self.values["toolchain"]
        variant = self.values["variant"]
        return self.work_dir / (name if variant == "default" else f"{name}-{variant}")

    def with_overrides(self, **changes: Any) -> Settings:
        values = dict(self.values)
        for k, v in changes.items():
            values[k.replace(".", "_")] = v
        return Settings(values=values, config_path=self.config_path, base_dir=self.base_dir)

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain data (for the evidence package and ``covguard config``)."""
        out: dict[str, Any] = {}
        for o in OPTIONS:
            v = self.values[o.attr]
            out[o.key] = list(v) if isinstance(v, tuple) else v
        return out


def find_config(start: Path) -> Path | None:
    """The nearest covguard.toml, or pyproject.toml with [tool.covguard], at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if "covguard" in data.get("tool", {}):
                return pyproject
    return None


def _flatten(table: Mapping[str, Any], path: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if key == "requirements" and not isinstance(value, Mapping):
            flat[key] = value  # the list of files; [requirements] holds it as `files`
        elif key == "requirements":
            for sub, v in value.items():
                flat["requirements" if sub == "files" else f"requirements.{sub}"] = v
        elif key in _TABLES:
            if not isinstance(value, Mapping):
                raise ConfigError(f"'{key}' must be a table ([{key}])", path=path)
            for sub, v in value.items():
                flat[f"{key}.{sub}"] = v
        else:
            flat[key] = value
    return flat


def _unknown(key: str, path: Path | None) -> ConfigError:
    close = difflib.get_close_matches(key, list(OPTIONS_BY_KEY), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "run 'covguard config --list' for the known keys"
    return ConfigError(f"unknown configuration key '{key}'", path=path, hint=hint)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration: {exc.strerror}", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("the configuration is not UTF-8 text", path=path) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ConfigError(
            f"invalid TOML: {exc}", path=path, line=line, hint="check the syntax at that line"
        ) from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("covguard")
        if not isinstance(table, Mapping):
            raise ConfigError(
                "pyproject.toml has no [tool.covguard] table", path=path, hint="add one, or a covguard.toml"
            )
        return _flatten(table, path)
    return _flatten(data, path)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from ``--set``; the value is read as TOML when it parses, else as a string."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got '{text}'")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def load_settings(
    config: Path | None = None,
    *,
    cwd: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    require_build: bool = False,
) -> Settings:
    """Find and read the configuration, apply ``overrides`` (keys as in the file), resolve paths."""
    cwd = (cwd or Path.cwd()).resolve()
    if config is not None:
        path: Path | None = config if config.is_absolute() else cwd / config
        assert path is not None
        if not path.is_file():
            raise ConfigError(
                "configuration file not found", path=path, hint="give an existing file to --config"
            )
    else:
        path = find_config(cwd)
        if path is None:
            raise ConfigError(
                f"no covguard configuration found in {cwd} or above",
                hint=f"create {CONFIG_FILE} with at least:  [build]  "
                'command = "make tests BUILD_DIR={build_dir}"',
            )
    raw = _read_file(path)
    base = path.parent
    for key, value in (overrides or {}).items():
        if value is not None:
            raw[key] = value
    values: dict[str, Any] = {}
    for key in raw:
        if key not in OPTIONS_BY_KEY:
            raise _unknown(key, path)
    for opt in OPTIONS:
        if opt.key in raw:
            value = opt.parse(raw[opt.key], opt.key)
            if opt.key in _MAP_DEFAULTS_MERGE:
                value = {**opt.default, **value}
        else:
            value = opt.default
        if opt.path and value is not None:
            value = _resolve_paths(value, base)
        values[opt.attr] = value
    if require_build and not values["build_command"]:
        raise ConfigError(
            "no build command configured",
            path=path,
            hint='add to the config: [build] command = "make tests BUILD_DIR={build_dir}"',
        )
    if values["build_jobs"] <= 0:
        values["build_jobs"] = os.cpu_count() or 1
    if values["test_jobs"] <= 0:
        values["test_jobs"] = os.cpu_count() or 1
    try:
        re.compile(values["tags_id_pattern"])
    except re.error as exc:
        raise ConfigError(f"'tags.id_pattern' is not a valid regular expression: {exc}", path=path) from None
    if values["test_timeout"] <= 0:
        raise ConfigError("'test.timeout' must be more than 0 seconds", path=path)
    if values["python_timeout"] <= 0:
        raise ConfigError("'python.timeout' must be more than 0 seconds", path=path)
    return Settings(values=values, config_path=path, base_dir=base)


def _resolve_paths(value: Any, base: Path) -> Any:
    if isinstance(value, tuple):
        return tuple(str((base / v).resolve()) if "{" not in v else v for v in value)
    if isinstance(value, str):
        return str((base / value).resolve()) if "{" not in value else value
    return value
