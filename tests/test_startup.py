"""Start-up paid once: each command imports what it does (issue 20, "Per run").

``covguard build`` and ``covguard test`` run compilers and test programs: they must not pay for
pandas (about 0.3 s of start-up on these machines); ``covguard build`` needs numpy for the coverage
model, ``covguard test`` needs neither.  ``covguard analyse`` on a project whose requirements are a
CSV file does not load the other formats' readers (ReqIF, StrictDoc, sphinx-needs, ...), nor the
writers of the outputs it does not write (HTML, the trace matrix and lxml, SARIF, ...).  Checked
on the real commands, run as a user runs them, with Python's own import log
(``PYTHONPROFILEIMPORTTIME``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, covguard, require

UNITY = FIXTURES / "projects" / "unity"


def _imported(stderr: str) -> set[str]:
    """The modules a process imported, from Python's import-time log on its standard error."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.slow
def test_each_command_imports_what_it_does(tmp_path: Path) -> None:
    require("gcc", "make")
    project = tmp_path / "unity"
    shutil.copytree(UNITY, project)
    log = {"PYTHONPROFILEIMPORTTIME": "1"}
    built = covguard("build", cwd=project, env=log)
    assert built.returncode == 0, built.stderr[-2000:]
    modules = _imported(built.stderr)
    assert "covguard.builder.instrumented" in modules  # the log is there and names covguard's own
    assert "numpy" in modules  # the coverage model
    assert "pandas" not in modules
    tested = covguard("test", cwd=project, env=log)
    assert tested.returncode in (0, 1, 3), tested.stderr[-2000:]  # the fixture fails and crashes
    assert "15 tests in 2 executables" in tested.stdout
    modules = _imported(tested.stderr)
    assert "covguard.run.runner" in modules
    assert not {"pandas", "numpy"} & modules
    analysed = covguard("analyse", cwd=project, env=log)
    assert analysed.returncode in (0, 1), analysed.stderr[-2000:]
    modules = _imported(analysed.stderr)
    assert "pandas" in modules
    assert "covguard.requirements.csv_reader" in modules
    readers = {"reqif", "sdoc", "needs_json", "oft_markdown", "xlsx"}
    assert not {f"covguard.requirements.{r}" for r in readers} & modules
    # it writes findings.json: the other outputs' writers (and lxml) stay unloaded
    writers = {"html", "trace_matrix", "sarif", "cobertura", "junit", "markdown"}
    assert not {f"covguard.report.{w}" for w in writers} & modules
    assert "lxml" not in modules
