"""The learning rate is cut after `lr_patience` epochs without a new best dev score, and only then;
with `ema_momentum` the averaged weights are the ones scored and kept."""

import keras
import numpy as np
import pytest
from tqdm import tqdm

from tests.conftest import FIXTURES, tiny_config
from training.data import BatchMaker, load_datasets
from training.pipeline import build_tagger
from training.trainer import DevMonitor, train


@pytest.mark.parametrize("lr_decay, expected", [(0.5, [0.01, 0.005, 0.005, 0.0025]), (1.0, [0.01] * 4)])
def test_learning_rate_is_cut_every_lr_patience_stale_epochs(lr_decay, expected):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    monitor = DevMonitor(None, [], tiny_config(lr_patience=2, lr_decay=lr_decay), tqdm(disable=True))
    monitor.set_model(model)
    monitor.history.best_epoch = 1
    rates = []
    for epochs_done in (2, 3, 4, 5):
        monitor._maybe_decay(epochs_done)
        rates.append(float(model.optimizer.learning_rate.numpy()))
    assert rates == pytest.approx(expected)


def _trained_weights(ema_momentum: float) -> tuple[list, list]:
    """(initial, kept) weights of a tiny model trained one short epoch."""
    config = tiny_config(heads=("slots", "intent"), max_epochs=1, max_steps_per_epoch=6, ema_momentum=ema_momentum)
    datasets = load_datasets(config, FIXTURES)
    tagger = build_tagger(config, datasets)
    initial = tagger.network.get_weights()
    batches = BatchMaker(datasets, tagger.featurizer, tagger.labels, config.batch_size, config.seed)
    train(tagger, batches, [d.splits["dev"] for d in datasets], config)
    return initial, tagger.network.get_weights()


def _distance(a: list, b: list) -> float:
    return float(sum(np.sum((x - y) ** 2) for x, y in zip(a, b)))


def test_averaged_weights_are_the_ones_kept():
    """With a momentum near 1 the average barely leaves the first step's weights, so the kept
    weights must stay much closer to the start than the raw weights of the same run do."""
    raw_start, raw = _trained_weights(0.0)
    averaged_start, averaged = _trained_weights(0.999999)
    assert _distance(averaged_start, averaged) < 0.5 * _distance(raw_start, raw)
