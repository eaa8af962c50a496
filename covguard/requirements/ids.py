"""Requirement IDs, and the vocabulary every requirement reader shares.

A requirement ID is the key that ties a line of firmware (``/* @req PUMP-SRS-004 */``), a test
and an entry of the requirement list together.  If two IDs *look* the same but are not the same
string, the trace silently breaks: a requirement appears untested while its test exists.  So IDs
are held to a strict rule here, and the tag scanner reuses :func:`validate_id` for the tags it
finds in the code:

* surrounding whitespace (ASCII and Unicode spaces) is removed;
* every remaining character must be ASCII.  Look-alikes (Cyrillic ``Р`` for Latin ``P``,
  fullwidth digits), invisible characters (zero-width space, joiners, byte-order mark) and
  bidirectional controls (the "Trojan Source" characters) are refused, and the message names
  the code point, its Unicode name and its position;
* the ID must match the configured pattern in full.

The module also holds what the CSV and ReqIF readers have in common: the options, the record a
reader produces (:class:`Requirement`), the safety-class and title checks and the duplicate-ID
check.  They live here rather than in the package ``__init__`` so that the readers can import
them without a circular import.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from covguard.errors import ConfigError, InputError

DEFAULT_ID_PATTERN = r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-[0-9]+"
"""Upper-case words joined by hyphens, ending in a number: ``PUMP-SRS-004``, ``SRS-12``."""

SAFETY_CLASSES = ("A", "B", "C")
"""The IEC 62304 software safety classes."""

BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)
"""Characters that reorder how text is displayed, so that what one reads is not what is stored."""

INVISIBLE_CHARACTERS = frozenset(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"])
"""Characters that occupy no visible space: an ID containing one looks like an ID without it."""

# Upper-case Cyrillic and Greek letters drawn like Latin capitals.  Used only to make the error
# message more helpful ("looks like 'P'"); every non-ASCII character is refused either way.
_LOOK_ALIKES = {
    "\u0410": "A",
    "\u0412": "B",
    "\u0415": "E",
    "\u041a": "K",
    "\u041c": "M",
    "\u041d": "H",
    "\u041e": "O",
    "\u0420": "P",
    "\u0421": "C",
    "\u0422": "T",
    "\u0425": "X",
    "\u0406": "I",
    "\u0408": "J",
    "\u0405": "S",
    "\u0391": "A",
    "\u0392": "B",
    "\u0395": "E",
    "\u0396": "Z",
    "\u0397": "H",
    "\u0399": "I",
    "\u039a": "K",
    "\u039c": "M",
    "\u039d": "N",
    "\u039f": "O",
    "\u03a1": "P",
    "\u03a4": "T",
    "\u03a5": "Y",
    "\u03a7": "X",
}


OBJECT_IDENTIFIER = "SPEC-OBJECT.IDENTIFIER"
"""A ReqIF source naming the SPEC-OBJECT's own IDENTIFIER attribute rather than an attribute value."""
OBJECT_LONG_NAME = "SPEC-OBJECT.LONG-NAME"
"""A ReqIF source naming the SPEC-OBJECT's own LONG-NAME attribute rather than an attribute value."""


