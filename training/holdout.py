"""A dev set held out of the training sentences, for early stopping when the data brings none.

Chatbot data often comes as one file, and early stopping needs sentences the model does not train
on. The held-out share is stratified by intent, so dev's intent mix is train's and no intent leaves
train: an intent with n examples gives at most n - 1 of them to dev (one with a single example
gives none). Each intent's share of dev is its exact fraction rounded down, and the examples still
missing from the overall share go to the intents with the largest remainders, so small intents
still reach dev when the whole data has room for them. The draw is seeded: the same sentences and
seed always hold out the same examples.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

Item = TypeVar("Item")


def hold_out(
    items: list[Item], share: float, seed: int, intent_of: Callable[[Item], Any] = operator.attrgetter("intent")
) -> tuple[list[Item], list[Item]]:
    """(train, dev): about `share` of `items` (sentences, or anything `intent_of` reads an intent
    from) in dev, stratified by intent, each in input order."""
    by_intent: dict[Any, list[int]] = {}
    for index, item in enumerate(items):
        by_intent.setdefault(intent_of(item), []).append(index)
    quotas = _quotas({intent: len(indices) for intent, indices in by_intent.items()}, share)
    rng = np.random.default_rng(seed)
    held: set[int] = set()
    for intent in sorted(by_intent):
        held.update(int(i) for i in rng.permutation(by_intent[intent])[: quotas[intent]])
    train = [item for index, item in enumerate(items) if index not in held]
    dev = [item for index, item in enumerate(items) if index in held]
    return train, dev


def _quotas(counts: dict[str, int], share: float) -> dict[str, int]:
    """How many examples of each intent go to dev: largest remainders, at most n - 1 each."""
    exact = {intent: count * share for intent, count in counts.items()}
    quotas = {intent: min(math.floor(exact[intent]), counts[intent] - 1) for intent in counts}
    missing = round(sum(counts.values()) * share) - sum(quotas.values())
    room = [intent for intent in counts if quotas[intent] < counts[intent] - 1]
    for intent in sorted(room, key=lambda name: (quotas[name] - exact[name], name))[: max(missing, 0)]:
        quotas[intent] += 1
    return quotas
