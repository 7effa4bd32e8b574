"""Tests for training.unseen_cities: replaced dev sets stay well-formed and never leak train cities."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.readers import Sentence, read_seq_split, read_split
from training.unseen_cities import CITIES, replace_cities, unseen_city_names

REPO = Path(__file__).resolve().parents[1]
TINY_ATIS = REPO / "data" / "fixtures" / "tiny_atis"


def city_spans(sentence: Sentence) -> list[tuple[str, str]]:
    """(slot, city) pairs of a sentence, in order."""
    spans: list[tuple[str, str]] = []
    for token, tag in zip(sentence.tokens, sentence.slots or ()):
        if tag.endswith("city_name"):
            if tag.startswith("B-"):
                spans.append((tag[2:], token))
            else:
                slot, words = spans[-1]
                spans[-1] = (slot, f"{words} {token}")
    return spans


def assert_valid_bio(sentence: Sentence) -> None:
    assert sentence.slots is not None and len(sentence.slots) == len(sentence.tokens)
    previous = "O"
    for tag in sentence.slots:
        if tag.startswith("I-"):
            assert previous[2:] == tag[2:], sentence
        previous = tag


@pytest.fixture(scope="module")
def train() -> list[Sentence]:
    return read_seq_split(TINY_ATIS / "train")


@pytest.fixture(scope="module")
def dev() -> list[Sentence]:
    return read_seq_split(TINY_ATIS / "dev")


def test_city_list_is_clean() -> None:
    assert len(CITIES) >= 150 and len(set(CITIES)) == len(CITIES)
    assert all(city == " ".join(city.lower().split()) for city in CITIES)
    assert any(" " in city for city in CITIES)


def test_unseen_city_names_drop_any_shared_word(train: list[Sentence]) -> None:
    cities = unseen_city_names(train)
    vocabulary = {token for sentence in train for token in sentence.tokens}
    assert "taipei" not in cities  # the fixture trains on taipei
    assert "city" in vocabulary and "mexico city" not in cities  # shares "city" with "kansas city"
    assert "kuala lumpur" in cities
    assert all(vocabulary.isdisjoint(city.split()) for city in cities)


def test_replace_cities_keeps_structure(train: list[Sentence], dev: list[Sentence]) -> None:
    cities = unseen_city_names(train)
    vocabulary = {token for sentence in train for token in sentence.tokens}
    replaced = replace_cities(dev, cities)
    assert len(replaced) == len(dev)
    for before, after in zip(dev, replaced):
        assert_valid_bio(after)
        assert after.intent == before.intent
        assert [slot for slot, _ in city_spans(after)] == [slot for slot, _ in city_spans(before)]
        for _, city in city_spans(after):
            assert city in cities and vocabulary.isdisjoint(city.split())
        keep_before = [(t, s) for t, s in zip(before.tokens, before.slots or ()) if not s.endswith("city_name")]
        keep_after = [(t, s) for t, s in zip(after.tokens, after.slots or ()) if not s.endswith("city_name")]
        assert keep_after == keep_before


def test_multi_word_city_gets_b_then_i() -> None:
    sentence = Sentence(("leave", "taipei", "for", "new", "york"),
                        ("O", "B-fromloc.city_name", "O", "B-toloc.city_name", "I-toloc.city_name"), "atis_flight")
    (replaced,) = replace_cities([sentence], ["porto alegre"])
    assert replaced == Sentence(
        ("leave", "porto", "alegre", "for", "porto", "alegre"),
        ("O", "B-fromloc.city_name", "I-fromloc.city_name", "O", "B-toloc.city_name", "I-toloc.city_name"),
        "atis_flight",
    )


def test_replace_cities_is_deterministic(train: list[Sentence], dev: list[Sentence]) -> None:
    cities = unseen_city_names(train)
    assert replace_cities(dev, cities, seed=1) == replace_cities(dev, cities, seed=1)
    assert replace_cities(dev, cities, seed=1) != replace_cities(dev, cities, seed=2)


def test_replace_cities_rejects_unusable_input(dev: list[Sentence]) -> None:
    with pytest.raises(ValueError, match="no replacement cities"):
        replace_cities(dev, [])
    with pytest.raises(ValueError, match="no slot tags"):
        replace_cities([Sentence(("to", "boston"))], ["taipei"])


def test_real_atis_dev_has_no_train_city() -> None:
    atis = Path(os.environ.get("DATA_DIR", REPO.parent / "shared" / "data")) / "atis"
    if not atis.is_dir():
        pytest.skip(f"no ATIS at {atis} (set DATA_DIR)")
    train = read_split(atis, "train")
    cities = unseen_city_names(train)
    vocabulary = {token for sentence in train for token in sentence.tokens}
    replaced = replace_cities(read_split(atis, "dev"), cities)
    assert len(cities) >= 100
    for sentence in replaced:
        assert_valid_bio(sentence)
        assert all(vocabulary.isdisjoint(city.split()) for _, city in city_spans(sentence))
