"""The network: feature ids in, per-head logits out.

Word, trigram, suffix and shape embeddings (those the config's `token_features` name, and frozen
pretrained vectors if it asks) are concatenated per token, read by stacked encoders of the config's
`cell` (by default LSTMs in both directions; training/recurrent.py), and fed to one small head per
task: slots and POS per token, intent per sentence, either from mean- and max-pooled states or
(`intent_voting`) from a vote of every token.
An ensemble repeats the encoders and heads over the same embeddings; every head's logits come out
stacked over the members, `[..., members, labels]`, so one model is also a one-member ensemble.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from training.config import TrainConfig
from training.features import SHAPE_COUNT
from training.recurrent import recurrent_layer

UNKNOWN_VECTOR = 1  # the vector id of a word without a pretrained vector (0 is padding)


class UnseenWordSimulation(layers.Layer):
    """In training, makes known words look unseen so the network learns to read new words
    (a city no training set holds) from their trigrams and context instead of memorizing them.

    With probability `word_rate` a known word loses its word id (an OOV bucket instead) and its
    pretrained vector, if any; with probability `token_rate` it also takes the trigram and suffix
    ids (those the model has) of a random other position in the batch, so the spelling says "some
    other word" and only context and shape are left.
    """

    def __init__(self, word_rate: float, token_rate: float, oov_buckets: int, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.word_rate = word_rate
        self.token_rate = token_rate
        self.oov_buckets = oov_buckets
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids: dict, training=None) -> dict:
        """The feature ids by name, as given outside training."""
        if not training:
            return dict(ids)
        word_ids = ids["word_ids"]
        known = ops.greater(word_ids, self.oov_buckets)
        draw = keras.random.uniform(ops.shape(word_ids), seed=self.seed_generator)
        hide_word = ops.logical_and(known, ops.less(draw, self.word_rate + self.token_rate))
        hide_token = ops.logical_and(known, ops.less(draw, self.token_rate))
        oov = keras.random.randint(ops.shape(word_ids), 1, self.oov_buckets + 1, seed=self.seed_generator)
        seen = dict(ids, word_ids=ops.where(hide_word, ops.cast(oov, word_ids.dtype), word_ids))
        if "vector_ids" in ids:
            seen["vector_ids"] = ops.where(hide_word, ops.minimum(ids["vector_ids"], UNKNOWN_VECTOR), ids["vector_ids"])
        positions = ops.size(word_ids)
        donor = keras.random.randint((positions,), 0, positions, seed=self.seed_generator)
        for name in ("trigram_ids", "suffix_ids"):
            if name in ids:
                seen[name] = _from_donors(ids[name], donor, hide_token)
        return seen

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "word_rate": self.word_rate,
            "token_rate": self.token_rate,
            "oov_buckets": self.oov_buckets,
        }


def _from_donors(values, donor, hide):
    """`values` (`[batch, time, ...]`) with each hidden position's entries taken from position `donor`."""
    positions = ops.size(hide)
    donated = ops.reshape(ops.take(ops.reshape(values, (positions, -1)), donor, axis=0), ops.shape(values))
    while len(hide.shape) < len(values.shape):
        hide = ops.expand_dims(hide, -1)
    return ops.where(hide, donated, values)


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
    config: TrainConfig, feature_names: tuple[str, ...], word_count: int, label_counts: dict[str, int],
    vectors: np.ndarray | None = None,
) -> keras.Model:
    """Builds the tagger over the feature ids `feature_names` (the featurizer's, in its order);
    `label_counts` names the heads and their label set sizes; `vectors`, if given, are the
    pretrained rows for vector ids 2, 3, … (kept frozen)."""
    inputs = {
        name: keras.Input((None, config.max_trigrams) if name == "trigram_ids" else (None,), dtype="int32", name=name)
        for name in feature_names
    }
    tokens = _token_features(config, inputs, word_count, vectors)
    tokens = layers.Dropout(config.dropout)(tokens)

    # --- encoders and heads, one set per ensemble member, stacked on the second-to-last axis
    mask = ops.not_equal(inputs["word_ids"], 0)
    members = [_member(tokens, mask, config, label_counts, index) for index in range(config.ensemble_size)]
    outputs = {head: ops.stack([member[head] for member in members], axis=-2) for head in label_counts}
    return keras.Model(inputs=[inputs[name] for name in feature_names], outputs=outputs, name=f"tagger_{config.name}")


