"""The network: feature ids in, per-head logits out.

Word, trigram, suffix and shape embeddings (and frozen pretrained vectors, if the config asks) are
concatenated per token, read in both directions by stacked LSTMs, and fed to one small head per
task: slots and POS per token, intent per sentence, either from mean- and max-pooled states or
(`intent_voting`) from a vote of every token.
An ensemble repeats the LSTMs and heads over the same embeddings; every head's logits come out
stacked over the members, `[..., members, labels]`, so one model is also a one-member ensemble.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from training.config import TrainConfig
from training.features import SHAPE_COUNT

UNKNOWN_VECTOR = 1  # the vector id of a word without a pretrained vector (0 is padding)


class UnseenWordSimulation(layers.Layer):
    """In training, makes known words look unseen so the network learns to read new words
    (a city no training set holds) from their trigrams and context instead of memorizing them.

    With probability `word_rate` a known word loses its word id (an OOV bucket instead) and its
    pretrained vector, if any; with probability `token_rate` it also takes the trigram and suffix
    ids of a random other position in the batch, so the spelling says "some other word" and only
    context and shape are left.
    """

    def __init__(self, word_rate: float, token_rate: float, oov_buckets: int, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.word_rate = word_rate
        self.token_rate = token_rate
        self.oov_buckets = oov_buckets
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, word_ids, trigram_ids, suffix_ids, vector_ids=None, training=None):
        """Returns the word, trigram and suffix ids, and the vector ids if given."""
        if not training:
            return _ids(word_ids, trigram_ids, suffix_ids, vector_ids)
        known = ops.greater(word_ids, self.oov_buckets)
        draw = keras.random.uniform(ops.shape(word_ids), seed=self.seed_generator)
        hide_word = ops.logical_and(known, ops.less(draw, self.word_rate + self.token_rate))
        hide_token = ops.logical_and(known, ops.less(draw, self.token_rate))
        oov = keras.random.randint(ops.shape(word_ids), 1, self.oov_buckets + 1, seed=self.seed_generator)
        word_ids = ops.where(hide_word, ops.cast(oov, word_ids.dtype), word_ids)
        if vector_ids is not None:
            vector_ids = ops.where(hide_word, ops.minimum(vector_ids, UNKNOWN_VECTOR), vector_ids)
        positions = ops.size(word_ids)
        donor = keras.random.randint((positions,), 0, positions, seed=self.seed_generator)
        donor_trigrams = ops.reshape(ops.take(ops.reshape(trigram_ids, (positions, -1)), donor, axis=0), ops.shape(trigram_ids))
        donor_suffixes = ops.reshape(ops.take(ops.reshape(suffix_ids, (-1,)), donor, axis=0), ops.shape(suffix_ids))
        trigram_ids = ops.where(ops.expand_dims(hide_token, -1), donor_trigrams, trigram_ids)
        suffix_ids = ops.where(hide_token, donor_suffixes, suffix_ids)
        return _ids(word_ids, trigram_ids, suffix_ids, vector_ids)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "word_rate": self.word_rate,
            "token_rate": self.token_rate,
            "oov_buckets": self.oov_buckets,
        }


def _ids(*ids) -> tuple:
    """A Keras layer may not output None: leave out the vector ids of a model without vectors."""
    return tuple(value for value in ids if value is not None)


def masked_mean(values, present):
    """Mean over the second-to-last axis of `values`, counting only the entries where `present`
    (shaped like `values` without its last axis) is true, so padding never dilutes the mean."""
    weights = ops.cast(ops.expand_dims(present, -1), values.dtype)
    return ops.sum(values * weights, axis=-2) / ops.maximum(ops.sum(weights, axis=-2), 1.0)


class MaskedMean(layers.Layer):
    """Mean of a word's trigram embeddings, padding ids (0) excluded."""

    def call(self, values, ids):
        return masked_mean(values, ops.not_equal(ids, 0))


