"""Fits the network: Adam with gradient clipping, early stopping on the dev score, a time budget,
and a progress bar for epochs and steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import keras
from keras import ops
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from training.config import TrainConfig
from training.data import BatchMaker
from training.evaluation import evaluate
from training.inference import EndToEndTagger
from training.readers import Sentence

DEV_SCORE_METRICS = ("slot_f1", "intent_accuracy", "upos_accuracy")


@dataclass
class TrainingHistory:
    """What happened per epoch, for the learning curve and the report."""

    train_loss: list[float] = field(default_factory=list)
    dev_metrics: list[dict[str, float]] = field(default_factory=list)
    dev_score: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    stopped_because: str = ""


def dev_score(metrics: dict[str, float]) -> float:
    """The single number early stopping maximizes: the mean of each head's main metric."""
    return float(np.mean([metrics[name] for name in DEV_SCORE_METRICS if name in metrics]))


class DevMonitor(keras.callbacks.Callback):
    """Scores dev after every epoch with the exported decoding, keeps the best weights, and stops
    on patience or when the time budget is spent."""

    def __init__(self, tagger: EndToEndTagger, dev: list[list[Sentence]], config: TrainConfig, progress: tqdm):
        super().__init__()
        self.tagger = tagger
        self.dev = dev
        self.config = config
        self.progress = progress
        self.history = TrainingHistory()
        self.best_weights = None
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics: dict[str, float] = {}
        for sentences in self.dev:
            metrics.update(evaluate(self.tagger.serve, sentences))
        score = dev_score(metrics)
        self.history.train_loss.append(float((logs or {}).get("loss", float("nan"))))
        self.history.dev_metrics.append(metrics)
        self.history.dev_score.append(score)
        if score > max(self.history.dev_score[:-1], default=-1.0):
            self.history.best_epoch = epoch + 1
            self.best_weights = self.model.get_weights()
        self.progress.update(1)
        self.progress.set_postfix(loss=f"{self.history.train_loss[-1]:.3f}", dev=f"{score:.2f}", best=self.history.best_epoch)
        self._maybe_decay(epoch + 1)
        self._maybe_stop(epoch + 1)

    def _maybe_decay(self, epochs_done: int) -> None:
        """Cuts the learning rate every `lr_patience` epochs without a new best dev score: the
        small steps settle into the minimum that large ones keep overshooting."""
        stale = epochs_done - self.history.best_epoch
        if stale and stale % self.config.lr_patience == 0 and self.config.lr_decay < 1.0:
            rate = self.model.optimizer.learning_rate
            rate.assign(rate * self.config.lr_decay)

    def _maybe_stop(self, epochs_done: int) -> None:
        if epochs_done - self.history.best_epoch >= self.config.patience:
            self.history.stopped_because = f"no dev improvement for {self.config.patience} epochs"
        elif time.monotonic() - self.started > 60 * self.config.max_minutes:
            self.history.stopped_because = f"time budget of {self.config.max_minutes} minutes spent"
        if self.history.stopped_because:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        self.history.seconds = time.monotonic() - self.started
        self.history.stopped_because = self.history.stopped_because or f"reached {self.config.max_epochs} epochs"
        self.progress.close()


class StepProgress(keras.callbacks.Callback):
    """Inner progress bar over the steps of the current epoch."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps
        self.bar: tqdm | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}", unit="batch", leave=False, position=1)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.bar.close()


class MemberMeanCrossentropy(keras.losses.Loss):
    """Cross-entropy of every ensemble member against the same labels, averaged over members, so
    each member learns on its own and the average of their probabilities is the ensemble."""

    def __init__(self):
        super().__init__(reduction="mean_with_sample_weight", name="member_mean_crossentropy")

    def call(self, y_true, y_pred):
        labels = ops.broadcast_to(ops.expand_dims(y_true, -1), ops.shape(y_pred)[:-1])
        losses = keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        return ops.mean(losses, axis=-1)


def compile_network(network: keras.Model, heads: tuple[str, ...], config: TrainConfig) -> None:
    optimizer = keras.optimizers.Adam(
        learning_rate=config.learning_rate,
        clipnorm=config.clipnorm,
        use_ema=config.ema_momentum > 0,
        ema_momentum=config.ema_momentum,
    )
    losses = {head: MemberMeanCrossentropy() for head in heads}
    network.compile(optimizer=optimizer, loss=losses)


def train(
    tagger: EndToEndTagger, batches: BatchMaker, dev: list[list[Sentence]], config: TrainConfig
) -> TrainingHistory:
    """Trains `tagger.network` in place (best dev epoch restored) and returns the history."""
    network = tagger.network
    heads = tuple(tagger.labels)
    compile_network(network, heads, config)
    steps = batches.batches_per_epoch()
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)
    dataset = _as_dataset(batches, heads)
    progress = tqdm(total=config.max_epochs, desc=f"training {config.name}", unit="epoch", position=0)
    monitor = DevMonitor(tagger, dev, config, progress)
    # Swapped in at each epoch's end, so the monitor scores and keeps the averaged weights.
    averaging = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if network.optimizer.use_ema else []
    network.fit(
        dataset,
        epochs=config.max_epochs,
        steps_per_epoch=steps,
        callbacks=[StepProgress(steps), *averaging, monitor],
        shuffle=False,  # BatchMaker already shuffles batches
        verbose=0,
    )
    return monitor.history


def _as_dataset(batches: BatchMaker, heads: tuple[str, ...]) -> tf.data.Dataset:
    def endless():
        while True:
            yield from batches.epoch()

    ragged = tf.TensorSpec([None, None], tf.int32)
    x_spec = tuple(
        tf.TensorSpec([None, None, None], tf.int32) if name == "trigram_ids" else ragged for name in batches.feature_names
    )
    y_spec = {head: tf.TensorSpec([None] if head == "intent" else [None, None], tf.int32) for head in heads}
    w_spec = {head: tf.TensorSpec([None] if head == "intent" else [None, None], tf.float32) for head in heads}
    dataset = tf.data.Dataset.from_generator(endless, output_signature=(x_spec, y_spec, w_spec))
    return dataset.prefetch(2)
