"""Shared fixtures: one tiny model trained on the fixture data, exported once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import TrainConfig
from training.pipeline import run

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "data" / "fixtures"

TINY = dict(
    seq_data=str(FIXTURES / "tiny_atis"),
    conllu_data=str(FIXTURES / "tiny_ewt"),
    trigram_buckets=512,
    suffix_buckets=128,
    word_dim=16,
    trigram_dim=16,
    suffix_dim=8,
    rnn_units=16,
    rnn_layers=1,
    batch_size=8,
    max_epochs=3,
    patience=3,
)


def tiny_config(name: str = "tiny", heads: tuple[str, ...] = ("slots", "intent", "pos"), **overrides) -> TrainConfig:
    return TrainConfig(name=name, heads=heads, **{**TINY, **overrides})


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A `models/<name>/<version>/` folder trained for a few steps on all three heads, with the
    default model's token-voting intent."""
    models_dir = tmp_path_factory.mktemp("models")
    return run(tiny_config(intent_voting=True), models_dir, data_dir=FIXTURES)
