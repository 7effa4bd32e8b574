"""Rasa NLU data through the training pipeline: the Python entry point, the command line and the
make variables, the held-out dev split, and bad files stopping at their file:line."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, TINY
from training.config import ConfigError, load_config
from training.data import load_datasets
from training.evaluate import evaluate_model
from training.holdout import hold_out
from training.rasa_alignment import align_example
from training.pipeline import CHATBOT_CONFIG, main as pipeline_main, train_rasa
from training.readers import DatasetError, Sentence

TINY_BOT = FIXTURES / "rasa" / "tiny_bot"
ORDERS, SMALLTALK = TINY_BOT / "train" / "orders.yml", TINY_BOT / "train" / "smalltalk.json"
# TINY's network and schedule, without its benchmark data folders: seconds per run.
HYPERPARAMETERS = {
    **{key: value for key, value in TINY.items() if key not in ("seq_data", "conllu_data")},
    "max_epochs": 1,
    "max_steps_per_epoch": 3,
}
UNUSED = "1 lookup table and 1 regex are read but not used as features"


@pytest.fixture(scope="module")
def rasa_model(tmp_path_factory) -> Path:
    """A version folder trained through train_rasa on tiny_bot's train folder, without dev or test."""
    models_dir = tmp_path_factory.mktemp("models")
    return train_rasa(TINY_BOT / "train", "tiny_bot", models_dir=models_dir, overrides=HYPERPARAMETERS)


def _metadata(version_dir: Path) -> dict:
    return json.loads((version_dir / "metadata.json").read_text(encoding="utf-8"))


def _environment(**variables: str) -> dict[str, str]:
    """This interpreter's environment, able to import the repository from any folder."""
    return {**os.environ, "PYTHONPATH": str(REPO), **variables}


def test_train_rasa_exports_per_file_counts_the_held_out_dev_and_the_synonyms(rasa_model):
    metadata = _metadata(rasa_model)
    assert (rasa_model.parent.name, rasa_model.name) == ("tiny_bot", "1")
    assert metadata["heads"] == ["slots", "intent"] and metadata["config"]["intent_voting"] is True
    (data,) = metadata["data"].values()
    assert (data["train"], data["dev"], data["test"]) == (27, 3, 0)
    assert data["dev_source"] == "10% of train held out, seed 42"
    assert data["files"]["train"][str(ORDERS)] == {"examples": 17, "entities": 30, "span_adjustments": []}
    assert data["files"]["train"][str(SMALLTALK)] == {
        "examples": 13,
        "entities": 4,
        "span_adjustments": [
            {"example": f"{SMALLTALK}:19", "label": "dish", "annotated": "pepperoni", "trained": "pepperonis"}
        ],
    }
    assert (data["unused_lookup_tables"], data["unused_regexes"]) == (1, 1)
    assert metadata["synonyms"] == {"big": "large", "coke": "Coca-Cola", "coca cola": "Coca-Cola"}
    assert {"B-topping:add", "B-topping:remove"} <= set(metadata["labels"]["slots"])
    assert "greet+order_pizza" in metadata["labels"]["intent"]


def test_without_a_test_file_there_are_no_test_metrics_and_the_report_says_why(rasa_model):
    metrics = _metadata(rasa_model)["metrics"]
    assert set(metrics) == {"dev", "dev_argmax"}
    report = (rasa_model / "report.md").read_text(encoding="utf-8")
    for line in (
        "- dev: 10% of train held out, seed 42",
        "- test: none given, so there are no test metrics",
        f"- {UNUSED}",
        f"{ORDERS}: 17 examples, 30 entities, 0 widened to token boundaries",
        f"  {SMALLTALK}:19: dish 'pepperoni' -> 'pepperonis'",
    ):
        assert line in report.splitlines(), line
    assert "| test |" not in report


