"""Re-evaluates an exported model on a dataset split, through its serving signature, or on a
Rasa NLU test file with a report like `rasa test nlu`'s (training.nlu_evaluation).

    python -m training.evaluate --model models/atis --split test
    python -m training.evaluate --model models/mybot --rasa-test test.yml [--out folder]
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
from training.nlu_evaluation import evaluate_examples, write_nlu_report
from training.rasa_data import read_nlu
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


def evaluate_rasa_test(model_path: Path, test: Path, out: Path | None = None) -> Path:
    """Scores the model on the Rasa NLU file or folder `test` and writes the report into `out`
    (default: `evaluation/<test's name>/` in the model's version folder); returns the folder."""
    model = load_model(model_path)
    examples = list(read_nlu(test).examples)
    if not examples:
        raise DatasetError(f"{test}: no examples to evaluate on")
    folder = out or model.path / "evaluation" / test.stem
    title = f"{model.name} version {model.version} on {test}"
    return write_nlu_report(evaluate_examples(model, examples), folder, title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate an exported slot-tagger model on a dataset split.")
    parser.add_argument("--model", required=True, type=Path, help="models/<name> (newest version) or a version folder")
    parser.add_argument("--split", default="test", choices=SPLITS, help="which split to score")
    parser.add_argument("--data-dir", type=Path, default=None, help="base for relative dataset paths (default: $DATA_DIR or ../shared/data)")
    parser.add_argument("--dataset", type=Path, default=None, help="score this dataset folder instead of the model's own")
    parser.add_argument("--rasa-test", type=Path, default=None, help="a Rasa NLU file or folder: write a report like rasa test nlu's")
    parser.add_argument("--out", type=Path, default=None, help="with --rasa-test: the report's folder (default: beside the model)")
    args = parser.parse_args(argv)
    if args.out and not args.rasa_test:
        parser.error("--out goes with --rasa-test")
    try:
        if args.rasa_test:
            folder = evaluate_rasa_test(args.model, args.rasa_test, args.out)
            print(json.dumps(_summary(folder), indent=2))
            return 0
        result = evaluate_model(args.model, args.split, args.data_dir or default_data_dir(), args.dataset)
    except (DatasetError, SlotTaggerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


def _summary(folder: Path) -> dict:
    """The headline figures of a written report, and where it is."""
    figures = json.loads((folder / "nlu_report.json").read_text(encoding="utf-8"))
    summary: dict = {"report": str(folder / "nlu_report.md"), "examples": figures["examples"]}
    if "intent" in figures:
        summary.update({f"intent_{key}": round(100 * figures["intent"][key], 2) for key in ("accuracy", "macro_f1")})
    if "entities" in figures:
        summary["entity_strict_span_f1"] = round(100 * figures["entities"]["strict_span_f1"], 2)
    return summary


if __name__ == "__main__":
    sys.exit(main())
