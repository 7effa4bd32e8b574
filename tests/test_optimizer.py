"""LazyAdam: an embedding's sparse gradient moves only the rows it names, by Adam's own rule."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.optimizer import LazyAdam


def _sparse(rows: list[int], values: list[list[float]], shape: tuple[int, int]) -> tf.IndexedSlices:
    return tf.IndexedSlices(tf.constant(values), tf.constant(rows), tf.constant(shape))


def _apply(optimizer: keras.optimizers.Optimizer, table: keras.Variable, gradients: list) -> np.ndarray:
    for gradient in gradients:
        optimizer.apply_gradients([(gradient, table)])
    return keras.ops.convert_to_numpy(table)


def test_rows_outside_the_batch_stay_put_while_dense_adam_keeps_moving_them():
    start = np.arange(12, dtype="float32").reshape(4, 3)
    steps = [_sparse([0, 2], [[1.0, 1.0, 1.0], [0.5, -0.5, 2.0]], (4, 3)), _sparse([1], [[1.0, 2.0, 3.0]], (4, 3))]
    lazy = _apply(LazyAdam(0.1), keras.Variable(start), steps)
    dense = _apply(keras.optimizers.Adam(0.1), keras.Variable(start), steps)
    np.testing.assert_array_equal(lazy[3], start[3])  # never looked up
    assert not np.allclose(lazy[[0, 1, 2]], start[[0, 1, 2]])
    np.testing.assert_allclose(lazy[1], dense[1], rtol=1e-6)  # first sight of row 1: both see zero moments
    assert not np.allclose(lazy[0], dense[0])  # dense Adam moved row 0 again in step two, lazy did not


def test_first_step_equals_dense_adam_and_repeated_rows_add_up():
    start = np.ones((3, 2), dtype="float32")
    repeated = _sparse([1, 1, 2], [[1.0, 2.0], [3.0, -4.0], [0.5, 0.5]], (3, 2))
    summed = _sparse([1, 2], [[4.0, -2.0], [0.5, 0.5]], (3, 2))
    lazy = _apply(LazyAdam(0.01), keras.Variable(start), [repeated])
    dense = _apply(keras.optimizers.Adam(0.01), keras.Variable(start), [tf.convert_to_tensor(summed)])
    np.testing.assert_allclose(lazy, dense, rtol=1e-6)


def test_dense_gradients_get_kerass_adam():
    start = np.ones((2, 2), dtype="float32")
    gradient = tf.constant([[0.1, -0.2], [0.3, 0.0]])
    lazy = _apply(LazyAdam(0.01), keras.Variable(start), [gradient, gradient])
    dense = _apply(keras.optimizers.Adam(0.01), keras.Variable(start), [gradient, gradient])
    np.testing.assert_array_equal(lazy, dense)


def test_the_largest_gradient_norm_is_recorded_before_clipping_with_repeated_rows_summed():
    table, dense = keras.Variable(np.zeros((4, 2), "float32")), keras.Variable(np.zeros(3, "float32"))
    optimizer = LazyAdam(0.1, clipnorm=1.0)
    # Row 1 twice: its gradient is the sum [3, 4], of norm 5, not two rows of norms 3 and 4.
    sparse = tf.IndexedSlices(tf.constant([[3.0, 0.0], [0.0, 4.0]]), tf.constant([1, 1]), tf.constant((4, 2)))
    optimizer.apply_gradients([(sparse, table), (tf.constant([0.0, 0.0, 12.0]), dense)])
    assert float(optimizer.largest_gradient_norm.numpy()) == pytest.approx(13.0)  # sqrt(5² + 12²)
    small = tf.IndexedSlices(tf.constant([[0.0, 1.0]]), tf.constant([2]), tf.constant((4, 2)))
    optimizer.apply_gradients([(small, table), (tf.constant([1.0, 0.0, 0.0]), dense)])
    assert float(optimizer.largest_gradient_norm.numpy()) == pytest.approx(13.0)  # a maximum, not the last norm
