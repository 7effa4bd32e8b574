"""The end-to-end tagger: token strings in, labels and confidences out.

This is the function the SavedModel serves, and the one the pipeline evaluates with, so the
numbers reported for a model are the numbers of exactly what is exported. `serve_compiled` is
the same function with the network compiled by XLA, for serving one sentence at a time.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from service.export_contract import COMPILED_WIDTH_STEP, HEAD_OUTPUTS, PAD_TOKEN, TOKEN_OUTPUTS
from training.decoding import bio_constraints, decode_bio
from training.features import TokenFeaturizer

TOKENS_SPEC = tf.TensorSpec([None, None], tf.string, name="tokens")
CONFIDENCE_KEYS = {head: outputs[1] for head, outputs in HEAD_OUTPUTS.items()}


class EndToEndTagger:
    """Featurizer + network + decoding; `decode` is "viterbi" (served) or "argmax" (for comparison)."""

    def __init__(
        self,
        featurizer: TokenFeaturizer,
        network: keras.Model,
        labels: dict[str, list[str]],
        decode: str = "viterbi",
    ):
        if decode not in ("viterbi", "argmax"):
            raise ValueError(f"decode must be 'viterbi' or 'argmax', got {decode!r}")
        self.featurizer = featurizer
        self.network = network
        self.labels = labels
        self.decode = decode
        self.label_tables = {head: tf.constant(names) for head, names in labels.items()}
        if "slots" in labels:
            self.slot_constraints = bio_constraints(labels["slots"])
        self.serve = tf.function(self.__call__, input_signature=[TOKENS_SPEC], reduce_retracing=True)
        self._compiled_network = tf.function(self._network_logits, jit_compile=True)
        self.serve_compiled = tf.function(self._call_compiled, input_signature=[TOKENS_SPEC])

    def __call__(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._decode(tokens, self._network_logits(self.featurizer(tokens)))

    def _call_compiled(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        """`__call__` with the network under XLA, which compiles once per input shape: the width
        is padded up to a multiple of COMPILED_WIDTH_STEP and the outputs cut back to it."""
        width = tf.shape(tokens)[1]
        padded_width = (width + COMPILED_WIDTH_STEP - 1) // COMPILED_WIDTH_STEP * COMPILED_WIDTH_STEP
        padded = tf.pad(tokens, [[0, 0], [0, padded_width - width]], constant_values=PAD_TOKEN)
        outputs = self._decode(padded, self._compiled_network(self.featurizer(padded)))
        return {key: value[:, :width] if key in TOKEN_OUTPUTS else value for key, value in outputs.items()}

    def _network_logits(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return self.network([features[name] for name in self.featurizer.feature_names], training=False)

    def _decode(self, tokens: tf.Tensor, logits: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Labels and confidences from the network's logits, padding masked out."""
        mask = tf.not_equal(tokens, PAD_TOKEN)
        outputs = {"lengths": tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)}
        for head, head_logits in logits.items():
            probabilities = tf.reduce_mean(tf.nn.softmax(head_logits, axis=-1), axis=-2)  # over members
            if head == "intent":
                ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
                outputs["intent_probabilities"] = probabilities
            else:
                ids = self._token_ids(head, probabilities, mask)
            confidence = tf.gather(probabilities, ids, batch_dims=ids.shape.rank)
            names = tf.gather(self.label_tables[head], ids)
            if head != "intent":
                names = tf.where(mask, names, PAD_TOKEN)
                confidence = tf.where(mask, confidence, 0.0)
            outputs[head] = names
            outputs[CONFIDENCE_KEYS[head]] = confidence
        return outputs

    def _token_ids(self, head: str, probabilities: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        if head == "slots" and self.decode == "viterbi":
            log_probs = tf.math.log(probabilities + 1e-9)
            return decode_bio(log_probs, mask, *self.slot_constraints)
        return tf.argmax(probabilities, axis=-1, output_type=tf.int32)
