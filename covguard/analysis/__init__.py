"""The analysis stage: requirements, tags and per-test coverage joined and classified, the findings
(kinds registered in :mod:`~covguard.analysis.kinds`) and the gate's verdict."""
