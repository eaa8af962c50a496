"""JUnit XML of the test results, one ``<testsuite>`` per executable, requirements as properties.

The layout follows what CI systems (GitLab, Jenkins, GitHub test reporters) read: ``testsuites``
with totals, ``testcase`` with ``classname`` (the executable), ``name``, ``time``, ``file`` and
``line``, a ``failure``/``error``/``skipped`` child as needed, and ``<properties>`` with one
``requirement`` property per verified requirement ID.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from covguard.files import write_bytes
from covguard.ingest.test_output import split_ids
from covguard.model import TestCase

if TYPE_CHECKING:
    import pandas as pd  # only named: `covguard test` writes junit.xml without loading pandas

_NOT_XML_CLASS = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"  # compiled on first use (5 ms)


def xml_text(text: object) -> str:
    """``text`` with every character XML 1.0 cannot hold (a control character, a lone surrogate from
    an undecodable byte) replaced by a visible escape: ``\\u001b``, ``\\xff``."""

    def visible(m: re.Match[str]) -> str:
        code = ord(m[0])
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return re.sub(_NOT_XML_CLASS, visible, str(text))


def junit_xml(cases: Sequence[TestCase], name: str = "covguard") -> bytes:
    """The JUnit document for ``cases`` (deterministic: same input, same bytes)."""
    root = etree.Element("testsuites", name=name)
    suites: dict[str, list[TestCase]] = {}
    for c in cases:
        suites.setdefault(c.executable, []).append(c)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for exe in sorted(suites):
        members = suites[exe]
        counts = {
            "tests": len(members),
            "failures": sum(c.status == "failed" for c in members),
            "errors": sum(c.status == "error" for c in members),
            "skipped": sum(c.status == "skipped" for c in members),
        }
        suite_time = sum(c.duration_s or 0.0 for c in members)
        suite = etree.SubElement(root, "testsuite", name=xml_text(exe))
        for k, v in counts.items():
            suite.set(k, str(v))
        suite.set("time", f"{suite_time:.6f}")
        for c in members:
            case = etree.SubElement(
                suite,
                "testcase",
                classname=xml_text(exe),
                name=xml_text(c.name),
                time=f"{(c.duration_s or 0.0):.6f}",
                file=xml_text(c.file),
                line=str(c.line),
            )
            message = xml_text(c.message)
            if c.verifies:
                props = etree.SubElement(case, "properties")
                for req in c.verifies:
                    etree.SubElement(props, "property", name="requirement", value=xml_text(req))
                etree.SubElement(props, "property", name="coverage", value=xml_text(c.coverage))
            if c.status == "failed":
                failure = etree.SubElement(case, "failure", message=message[:1000], type="assertion")
                failure.text = f"{xml_text(c.file)}:{c.line}: {message}"
            elif c.status == "error":
                error = etree.SubElement(case, "error", message=message[:1000], type="crash")
                error.text = message
            elif c.status == "skipped":
                etree.SubElement(case, "skipped", message=message[:1000])
        for k in totals:
            totals[k] += counts[k]
        total_time += suite_time
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.6f}")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def with_verifies(cases: Sequence[TestCase], tests: pd.DataFrame) -> list[TestCase]:
    """``cases`` with every requirement each verifies as the analysis found them (the harness's
    declaration and ``@verifies`` tags above the test's definition)."""
    ids = dict(zip(tests["test"].astype(str), tests["verifies"].astype(str), strict=True))
    return [replace(c, verifies=split_ids(ids[c.test])) if c.test in ids else c for c in cases]


def write_junit(path: Path, cases: Sequence[TestCase]) -> None:
    write_bytes(path, junit_xml(cases))
