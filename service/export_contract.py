"""The export contract: what a slot-tagger SavedModel offers, in the one place both sides read.

`training/` writes exports by these names and `service/` reads them by the same names, so the
two cannot drift apart. An export takes `tokens`, a `[batch, width]` string tensor padded with
`PAD_TOKEN`, and returns `lengths` plus each head's outputs. A token head's outputs are
`[batch, width]`; a sentence head's are `[batch]`, except `intent_probabilities`, which is
`[batch, intents]` in the order of `metadata.json`'s `labels.intent`. Exports live in
TensorFlow Serving's layout, `models/<name>/<version>/`, beside a `metadata.json` whose shape
is versioned by `METADATA_SCHEMA_VERSION`. No TensorFlow here: the gunicorn master reads it
before it forks.
"""

from __future__ import annotations

from typing import Any

HEADS = ("slots", "intent", "pos")
HEAD_KINDS = {"slots": "token", "pos": "token", "intent": "sentence"}
# Output keys each head adds to a signature, beside the always-present "lengths".
HEAD_OUTPUTS = {
    "slots": ("slots", "slot_confidence"),
    "pos": ("pos", "pos_confidence"),
    "intent": ("intent", "intent_confidence", "intent_probabilities"),
}
TOKEN_OUTPUTS = frozenset(key for head, keys in HEAD_OUTPUTS.items() if HEAD_KINDS[head] == "token" for key in keys)
PAD_TOKEN = ""  # batches are padded with the empty string; a real token is never empty

SIGNATURE = "serving_default"
# The same function with its network compiled by XLA, for one sentence at a time (a REST
# request): a fifth less time per call, but XLA compiles once per input shape, so it pads the
# width to a multiple of COMPILED_WIDTH_STEP and serves up to COMPILED_MAX_WIDTH tokens; callers
# use SIGNATURE for wider input and for batches (docs/EXPERIMENTS.md#serving-compiled-signature).
# A step of 4, not 8: less padding per request for one more second of worker start-up
# (docs/EXPERIMENTS.md#lstm-input-projection).
COMPILED_SIGNATURE = "serving_compiled"
COMPILED_WIDTH_STEP = 4
COMPILED_MAX_WIDTH = 32

METADATA_FILE = "metadata.json"
# 2: intent heads export `intent_probabilities`; Rasa-trained models carry `synonyms`.
METADATA_SCHEMA_VERSION = 2


def is_version_folder(name: str) -> bool:
    """TensorFlow Serving's rule: a version is a folder named by a non-negative integer, so a
    half-written export in a hidden temporary folder beside the versions is never served."""
    return name.isascii() and name.isdigit()


def metadata_problem(metadata: Any) -> str | None:
    """What makes `metadata` (a parsed `metadata.json`) unusable to a server, or None."""
    if not isinstance(metadata, dict):
        return "must hold a JSON object"
    version = metadata.get("schema_version", 1)
    if version != METADATA_SCHEMA_VERSION:
        return (
            f"has schema_version {version!r}, but this server reads {METADATA_SCHEMA_VERSION}; "
            "export the model again with this version of slot-tagger"
        )
    heads = metadata.get("heads")
    if not isinstance(heads, list) or not heads or not set(heads) <= set(HEADS):
        return f"'heads' must be a non-empty subset of {list(HEADS)}, got {heads!r}"
    labels = metadata.get("labels")
    if not isinstance(labels, dict) or not all(_is_string_list(labels.get(head)) for head in heads):
        return "'labels' must map each head to its list of label names"
    synonyms = metadata.get("synonyms", {})
    if not isinstance(synonyms, dict) or not all(isinstance(v, str) for v in synonyms.values()):
        return "'synonyms' must map lower-cased entity text to its value"
    return None


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
