"""The command line: parse, build settings, call one function of :mod:`covguard.api`, map errors.

No logic lives here (a test checks that this module imports no pandas, lxml or subprocess).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from covguard import __version__
from covguard.config import OPTIONS, Settings, load_settings, parse_assignment
from covguard.confine import shown
from covguard.errors import EXIT_INFRASTRUCTURE, EXIT_USAGE, CovguardError
from covguard.progress import Progress

F = TypeVar("F", bound=Callable[..., Any])

_STATE = {"debug": False}


_PROGRESS: list[Progress] = []


def _echo_progress(message: str) -> None:
    """Progress of the long steps on a terminal's stderr; nothing when stderr is not a terminal."""
    if not _PROGRESS or _PROGRESS[0].stream is not sys.stderr:
        _PROGRESS[:] = [Progress(sys.stderr)]
    _PROGRESS[0](message)


def _end_progress() -> None:
    """End the status line before a command prints its results."""
    if _PROGRESS:
        _PROGRESS.pop().close()


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
      covguard report     write the reports (HTML, SARIF, JUnit, Cobertura, trace matrix, ...)

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
    _end_progress()
    click.echo(
        f"built with {manifest.toolchain} in {manifest.duration_s:.1f} s: "
        + (
            f"{manifest.extra['test_executables']} test executables with clang's coverage mapping"
            if manifest.extra.get("coverage") == "llvm"
            else f"{len(manifest.notes_files)} instrumented objects"
        )
        + f", {len(manifest.source_hashes)} sources hashed"
    )
    for name in filter(None, manifest.extra.get("sources_not_compiled", "").split("\n")):
        click.echo(f"warning: {name} is in 'sources' but no compile of the test build saw it", err=True)


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
    _end_progress()
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
    from covguard.options import report_options
    from covguard.report.console import SUMMARY_FINDINGS, render_summary
    from covguard.report.findings_json import summary_view
    from covguard.report.outputs import write_outputs

    settings = _settings(kwargs)
    analysis = api.analyse(settings)
    verdict = api.gate(settings, analysis)
    outputs = write_outputs(report_options(settings), analysis, verdict, formats=["findings"])
    click.echo(render_summary(summary_view(analysis, verdict, head=SUMMARY_FINDINGS)))
    click.echo(f"\nwrote {outputs['findings']} ('covguard report' writes every report)")


@cli.command()
@settings_options
@click.option("--baseline", metavar="FILE", help="Fail only on what is new or worse than this findings.json "
              "or evidence package [config: gate.baseline].")  # fmt: skip
@click.option("--baseline-mode", type=click.Choice(["new", "ratchet"]), default=None,
              help="ratchet: no finding kind may grow either [config: gate.baseline_mode].")  # fmt: skip
@click.option("--diff-base", metavar="REF", help="Every function and executable line changed since this git "
              "revision must be verified or justified [config: gate.diff_base].")  # fmt: skip
def gate(baseline: str | None, baseline_mode: str | None, diff_base: str | None, **kwargs: Any) -> None:
    """Apply the policy to the last test run; exit 1 with a table of what failed."""
    from covguard import api
    from covguard.report.console import render_change_details, render_gate

    baseline = str(Path(baseline).resolve()) if baseline else None
    extra = {"gate.baseline": baseline, "gate.baseline_mode": baseline_mode, "gate.diff_base": diff_base}
    kwargs["assignments"] = (*kwargs.get("assignments", ()), *(f"{k}={v!r}" for k, v in extra.items() if v))
    settings = _settings(kwargs)
    verdict = api.gate(settings, api.analyse(settings))
    click.echo(render_gate(verdict))
    details = render_change_details(verdict)
    if details:
        click.echo(details)
    sys.exit(verdict.exit_code)


@cli.command()
@settings_options
@click.option("--clean", is_flag=True, help="Full rebuild.")
def run(clean: bool, **kwargs: Any) -> None:
    """All steps: build, test, analyse, write the reports, and end with the gate."""
    from covguard import api
    from covguard.report.console import render_gate, render_outputs, render_summary
    from covguard.report.findings_json import findings_document

    settings = _settings(kwargs, require_build=True)
    outcome = api.run(settings, clean=clean, echo=_echo_progress)
    _end_progress()
    if outcome.analysis is not None:
        click.echo(render_summary(findings_document(outcome.analysis, outcome.gate)))
    click.echo("")
    for problem in outcome.problems:
        click.echo(f"error: {problem}", err=True)
    if outcome.gate is not None:
        click.echo(render_gate(outcome.gate))
    click.echo(render_outputs(outcome.outputs, settings.output_dir))
    sys.exit(outcome.exit_code)


