"""Tests for training.rasa_alignment, service.slot_labels and training.convert: Rasa spans become
BIO tags over the serving tokenizer's tokens, widened spans are reported, role/group labels round
trip, and seq → Rasa YAML → seq gives the data back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.slot_labels import parse_slot_label, slot_label
from service.tokenizer import tokenize
from training import convert
from training.rasa_alignment import Adjustment, FileReport, align, align_example
from training.rasa_data import Entity, Example, NluData, read_nlu
from training.readers import DatasetError, Sentence, read_seq_split

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "data" / "fixtures"


def read_examples(tmp_path: Path, *examples: str, intent: str = "book_flight") -> NluData:
    """Read a one-intent Rasa YAML file whose example k (from 0) is on line 5 + k."""
    lines = "".join(f"    - {example}\n" for example in examples)
    path = tmp_path / "nlu.yml"
    path.write_text(f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}', encoding="utf-8")
    return read_nlu(path)


def tagged(sentence: Sentence) -> list[tuple[str, str]]:
    return list(zip(sentence.tokens, sentence.slots or ()))


# --- BIO over tokens -------------------------------------------------------------------------------


def test_roles_become_part_of_the_label(tmp_path: Path) -> None:
    data = read_examples(
        tmp_path,
        'fly to [Taipei]{"entity": "city", "role": "destination"}',
        'leave [Taipei]{"entity": "city", "role": "departure"} for [New York](city)',
    )
    sentences, _ = align(data)
    assert tagged(sentences[0]) == [("fly", "O"), ("to", "O"), ("Taipei", "B-city:destination")]
    assert tagged(sentences[1]) == [
        ("leave", "O"), ("Taipei", "B-city:departure"), ("for", "O"), ("New", "B-city"), ("York", "I-city"),
    ]
    assert {s.intent for s in sentences} == {"book_flight"}


def test_groups_become_part_of_the_label(tmp_path: Path) -> None:
    data = read_examples(
        tmp_path,
        'a [large]{"entity": "size", "group": "1"} [pepperoni]{"entity": "topping", "role": "extra", "group": "1"}',
    )
    assert tagged(align(data)[0][0]) == [("a", "O"), ("large", "B-size::1"), ("pepperoni", "B-topping:extra:1")]


def test_punctuation_next_to_entities_needs_no_widening(tmp_path: Path) -> None:
    data = read_examples(tmp_path, "hi, to [Boston](city), please", "what is [New York](city)'s weather")
    sentences, report = align(data)
    assert tagged(sentences[0]) == [
        ("hi", "O"), (",", "O"), ("to", "O"), ("Boston", "B-city"), (",", "O"), ("please", "O"),
    ]
    assert tagged(sentences[1]) == [
        ("what", "O"), ("is", "O"), ("New", "B-city"), ("York", "I-city"), ("'s", "O"), ("weather", "O"),
    ]
    assert report.files == {str(tmp_path / "nlu.yml"): FileReport(examples=2, entities=2, adjustments=())}


def test_span_inside_a_token_is_widened_and_reported(tmp_path: Path) -> None:
    data = read_examples(tmp_path, "hello", "the [boston](city)ians cheered")
    sentences, report = align(data)
    assert tagged(sentences[1]) == [("the", "O"), ("bostonians", "B-city"), ("cheered", "O")]
    path = str(tmp_path / "nlu.yml")
    assert report.files[path].adjustments == (Adjustment(f"{path}:6", "city", "boston", "bostonians"),)
    assert report.summary() == (
        f"{path}: 2 examples, 1 entities, 1 widened to token boundaries\n"
        f"  {path}:6: city 'boston' -> 'bostonians'"
    )


def test_span_with_a_stray_space_is_trimmed_and_reported(tmp_path: Path) -> None:
    entity = {"start": 7, "end": 14, "value": "Taipei ", "entity": "city", "role": "to"}
    example = {"text": "fly to Taipei now", "intent": "fly", "entities": [entity]}
    data = {"rasa_nlu_data": {"common_examples": [example]}}
    path = tmp_path / "nlu.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    sentence, adjustments = align_example(read_nlu(path).examples[0])
    assert tagged(sentence) == [("fly", "O"), ("to", "O"), ("Taipei", "B-city:to"), ("now", "O")]
    assert adjustments == (Adjustment(f"{path}:1", "city:to", "Taipei ", "Taipei"),)


def test_entities_widened_into_one_token_are_an_error(tmp_path: Path) -> None:
    data = read_examples(tmp_path, "hello", "[foo](x)[bar](y) baz")
    with pytest.raises(DatasetError) as err:
        align(data)
    assert str(err.value) == (
        f"{tmp_path / 'nlu.yml'}:6: entities 'x' and 'y' share the token 'foobar' once widened to whole tokens"
    )


def test_example_without_tokens_is_an_error() -> None:
    with pytest.raises(DatasetError, match=r"^a.yml:3: the text has no tokens$"):
        align_example(Example("\t", "greet", (), "a.yml:3"))


def test_report_counts_every_file_of_a_folder() -> None:
    folder = FIXTURES / "rasa" / "merged"
    sentences, report = align(read_nlu(folder))
    assert [s.tokens for s in sentences] == [("weather", "in", "new", "york", "city"), ("hi",), ("good", "morning")]
    assert report.files == {
        str(folder / "more" / "extra.json"): FileReport(1, 1, ()),
        str(folder / "nlu.yml"): FileReport(2, 0, ()),
    }


def test_report_lists_files_without_examples(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.yml"
    path.write_text("nlu:\n- synonym: NYC\n  examples: |\n    - new york\n", encoding="utf-8")
    sentences, report = align(read_nlu(path))
    assert sentences == []
    assert report.files == {str(path): FileReport(0, 0, ())}


def test_alignment_uses_the_serving_tokenizer() -> None:
    text = "can't fly to St. Louis"
    example = Example(text, "fly", (Entity(13, 22, "St. Louis", "city", "St. Louis"),), "a.yml:1")
    sentence, adjustments = align_example(example)
    assert sentence.tokens == tuple(token.text for token in tokenize(text))
    assert tagged(sentence)[:2] == [("ca", "O"), ("n't", "O")]  # spaCy's split, not whitespace
    assert tagged(sentence)[-2:] == [("St.", "B-city"), ("Louis", "I-city")]
    assert adjustments == ()


# --- slot labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "role", "group", "label"),
    [
        ("city", None, None, "city"),
        ("city", "destination", None, "city:destination"),
        ("size", None, "1", "size::1"),
        ("size", "large", "2", "size:large:2"),
        ("fromloc.city_name", None, None, "fromloc.city_name"),
        ("B-I", "x-y", "#1", "B-I:x-y:#1"),
    ],
)
def test_slot_label_round_trip(entity: str, role: str | None, group: str | None, label: str) -> None:
    assert slot_label(entity, role, group) == label
    assert parse_slot_label(label) == (entity, role, group)


@pytest.mark.parametrize("label", ["", ":x", "city:", "city::", "city:r:", "a:b:c:d", "new york"])
def test_parse_slot_label_refuses_what_slot_label_never_makes(label: str) -> None:
    with pytest.raises(ValueError):
        parse_slot_label(label)


@pytest.mark.parametrize(
    ("entity", "role", "group", "fragment"),
    [
        ("a:b", None, None, "entity name 'a:b' contains ':'"),
        ("city", "to:from", None, "role name 'to:from' contains ':'"),
        ("city", None, "a b", "group name 'a b' contains whitespace"),
        ("city", "", None, "role name '' is empty"),
        ("", None, None, "entity name '' is empty"),
    ],
)
def test_slot_label_refuses_names_that_would_not_round_trip(entity: str, role: str | None, group: str | None,
                                                            fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        slot_label(entity, role, group)


def test_slot_labels_import_neither_tensorflow_nor_spacy() -> None:
    """Serving imports slot_labels to read labels back; it must stay light."""
    code = (
        "import sys, service.slot_labels; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'spacy')); "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- converter -------------------------------------------------------------------------------------


def grouped_by_intent(sentences: list[Sentence]) -> list[Sentence]:
    """The order seq → YAML writes: intents in order of first appearance, sentences kept within each."""
    order = {intent: rank for rank, intent in reversed(list(enumerate(s.intent for s in sentences)))}
    return sorted(sentences, key=lambda s: order[s.intent])


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_seq_to_yaml_to_seq_round_trip(tmp_path: Path, split: str) -> None:
    folder = FIXTURES / "tiny_atis" / split
    assert convert.main(["--from", "seq", "--to", "rasa-yaml", str(folder), str(tmp_path / "nlu.yml")]) == 0
    assert convert.main(["--from", "rasa", "--to", "seq", str(tmp_path / "nlu.yml"), str(tmp_path / "seq")]) == 0
    assert read_seq_split(tmp_path / "seq") == grouped_by_intent(read_seq_split(folder))


def test_seq_to_yaml_writes_inline_markup(tmp_path: Path) -> None:
    document, count = convert.seq_to_rasa_yaml(FIXTURES / "tiny_atis" / "train")
    assert count == 40
    assert document.startswith('version: "3.1"\n\nnlu:\n- intent: atis_flight\n  examples: |\n')
    assert "    - show me flights from [new york](fromloc.city_name) to [taipei](toloc.city_name)\n" in document


def write_seq(folder: Path, seq_in: str, seq_out: str, label: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("seq.in", seq_in), ("seq.out", seq_out), ("label", label)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_roles_groups_and_odd_intents_survive_the_round_trip(tmp_path: Path) -> None:
    folder = write_seq(
        tmp_path / "in",
        "fly to taipei from new york\na large pizza\nyes\n",
        "O O B-city:destination O B-city:departure I-city:departure\nO B-size:big:1 B-dish::1\nO\n",
        "book_flight\norder+ask\nyes\n",
    )
    document, _ = convert.seq_to_rasa_yaml(folder)
    assert '[taipei]{"entity": "city", "role": "destination"}' in document
    assert '[large]{"entity": "size", "role": "big", "group": "1"}' in document
    assert '- intent: "yes"\n' in document  # plain `yes` would read back as a boolean in Rasa
    (tmp_path / "nlu.yml").write_text(document, encoding="utf-8")
    convert.rasa_to_seq(tmp_path / "nlu.yml", tmp_path / "out")
    assert read_seq_split(tmp_path / "out") == read_seq_split(folder)


@pytest.mark.parametrize(
    ("seq_in", "seq_out", "where", "fragment"),
    [
        ("to new york\n", "O I-city I-city\n", "seq.out:1", "tag 'I-city' of token 2 continues no B-city"),
        ("to new york\n", "O B-city I-state\n", "seq.out:1", "tag 'I-state' of token 3 continues no B-state"),
        ("see [ here\n", "O O O\n", "seq.in:1", "'[' at character 5 cannot be written in Rasa markup"),
        ("to oslo\n", "O B-city:a:b:c\n", "seq.out:1", "slot label 'city:a:b:c' is not entity[:role[:group]]"),
    ],
)
def test_seq_that_rasa_cannot_hold(tmp_path: Path, capsys: pytest.CaptureFixture[str], seq_in: str, seq_out: str,
                                   where: str, fragment: str) -> None:
    folder = write_seq(tmp_path / "in", seq_in, seq_out, "greet\n")
    assert convert.main(["--from", "seq", str(folder), str(tmp_path / "out.yml")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {folder / where}: {fragment}")
    assert not (tmp_path / "out.yml").exists()


def test_seq_without_labels_cannot_become_rasa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "seq.in").write_text("hi\n", encoding="utf-8")
    (folder / "seq.out").write_text("O\n", encoding="utf-8")
    assert convert.main(["--from", "seq", str(folder), str(tmp_path / "out.yml")]) == 2
    expected = f"error: {folder / 'label'}: file not found (every Rasa example belongs to an intent)\n"
    assert capsys.readouterr().err == expected


def test_rasa_to_seq_reports_widening_and_bad_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    read_examples(tmp_path, "the [boston](city)ians", "hello")
    assert convert.main(["--from", "rasa", str(tmp_path / "nlu.yml"), str(tmp_path / "seq")]) == 0
    err = capsys.readouterr().err
    assert f"  {tmp_path / 'nlu.yml'}:5: city 'boston' -> 'bostonians'\n" in err
    assert (tmp_path / "seq" / "seq.out").read_text(encoding="utf-8") == "O B-city\nO\n"
    bad = FIXTURES / "rasa" / "bad" / "unbalanced_brackets.yml"
    assert convert.main(["--from", "rasa", str(bad), str(tmp_path / "seq2")]) == 2
    assert capsys.readouterr().err == f"error: {bad}:6: '[' at character 8 is never closed by ']'\n"


def test_mismatched_from_and_to_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        convert.main(["--from", "seq", "--to", "seq", str(tmp_path), str(tmp_path / "x")])
    assert exit_info.value.code == 2
