"""Rasa entity roles and groups folded into one slot label, and unfolded again.

The tagger learns one label per token, so `city` as a destination and `city` as a departure must
be different labels for the role to be learnable. The label is the entity name, then `:role`, then
`:group`, with an empty role kept as an empty field so the group stays in third place:

    city                   entity only
    city:destination       with a role
    city::2                with a group
    size:large:2           with both

`:` is the separator because Rasa's own short annotation `[text](entity:value)` already gives it a
meaning, so no entity written that way can contain it; the readers refuse it in the longer forms
too, and refuse whitespace, which `seq.out` files use between tags. The module sits in service/
because serving will read these labels back and service/ never imports training/; it must stay
free of TensorFlow and spaCy.
"""

from __future__ import annotations

import re

SEPARATOR = ":"
_WHITESPACE = re.compile(r"\s")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be an entity, role or group name inside a slot label, or None if it can."""
    if not name:
        return "is empty"
    if SEPARATOR in name:
        return f"contains {SEPARATOR!r}, which slot labels reserve to separate entity, role and group"
    if _WHITESPACE.search(name):
        return "contains whitespace, which seq.out files use between tags"
    return None


def slot_label(entity: str, role: str | None = None, group: str | None = None) -> str:
    """The one label the tagger learns for `entity` playing `role` in `group`."""
    for kind, name in (("entity", entity), ("role", role), ("group", group)):
        if name is None and kind != "entity":
            continue
        problem = name_problem(name)
        if problem:
            raise ValueError(f"{kind} name {name!r} {problem}")
    if group is not None:
        return SEPARATOR.join((entity, role or "", group))
    if role is not None:
        return SEPARATOR.join((entity, role))
    return entity


def parse_slot_label(label: str) -> tuple[str, str | None, str | None]:
    """Split a label made by `slot_label` back into (entity, role, group); the inverse of it."""
    fields = label.split(SEPARATOR)
    if len(fields) > 3 or not fields[0] or _WHITESPACE.search(label):
        raise ValueError(f"slot label {label!r} is not entity[:role[:group]] without whitespace")
    entity, role, group = (fields + ["", ""])[:3]
    if (len(fields) == 2 and not role) or (len(fields) == 3 and not group):
        raise ValueError(f"slot label {label!r} ends in an empty field")
    return entity, role or None, group or None
