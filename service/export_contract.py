"""The export contract: what a slot-tagger SavedModel offers, in the one place both sides read.

`training/` writes exports by these names and `service/` reads them by the same names, so the
two cannot drift apart. An export takes `tokens`, a `[batch, width]` string tensor padded with
`PAD_TOKEN`, and returns `lengths` plus each head's labels and confidences.
"""

from __future__ import annotations

HEADS = ("slots", "intent", "pos")
# Output keys each head adds to a signature, beside the always-present "lengths".
HEAD_OUTPUTS = {
    "slots": ("slots", "slot_confidence"),
    "pos": ("pos", "pos_confidence"),
    "intent": ("intent", "intent_confidence"),
}
PAD_TOKEN = ""  # batches are padded with the empty string; a real token is never empty
METADATA_FILE = "metadata.json"

SIGNATURE = "serving_default"
# The same function with its network compiled by XLA, for one sentence at a time (a REST
# request): a fifth less time per call, but XLA compiles once per input shape, so it pads the
# width to a multiple of COMPILED_WIDTH_STEP and serves up to COMPILED_MAX_WIDTH tokens; callers
# use SIGNATURE for wider input and for batches (docs/EXPERIMENTS.md#serving-compiled-signature).
COMPILED_SIGNATURE = "serving_compiled"
COMPILED_WIDTH_STEP = 8
COMPILED_MAX_WIDTH = 32
