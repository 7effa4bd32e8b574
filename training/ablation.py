"""The ablation behind docs/ABLATION.md: the recurrent family and the token features on ATIS, two
seeds each, every row with the same epochs, and a verdict on each textbook claim.

    python -m training.ablation              # every row not yet in runs/ablation/, then the report
    python -m training.ablation --report     # the report from the rows already run

Each run is its own process (`run-one`), so no row inherits another's graphs or memory, and
its figures go to `runs/ablation/results/<row>-<seed>.json` at once: an interrupted ablation
resumes where it stopped. The depth rows use the cell with the best mean dev slot F1. `lstm bi`
is atis.toml itself, all features and GloVe vectors: the feature rows end there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from service.model_store import LoadedModel, load_model
from service.predictor import Predictor
from training.ablation_report import write_ablation_report
from training.config import REPO_ROOT, default_data_dir, load_config, resolve_data_path
from training.evaluation import predict
from training.pipeline import run
from training.readers import Sentence, read_split
from training.slot_analysis import f1_by_cue_distance, role_pair_f1
from training.unseen_cities import unseen_city_dev

BASE_CONFIG = REPO_ROOT / "training" / "configs" / "atis.toml"
RUNS = REPO_ROOT / "runs" / "ablation"
SEEDS = (1, 2)
# The budget of every row: atis.toml's own 20 epochs, in which the whole grid fits in 2 hours on 2 cores.
EPOCHS = 20
LATENCY_SENTENCES = 200
FAR = ((3, None),)  # the cue-distance bucket the long-context claims read
RECURRENT_CELLS = ("elman", "irnn", "jordan", "gru", "lstm", "peephole_lstm")
STACKABLE_CELLS = tuple(cell for cell in RECURRENT_CELLS if cell != "jordan")  # a Jordan network has one layer
NO_VECTORS = {"pretrained_vectors": False}


@dataclass(frozen=True)
class Row:
    name: str
    overrides: dict = field(default_factory=dict)
    group: str = "cells"


def cell_rows() -> list[Row]:
    rows = [Row("none", {"cell": "none", "bidirectional": False})]
    for cell in RECURRENT_CELLS:
        rows.append(Row(f"{cell} uni", {"cell": cell, "bidirectional": False}))
        rows.append(Row(f"{cell} bi", {"cell": cell}))
    return rows


def depth_rows(cell: str) -> list[Row]:
    return [Row(f"{cell} bi ×{layers}", {"cell": cell, "rnn_layers": layers}, "depth") for layers in (2, 3)]


def other_rows() -> list[Row]:
    features = [
        Row("1-of-N word + other", {**NO_VECTORS, "token_features": ["word"]}, "features"),
        Row("+ trigrams", {**NO_VECTORS, "token_features": ["word", "trigram"]}, "features"),
        Row("+ suffix, shape", {**NO_VECTORS, "token_features": ["word", "trigram", "suffix", "shape"]}, "features"),
    ]
    return [
        Row("lstm uni reversed", {"cell": "lstm", "bidirectional": False, "reverse_input": True}, "reversal"),
        *features,
        Row("elman bi unclipped", {"cell": "elman", "clipnorm": 0}, "clipping"),
        Row("lstm bi unclipped", {"cell": "lstm", "clipnorm": 0}, "clipping"),
    ]


def result_path(row: Row, seed: int, runs: Path) -> Path:
    slug = row.name.replace(" ", "_").replace("×", "x").replace(",", "").replace("+", "plus")
    return runs / "results" / f"{slug}-{seed}.json"


def run_one(row: Row, seed: int, epochs: int, runs: Path) -> dict:
    """Trains and exports one row's model and measures it; returns the figures."""
    overrides = {**row.overrides, "seed": seed, "max_epochs": epochs, "name": "atis"}
    config = load_config(BASE_CONFIG, **overrides)
    data_dir = default_data_dir()
    version_dir = run(config, runs / "models" / result_path(row, seed, runs).stem, data_dir)
    metadata = json.loads((version_dir / "metadata.json").read_text(encoding="utf-8"))
    atis = resolve_data_path(config.seq_data, data_dir)
    test, dev = read_split(atis, "test"), read_split(atis, "dev")
    unseen_dev = unseen_city_dev(read_split(atis, "train"), dev)
    model = load_model(version_dir)
    predicted = {name: [p["slots"] for p in predict(model.signature, sentences)]
                 for name, sentences in (("test", test), ("unseen_dev", unseen_dev))}
    return {
        "row": row.name, "group": row.group, "seed": seed, "overrides": row.overrides,
        "max_epochs": config.max_epochs, "patience": config.patience,
        "metrics": metadata["metrics"],
        "role_test": role_pair_f1(test, predicted["test"]),
        "role_unseen_dev": role_pair_f1(unseen_dev, predicted["unseen_dev"]),
        "distance_test": f1_by_cue_distance(test, predicted["test"]),
        "far_test": f1_by_cue_distance(test, predicted["test"], FAR)["3+"],
        "training_seconds": metadata["training_seconds"],
        "epochs": metadata["epochs"],
        "parameters": metadata["parameters"],
        "largest_gradient_norm": metadata["largest_gradient_norm"],
        "latency_ms": serving_latency_ms(model, dev),
        "finished": time.time(),
    }


