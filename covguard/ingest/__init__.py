"""The ingest stage: coverage data and test output in, as frames (:mod:`covguard.frames`).

:mod:`~covguard.ingest.run_coverage` is the entry: a test run's per-test coverage, read with gcov's
decoder (:mod:`~covguard.ingest.collect`), llvm-cov (:mod:`~covguard.ingest.llvm_cov`) or coverage.py
(:mod:`~covguard.ingest.coverage_py`).
"""
