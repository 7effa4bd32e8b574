"""Token offsets must slice the original text exactly, whatever its spacing or script."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.tokenizer import Token, split_pretokenized, tokenize

Split = Callable[[str], list[Token]]

TEXTS = [
    "Fly  from Boston to   New York, please!",
    "  leading and trailing \t ",
    "Café in Zürich — 3 p.m.?",
    "I'm (re)booking: flights@7pm",
    "🙂🙂 ok 👍🏽 family 👨‍👩‍👧 done",
    "東京 から 大阪\u00a0まで",
    "tabs\tand\nnewlines\r\nhere",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("split", [tokenize, split_pretokenized])
def test_offsets_slice_the_original(split: Split, text: str) -> None:
    tokens = split(text)
    assert tokens
    for token in tokens:
        assert text[token.start : token.end] == token.text
        assert token.text.strip() == token.text != ""
    assert [t.start for t in tokens] == sorted(t.start for t in tokens)


def test_tokenize_drops_runs_of_whitespace_and_splits_punctuation() -> None:
    text = "Fly  to New York, now!"
    assert tokenize(text) == [
        Token("Fly", 0, 3),
        Token("to", 5, 7),
        Token("New", 8, 11),
        Token("York", 12, 16),
        Token(",", 16, 17),
        Token("now", 18, 21),
        Token("!", 21, 22),
    ]


def test_emoji_offsets_count_code_points() -> None:
    assert [(t.text, t.start) for t in tokenize("hi 🙂 there")] == [
        ("hi", 0),
        ("🙂", 3),
        ("there", 5),
    ]


def test_split_pretokenized_keeps_punctuation_attached() -> None:
    assert split_pretokenized(" New\u00a0York ,\tok ") == [
        Token("New", 1, 4),
        Token("York", 5, 9),
        Token(",", 10, 11),
        Token("ok", 12, 14),
    ]


@pytest.mark.parametrize("text", ["", " ", "\t\n", "\u00a0 \u3000"])
@pytest.mark.parametrize("split", [tokenize, split_pretokenized])
def test_blank_text_has_no_tokens(split: Split, text: str) -> None:
    assert split(text) == []
