"""Traceability from source comments: requirement tags, justifications and exclusion markers.

:mod:`covguard.trace.source` reads C and C++ text far enough to find comments (and the code
lines around them); :mod:`covguard.trace.tags` finds the tags in those comments and attaches
them to the functions the compiler reports.  :mod:`~covguard.trace.definitions` and
:mod:`~covguard.trace.test_defs` find where tests are defined; :mod:`~covguard.trace.callgraph`,
:mod:`~covguard.trace.image` and :mod:`~covguard.trace.demangle` read the product's call graph and
its shipped image for reachability.
"""
