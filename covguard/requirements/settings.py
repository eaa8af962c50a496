"""The reader options from covguard's configuration: explicit keys, then the profile, then defaults.

=============================  ==============================================================
key                            option
=============================  ==============================================================
``requirements.id_pattern``    ``id_pattern`` (empty: the profile's, else ``tags.id_pattern``)
``requirements.default_class`` ``default_class`` (empty: none; ``C`` under a profile)
``requirements.class_map``     ``class_map``
``requirements.id_prefix``     ``id_prefix``
``requirements.columns``       ``columns`` (spreadsheet and CSV column names)
``reqif.profile``              a :class:`~covguard.requirements.profiles.Profile`
``reqif.id_attribute``         ``reqif_id_attribute`` (+ ``reqif_id_alternatives`` for a list)
``reqif.title_attributes``     ``reqif_title_attributes``
``reqif.class_attribute``      ``reqif_class_attribute``
``reqif.include_types``        ``reqif_include_types``
``reqif.exclude_types``        ``reqif_exclude_types``
``reqif.heading_types``        ``reqif_heading_types``
=============================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from covguard.config import OPTIONS, OPTIONS_BY_KEY, find_config, load_settings
from covguard.errors import ConfigError
from covguard.requirements.ids import DEFAULT_OPTIONS, RequirementOptions
from covguard.requirements.profiles import PROFILE_DEFAULT_CLASS, profile


def options_from(values: Mapping[str, Any], *, profile_name: str | None = None) -> RequirementOptions:
    """The reader options for resolved settings values (``Settings.values``, keys with ``_``).

    ``profile_name`` overrides ``reqif.profile`` (the ``--profile`` of ``requirements show``).
    """
    name = values.get("reqif_profile", "") if profile_name is None else profile_name
    chosen = profile(name) if name else None
    ids: tuple[str, ...] = tuple(values.get("reqif_id_attribute") or ())
    if not ids:
        ids = chosen.id_attributes if chosen else (DEFAULT_OPTIONS.reqif_id_attribute,)
    titles = tuple(values.get("reqif_title_attributes") or ()) or (
        chosen.title_attributes if chosen else DEFAULT_OPTIONS.reqif_title_attributes
    )
    class_attribute = values.get("reqif_class_attribute")
    if class_attribute is None:
        class_attribute = chosen.class_attribute if chosen else DEFAULT_OPTIONS.reqif_class_attribute
    pattern = values.get("requirements_id_pattern") or (
        chosen.id_pattern if chosen else values.get("tags_id_pattern") or DEFAULT_OPTIONS.id_pattern
    )
    default_class = values.get("requirements_default_class") or (PROFILE_DEFAULT_CLASS if chosen else None)
    return RequirementOptions(
        id_pattern=pattern,
        reqif_id_attribute=ids[0],
        reqif_id_alternatives=ids[1:],
        reqif_title_attributes=titles,
        reqif_class_attribute=class_attribute,
        reqif_include_types=tuple(values.get("reqif_include_types") or ()),
        reqif_exclude_types=tuple(values.get("reqif_exclude_types") or ())
        or (chosen.exclude_types if chosen else ()),
        reqif_heading_types=tuple(values.get("reqif_heading_types") or ())
        or (chosen.heading_types if chosen else ()),
        reqif_heading_attribute=chosen.heading_attribute
        if chosen
        else DEFAULT_OPTIONS.reqif_heading_attribute,
        default_class=default_class,
        class_map=tuple(sorted(dict(values.get("requirements_class_map") or {}).items())),
        id_prefix=tuple(sorted(dict(values.get("requirements_id_prefix") or {}).items())),
        columns=tuple(sorted(dict(values.get("requirements_columns") or {}).items())),
    )


def settings_values(config: Path | None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The configuration's values, or the defaults (with ``overrides``) where there is no configuration.

    ``requirements show`` works on a lone file, in a folder without covguard.toml.
    """
    if config is not None or find_config(Path.cwd().resolve()) is not None:
        return load_settings(config, overrides=overrides).values
    values: dict[str, Any] = {}
    for key in overrides or {}:
        if key not in OPTIONS_BY_KEY:
            raise ConfigError(f"unknown configuration key '{key}'", hint="run 'covguard config --list'")
    for option in OPTIONS:
        raw = (overrides or {}).get(option.key)
        values[option.attr] = option.default if raw is None else option.parse(raw, option.key)
    return values
