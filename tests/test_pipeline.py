"""End to end: fixtures → tiny trained model → SavedModel on disk → CLI in a fresh process."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import FIXTURES, REPO, tiny_config
from training.config import ConfigError, load_config
from training.evaluate import evaluate_model
from service.export_contract import (
    COMPILED_MAX_WIDTH,
    COMPILED_SIGNATURE,
    COMPILED_WIDTH_STEP,
    METADATA_SCHEMA_VERSION,
    SIGNATURE,
    metadata_problem,
)
from service.model_store import load_model
from service.predictor import Predictor
from training.pipeline import main as pipeline_main
from training.pipeline import run

SENTENCES = ["i want to fly from boston to taipei", "", "Show me flights that leave Taipei tomorrow"]


def test_export_has_tensorflow_serving_layout_and_full_metadata(tiny_model):
    assert tiny_model.name == "1" and tiny_model.parent.name == "tiny"
    for name in ("saved_model.pb", "variables", "metadata.json", "learning_curve.png", "report.md"):
        assert (tiny_model / name).exists(), name
    metadata = json.loads((tiny_model / "metadata.json").read_text())
    assert metadata_problem(metadata) is None and metadata["schema_version"] == METADATA_SCHEMA_VERSION
    assert metadata["heads"] == ["slots", "intent", "pos"]
    assert metadata["labels"]["slots"][0] == "O" and "NOUN" in metadata["labels"]["pos"]
    for key in ("config", "data", "training_seconds", "packages", "created", "git_commit", "version"):
        assert key in metadata, key
    for split in ("dev", "test", "dev_argmax", "test_argmax", "dev_unseen_cities", "dev_lowercased"):
        assert split in metadata["metrics"], split
    assert {"slot_f1", "intent_accuracy", "sentence_accuracy", "upos_accuracy"} <= set(metadata["metrics"]["test"])
    epoch_lines = [line for line in (tiny_model / "report.md").read_text().splitlines() if line.startswith("- epoch ")]
    assert epoch_lines and all("slot_f1 " in line and "np." not in line for line in epoch_lines)


def test_serving_signature_takes_padded_token_strings(tiny_model):
    serve = tf.saved_model.load(str(tiny_model)).signatures[SIGNATURE]
    outputs = serve(tokens=tf.constant([["fly", "to", "taipei"], ["hello", "", ""]]))
    assert outputs["lengths"].numpy().tolist() == [3, 1]
    assert outputs["slots"].shape == (2, 3) and outputs["pos"].shape == (2, 3)
    assert outputs["slots"][1, 1].numpy() == b"" and outputs["slot_confidence"][1, 1].numpy() == 0.0
    assert outputs["intent"].shape == (2,) and 0.0 < outputs["intent_confidence"][0].numpy() <= 1.0
    probabilities = outputs["intent_probabilities"].numpy()
    intents = json.loads((tiny_model / "metadata.json").read_text())["labels"]["intent"]
    assert probabilities.shape == (2, len(intents))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [intents[i] for i in probabilities.argmax(axis=1)] == [n.decode() for n in outputs["intent"].numpy()]
    np.testing.assert_allclose(probabilities.max(axis=1), outputs["intent_confidence"].numpy())


def test_compiled_signature_answers_like_the_plain_one_at_every_width(tiny_model):
    signatures = tf.saved_model.load(str(tiny_model)).signatures
    plain, compiled = signatures[SIGNATURE], signatures[COMPILED_SIGNATURE]
    words = "show me flights from boston to taipei on monday".split()
    for width in (1, COMPILED_WIDTH_STEP - 1, COMPILED_WIDTH_STEP, COMPILED_WIDTH_STEP + 1, 3 * COMPILED_WIDTH_STEP):
        tokens = tf.constant([(words * 4)[:width]])
        expected, got = plain(tokens=tokens), compiled(tokens=tokens)
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key].shape == value.shape, (width, key)
            if value.dtype == tf.string or value.dtype == tf.int32:
                assert got[key].numpy().tolist() == value.numpy().tolist(), (width, key)
            else:
                np.testing.assert_allclose(got[key].numpy(), value.numpy(), atol=1e-4, err_msg=f"{width} {key}")


def test_rest_predictor_compiles_lone_sentences_up_to_the_widest_compiled_width(tiny_model):
    model = load_model(tiny_model)
    rest, cli = Predictor(model, compiled_single=True), Predictor(model)
    assert rest._signature_for([["a"] * COMPILED_MAX_WIDTH]) is model.compiled_signature
    assert rest._signature_for([["a"] * (COMPILED_MAX_WIDTH + 1)]) is model.signature
    assert rest._signature_for([["a"], ["b"]]) is model.signature
    assert cli._signature_for([["a"]]) is model.signature
    words = "show me flights from boston to taipei".split()
    (compiled,), (plain,) = rest.predict([words]), cli.predict([words])
    assert compiled["slots"] == plain["slots"] and compiled["pos"] == plain["pos"]
    assert compiled["intent"] == plain["intent"]


def test_reloaded_model_tags_through_the_cli_in_a_fresh_process(tiny_model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "tag", "--model", str(tiny_model.parent), "--input", str(source)],
        cwd=REPO, capture_output=True, text=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1, result.stderr  # the empty line failed, the others did not
    assert len(lines) == len(SENTENCES)
    assert "error" in lines[1]
    for line, text in ((lines[0], SENTENCES[0]), (lines[2], SENTENCES[2])):
        assert line["tokens"] == text.split()
        assert len(line["slots"]) == len(line["pos"]) == len(line["tokens"])
        assert isinstance(line["intent"], str) and 0 <= line["intent_confidence"] <= 1
        for entity in line["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"]


def test_a_second_run_adds_a_version_and_evaluate_reads_the_newest(tmp_path):
    config = tiny_config(name="versions", heads=("pos",), max_epochs=1)
    first = run(config, tmp_path, data_dir=FIXTURES)
    second = run(config, tmp_path, data_dir=FIXTURES)
    assert (first.name, second.name) == ("1", "2")
    result = evaluate_model(tmp_path / "versions", "test", FIXTURES)
    assert result["model"] == str(second)
    (scores,) = result["metrics"].values()
    assert set(scores) == {"upos_accuracy"}


def _saved_weights(version_dir) -> list[np.ndarray]:
    return [variable.numpy() for variable in tf.saved_model.load(str(version_dir)).weights]


def test_same_seed_data_and_config_give_identical_metrics_and_weights(tmp_path):
    """What early stopping sees depends on epochs and patience only, never on the clock, so two
    runs are the same model; another seed is not (the comparison can fail)."""
    config = tiny_config(name="seeded", max_epochs=2, lowercase_rate=0.5, ema_momentum=0.9)
    runs = [run(config, tmp_path / str(i), FIXTURES) for i in range(2)]
    other = run(dataclasses.replace(config, seed=7), tmp_path / "other", FIXTURES)
    metadata = [json.loads((version / "metadata.json").read_text()) for version in runs]
    assert metadata[0]["metrics"] == metadata[1]["metrics"]
    assert (metadata[0]["epochs"], metadata[0]["best_epoch"]) == (metadata[1]["epochs"], metadata[1]["best_epoch"])
    first, second, third = (_saved_weights(version) for version in (*runs, other))
    assert len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, c) for a, c in zip(first, third))


def test_bad_config_and_bad_data_fail_with_a_message_naming_them(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('name = "x"\nheads = ["slots", "sentiment"]\nseq_data = "atis"\n')
    with pytest.raises(ConfigError, match="bad.toml.*sentiment"):
        load_config(config)
    config.write_text('name = "x"\nheads = ["slots"]\nseq_data = "atis"\nintent_voting = "false"\n')
    with pytest.raises(ConfigError, match="bad.toml: intent_voting must be of type bool, got 'false'"):
        load_config(config)
    with pytest.raises(ConfigError, match="bad.toml: ensemble_size must be of type int, got True"):
        load_config(config, intent_voting=False, ensemble_size=True)
    with pytest.raises(ConfigError, match="bad.toml: ema_momentum must be at least 0 and below 1, got 1.5"):
        load_config(config, intent_voting=False, ema_momentum=1.5)
    with pytest.raises(ConfigError, match="bad.toml: lowercase_rate must be between 0 and 1, got -0.1"):
        load_config(config, intent_voting=False, lowercase_rate=-0.1)
    with pytest.raises(ConfigError, match="bad.toml: vector_extra_words must be 0 or more, got -5"):
        load_config(config, intent_voting=False, vector_extra_words=-5)
    with pytest.raises(ConfigError, match="bad.toml: warmup_epochs must be 0 or more, got -1"):
        load_config(config, intent_voting=False, warmup_epochs=-1)
    with pytest.raises(ConfigError, match="bad.toml: min_steps must be 0 or more, got -100"):
        load_config(config, intent_voting=False, min_steps=-100)
    with pytest.raises(ConfigError, match="bad.toml: max_learning_rate must be 0 .off. or at least learning_rate 0.005, got 0.001"):
        load_config(config, intent_voting=False, max_learning_rate=0.001)
    with pytest.raises(ConfigError, match="bad.toml: learning_rate_steps needs max_learning_rate"):
        load_config(config, intent_voting=False, learning_rate_steps=3000)
    with pytest.raises(ConfigError, match="bad.toml: max_epochs, batch_size and patience must be at least 1"):
        load_config(config, intent_voting=False, max_epochs=0)
    config.write_text(f'name = "x"\nheads = ["pos"]\nconllu_data = "{tmp_path / "missing"}"\n')
    assert pipeline_main(["--config", str(config), "--models-dir", str(tmp_path)]) == 2
    assert "missing" in capsys.readouterr().err
