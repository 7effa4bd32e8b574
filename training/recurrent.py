"""The encoders a config's `cell` chooses, the recurrent family the tagger's design rests on.

`lstm` is Keras's LSTM cell with its input projection taken out of the time loop
(`ProjectedInputLSTMCell`); `gru` and `elman` (a simple tanh RNN) are Keras's own layers; `irnn`
is Keras's simple RNN with ReLU and an identity recurrent kernel (Le, Jaitly and Hinton 2015);
`peephole_lstm` and `jordan` are cells written here, since Keras 3 ships neither; `none` reads
every token alone with a dense layer, a feedforward tagger over the same features.
`docs/ABLATION.md` measures them all.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="slot_tagger")
class ProjectedInputLSTMCell(layers.LSTMCell):
    """Keras's LSTM cell (the same weights, initializers and gates) whose step input is already
    x_t W + b: `ProjectedInputRNN` computes it for every step in one matrix product before the time
    loop, so each step only adds h_{t-1} U. Keras's own loop multiplies x_t W one token at a time,
    which for a lone sentence (a REST request) reads all of W from memory once per token
    (docs/EXPERIMENTS.md#lstm-input-projection). No dropout inside the cell: the network drops
    out between layers."""

    def __init__(self, units: int, **kwargs):
        if kwargs.get("dropout") or kwargs.get("recurrent_dropout"):
            raise ValueError("ProjectedInputLSTMCell takes no dropout; drop out between layers instead")
        super().__init__(units, **kwargs)

    def project(self, sequences):
        return ops.matmul(sequences, self.kernel) + self.bias

    def call(self, projected, states, training=False):
        hidden, cell = states
        z = projected + ops.matmul(hidden, self.recurrent_kernel)
        z_input, z_forget, z_candidate, z_output = ops.split(z, 4, axis=-1)
        gate = self.recurrent_activation
        cell = gate(z_forget) * cell + gate(z_input) * self.activation(z_candidate)
        hidden = gate(z_output) * self.activation(cell)
        return hidden, [hidden, cell]


@keras.saving.register_keras_serializable(package="slot_tagger")
class ProjectedInputRNN(layers.RNN):
    """Keras's RNN layer for a cell with a `project` method, applied to the whole sequence before
    the time loop. Masking, direction and `Bidirectional` work as for any Keras RNN."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        return super().inner_loop(self.cell.project(sequences), initial_state, mask, training=training)


@keras.saving.register_keras_serializable(package="slot_tagger")
class PeepholeLSTMCell(layers.Layer):
    """An LSTM whose gates also read the cell state (Gers, Schraudolph and Schmidhuber 2002): the
    input and forget gates see the previous cell state, the output gate the new one, through one
    diagonal weight vector each. Those start at zero, so training begins from a plain LSTM."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape) -> None:
        units = self.units
        self.kernel = self.add_weight((input_shape[-1], 4 * units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight((units, 4 * units), initializer="orthogonal", name="recurrent_kernel")
        forget_bias_one = ops.concatenate([ops.zeros((units,)), ops.ones((units,)), ops.zeros((2 * units,))])
        self.bias = self.add_weight((4 * units,), initializer=lambda shape, dtype=None: forget_bias_one, name="bias")
        self.peepholes = self.add_weight((3, units), initializer="zeros", name="peepholes")

    def call(self, inputs, states, training=False):
        hidden, cell = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(hidden, self.recurrent_kernel) + self.bias
        z_input, z_forget, z_candidate, z_output = ops.split(z, 4, axis=-1)
        input_gate = ops.sigmoid(z_input + self.peepholes[0] * cell)
        forget_gate = ops.sigmoid(z_forget + self.peepholes[1] * cell)
        cell = forget_gate * cell + input_gate * ops.tanh(z_candidate)
        output_gate = ops.sigmoid(z_output + self.peepholes[2] * cell)
        hidden = output_gate * ops.tanh(cell)
        return hidden, [hidden, cell]

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="slot_tagger")
class JordanCell(layers.Layer):
    """A Jordan network (Jordan 1986; for slot filling, Mesnil et al. 2015): the state fed back is
    the previous step's output distribution over `labels`, not the hidden layer.

    h_t = tanh(x_t W + y_{t-1} U + b), logits_t = h_t V + c, y_t = softmax(logits_t). The cell's
    output is [h_t, logits_t]: `logits_t` is the token head itself, so what the network remembers
    is exactly its own guess at the previous label, and h_t feeds the other heads.
    """

    def __init__(self, units: int, labels: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.labels = labels
        self.state_size = labels
        self.output_size = units + labels

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight((input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.feedback_kernel = self.add_weight((self.labels, self.units), initializer="glorot_uniform", name="feedback_kernel")
        self.bias = self.add_weight((self.units,), initializer="zeros", name="bias")
        self.output_kernel = self.add_weight((self.units, self.labels), initializer="glorot_uniform", name="output_kernel")
        self.output_bias = self.add_weight((self.labels,), initializer="zeros", name="output_bias")

    def call(self, inputs, states, training=False):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(previous, self.feedback_kernel) + self.bias)
        logits = ops.matmul(hidden, self.output_kernel) + self.output_bias
        return ops.concatenate([hidden, logits], axis=-1), [ops.softmax(logits, axis=-1)]

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "labels": self.labels}


def recurrent_layer(
    cell: str, units: int, go_backwards: bool = False, labels: int = 0, name: str | None = None
) -> layers.Layer:
    """One sequence-to-sequence layer of `cell` (any of config.CELLS but "none"); `labels` sizes
    the fed-back distribution of a Jordan cell."""
    common = {"return_sequences": True, "go_backwards": go_backwards, "name": name}
    if cell == "lstm":
        return ProjectedInputRNN(ProjectedInputLSTMCell(units), **common)
    if cell == "gru":
        return layers.GRU(units, **common)
    if cell == "elman":
        return layers.SimpleRNN(units, activation="tanh", **common)
    if cell == "irnn":
        return layers.SimpleRNN(units, activation="relu", recurrent_initializer=keras.initializers.Identity(), **common)
    if cell == "peephole_lstm":
        return layers.RNN(PeepholeLSTMCell(units), **common)
    if cell == "jordan":
        return layers.RNN(JordanCell(units, labels), **common)
    raise ValueError(f"no recurrent layer for cell {cell!r}")