class SentencePooling(layers.Layer):
    """Masked mean and max over time: the intent looks at the whole sentence, pads excluded."""

    def call(self, sequence, mask=None):
        maximum = ops.max(ops.where(ops.expand_dims(mask, -1), sequence, -1e9), axis=1)
        return ops.concatenate([masked_mean(sequence, mask), maximum], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None


class TokenVoting(layers.Layer):
    """Every token votes for an intent; the sentence's log-probabilities are the mean of the
    tokens' (a normalized geometric mean), so each position is trained to read the intent."""

    def call(self, token_logits, mask=None):
        return masked_mean(ops.log_softmax(token_logits, axis=-1), mask)

    def compute_mask(self, inputs, mask=None):
        return None


def build_network(
    config: TrainConfig, word_count: int, label_counts: dict[str, int], vectors: np.ndarray | None = None
) -> keras.Model:
    """Builds the tagger over feature ids; `label_counts` names the heads and their label set sizes;
    `vectors`, if given, are the pretrained rows for vector ids 2, 3, … (kept frozen)."""
    word_ids = keras.Input((None,), dtype="int32", name="word_ids")
    trigram_ids = keras.Input((None, config.max_trigrams), dtype="int32", name="trigram_ids")
    suffix_ids = keras.Input((None,), dtype="int32", name="suffix_ids")
    shape_ids = keras.Input((None,), dtype="int32", name="shape_ids")
    vector_ids = [] if vectors is None else [keras.Input((None,), dtype="int32", name="vector_ids")]
    inputs = [word_ids, trigram_ids, suffix_ids, shape_ids, *vector_ids]

    # --- token representation
    simulate = UnseenWordSimulation(config.word_dropout, config.token_dropout, config.oov_buckets, config.seed)
    seen_ids = simulate(word_ids, trigram_ids, suffix_ids, *vector_ids)
    seen_word_ids, seen_trigram_ids, seen_suffix_ids = seen_ids[:3]
    words = layers.Embedding(word_count, config.word_dim, name="word_embedding")(seen_word_ids)
    # Zero-initialized: a bucket no training word reaches adds nothing to an unseen word's pooled
    # trigrams, instead of the random noise of an untrained initial value.
    trigrams = layers.Embedding(
        config.trigram_buckets, config.trigram_dim, embeddings_initializer="zeros", name="trigram_embedding"
    )(seen_trigram_ids)
    trigrams = MaskedMean(name="trigram_pooling")(trigrams, seen_trigram_ids)
    suffixes = layers.Embedding(
        config.suffix_buckets, config.suffix_dim, embeddings_initializer="zeros", name="suffix_embedding"
    )(seen_suffix_ids)
    shapes = layers.Embedding(SHAPE_COUNT, config.shape_dim, name="shape_embedding")(shape_ids)
    pieces = [words, trigrams, suffixes, shapes]
    if vectors is not None:
        # Frozen: the rows of words absent from the training set must stay in the space the
        # trained words' rows are read in.
        padding_and_unknown = np.zeros((UNKNOWN_VECTOR + 1, vectors.shape[1]), dtype=vectors.dtype)
        table = np.concatenate([padding_and_unknown, vectors])
        pretrained = layers.Embedding(
            *table.shape, weights=[table], trainable=False, dtype=str(table.dtype), name="pretrained_embedding"
        )
        pieces.append(ops.cast(pretrained(seen_ids[3]), "float32"))
    tokens = layers.Concatenate()(pieces)
    tokens = layers.Dropout(config.dropout)(tokens)

    # --- encoders and heads, one set per ensemble member, stacked on the second-to-last axis
    mask = ops.not_equal(word_ids, 0)
    members = [_member(tokens, mask, config, label_counts, index) for index in range(config.ensemble_size)]
    outputs = {head: ops.stack([member[head] for member in members], axis=-2) for head in label_counts}
    return keras.Model(inputs=inputs, outputs=outputs, name=f"tagger_{config.name}")


def _member(tokens, mask, config: TrainConfig, label_counts: dict[str, int], index: int) -> dict:
    """One ensemble member: stacked BiLSTMs and a head per task, its own weights."""
    sequence = tokens
    for layer in range(config.lstm_layers):
        lstm = layers.LSTM(config.lstm_units, return_sequences=True)
        sequence = layers.Bidirectional(lstm, name=f"bilstm_{index}_{layer}")(sequence, mask=mask)
        sequence = layers.Dropout(config.dropout)(sequence)
    outputs = {}
    for head in ("slots", "pos"):
        if head in label_counts:
            outputs[head] = layers.Dense(label_counts[head], name=f"{head}_{index}")(sequence)
    if "intent" in label_counts:
        if config.intent_voting:
            token_votes = layers.Dense(label_counts["intent"], name=f"intent_votes_{index}")(sequence)
            outputs["intent"] = TokenVoting(name=f"intent_{index}")(token_votes, mask=mask)
        else:
            pooled = SentencePooling(name=f"sentence_pooling_{index}")(sequence)
            outputs["intent"] = layers.Dense(label_counts["intent"], name=f"intent_{index}")(pooled)
    return outputs
