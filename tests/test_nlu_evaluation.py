"""The `rasa test nlu`-like report, on the rule model of test_predictor_cli, whose every answer is
known: capitalised tokens are cities, and only a sentence with the word "flight" is a flight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.model_store import load_model
from tests.test_predictor_cli import build_contract_model
from training.evaluate import main as evaluate_main
from training.nlu_evaluation import evaluate_examples, write_nlu_report
from training.rasa_data import Entity, Example


def _example(text: str, intent: str, *cities: str, line: int) -> Example:
    entities = tuple(Entity(text.index(c), text.index(c) + len(c), c, "city", c) for c in cities)
    return Example(text, intent, entities, f"test.yml:{line}")


EXAMPLES = [
    _example("a flight to Boston", "flight", "Boston", line=1),  # all right
    _example("fly to New York", "flight", "New York", line=2),  # intent wrong (no word "flight")
    _example("hello Paris", "other", line=3),  # an entity too many
    _example("to oslo", "other", "oslo", line=4),  # an entity missed (not capitalised)
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    return load_model(build_contract_model(tmp_path_factory.mktemp("toy") / "1", heads=("slots", "intent")))


def test_intent_and_strict_entity_figures(model):
    report = evaluate_examples(model, EXAMPLES)
    intent = report["intent"]
    assert (intent["accuracy"], intent["micro_f1"]) == (0.75, 0.75)
    assert intent["per_intent"]["flight"]["recall"] == 0.5 and intent["per_intent"]["flight"]["precision"] == 1.0
    assert intent["per_intent"]["flight"]["confused_with"] == {"other": 1}
    assert intent["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    entities = report["entities"]
    assert entities["micro"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1-score": 2 / 3, "support": 3})
    assert entities["strict_span_f1"] == pytest.approx(2 / 3) and set(entities["per_entity"]) == {"city"}
    assert [(e["source"], e["wrong"]) for e in report["errors"]] == [
        ("test.yml:2", ["intent"]), ("test.yml:3", ["entities"]), ("test.yml:4", ["entities"])
    ]
    missed = report["errors"][2]
    assert missed["entities"] == [{"entity": "city", "start": 3, "end": 7, "text": "oslo", "value": "oslo"}]
    assert missed["entity_predictions"] == [] and missed["intent_prediction"]["name"] == "other"


def test_a_span_off_by_a_character_is_an_error(model):
    widened = Example("a flight to Bostonian", "flight", (Entity(12, 18, "Boston", "city", "Boston"),), "t:1")
    report = evaluate_examples(model, [widened])
    assert report["entities"]["strict_span_f1"] == 0.0 and report["errors"][0]["wrong"] == ["entities"]


def test_the_report_files(model, tmp_path):
    folder = write_nlu_report(evaluate_examples(model, EXAMPLES), tmp_path / "report", "toy on test.yml")
    figures = json.loads((folder / "nlu_report.json").read_text())
    assert figures["examples"] == 4 and "gold" not in figures["intent"]
    errors = [json.loads(line) for line in (folder / "errors.jsonl").read_text().splitlines()]
    assert [e["text"] for e in errors] == ["fly to New York", "hello Paris", "to oslo"]
    for png in ("intent_confusion_matrix.png", "intent_histogram.png"):
        assert (folder / png).read_bytes().startswith(b"\x89PNG")
    markdown = (folder / "nlu_report.md").read_text()
    assert "# toy on test.yml" in markdown and "accuracy 75.00" in markdown and "| city | 66.67 |" in markdown


def test_the_command_line_writes_beside_the_model_or_into_out(model, tmp_path, capsys):
    test_file = tmp_path / "test.yml"
    test_file.write_text(
        'version: "3.1"\nnlu:\n- intent: flight\n  examples: |\n    - a flight to [Oslo](city)\n'
        "- intent: other\n  examples: |\n    - hi\n", encoding="utf-8",
    )
    assert evaluate_main(["--model", str(model.path), "--rasa-test", str(test_file), "--out", str(tmp_path / "out")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"report": str(tmp_path / "out" / "nlu_report.md"), "examples": 2,
                       "intent_accuracy": 100.0, "intent_macro_f1": 100.0, "entity_strict_span_f1": 100.0}
    assert evaluate_main(["--model", str(model.path), "--rasa-test", str(test_file)]) == 0
    assert (model.path / "evaluation" / "test" / "nlu_report.json").is_file()
    test_file.write_text("nlu:\n- intent: flight\n  examples: |\n    - [Oslo(city)\n", encoding="utf-8")
    assert evaluate_main(["--model", str(model.path), "--rasa-test", str(test_file)]) == 2
    assert f"{test_file}:4: " in capsys.readouterr().err
