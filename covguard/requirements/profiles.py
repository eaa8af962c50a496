"""ReqIF profiles: how each requirement tool lays out its exports, so a user picks a name.

Each profile says where the tool keeps the requirement ID, the title and which objects are
headings or documents rather than requirements.  It was written from the structure of real
exports of that tool (the public test corpus of strictdoc-project/reqif), summarised here:

==================  ===========================================================================
profile             what the tool's exports look like
==================  ===========================================================================
``doors``           IBM DOORS 9: ``ReqIF.ForeignID`` is the absolute number (an integer, every
                    module starts at 1: configure a prefix per module); the object text is
                    ``ReqIF.Text`` (XHTML); headings are objects with ``ReqIF.ChapterName`` and
                    no text; SPEC-OBJECT-TYPEs often have no LONG-NAME.
``polarion``        Polarion: every work item has an ID (``ReqIF.ForeignID``, ``PRJ-123``), also
                    headings and the document itself; the title is ``ReqIF.ChapterName``, the
                    body ``ReqIF.Text``; work item types are SPEC-OBJECT-TYPEs (``Heading``,
                    ``Document``, ``Software Requirement``...).
``capella``         Capella Requirements VP: the ID is the attribute ``IE PUID``; the title the
                    SPEC-OBJECT's LONG-NAME (then ``ReqIF.Text``); folders are headings.
``ea``              Sparx Enterprise Architect: the ID is the SPEC-OBJECT's IDENTIFIER, the title
                    its LONG-NAME; attribute definitions may have no LONG-NAME; hierarchies may
                    refer to objects that are not in the file (warnings); objects of a type
                    ``Package`` are taken as headings (not seen in the sample: an assumption).
``reqif-studio``    ReqIF Studio / formalmind: ``ReqIF.ForeignID``, ``ReqIF.Text``; headings carry
                    ``ReqIF.ChapterName`` (XHTML) and no text.
``pror``            Eclipse ProR / RMF: ``ReqIF.ForeignID`` or ProR's default ``ID`` attribute,
                    dotted numbers (``1.1.2``), else the SPEC-OBJECT's IDENTIFIER; the title
                    ``ReqIF.Name``, ``Description``, ``ReqIF.Text`` or the LONG-NAME; types
                    named ``*Heading*`` are headings.
==================  ===========================================================================

No export carries an IEC 62304 safety class of a fixed name: every profile looks for an
attribute ``SafetyClass`` and otherwise gives the requirement ``requirements.default_class``, which
is ``C`` (the strictest class: a requirement of unknown class is held to the strictest gate)
unless configured.  Tool IDs are not the upper-case ``WORD-123`` of the default pattern, so the
profiles accept any ID of ASCII letters, digits and ``_ . : -``; ``requirements.id_pattern``
narrows it.  Every key configured explicitly wins over the profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from covguard.errors import ConfigError
from covguard.requirements.ids import OBJECT_IDENTIFIER, OBJECT_LONG_NAME

TOOL_ID_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.:-]*"
"""IDs as tools write them: ``1``, ``1.1.2``, ``R001``, ``PUID-1``, ``SRS_12``, ``LOREM-818``."""

PROFILE_DEFAULT_CLASS = "C"
"""The class of a requirement without one, under a profile (unless requirements.default_class)."""


@dataclass(frozen=True)
class Profile:
    """Where one tool keeps what covguard needs (see the module docstring)."""

    name: str
    tool: str
    id_attributes: tuple[str, ...]
    title_attributes: tuple[str, ...]
    class_attribute: str = "SafetyClass"
    heading_types: tuple[str, ...] = ()
    exclude_types: tuple[str, ...] = ()
    heading_attribute: str = "ReqIF.ChapterName"
    id_pattern: str = TOOL_ID_PATTERN


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("doors", "IBM DOORS 9", ("ReqIF.ForeignID",), ("ReqIF.Text",)),
        Profile(
            "polarion",
            "Polarion",
            ("ReqIF.ForeignID",),
            ("ReqIF.ChapterName", "ReqIF.Text"),
            heading_types=("Heading",),
            exclude_types=("Document",),
            heading_attribute="",
        ),
        Profile(
            "capella",
            "Capella Requirements VP",
            ("IE PUID",),
            (OBJECT_LONG_NAME, "ReqIF.Name", "ReqIF.Text"),
            heading_types=("*Folder*",),
        ),
        Profile(
            "ea",
            "Sparx Enterprise Architect",
            (OBJECT_IDENTIFIER,),
            (OBJECT_LONG_NAME, "ReqIF.Name"),
            heading_types=("Package",),
        ),
        Profile("reqif-studio", "ReqIF Studio", ("ReqIF.ForeignID",), ("ReqIF.Text", "ReqIF.Name")),
        Profile(
            "pror",
            "Eclipse ProR / RMF",
            ("ReqIF.ForeignID", "ID", OBJECT_IDENTIFIER),
            ("ReqIF.Name", "Description", "ReqIF.Text", OBJECT_LONG_NAME),
            heading_types=("*Heading*",),
        ),
    )
}
"""The profiles by name."""


def profile(name: str) -> Profile:
    """The profile called ``name``; an unknown name is a configuration error listing the known ones."""
    found = PROFILES.get(name)
    if found is None:
        raise ConfigError(
            f"unknown ReqIF profile {name!r}",
            hint="known profiles: "
            + ", ".join(PROFILES)
            + '; or leave reqif.profile = "" and configure the keys',
        )
    return found
