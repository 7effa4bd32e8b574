"""The encoder options: each cell and feature set trains, exports and serves like the default
BiLSTM, and the cells written here compute what their papers say."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from service.cli import tag_file
from service.model_store import load_model
from service.predictor import Predictor
from tests.conftest import FIXTURES, tiny_config
from training.config import CELLS, ConfigError, load_config
from training.pipeline import run
from training.recurrent import JordanCell, PeepholeLSTMCell, ProjectedInputLSTMCell, recurrent_layer

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {
    "gru": dict(cell="gru"),
    "elman": dict(cell="elman", bidirectional=False),
    "irnn": dict(cell="irnn"),
    "jordan": dict(cell="jordan"),
    "jordan_forward": dict(cell="jordan", bidirectional=False),
    "peephole_lstm": dict(cell="peephole_lstm"),
    "none": dict(cell="none", bidirectional=False, rnn_layers=2),
    "lstm_reversed": dict(cell="lstm", bidirectional=False, reverse_input=True),
    "lstm_3_layers": dict(rnn_layers=3),
    "word_only_unclipped": dict(token_features=("word",), clipnorm=0.0),
    "word_and_trigrams": dict(token_features=("word", "trigram")),
}
SENTENCES = [["show", "flights", "from", "boston", "to", "denver"], ["leave", "taipei"]]


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request, tmp_path_factory) -> tuple[str, Path]:
    """(variant name, version folder) of a few training steps on every head."""
    config = tiny_config(name=request.param, max_epochs=2, max_steps_per_epoch=2, **VARIANTS[request.param])
    return request.param, run(config, tmp_path_factory.mktemp(request.param), data_dir=FIXTURES)


def test_every_variant_exports_and_serves_through_the_predictor_and_the_cli(variant, tmp_path) -> None:
    name, version_dir = variant
    model = load_model(version_dir)
    predicted = Predictor(model).predict(SENTENCES)
    assert [len(result["slots"]) for result in predicted] == [6, 2]
    assert all(len(result["pos"]) == len(result["slots"]) and "intent" in result for result in predicted)
    source, target = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("\n".join(" ".join(words) for words in SENTENCES) + "\n", encoding="utf-8")
    tag_file(version_dir.parent, source, target, batch_size=2, progress=False)
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [row["slots"] for row in rows] == [result["slots"] for result in predicted]
    metadata = json.loads((version_dir / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["config"]["cell"] == VARIANTS[name].get("cell", "lstm")
    assert len(metadata["largest_gradient_norm"]) == metadata["epochs"] and min(metadata["largest_gradient_norm"]) > 0


def test_padding_changes_no_output_of_any_variant(variant) -> None:
    """A sentence alone and beside a longer one (so padded) gets the same probabilities: every
    cell, direction and reversal masks its padding."""
    _, version_dir = variant
    signature = load_model(version_dir).signature
    batch = signature(tokens=tf.constant([SENTENCES[0], SENTENCES[1] + [""] * 4]))
    alone = signature(tokens=tf.constant([SENTENCES[1]]))
    np.testing.assert_allclose(batch["slot_confidence"][1, :2], alone["slot_confidence"][0], atol=1e-5)
    np.testing.assert_allclose(batch["intent_probabilities"][1], alone["intent_probabilities"][0], atol=1e-5)
    assert batch["slots"][1, 2:].numpy().tolist() == [b""] * 4


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_lstm_with_its_input_projection_out_of_the_loop_is_keras_lstm(bidirectional) -> None:
    """Same weights, same outputs as Keras's LSTM, padding masked alike, in both directions."""
    sequences = np.random.default_rng(2).normal(size=(3, 6, 5)).astype("float32")
    mask = np.arange(6)[None, :] < np.array([[6], [4], [1]])
    ours, keras_lstm = recurrent_layer("lstm", 4), keras.layers.LSTM(4, return_sequences=True)
    if bidirectional:
        ours, keras_lstm = keras.layers.Bidirectional(ours), keras.layers.Bidirectional(keras_lstm)
    ours(sequences, mask=mask)
    keras_lstm(sequences, mask=mask)
    ours.set_weights(keras_lstm.get_weights())
    np.testing.assert_allclose(ours(sequences, mask=mask), keras_lstm(sequences, mask=mask), atol=1e-6)
    with pytest.raises(ValueError, match="no dropout"):
        ProjectedInputLSTMCell(4, dropout=0.1)


