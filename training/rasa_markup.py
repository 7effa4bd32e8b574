"""Rasa's inline entity markup inside one example string, parsed and written.

Rasa YAML examples carry their entities inline: `[Boston](city)`, the older `[NYC](city:New York)`,
`[Taipei]{"entity": "city", "role": "destination"}`, or a list `[x][{...}, {...}]` for several
entities on one text. YAML leaves these strings alone, so this is the one piece of Rasa syntax we
parse ourselves. Anything that does not parse is a MarkupError naming the character it found
wrong (counted from 1 in the example string) rather than a bracket quietly kept as text: a typo
there would otherwise train the tagger on a missing entity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.slot_labels import name_problem

ANNOTATION_KEYS = ("entity", "role", "group", "value")
# Entity names that `[text](entity)` can hold without being misread; others are written as {...}.
_SHORT_FORM_NAME = re.compile(r"[^\s()\[\]{}:]+")
_JSON = json.JSONDecoder()


class MarkupError(ValueError):
    """An example string whose markup is malformed; str() says what and where in the string."""


@dataclass(frozen=True)
class Annotation:
    """One entity marked in an example: character offsets into the plain text, and its labels.

    `value` is None when the markup gives none (the entity then means its own text).
    """

    start: int
    end: int
    entity: str
    role: str | None = None
    group: str | None = None
    value: str | None = None


def json_kind(value: object) -> str:
    """How a JSON value is named in error messages: "a string", "a list", "null"..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    return "null" if value is None else "a number"


def annotation_from_fields(fields: Mapping[str, object], start: int, end: int) -> Annotation:
    """Check an entity's `entity`/`role`/`group`/`value` fields and build its Annotation.

    Shared by the inline `{...}` markup and the JSON format's entities, so both refuse the same things.
    """
    unknown = [key for key in fields if key not in ANNOTATION_KEYS]
    if unknown:
        raise MarkupError(f"unknown key {unknown[0]!r} (allowed: {', '.join(ANNOTATION_KEYS)})")
    if fields.get("entity") is None:
        raise MarkupError('no "entity" given')
    for key in ANNOTATION_KEYS:
        value = fields.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MarkupError(f'"{key}" must be a string, found {json_kind(value)}')
        if key == "value":
            if not value.strip():
                raise MarkupError('"value" is empty')
        else:
            problem = name_problem(value)
            if problem:
                raise MarkupError(f"{key} name {value!r} {problem}")
    return Annotation(start, end, fields["entity"], fields.get("role"), fields.get("group"), fields.get("value"))


def _read_target(line: str, at: int, opening: int) -> tuple[list[Mapping[str, object]], int]:
    """Read the `(entity)`, `{...}` or `[{...}]` right after `]`; return its fields and where it ends."""
    if line.startswith("(", at):
        closing = line.find(")", at)
        if closing == -1:
            raise MarkupError(f"'(' at character {at + 1} is never closed by ')'")
        entity, colon, value = line[at + 1 : closing].partition(":")
        fields: dict[str, object] = {"entity": entity or None}
        if colon:
            fields["value"] = value
        return [fields], closing + 1
    if line.startswith(("{", "["), at):
        try:
            parsed, end = _JSON.raw_decode(line, at)
        except json.JSONDecodeError as err:
            raise MarkupError(f"bad JSON at character {err.colno}: {err.msg}") from None
        listed = parsed if isinstance(parsed, list) else [parsed]
        if not listed or not all(isinstance(item, dict) for item in listed):
            raise MarkupError(f"the list at character {at + 1} must hold one or more {{...}} entity objects")
        return listed, end
    raise MarkupError(f"'[...]' at character {opening} is not followed by (entity), {{...}} or [{{...}}]")


def parse_markup(line: str) -> tuple[str, tuple[Annotation, ...]]:
    """Split an example string into its plain text and the entities marked in it."""
    pieces: list[str] = []
    annotations: list[Annotation] = []
    length = pos = 0
    while True:
        opening = line.find("[", pos)
        stray = line.find("]", pos, len(line) if opening == -1 else opening)
        if stray != -1:
            raise MarkupError(f"']' at character {stray + 1} has no '[' before it")
        if opening == -1:
            pieces.append(line[pos:])
            return "".join(pieces), tuple(annotations)
        pieces.append(line[pos:opening])
        length += opening - pos
        closing = line.find("]", opening + 1)
        if closing == -1:
            raise MarkupError(f"'[' at character {opening + 1} is never closed by ']'")
        inner = line.find("[", opening + 1, closing)
        if inner != -1:
            raise MarkupError(f"'[' at character {inner + 1} opens inside the '[' at character {opening + 1}")
        text = line[opening + 1 : closing]
        if not text.strip():
            raise MarkupError(f"'[...]' at character {opening + 1} marks no text")
        targets, pos = _read_target(line, closing + 1, opening + 1)
        for fields in targets:
            try:
                annotations.append(annotation_from_fields(fields, length, length + len(text)))
            except MarkupError as err:
                raise MarkupError(f"entity at character {opening + 1}: {err}") from None
        pieces.append(text)
        length += len(text)


def _target(annotation: Annotation) -> str:
    extra = (annotation.role, annotation.group, annotation.value)
    if all(field is None for field in extra) and _SHORT_FORM_NAME.fullmatch(annotation.entity):
        return f"({annotation.entity})"
    fields = {key: getattr(annotation, key) for key in ANNOTATION_KEYS if getattr(annotation, key) is not None}
    return json.dumps(fields, ensure_ascii=False)


def format_markup(text: str, annotations: Iterable[Annotation]) -> str:
    """Write `text` with its entities marked inline, the inverse of `parse_markup`."""
    for bracket in "[]":
        if bracket in text:
            raise MarkupError(f"{bracket!r} at character {text.index(bracket) + 1} cannot be written in Rasa markup")
    out: list[str] = []
    pos = 0
    for annotation in sorted(annotations, key=lambda a: a.start):
        if annotation.start < pos:
            raise MarkupError(f"entity at character {annotation.start + 1} overlaps the one before it")
        out.append(text[pos : annotation.start])
        out.append(f"[{text[annotation.start : annotation.end]}]{_target(annotation)}")
        pos = annotation.end
    out.append(text[pos:])
    return "".join(out)
