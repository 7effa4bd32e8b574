"""`make bench` flags a model whose training the wall-clock limit cut short, and still compares an
older export's config with today's."""

from tests.bench_models import ended_by
from tests.bench_training import same_config


def test_a_cut_short_run_is_flagged_and_a_normal_one_is_not():
    assert ended_by({"cut_short": True, "stopped_because": "CUT SHORT by the wall-clock limit of 30.0 minutes"}).startswith("**CUT SHORT**")
    assert ended_by({"cut_short": False, "stopped_because": "reached 20 epochs"}) == "reached 20 epochs"


def test_an_export_made_before_a_field_was_added_or_renamed_has_the_same_config():
    current = {"name": "atis", "rnn_layers": 1, "cell": "lstm", "token_features": ["word", "trigram", "suffix", "shape"]}
    assert same_config({"name": "atis", "lstm_layers": 1}, current)  # old name, and fields at their defaults
    assert not same_config({"name": "atis", "lstm_layers": 2}, current)
    assert not same_config({"name": "atis", "lstm_layers": 1}, {**current, "cell": "gru"})
