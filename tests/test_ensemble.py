"""An ensemble stacks independently initialized members and serves the mean of their probabilities."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import FIXTURES, tiny_config
from training.data import load_datasets
from training.inference import EndToEndTagger
from training.pipeline import build_tagger

TOKENS = tf.constant([["flights", "from", "boston", "to", "denver"], ["leave", "taipei", "", "", ""]])


def _ensemble_tagger(intent_voting: bool = False) -> EndToEndTagger:
    config = tiny_config(name="ensemble", heads=("slots", "intent"), ensemble_size=3, intent_voting=intent_voting)
    return build_tagger(config, load_datasets(config, FIXTURES))


def _member_logits(tagger: EndToEndTagger) -> dict[str, tf.Tensor]:
    features = tagger.featurizer(TOKENS)
    return tagger.network([features[name] for name in tagger.featurizer.feature_names])


def test_members_are_stacked_and_independently_initialized():
    logits = _member_logits(_ensemble_tagger())
    assert logits["slots"].shape[:3] == (2, 5, 3) and logits["intent"].shape[:2] == (2, 3)
    intent = logits["intent"].numpy()
    assert not np.allclose(intent[:, 0], intent[:, 1])


@pytest.mark.parametrize("intent_voting", [False, True])
def test_served_confidence_is_the_mean_of_member_probabilities(intent_voting):
    tagger = _ensemble_tagger(intent_voting)
    member_probabilities = tf.nn.softmax(_member_logits(tagger)["intent"], axis=-1).numpy()
    expected = member_probabilities.mean(axis=1).max(axis=-1)
    served = tagger.serve(TOKENS)["intent_confidence"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5)
    single_member_best = member_probabilities.max(axis=-1)
    assert not np.allclose(served[:, None], single_member_best)
