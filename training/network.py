"""The network: feature ids in, per-head logits out.

Word, trigram, suffix and shape embeddings are concatenated per token, read in both directions by
stacked LSTMs, and fed to one small head per task: slots and POS per token, intent per sentence.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from training.config import TrainConfig
from training.features import SHAPE_COUNT


class WordDropout(layers.Layer):
    """In training, swaps known word ids for an OOV bucket so the network learns to read unseen
    words from their trigrams and their context instead of memorizing the vocabulary."""

    def __init__(self, rate: float, oov_buckets: int, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.oov_buckets = oov_buckets
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, word_ids, training=None):
        if not training or self.rate == 0:
            return word_ids
        known = ops.greater(word_ids, self.oov_buckets)
        drop = ops.less(keras.random.uniform(ops.shape(word_ids), seed=self.seed_generator), self.rate)
        oov = keras.random.randint(ops.shape(word_ids), 1, self.oov_buckets + 1, seed=self.seed_generator)
        return ops.where(ops.logical_and(known, drop), ops.cast(oov, word_ids.dtype), word_ids)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "oov_buckets": self.oov_buckets}


class MaskedMean(layers.Layer):
    """Mean over the given axis of the entries whose id is non-zero (pads excluded)."""

    def call(self, values, ids):
        weights = ops.cast(ops.expand_dims(ops.not_equal(ids, 0), -1), values.dtype)
        total = ops.sum(values * weights, axis=-2)
        return total / ops.maximum(ops.sum(weights, axis=-2), 1.0)


class SentencePooling(layers.Layer):
    """Masked mean and max over time: the intent looks at the whole sentence, pads excluded."""

    def call(self, sequence, mask=None):
        mask = ops.expand_dims(mask, -1)
        weights = ops.cast(mask, sequence.dtype)
        mean = ops.sum(sequence * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        maximum = ops.max(ops.where(mask, sequence, -1e9), axis=1)
        return ops.concatenate([mean, maximum], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None


def build_network(config: TrainConfig, word_count: int, label_counts: dict[str, int]) -> keras.Model:
    """Builds the tagger over feature ids; `label_counts` names the heads and their label set sizes."""
    word_ids = keras.Input((None,), dtype="int32", name="word_ids")
    trigram_ids = keras.Input((None, config.max_trigrams), dtype="int32", name="trigram_ids")
    suffix_ids = keras.Input((None,), dtype="int32", name="suffix_ids")
    shape_ids = keras.Input((None,), dtype="int32", name="shape_ids")
    inputs = [word_ids, trigram_ids, suffix_ids, shape_ids]

    # --- token representation
    dropped = WordDropout(config.word_dropout, config.oov_buckets, config.seed)(word_ids)
    words = layers.Embedding(word_count, config.word_dim, name="word_embedding")(dropped)
    trigrams = layers.Embedding(config.trigram_buckets, config.trigram_dim, name="trigram_embedding")(trigram_ids)
    trigrams = MaskedMean(name="trigram_pooling")(trigrams, trigram_ids)
    suffixes = layers.Embedding(config.suffix_buckets, config.suffix_dim, name="suffix_embedding")(suffix_ids)
    shapes = layers.Embedding(SHAPE_COUNT, config.shape_dim, name="shape_embedding")(shape_ids)
    tokens = layers.Concatenate()([words, trigrams, suffixes, shapes])
    tokens = layers.Dropout(config.dropout)(tokens)

    # --- encoder
    mask = ops.not_equal(word_ids, 0)
    sequence = tokens
    for index in range(config.lstm_layers):
        lstm = layers.LSTM(config.lstm_units, return_sequences=True)
        sequence = layers.Bidirectional(lstm, name=f"bilstm_{index}")(sequence, mask=mask)
        sequence = layers.Dropout(config.dropout)(sequence)

    # --- heads
    outputs = {}
    for head in ("slots", "pos"):
        if head in label_counts:
            outputs[head] = layers.Dense(label_counts[head], name=head)(sequence)
    if "intent" in label_counts:
        pooled = SentencePooling(name="sentence_pooling")(sequence)
        outputs["intent"] = layers.Dense(label_counts["intent"], name="intent")(pooled)
    return keras.Model(inputs=inputs, outputs=outputs, name=f"tagger_{config.name}")
