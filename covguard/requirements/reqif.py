"""Reader for ReqIF 1.2 (``.reqif``) and ReqIF archives (``.reqifz``).

ReqIF is the exchange format of DOORS, Polarion, codebeamer and most requirement tools.  A
document (namespace ``http://www.omg.org/spec/ReqIF/20110401/reqif.xsd``) holds, under
``REQ-IF/CORE-CONTENT/REQ-IF-CONTENT``:

* ``DATATYPES``: among others the enumerations, whose ``ENUM-VALUE``\\ s are shown by LONG-NAME
  (or by the ``KEY`` of their ``EMBEDDED-VALUE`` when they have none);
* ``SPEC-TYPES``: each ``SPEC-OBJECT-TYPE`` lists its attribute definitions
  (``ATTRIBUTE-DEFINITION-STRING``, ``-XHTML``, ``-ENUMERATION``, ``-INTEGER``, ``-REAL``,
  ``-BOOLEAN``, ``-DATE``), each with an ``IDENTIFIER``, a ``LONG-NAME`` and maybe a default value;
* ``SPEC-OBJECTS``: the requirements.  Each ``SPEC-OBJECT`` names its type and carries
  ``ATTRIBUTE-VALUE-*`` elements whose ``DEFINITION`` refers to an attribute definition by
  IDENTIFIER;
* ``SPECIFICATIONS``: documents arranging the objects in a ``SPEC-HIERARCHY`` tree.  The tree
  gives each requirement its ``parent`` (the nearest enclosing object that is a requirement) and
  its document (the SPECIFICATION's LONG-NAME, for an ID prefix); it does not select
  requirements: an object outside every specification is still a requirement.  A reference to an
  object that is not in the file is a warning (Enterprise Architect writes them), not an error.

The older namespace of the 2010-12-01 draft (``http://www.omg.org/spec/ReqIF/20101201``) is read
the same way.

Where the ID, the title and the safety class come from is configured in
:class:`~covguard.requirements.ids.RequirementOptions` (or by a tool profile,
:mod:`covguard.requirements.profiles`): each source is an attribute, named by the LONG-NAME or
the IDENTIFIER of its definition, or ``SPEC-OBJECT.IDENTIFIER`` / ``SPEC-OBJECT.LONG-NAME`` for
the object's own XML attributes.  Names are matched exactly.  Values become text: XHTML by its
text content with whitespace collapsed, enumerations by the labels of the chosen values (joined
by ``", "``), the other kinds by their ``THE-VALUE`` as written.  A definition's default value
applies to an object that gives no value of its own.  The safety class goes through the
``class_map`` (``"Class B"`` -> ``B``; enumeration labels included); without a class attribute,
``default_class`` applies.  An ID prefix can be configured per file, archive member or
SPECIFICATION (DOORS numbers every module from 1).

Which SPEC-OBJECTs are requirements (every other one is counted, by reason, in the summary line
of the :class:`~covguard.requirements.ids.ReadReport`):

* objects of a type in ``reqif_exclude_types``, or not in a non-empty ``reqif_include_types``
  (types named by LONG-NAME or IDENTIFIER, globs allowed) are not;
* headings are not: objects of a type in ``reqif_heading_types`` (Polarion's ``Heading``), and
  objects with a ``ReqIF.ChapterName`` value but no title value (DOORS, ReqIF Studio);
* objects whose type has no ID attribute are not;
* any other object without an ID value is an error naming the SPEC-OBJECT's IDENTIFIER and
  line, because a requirement without ID would silently drop out of the trace.

A document without any SPEC-OBJECT (a ``.reqifz`` member holding relations only) is a warning;
a file without any requirement is an error that gives the counts by reason.

Hostile input is refused before anything is returned:

* a DOCTYPE or any other markup declaration in the prolog (the carrier of external entities,
  parameter entities and "billion laughs") is refused before the parser sees the document, and
  the parser itself runs without entity expansion, DTD loading or network access;
* documents must be UTF-8 (the encoding every ReqIF tool writes), so that the prolog check
  cannot be bypassed by an exotic encoding;
* files (and archive members, by their declared and by their actual size) larger than
  ``max_bytes`` are refused before being read, as are archive members that unpack more than
  :data:`MAX_COMPRESSION_RATIO` times their compressed size;
* element nesting is limited to ``max_depth`` levels, checked while parsing (the parser's own
  limit, 256 levels, applies as well);
* archive members with absolute paths or ``..`` are refused (nothing is ever extracted to
  disk; such a name means the archive is not what it claims to be); macOS sidecars
  (``__MACOSX/``, ``._name.reqif``) are ignored, and such a sidecar given as a file is named for
  what it is.

Every requirement's ``line`` is the line of its ``SPEC-OBJECT`` start tag; ``attributes`` holds
every other attribute value by LONG-NAME.
"""

