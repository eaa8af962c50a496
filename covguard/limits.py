"""Bounds on what covguard reads from archives it did not write (evidence packages, shard archives).

Every bound is checked while the archive streams past, from the member headers, before a byte of
a member is written anywhere: a 20 MB package that claims a 4 GiB member, or a million members,
is refused at once.  The defaults suit any real firmware project; raise them in the configuration
(``[limits]``, for ``covguard merge``) or with ``covguard evidence verify --limit KEY=N``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from covguard.errors import InputError

KEYS = {
    "member_bytes": "the size of one member",
    "total_bytes": "the total size of the members, unpacked",
    "members": "the number of members",
    "manifest_bytes": "the size of the evidence manifest",
    "problems": "the number of problems listed (the rest are counted)",
}


@dataclass(frozen=True)
class Limits:
    """The bounds (bytes, counts)."""

    member_bytes: int = 512 << 20
    total_bytes: int = 4 << 30
    members: int = 100_000
    manifest_bytes: int = 64 << 20
    problems: int = 50

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """The ``limits.*`` keys of a configuration (defaults for those it lacks)."""
        values = {}
        for f in fields(cls):
            value = getattr(settings, f"limits_{f.name}", None)
            if value is not None:
                values[f.name] = int(value)
        return cls(**values)

    def with_assignments(self, assignments: Iterable[str]) -> Limits:
        """``KEY=N`` assignments (command line) applied to these limits."""
        changes: dict[str, int] = {}
        for text in assignments:
            key, sep, value = text.partition("=")
            key = key.strip().removeprefix("limits.")
            if not sep or key not in KEYS:
                raise InputError(
                    f"--limit {text!r}: not KEY=N",
                    hint="keys: " + ", ".join(KEYS) + " (e.g. --limit member_bytes=2147483648)",
                )
            try:
                number = int(value.strip())
            except ValueError:
                number = -1
            if number < 1:
                raise InputError(f"--limit {text!r}: the limit must be a whole number above 0")
            changes[key] = number
        return replace(self, **changes)


class LimitExceeded(InputError):
    """An archive goes beyond a bound; nothing of it was written."""

    def __init__(self, what: str, found: str, key: str, limit: int, *, path: str) -> None:
        super().__init__(
            f"{what} {found}: over the limit on {KEYS[key]} ({limit}); nothing was unpacked",
            path=path,
            hint=f"if you trust this archive, raise the limit (limits.{key} in the configuration, or "
            f"--limit {key}=N for 'covguard evidence verify')",
        )


def cap(problems: list[str], limit: int) -> list[str]:
    """The first ``limit`` problems, and a line counting the rest."""
    if len(problems) <= limit:
        return problems
    return [*problems[:limit], f"... and {len(problems) - limit} more problems (limits.problems = {limit})"]
