"""BIO decoding inside the graph: constrained Viterbi over the tagger's per-token log-probabilities.

Plain argmax can emit `O I-toloc.city_name`, which no client can turn into an entity. Viterbi with
transitions restricted to valid BIO moves returns the most probable *valid* sequence instead.

A learned CRF was measured against this and rejected: see docs/EXPERIMENTS.md#learned-crf.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

FORBIDDEN = -1e4  # log-score of an invalid transition: never chosen while any valid path exists


def bio_constraints(labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Returns (allowed[previous, next], allowed_start[next]) for a BIO label list.

    `I-x` may only follow `B-x` or `I-x`, and may not start a sentence; everything else is free.
    """
    size = len(labels)
    allowed = np.ones((size, size), dtype=bool)
    allowed_start = np.ones(size, dtype=bool)
    for j, label in enumerate(labels):
        if not label.startswith("I-"):
            continue
        slot = label[2:]
        allowed_start[j] = False
        for i, previous in enumerate(labels):
            allowed[i, j] = previous in (f"B-{slot}", f"I-{slot}")
    return allowed, allowed_start


def viterbi_decode(
    log_probs: tf.Tensor, mask: tf.Tensor, allowed: np.ndarray, allowed_start: np.ndarray
) -> tf.Tensor:
    """Best valid tag ids `[batch, time]` for `log_probs [batch, time, tags]` and `mask [batch, time]`.

    Padded steps (mask False, always at the end) carry the scores through unchanged and point back
    to the same tag, so each sentence's path ends at its own last token.
    """
    # One padded step on the end gives the scan at least one step, even for one-token batches.
    log_probs = tf.pad(log_probs, [[0, 0], [0, 1], [0, 0]])
    mask = tf.pad(mask, [[0, 0], [0, 1]])
    transitions = tf.constant(np.where(allowed, 0.0, FORBIDDEN), dtype=log_probs.dtype)
    start = tf.constant(np.where(allowed_start, 0.0, FORBIDDEN), dtype=log_probs.dtype)
    tag_count = tf.shape(log_probs)[2]
    stay = tf.range(tag_count)[tf.newaxis, :]

    def forward(carry, step):
        scores, _ = carry
        step_log_probs, step_mask = step
        candidates = scores[:, :, tf.newaxis] + transitions[tf.newaxis]
        best_previous = tf.argmax(candidates, axis=1, output_type=tf.int32)
        new_scores = tf.reduce_max(candidates, axis=1) + step_log_probs
        keep = step_mask[:, tf.newaxis]
        return tf.where(keep, new_scores, scores), tf.where(keep, best_previous, stay)

    time_major_log_probs = tf.transpose(log_probs[:, 1:], [1, 0, 2])
    time_major_mask = tf.transpose(mask[:, 1:], [1, 0])
    initial = log_probs[:, 0] + start
    scores, backpointers = tf.scan(
        forward,
        (time_major_log_probs, time_major_mask),
        initializer=(initial, tf.zeros_like(initial, dtype=tf.int32)),
    )
    final_scores = tf.concat([initial[tf.newaxis], scores], axis=0)[-1]
    last_tag = tf.argmax(final_scores, axis=1, output_type=tf.int32)

    def backward(tag, pointers):
        return tf.gather(pointers, tag, batch_dims=1)

    earlier_tags = tf.scan(backward, backpointers, initializer=last_tag, reverse=True)
    path = tf.concat([earlier_tags, last_tag[tf.newaxis]], axis=0)
    return tf.transpose(path, [1, 0])[:, :-1]


def decode_bio(
    log_probs: tf.Tensor, mask: tf.Tensor, allowed: np.ndarray, allowed_start: np.ndarray
) -> tf.Tensor:
    """Argmax where it already forms a valid BIO sequence, Viterbi only for the rows where it does not.

    When the argmax path is valid it is also the best valid path (every valid transition costs 0),
    so the result equals full Viterbi while most batches skip the search entirely.
    """
    greedy = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
    previous = tf.pad(greedy[:, :-1], [[0, 0], [1, 0]])
    step_ok = tf.gather_nd(tf.constant(allowed), tf.stack([previous, greedy], axis=-1))
    first_ok = tf.gather(tf.constant(allowed_start), greedy[:, :1])
    valid = tf.concat([first_ok, step_ok[:, 1:]], axis=1)
    broken_rows = tf.where(tf.reduce_any(tf.logical_and(mask, tf.logical_not(valid)), axis=1))

    def repair() -> tf.Tensor:
        repaired = viterbi_decode(
            tf.gather_nd(log_probs, broken_rows), tf.gather_nd(mask, broken_rows), allowed, allowed_start
        )
        return tf.tensor_scatter_nd_update(greedy, broken_rows, repaired)

    # The scan costs a loop step per token even over zero rows: skip it when nothing is broken.
    return tf.cond(tf.size(broken_rows) > 0, repair, lambda: greedy)