from __future__ import annotations

import fnmatch
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from covguard.errors import InputError
from covguard.requirements.csv_reader import read_file_bytes
from covguard.requirements.ids import (
    DEFAULT_OPTIONS,
    OBJECT_IDENTIFIER,
    OBJECT_LONG_NAME,
    DuplicateIndex,
    ReadReport,
    Requirement,
    RequirementOptions,
    check_title,
    compile_id_pattern,
    normalise_safety_class,
    validate_id,
)

REQIF_NS = "http://www.omg.org/spec/ReqIF/20110401/reqif.xsd"
DRAFT_NS = "http://www.omg.org/spec/ReqIF/20101201"
"""The namespace of the ReqIF 1.0 draft (2010-12-01), still in older RMF/ProR files; same elements."""
APPLE_DOUBLE_MAGIC = b"\x00\x05\x16\x07"
XHTML_NS = "http://www.w3.org/1999/xhtml"
HEADING_ATTRIBUTE = "ReqIF.ChapterName"
MAX_COMPRESSION_RATIO = 200
"""Largest uncompressed/compressed size ratio accepted for a member bigger than 1 MiB."""

_RATIO_CHECK_FLOOR = 1024 * 1024
_CHUNK = 64 * 1024
_VALUE_KINDS = ("STRING", "XHTML", "ENUMERATION", "INTEGER", "REAL", "BOOLEAN", "DATE")
_BLOCK_TAGS = frozenset(
    {"div", "p", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}
    | {"blockquote", "dl", "dt", "dd", "caption", "thead", "tbody", "tfoot"}
)
_ENCODING = re.compile(rb"""\sencoding\s*=\s*["']([^"']*)["']""")
_UTF8_NAMES = frozenset([b"utf-8", b"utf8", b"us-ascii", b"ascii"])
_SQUASH = re.compile(r"[^a-z0-9]")


def _q(name: str) -> str:
    """The qualified (Clark notation) name of a ReqIF element."""
    return f"{{{REQIF_NS}}}{name}"


def _line(element: object) -> int | None:
    """The line an element starts on (lxml's ``sourceline``; the stubs do not type it)."""
    line = getattr(element, "sourceline", None)
    return line if isinstance(line, int) and line > 0 else None


def _local(tag: str) -> str:
    """The local name of a qualified tag."""
    return tag.rpartition("}")[2]


# ---------------------------------------------------------------------------------------------
# Safe parsing


def check_prolog(data: bytes, where: str) -> None:
    """Refuse a non-UTF-8 document, and any DOCTYPE or markup declaration, before parsing.

    The prolog is everything before the root element: the XML declaration, comments,
    processing instructions and whitespace.  A document type declaration can only appear there.
    """
    if data[:4] == APPLE_DOUBLE_MAGIC:
        raise InputError(
            "this is a macOS AppleDouble sidecar (resource fork), not a ReqIF document",
            path=where,
            hint="use the file without the leading '._'; macOS writes these beside files on foreign disks",
        )
    body = data.removeprefix(b"\xef\xbb\xbf")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        raise InputError(
            "the ReqIF document is not UTF-8 (it looks like UTF-16 or UTF-32)",
            path=where,
            hint="export the ReqIF file as UTF-8",
        )
    position = 0
    while position < len(body):
        if body[position : position + 1].isspace():
            position += 1
        elif body.startswith(b"<?", position):
            end = body.find(b"?>", position + 2)
            _check_declared_encoding(body[position : end if end >= 0 else len(body)], where)
            position = len(body) if end < 0 else end + 2
        elif body.startswith(b"<!--", position):
            end = body.find(b"-->", position + 4)
            position = len(body) if end < 0 else end + 3
        elif body.startswith(b"<!", position):
            what = "DOCTYPE" if body.startswith(b"<!DOCTYPE", position) else "markup"
            raise InputError(
                f"the ReqIF document contains a {what} declaration, which covguard refuses "
                "(document type declarations can define entities that read files or expand without bound)",
                path=where,
                line=body.count(b"\n", 0, position) + 1,
                hint="ReqIF documents need no DOCTYPE; remove it, or export the file again from the tool",
            )
        else:
            return  # the root element (or garbage, which the parser reports)


