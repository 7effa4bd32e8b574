"""Turn raw text into tokens that remember where they came from.

Every token carries character offsets into the caller's original string, so entities can be
cut from that string exactly (multiple spaces, tabs and emoji included) instead of being
rebuilt by joining tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from spacy.tokenizer import Tokenizer

_NON_SPACE = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: `text == original[start:end]`."""

    text: str
    start: int
    end: int


@cache
def _spacy_tokenizer() -> Tokenizer:
    """Build spaCy's English rules once, on first use, so importing this module stays free."""
    import spacy

    return spacy.blank("en").tokenizer


def tokenize(text: str) -> list[Token]:
    """Split raw text with spaCy's English tokenizer, dropping whitespace-only tokens.

    spaCy keeps runs of extra whitespace as tokens of their own; the model never saw those
    and "" is its padding, so they go.
    """
    return [
        Token(tok.text, tok.idx, tok.idx + len(tok.text))
        for tok in _spacy_tokenizer()(text)
        if not tok.is_space and tok.text.strip()
    ]


def split_pretokenized(line: str) -> list[Token]:
    """Split already tokenized text on any run of whitespace, keeping offsets."""
    return [Token(m.group(), m.start(), m.end()) for m in _NON_SPACE.finditer(line)]


def tokenize_texts(texts: list[str], pretokenized: bool = False) -> list[list[Token]]:
    """Each text tokenized, or split on whitespace if it is `pretokenized`."""
    split = split_pretokenized if pretokenized else tokenize
    return [split(text) for text in texts]
