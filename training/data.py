"""Turns a config's datasets into vocabularies, label sets and length-bucketed training batches.

Each dataset feeds only the heads it has labels for; in a multi-task model the other heads get
zero sample weight on its batches, so ATIS batches teach slots and intent and EWT batches teach POS.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import tensorflow as tf

from training.config import TrainConfig, resolve_data_path
from training.features import PAD_TOKEN, TokenFeaturizer, padded_batches
from training.rasa_dataset import RasaSource, load_rasa_splits
from training.readers import Sentence, read_split


@dataclass(frozen=True)
class Dataset:
    """One dataset and the heads it supervises; `rasa` says where a Rasa dataset's splits came from.

    A split may be empty (Rasa data without a test file): it then has no metrics.
    """

    path: Path
    heads: tuple[str, ...]
    splits: dict[str, list[Sentence]]
    rasa: RasaSource | None = None


def load_datasets(config: TrainConfig, data_dir: Path) -> list[Dataset]:
    """Reads train/dev/test of every dataset the config's heads need."""
    by_folder: dict[str, list[str]] = {}
    for head in config.heads:
        by_folder.setdefault(config.data_dir(head), []).append(head)
    datasets = []
    for folder, heads in by_folder.items():
        if folder == config.rasa_data:
            path, splits, rasa = load_rasa_splits(config, data_dir)
            datasets.append(Dataset(path=path, heads=tuple(heads), splits=splits, rasa=rasa))
            continue
        path = resolve_data_path(folder, data_dir)
        splits = {split: read_split(path, split) for split in ("train", "dev", "test")}
        datasets.append(Dataset(path=path, heads=tuple(heads), splits=splits))
    return datasets


def build_vocabulary(datasets: list[Dataset], min_count: int) -> list[str]:
    """Lower-cased training words seen at least `min_count` times, most frequent first."""
    counts = Counter(token.lower() for d in datasets for s in d.splits["train"] for token in s.tokens)
    return [word for word, count in counts.most_common() if count >= min_count and word != PAD_TOKEN]


def build_labels(datasets: list[Dataset]) -> dict[str, list[str]]:
    """Sorted training label set per head; "O" comes first among slot tags."""
    labels: dict[str, list[str]] = {}
    for dataset in datasets:
        train = dataset.splits["train"]
        for head in dataset.heads:
            if head == "intent":
                labels[head] = sorted({s.intent for s in train})
            else:
                names = {tag for s in train for tag in getattr(s, head)}
                labels[head] = sorted(names, key=lambda tag: (tag != "O", tag))
    return labels


def lowercased(sentences: list[Sentence]) -> list[Sentence]:
    """The sentences as a chatbot user would type them, labels unchanged."""
    return [replace(s, tokens=tuple(token.lower() for token in s.tokens)) for s in sentences]


class BatchMaker:
    """Featurizes the training sentences once, then deals out shuffled length-bucketed batches.

    With `lowercase_rate`, that share of the sentences of each batch is shown lower-cased. Word,
    trigram and suffix ids are computed on lower-cased text anyway, so only the shape ids differ.
    """

    def __init__(
        self,
        datasets: list[Dataset],
        featurizer: TokenFeaturizer,
        labels: dict[str, list[str]],
        batch_size: int,
        seed: int,
        lowercase_rate: float = 0.0,
    ):
        self.batch_size = batch_size
        self.lowercase_rate = lowercase_rate
        self.heads = tuple(labels)
        self.feature_names = featurizer.feature_names
        self.rng = np.random.default_rng(seed)
        label_ids = {head: {name: i for i, name in enumerate(names)} for head, names in labels.items()}
        self.examples = []
        for dataset in datasets:
            sentences = dataset.splits["train"]
            features = featurize(featurizer, sentences)
            if lowercase_rate:
                for original, lower in zip(features, featurize(featurizer, lowercased(sentences))):
                    original["lowercased_shape_ids"] = lower["shape_ids"]
            targets = [_targets(s, dataset.heads, label_ids) for s in sentences]
            self.examples.append(list(zip(features, targets)))

    def batches_per_epoch(self) -> int:
        return sum(-(-len(examples) // self.batch_size) for examples in self.examples)

    def epoch(self) -> Iterator[tuple]:
        """One pass over every dataset: similar lengths share a batch, batch order is shuffled."""
        batches = []
        for examples in self.examples:
            noisy_length = [len(f["word_ids"]) + self.rng.uniform(0, 2) for f, _ in examples]
            order = np.argsort(noisy_length)
            for start in range(0, len(order), self.batch_size):
                batches.append([examples[i] for i in order[start : start + self.batch_size]])
        for index in self.rng.permutation(len(batches)):
            yield self._collate(batches[index])

    def _collate(self, batch: list) -> tuple:
        batch = [(self._maybe_lowercased(features), targets) for features, targets in batch]
        lengths = np.array([len(features["word_ids"]) for features, _ in batch])
        width = int(lengths.max())
        x = tuple(_pad([features[name] for features, _ in batch], width) for name in self.feature_names)
        token_mask = np.arange(width)[None, :] < lengths[:, None]
        y, weights = {}, {}
        for head in self.heads:
            present = np.array([head in targets for _, targets in batch], dtype=np.float32)
            if head == "intent":
                y[head] = np.array([targets.get(head, 0) for _, targets in batch], dtype=np.int32)
                weights[head] = present
            else:
                missing = np.zeros(0, dtype=np.int32)
                y[head] = _pad([targets.get(head, missing) for _, targets in batch], width)
                weights[head] = present[:, None] * token_mask
        return x, y, {head: w.astype(np.float32) for head, w in weights.items()}

    def _maybe_lowercased(self, features: dict) -> dict:
        if self.lowercase_rate and self.rng.random() < self.lowercase_rate:
            return {**features, "shape_ids": features["lowercased_shape_ids"]}
        return features


def featurize(featurizer: TokenFeaturizer, sentences: list[Sentence], chunk: int = 512) -> list[dict]:
    """Per-sentence numpy feature arrays, computed in length-sorted chunks for speed."""
    features: list[dict] = [{} for _ in sentences]
    for batch, padded in padded_batches([s.tokens for s in sentences], chunk):
        arrays = {name: value.numpy() for name, value in featurizer(tf.constant(padded, dtype=tf.string)).items()}
        for row, index in enumerate(batch):
            length = len(sentences[index].tokens)
            features[index] = {name: array[row, :length] for name, array in arrays.items()}
    return features


def _targets(sentence: Sentence, heads: tuple[str, ...], label_ids: dict[str, dict[str, int]]) -> dict:
    targets = {}
    for head in heads:
        if head == "intent":
            targets[head] = label_ids[head][sentence.intent]
        else:
            targets[head] = np.array([label_ids[head][tag] for tag in getattr(sentence, head)], dtype=np.int32)
    return targets


def _pad(arrays: list[np.ndarray], width: int) -> np.ndarray:
    """Zero-pads arrays of shape `[length, ...]` into one `[batch, width, ...]` array."""
    inner = next((a.shape[1:] for a in arrays if len(a)), ())
    padded = np.zeros((len(arrays), width) + inner, dtype=np.int32)
    for row, array in enumerate(arrays):
        padded[row, : len(array)] = array
    return padded