@cli.command()
@settings_options
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="NAME",
    help="Write only this output (repeatable): findings, junit, html, sarif, markdown, trace-csv, "
    "trace-xlsx, cobertura, or a gcovr format (html-details, gcovr-cobertura, sonarqube, lcov, ...). "
    "Default: all of covguard's and the gcovr formats of 'report.gcovr'.",
)
def report(formats: tuple[str, ...], **kwargs: Any) -> None:
    """Write the reports of the last test run: HTML, SARIF, JUnit, Cobertura (optionally gcovr's),
    the trace matrix (CSV, XLSX), a Markdown summary and findings.json.

    Exit 0 when the reports are written, whatever the gate says (`covguard gate` applies it).
    """
    from covguard import api
    from covguard.report.console import render_outputs, render_summary
    from covguard.report.findings_json import findings_document

    settings = _settings(kwargs)
    result = api.report(settings, formats=list(formats) or None, echo=_echo_progress)
    _end_progress()
    click.echo(render_summary(findings_document(result.analysis, result.gate)))
    click.echo("")
    click.echo(render_outputs(result.outputs, settings.output_dir))


@cli.command()
@settings_options
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--partial", is_flag=True, help="Accept an incomplete set of shards (an intermediate merge).")
@click.option("--no-analyse", "no_analyse", is_flag=True, help="Only combine the shards; do not analyse.")
def merge(shards: tuple[Path, ...], partial: bool, no_analyse: bool, **kwargs: Any) -> None:
    """Combine the shards of `covguard test --shard K/N` CI jobs into one run, then analyse it.

    A shard is a job's work folder (or its toolchain folder), or a .tar.gz of it.

    Every shard must come from the same build and source revision (its build.json) and the
    shards must cover 1..N once.  The merged run is written into this work folder (results.json,
    run/), so `covguard analyse` and `gate` work on it; ends like `covguard run`, with the gate.
    """
    from covguard import api
    from covguard.options import report_options
    from covguard.report.console import render_gate, render_summary
    from covguard.report.findings_json import findings_document
    from covguard.report.outputs import write_outputs

    settings = _settings(kwargs)
    merged = api.merge(settings, list(shards), partial=partial)
    shown = ", ".join(merged.shards)
    click.echo(f"merged shards {shown}: {len(merged.cases)} tests in {len(merged.runs)} executables")
    if no_analyse or partial:
        return
    analysis = api.analyse(settings, results=merged)
    verdict = api.gate(settings, analysis)
    outputs = write_outputs(report_options(settings), analysis, verdict)
    click.echo(render_summary(findings_document(analysis, verdict)))
    for problem in merged.infrastructure_problems:
        click.echo(f"error: {problem}", err=True)
    click.echo(render_gate(verdict))
    click.echo(f"wrote {outputs['findings']}")
    sys.exit(EXIT_INFRASTRUCTURE if merged.infrastructure_problems else verdict.exit_code)


def _key_options(func: F) -> F:
    """--key and --keys: the public keys an evidence package must be signed by."""
    func = click.option(
        "--keys",
        "key_folders",
        multiple=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="A folder of trusted public keys (*.pub, *.pem). Repeatable.",
    )(func)
    return click.option(
        "--key",
        "keys",
        multiple=True,
        metavar="PUB",
        help="A trusted public key (PEM file, or env:NAME): the package must be signed by one. Repeatable.",
    )(func)


@cli.group()
def evidence() -> None:
    """The auditor's evidence package: export it after a run, verify it anywhere.

    \b
      covguard evidence export [--output FILE] [--sign KEY]  one reproducible .tar.gz of the last run
      covguard evidence verify FILE [--key PUB]              members, digests, signature, verdicts
      covguard evidence diff OLD NEW [--key PUB]             what changed since the accepted release
      covguard evidence sign FILE --sign KEY                 sign (or countersign) a package later
      covguard keygen [NAME]                                 a signing key pair for --sign and --key

    verify exits 0 when the package verifies, 1 when it does not (every problem names its member),
    2 when the file is not an evidence package.
    """


