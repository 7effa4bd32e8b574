import subprocess
import sys

import numpy as np
import tensorflow as tf

from tests.conftest import REPO
from training.features import PAD_TOKEN, SHAPE_COUNT, TokenFeaturizer, shape_ids

WORDS = ["taipei", "Taipei", "boston", "flight", "Zürich", "a", PAD_TOKEN]


def featurizer() -> TokenFeaturizer:
    return TokenFeaturizer(["boston", "flight"], oov_buckets=4, trigram_buckets=65536, max_trigrams=8, suffix_buckets=100)


def features(words: list[str]) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in featurizer()(tf.constant([words])).items()}


def test_known_words_are_looked_up_lower_cased_and_unknown_ones_share_oov_buckets():
    ids = features(["Boston", "boston", "taipei", PAD_TOKEN])["word_ids"][0]
    assert ids[0] == ids[1] > 4  # vocabulary ids come after padding (0) and the 4 OOV buckets
    assert 1 <= ids[2] <= 4
    assert ids[3] == 0


def test_trigrams_of_marked_word_are_hashed_into_nonzero_buckets_and_padded_with_zero():
    trigrams = features(["taipei", "a", PAD_TOKEN])["trigram_ids"][0]
    assert trigrams.shape == (3, 8)
    assert np.count_nonzero(trigrams[0]) == 6  # #ta tai aip ipe pei ei#
    assert np.count_nonzero(trigrams[1]) == 1  # #a#
    assert not trigrams[2].any()
    assert trigrams.max() < 65536


def test_an_unseen_word_shares_trigrams_with_a_similar_word():
    trigrams = features(["taipei", "taipeh"])["trigram_ids"][0]
    shared = set(trigrams[0][trigrams[0] > 0]) & set(trigrams[1][trigrams[1] > 0])
    assert len(shared) == 4  # #ta tai aip ipe


def test_long_words_are_truncated_to_max_trigrams():
    trigrams = features(["x" * 50])["trigram_ids"][0]
    assert trigrams.shape == (1, 8) and np.count_nonzero(trigrams) == 8


def test_suffix_ids_match_for_words_ending_alike_and_are_zero_for_padding():
    suffixes = features(["walking", "talking", "walked", PAD_TOKEN])["suffix_ids"][0]
    assert suffixes[0] == suffixes[1] != suffixes[2]
    assert suffixes[3] == 0


def test_shape_classes_tell_case_digits_and_punctuation_apart():
    shapes = shape_ids(tf.constant([["boston", "BOSTON", "Boston", "1000", "5pm", "?!", "iPhone", PAD_TOKEN]])).numpy()[0]
    assert shapes[-1] == 0
    assert len(set(shapes[:-1])) == 7
    assert shapes.max() < SHAPE_COUNT


def test_hashing_is_stable_across_processes():
    """A model trained in one process must see the same ids when served by another."""
    here = features(WORDS)
    script = (
        "import sys, json, tensorflow as tf;"
        "from tests.test_features import features, WORDS;"
        "print(json.dumps({k: v.tolist() for k, v in features(WORDS).items()}))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    import json

    there = json.loads(result.stdout.strip().splitlines()[-1])
    for name, values in here.items():
        assert values.tolist() == there[name], name
