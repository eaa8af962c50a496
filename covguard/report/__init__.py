"""The report stage: every output renders the one findings document and the analysis frames; the
registry of formats is :data:`covguard.report.outputs.OUTPUTS`."""
