"""The learning rate is cut after `lr_patience` epochs without a new best dev score, and only then."""

import keras
import pytest
from tqdm import tqdm

from tests.conftest import tiny_config
from training.trainer import DevMonitor


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
