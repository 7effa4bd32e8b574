"""BIO grouping: spans, exact offsets into the original text, min confidence, roles and values."""

from __future__ import annotations

from service.entities import group_entities
from service.tokenizer import split_pretokenized, tokenize


def _group(
    text: str, slots: list[str], confidences: list[float] | None = None, synonyms: dict[str, str] | None = None
) -> list[dict]:
    tokens = tokenize(text)
    return group_entities(tokens, slots, confidences or [0.9] * len(tokens), text, synonyms or {})


def test_multi_token_entity_keeps_original_spacing() -> None:
    text = "fly from  San   Francisco to New York"
    slots = ["O", "O", "B-fromloc", "I-fromloc", "O", "B-toloc", "I-toloc"]
    assert _group(text, slots, [1.0, 1.0, 0.95, 0.7, 1.0, 0.8, 0.99]) == [
        {"slot": "fromloc", "text": "San   Francisco", "start": 10, "end": 25, "confidence": 0.7,
         "entity": "fromloc", "value": "San   Francisco"},
        {"slot": "toloc", "text": "New York", "start": 29, "end": 37, "confidence": 0.8,
         "entity": "toloc", "value": "New York"},
    ]


def test_adjacent_b_tags_of_same_type_are_two_entities() -> None:
    entities = _group("Boston Denver", ["B-city", "B-city"])
    assert [(e["text"], e["start"], e["end"]) for e in entities] == [
        ("Boston", 0, 6),
        ("Denver", 7, 13),
    ]


def test_stray_i_starts_a_new_entity() -> None:
    entities = _group("to New York now", ["O", "I-city", "I-city", "O"])
    assert [(e["slot"], e["text"]) for e in entities] == [("city", "New York")]


def test_i_of_another_type_starts_a_new_entity() -> None:
    entities = _group("New York Monday", ["B-city", "I-city", "I-day"])
    assert [(e["slot"], e["text"]) for e in entities] == [("city", "New York"), ("day", "Monday")]


def test_punctuation_and_unicode_offsets() -> None:
    text = "to São Paulo, 🙂 then Zürich!"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["to", "São", "Paulo", ",", "🙂", "then", "Zürich", "!"]
    slots = ["O", "B-city", "I-city", "O", "O", "O", "B-city", "O"]
    entities = group_entities(tokens, slots, [0.5] * len(tokens), text, {})
    assert [(e["text"], e["start"], e["end"]) for e in entities] == [
        ("São Paulo", 3, 12),
        ("Zürich", 21, 27),
    ]
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]


def test_dotted_slot_names_and_pretokenized_offsets() -> None:
    text = "from\tlas  vegas ."
    tokens = split_pretokenized(text)
    slots = ["O", "B-fromloc.city_name", "I-fromloc.city_name", "O"]
    [entity] = group_entities(tokens, slots, [0.9, 0.6, 0.61234567, 0.9], text, {})
    assert entity == {
        "slot": "fromloc.city_name",
        "text": "las  vegas",
        "start": 5,
        "end": 15,
        "confidence": 0.6,
        "entity": "fromloc.city_name",
        "value": "las  vegas",
    }


def test_roles_and_groups_are_unfolded_from_the_slot_label() -> None:
    text = "leave Taipei for Oslo with a large pizza"
    slots = ["O", "B-city:departure", "O", "B-city:destination", "O", "O", "B-size:large:1", "B-dish::1"]
    parts = [{k: e[k] for k in ("entity", "role", "group") if k in e} for e in _group(text, slots)]
    assert parts == [
        {"entity": "city", "role": "departure"},
        {"entity": "city", "role": "destination"},
        {"entity": "size", "role": "large", "group": "1"},
        {"entity": "dish", "group": "1"},
    ]


def test_synonyms_give_the_value_matched_lower_cased() -> None:
    synonyms = {"nyc": "New York", "big apple": "New York"}
    entities = _group("NYC or the Big Apple or Oslo", ["B-city", "O", "O", "B-city", "I-city", "O", "B-city"],
                      synonyms=synonyms)
    assert [(e["text"], e["value"]) for e in entities] == [
        ("NYC", "New York"), ("Big Apple", "New York"), ("Oslo", "Oslo")
    ]


def test_a_label_that_is_not_entity_role_group_is_the_entity() -> None:
    [entity] = _group("to Oslo", ["O", "B-a:b:c:d"])
    assert entity["entity"] == "a:b:c:d" and "role" not in entity


def test_all_outside_has_no_entities() -> None:
    assert _group("hello there", ["O", "O"]) == []
