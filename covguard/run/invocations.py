"""Test invocations: one process run as one test, judged by its exit status (or its output).

A test *invocation* is a program with its arguments, standard input, environment and working
folder.  It comes from the configuration (``[[test.invocations]]``), from CTest
(:mod:`covguard.run.ctest`), from a custom list/run runner (:mod:`covguard.run.custom_runner`), or is a
test executable that printed nothing covguard recognises.  Unless its output is the covguard
harness's or Unity's (then its test cases are read as usual), it is one test:

* ``passed`` on exit status 0, ``failed`` otherwise; with ``pass_regex`` the output decides
  instead of the status; ``fail_regex`` fails it; ``will_fail`` inverts the verdict (CTest's
  ``PASS_REGULAR_EXPRESSION``, ``FAIL_REGULAR_EXPRESSION`` and ``WILL_FAIL``);
* ``skipped`` on ``skip_exit_code`` (CTest's ``SKIP_RETURN_CODE``), or not run at all with ``skip``;
* ``error`` when it is killed by a signal or times out (its coverage is then incomplete).

Its coverage is the whole process's (``GCOV_PREFIX`` into its own folder): the test is the process.

This module reads and checks the configuration tables (hostile input: every key typed, bounded and
named in the error) and judges a finished process; it imports nothing of covguard but the errors
and the records, so :mod:`covguard.config` can use its parsers.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import os
import re
import signal
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from covguard.errors import ConfigError
from covguard.model import TestCase
from covguard.trace.definitions import StrayTag

MAX_ITEMS = 10_000  # invocations or runners in one configuration
MAX_ARGS = 1_000
MAX_TEXT = 4_096  # one string of the configuration
MAX_OUTPUT_MATCHED = 16 * 1024 * 1024  # bytes of a test's output the regular expressions see
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/+@=,-]{0,199}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FORMATS = ("auto", "exit-status")


@dataclass(frozen=True)
class Invocation:
    """One process to run as a test (paths and placeholders already resolved when planned)."""

    name: str  # the test id of an exit-status test; the label of a harness/Unity executable's cases
    program: str
    args: tuple[str, ...] = ()
    stdin: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    timeout: float | None = None
    verifies: tuple[str, ...] = ()
    will_fail: bool = False
    pass_regex: tuple[str, ...] = ()
    fail_regex: tuple[str, ...] = ()
    skip_regex: tuple[str, ...] = ()
    skip_exit_code: int | None = None
    skip: str = ""  # not run: the reason (CTest DISABLED, a configured skip)
    not_available: str = ""  # cannot run: the reason (CTest NOT_AVAILABLE)
    format: str = "auto"  # auto: harness or Unity output is read as its test cases
    file: str = ""  # where the test is defined (shown, and where @verifies was found)
    line: int = 0
    source: str = "invocation"  # invocation | ctest | runner | executable
    folder: str = ""  # its logs and coverage folder, relative to the run folder's coverage/logs


@dataclass(frozen=True)
class RunnerConfig:
    """A custom runner: a list command printing case ids, a run command running one (``{case}``)."""

    name: str
    list: tuple[str, ...]
    run: tuple[str, ...]
    definitions: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    timeout: float | None = None
    skip_exit_code: int | None = None
    pass_regex: tuple[str, ...] = ()
    fail_regex: tuple[str, ...] = ()
    verifies: tuple[tuple[str, tuple[str, ...]], ...] = ()  # case id -> requirement ids
    format: str = "auto"


# ---------------------------------------------------------------------------------------------
# configuration


def _where(key: str, index: int, sub: str | None = None) -> str:
    return f"{key}[{index}]" + (f".{sub}" if sub else "")


def _text(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"'{what}' must be a string, not {type(value).__name__}")
    if not empty and not value.strip():
        raise ConfigError(f"'{what}' must not be empty")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise ConfigError(f"'{what}' is longer than {MAX_TEXT} characters or holds a NUL character")
    return value


def _texts(value: Any, what: str, limit: int = MAX_ARGS) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"'{what}' must be a list of strings, not {type(value).__name__}")
    if len(value) > limit:
        raise ConfigError(f"'{what}' has more than {limit} items")
    return tuple(_text(v, f"{what}[{i}]", empty=True) for i, v in enumerate(value))


def _command_words(value: Any, what: str) -> tuple[str, ...]:
    words = _texts(value, what)
    if not words or not words[0].strip():
        raise ConfigError(f"'{what}' must be a non-empty list: the program, then its arguments")
    return words


def _env(value: Any, what: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"'{what}' must be a table of strings, like {{ LANG = \"C\" }}")
    out: list[tuple[str, str]] = []
    for k, v in value.items():
        if not isinstance(k, str) or not ENV_NAME.fullmatch(k):
            raise ConfigError(f"'{what}' has an invalid variable name {k!r}")
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise ConfigError(f"'{what}.{k}' must be a string, not {type(v).__name__}")
        out.append((k, _text(str(v), f"{what}.{k}", empty=True)))
    return tuple(out)


def _timeout(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
        raise ConfigError(f"'{what}' must be a number of seconds between 0 and 86400, not {value!r}")
    return float(value)


def _exit_code(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise ConfigError(f"'{what}' must be an exit status between 0 and 255, not {value!r}")
    return value


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"'{what}' must be true or false, not {value!r}")
    return value


def _regexes(value: Any, what: str) -> tuple[str, ...]:
    items = _texts(value, what, limit=100)
    for i, pattern in enumerate(items):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"'{what}[{i}]' is not a valid regular expression: {exc}") from None
    return items


def _name(value: Any, what: str) -> str:
    text = _text(value, what)
    if not NAME.fullmatch(text):
        raise ConfigError(
            f"'{what}' {text!r} is not a valid test name",
            hint="use letters, digits and _ . : / + @ = , - (at most 200 characters, not starting with "
            "a punctuation mark)",
        )
    return text


def _format(value: Any, what: str) -> str:
    text = _text(value, what)
    if text not in FORMATS:
        raise ConfigError(f"'{what}' must be one of {', '.join(FORMATS)}; got '{text}'")
    return text


def _ids(value: Any, what: str) -> tuple[str, ...]:
    ids = _texts(value, what, limit=1_000)
    for i, v in enumerate(ids):
        if not v or any(c.isspace() for c in v) or "," in v:
            raise ConfigError(f"'{what}[{i}]' must be one requirement id, not {v!r}")
    return ids


def _table(value: Any, what: str, keys: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"'{what}' must be a table ([[...]] in the configuration)")
    for k in value:
        if k not in keys:
            close = difflib.get_close_matches(str(k), keys, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(keys)
            raise ConfigError(f"'{what}' has an unknown key '{k}'", hint=hint)
    return value


def _tables(value: Any, key: str) -> list[Any]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"'{key}' must be a list of tables ([[{key}]] in the configuration)")
    if len(value) > MAX_ITEMS:
        raise ConfigError(f"'{key}' has more than {MAX_ITEMS} entries")
    return list(value)


INVOCATION_KEYS = (
    "name", "program", "args", "stdin", "env", "cwd", "timeout", "verifies", "will_fail", "pass_regex",
    "fail_regex", "skip_exit_code", "skip", "format",
)  # fmt: skip


def check_invocations(value: Any, key: str) -> tuple[dict[str, Any], ...]:
    """The option's parser: ``[[test.invocations]]`` checked, kept as plain data (JSON-able settings)."""
    build_invocations(value, key)
    return tuple(dict(t) for t in _tables(value, key))


