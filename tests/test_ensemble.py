"""An ensemble serves the average of its members' probabilities, and training it moves every member."""

import numpy as np
import tensorflow as tf

from tests.conftest import FIXTURES, tiny_config
from training.data import load_datasets
from training.pipeline import build_tagger

TOKENS = tf.constant([["flights", "from", "boston", "to", "denver"], ["leave", "taipei", "", "", ""]])


def _ensemble_tagger():
    config = tiny_config(name="ensemble", heads=("slots", "intent"), ensemble_size=3)
    return build_tagger(config, load_datasets(config, FIXTURES))


def test_members_are_stacked_and_independently_initialized():
    tagger = _ensemble_tagger()
    features = tagger.featurizer(TOKENS)
    logits = tagger.network([features[n] for n in ("word_ids", "trigram_ids", "suffix_ids", "shape_ids")])
    assert logits["slots"].shape[:3] == (2, 5, 3) and logits["intent"].shape[:2] == (2, 3)
    intent = logits["intent"].numpy()
    assert not np.allclose(intent[:, 0], intent[:, 1])


def test_served_confidence_is_the_mean_of_member_probabilities():
    tagger = _ensemble_tagger()
    features = tagger.featurizer(TOKENS)
    logits = tagger.network([features[n] for n in ("word_ids", "trigram_ids", "suffix_ids", "shape_ids")])
    member_probabilities = tf.nn.softmax(logits["intent"], axis=-1).numpy()
    expected = member_probabilities.mean(axis=1).max(axis=-1)
    served = tagger.serve(TOKENS)["intent_confidence"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5)
    single_member_best = member_probabilities.max(axis=-1)
    assert not np.allclose(served[:, None], single_member_best)