def _token_features(config: TrainConfig, inputs: dict, word_count: int, vectors: np.ndarray | None):
    """Each token's features side by side: the embeddings of the ids the model takes."""
    simulate = UnseenWordSimulation(config.word_dropout, config.token_dropout, config.oov_buckets, config.seed)
    seen = simulate(inputs)
    pieces = [layers.Embedding(word_count, config.word_dim, name="word_embedding")(seen["word_ids"])]
    if "trigram_ids" in seen:
        # Zero-initialized: a bucket no training word reaches adds nothing to an unseen word's pooled
        # trigrams, instead of the random noise of an untrained initial value.
        trigrams = layers.Embedding(
            config.trigram_buckets, config.trigram_dim, embeddings_initializer="zeros", name="trigram_embedding"
        )(seen["trigram_ids"])
        pieces.append(MaskedMean(name="trigram_pooling")(trigrams, seen["trigram_ids"]))
    if "suffix_ids" in seen:
        pieces.append(layers.Embedding(
            config.suffix_buckets, config.suffix_dim, embeddings_initializer="zeros", name="suffix_embedding"
        )(seen["suffix_ids"]))
    if "shape_ids" in seen:
        pieces.append(layers.Embedding(SHAPE_COUNT, config.shape_dim, name="shape_embedding")(seen["shape_ids"]))
    if vectors is not None:
        # Frozen: the rows of words absent from the training set must stay in the space the
        # trained words' rows are read in.
        padding_and_unknown = np.zeros((UNKNOWN_VECTOR + 1, vectors.shape[1]), dtype=vectors.dtype)
        table = np.concatenate([padding_and_unknown, vectors])
        pretrained = layers.Embedding(
            *table.shape, weights=[table], trainable=False, dtype=str(table.dtype), name="pretrained_embedding"
        )
        pieces.append(ops.cast(pretrained(seen["vector_ids"]), "float32"))
    return layers.Concatenate()(pieces) if len(pieces) > 1 else pieces[0]


def _member(tokens, mask, config: TrainConfig, label_counts: dict[str, int], index: int) -> dict:
    """One ensemble member: the stacked encoders and a head per task, its own weights."""
    token_heads = [head for head in ("slots", "pos") if head in label_counts]
    sequence, fed_back_logits = _encoder(tokens, mask, config, label_counts, index)
    outputs = {}
    for head in token_heads:
        if fed_back_logits is not None and head == token_heads[0]:
            outputs[head] = fed_back_logits
        else:
            outputs[head] = layers.Dense(label_counts[head], name=f"{head}_{index}")(sequence)
    if "intent" in label_counts:
        if config.intent_voting:
            token_votes = layers.Dense(label_counts["intent"], name=f"intent_votes_{index}")(sequence)
            outputs["intent"] = TokenVoting(name=f"intent_{index}")(token_votes, mask=mask)
        else:
            pooled = SentencePooling(name=f"sentence_pooling_{index}")(sequence, mask=mask)
            outputs["intent"] = layers.Dense(label_counts["intent"], name=f"intent_{index}")(pooled)
    return outputs


def _encoder(tokens, mask, config: TrainConfig, label_counts: dict[str, int], index: int) -> tuple:
    """The states the heads read, and for a Jordan cell the logits of the token head whose
    distribution it fed back (the first of slots, pos), else None."""
    sequence = tokens
    if config.cell == "none":
        for layer in range(config.rnn_layers):
            sequence = layers.Dense(config.rnn_units, activation="tanh", name=f"feedforward_{index}_{layer}")(sequence)
            sequence = layers.Dropout(config.dropout)(sequence)
        return sequence, None
    labels = next((label_counts[head] for head in ("slots", "pos") if head in label_counts), 0)
    logits = None
    for layer in range(config.rnn_layers):
        name = f"{config.cell}_{index}_{layer}"
        if config.bidirectional:
            rnn = recurrent_layer(config.cell, config.rnn_units, labels=labels)
            sequence = layers.Bidirectional(rnn, name=name)(sequence, mask=mask)
        else:
            rnn = recurrent_layer(config.cell, config.rnn_units, config.reverse_input, labels, name=name)
            sequence = rnn(sequence, mask=mask)
            if config.reverse_input:  # the states come out last token first: put them back in order
                sequence = ops.flip(sequence, axis=1)
        if config.cell == "jordan":  # one layer only (config.validate)
            sequence, logits = _split_jordan_output(sequence, config.rnn_units, config.bidirectional)
        sequence = layers.Dropout(config.dropout)(sequence)
    return sequence, logits


def _split_jordan_output(sequence, units: int, bidirectional: bool) -> tuple:
    """Jordan outputs [h, logits] per direction: the hidden states side by side, and the logits
    averaged over the directions."""
    directions = ops.split(sequence, 2, axis=-1) if bidirectional else [sequence]
    hidden = [direction[..., :units] for direction in directions]
    logits = [direction[..., units:] for direction in directions]
    hidden = hidden[0] if len(hidden) == 1 else ops.concatenate(hidden, axis=-1)
    return hidden, logits[0] if len(logits) == 1 else (logits[0] + logits[1]) / 2
