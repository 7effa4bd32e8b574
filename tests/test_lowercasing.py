"""Training sentences shown lower-cased: case reaches the network only through the shape ids, so a
lower-cased sentence must differ in those alone, and every capital must be gone from them."""

import numpy as np

from tests.conftest import FIXTURES, tiny_config
from training.data import BatchMaker, load_datasets
from training.pipeline import build_tagger

LOWER, UPPER, TITLE = 1, 2, 3  # shape ids of the first three SHAPE_PATTERNS


def _first_epoch(lowercase_rate: float) -> list[dict]:
    config = tiny_config(heads=("pos",))
    datasets = load_datasets(config, FIXTURES)
    tagger = build_tagger(config, datasets)
    batches = BatchMaker(datasets, tagger.featurizer, tagger.labels, config.batch_size, config.seed, lowercase_rate)
    return [dict(zip(batches.feature_names, x)) for x, _, _ in batches.epoch()]


def test_lowercased_sentences_differ_only_in_their_capitals():
    cased, lowered = _first_epoch(0.0), _first_epoch(1.0)
    assert len(cased) == len(lowered)
    for original, lower in zip(cased, lowered):
        for name in ("word_ids", "trigram_ids", "suffix_ids"):
            np.testing.assert_array_equal(original[name], lower[name])
        capitals = np.isin(original["shape_ids"], (UPPER, TITLE))
        assert not np.isin(lower["shape_ids"], (UPPER, TITLE)).any()
        np.testing.assert_array_equal(lower["shape_ids"][capitals], LOWER)
        np.testing.assert_array_equal(lower["shape_ids"][~capitals], original["shape_ids"][~capitals])
    assert any(np.isin(batch["shape_ids"], (UPPER, TITLE)).any() for batch in cased)


def test_a_share_of_sentences_is_lowercased():
    def capitalized_sentences(batches: list[dict]) -> int:
        return sum(int(np.isin(batch["shape_ids"], (UPPER, TITLE)).any(axis=1).sum()) for batch in batches)

    everything = capitalized_sentences(_first_epoch(0.0))
    assert 0 < capitalized_sentences(_first_epoch(0.5)) < everything
