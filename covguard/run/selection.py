"""`covguard test --select FILE` (``test.select``): run only the selected test cases.

A selection is a ``test.select`` file (one test id a line, as `covguard affected` writes it).
Only what it names runs, wherever the framework allows running less than a whole executable:

* covguard's harness and Unity suites linked with covguard's hooks: ``COVGUARD_ONLY`` names the
  cases (one a line, between newlines); the others are not started (their setup does not run either);
* GoogleTest: ``GTEST_FILTER`` naming the selected cases; CppUTest: one run per selected case
  (``-sg GROUP -sn NAME``, exact names, as covguard resumes after a crash);
* cmocka, and Unity output without covguard's hooks: the executable runs whole (neither has a way
  to run one case by name) and only the selected cases are kept;
* configured invocations, CTest tests and custom runner cases: only the selected ones are started.

Tests that are not selected do not appear in the results at all (neither passed nor skipped): a
selection is not a verdict on them.  The run records its selection (``results.json``
``selection``: the file, the number of ids, the ids it names that no executable or invocation
holds), and the analysis reports a ``selected_run`` warning: its findings describe a partial run
and never replace the full run on the main branch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from covguard.errors import ConfigError
from covguard.files import display_path
from covguard.model import TestCase
from covguard.run.invocations import Invocation
from covguard.run.options import RunOptions

ONLY_VAR = "COVGUARD_ONLY"
MAX_ONLY = 96 * 1024  # an environment string stays well under Linux's 128 KiB per string
MAX_SELECT_BYTES = 16 << 20


@dataclass
class Selection:
    """The test ids of a ``test.select`` file."""

    file: str  # as shown
    ids: set[str] = field(default_factory=set)

    def names(self, label: str) -> list[str]:
        """The selected case names of the executable (or invocation) ``label``."""
        head = label + "::"
        return sorted(t[len(head) :] for t in self.ids if t.startswith(head))

    def holds(self, label: str) -> bool:
        """Whether ``label`` is a selected test or holds one."""
        return label in self.ids or bool(self.names(label))

    def to_json(self, missing: Sequence[str]) -> dict[str, object]:
        return {"file": self.file, "tests": len(self.ids), "missing": sorted(missing)[:1000]}


def load_selection(options: RunOptions) -> Selection | None:
    """The run's selection (``test.select``), or None for a full run."""
    given = options.test_select
    if not given:
        return None
    from covguard.run.selection import read_select

    path = Path(str(given))
    path = path if path.is_absolute() else options.root / path
    return Selection(file=display_path(path, options.root), ids=read_select(path))


def only_env(selection: Selection | None, label: str) -> dict[str, str]:
    """The environment that makes an executable run only its selected cases."""
    if selection is None or label in selection.ids:  # a test of its own (an exit-status program)
        return {}
    value = "\n" + "".join(n + "\n" for n in selection.names(label))
    if len(value) > MAX_ONLY:
        raise ConfigError(
            f"the selection names too many tests of {label} to pass them to it",
            path=selection.file,
            hint="run that executable whole (leave the selection out)",
        )
    return {ONLY_VAR: value}


def selected_names(env: Mapping[str, str]) -> set[str] | None:
    """The case names ``COVGUARD_ONLY`` selects (None: every case)."""
    value = env.get(ONLY_VAR)
    if value is None:
        return None
    return {n for n in value.split("\n") if n}


def keep_selected(cases: list[TestCase], units: dict[str, str], names: set[str] | None) -> list[TestCase]:
    """The cases of one executable that were selected (and covguard's own ``<...>`` records of
    the executable: a crash, a broken protocol); the units of the others are dropped."""
    if names is None:
        return cases
    out = []
    for c in cases:
        if c.name in names or c.name.startswith("<"):
            out.append(c)
        else:
            units.pop(c.coverage_unit, None)
    return out


def select_invocations(selection: Selection | None, invocations: Iterable[Invocation]) -> list[Invocation]:
    """The configured invocations, CTest tests and runner cases the selection names."""
    return [inv for inv in invocations if selection is None or selection.holds(inv.name)]


def missing_ids(selection: Selection, cases: Sequence[TestCase]) -> list[str]:
    """Selected ids that no test of the run answers (a renamed or removed test)."""
    return sorted(selection.ids - {c.test for c in cases})


def read_select(path: Path) -> set[str]:
    """The test ids of a ``test.select`` file (hostile input: size-capped, UTF-8, ids only)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the test selection: {exc.strerror}", path=path) from None
    if len(data) > MAX_SELECT_BYTES:
        raise ConfigError(f"the test selection is over {MAX_SELECT_BYTES} bytes", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("the test selection is not UTF-8 text", path=path) from None
    ids = {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")}
    for n, ln in enumerate(text.splitlines(), 1):
        bad = any(ord(c) < 32 or ord(c) == 127 for c in ln.strip()) or len(ln.strip()) > 1000
        if ln.strip() and not ln.lstrip().startswith("#") and bad:
            raise ConfigError(
                f"'{ln.strip()[:80]}' is not a test id (EXECUTABLE::NAME, or the name of a CTest test "
                "or invocation)",
                path=path,
                line=n,
            )
    return ids


__all__ = [
    "ONLY_VAR",
    "Selection",
    "keep_selected",
    "load_selection",
    "missing_ids",
    "only_env",
    "read_select",
    "select_invocations",
    "selected_names",
]
