"""Fits the network: Adam with gradient clipping, a warm-up then cosine learning-rate schedule, dev
scored after every epoch, Keras's early stopping with best-weight restore, and one progress bar.

How long a run lasts is decided by epochs, steps and patience only, so the same seed, data and
config give the same model on any machine. The wall-clock limit is a safety net: a run it stops is
marked as cut short.
"""

from __future__ import annotations

import logging
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
from training.optimizer import LazyAdam, NormRecordingAdam
from training.readers import Sentence

log = logging.getLogger(__name__)

DEV_SCORE_METRICS = ("slot_f1", "intent_accuracy", "upos_accuracy")
DEV_SCORE = "dev_score"  # the key the dev score is logged under, which early stopping monitors


@dataclass
class TrainingHistory:
    """What happened per epoch, for the learning curve and the report."""

    train_loss: list[float] = field(default_factory=list)
    dev_metrics: list[dict[str, float]] = field(default_factory=list)
    dev_score: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    stopped_because: str = ""
    cut_short: bool = False  # the wall-clock safety net stopped the run before its epochs and patience did
    steps_per_epoch: int = 0
    passes_per_epoch: float = 1.0  # above 1 when min_steps stretched each epoch over several passes over train
    peak_learning_rate: float = 0.0
    largest_gradient_norm: list[float] = field(default_factory=list)  # per epoch, before clipping


def dev_score(metrics: dict[str, float]) -> float:
    """The single number early stopping maximizes: the mean of each head's main metric."""
    return float(np.mean([metrics[name] for name in DEV_SCORE_METRICS if name in metrics]))


class DevScoring(keras.callbacks.Callback):
    """Scores dev after every epoch through the exported decoding (Viterbi over the served
    function), records it, and logs the dev score for the callbacks after it."""

    def __init__(self, tagger: EndToEndTagger, dev: list[list[Sentence]], history: TrainingHistory):
        super().__init__()
        self.tagger = tagger
        self.dev = dev
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        metrics: dict[str, float] = {}
        for sentences in self.dev:
            metrics.update(evaluate(self.tagger.serve, sentences))
        logs[DEV_SCORE] = dev_score(metrics)
        self.history.train_loss.append(float(logs.get("loss", float("nan"))))
        self.history.dev_metrics.append(metrics)
        self.history.dev_score.append(logs[DEV_SCORE])


class GradientNorms(keras.callbacks.Callback):
    """Records the epoch's largest gradient norm (the optimizer keeps the maximum, training/optimizer.py)
    and starts the next epoch's from zero."""

    def __init__(self, history: TrainingHistory):
        super().__init__()
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        largest = self.model.optimizer.largest_gradient_norm
        self.history.largest_gradient_norm.append(float(largest.numpy()))
        largest.assign(0.0)


class WallClockLimit(keras.callbacks.Callback):
    """Stops training after `minutes` and says so loudly: a run that ends here depends on the
    machine's speed, so the export and the report are marked as cut short."""

    def __init__(self, minutes: float, history: TrainingHistory):
        super().__init__()
        self.minutes = minutes
        self.history = history
        self.started = time.monotonic()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self.started > 60 * self.minutes and not self.model.stop_training:
            self.history.cut_short = True
            self.model.stop_training = True
            log.warning(
                "CUT SHORT: the %s-minute wall-clock limit (max_minutes) stopped training after epoch %d; "
                "this model depends on the machine's speed and is marked cut_short in metadata.json",
                self.minutes, epoch + 1,
            )


class Progress(keras.callbacks.Callback):
    """One progress bar over every step of the run, and one line, after the second epoch (the
    first also traces the graphs), with the time the whole run will take on this machine."""

    def __init__(self, name: str, epochs: int, steps: int, history: TrainingHistory):
        super().__init__()
        self.name = name
        self.epochs = epochs
        self.steps = steps
        self.history = history
        self.bar: tqdm | None = None
        self.epoch_started = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.bar = tqdm(total=self.epochs * self.steps, desc=f"training {self.name}", unit="step", dynamic_ncols=True)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 1:
            seconds = time.monotonic() - self.epoch_started
            self.bar.write(
                f"training {self.name}: {self.epochs} epochs of {self.steps} steps take about "
                f"{seconds * self.epochs / 60:.1f} min on this machine ({seconds:.1f} s per epoch "
                "with dev scoring); early stopping may end it sooner"
            )
        self.bar.set_postfix(epoch=epoch + 1, loss=f"{self.history.train_loss[-1]:.3f}", dev=f"{self.history.dev_score[-1]:.2f}")

    def on_train_end(self, logs: dict | None = None) -> None:
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


