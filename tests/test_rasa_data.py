"""Tests for training.rasa_data and training.rasa_markup: every Rasa NLU feature the fixtures use
comes back as written, and every malformed input fails with a DatasetError naming its file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.rasa_data import Entity, Example, NluData, read_nlu
from training.rasa_markup import Annotation, MarkupError, format_markup, parse_markup
from training.readers import DatasetError

RASA = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "rasa"
ASSISTANT_YML = RASA / "assistant.yml"
ASSISTANT_JSON = RASA / "assistant.json"
BAD = RASA / "bad"


def by_text(data: NluData) -> dict[str, Example]:
    return {example.text: example for example in data.examples}


def assert_error_at(err: pytest.ExceptionInfo[DatasetError], path: Path, line: int, fragment: str) -> None:
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message, message


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def yaml_intent(*examples: str, intent: str = "book_flight") -> str:
    """A Rasa YAML file of one intent; example k (from 0) is on line 5 + k."""
    lines = "".join(f"    - {example}\n" for example in examples)
    return f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}'


# --- YAML ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assistant() -> NluData:
    return read_nlu(ASSISTANT_YML)


def test_yaml_examples_keep_file_order_intents_and_lines(assistant: NluData) -> None:
    assert [(ex.intent, ex.source) for ex in assistant.examples] == [
        ("book_flight", f"{ASSISTANT_YML}:9"),
        ("book_flight", f"{ASSISTANT_YML}:10"),
        ("book_flight", f"{ASSISTANT_YML}:11"),
        ("book_flight", f"{ASSISTANT_YML}:12"),
        ("book_flight", f"{ASSISTANT_YML}:13"),
        ("order_pizza", f"{ASSISTANT_YML}:17"),
        ("greet+book_flight", f"{ASSISTANT_YML}:21"),
        ("greet", f"{ASSISTANT_YML}:26"),
        ("greet", f"{ASSISTANT_YML}:29"),
    ]


def test_every_entity_text_is_its_span(assistant: NluData) -> None:
    entities = [(ex, ent) for ex in assistant.examples for ent in ex.entities]
    assert len(entities) == 13
    assert all(ex.text[ent.start : ent.end] == ent.text for ex, ent in entities)


def test_roles_tell_the_same_city_apart(assistant: NluData) -> None:
    examples = by_text(assistant)
    assert examples["fly to Taipei"].entities == (Entity(7, 13, "Taipei", "city", "Taipei", role="destination"),)
    assert examples["leave Taipei on friday"].entities == (
        Entity(6, 12, "Taipei", "city", "Taipei", role="departure"),
        Entity(16, 22, "friday", "day", "friday"),
    )


def test_groups(assistant: NluData) -> None:
    pizza = by_text(assistant)["a large pepperoni and a small margherita"]
    assert [(e.text, e.entity, e.role, e.group) for e in pizza.entities] == [
        ("large", "size", None, "1"),
        ("pepperoni", "topping", None, "1"),
        ("small", "size", None, "2"),
        ("margherita", "topping", None, "2"),
    ]


def test_values_from_short_form_json_form_and_synonym_blocks(assistant: NluData) -> None:
    examples = by_text(assistant)
    # [NYC](city:New York City): the older short form with a value
    assert examples["book a flight from NYC to Boston"].entities[0] == Entity(19, 22, "NYC", "city", "New York City")
    # {"value": ...} in the JSON form
    assert examples["get me out of the big apple"].entities[0].value == "New York City"
    # no value given, but `- synonym: New York City` lists "new york"
    assert examples["flights from new york to Taipei"].entities[0].value == "New York City"
    # no value and no synonym: the entity's own text
    assert examples["flights from new york to Taipei"].entities[1].value == "Taipei"


def test_synonyms_lookups_and_regexes(assistant: NluData) -> None:
    assert assistant.synonyms == {
        "nyc": "New York City",  # from [NYC](city:New York City), lower-cased
        "the big apple": "New York City",
        "new york": "New York City",
    }
    assert assistant.lookups == {"city": ["Taipei", "Boston"]}
    assert assistant.regexes == {"flight_number": [r"[A-Z]{2}\d{3,4}"]}


def test_punctuation_stays_outside_the_entity(assistant: NluData) -> None:
    example = by_text(assistant)["hi, a flight to Boston, please"]
    assert example.intent == "greet+book_flight"
    assert example.entities == (Entity(16, 22, "Boston", "city", "Boston"),)


def test_listed_examples_with_metadata_and_skipped_stories(assistant: NluData) -> None:
    greet = [ex for ex in assistant.examples if ex.intent == "greet"]
    assert [(ex.text, ex.entities) for ex in greet] == [("hello there", ()), ("hey", ())]
    assert assistant.per_file_counts == {str(ASSISTANT_YML): 9}


def test_file_without_nlu_key_contributes_no_examples(tmp_path: Path) -> None:
    path = write(tmp_path / "stories.yml", 'version: "3.1"\nstories:\n- story: s\n  steps:\n  - intent: greet\n')
    assert read_nlu(path) == NluData((), {}, {}, {}, {str(path): 0})


# --- JSON ------------------------------------------------------------------------------------------


def test_json_examples_entities_and_sections() -> None:
    data = read_nlu(ASSISTANT_JSON)
    assert data.examples == (
        Example(
            "fly from Boston to Taipei",
            "book_flight",
            (
                Entity(9, 15, "Boston", "city", "Boston", role="departure"),
                Entity(19, 25, "Taipei", "city", "Taipei", role="destination"),
            ),
            f"{ASSISTANT_JSON}:4",
        ),
        Example("flights out of NYC", "book_flight", (Entity(15, 18, "NYC", "city", "New York City"),),
                f"{ASSISTANT_JSON}:12"),
        Example("hello", "greet", (), f"{ASSISTANT_JSON}:17"),
    )
    # A value that differs from its span declares a synonym, as in Rasa.
    assert data.synonyms == {"nyc": "New York City", "the big apple": "New York City", "ny": "New York City"}
    assert data.lookups == {"city": ["Boston", "Taipei"]}
    assert data.regexes == {"zipcode": ["[0-9]{5}"]}
    assert data.per_file_counts == {str(ASSISTANT_JSON): 3}


def test_json_value_in_another_case_is_not_a_shift(tmp_path: Path) -> None:
    example = {"text": "fly to taipei", "intent": "book_flight",
               "entities": [{"start": 7, "end": 13, "value": "Taipei", "entity": "city"}]}
    path = write(tmp_path / "nlu.json", json.dumps({"rasa_nlu_data": {"common_examples": [example]}}))
    assert read_nlu(path).examples[0].entities == (Entity(7, 13, "taipei", "city", "Taipei"),)


# --- folders ---------------------------------------------------------------------------------------


def test_folder_merges_files_sorted_recursively() -> None:
    data = read_nlu(RASA / "merged")
    extra, nlu = RASA / "merged" / "more" / "extra.json", RASA / "merged" / "nlu.yml"
    assert [(ex.text, ex.source) for ex in data.examples] == [
        ("weather in new york city", f"{extra}:4"),
        ("hi", f"{nlu}:5"),
        ("good morning", f"{nlu}:6"),
    ]
    # README.md is skipped; the synonym in nlu.yml reaches the example read before it from extra.json.
    assert data.per_file_counts == {str(extra): 1, str(nlu): 2}
    assert data.examples[0].entities[0].value == "NYC"
    assert data.synonyms == {"new york city": "NYC"}


def test_folder_skips_hidden_files(tmp_path: Path) -> None:
    write(tmp_path / "nlu.yml", yaml_intent("hi", intent="greet"))
    write(tmp_path / ".rasa" / "cache.yml", "not: [valid")
    assert read_nlu(tmp_path).per_file_counts == {str(tmp_path / "nlu.yml"): 1}


def test_lookups_and_regexes_merge_across_files(tmp_path: Path) -> None:
    lookup = 'nlu:\n- lookup: city\n  examples: |\n    - {}\n- regex: code\n  examples: |\n    - "{}"\n'
    write(tmp_path / "a.yml", lookup.format("Oslo", "[0-9]+"))
    write(tmp_path / "b.yml", lookup.format("Rome", "[a-z]+"))
    data = read_nlu(tmp_path)
    assert data.lookups == {"city": ["Oslo", "Rome"]}
    assert data.regexes == {"code": ['"[0-9]+"', '"[a-z]+"']}


def test_error_in_a_folder_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "a.yml", yaml_intent("hi", intent="greet"))
    bad = write(tmp_path / "sub" / "b.yml", yaml_intent("fly to [Oslo](city", "fine"))
    with pytest.raises(DatasetError) as err:
        read_nlu(tmp_path)
    assert_error_at(err, bad, 5, "never closed")


# --- inline markup ---------------------------------------------------------------------------------


def test_parse_markup_forms() -> None:
    assert parse_markup("no entities here") == ("no entities here", ())
    assert parse_markup("to [Oslo](city) now") == ("to Oslo now", (Annotation(3, 7, "city"),))
    assert parse_markup("[NYC](city:New York)") == ("NYC", (Annotation(0, 3, "city", value="New York"),))
    assert parse_markup('[Oslo][{"entity": "city", "role": "to"}]') == ("Oslo", (Annotation(0, 4, "city", "to"),))
    # A `}` inside a JSON string does not end the annotation.
    assert parse_markup('[a]{"entity": "x", "value": "b}c"} d') == ("a d", (Annotation(0, 1, "x", value="b}c"),))


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("a ] b", "']' at character 3 has no '['"),
        ("[a [b](x)", "'[' at character 4 opens inside the '[' at character 1"),
        ("[a] b", "'[...]' at character 1 is not followed by (entity)"),
        ("[a](x", "'(' at character 4 is never closed"),
        ("[ ](x)", "marks no text"),
        ("[a]()", 'no "entity" given'),
        ("[a](x:)", '"value" is empty'),
        ("[a](my city)", "contains whitespace"),
        ('[a]{"entity": 3}', '"entity" must be a string, found a number'),
        ('[a]{"entity": "x"', "bad JSON at character 18: Expecting ',' delimiter"),
        ("[a][]", "must hold one or more {...} entity objects"),
    ],
)
def test_parse_markup_errors(line: str, fragment: str) -> None:
    with pytest.raises(MarkupError) as err:
        parse_markup(line)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    "annotations",
    [
        (),
        (Annotation(4, 8, "city"),),
        (Annotation(4, 8, "city", role="destination"),),
        (Annotation(0, 3, "size", group="1"), Annotation(4, 8, "city", "to", "2", "Oslo City")),
        (Annotation(4, 8, "odd(name)"),),
    ],
)
def test_format_markup_round_trips(annotations: tuple[Annotation, ...]) -> None:
    text = "big Oslo trip"
    assert parse_markup(format_markup(text, annotations)) == (text, annotations)


def test_format_markup_uses_the_short_form_when_it_can() -> None:
    assert format_markup("to Oslo", [Annotation(3, 7, "city")]) == "to [Oslo](city)"
    assert format_markup("to Oslo", [Annotation(3, 7, "city", "to")]) == 'to [Oslo]{"entity": "city", "role": "to"}'


def test_format_markup_refuses_brackets_in_the_text() -> None:
    with pytest.raises(MarkupError, match="'\\[' at character 5"):
        format_markup("see [1] here", [])


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line", "fragment"),
    [
        ("yaml_syntax.yml", 6, "invalid YAML: while parsing a block mapping, expected <block end>"),
        ("json_syntax.json", 5, "invalid JSON: Expecting ',' delimiter"),
        ("unknown_top_level_key.yml", 6, "unknown top-level key 'responses'"),
        ("unknown_block_key.yml", 7, "unknown key 'example' in intent 'goodbye'"),
        ("json_unknown_section.json", 2, "unknown key 'regex_feature' in \"rasa_nlu_data\""),
        ("intent_without_examples.yml", 6, "intent 'goodbye' has no examples"),
        ("empty_intent_name.yml", 6, "empty intent name"),
        ("example_without_dash.yml", 6, "example line must start with '- ', found 'hello'"),
        ("unbalanced_brackets.yml", 6, "'[' at character 8 is never closed by ']'"),
        ("bad_inline_json.yml", 6, "bad JSON at character 35: Expecting property name"),
        ("missing_entity.yml", 6, 'no "entity" given'),
        ("unknown_entity_key.yml", 6, "unknown key 'rol'"),
        ("json_unknown_entity_key.json", 8, "unknown key 'confidence' in an entity"),
        ("json_offsets_outside_text.json", 8, "entity span 7-14 is outside the text (13 characters)"),
        ("json_shifted_offsets.json", 9, "span 6-12 reads ' Taipe' but its value 'Taipei' is at 7-13"),
        ("overlapping_entities.yml", 6, "entities 'city' (7-15 'New York') and 'state' (7-15 'New York') overlap"),
        ("json_overlapping_entities.json", 4, "'city' (7-15 'New York') and 'county' (11-15 'York') overlap"),
        ("reserved_separator.yml", 5, "role name 'from:origin' contains ':'"),
        (
            "synonym_conflict.yml",
            9,
            f"'NYC' maps to 'New York State' here but to 'New York City' at {BAD}/synonym_conflict.yml:5",
        ),
        ("bad_regex.yml", 6, "pattern '([A-Z]{2}' does not compile"),
    ],
)
def test_bad_fixture_fails_at_its_line(name: str, line: int, fragment: str) -> None:
    with pytest.raises(DatasetError) as err:
        read_nlu(BAD / name)
    assert_error_at(err, BAD / name, line, fragment)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('version: "3.1"\nversion: "3.1"\n', 2, "duplicate key 'version' (first at line 1)"),
        ("nlu:\n- intent: a\n  synonym: b\n  examples: |\n    - x\n", 2, "(found intent and synonym)"),
        ("nlu:\n- intnet: greet\n  examples: |\n    - hi\n", 2, "regex (found intnet, examples)"),
        ("nlu:\n- intent: greet\n  examples: hi there\n", 3, "must be a literal block (`examples: |`)"),
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n    -\n", 5, "empty example"),
        ("nlu:\n- intent: greet\n  examples:\n  - text: hi\n    sentiment: ok\n", 5, "unknown key 'sentiment'"),
        ("nlu:\n- intent: greet\n  examples:\n  - metadata: {}\n", 4, "example has no text"),
        ("nlu:\n- intent: greet\n  examples:\n  - text: |\n      hi\n      there\n", 5, "spans several lines"),
        ("nlu:\n  intent: greet\n", 2, "nlu must be a list of intent, synonym, lookup, regex blocks, found a map"),
        ("- intent: greet\n", 1, "the file must be a mapping of keys, found a list"),
        ('nlu:\n- intent: [a, b]\n  examples: |\n    - hi\n', 2, "intent name must be a string, found a list"),
        ("version:\nnlu: []\n", 1, 'version must be a string like "3.1", found nothing'),
        ('nlu:\n- intent: greet\n  examples: |\n    - hi \x07\n', 4, "invalid YAML: character '\\x07' is not allowed"),
        ('a: 1\n---\nb: 2\n', 2, "invalid YAML: expected a single document in the stream, but found another document"),
    ],
)
def test_yaml_errors(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path / "nlu.yml", text)
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, line, fragment)


def test_markup_error_points_at_the_bad_example_line(tmp_path: Path) -> None:
    path = write(tmp_path / "nlu.yml", yaml_intent("fine", "also [fine](city)", "broken [x]{entity: 1}"))
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, 7, "bad JSON")


JSON_EXAMPLE_LINE = 4  # where `{` of the one common example sits in json_file()'s output
JSON_ENTITY_LINE = 8  # and where `{` of its first entity sits


def json_file(tmp_path: Path, example: dict) -> Path:
    data = {"rasa_nlu_data": {"common_examples": [example]}}
    return write(tmp_path / "nlu.json", json.dumps(data, indent=2))


@pytest.mark.parametrize(
    ("example", "fragment"),
    [
        ({"intent": "greet"}, 'needs a non-empty "text" string, found nothing'),
        ({"text": "hi"}, 'needs a non-empty "intent" string, found nothing'),
        ({"text": "hi", "intent": ""}, 'needs a non-empty "intent" string, found an empty string'),
        ({"text": "hi", "intent": "greet", "entities": {}}, '"entities" must be a list, found an object'),
        ({"text": "hi", "intent": "greet", "lang": "en"}, "unknown key 'lang' in a common example"),
    ],
)
def test_json_example_errors(tmp_path: Path, example: dict, fragment: str) -> None:
    path = json_file(tmp_path, example)
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, JSON_EXAMPLE_LINE, fragment)


@pytest.mark.parametrize(
    ("entity", "fragment"),
    [
        ({"end": 2, "entity": "x"}, 'entity has no "start"'),
        ({"start": "0", "end": 2, "entity": "x"}, 'entity "start" must be an integer, found a string'),
        ({"start": 2, "end": 2, "entity": "x"}, "entity span 2-2 is empty"),
        ({"start": -1, "end": 2, "entity": "x"}, "entity span -1-2 is outside the text"),
        ({"start": 0, "end": 2}, 'entity: no "entity" given'),
        ({"start": 0, "end": 2, "entity": "x", "role": "a b"}, "role name 'a b' contains whitespace"),
        ({"start": 2, "end": 3, "entity": "x"}, "entity span 2-3 holds only whitespace"),
    ],
)
def test_json_entity_errors(tmp_path: Path, entity: dict, fragment: str) -> None:
    path = json_file(tmp_path, {"text": "hi there", "intent": "greet", "entities": [entity]})
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, JSON_ENTITY_LINE, fragment)


def test_json_duplicate_key_and_wrong_shapes(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.json", '{"rasa_nlu_data": {\n  "common_examples": [],\n  "common_examples": []}}\n')
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, 1, "duplicate key 'common_examples'")
    path = write(tmp_path / "list.json", "[]")
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, 1, "the file must be an object {...}, found a list")
    path = write(tmp_path / "other.json", '{}')
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, 1, 'no "rasa_nlu_data" object')


def test_json_sections_errors(tmp_path: Path) -> None:
    data = {"rasa_nlu_data": {"lookup_tables": [{"name": "city", "elements": "cities.txt"}]}}
    path = write(tmp_path / "nlu.json", json.dumps(data, indent=2))
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, 4, '"elements" must be a list, found a string')


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("missing.yml", None, "file or folder not found"),
        ("notes.txt", "hi", "not a Rasa NLU file (expected .yml, .yaml, .json)"),
        ("empty.yml", "", "file is empty"),
    ],
)
def test_file_level_errors(tmp_path: Path, name: str, content: str | None, fragment: str) -> None:
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert str(err.value) == f"{path}: {fragment}"


def test_folder_without_data_files(tmp_path: Path) -> None:
    write(tmp_path / "README.md", "no data")
    with pytest.raises(DatasetError, match="no .yml, .yaml, .json files in this folder"):
        read_nlu(tmp_path)


def test_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_bytes(b'version: "3.1"\nnlu:\n- intent: caf\xe9\n')
    with pytest.raises(DatasetError) as err:
        read_nlu(path)
    assert_error_at(err, path, 3, "not valid UTF-8 (byte 0xe9)")


def test_windows_file_with_bom_and_crlf_reads_the_same(tmp_path: Path) -> None:
    text = yaml_intent("fly to [Oslo](city)", "hello")
    unix = read_nlu(write(tmp_path / "unix" / "nlu.yml", text))
    path = tmp_path / "windows" / "nlu.yml"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    windows = read_nlu(path)
    assert [(ex.text, ex.entities, ex.source.rsplit(":", 1)[1]) for ex in windows.examples] == [
        (ex.text, ex.entities, ex.source.rsplit(":", 1)[1]) for ex in unix.examples
    ]