def build_invocations(value: Any, key: str = "test.invocations") -> tuple[Invocation, ...]:
    """``[[test.invocations]]``: each a program run as one test (see the module's documentation)."""
    out: list[Invocation] = []
    seen: set[str] = set()
    for i, raw in enumerate(_tables(value, key)):
        t = _table(raw, _where(key, i), INVOCATION_KEYS)
        w = functools.partial(_where, key, i)
        if "name" not in t or "program" not in t:
            raise ConfigError(f"'{_where(key, i)}' needs at least a 'name' and a 'program'")
        name = _name(t["name"], w("name"))
        if name in seen:
            raise ConfigError(f"'{w('name')}': two invocations are named '{name}'", hint="names are test ids")
        seen.add(name)
        out.append(
            Invocation(
                name=name,
                program=_text(t["program"], w("program")),
                args=_texts(t.get("args", []), w("args")),
                stdin=_text(t["stdin"], w("stdin")) if "stdin" in t else None,
                env=_env(t.get("env", {}), w("env")),
                cwd=_text(t["cwd"], w("cwd")) if "cwd" in t else None,
                timeout=_timeout(t["timeout"], w("timeout")) if "timeout" in t else None,
                verifies=_ids(t.get("verifies", []), w("verifies")),
                will_fail=_flag(t.get("will_fail", False), w("will_fail")),
                pass_regex=_regexes(t.get("pass_regex", []), w("pass_regex")),
                fail_regex=_regexes(t.get("fail_regex", []), w("fail_regex")),
                skip_exit_code=_exit_code(t["skip_exit_code"], w("skip_exit_code"))
                if "skip_exit_code" in t
                else None,
                skip=_text(t["skip"], w("skip")) if "skip" in t else "",
                format=_format(t.get("format", "auto"), w("format")),
                source="invocation",
            )
        )
    return tuple(out)


