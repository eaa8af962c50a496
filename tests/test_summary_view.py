"""The terminal summary of `covguard analyse`, made from the summary view (the first findings, their
number and widest kind, the tests credited per executable) instead of the whole findings document:
the same text."""

from __future__ import annotations

import dataclasses
from typing import Any

from covguard.report.console import render_summary
from covguard.report.findings_json import findings_document, summary_view


def test_the_summary_from_its_view_equals_the_one_from_the_document(sample_run: Any) -> None:
    analysis, gate = sample_run.analysis, sample_run.gate
    assert analysis is not None
    whole = render_summary(findings_document(analysis, gate))
    assert "findings (" in whole
    n = whole.count("\n          ")  # the findings listed: at least a few on the sample
    assert n >= 3
    for head in (0, 1, 3, 40, 100_000):
        fresh = dataclasses.replace(analysis, cache={})  # no document made yet: the view's own way
        view = summary_view(fresh, gate, head=head)
        assert "findings_total" in view
        assert len(view["findings"]) <= head
        assert render_summary(view, max_findings=head) == render_summary(
            findings_document(analysis, gate), max_findings=head
        )
    empty = dataclasses.replace(analysis, findings=analysis.findings.iloc[:0], cache={})
    assert render_summary(summary_view(empty, gate, head=40)) == render_summary(
        findings_document(empty, gate)
    )
    assert "findings: none" in render_summary(summary_view(empty, gate, head=40))
