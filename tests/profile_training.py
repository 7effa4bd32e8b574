"""Plain timers around the parts of one training epoch: featurizing the training set, building the
batches (the input pipeline), the train steps, and scoring dev.

    python tests/profile_training.py --tree . --config training/configs/atis.toml [--set key=value]

`--tree` is the source tree whose `training/` package is profiled, so the same script times today's
code and an older commit checked out elsewhere (`tests/bench_training.py` does both in one run).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np


def profile(config_path: Path, overrides: dict) -> dict:
    import keras

    from training.config import default_data_dir, load_config
    from training.data import BatchMaker, load_datasets
    from training.evaluation import evaluate
    from training.pipeline import build_tagger
    from training import trainer

    config = load_config(config_path, **overrides)
    keras.utils.set_random_seed(config.seed)
    datasets = load_datasets(config, default_data_dir())
    tagger = build_tagger(config, datasets)
    started = time.perf_counter()
    batches = BatchMaker(datasets, tagger.featurizer, tagger.labels, config.batch_size, config.seed, config.lowercase_rate)
    featurize_s = time.perf_counter() - started
    steps = batches.batches_per_epoch()
    started = time.perf_counter()
    for _ in batches.epoch():
        pass
    input_s = time.perf_counter() - started
    heads = tuple(tagger.labels)
    compile_args = (tagger.network, heads, config)
    if "steps_per_epoch" in inspect.signature(trainer.compile_network).parameters:
        compile_args += (steps,)
    trainer.compile_network(*compile_args)
    timer = step_timer()
    tagger.network.fit(trainer._as_dataset(batches, heads), epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    dev = [d.splits["dev"] for d in datasets]
    dev_s = []
    for _ in range(3):
        started = time.perf_counter()
        for sentences in dev:
            evaluate(tagger.serve, sentences)
        dev_s.append(time.perf_counter() - started)
    step_s = float(np.median(timer.seconds[1:]))  # the first step also traces the graph
    return {
        "config": config.name,
        "batch_size": config.batch_size,
        "steps_per_epoch": steps,
        "featurize_s": round(featurize_s, 2),
        "input_s_per_epoch": round(input_s, 3),
        "first_step_s": round(timer.seconds[0], 2),
        "step_ms_median": round(1000 * step_s, 2),
        "steps_s_per_epoch": round(step_s * steps, 2),
        "dev_scoring_s": round(float(np.median(dev_s[1:])), 2),  # the first call also traces
    }


def step_timer():
    """A Keras callback timing every train step (built here: Keras loads only after --tree is on the path)."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self.started = 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    return StepTimer()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the parts of one training epoch.")
    parser.add_argument("--tree", type=Path, required=True, help="source tree holding training/")
    parser.add_argument("--config", type=Path, required=True, help="TOML config, relative to --tree")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (JSON)")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    sys.path.insert(0, str(tree))
    overrides = {key: json.loads(value) for key, _, value in (item.partition("=") for item in args.set)}
    print(json.dumps(profile(tree / args.config, overrides)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
