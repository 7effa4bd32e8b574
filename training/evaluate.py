"""Re-evaluates an exported model on a dataset split, through its serving signature.

    python -m training.evaluate --model models/atis --split test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.errors import SlotTaggerError
from service.model_store import load_model
from training.config import TrainConfig, default_data_dir, resolve_data_path
from training.data import load_datasets
from training.evaluation import evaluate
from training.readers import SPLITS, DatasetError, read_split


def evaluate_model(model_path: Path, split: str, data_dir: Path, dataset: Path | None = None) -> dict:
    """Metrics of the exported model on `split` of its training datasets (or of `dataset`)."""
    model = load_model(model_path)
    if dataset:
        path = resolve_data_path(str(dataset), data_dir)
        named = {str(path): read_split(path, split)}
    else:
        config = TrainConfig(**{**model.metadata["config"], "heads": model.heads})
        # The same loader as training, so Rasa data gets its dev held out exactly as then.
        datasets = sorted(load_datasets(config, data_dir), key=lambda d: str(d.path))
        named = {str(d.path): d.splits[split] for d in datasets}
    metrics: dict[str, dict[str, float]] = {}
    for path, sentences in named.items():
        if not sentences:
            raise DatasetError(f"{path}: the model was trained without a {split} file, so there is no {split} split to score")
        metrics[path] = evaluate(model.signature, sentences)
    return {"model": str(model.path), "split": split, "metrics": metrics}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate an exported slot-tagger model on a dataset split.")
    parser.add_argument("--model", required=True, type=Path, help="models/<name> (newest version) or a version folder")
    parser.add_argument("--split", default="test", choices=SPLITS, help="which split to score")
    parser.add_argument("--data-dir", type=Path, default=None, help="base for relative dataset paths (default: $DATA_DIR or ../shared/data)")
    parser.add_argument("--dataset", type=Path, default=None, help="score this dataset folder instead of the model's own")
    args = parser.parse_args(argv)
    try:
        result = evaluate_model(args.model, args.split, args.data_dir or default_data_dir(), args.dataset)
    except (DatasetError, SlotTaggerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
