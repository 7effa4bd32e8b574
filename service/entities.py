"""Group per-token BIO slot tags into entity spans over the original text."""

from __future__ import annotations

from dataclasses import dataclass

from service.tokenizer import Token


@dataclass
class _Span:
    slot: str
    start: int
    end: int
    confidence: float


def group_entities(
    tokens: list[Token], slots: list[str], confidences: list[float], text: str
) -> list[dict]:
    """Return `[{"slot", "text", "start", "end", "confidence"}]` for the B-/I- runs in `slots`.

    A `B-x` opens an entity and an `I-x` right after an `x` extends it. The exporter promises
    a valid BIO sequence, but a stray `I-x` (after `O` or another type) still opens a new
    entity rather than being lost, so a contract slip degrades output instead of hiding it.
    The entity text is `text[start:end]`, so it keeps the original spacing between tokens.
    Confidence is the lowest token confidence in the span: an entity is only as sure as its
    weakest token, since one doubtful token means the boundary or the type may be wrong,
    which a mean would dilute across the long spans.
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
    return [
        {
            "slot": span.slot,
            "text": text[span.start : span.end],
            "start": span.start,
            "end": span.end,
            "confidence": round(float(span.confidence), 4),
        }
        for span in spans
    ]