@evidence.command("export")
@settings_options
@click.option(
    "--output",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The archive to write (default: covguard-evidence.tar.gz in the output folder; - for the "
    "standard output).",
)
@click.option(
    "--sign",
    "sign",
    multiple=True,
    metavar="KEY",
    help="Sign the manifest with this private key (Ed25519 or ECDSA P-256 PEM file, or env:NAME for a "
    "variable holding the PEM; password in COVGUARD_SIGNING_KEY_PASSWORD). Repeatable.",
)
def evidence_export(output: Path | None, sign: tuple[str, ...], **kwargs: Any) -> None:
    """Write the evidence package of the last run: reports, raw coverage data, results, requirements,
    configuration, compile commands, tool versions, git state, sources, an IEC 62304 index and an
    in-toto manifest of SHA-256 digests.  SOURCE_DATE_EPOCH fixes its timestamps (default: the
    firmware's commit time): the same inputs give the same bytes."""
    from covguard import api

    settings = _settings(kwargs)
    result = api.export_evidence(settings, output, echo=_echo_progress, sign=sign)
    _end_progress()
    err = str(output) == "-"  # the archive went to the standard output: the summary goes to stderr
    click.echo(f"evidence package: {'(standard output)' if err else result.path}", err=err)
    click.echo(f"  {result.members} members, {result.size} bytes, sha256 {result.sha256}", err=err)
    for keyid in result.signed_by:
        click.echo(f"  signed (DSSE) by key id {keyid}", err=err)
    click.echo(f"  verdicts re-derived from its raw data: {', '.join(result.rederived) or 'none'}", err=err)
    if result.digest_only:
        click.echo(f"  reports protected by their digest only: {', '.join(result.digest_only)}", err=err)
    if result.withheld:
        click.echo(f"  withheld (symbolic links): {', '.join(result.withheld)}", err=err)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@evidence.command("verify")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--digest-only",
    "digest_only",
    is_flag=True,
    help="Accept a package whose verdicts cannot be re-derived yet on its digests alone.",
)
@_key_options
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="KEY=N",
    help="Raise a bound checked before anything is unpacked (repeatable): member_bytes, total_bytes, "
    "members, manifest_bytes, problems.",
)
def evidence_verify(
    path: Path,
    digest_only: bool,
    keys: tuple[str, ...],
    key_folders: tuple[Path, ...],
    limits: tuple[str, ...],
) -> None:
    """Verify an evidence package: every member and digest against its manifest (streamed, nothing
    written to disk), its signature against the trusted keys, then the verdicts re-derived from its
    raw data against its findings.json.  Exit 1 on any problem (a missing, invalid or untrusted
    signature too, naming the key id)."""
    from covguard import api

    result = api.verify_evidence(
        path, digest_only=digest_only, keys=keys, key_folders=key_folders, limits=limits
    )
    click.echo(f"verified: {shown(str(path))}")
    click.echo(f"  {result.members} members, every SHA-256 matches the manifest; no link or unsafe name")
    click.echo(f"  re-derived from the raw data and identical: {', '.join(result.rederived) or 'none'}")
    if result.digest_only:
        click.echo(f"  protected by their digest only: {', '.join(result.digest_only)}")
    for note in result.notes:
        click.echo(f"  note: {shown(note)}")
    verdict = {True: "passed", False: "failed", None: "not recorded"}[result.gate_passed]
    click.echo(f"  the gate {verdict} (as recorded and as re-derived)")
    sig = result.signature
    if sig.verified:
        click.echo(f"  signature verified: signed by trusted key id {', '.join(sig.verified)}")
    elif sig.signed:
        click.echo(
            f"  authenticity NOT checked: signed by key id {', '.join(sig.signers)}, but no --key/--keys "
            "was given to check it with"
        )
    else:
        click.echo(
            "  not signed: authenticity NOT checked - a package whose raw data and reports were forged "
            "together would also verify"
        )


@evidence.command("sign")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--sign",
    "sign",
    multiple=True,
    required=True,
    metavar="KEY",
    help="The private key to sign with (PEM file, or env:NAME). Repeatable.",
)
@click.option(
    "--output",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the signed package here (default: replace PATH, atomically).",
)
def evidence_sign(path: Path, sign: tuple[str, ...], output: Path | None) -> None:
    """Sign a package after it was made (a release job, a second signer): it is verified in full
    first; the signatures it carries are kept, every other member is unchanged."""
    from covguard import api

    result = api.sign_evidence(path, sign, output)
    for keyid in result.added:
        click.echo(f"signed {result.path} with key id {keyid}")
    click.echo(f"  the package's signatures: {', '.join(result.signers)}")


