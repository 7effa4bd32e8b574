"""TensorFlow's process-wide switches for serving. TensorFlow reads them once, when it is first
imported, so the entry points apply them before that; a variable the user has set wins."""

from __future__ import annotations

import os

SERVING_DEFAULTS = {
    # C++ start-up chatter off the CLI's and the server's stderr.
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # oneDNN off: the batch CLI's peak memory falls from 1,340-1,380 to 1,100-1,125 MiB (ewt and
    # default models) for about 8% of its throughput (`python -m tests.bench_cli`); REST latency and
    # throughput do not move (`python -m tests.bench_http`); the notices oneDNN prints whatever the
    # log level (at start-up, and about DT_HALF at model load) leave stderr. Outputs are unchanged:
    # each model's test metrics are identical either way (`make eval`).
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
