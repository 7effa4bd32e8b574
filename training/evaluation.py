"""Scores a tagger on labelled sentences: slot F1 (conlleval, via seqeval), intent accuracy,
sentence accuracy and UPOS accuracy.

It takes any callable with the serving contract (tokens `[batch, time]` → dict of outputs), so the
in-training tagger and a reloaded SavedModel are scored by the same code.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf
from seqeval.metrics import f1_score, precision_score, recall_score

from training.features import padded_batches
from training.readers import Sentence

TagFunction = Callable[..., dict]


def predict(tag_fn: TagFunction, sentences: list[Sentence], batch_size: int = 256) -> list[dict]:
    """Runs `tag_fn` over sentences batched by length; returns per-sentence label lists."""
    results: list[dict] = [{} for _ in sentences]
    for batch, padded in padded_batches([s.tokens for s in sentences], batch_size):
        outputs = tag_fn(tokens=tf.constant(padded, dtype=tf.string))
        # To NumPy once per batch: slicing the tensors row by row is one TensorFlow op per row.
        labels = {head: outputs[head].numpy() for head in ("slots", "pos", "intent") if head in outputs}
        for row, index in enumerate(batch):
            results[index] = _row(labels, row, len(sentences[index].tokens))
    return results


def _row(labels: dict[str, np.ndarray], row: int, length: int) -> dict:
    result = {}
    for head in ("slots", "pos"):
        if head in labels:
            result[head] = [tag.decode() for tag in labels[head][row, :length]]
    if "intent" in labels:
        result["intent"] = labels["intent"][row].decode()
    return result


def score(sentences: list[Sentence], predictions: list[dict]) -> dict[str, float]:
    """Metrics for every head present in both gold and predictions, as percentages."""
    metrics: dict[str, float] = {}
    has = {head: all(head in p for p in predictions) for head in ("slots", "intent", "pos")}
    if has["slots"] and sentences[0].slots is not None:
        gold = [list(s.slots) for s in sentences]
        guess = [p["slots"] for p in predictions]
        # An untrained model may predict no slot at all: that scores 0, as seqeval's default does, without its warning.
        metrics["slot_f1"] = 100 * f1_score(gold, guess, zero_division=0)
        metrics["slot_precision"] = 100 * precision_score(gold, guess, zero_division=0)
        metrics["slot_recall"] = 100 * recall_score(gold, guess, zero_division=0)
    if has["intent"] and sentences[0].intent is not None:
        metrics["intent_accuracy"] = 100 * float(np.mean([s.intent == p["intent"] for s, p in zip(sentences, predictions)]))
    if has["slots"] and has["intent"] and sentences[0].slots is not None and sentences[0].intent is not None:
        metrics["sentence_accuracy"] = 100 * float(
            np.mean([list(s.slots) == p["slots"] and s.intent == p["intent"] for s, p in zip(sentences, predictions)])
        )
    if has["pos"] and sentences[0].pos is not None:
        pairs = [(g, q) for s, p in zip(sentences, predictions) for g, q in zip(s.pos, p["pos"])]
        metrics["upos_accuracy"] = 100 * float(np.mean([g == q for g, q in pairs]))
    return {name: round(float(value), 2) for name, value in metrics.items()}


def evaluate(tag_fn: TagFunction, sentences: list[Sentence]) -> dict[str, float]:
    return score(sentences, predict(tag_fn, sentences))