@dataclass(frozen=True)
class RequirementOptions:
    """How requirement files are read.

    The defaults read the ReqIF standard attribute names (``ReqIF.ForeignID``, ``ReqIF.Name`` /
    ``ReqIF.Text``) and a ``SafetyClass`` attribute; no real tool exports exactly that, so real
    exports need a profile (:mod:`covguard.requirements.profiles`: ``doors``, ``polarion``, ...)
    or these options.  Every ReqIF source (ID, title, class) names an attribute by the LONG-NAME
    or the IDENTIFIER of its definition, or is :data:`OBJECT_IDENTIFIER` / :data:`OBJECT_LONG_NAME`
    for the SPEC-OBJECT's own XML attributes.  Names are matched exactly: covguard never guesses
    which attribute holds the safety class; when it is absent, the error lists the attributes
    that look similar (``IEC62304.SafetyClass``, ``Safety Class``).
    """

    id_pattern: str = DEFAULT_ID_PATTERN
    """Regular expression every requirement ID (after its prefix is added) must match in full."""
    reqif_id_attribute: str = "ReqIF.ForeignID"
    """Where the ReqIF requirement ID is (an attribute, or :data:`OBJECT_IDENTIFIER`)."""
    reqif_id_alternatives: tuple[str, ...] = ()
    """Further ID sources, for a type that does not define ``reqif_id_attribute`` (ProR's ``ID``)."""
    reqif_title_attributes: tuple[str, ...] = ("ReqIF.Name", "ReqIF.Text")
    """Where the title may be; the first with a value wins."""
    reqif_class_attribute: str = "SafetyClass"
    """Where the IEC 62304 safety class is; empty: nowhere (every requirement gets ``default_class``)."""
    reqif_include_types: tuple[str, ...] = ()
    """SPEC-OBJECT-TYPE names (LONG-NAME or IDENTIFIER, globs) whose objects are requirements; empty: all."""
    reqif_exclude_types: tuple[str, ...] = ()
    """SPEC-OBJECT-TYPE names whose objects are never requirements (document and information objects)."""
    reqif_heading_types: tuple[str, ...] = ()
    """SPEC-OBJECT-TYPE names whose objects are headings (kept for the hierarchy, not requirements)."""
    reqif_heading_attribute: str = "ReqIF.ChapterName"
    """An object with a value here and no title value is a heading (DOORS, ReqIF Studio, StrictDoc)."""
    default_class: str | None = None
    """The safety class of a requirement that has none; None: a missing class is an error."""
    class_map: tuple[tuple[str, str], ...] = ()
    """Values (compared ignoring case and surrounding spaces) mapped to A, B or C: ``("Class B", "B")``."""
    id_prefix: tuple[tuple[str, str], ...] = ()
    """Prefixes added to IDs: (name, prefix); the name is a file name, an archive member, a ReqIF
    SPECIFICATION's LONG-NAME, or ``*`` for every other document."""
    columns: tuple[tuple[str, str], ...] = ()
    """Spreadsheet (.xlsx) and CSV column names for ``id``, ``title``, ``safety_class``, ``parent``."""
    max_bytes: int = 50 * 1024 * 1024
    """Largest file read (CSV, ReqIF, and every uncompressed ReqIF member of a ``.reqifz``)."""
    max_depth: int = 256
    """Deepest element nesting accepted in a ReqIF document."""

    def prefix_for(self, *names: str) -> str:
        """The ID prefix of the first of ``names`` configured (then ``*``, then none)."""
        table = dict(self.id_prefix)
        for name in names:
            if name and name in table:
                return table[name]
        return table.get("*", "")