def _check_declared_encoding(instruction: bytes, where: str) -> None:
    """Refuse an XML declaration that names an encoding other than UTF-8."""
    if not re.match(rb"<\?xml\s", instruction):
        return
    match = _ENCODING.search(instruction)
    if match and match.group(1).lower() not in _UTF8_NAMES:
        raise InputError(
            f"the ReqIF document declares the encoding {match.group(1).decode('ascii', 'replace')!r}; "
            "covguard reads UTF-8 only",
            path=where,
            line=1,
            hint="export the ReqIF file as UTF-8",
        )


def parse_xml(data: bytes, where: str, max_depth: int) -> etree._Element:
    """Parse a ReqIF document with a hardened parser; return its root element.

    The nesting depth is checked as the parser goes, so a deeply nested document is refused
    without building all of it.
    """
    check_prolog(data, where)
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
    )
    depth = 0
    try:
        for offset in range(0, len(data), _CHUNK):
            parser.feed(data[offset : offset + _CHUNK])
            depth = _follow_depth(parser, depth, max_depth, where)
        root: etree._Element = parser.close()
    except etree.XMLSyntaxError as err:
        _follow_depth(parser, depth, max_depth, where)  # the events parsed before the error
        if "depth" in str(err.msg).lower():
            raise _too_deep(min(max_depth, 256), err.lineno, where) from err
        raise InputError(
            f"malformed XML: {err.msg}",
            path=where,
            line=err.lineno or None,
            hint="the file is not well-formed XML; export it again from the requirement tool",
        ) from err
    return root


def _follow_depth(parser: etree.XMLPullParser, depth: int, max_depth: int, where: str) -> int:
    """Consume the parser's pending events, refusing nesting deeper than ``max_depth``."""
    for event, element in parser.read_events():
        if event == "start":
            depth += 1
            if depth > max_depth:
                raise _too_deep(max_depth, _line(element), where)
        else:
            depth -= 1
    return depth


def _too_deep(max_depth: int, line: int | None, where: str) -> InputError:
    """The error for a document nested too deeply."""
    return InputError(
        f"the ReqIF document is nested deeper than {max_depth} levels",
        path=where,
        line=line or None,
        hint="no genuine ReqIF export nests this deep; check where the file came from",
    )


# ---------------------------------------------------------------------------------------------
# The document model


@dataclass(frozen=True)
class _Definition:
    """An attribute definition of a SPEC-OBJECT-TYPE."""

    identifier: str
    name: str
    kind: str
    default: etree._Element | None


@dataclass(frozen=True)
class _Document:
    """What a document declares before its objects: enumeration labels, types, definitions."""

    where: str
    source: str
    enum_labels: dict[str, str]
    definitions: dict[str, _Definition]
    object_types: dict[str, list[_Definition]]
    type_names: dict[str, str]
    report: ReadReport


def _identifier(element: etree._Element, where: str) -> str:
    """The IDENTIFIER of an element, which ReqIF requires."""
    identifier = (element.get("IDENTIFIER") or "").strip()
    if not identifier:
        raise InputError(
            f"<{_local(str(element.tag))}> has no IDENTIFIER",
            path=where,
            line=_line(element),
            hint="every ReqIF element of this kind needs an IDENTIFIER; export the file again",
        )
    return identifier


def _adopt_draft(root: etree._Element) -> None:
    """Move the elements of a ReqIF 20101201 draft document into the ReqIF 1.2 namespace."""
    draft = f"{{{DRAFT_NS}}}"
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith(draft):
            element.tag = _q(tag[len(draft) :])


def _content(root: etree._Element, where: str) -> etree._Element:
    """The REQ-IF-CONTENT element, after checking that this is a ReqIF document at all."""
    if root.tag == f"{{{DRAFT_NS}}}REQ-IF":
        _adopt_draft(root)
    if root.tag != _q("REQ-IF"):
        raise InputError(
            f"not a ReqIF document: the root element is <{root.tag}>",
            path=where,
            line=_line(root),
            hint=f'a ReqIF 1.2 document starts with <REQ-IF xmlns="{REQIF_NS}">',
        )
    content = root.find(f"{_q('CORE-CONTENT')}/{_q('REQ-IF-CONTENT')}")
    if content is None:
        raise InputError(
            "the ReqIF document has no CORE-CONTENT/REQ-IF-CONTENT",
            path=where,
            line=_line(root),
            hint="the export is incomplete; export the file again",
        )
    return content