@evidence.command("diff")
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@_key_options
@click.option("--digest-only", "digest_only", is_flag=True, help="As for 'evidence verify'.")
@click.option(
    "--markdown",
    "markdown",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the comparison as Markdown to this file.",
)
@click.option(
    "--html",
    "html",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write it as a self-contained HTML page.",
)
@click.option(
    "--fail-on-regression",
    "fail_on_regression",
    is_flag=True,
    help="Exit 1 when NEW regresses: a new finding, a requirement that lost its verification or "
    "coverage, a gate that passed and now fails.",
)
def evidence_diff(
    old: Path,
    new: Path,
    keys: tuple[str, ...],
    key_folders: tuple[Path, ...],
    digest_only: bool,
    markdown: Path | None,
    html: Path | None,
    fail_on_regression: bool,
) -> None:
    """What changed from the package OLD (the release accepted before) to NEW: both are verified
    first; then requirements, findings, coverage, sources and their tests, justifications, tool
    versions.  Prints Markdown."""
    from covguard import api

    result = api.diff_evidence(old, new, keys=keys, key_folders=key_folders, digest_only=digest_only)
    result.write(markdown=markdown, html=html)
    click.echo(result.markdown(), nl=False)
    if fail_on_regression and result.regressions:
        sys.exit(1)


@cli.command("keygen")
@click.argument("name", type=click.Path(path_type=Path, dir_okay=False), default="covguard-signing")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["ed25519", "ecdsa-p256"]),
    default="ed25519",
    show_default=True,
    help="The kind of key.",
)
def keygen(name: Path, kind: str) -> None:
    """Make a signing key pair for evidence packages: NAME.key (private, mode 0600; encrypted with
    COVGUARD_SIGNING_KEY_PASSWORD when set) and NAME.pub (give it to the auditors)."""
    from covguard import api

    pair = api.keygen(name, kind)
    click.echo(f"private key: {pair.private} (keep it secret: a CI secret, e.g. for --sign env:NAME)")
    click.echo(f"public key:  {pair.public} (for 'covguard evidence verify --key')")
    click.echo(f"key id:      {pair.keyid} ({pair.kind})")


@cli.group("requirements")
def requirements_group() -> None:
    """Requirement files: check what covguard reads from them."""


@requirements_group.command("show")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--profile",
    type=click.Choice(["doors", "polarion", "capella", "ea", "reqif-studio", "pror"]),
    default=None,
    help="The tool that exported the ReqIF file (overrides reqif.profile).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Every requirement as JSON (id, title, safety_class, parent)."
)
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Configuration file."
)
@click.option(
    "--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override any configuration key."
)
def requirements_show(
    files: tuple[Path, ...],
    profile: str | None,
    as_json: bool,
    config: Path | None,
    assignments: tuple[str, ...],
) -> None:
    """Show what covguard reads from requirement FILES (default: the configured ones): count, first rows,
    what was skipped and why."""
    from covguard import api

    overrides = dict(parse_assignment(text) for text in assignments)
    click.echo(
        api.show_requirements(
            list(files), config=config, overrides=overrides, profile=profile, as_json=as_json
        ),
        nl=False,
    )


@cli.command("init")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".")
@click.option("--force", is_flag=True, help="Replace an existing covguard.toml.")
def init_cmd(folder: Path, force: bool) -> None:
    """Guess the build system and test framework of a tree; write a commented covguard.toml."""
    from covguard import api

    path, guess = api.init_project(folder, force=force)
    click.echo(f"wrote {path}")
    click.echo(f"  build system    {guess.build_system}: {guess.command}")
    click.echo(f"  test framework  {guess.framework}")
    click.echo(f"  sources         {', '.join(guess.sources)}; tests {', '.join(guess.test_sources)}")
    click.echo(f"  test programs   {', '.join(guess.executables)}")
    click.echo("check:")
    for item in guess.checks:
        click.echo(f"  - {item}")
    click.echo("then: covguard build && covguard test (covguard run needs the requirements)")


