"""`make bench` flags a model whose training the wall-clock limit cut short, still compares an
older export's config with today's, and reads the figures an older BENCHMARKS.md recorded."""

from tests.bench_models import ended_by, recorded_figures
from tests.bench_training import same_config


def test_a_cut_short_run_is_flagged_and_a_normal_one_is_not():
    assert ended_by({"cut_short": True, "stopped_because": "CUT SHORT by the wall-clock limit of 30.0 minutes"}).startswith("**CUT SHORT**")
    assert ended_by({"cut_short": False, "stopped_because": "reached 20 epochs"}) == "reached 20 epochs"


def test_an_export_made_before_a_field_was_added_or_renamed_has_the_same_config():
    current = {"name": "atis", "rnn_layers": 1, "cell": "lstm", "token_features": ["word", "trigram", "suffix", "shape"]}
    assert same_config({"name": "atis", "lstm_layers": 1}, current)  # old name, and fields at their defaults
    assert not same_config({"name": "atis", "lstm_layers": 2}, current)
    assert not same_config({"name": "atis", "lstm_layers": 1}, {**current, "cell": "gru"})


def test_the_rows_of_an_older_accuracy_table_are_read_by_split_and_metric():
    table = """### Accuracy (%)

| model | split | slot F1 | intent acc | sentence acc | UPOS acc |
|---|---|---|---|---|---|
| atis | dev | 96.69 | 97.80 | 88.20 | — |
| atis | test | 95.24 | 96.42 | 85.78 | — |
| ewt | test | — | — | — | 95.40 |

### Slot decoding

| atis | test | 95.24 | 94.96 |
"""
    assert recorded_figures(table) == {
        ("atis", "dev"): {"slot_f1": 96.69, "intent_accuracy": 97.80, "sentence_accuracy": 88.20},
        ("atis", "test"): {"slot_f1": 95.24, "intent_accuracy": 96.42, "sentence_accuracy": 85.78},
        ("ewt", "test"): {"upos_accuracy": 95.40},
    }