def _enum_labels(content: etree._Element, where: str) -> dict[str, str]:
    """Label of every ENUM-VALUE by IDENTIFIER: its LONG-NAME, else its KEY, else its IDENTIFIER."""
    labels: dict[str, str] = {}
    path = "/".join(
        _q(name)
        for name in ("DATATYPES", "DATATYPE-DEFINITION-ENUMERATION", "SPECIFIED-VALUES", "ENUM-VALUE")
    )
    for value in content.iterfind(path):
        identifier = _identifier(value, where)
        embedded = value.find(f"{_q('PROPERTIES')}/{_q('EMBEDDED-VALUE')}")
        key = embedded.get("KEY") if embedded is not None else None
        labels[identifier] = value.get("LONG-NAME") or key or identifier
    return labels


def _object_types(
    content: etree._Element, where: str
) -> tuple[dict[str, _Definition], dict[str, list[_Definition]], dict[str, str]]:
    """Attribute definitions by IDENTIFIER, the definitions of each SPEC-OBJECT-TYPE, and the
    name of each type (its LONG-NAME, else its IDENTIFIER)."""
    definitions: dict[str, _Definition] = {}
    types: dict[str, list[_Definition]] = {}
    type_names: dict[str, str] = {}
    for spec_type in content.iterfind(f"{_q('SPEC-TYPES')}/{_q('SPEC-OBJECT-TYPE')}"):
        own: list[_Definition] = []
        for element in spec_type.iterfind(f"{_q('SPEC-ATTRIBUTES')}/*"):
            definition = _definition(element, where)
            if definition.identifier in definitions:
                raise InputError(
                    f"attribute definition IDENTIFIER {definition.identifier!r} is defined twice",
                    path=where,
                    line=_line(element),
                    hint="identifiers must be unique in a ReqIF document; export the file again",
                )
            definitions[definition.identifier] = definition
            own.append(definition)
        key = _identifier(spec_type, where)
        types[key] = own
        type_names[key] = (spec_type.get("LONG-NAME") or "").strip() or key
    return definitions, types, type_names


def _definition(element: etree._Element, where: str) -> _Definition:
    """Read one ATTRIBUTE-DEFINITION-* element."""
    kind = _local(str(element.tag)).removeprefix("ATTRIBUTE-DEFINITION-")
    if kind not in _VALUE_KINDS:
        raise InputError(
            f"unknown attribute definition <{_local(str(element.tag))}>",
            path=where,
            line=_line(element),
            hint="ReqIF 1.2 attribute definitions are ATTRIBUTE-DEFINITION-" + "/-".join(_VALUE_KINDS),
        )
    identifier = _identifier(element, where)
    default = element.find(f"{_q('DEFAULT-VALUE')}/*")
    name = (element.get("LONG-NAME") or "").strip() or identifier
    return _Definition(identifier, name, kind, default)


# ---------------------------------------------------------------------------------------------
# Attribute values


def _xhtml_text(the_value: etree._Element) -> str:
    """The text content of an XHTML value, whitespace collapsed, blocks separated by a space."""
    parts = [the_value.text or ""]
    for event, element in etree.iterwalk(the_value, events=("start", "end")):
        if element is the_value:
            continue
        is_block = isinstance(element.tag, str) and _local(element.tag) in _BLOCK_TAGS
        if event == "start":
            parts.append(" " if is_block else "")
            parts.append((element.text or "") if isinstance(element.tag, str) else "")
        else:
            parts.append(" " if is_block else "")
            parts.append(element.tail or "")
    return " ".join("".join(parts).split())


def _value_text(value: etree._Element, kind: str, document: _Document) -> str:
    """The text of one ATTRIBUTE-VALUE-* element of the given kind."""
    if kind == "XHTML":
        the_value = value.find(_q("THE-VALUE"))
        return _xhtml_text(the_value) if the_value is not None else ""
    if kind == "ENUMERATION":
        labels = []
        for ref in value.iterfind(f"{_q('VALUES')}/{_q('ENUM-VALUE-REF')}"):
            key = (ref.text or "").strip()
            if key not in document.enum_labels:
                raise InputError(
                    f"enumeration value refers to unknown ENUM-VALUE {key!r}",
                    path=document.where,
                    line=_line(ref),
                    hint="the export is inconsistent; export the file again",
                )
            labels.append(document.enum_labels[key])
        return ", ".join(labels)
    text = value.get("THE-VALUE")
    if text is None:
        raise InputError(
            f"<{_local(str(value.tag))}> has no THE-VALUE",
            path=document.where,
            line=_line(value),
            hint="the export is incomplete; export the file again",
        )
    return text


