"""In-graph featurization: token strings in, integer feature ids out.

The same `TokenFeaturizer` runs once over the training data (so training works on ids and stays
fast) and again inside the exported SavedModel (so serving takes raw token strings). Training and
serving therefore cannot disagree about vocabulary, hashing or casing.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from service.export_contract import PAD_TOKEN

# The token features a config may switch on ("word" always), each with the name of its ids: the
# featurizer's outputs, in the order the network takes them as inputs. A featurizer given
# pretrained vectors' words adds "vector_ids" (see TokenFeaturizer.feature_names).
FEATURE_IDS = {"word": "word_ids", "trigram": "trigram_ids", "suffix": "suffix_ids", "shape": "shape_ids"}
TOKEN_FEATURES = tuple(FEATURE_IDS)
VECTOR_IDS = "vector_ids"

# Case/shape classes: lower-cased chatbot text and cased treebank text both carry information here.
# The first pattern that matches a token wins; id 0 is padding and the last id is "anything else".
SHAPE_PATTERNS = (
    r"\p{Ll}+",  # lower
    r"\p{Lu}+",  # UPPER
    r"\p{Lu}\p{Ll}+",  # Title
    r"\d+",  # digits
    r".*\d.*",  # has a digit
    r"[^\w\s]+",  # punctuation
)
SHAPE_COUNT = len(SHAPE_PATTERNS) + 2


class TokenFeaturizer(keras.layers.Layer):
    """Maps a `[batch, time]` string tensor to the ids of its `token_features`: word, trigram,
    suffix and shape ids by default.

    Word ids come from a lower-cased vocabulary with hashed out-of-vocabulary buckets; trigram ids
    hash the letter trigrams of `#word#` into buckets (0 is padding), so unseen words still get
    features; the suffix id hashes the last three letters, which carry most of English morphology.
    With `vector_words`, vector ids index the rows of pretrained vectors (0 padding, 1 unknown).
    """

    def __init__(
        self,
        vocabulary: list[str],
        oov_buckets: int,
        trigram_buckets: int,
        max_trigrams: int,
        suffix_buckets: int,
        vector_words: Sequence[str] = (),
        token_features: Sequence[str] = TOKEN_FEATURES,
        **kwargs,
    ):
        super().__init__(trainable=False, **kwargs)
        self.vocabulary = list(vocabulary)
        self.oov_buckets = oov_buckets
        self.trigram_buckets = trigram_buckets
        self.max_trigrams = max_trigrams
        self.suffix_buckets = suffix_buckets
        self.token_features = [name for name in TOKEN_FEATURES if name in token_features]
        self.lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary,
            num_oov_indices=oov_buckets,
            mask_token=PAD_TOKEN,
            output_mode="int",
        )
        self.vector_words = list(vector_words)
        if self.vector_words:
            self.vector_lookup = keras.layers.StringLookup(
                vocabulary=self.vector_words, num_oov_indices=1, mask_token=PAD_TOKEN, output_mode="int"
            )

    @property
    def feature_names(self) -> tuple[str, ...]:
        names = tuple(FEATURE_IDS[name] for name in self.token_features)
        return names + (VECTOR_IDS,) if self.vector_words else names

    @property
    def word_count(self) -> int:
        """Size of the word-id space: padding, OOV buckets and the vocabulary."""
        return 1 + self.oov_buckets + len(self.vocabulary)

    def call(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        lowered = tf.strings.lower(tokens, encoding="utf-8")
        is_token = tf.not_equal(tokens, PAD_TOKEN)
        features = {"word_ids": tf.cast(self.lookup(lowered), tf.int32)}
        if "trigram" in self.token_features:
            features["trigram_ids"] = self._trigram_ids(lowered)
        if "suffix" in self.token_features:
            features["suffix_ids"] = self._suffix_ids(lowered, is_token)
        if "shape" in self.token_features:
            features["shape_ids"] = shape_ids(tokens)
        if self.vector_words:
            features[VECTOR_IDS] = tf.cast(self.vector_lookup(lowered), tf.int32)
        return features

    def _trigram_ids(self, lowered: tf.Tensor) -> tf.Tensor:
        marked = tf.strings.join(["#", lowered, "#"])
        chars = tf.strings.unicode_split(marked, "UTF-8")
        trigrams = tf.strings.ngrams(chars, ngram_width=3, separator="")
        ids = tf.strings.to_hash_bucket_fast(trigrams, self.trigram_buckets - 1) + 1
        dense = ids.to_tensor(default_value=0, shape=[None, None, self.max_trigrams])
        return tf.cast(dense, tf.int32)

    def _suffix_ids(self, lowered: tf.Tensor, is_token: tf.Tensor) -> tf.Tensor:
        padded = tf.strings.join(["###", lowered])  # short words and pads still have three characters
        suffix = tf.strings.substr(padded, -3, 3, unit="UTF8_CHAR")
        ids = tf.strings.to_hash_bucket_fast(suffix, self.suffix_buckets - 1) + 1
        return tf.where(is_token, tf.cast(ids, tf.int32), 0)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "oov_buckets": self.oov_buckets,
            "trigram_buckets": self.trigram_buckets,
            "max_trigrams": self.max_trigrams,
            "suffix_buckets": self.suffix_buckets,
            "vector_words": self.vector_words,
            "token_features": self.token_features,
        }


def shape_ids(tokens: tf.Tensor) -> tf.Tensor:
    """Case/shape class of every token, 0 for padding."""
    ids = tf.fill(tf.shape(tokens), SHAPE_COUNT - 1)
    for shape_id, pattern in reversed(list(enumerate(SHAPE_PATTERNS, start=1))):
        ids = tf.where(tf.strings.regex_full_match(tokens, pattern), shape_id, ids)
    return tf.where(tf.equal(tokens, PAD_TOKEN), 0, ids)


def padded_batches(token_lists: list[Sequence[str]], batch_size: int) -> Iterator[tuple[list[int], np.ndarray]]:
    """(indices, `[batch, width]` string array padded with PAD_TOKEN) per batch; sentences are
    sorted by length first so batches carry little padding."""
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        width = max(len(token_lists[i]) for i in indices)
        padded = np.full((len(indices), width), PAD_TOKEN, dtype=object)
        for row, index in enumerate(indices):
            padded[row, : len(token_lists[index])] = token_lists[index]
        yield indices, padded
