"""C++ function names as people write them: ``pump::dose::Limiter::clamp(int) const``, not
``_ZNK4pump4dose7Limiter5clampEi``.

The coverage notes (gcc) and llvm's export name functions by their assembler (mangled) names;
covguard shows, tags, gates and reports the demangled ones (as gcov ``-C`` and gcovr do).
Overloads stay apart (the parameter list is part of the name), template instances are named by
their arguments.  ``c++filt`` (GNU binutils, installed with gcc) demangles, in one batch; C names
and names it cannot demangle stay as they are.  A constructor's or destructor's variants (complete,
base, deleting: ``C1``/``C2``, ``D0``/``D1``/``D2``) share one name, as they share one definition:
the coverage merges them into one function (:func:`covguard.ingest.collect.merge_variants`), as gcovr does.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable


def demangle(names: Iterable[str]) -> list[str]:
    """The names, with every C++ (``_Z...``) name demangled."""
    given = list(names)
    mangled = sorted({n for n in given if n.startswith("_Z") and "\n" not in n})
    tool = shutil.which("c++filt")
    if not mangled or tool is None:
        return given
    try:
        proc = subprocess.run(
            [tool], input="\n".join(mangled) + "\n", capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return given
    shown = proc.stdout.splitlines()
    if proc.returncode != 0 or len(shown) != len(mangled):
        return given
    table = dict(zip(mangled, shown, strict=True))
    return [table.get(n, n) for n in given]