def _resolve(value: etree._Element, document: _Document) -> tuple[_Definition, str]:
    """The definition an ATTRIBUTE-VALUE-* refers to, and the value as text."""
    kind = _local(str(value.tag)).removeprefix("ATTRIBUTE-VALUE-")
    if kind not in _VALUE_KINDS:
        raise InputError(
            f"unknown attribute value <{_local(str(value.tag))}>",
            path=document.where,
            line=_line(value),
            hint="ReqIF 1.2 attribute values are ATTRIBUTE-VALUE-" + "/-".join(_VALUE_KINDS),
        )
    ref = value.find(f"{_q('DEFINITION')}/*")
    key = (ref.text or "").strip() if ref is not None else ""
    definition = document.definitions.get(key)
    if definition is None:
        raise InputError(
            f"<{_local(str(value.tag))}> refers to unknown attribute definition {key!r}",
            path=document.where,
            line=_line(value),
            hint="the export is inconsistent; export the file again",
        )
    if definition.kind != kind:
        document.report.warn(
            document.where,
            _line(value),
            f"a {kind} value refers to the {definition.kind} attribute definition {definition.name!r} "
            "(read as written)",
        )
    return definition, _value_text(value, kind, document)


def _object_values(
    spec_object: etree._Element, type_definitions: list[_Definition], document: _Document
) -> dict[str, str]:
    """Every attribute value of a SPEC-OBJECT by LONG-NAME, defaults filled in."""
    values: dict[str, str] = {}
    for value in spec_object.iterfind(f"{_q('VALUES')}/*"):
        definition, text = _resolve(value, document)
        if definition.name in values:
            raise InputError(
                f"attribute {definition.name!r} has two values in one SPEC-OBJECT",
                path=document.where,
                line=_line(value),
                hint="the export is inconsistent; export the file again",
            )
        values[definition.name] = text
    for definition in type_definitions:
        if definition.name not in values and definition.default is not None:
            values[definition.name] = _value_text(definition.default, definition.kind, document)
    return values


# ---------------------------------------------------------------------------------------------
# Requirements


def _squash(name: str) -> str:
    """A name reduced to lower-case letters and digits, to find near matches."""
    return _SQUASH.sub("", name.casefold())


def _near(wanted: str, names: set[str]) -> list[str]:
    """Attribute names that look like ``wanted`` (``IEC62304.SafetyClass`` for ``SafetyClass``)."""
    key = _squash(wanted)
    return sorted(name for name in names if key and (key in _squash(name) or _squash(name) in key))


def _missing_attribute(
    what: str, wanted: str, names: set[str], *, where: str, line: int | None
) -> InputError:
    """The error for an attribute the object's type does not define, with near matches."""
    near = _near(wanted, names)
    hint = (
        f"configure the attribute that holds the {what} (its LONG-NAME or IDENTIFIER), "
        "or pick a profile (reqif.profile)"
    )
    if what == "safety class":
        hint += ", or set requirements.default_class"
    if near:
        hint += "; similar attributes in the document: " + ", ".join(repr(name) for name in near)
    return InputError(
        f"{what} attribute {wanted!r} is not defined for this SPEC-OBJECT",
        path=where,
        line=line,
        hint=hint,
    )


@dataclass(frozen=True)
class _Object:
    """One SPEC-OBJECT with its type and its attribute values by definition name."""

    element: etree._Element
    identifier: str
    long_name: str
    type_name: str
    type_identifier: str
    definitions: list[_Definition]
    values: dict[str, str]
    line: int

    def defines(self, source: str) -> bool:
        """Whether the object's type has the source (an attribute, or the object's own)."""
        if source in (OBJECT_IDENTIFIER, OBJECT_LONG_NAME):
            return True
        return any(source in (d.name, d.identifier) for d in self.definitions)

    def value(self, source: str) -> tuple[str, str | None]:
        """The text of a source and the attribute name it used (None for the object's own)."""
        if source == OBJECT_IDENTIFIER:
            return self.identifier, None
        if source == OBJECT_LONG_NAME:
            return self.long_name, None
        for definition in self.definitions:
            if source in (definition.name, definition.identifier):
                return self.values.get(definition.name, ""), definition.name
        return "", None


def _type_matches(obj: _Object, patterns: tuple[str, ...]) -> bool:
    """Whether the object's SPEC-OBJECT-TYPE (LONG-NAME or IDENTIFIER) matches one of the globs."""
    return any(
        fnmatch.fnmatchcase(obj.type_name, pattern) or fnmatch.fnmatchcase(obj.type_identifier, pattern)
        for pattern in patterns
    )


