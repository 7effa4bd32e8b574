import itertools

import numpy as np
import pytest
import tensorflow as tf

from training.decoding import bio_constraints, decode_bio, viterbi_decode

LABELS = ["O", "B-city", "I-city", "B-date", "I-date"]
ALLOWED, START = bio_constraints(LABELS)


def is_valid(path: list[int]) -> bool:
    return START[path[0]] and all(ALLOWED[a, b] for a, b in zip(path, path[1:]))


def best_valid_path(log_probs: np.ndarray) -> list[int]:
    """Brute force over every tag sequence: the reference the decoders must agree with."""
    paths = (p for p in itertools.product(range(len(LABELS)), repeat=len(log_probs)) if is_valid(list(p)))
    return list(max(paths, key=lambda p: sum(log_probs[t, tag] for t, tag in enumerate(p))))


def random_log_probs(rng, batch: int, time: int) -> np.ndarray:
    logits = rng.normal(size=(batch, time, len(LABELS))) * 3
    return (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)


def test_constraints_forbid_inside_tags_after_other_slots_and_at_the_start():
    assert not ALLOWED[LABELS.index("O"), LABELS.index("I-city")]
    assert not ALLOWED[LABELS.index("B-date"), LABELS.index("I-city")]
    assert ALLOWED[LABELS.index("B-city"), LABELS.index("I-city")]
    assert ALLOWED[LABELS.index("I-city"), LABELS.index("I-city")]
    assert not START[LABELS.index("I-date")] and START[LABELS.index("B-date")]


@pytest.mark.parametrize("decoder", [viterbi_decode, decode_bio])
def test_decoders_find_the_best_valid_path(decoder):
    rng = np.random.default_rng(0)
    log_probs = random_log_probs(rng, batch=20, time=4)
    mask = np.ones((20, 4), dtype=bool)
    decoded = decoder(tf.constant(log_probs), tf.constant(mask), ALLOWED, START).numpy()
    for row in range(20):
        assert decoded[row].tolist() == best_valid_path(log_probs[row])


@pytest.mark.parametrize("decoder", [viterbi_decode, decode_bio])
def test_padded_rows_decode_like_their_unpadded_selves(decoder):
    rng = np.random.default_rng(1)
    log_probs = random_log_probs(rng, batch=8, time=5)
    lengths = np.array([1, 2, 3, 4, 5, 3, 2, 1])
    mask = np.arange(5)[None, :] < lengths[:, None]
    decoded = decoder(tf.constant(log_probs), tf.constant(mask), ALLOWED, START).numpy()
    for row, length in enumerate(lengths):
        assert decoded[row, :length].tolist() == best_valid_path(log_probs[row, :length])


def test_argmax_is_kept_where_it_is_already_valid():
    log_probs = np.log(np.full((1, 3, len(LABELS)), 0.01, dtype=np.float32))
    log_probs[0, [0, 1, 2], [1, 2, 0]] = 0.0  # B-city I-city O
    decoded = decode_bio(tf.constant(log_probs), tf.ones((1, 3), tf.bool), ALLOWED, START)
    assert decoded.numpy().tolist() == [[1, 2, 0]]


def test_empty_batch_and_single_token():
    empty = decode_bio(tf.zeros((0, 3, len(LABELS))), tf.zeros((0, 3), tf.bool), ALLOWED, START)
    assert empty.shape == (0, 3)
    single = np.log(np.array([[[0.1, 0.1, 0.6, 0.1, 0.1]]], dtype=np.float32))  # I-city is likeliest
    assert decode_bio(tf.constant(single), tf.ones((1, 1), tf.bool), ALLOWED, START).numpy()[0, 0] != 2