def serving_latency_ms(model: LoadedModel, sentences: list[Sentence]) -> float:
    """Median milliseconds to tag one sentence the way the REST server does (the compiled
    single-sentence signature, through the Predictor), after a warm-up pass."""
    predictor = Predictor(model, compiled_single=True)
    token_lists = [list(sentence.tokens) for sentence in sentences[:LATENCY_SENTENCES]]
    for tokens in token_lists:
        predictor.predict([tokens])
    times = []
    for tokens in token_lists:
        started = time.perf_counter()
        predictor.predict([tokens])
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 3)


def run_grid(epochs: int, runs: Path) -> None:
    """Runs every (row, seed) without a result yet, each in a fresh process, then the depth rows."""
    for row in cell_rows() + other_rows():
        _run_seeds(row, epochs, runs)
    for row in depth_rows(best_stackable_cell(load_results(runs))):
        _run_seeds(row, epochs, runs)


def _run_seeds(row: Row, epochs: int, runs: Path) -> None:
    for seed in SEEDS:
        if result_path(row, seed, runs).exists():
            continue
        print(f"ablation: {row.name}, seed {seed}", flush=True)
        command = [sys.executable, "-m", "training.ablation", "run-one", "--row", json.dumps(row.__dict__),
                   "--seed", str(seed), "--epochs", str(epochs), "--runs", str(runs)]
        subprocess.run(command, check=True, cwd=REPO_ROOT)


def load_results(runs: Path) -> dict[str, list[dict]]:
    """The results on disk by row name, in the order they were run, seeds in order."""
    found = [json.loads(path.read_text(encoding="utf-8")) for path in (runs / "results").glob("*.json")]
    rows: dict[str, list[dict]] = {}
    for result in sorted(found, key=lambda result: (result["finished"], result["seed"])):
        rows.setdefault(result["row"], []).append(result)
    return rows


def best_stackable_cell(results: dict[str, list[dict]]) -> str:
    """The bidirectional cell with the highest mean dev slot F1 (dev only: test decides nothing)."""
    def dev_f1(cell: str) -> float:
        return statistics.mean(r["metrics"]["dev"]["slot_f1"] for r in results[f"{cell} bi"])
    return max(STACKABLE_CELLS, key=dev_f1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The recurrent-family ablation on ATIS (docs/ABLATION.md).")
    parser.add_argument("command", nargs="?", choices=("all", "run-one"), default="all")
    parser.add_argument("--report", action="store_true", help="only write the report from the results on disk")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"every row's budget (default {EPOCHS})")
    parser.add_argument("--runs", type=Path, default=RUNS, help="where the models and results go")
    parser.add_argument("--docs", type=Path, default=REPO_ROOT / "docs", help="where ABLATION.md and ablation.png go")
    parser.add_argument("--row", help="run-one: the row as JSON")
    parser.add_argument("--seed", type=int, help="run-one: the seed")
    args = parser.parse_args(argv)
    if args.command == "run-one":
        row = Row(**json.loads(args.row))
        result = run_one(row, args.seed, args.epochs, args.runs)
        path = result_path(row, args.seed, args.runs)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1), encoding="utf-8")
        return 0
    if not args.report:
        run_grid(args.epochs, args.runs)
    write_ablation_report(load_results(args.runs), args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