def _skip_reason(obj: _Object, options: RequirementOptions) -> str | None:
    """Why an object is not a requirement (counted in the summary), or None when it is one."""
    if _type_matches(obj, options.reqif_exclude_types):
        return f"type {obj.type_name!r} excluded"
    if _type_matches(obj, options.reqif_heading_types):
        return "heading"
    if options.reqif_include_types and not _type_matches(obj, options.reqif_include_types):
        return f"type {obj.type_name!r} not included"
    heading = options.reqif_heading_attribute
    if heading and obj.value(heading)[0].strip() and _title_source(obj, options) is None:
        return "heading"
    if _id_source(obj, options) is None:
        return f"type {obj.type_name!r} without ID attribute {options.reqif_id_attribute!r}"
    return None


def _id_source(obj: _Object, options: RequirementOptions) -> str | None:
    """The first ID source the object's type defines."""
    sources = (options.reqif_id_attribute, *options.reqif_id_alternatives)
    return next((source for source in sources if obj.defines(source)), None)


def _read_object(
    obj: _Object, document: _Document, options: RequirementOptions, pattern: re.Pattern[str], prefix: str
) -> Requirement:
    """Turn one SPEC-OBJECT that is a requirement (see :func:`_skip_reason`) into one."""
    where, line = document.where, obj.line
    id_source = _id_source(obj, options) or options.reqif_id_attribute
    raw_id, id_name = obj.value(id_source)
    if not raw_id.strip():
        raise InputError(
            f"SPEC-OBJECT {obj.identifier!r} (type {obj.type_name!r}) has no value for the ID attribute "
            f"{id_source!r}",
            path=where,
            line=line,
            hint="give the requirement an ID in the requirement tool and export again; if objects of this "
            "type are not requirements, list the type in reqif.exclude_types or reqif.heading_types",
        )
    req_id = validate_id(prefix + raw_id.strip(), pattern, path=where, line=line)
    title_source = _title_source(obj, options)
    if title_source is None:
        raise InputError(
            f"requirement {req_id!r} (SPEC-OBJECT {obj.identifier!r}) has no title: none of "
            + ", ".join(repr(name) for name in options.reqif_title_attributes)
            + " has a value",
            path=where,
            line=line,
            hint="give the requirement a title, or configure the attributes that hold titles "
            "(reqif.title_attributes)",
        )
    raw_title, title_name = obj.value(title_source)
    title = check_title(raw_title, req_id=req_id, path=where, line=line)
    class_source = options.reqif_class_attribute
    class_name: str | None = None
    if class_source and obj.defines(class_source):
        raw_class, class_name = obj.value(class_source)
    elif options.default_class:
        raw_class = ""
    else:
        names = {definition.name for definition in obj.definitions}
        raise _missing_attribute("safety class", class_source or "(none)", names, where=where, line=line)
    safety_class = normalise_safety_class(raw_class, req_id=req_id, path=where, line=line, options=options)
    used = {id_name, title_name, class_name}
    attributes = {name: text for name, text in obj.values.items() if name not in used}
    return Requirement(req_id, title, safety_class, document.source, line, attributes, where)


def _title_source(obj: _Object, options: RequirementOptions) -> str | None:
    """The first configured title source with a (non-blank) value, the ID's own source last."""
    present = [name for name in options.reqif_title_attributes if obj.value(name)[0].strip()]
    others = [name for name in present if name != _id_source(obj, options)]
    return next(iter(others or present), None)


def _objects(content: etree._Element, document: _Document) -> list[_Object]:
    """Every SPEC-OBJECT of the document, with its type and values; identifiers checked unique."""
    objects: list[_Object] = []
    seen: set[str] = set()
    where = document.where
    for element in content.iterfind(f"{_q('SPEC-OBJECTS')}/{_q('SPEC-OBJECT')}"):
        identifier = _identifier(element, where)
        line = _line(element) or 1
        if identifier in seen:
            raise InputError(
                f"SPEC-OBJECT IDENTIFIER {identifier!r} is used twice",
                path=where,
                line=line,
                hint="identifiers must be unique in a ReqIF document; export the file again",
            )
        seen.add(identifier)
        type_ref = element.find(f"{_q('TYPE')}/{_q('SPEC-OBJECT-TYPE-REF')}")
        type_key = (type_ref.text or "").strip() if type_ref is not None else ""
        if type_key not in document.object_types:
            raise InputError(
                f"SPEC-OBJECT {identifier!r} refers to unknown SPEC-OBJECT-TYPE {type_key!r}",
                path=where,
                line=line,
                hint="the export is inconsistent (or only a fragment of a document); export the file again",
            )
        definitions = document.object_types[type_key]
        objects.append(
            _Object(
                element=element,
                identifier=identifier,
                long_name=(element.get("LONG-NAME") or "").strip(),
                type_name=document.type_names.get(type_key, type_key),
                type_identifier=type_key,
                definitions=definitions,
                values=_object_values(element, definitions, document),
                line=line,
            )
        )
    return objects


