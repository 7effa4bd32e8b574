"""model_store, Predictor and the CLI against tiny SavedModels that follow the export contract.

The models here are rules, not trained networks: a capitalised token is a city (B-city, or
I-city right after another capitalised token), digits are NUM, and a sentence mentioning
"flight" has the intent "flight". That is enough to check batching, ordering, padding,
decoding, heads and the CLI without training anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from service.cli import main, tag_file
from service.errors import ModelCorrupt, ModelNotFound
from service.export_contract import METADATA_SCHEMA_VERSION
from service.model_store import load_model, resolve_version_dir
from service.predictor import Predictor

ALL_HEADS = ("slots", "intent", "pos")


class _RuleTagger(tf.Module):
    """Contract-conforming toy model: outputs only the keys of its heads, plus lengths."""

    def __init__(self, heads: tuple[str, ...]) -> None:
        super().__init__()
        self.heads = heads

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
    def serve(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        real = tf.not_equal(tokens, "")
        outputs = {"lengths": tf.reduce_sum(tf.cast(real, tf.int32), axis=1)}
        confidence = tf.where(real, 0.9, 0.0)
        if "slots" in self.heads:
            upper = tf.strings.regex_full_match(tokens, "[A-Z].*")
            after_upper = tf.pad(upper[:, :-1], [[0, 0], [1, 0]])
            outputs["slots"] = tf.where(upper, tf.where(after_upper, "I-city", "B-city"), "O")
            outputs["slot_confidence"] = confidence
        if "pos" in self.heads:
            digits = tf.strings.regex_full_match(tokens, "[0-9]+")
            outputs["pos"] = tf.where(digits, "NUM", "X")
            outputs["pos_confidence"] = confidence
        if "intent" in self.heads:
            flight = tf.reduce_any(tf.equal(tokens, "flight"), axis=1)
            outputs["intent"] = tf.where(flight, "flight", "other")
            outputs["intent_confidence"] = tf.where(flight, 0.8, 0.6)
            p_flight = tf.where(flight, 0.8, 0.4)
            outputs["intent_probabilities"] = tf.stack([p_flight, 1.0 - p_flight], axis=1)
        return outputs


def build_contract_model(version_dir: Path, heads: tuple[str, ...] = ALL_HEADS) -> Path:
    """Save a `_RuleTagger` and its metadata.json into `version_dir`."""
    module = _RuleTagger(heads)
    tf.saved_model.save(module, str(version_dir), signatures={"serving_default": module.serve})
    labels = {
        "slots": ["O", "B-city", "I-city"],
        "pos": ["NUM", "X"],
        "intent": ["flight", "other"],
    }
    metadata = {
        "schema_version": METADATA_SCHEMA_VERSION,
        "name": version_dir.parent.name,
        "version": int(version_dir.name),
        "heads": list(heads),
        "labels": {head: labels[head] for head in heads},
        "config": {},
        "metrics": {},
        "created": "2024-01-01T00:00:00Z",
        "synonyms": {"nyc": "New York"},
    }
    (version_dir / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    return version_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """models/toy with an older version 2 (intent only) and the newest, 10, with all heads."""
    root = tmp_path_factory.mktemp("models") / "toy"
    build_contract_model(root / "2", heads=("intent",))
    build_contract_model(root / "10")
    (root / "tmp-export-11").mkdir()  # a half-written export must be ignored
    return root


@pytest.fixture(scope="module")
def slots_only_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_contract_model(tmp_path_factory.mktemp("slots") / "1", heads=("slots",))


# --- model_store ---------------------------------------------------------------------------


def test_newest_integer_version_is_chosen(model_dir: Path) -> None:
    assert resolve_version_dir(model_dir) == model_dir / "10"
    assert resolve_version_dir(model_dir / "2") == model_dir / "2"
    model = load_model(model_dir)
    assert (model.name, model.version, model.heads) == ("toy", 10, ALL_HEADS)



def test_an_export_without_a_compiled_signature_still_serves_single_sentences(model_dir: Path) -> None:
    model = load_model(model_dir)
    assert model.compiled_signature is None
    (result,) = Predictor(model, compiled_single=True).predict([["Fly", "to", "Taipei"]])
    assert result["slots"] == ["B-city", "O", "B-city"]

def test_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=str(tmp_path / "nope")):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="no integer version folder"):
        load_model(tmp_path / "empty")


def test_corrupt_version_folder(tmp_path: Path) -> None:
    version = tmp_path / "m" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(ModelCorrupt, match="metadata.json is missing"):
        load_model(tmp_path / "m")
    (version / "metadata.json").write_text('{"schema_version": 2, "heads": ["slots"], "labels": {"slots": ["O"]}}')
    with pytest.raises(ModelCorrupt, match="cannot load SavedModel"):
        load_model(tmp_path / "m")
    (version / "metadata.json").write_text("{not json")
    with pytest.raises(ModelCorrupt, match="not readable JSON"):
        load_model(version)


def test_heads_must_match_signature_outputs(tmp_path: Path) -> None:
    version = build_contract_model(tmp_path / "m" / "1", heads=("intent",))
    metadata = json.loads((version / "metadata.json").read_text())
    metadata["heads"].append("pos")
    metadata["labels"]["pos"] = ["X"]
    (version / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelCorrupt, match="lacks outputs"):
        load_model(version)


def test_an_older_metadata_schema_asks_for_a_new_export(tmp_path: Path) -> None:
    version = build_contract_model(tmp_path / "m" / "1", heads=("intent",))
    metadata = json.loads((version / "metadata.json").read_text())
    del metadata["schema_version"]
    (version / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelCorrupt, match="schema_version 1, but this server reads 2; export the model again"):
        load_model(version)


# --- Predictor -------------------------------------------------------------------------------


def test_predictor_keeps_order_across_sorted_batches(model_dir: Path) -> None:
    predictor = Predictor(load_model(model_dir), batch_size=2, max_tokens=6)
    texts = ["a flight to New  York", "   ", "x", "one two three four five six seven", "Paris 9"]
    results = predictor.tag_texts(texts)
    assert results[0]["tokens"] == ["a", "flight", "to", "New", "York"]
    assert results[0]["slots"] == ["O", "O", "O", "B-city", "I-city"]
    assert results[0]["intent"] == "flight" and results[0]["intent_confidence"] == 0.8
    assert results[0]["slot_confidence"] == [0.9] * 5
    assert results[0]["entities"] == [
        {"slot": "city", "text": "New  York", "start": 12, "end": 21, "confidence": 0.9,
         "entity": "city", "value": "New  York"}
    ]
    assert results[0]["intent_ranking"] == [
        {"name": "flight", "confidence": 0.8}, {"name": "other", "confidence": 0.2}
    ]
    assert set(results[1]) == {"error"} and results[1]["error"]["code"] == "empty_input"
    assert results[2]["tokens"] == ["x"] and results[2]["intent"] == "other"
    assert [r["name"] for r in results[2]["intent_ranking"]] == ["other", "flight"]
    assert results[3]["error"]["code"] == "input_too_long"
    assert results[4]["pos"] == ["X", "NUM"]


def test_intent_ranking_size_and_synonym_values(model_dir: Path) -> None:
    model = load_model(model_dir)
    [short] = Predictor(model, intent_ranking=1).tag_texts(["a flight to NYC"])
    assert short["intent_ranking"] == [{"name": "flight", "confidence": 0.8}]
    assert [(e["text"], e["value"]) for e in short["entities"]] == [("NYC", "New York")]
    [none] = Predictor(model, intent_ranking=0).tag_texts(["a flight"])
    assert "intent_ranking" not in none and none["intent"] == "flight"
    with pytest.raises(ValueError, match="intent_ranking >= 0"):
        Predictor(model, intent_ranking=-1)


def test_missing_heads_are_omitted(slots_only_dir: Path) -> None:
    predictor = Predictor(load_model(slots_only_dir))
    predictor.warm_up()
    [result] = predictor.tag_texts(["to Rome"])
    assert set(result) == {"tokens", "slots", "slot_confidence", "entities"}


# --- CLI -------------------------------------------------------------------------------------


def test_cli_one_line_per_input_line_with_errors(model_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"flight to Boston\n\nbad \xff byte\n  \r\nParis\n")
    target = tmp_path / "out.jsonl"
    summary = tag_file(model_dir, source, target, batch_size=2, progress=False)
    assert (summary.lines, summary.failed) == (5, 3)
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5
    assert rows[0]["entities"][0]["text"] == "Boston" and rows[0]["intent"] == "flight"
    assert set(rows[1]) == {"line", "error"} and rows[1]["line"] == 2
    assert rows[1]["error"]["code"] == "empty_input"
    assert rows[1]["error"]["message"].startswith("line 2: ")
    assert rows[2]["line"] == 3 and rows[2]["error"]["code"] == "invalid_utf8"
    assert "line 3" in rows[2]["error"]["message"]
    assert rows[3]["line"] == 4
    assert rows[4]["tokens"] == ["Paris"] and "line" not in rows[4]


def test_cli_exit_codes(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("to Oslo\n", encoding="utf-8")
    bad.write_text("to Oslo\n\n", encoding="utf-8")
    out = str(tmp_path / "out")
    assert main(["tag", "--model", str(model_dir), "--input", str(good), "--output", out]) == 0
    assert main(["tag", "--model", str(model_dir), "--input", str(bad), "--output", out]) == 1
    assert "tagged 2 lines, 1 failed" in capsys.readouterr().err
    missing = str(tmp_path / "missing")
    assert main(["tag", "--model", missing, "--input", str(good), "--output", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and missing in err and "Traceback" not in err
    with pytest.raises(SystemExit) as usage:
        main(["tag", "--model", str(model_dir), "--batch-size", "0"])
    assert usage.value.code == 2
    assert main(["tag", "--model", str(model_dir), "--input", str(good), "--output", out,
                 "--intent-ranking", "0"]) == 0
    assert "intent_ranking" not in json.loads(Path(out).read_text(encoding="utf-8"))


def test_cli_conll_format(model_dir: Path, tmp_path: Path) -> None:
    source, target = tmp_path / "in.txt", tmp_path / "out.conll"
    source.write_text("flight to New York\n\n", encoding="utf-8")
    tag_file(model_dir, source, target, fmt="conll", progress=False)
    assert target.read_text(encoding="utf-8") == (
        "# intent = flight\n"
        "flight\tO\tX\nto\tO\tX\nNew\tB-city\tX\nYork\tI-city\tX\n\n"
        "# error = line 2: empty or whitespace-only text\n\n"
    )


def test_cli_pretokenized_offsets(model_dir: Path, tmp_path: Path) -> None:
    source, target = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("fly  to\tSão Paulo, ok\n", encoding="utf-8")
    tag_file(model_dir, source, target, pretokenized=True, progress=False)
    row = json.loads(target.read_text(encoding="utf-8"))
    assert row["tokens"] == ["fly", "to", "São", "Paulo,", "ok"]
    assert row["entities"] == [
        {"slot": "city", "text": "São Paulo,", "start": 8, "end": 18, "confidence": 0.9,
         "entity": "city", "value": "São Paulo,"}
    ]
    assert len(row["intent_ranking"]) == 2


def test_cli_stdin_stdout_subprocess(model_dir: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "service.cli", "tag", "--model", str(model_dir),
         "--input", "-", "--output", "-", "--no-progress"],
        input="flight to Zürich 🙂\n\n".encode("utf-8"),
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert run.returncode == 1, run.stderr.decode()
    first, second = run.stdout.decode("utf-8").splitlines()
    assert json.loads(first)["tokens"] == ["flight", "to", "Zürich", "🙂"]
    assert "Zürich" in first  # ensure_ascii=False
    assert json.loads(second)["line"] == 2
    assert run.stderr.decode().strip() == "tagged 2 lines, 1 failed"  # nothing from TensorFlow
