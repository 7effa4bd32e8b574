"""Group per-token BIO slot tags into entity spans over the original text, with their values."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from service.slot_labels import parse_slot_label
from service.tokenizer import Token


@dataclass
class _Span:
    slot: str
    start: int
    end: int
    confidence: float


def group_entities(
    tokens: list[Token],
    slots: list[str],
    confidences: list[float],
    text: str,
    synonyms: Mapping[str, str],
) -> list[dict]:
    """Return `[{"slot", "text", "start", "end", "confidence", "entity", "value"}]`, plus `role`
    and `group` when the slot has them, for the B-/I- runs in `slots`.

    A `B-x` opens an entity and an `I-x` right after an `x` extends it. The exporter promises
    a valid BIO sequence, but a stray `I-x` (after `O` or another type) still opens a new
    entity rather than being lost, so a contract slip degrades output instead of hiding it.
    The entity text is `text[start:end]`, so it keeps the original spacing between tokens.
    Confidence is the lowest token confidence in the span: an entity is only as sure as its
    weakest token, since one doubtful token means the boundary or the type may be wrong,
    which a mean would dilute across the long spans. The slot label `entity:role:group` is
    unfolded into its parts (service/slot_labels.py); `value` is what the text stands for: its
    synonym's value when the training data declared one (matched lower-cased, as Rasa's
    EntitySynonymMapper does), else the text itself.
    """
    spans: list[_Span] = []
    current: _Span | None = None
    for token, tag, confidence in zip(tokens, slots, confidences, strict=True):
        prefix, _, slot = tag.partition("-")
        if prefix == "I" and current is not None and current.slot == slot:
            current.end = token.end
            current.confidence = min(current.confidence, confidence)
        elif prefix in ("B", "I") and slot:
            current = _Span(slot, token.start, token.end, confidence)
            spans.append(current)
        else:
            current = None
    entities = []
    for span in spans:
        span_text = text[span.start : span.end]
        entities.append({
            "slot": span.slot,
            "text": span_text,
            "start": span.start,
            "end": span.end,
            "confidence": round(float(span.confidence), 4),
            **_entity_parts(span.slot),
            "value": synonyms.get(span_text.lower(), span_text),
        })
    return entities


@functools.lru_cache(maxsize=4096)
def _entity_parts(slot: str) -> dict[str, str]:
    """`{"entity"}` plus `role` and `group` when the slot label carries them. A benchmark label
    that is not of the `entity:role:group` form (whitespace, four fields) is the entity as a whole."""
    try:
        entity, role, group = parse_slot_label(slot)
    except ValueError:
        return {"entity": slot}
    parts = {"entity": entity, "role": role, "group": group}
    return {key: value for key, value in parts.items() if value is not None}