@dataclass(frozen=True)
class _Tree:
    """What the SPECIFICATIONs say: each object's parent object and its specification's names."""

    parent: dict[str, str]
    specification: dict[str, tuple[str, str]]


def _hierarchy(content: etree._Element, object_ids: set[str], where: str, report: ReadReport) -> _Tree:
    """Parents and specifications of the objects; a reference to an unknown object is a warning."""
    parent: dict[str, str] = {}
    specification: dict[str, tuple[str, str]] = {}
    for spec in content.iterfind(f"{_q('SPECIFICATIONS')}/{_q('SPECIFICATION')}"):
        names = ((spec.get("LONG-NAME") or "").strip(), (spec.get("IDENTIFIER") or "").strip())
        stack: list[tuple[etree._Element, str | None]] = [(spec, None)]
        while stack:
            node, above = stack.pop()
            for child in node.iterfind(f"{_q('CHILDREN')}/{_q('SPEC-HIERARCHY')}"):
                ref = child.find(f"{_q('OBJECT')}/{_q('SPEC-OBJECT-REF')}")
                key = (ref.text or "").strip() if ref is not None else ""
                if key not in object_ids:
                    report.warn(
                        where,
                        _line(ref if ref is not None else child),
                        f"the specification refers to unknown SPEC-OBJECT {key!r} (ignored)",
                    )
                    stack.append((child, above))
                    continue
                specification.setdefault(key, names)
                if above is not None:
                    parent.setdefault(key, above)
                stack.append((child, key))
    return _Tree(parent, specification)


def read_reqif_document(
    data: bytes,
    *,
    where: str,
    source: str,
    options: RequirementOptions,
    report: ReadReport | None = None,
    names: tuple[str, ...] = (),
) -> list[Requirement]:
    """Read the requirements of one ReqIF document held in ``data`` (maybe none: see the callers).

    ``where`` names the document in messages, ``source`` is what the requirements record as
    their source (the path as the user gave it); ``names`` are the file and member names an ID
    prefix may be configured for.  Objects not taken are counted in ``report``.
    """
    report = report if report is not None else ReadReport()
    pattern = compile_id_pattern(options.id_pattern)
    root = parse_xml(data, where, options.max_depth)
    content = _content(root, where)
    definitions, object_types, type_names = _object_types(content, where)
    document = _Document(
        where, source, _enum_labels(content, where), definitions, object_types, type_names, report
    )
    objects = _objects(content, document)
    report.attributes.update(definition.name for definition in definitions.values())
    if not objects:
        report.warn(where, None, "the document holds no SPEC-OBJECT (relations or types only); nothing read")
        return []
    tree = _hierarchy(content, {obj.identifier for obj in objects}, where, report)
    seen = DuplicateIndex()
    by_object: dict[str, Requirement] = {}
    for obj in objects:
        reason = _skip_reason(obj, options)
        if reason is not None:
            report.skip(reason)
            continue
        spec_names = tree.specification.get(obj.identifier, ("", ""))
        prefix = options.prefix_for(*spec_names, *names)
        requirement = _read_object(obj, document, options, pattern, prefix)
        seen.add(requirement)
        by_object[obj.identifier] = requirement
    return [_with_parent(key, requirement, tree, by_object) for key, requirement in by_object.items()]


def _with_parent(
    key: str, requirement: Requirement, tree: _Tree, by_object: dict[str, Requirement]
) -> Requirement:
    """The requirement with the ID of its nearest ancestor that is a requirement (headings skipped)."""
    seen: set[str] = {key}
    above = tree.parent.get(key)
    while above is not None and above not in by_object and above not in seen:
        seen.add(above)
        above = tree.parent.get(above)
    if above is None or above not in by_object:
        return requirement
    return replace(requirement, parent=by_object[above].id)


def no_requirements(where: str, report: ReadReport) -> InputError:
    """The error for a file without any requirement, saying what was skipped and why."""
    summary = report.summary() or "the file holds no SPEC-OBJECT"
    hint = (
        "pick the profile of the tool that exported the file (reqif.profile), or configure "
        "reqif.id_attribute / reqif.include_types; `covguard requirements show FILE` shows what is read"
    )
    if report.attributes:
        names = sorted(report.attributes)
        hint += "; the attributes defined in the document are " + ", ".join(repr(name) for name in names[:30])
        hint += f" and {len(names) - 30} more" if len(names) > 30 else ""
    return InputError(f"no requirements: {summary}", path=where, hint=hint)


