"""Adam with lazy updates for embedding tables: only the rows a batch looked up are touched.

Keras's Adam turns an embedding's sparse gradient into an update of the whole table at every
step: both moments of every row decay and every row moves. The tagger's word, trigram and suffix
tables hold about 3 million weights of which a batch reads a few thousand rows, so that full-table
pass cost about a quarter of each training step (docs/EXPERIMENTS.md#lazy-adam). This is the
lazy variant of TensorFlow's old `LazyAdamOptimizer`: for a sparse gradient the moments and
weights of the rows seen in the batch follow Adam's rule and all other rows stay as they are.
Dense gradients (the encoders, the heads) get Keras's own update.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="slot_tagger")
class NormRecordingAdam(keras.optimizers.Adam):
    """Keras's Adam that keeps the largest global gradient norm seen, before clipping, in
    `largest_gradient_norm`, so exploding gradients show in the report (reset it per epoch).
    An embedding's sparse gradient counts each looked-up row once, its repeats summed."""

    def build(self, variables) -> None:  # noqa: ANN001 - Keras's signature
        super().build(variables)
        self.largest_gradient_norm = self.add_variable((), initializer="zeros", name="largest_gradient_norm")

    def apply(self, grads, trainable_variables=None):  # noqa: ANN001 - Keras's signature
        norm = gradient_norm(grads)
        super().apply(grads, trainable_variables)
        self.largest_gradient_norm.assign(ops.maximum(self.largest_gradient_norm, norm))


def gradient_norm(grads: list) -> tf.Tensor:
    """The global L2 norm of `grads`, dense tensors and IndexedSlices alike."""
    squares = []
    for gradient in grads:
        if gradient is None:
            continue
        if isinstance(gradient, tf.IndexedSlices):
            _, gradient = summed_rows(gradient)
        squares.append(tf.reduce_sum(tf.square(tf.cast(gradient, tf.float32))))
    return tf.sqrt(tf.add_n(squares)) if squares else tf.constant(0.0)


def summed_rows(gradient: tf.IndexedSlices) -> tuple[tf.Tensor, tf.Tensor]:
    """The distinct rows a sparse gradient names, and each one's gradient: its repeats summed."""
    rows, positions = tf.unique(gradient.indices)
    return rows, tf.math.unsorted_segment_sum(gradient.values, positions, tf.size(rows))


@keras.saving.register_keras_serializable(package="slot_tagger")
class LazyAdam(NormRecordingAdam):
    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001 - Keras's signature
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        rows, values = summed_rows(gradient)
        values = ops.cast(values, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        alpha = (
            ops.cast(learning_rate, variable.dtype)
            * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, variable.dtype), step))
            / (1 - ops.power(ops.cast(self.beta_1, variable.dtype), step))
        )
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        # Gathering from the variables themselves reads only those rows, not a copy of the table.
        m_rows = self.beta_1 * tf.gather(m.value, rows) + (1 - self.beta_1) * values
        v_rows = self.beta_2 * tf.gather(v.value, rows) + (1 - self.beta_2) * tf.square(values)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        self.assign_sub(variable, tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))