def peak_learning_rate(config: TrainConfig, batches: int) -> float:
    """`learning_rate`, raised for data whose `max_epochs` passes of `batches` batches take fewer
    than `learning_rate_steps` steps, in proportion, up to `max_learning_rate`."""
    one_pass_steps = config.max_epochs * batches
    if not config.learning_rate_steps or one_pass_steps >= config.learning_rate_steps:
        return config.learning_rate
    return min(config.learning_rate * config.learning_rate_steps / one_pass_steps, config.max_learning_rate)


def learning_rate_schedule(
    config: TrainConfig, steps_per_epoch: int, peak: float | None = None
) -> keras.optimizers.schedules.LearningRateSchedule:
    """A linear warm-up over `warmup_epochs`, then a cosine decay to zero at `max_epochs`: large
    early steps once the statistics of Adam have settled, small ones to converge in few epochs."""
    total = config.max_epochs * steps_per_epoch
    warmup = min(int(round(config.warmup_epochs * steps_per_epoch)), total - 1)
    peak = config.learning_rate if peak is None else peak
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else peak,
        decay_steps=total - warmup,
        warmup_target=peak if warmup else None,
        warmup_steps=warmup,
    )


def compile_network(
    network: keras.Model, heads: tuple[str, ...], config: TrainConfig, steps_per_epoch: int, peak: float | None = None
) -> None:
    adam = LazyAdam if config.lazy_embedding_updates else NormRecordingAdam
    optimizer = adam(
        learning_rate=learning_rate_schedule(config, steps_per_epoch, peak),
        clipnorm=config.clipnorm or None,
        use_ema=config.ema_momentum > 0,
        ema_momentum=config.ema_momentum,
    )
    losses = {head: MemberMeanCrossentropy() for head in heads}
    network.compile(optimizer=optimizer, loss=losses)


def steps_per_epoch(batches: int, config: TrainConfig) -> int:
    """The steps of one epoch for `batches` batches per pass over train: one pass, or more when
    `max_epochs` passes would take fewer than `min_steps`; `max_steps_per_epoch` caps it."""
    steps = max(batches, -(-config.min_steps // config.max_epochs))
    return min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps


def train(
    tagger: EndToEndTagger, batches: BatchMaker, dev: list[list[Sentence]], config: TrainConfig
) -> TrainingHistory:
    """Trains `tagger.network` in place (best dev epoch restored) and returns the history."""
    network = tagger.network
    one_pass = batches.batches_per_epoch()
    steps = steps_per_epoch(one_pass, config)
    peak = peak_learning_rate(config, one_pass)
    compile_network(network, tuple(tagger.labels), config, steps, peak)
    history = TrainingHistory(steps_per_epoch=steps, passes_per_epoch=steps / one_pass, peak_learning_rate=peak)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=DEV_SCORE, mode="max", patience=config.patience, restore_best_weights=True
    )
    # Swapped in at each epoch's end, so dev scoring and early stopping see the averaged weights.
    averaging = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if network.optimizer.use_ema else []
    callbacks = [
        *averaging,
        GradientNorms(history),
        DevScoring(tagger, dev, history),
        early_stopping,
        WallClockLimit(config.max_minutes, history),
        Progress(config.name, config.max_epochs, steps, history),
    ]
    started = time.monotonic()
    network.fit(
        _as_dataset(batches, tuple(tagger.labels)),
        epochs=config.max_epochs,
        steps_per_epoch=steps,
        callbacks=callbacks,
        shuffle=False,  # BatchMaker already shuffles batches
        verbose=0,
    )
    history.seconds = time.monotonic() - started
    history.best_epoch = early_stopping.best_epoch + 1  # the epoch whose weights it restored
    history.stopped_because = _stopped_because(history, early_stopping, config)
    return history


def _stopped_because(history: TrainingHistory, early_stopping: keras.callbacks.EarlyStopping, config: TrainConfig) -> str:
    if history.cut_short:
        return f"CUT SHORT by the wall-clock limit of {config.max_minutes} minutes"
    if early_stopping.stopped_epoch > 0:
        return f"no dev improvement for {config.patience} epochs"
    return f"reached {config.max_epochs} epochs"


def _as_dataset(batches: BatchMaker, heads: tuple[str, ...]) -> tf.data.Dataset:
    """The batches as a dataset, made when the step asks for one. No prefetch (its thread fought the
    step for the GIL) and no autotuning (destroying the iterator waited on the tuning thread for up
    to 40 s after the last step); see docs/EXPERIMENTS.md#input-without-prefetch."""

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
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