@cli.command()
@settings_options
@click.argument("target", required=False, metavar="[FILE:FUNCTION|FILE:FIRST-LAST]")
@click.option("--category", help="deactivated, defensive or hardware.")
@click.option("--reason", help="Why this code need not be covered by tests.")
@click.option("--approver", help="Who approved the justification (or reviewed the recorded ones).")
@click.option("--expires", metavar="YYYY-MM-DD", help="The date the justification lapses.")
@click.option("--date", "date_", metavar="YYYY-MM-DD", help="The approval date (default: today, UTC).")
@click.option("--list", "list_", is_flag=True, help="List every justification with its state.")
@click.option("--record", is_flag=True, help="Record the hashes of the in-source justifications.")
@click.option("--renew", is_flag=True, help="With --record: renew stale in-source ones too (reviewed).")
def justify(
    target: str | None,
    category: str | None,
    reason: str | None,
    approver: str | None,
    expires: str | None,
    date_: str | None,
    list_: bool,
    record: bool,
    renew: bool,
    **kwargs: Any,
) -> None:
    """The justification ledger (covguard-justifications.toml): write or renew an entry for a
    function or line range with the hash of its code, record the in-source ones, or list them all.

    \b
      covguard justify src/pump.c:pump_debug --category deactivated --reason "..." --approver "J. Doe"
      covguard justify src/pump.c:40-52 --category defensive --reason "..." --approver "J. Doe"
      covguard justify --record --approver "J. Doe"     hashes of @justify / GCOVR_EXCL justifications
      covguard justify --list                           every justification and its state
    """
    from covguard.change import justify as J

    settings = _settings(kwargs)
    if list_:
        click.echo(J.render_table(J.table(settings)))
        return
    if record:
        written = J.record(settings, approver=approver or "", date=date_, renew=renew)
        click.echo(f"recorded {len(written)} in-source justification(s) in {settings.justify_ledger}")
        return
    if not target or not category or not reason or not approver:
        raise click.UsageError("give FILE:FUNCTION or FILE:FIRST-LAST, --category, --reason and --approver")
    entry = J.justify(
        settings, target, category=category, reason=reason, approver=approver, expires=expires, date=date_
    )
    click.echo(f"justified {entry.target} ({entry.tokens} tokens, sha256 {entry.sha256[:12]}) in "
               f"{settings.justify_ledger}")  # fmt: skip


@cli.command("who-covers")
@settings_options
@click.argument("target", metavar="FILE:LINE|FILE:FUNCTION|REQ-ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def who_covers(target: str, as_json: bool, **kwargs: Any) -> None:
    """The tests that execute a line, a function or a requirement's code (from the last test run's
    per-test coverage), with counts, status, origin and the requirements they verify."""
    import json

    from covguard import api
    from covguard.change import who_covers as W

    result = W.who_covers(api.analyse(_settings(kwargs)), target)
    click.echo(json.dumps(W.to_json(result), indent=2) if as_json else W.render(result))


@cli.command()
@settings_options
@click.option(
    "--base", "base", required=True, metavar="REF", help="The git revision the changes are against."
)
@click.option(
    "--output",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the selection as a test.select file (for covguard test --select FILE).",
)
def affected(base: str, output: Path | None, **kwargs: Any) -> None:
    """The tests the changes since REF need: those whose recorded coverage touches a changed line,
    whose own source changed, or that verify a changed requirement (main still runs every test)."""
    from covguard.change import affected as A

    result = A.affected(_settings(kwargs), base)
    click.echo(A.render(result))
    if output is not None:
        A.write_select(output, result)
        click.echo(f"wrote {output}")


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
        try:
            cli.main(args=argv, prog_name="covguard", standalone_mode=False)
        finally:
            _end_progress()
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


def entry() -> None:
    """The console command (``covguard``, ``python -m covguard``): :func:`main`, then the process
    ends without the interpreter's teardown.

    Once a command has returned, every output is written and closed (atomically: nothing is left
    open), yet Python would still free each object of a large run one by one and finalise every
    module of pandas and numpy before the process ends: 0.15-0.25 s of a per-test analysis at 16k
    functions that nobody waits for on purpose.  So the standard streams are flushed and the process
    exits at once, with the code :func:`main` chose.  Not when another thread still runs (Python
    would wait for it) or a stream cannot be flushed (Python reports that itself, as before):
    then the normal exit.  :func:`main` itself (tests, callers in Python) exits normally.
    """
    code: str | int | None = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    if not isinstance(code, int) or threading.active_count() > 1:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: Python's own exit says so and sets the code
        sys.exit(code)
    os._exit(code)
