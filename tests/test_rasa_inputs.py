"""The benchmark's Rasa YAML inputs: seeded per-intent draws, and files that read back as drawn."""

from collections import Counter

from tests.conftest import FIXTURES
from tests.rasa_inputs import sample, sample_per_intent, write_rasa_yaml
from training.rasa_alignment import align
from training.rasa_data import read_nlu
from training.readers import read_seq_split

TRAIN = read_seq_split(FIXTURES / "tiny_atis" / "train")


def test_per_intent_draws_cap_each_intent_keep_input_order_and_repeat_with_the_seed():
    drawn = sample_per_intent(TRAIN, 2, seed=1)
    counts, available = Counter(s.intent for s in drawn), Counter(s.intent for s in TRAIN)
    assert counts == {intent: min(2, n) for intent, n in available.items()}
    assert drawn == sorted(drawn, key=TRAIN.index)
    assert drawn == sample_per_intent(TRAIN, 2, seed=1) and drawn != sample_per_intent(TRAIN, 2, seed=2)
    assert len(sample(TRAIN, 7)) == 7 and sample(TRAIN, 7) == sorted(sample(TRAIN, 7), key=TRAIN.index)


def test_a_written_file_reads_back_with_the_same_tokens_slots_and_intents(tmp_path):
    drawn = sample_per_intent(TRAIN, 3)
    sentences, _ = align(read_nlu(write_rasa_yaml(drawn, tmp_path / "nlu.yml")))
    key = lambda s: (s.intent, s.tokens, s.slots)  # the file groups examples by intent
    assert sorted(map(key, sentences)) == sorted(map(key, drawn))