def read_reqif(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read the requirements of a ``.reqif`` file."""
    report = report if report is not None else ReadReport()
    data = read_file_bytes(path, options.max_bytes)
    requirements = read_reqif_document(
        data, where=str(path), source=str(path), options=options, report=report, names=(path.name, str(path))
    )
    if not requirements:
        raise no_requirements(str(path), report)
    return requirements


# ---------------------------------------------------------------------------------------------
# ReqIF archives

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
)


def _unsafe_name(name: str) -> bool:
    """Whether an archive member name is absolute or climbs out of the archive."""
    parts = re.split(r"[/\\]", name)
    return (
        name.startswith(("/", "\\")) or bool(re.match(r"[A-Za-z]:", name)) or ".." in parts or "\x00" in name
    )


def _reqif_members(archive: zipfile.ZipFile, where: str, max_bytes: int) -> list[zipfile.ZipInfo]:
    """The ``.reqif`` members of an archive, after checking every name and the sizes."""
    infos = archive.infolist()
    for info in infos:
        if _unsafe_name(info.filename):
            raise InputError(
                f"the ReqIF archive has a member with an unsafe path: {info.filename!r}",
                path=where,
                hint="a ReqIF archive holds relative paths only; check where the file came from",
            )
    members = [
        info
        for info in infos
        if not info.is_dir()
        and info.filename.lower().endswith(".reqif")
        and not is_apple_double(info.filename)
    ]
    if not members:
        raise InputError(
            "the ReqIF archive contains no .reqif document",
            path=where,
            hint="members found: " + (", ".join(repr(info.filename) for info in infos[:10]) or "none"),
        )
    total = sum(info.file_size for info in members)
    if total > max_bytes:
        raise InputError(
            f"the ReqIF documents in the archive unpack to {total} bytes, "
            f"more than the limit of {max_bytes} bytes",
            path=where,
            hint="split the export, or raise the size limit if the file is genuine",
        )
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_CHECK_FLOOR and ratio > MAX_COMPRESSION_RATIO:
            raise InputError(
                f"archive member {info.filename!r} unpacks to {ratio:.0f} times its compressed size "
                f"(the limit is {MAX_COMPRESSION_RATIO}), a sign of a zip bomb",
                path=where,
                hint="check where the file came from",
            )
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, max_bytes: int) -> bytes:
    """Unpack one member, never more than ``max_bytes`` of it whatever its header claims."""
    try:
        with archive.open(info) as handle:
            data = handle.read(max_bytes + 1)
    except _ZIP_ERRORS as err:
        raise InputError(
            f"cannot unpack {info.filename!r} from the ReqIF archive: {err}",
            path=where,
            hint="the archive is damaged or encrypted; export it again",
        ) from err
    if len(data) > max_bytes:
        raise InputError(
            f"archive member {info.filename!r} unpacks to more than the limit of {max_bytes} bytes",
            path=where,
            hint="split the export, or raise the size limit if the file is genuine",
        )
    return data


def is_apple_double(name: str) -> bool:
    """Whether an archive member is a macOS sidecar (``__MACOSX/...`` or ``._name``), never a document."""
    parts = re.split(r"[/\\]", name)
    return "__MACOSX" in parts[:-1] or parts[-1].startswith("._")


def read_reqifz(
    path: Path, options: RequirementOptions = DEFAULT_OPTIONS, report: ReadReport | None = None
) -> list[Requirement]:
    """Read the requirements of every ``.reqif`` document in a ``.reqifz`` archive.

    Other members (images, attachments, macOS sidecars) are ignored.  ``source`` is the
    archive's path; messages name the member as ``archive.reqifz[member.reqif]``.  A member
    without requirements (relations only) is a warning; an archive without any is an error.
    """
    report = report if report is not None else ReadReport()
    source = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as err:
        raise InputError(
            f"cannot open the ReqIF archive: {err}",
            path=source,
            hint="a .reqifz file is a zip archive of .reqif documents; export it again",
        ) from err
    seen = DuplicateIndex()
    requirements: list[Requirement] = []
    with archive:
        for info in _reqif_members(archive, source, options.max_bytes):
            data = _read_member(archive, info, source, options.max_bytes)
            where = f"{source}[{info.filename}]"
            names = (info.filename, info.filename.rpartition("/")[2], path.name, source)
            for requirement in read_reqif_document(
                data, where=where, source=source, options=options, report=report, names=names
            ):
                seen.add(requirement)
                requirements.append(requirement)
    if not requirements:
        raise no_requirements(source, report)
    return requirements
