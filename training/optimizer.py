"""Adam with lazy updates for embedding tables: only the rows a batch looked up are touched.

Keras's Adam turns an embedding's sparse gradient into an update of the whole table at every
step: both moments of every row decay and every row moves. The tagger's word, trigram and suffix
tables hold about 3 million weights of which a batch reads a few thousand rows, so that full-table
pass cost about a quarter of each training step (docs/EXPERIMENTS.md#lazy-adam). This is the
lazy variant of TensorFlow's old `LazyAdamOptimizer`: for a sparse gradient the moments and
weights of the rows seen in the batch follow Adam's rule and all other rows stay as they are.
Dense gradients (the LSTMs, the heads) get Keras's own update.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="slot_tagger")
class LazyAdam(keras.optimizers.Adam):
    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001 - Keras's signature
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        rows, positions = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(
            ops.cast(gradient.values, variable.dtype), positions, tf.size(rows)
        )
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