def test_training_writes_the_rasa_style_report_on_the_held_out_dev(rasa_model):
    """It scores the held-out examples: as many as the dev sentences training stopped on."""
    assert "Rasa-style report on dev: evaluation/dev/nlu_report.md" in (rasa_model / "report.md").read_text()
    figures = json.loads((rasa_model / "evaluation" / "dev" / "nlu_report.json").read_text())
    assert figures["examples"] == _metadata(rasa_model)["data"][str(TINY_BOT / "train")]["dev"] == 3
    assert 0.0 <= figures["intent"]["accuracy"] <= 1.0 and "strict_span_f1" in figures["entities"]
    assert not (rasa_model / "evaluation" / "test").exists()


def test_evaluate_scores_the_same_held_out_dev_and_refuses_a_missing_test_split(rasa_model):
    result = evaluate_model(rasa_model, "dev", data_dir=FIXTURES)
    assert result["metrics"] == {str(TINY_BOT / "train"): _metadata(rasa_model)["metrics"]["dev"]}
    with pytest.raises(DatasetError, match="trained without a test file"):
        evaluate_model(rasa_model, "test", data_dir=FIXTURES)


def test_the_command_line_reads_paths_from_the_current_folder_with_dev_test_and_a_config(tmp_path):
    """As `make train DATA=... DEV=... TEST=... CONFIG=...` runs it, from a folder of the user's
    own; DATA_DIR points nowhere, so relative paths cannot have been looked up there."""
    shutil.copytree(TINY_BOT, tmp_path / "bot")
    (tmp_path / "tiny.toml").write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in HYPERPARAMETERS.items()))
    command = [sys.executable, "-m", "training.pipeline", "--rasa-data", "bot/train", "--rasa-dev", "bot/test.yml",
               "--rasa-test", "bot/test.yml", "--name", "clibot", "--config", "tiny.toml", "--models-dir", "models"]
    result = subprocess.run(command, cwd=tmp_path, env=_environment(DATA_DIR=str(tmp_path / "nowhere")),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "models/clibot/1"
    metadata = _metadata(tmp_path / "models" / "clibot" / "1")
    data = metadata["data"][str(tmp_path / "bot" / "train")]
    assert (data["train"], data["dev"], data["test"]) == (30, 5, 5)
    assert data["dev_source"] == data["test_source"] == f"read from {tmp_path / 'bot' / 'test.yml'}"
    assert set(data["files"]) == {"train", "dev", "test"}
    assert {"dev", "test"} <= set(metadata["metrics"]) and "intent_accuracy" in metadata["metrics"]["test"]
    assert metadata["config"]["rnn_units"] == HYPERPARAMETERS["rnn_units"]
    assert result.stderr.count(UNUSED) == 1


def _make_dry_run(*variables: str) -> list[str]:
    # --no-print-directory: under `make test` this make is a sub-make and would print "Entering directory"
    result = subprocess.run(["make", "-n", "--no-print-directory", "train", *variables], cwd=REPO,
                            capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def test_make_train_passes_its_variables_and_keeps_model_working_unchanged():
    lines = _make_dry_run("DATA=my data/nlu.yml", "NAME=mybot", "DEV=dev.yml", "TEST=test.json", "CONFIG=c.toml")
    assert lines[-1] == (".venv/bin/python -m training.pipeline --rasa-data 'my data/nlu.yml' --name 'mybot' "
                         "--rasa-dev 'dev.yml' --rasa-test 'test.json' --config 'c.toml'")
    assert not any("data.check_data" in line for line in lines)  # Rasa data needs no benchmarks
    assert _make_dry_run("DATA=nlu.yml", "NAME=mybot")[-1].split() == [
        ".venv/bin/python", "-m", "training.pipeline", "--rasa-data", "'nlu.yml'", "--name", "'mybot'"]
    lines = _make_dry_run("MODEL=atis")
    assert lines[-2:] == [".venv/bin/python -m data.check_data",
                          ".venv/bin/python -m training.pipeline --config training/configs/atis.toml"]


def _sentences(counts: dict[str, int]) -> list[Sentence]:
    return [Sentence((intent, str(i)), intent=intent) for intent, count in counts.items() for i in range(count)]


def test_the_held_out_dev_is_stratified_seeded_and_leaves_every_intent_in_train():
    sentences = _sentences({"order": 20, "greet": 7, "deny": 2, "thanks": 1})
    train, dev = hold_out(sentences, 0.1, seed=3)
    assert (train, dev) == hold_out(sentences, 0.1, seed=3)
    assert dev != hold_out(sentences, 0.1, seed=4)[1]
    assert len(dev) == 3 and sorted(train + dev, key=sentences.index) == sentences
    assert [s.intent for s in dev].count("order") == 2  # 20 of 30 examples: 2 of 3 held out
    assert {s.intent for s in train} == {"order", "greet", "deny", "thanks"}


def test_small_intents_reach_dev_by_largest_remainder_but_never_empty_train():
    """16 examples hold out 2: 1.0 of a's share and 0.3 of b's or c's; rounding each alone gives 1."""
    _, dev = hold_out(_sentences({"a": 10, "b": 3, "c": 3}), 0.1, seed=0)
    assert sorted(s.intent for s in dev) == ["a", "b"]
    train, dev = hold_out(_sentences({"a": 2, "b": 2}), 0.9, seed=0)
    assert sorted(s.intent for s in train) == ["a", "b"] and len(dev) == 2


def test_loading_holds_out_the_same_dev_every_time_and_logs_unused_features_once(caplog):
    config = load_config(CHATBOT_CONFIG, name="tiny_bot", rasa_data=str(TINY_BOT / "train"))
    with caplog.at_level(logging.INFO, logger="training.rasa_dataset"):
        (first,) = load_datasets(config, FIXTURES)
    assert [record.getMessage() for record in caplog.records].count(UNUSED) == 1
    (second,) = load_datasets(config, FIXTURES)
    assert first.splits == second.splits
    assert {s.intent for s in first.splits["train"]} == {"order_pizza", "order_drink", "thanks", "greet", "goodbye",
                                                          "greet+order_pizza"}
    for split in ("train", "dev"):  # the raw examples kept for the Rasa-style report match the sentences
        assert [align_example(e)[0] for e in first.rasa.examples[split]] == first.splits[split]


def test_a_bad_file_stops_the_command_with_its_file_and_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "nlu.yml"
    bad.write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello [there\n')
    result = subprocess.run([sys.executable, "-m", "training.pipeline", "--rasa-data", "nlu.yml", "--name", "bad"],
                            cwd=tmp_path, env=_environment(), capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"error: {bad}:6: '[' at character 7 is never closed by ']'"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(dev=FIXTURES / "rasa" / "bad" / "unbalanced_brackets.yml"), r"unbalanced_brackets\.yml:\d+: "),
        (dict(test=TINY_BOT / "missing.yml"), r"missing\.yml: file or folder not found"),
        (dict(data=FIXTURES / "rasa" / "merged" / "README.md"), r"README\.md: not a Rasa NLU file"),
        (dict(data=FIXTURES / "rasa" / "merged"), r"merged: too few examples to hold out 10% as dev"),
    ],
)
def test_bad_data_raises_a_dataset_error_naming_the_file(tmp_path, arguments, message):
    arguments = {"data": TINY_BOT / "train", **arguments}
    with pytest.raises(DatasetError, match=message):
        train_rasa(name="bad", models_dir=tmp_path, overrides=HYPERPARAMETERS, **arguments)
    assert not any(tmp_path.iterdir())


def test_bad_names_and_arguments_are_refused_before_any_data_is_read(tmp_path, capsys):
    with pytest.raises(ConfigError, match="name must be a folder name"):
        train_rasa(tmp_path / "absent.yml", "../escape", models_dir=tmp_path)
    with pytest.raises(ConfigError, match="seq_data and rasa_data both"):
        train_rasa(tmp_path / "absent.yml", "x", models_dir=tmp_path, overrides={"seq_data": "atis"})
    for arguments in (["--rasa-data", "nlu.yml"], ["--name", "x", "--config", str(CHATBOT_CONFIG)], []):
        with pytest.raises(SystemExit) as stopped:
            pipeline_main(arguments)
        assert stopped.value.code == 2
    errors = capsys.readouterr().err
    for message in ("--rasa-data needs --name", "--name go with --rasa-data", "give --config, or --rasa-data"):
        assert message in errors, message
