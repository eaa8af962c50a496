"""The command line: parse, build settings, call one function of :mod:`covguard.api`, map errors.

No logic lives here (a test checks that this module imports no pandas, lxml or subprocess).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from covguard import __version__
from covguard.config import OPTIONS, Settings, load_settings, parse_assignment
from covguard.errors import EXIT_INFRASTRUCTURE, EXIT_USAGE, CovguardError

F = TypeVar("F", bound=Callable[..., Any])

_STATE = {"debug": False}


def _echo_progress(message: str) -> None:
    if sys.stderr.isatty():
        click.echo(f"covguard: {message}", err=True)


def settings_options(func: F) -> F:
    """--config, --set and the option table's dedicated flags, on every command that needs settings."""
    for opt in reversed(OPTIONS):
        if opt.cli is not None:
            func = click.option(opt.cli, opt.attr, default=None, help=f"{opt.help} [config: {opt.key}]")(func)
    func = click.option(
        "--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override any configuration key."
    )(func)
    return click.option(
        "--config",
        "config",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Configuration file (default: covguard.toml or pyproject.toml here or above).",
    )(func)


def _settings(kwargs: dict[str, Any], require_build: bool = False) -> Settings:
    overrides: dict[str, Any] = {}
    for text in kwargs.pop("assignments", ()) or ():
        key, value = parse_assignment(text)
        overrides[key] = value
    for opt in OPTIONS:
        if opt.cli and kwargs.get(opt.attr) is not None:
            overrides[opt.key] = kwargs.pop(opt.attr)
        else:
            kwargs.pop(opt.attr, None)
    return load_settings(kwargs.pop("config", None), overrides=overrides, require_build=require_build)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="covguard")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def cli(debug: bool) -> None:
    """covguard: coverage-driven unit tests and rogue-code detection for C firmware.

    \b
    Typical use, from a firmware project with a covguard.toml:
      covguard run        build with coverage, run the tests, analyse, report, gate
    Or step by step:
      covguard build      compile the tests with coverage (objects go to the work folder)
      covguard test       run them, per-test coverage and results (junit.xml)
      covguard analyse    cross-reference requirements, tags and coverage (findings.json)
      covguard gate       apply the policy: exit 1 when it fails

    Exit codes: 0 ok, 1 the gate failed, 2 bad usage/config/input, 3 build or test infrastructure failure.
    """
    _STATE["debug"] = debug


@cli.command()
@settings_options
@click.option("--clean", is_flag=True, help="Delete this toolchain's work area first (full rebuild).")
def build(clean: bool, **kwargs: Any) -> None:
    """Run the firmware's build command with coverage instrumentation injected.

    covguard's compiler wrapper becomes CC/CXX and appends the coverage flags to every compile;
    objects, .gcno files and logs go to the work folder ({build_dir}).  Writes
    compile_commands.json and build.json (with a SHA-256 of every source, taken at build time).
    """
    from covguard import api

    settings = _settings(kwargs, require_build=True)
    manifest = api.build(settings, clean=clean, echo=_echo_progress)
    click.echo(
        f"built with {manifest.toolchain} in {manifest.duration_s:.1f} s: "
        f"{len(manifest.notes_files)} instrumented objects, {len(manifest.source_hashes)} sources hashed"
    )


@cli.command()
@settings_options
def test(**kwargs: Any) -> None:
    """Run the test executables, each with a timeout; record every test case and its coverage.

    Writes results.json (work folder) and junit.xml (output folder).  Exit 1 when a test fails,
    3 when a test executable crashed or hung (its other tests still run).
    """
    from covguard import api

    settings = _settings(kwargs)
    result = api.test(settings, echo=_echo_progress)
    counts: dict[str, int] = {}
    for c in result.cases:
        counts[c.status] = counts.get(c.status, 0) + 1
    click.echo(
        f"{len(result.cases)} tests in {len(result.runs)} executables: "
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    )
    for problem in result.infrastructure_problems:
        click.echo(f"error: {problem}", err=True)
    if result.infrastructure_problems:
        sys.exit(EXIT_INFRASTRUCTURE)
    if counts.get("failed"):
        sys.exit(1)


@cli.command()
@settings_options
def analyse(**kwargs: Any) -> None:
    """Analyse the last test run: classify code, requirements and tests; write findings.json."""
    from covguard import api
    from covguard.report.console import render_summary
    from covguard.report.findings_json import findings_document
    from covguard.report.outputs import write_outputs

    settings = _settings(kwargs)
    analysis = api.analyse(settings)
    verdict = api.gate(settings, analysis)
    outputs = write_outputs(settings, analysis, verdict)
    click.echo(render_summary(findings_document(analysis, verdict)))
    click.echo(f"\nwrote {outputs['findings']}")


@cli.command()
@settings_options
def gate(**kwargs: Any) -> None:
    """Apply the policy to the last test run; exit 1 with a table of what failed."""
    from covguard import api
    from covguard.report.console import render_gate

    settings = _settings(kwargs)
    verdict = api.gate(settings, api.analyse(settings))
    click.echo(render_gate(verdict))
    sys.exit(verdict.exit_code)


@cli.command()
@settings_options
@click.option("--clean", is_flag=True, help="Full rebuild.")
def run(clean: bool, **kwargs: Any) -> None:
    """All steps: build, test, analyse, write the reports, and end with the gate."""
    from covguard import api
    from covguard.report.console import render_gate, render_summary
    from covguard.report.findings_json import findings_document

    settings = _settings(kwargs, require_build=True)
    outcome = api.run(settings, clean=clean, echo=_echo_progress)
    if outcome.analysis is not None:
        click.echo(render_summary(findings_document(outcome.analysis, outcome.gate)))
    click.echo("")
    for problem in outcome.problems:
        click.echo(f"error: {problem}", err=True)
    if outcome.gate is not None:
        click.echo(render_gate(outcome.gate))
    click.echo(
        f"outputs in {settings.output_dir}: " + ", ".join(sorted(p.name for p in outcome.outputs.values()))
    )
    sys.exit(outcome.exit_code)


@cli.command("runtime-dir")
def runtime_dir() -> None:
    """Print the folder of covguard's C harness (covguard_test.h), for a Makefile's -I."""
    click.echo(str(Path(__file__).resolve().parent / "runtime"))


@cli.command("config")
@settings_options
@click.option("--list", "list_keys", is_flag=True, help="List every configuration key with its default.")
def config_cmd(list_keys: bool, **kwargs: Any) -> None:
    """Show the resolved configuration (or, with --list, every key covguard knows)."""
    if list_keys:
        for opt in OPTIONS:
            click.echo(f"{opt.key:28} {opt.help} (default: {opt.default!r})")
        return
    settings = _settings(kwargs)
    click.echo(f"# from {settings.config_path}")
    for key, value in settings.as_dict().items():
        click.echo(f"{key} = {value!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turn every error into a message and an exit code."""
    try:
        cli.main(args=argv, prog_name="covguard", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("covguard: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except CovguardError as exc:
        if _STATE["debug"]:
            raise
        click.echo(f"covguard: error: {exc.render()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("covguard: interrupted; child processes were stopped, nothing half-written", err=True)
        sys.exit(130)
    except Exception as exc:
        if _STATE["debug"]:
            raise
        click.echo(
            f"covguard: internal error: {type(exc).__name__}: {exc}\n  hint: run again with --debug for the "
            "traceback, and report it",
            err=True,
        )
        sys.exit(EXIT_INFRASTRUCTURE)