RUNNER_KEYS = (
    "name", "list", "run", "definitions", "env", "cwd", "timeout", "skip_exit_code", "pass_regex",
    "fail_regex", "verifies", "format",
)  # fmt: skip


def check_runners(value: Any, key: str) -> tuple[dict[str, Any], ...]:
    """The option's parser: ``[[test.runners]]`` checked, kept as plain data."""
    build_runners(value, key)
    return tuple(dict(t) for t in _tables(value, key))


def build_runners(value: Any, key: str = "test.runners") -> tuple[RunnerConfig, ...]:
    """``[[test.runners]]``: custom runners (see :mod:`covguard.run.custom_runner`)."""
    out: list[RunnerConfig] = []
    seen: set[str] = set()
    for i, raw in enumerate(_tables(value, key)):
        t = _table(raw, _where(key, i), RUNNER_KEYS)
        w = functools.partial(_where, key, i)
        missing = [k for k in ("name", "list", "run") if k not in t]
        if missing:
            raise ConfigError(f"'{_where(key, i)}' needs a 'name', a 'list' and a 'run' command")
        name = _name(t["name"], w("name"))
        if name in seen:
            raise ConfigError(f"'{w('name')}': two runners are named '{name}'")
        seen.add(name)
        run = _command_words(t["run"], w("run"))
        if not any("{case}" in word for word in run):
            raise ConfigError(
                f"'{w('run')}' does not use {{case}}",
                hint='write where the case id goes, e.g. run = ["{build_dir}/runner", "{case}"]',
            )
        verifies_raw = t.get("verifies", {})
        if not isinstance(verifies_raw, Mapping):
            raise ConfigError(f"'{w('verifies')}' must be a table: case id = [requirement ids]")
        out.append(
            RunnerConfig(
                name=name,
                list=_command_words(t["list"], w("list")),
                run=run,
                definitions=_texts(t.get("definitions", []), w("definitions")),
                env=_env(t.get("env", {}), w("env")),
                cwd=_text(t["cwd"], w("cwd")) if "cwd" in t else None,
                timeout=_timeout(t["timeout"], w("timeout")) if "timeout" in t else None,
                skip_exit_code=_exit_code(t["skip_exit_code"], w("skip_exit_code"))
                if "skip_exit_code" in t
                else None,
                pass_regex=_regexes(t.get("pass_regex", []), w("pass_regex")),
                fail_regex=_regexes(t.get("fail_regex", []), w("fail_regex")),
                verifies=tuple(
                    (str(case), _ids(ids, f"{w('verifies')}.{case}")) for case, ids in verifies_raw.items()
                ),
                format=_format(t.get("format", "auto"), w("format")),
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# the verdict


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _search(patterns: Sequence[str], output: str) -> str | None:
    for p in patterns:
        try:
            if re.search(p, output, flags=re.MULTILINE):
                return p
        except re.error:
            continue  # checked where it was read; a CTest expression Python cannot read matches nothing
    return None


@dataclass(frozen=True)
class Verdict:
    status: str  # passed | failed | skipped | error
    message: str
    ended_normally: bool


def judge(inv: Invocation, returncode: int | None, failure: str | None, output: str) -> Verdict:
    """The status of a finished process; ``failure``: why it did not end normally (signal,
    timeout, a target's fault status), ``None`` when it exited."""
    if failure is not None or returncode is None or returncode < 0:
        why = failure or (
            f"killed by {_signal_name(returncode)}" if returncode is not None else "did not finish"
        )
        return Verdict("error", why, ended_normally=False)
    text = output[:MAX_OUTPUT_MATCHED]
    if inv.skip_exit_code is not None and returncode == inv.skip_exit_code:
        return Verdict("skipped", f"skipped: exited with status {returncode} (its skip status)", True)
    skip_hit = _search(inv.skip_regex, text)
    if skip_hit is not None:
        return Verdict("skipped", f"skipped: its output matches {skip_hit!r}", True)
    if inv.pass_regex:
        hit = _search(inv.pass_regex, text)
        ok = hit is not None
        why = (
            f"its output matches {hit!r}"
            if ok
            else "its output matches none of " + repr(list(inv.pass_regex))
        )
    else:
        ok = returncode == 0
        why = f"exited with status {returncode}"
    fail_hit = _search(inv.fail_regex, text)
    if fail_hit is not None:
        ok = False
        why = f"its output matches the failure expression {fail_hit!r}"
    if inv.will_fail:
        ok = not ok
        why += "; expected to fail (will_fail)"
    return Verdict("passed" if ok else "failed", "" if ok and not inv.will_fail else why, True)


def not_run_case(inv: Invocation, executable: str) -> TestCase:
    """A test that is not run: skipped (``skip``, CTest ``DISABLED``) or an error (not available)."""
    return TestCase(
        test=inv.name,
        executable=executable,
        name=inv.name,
        status="error" if inv.not_available else "skipped",
        duration_s=None,
        message=inv.not_available or inv.skip,
        file=inv.file or executable,
        line=inv.line,
        verifies=inv.verifies,
        coverage_unit="",
        coverage="none",
    )


def exit_status_case(
    inv: Invocation | None,
    returncode: int | None,
    failure: str | None,
    output: str,
    seconds: float,
    executable: str,
    label: str,
    forced: bool = False,
) -> tuple[TestCase, str | None]:
    """The one test of a process judged by its exit status, and its crash description if any.
    ``inv`` is ``None`` for a test executable that printed nothing covguard recognises, or every
    executable when ``test.format`` is ``exit-status`` (``forced``)."""
    if inv is None:
        inv = Invocation(name=label, program=executable, file=executable, source="executable")
    verdict = judge(inv, returncode, failure, output)
    message = verdict.message
    if inv.source == "executable" and verdict.status != "passed":
        why = "test.format is exit-status" if forced else "it printed no covguard or Unity test results"
        message += f" (judged by its exit status: {why})"
    case = TestCase(
        test=inv.name,
        executable=executable,
        name=inv.name,
        status=verdict.status,
        duration_s=round(seconds, 6),
        message=message.strip(),
        file=inv.file or executable,
        line=inv.line,
        verifies=inv.verifies,
        coverage_unit=inv.name,
        coverage="complete" if verdict.ended_normally else "incomplete",
    )
    return case, None if verdict.ended_normally else f"test '{inv.name}' {verdict.message}"


@contextlib.contextmanager
def open_stdin(path: str | None) -> Iterator[IO[bytes]]:
    """A test's standard input: the file, or nothing (``/dev/null``)."""
    with open(path or os.devnull, "rb") as f:
        yield f


@dataclass
class Planned:
    """Every test invocation of a run, and the tests that are not run at all."""

    invocations: list[Invocation] = field(default_factory=list)
    not_run: list[TestCase] = field(default_factory=list)
    stray: list[StrayTag] = field(default_factory=list)  # @verifies in definition files on no test


def unique_names(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConfigError(
                f"two tests are named '{n}' ({what})", hint="rename one: a test id must be unique in a run"
            )
        seen.add(n)


def folder_name(source: str, index: int, name: str) -> str:
    """A safe folder name for one invocation's logs and coverage (names may be hostile)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60].lstrip(".") or "test"
    return f"{source}/{index:05d}-{slug}"


__all__ = [
    "Invocation",
    "Planned",
    "RunnerConfig",
    "Verdict",
    "build_invocations",
    "build_runners",
    "check_invocations",
    "check_runners",
    "exit_status_case",
    "folder_name",
    "judge",
    "not_run_case",
    "open_stdin",
]