@dataclass
class ReadReport:
    """What a reader did not take as a requirement, and the warnings it has for the user.

    ``skipped`` counts objects by reason (``"heading"``, ``"type 'Document' excluded"``...);
    ``warnings`` are problems that did not stop the read (a dangling hierarchy reference).
    """

    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    attributes: set[str] = field(default_factory=set)
    """Attribute names seen in the files (for the hint of an error)."""

    def skip(self, reason: str, count: int = 1) -> None:
        """Count ``count`` objects skipped for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def warn(self, where: str, line: int | None, message: str) -> None:
        """Record a warning about ``where`` (and ``line``)."""
        self.warnings.append(f"{where}:{line}: {message}" if line else f"{where}: {message}")

    def lines(self, limit: int = 20) -> list[str]:
        """The summary and the first ``limit`` warnings, for a run's output."""
        out = [self.summary()] if self.skipped else []
        out += [f"warning: {warning}" for warning in self.warnings[:limit]]
        if len(self.warnings) > limit:
            out.append(f"warning: ... {len(self.warnings) - limit} more")
        return out

    def summary(self) -> str:
        """One line: the objects not taken, by reason (empty when none)."""
        if not self.skipped:
            return ""
        parts = [
            f"{count} {reason}"
            for reason, count in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        return f"not taken as requirements: {sum(self.skipped.values())} ({', '.join(parts)})"


DEFAULT_OPTIONS = RequirementOptions()
"""The options used when none are given (the class's defaults)."""


@dataclass(frozen=True)
class Requirement:
    """One requirement as a reader found it, before it becomes a row of the frame.

    ``where`` names the file for messages: the path, or ``archive.reqifz[member.reqif]`` for a
    document inside an archive.  It is not part of the frame.
    """

    id: str
    title: str
    safety_class: str
    source: str
    line: int
    attributes: dict[str, str] = field(hash=False)
    where: str
    parent: str | None = None
    """The ID of the requirement this one refines (a ReqIF SPEC-HIERARCHY parent, an sdoc
    section's requirement, a needs link), or None."""


def compile_id_pattern(pattern: str) -> re.Pattern[str]:
    """Compile the configured ID pattern, reporting a broken one as a configuration error."""
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ConfigError(
            f"the requirement ID pattern {pattern!r} is not a valid regular expression: {err}",
            hint=f"fix the pattern; the default is {DEFAULT_ID_PATTERN!r}",
        ) from err


def describe_char(c: str) -> str:
    """Name one character unambiguously: ``U+0420 CYRILLIC CAPITAL LETTER ER``.

    Characters without a Unicode name (controls, unassigned code points) get their general
    category instead, e.g. ``U+0007 <control>``.
    """
    name = unicodedata.name(c, "")
    if not name:
        category = unicodedata.category(c)
        name = {"Cc": "<control>", "Cs": "<surrogate>", "Co": "<private use>", "Cn": "<unassigned>"}.get(
            category, f"<{category}>"
        )
    return f"U+{ord(c):04X} {name}"


def _kind_of(c: str) -> str:
    """Say why a character does not belong in an ID, in words a reviewer understands."""
    if c in BIDI_CONTROLS:
        return "a bidirectional control character"
    if c in INVISIBLE_CHARACTERS or unicodedata.category(c) == "Cf":
        return "an invisible character"
    if c.isascii():
        return "a control character"
    ascii_twin = _LOOK_ALIKES.get(c) or unicodedata.normalize("NFKC", c)
    if len(ascii_twin) == 1 and ascii_twin.isascii() and ascii_twin.isprintable():
        return f"a non-ASCII look-alike of {ascii_twin!r}"
    return "a non-ASCII character"


def validate_id(raw: str, pattern: re.Pattern[str], *, path: Path | str, line: int | None) -> str:
    """Return the requirement ID in ``raw`` without surrounding whitespace, or raise InputError.

    Refuses an empty ID, any character outside printable ASCII (naming it, see the module
    docstring) and an ID that does not match ``pattern`` in full.
    """
    candidate = raw.strip()
    if not candidate:
        raise InputError(
            "empty requirement ID",
            path=path,
            line=line,
            hint="give every requirement an ID, e.g. PUMP-SRS-004",
        )
    if not (candidate.isascii() and candidate.isprintable()):  # name the first character that is not
        for position, c in enumerate(candidate, start=1):
            if not (c.isascii() and c.isprintable()):
                raise InputError(
                    f"requirement ID {candidate!r} contains {_kind_of(c)}, {describe_char(c)}, "
                    f"at character {position}",
                    path=path,
                    line=line,
                    hint="retype the ID using plain ASCII letters, digits and hyphens only",
                )
    if pattern.fullmatch(candidate) is None:
        raise InputError(
            f"requirement ID {candidate!r} does not match the ID pattern {pattern.pattern!r}",
            path=path,
            line=line,
            hint="correct the ID, or configure an ID pattern that describes your IDs "
            "(requirements.id_pattern), or give the IDs a prefix (requirements.id_prefix)",
        )
    return candidate


_CLASS_WORDS = re.compile(r"(?i)class\s*([abc])")


def normalise_safety_class(
    raw: str,
    *,
    req_id: str,
    path: Path | str,
    line: int | None,
    options: RequirementOptions | None = None,
) -> str:
    """Return the safety class ``A``, ``B`` or ``C`` of a raw value.

    The value is compared ignoring case and surrounding spaces, first with the options'
    ``class_map`` (``"SIL3"`` -> ``C``), then with A, B, C; IEC 62304's own spelling
    ``Class A`` / ``Class B`` / ``Class C`` is understood without a map.  An empty value takes the
    options' ``default_class`` when there is one.
    """
    candidate = raw.strip()
    mapped = {key.strip().casefold(): value for key, value in (options.class_map if options else ())}
    if candidate.casefold() in mapped:
        return mapped[candidate.casefold()]
    spelled = _CLASS_WORDS.fullmatch(candidate)  # IEC 62304's own words: "Class B"
    if spelled:
        candidate = spelled.group(1)
    if not candidate and options is not None and options.default_class:
        return options.default_class
    if candidate.upper() not in SAFETY_CLASSES:
        known = ", ".join(SAFETY_CLASSES) + "".join(
            f", {key!r}" for key, _ in (options.class_map if options else ())
        )
        raise InputError(
            f"requirement {req_id!r} has safety class {raw!r}; allowed values are {known}",
            path=path,
            line=line,
            hint="give the IEC 62304 software safety class of the requirement (A, B or C), map your "
            'values with requirements.class_map = {"Class B" = "B"}, or set requirements.default_class',
        )
    return candidate.upper()


def check_title(raw: str, *, req_id: str, path: Path | str, line: int | None) -> str:
    """Return the title without surrounding whitespace; an empty title is an error.

    A requirement without a title cannot be reviewed in a trace report, and an empty title
    usually means a shifted column or a heading exported as a requirement.
    """
    title = raw.strip()
    if not title:
        raise InputError(
            f"requirement {req_id!r} has an empty title",
            path=path,
            line=line,
            hint="give every requirement a short title",
        )
    return title


class DuplicateIndex:
    """Remembers where each ID was seen and refuses a second requirement with the same ID."""

    def __init__(self) -> None:
        self._seen: dict[str, Requirement] = {}

    def add(self, requirement: Requirement) -> None:
        """Record ``requirement``; raise InputError naming both places if its ID was seen."""
        first = self._seen.get(requirement.id)
        if first is None:
            self._seen[requirement.id] = requirement
            return
        if first.where == requirement.where:
            also = f"also on line {first.line}"
        else:
            also = f"also in {first.where}, line {first.line}"
        raise InputError(
            f"duplicate requirement ID {requirement.id!r} ({also})",
            path=requirement.where,
            line=requirement.line,
            hint="every requirement needs its own ID; renumber or remove one of them, or give each document "
            'its own prefix: requirements.id_prefix = {"<file, member or specification>" = "SRS-"}',
        )