def test_a_peephole_cell_without_peepholes_is_keras_lstm_cell_and_its_peepholes_matter() -> None:
    inputs, state = np.random.default_rng(0).normal(size=(2, 5)), [np.full((2, 3), 0.5)] * 2
    peephole, lstm = PeepholeLSTMCell(3), keras.layers.LSTMCell(3)
    peephole.build((2, 5))
    lstm.build((2, 5))
    peephole.kernel.assign(lstm.kernel)
    peephole.recurrent_kernel.assign(lstm.recurrent_kernel)
    peephole.bias.assign(lstm.bias)
    np.testing.assert_allclose(peephole(inputs, state)[0], lstm(inputs, state)[0], atol=1e-6)
    peephole.peepholes.assign(np.ones((3, 3)))
    assert not np.allclose(peephole(inputs, state)[0], lstm(inputs, state)[0], atol=1e-3)


def test_a_jordan_cell_feeds_back_its_own_output_distribution() -> None:
    cell = JordanCell(4, labels=3)
    layer = keras.layers.RNN(cell, return_sequences=True)
    sequence = np.random.default_rng(1).normal(size=(1, 2, 5)).astype("float32")
    outputs = layer(sequence).numpy()
    first_logits = outputs[0, 0, 4:]
    fed_back = np.exp(first_logits) / np.exp(first_logits).sum()
    expected_hidden = np.tanh(sequence[0, 1] @ cell.kernel.numpy() + fed_back @ cell.feedback_kernel.numpy() + cell.bias.numpy())
    np.testing.assert_allclose(outputs[0, 1, :4], expected_hidden, atol=1e-5)
    # The first step's feedback is the zero state, so its hidden layer reads the input alone.
    np.testing.assert_allclose(outputs[0, 0, :4], np.tanh(sequence[0, 0] @ cell.kernel.numpy()), atol=1e-5)
    np.testing.assert_allclose(outputs[0, 1, 4:], expected_hidden @ cell.output_kernel.numpy(), atol=1e-5)


def test_an_irnn_starts_from_the_identity_with_relu() -> None:
    layer = recurrent_layer("irnn", 6)
    layer.build((None, None, 4))
    np.testing.assert_array_equal(layer.cell.recurrent_kernel.numpy(), np.eye(6))
    assert layer.cell.activation is keras.activations.relu


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cell": "transformer"}, str(list(CELLS))),
        ({"cell": "jordan", "rnn_layers": 2}, "set rnn_layers = 1"),
        ({"cell": "none"}, "set bidirectional = false"),
        ({"reverse_input": True}, "reverse_input is for a one-directional encoder"),
        ({"rnn_layers": 4}, "rnn_layers must be 1 to 3"),
        ({"token_features": ["trigram"]}, "including 'word'"),
        ({"token_features": ["word", "letters"]}, "['word', 'trigram', 'suffix', 'shape']"),
        ({"clipnorm": -1}, "clipnorm must be 0 (no clipping) or more"),
        ({"lstm_layers": 1, "rnn_layers": 1}, "lstm_layers is the old name of rnn_layers"),
    ],
)
def test_bad_encoder_options_are_refused_with_the_allowed_values(overrides, message) -> None:
    with pytest.raises(ConfigError, match=None) as raised:
        load_config(REPO / "training" / "configs" / "atis.toml", **overrides)
    assert message in str(raised.value)


def test_the_old_field_names_still_read(tmp_path) -> None:
    (tmp_path / "old.toml").write_text('name = "old"\nheads = ["slots"]\nseq_data = "atis"\nlstm_layers = 3\nlstm_units = 7\n')
    config = load_config(tmp_path / "old.toml")
    assert (config.rnn_layers, config.rnn_units) == (3, 7)
