"""TensorFlow's process-wide switches for serving. TensorFlow reads them once, when it is first
imported, so the entry points apply them before that; a variable the user has set wins."""

from __future__ import annotations

import os

SERVING_DEFAULTS = {
    # C++ start-up chatter off the CLI's and the server's stderr.
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # oneDNN off: less CLI memory for a little throughput, the same outputs, and none of the
    # notices oneDNN prints whatever the log level (docs/EXPERIMENTS.md#serving-onednn-off).
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # One thread per TensorFlow op: the CLI runs the model in one thread while another tokenizes
    # and renders, and gunicorn's workers are the server's parallelism
    # (docs/EXPERIMENTS.md#serving-intra-op-threads).
    "TF_NUM_INTRAOP_THREADS": "1",
}


def apply_serving_defaults() -> None:
    """Sets each of `SERVING_DEFAULTS` that the environment does not already set."""
    for name, value in SERVING_DEFAULTS.items():
        os.environ.setdefault(name, value)
