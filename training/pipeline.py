"""The training pipeline: config → data → vocabularies and labels → training → evaluation → export.

    python -m training.pipeline --config training/configs/atis.toml
    python -m training.pipeline --rasa-data nlu.yml --name mybot [--rasa-dev dev.yml] [--rasa-test test.yml]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from service.model_store import load_model

from training.config import REPO_ROOT, ConfigError, TrainConfig, default_data_dir, load_config
from training.data import BatchMaker, Dataset, build_labels, build_vocabulary, load_datasets, lowercased
from training.evaluation import evaluate
from training.export import directory_size, export_tagger
from training.features import TokenFeaturizer
from training.inference import EndToEndTagger
from training.network import build_network
from training.nlu_evaluation import evaluate_examples, write_nlu_report
from training.rasa_dataset import RasaSource
from training.readers import DatasetError
from training.report import plot_learning_curve, write_report
from training.trainer import train
from training.unseen_cities import unseen_city_dev
from training.vectors import select_vectors

log = logging.getLogger(__name__)

# The hyperparameters of a model trained on Rasa data when no config file names them all.
CHATBOT_CONFIG = REPO_ROOT / "training" / "configs" / "chatbot.toml"


def build_tagger(config: TrainConfig, datasets: list[Dataset]) -> EndToEndTagger:
    """A fresh, untrained tagger sized to the datasets' vocabulary and label sets."""
    labels = build_labels(datasets)
    labels = {head: labels[head] for head in config.heads}
    vocabulary = build_vocabulary(datasets, config.min_word_count)
    vector_words, vector_rows = (), None
    if config.pretrained_vectors:
        table = select_vectors(vocabulary, config.vector_extra_words)
        vector_words, vector_rows = table.words, table.vectors
    featurizer = TokenFeaturizer(
        vocabulary=vocabulary,
        oov_buckets=config.oov_buckets,
        trigram_buckets=config.trigram_buckets,
        max_trigrams=config.max_trigrams,
        suffix_buckets=config.suffix_buckets,
        vector_words=vector_words,
        token_features=config.token_features,
    )
    label_counts = {head: len(names) for head, names in labels.items()}
    network = build_network(config, featurizer.feature_names, featurizer.word_count, label_counts, vector_rows)
    return EndToEndTagger(featurizer, network, labels)


def measure(tagger: EndToEndTagger, datasets: list[Dataset]) -> dict[str, dict[str, float]]:
    """Dev and test metrics with the served (Viterbi) decoding, plus argmax for comparison, plus
    dev with unseen city names when the data has city slots, and POS on lower-cased dev."""
    argmax = EndToEndTagger(tagger.featurizer, tagger.network, tagger.labels, decode="argmax")
    metrics: dict[str, dict[str, float]] = {"dev": {}, "test": {}, "dev_argmax": {}, "test_argmax": {}}
    for dataset in datasets:
        for split in ("dev", "test"):
            if not dataset.splits[split]:  # Rasa data without a test file: no figures rather than made-up ones
                continue
            metrics[split].update(evaluate(tagger.serve, dataset.splits[split]))
            if "slots" in dataset.heads:
                metrics[f"{split}_argmax"].update(evaluate(argmax.serve, dataset.splits[split]))
        if any(tag.endswith("city_name") for tag in tagger.labels.get("slots", [])) and "slots" in dataset.heads:
            variant = unseen_city_dev(dataset.splits["train"], dataset.splits["dev"])
            metrics["dev_unseen_cities"] = evaluate(tagger.serve, variant)
        if "pos" in dataset.heads:
            metrics["dev_lowercased"] = evaluate(tagger.serve, lowercased(dataset.splits["dev"]))
    return {split: values for split, values in metrics.items() if values}


def run(config: TrainConfig, models_dir: Path, data_dir: Path) -> Path:
    """Trains, evaluates and exports one model; returns its version folder."""
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    started = time.monotonic()
    datasets = load_datasets(config, data_dir)
    tagger = build_tagger(config, datasets)
    batches = BatchMaker(
        datasets, tagger.featurizer, tagger.labels, config.batch_size, config.seed, config.lowercase_rate
    )
    history = train(tagger, batches, [d.splits["dev"] for d in datasets], config)
    metrics = measure(tagger, datasets)
    data = {
        str(d.path): {
            "heads": list(d.heads),
            **{split: len(s) for split, s in d.splits.items()},
            **(d.rasa.metadata() if d.rasa else {}),
        }
        for d in datasets
    }
    rasa = next((d.rasa for d in datasets if d.rasa), None)  # at most one: only slots and intent come from Rasa
    metadata = {
        "heads": list(config.heads),
        "labels": tagger.labels,
        "vocabulary_size": len(tagger.featurizer.vocabulary),
        "parameters": tagger.network.count_params(),
        "config": dataclasses.asdict(config),
        "data": data,
        "metrics": metrics,
        "training_seconds": round(history.seconds, 1),
        "epochs": len(history.train_loss),
        "steps_per_epoch": history.steps_per_epoch,
        "passes_per_epoch": round(history.passes_per_epoch, 2),
        "peak_learning_rate": round(history.peak_learning_rate, 6),
        "best_epoch": history.best_epoch,
        "stopped_because": history.stopped_because,
        "cut_short": history.cut_short,
        # per epoch, before clipping: an exploding gradient shows here
        "largest_gradient_norm": [round(norm, 4) for norm in history.largest_gradient_norm],
        # text (lower-cased) -> the entity value it stands for, for serving to map extracted text with
        **({"synonyms": rasa.synonyms} if rasa else {}),
    }
    version_dir = export_tagger(tagger, models_dir / config.name, metadata)
    plot_learning_curve(history, version_dir / "learning_curve.png")
    nlu_reports = write_nlu_reports(version_dir, rasa) if rasa else {}
    extra = {
        **{f"Rasa-style report on {split}": f"{path.relative_to(version_dir)}/nlu_report.md" for split, path in nlu_reports.items()},
        "exported to": str(version_dir),
        "size on disk": f"{directory_size(version_dir) / 1e6:.1f} MB",
        "pipeline time": f"{time.monotonic() - started:.0f} s",
    }
    write_report(version_dir / "report.md", config, history, metrics, extra, datasets)
    return version_dir


def write_nlu_reports(version_dir: Path, rasa: RasaSource) -> dict[str, Path]:
    """`make eval`'s Rasa-style report (training.nlu_evaluation) on dev, and on test when there is
    one, scored through the export as served, into `<version>/evaluation/<split>/`."""
    model = load_model(version_dir)
    folders = {}
    for split in ("dev", "test"):
        if rasa.examples[split]:
            report = evaluate_examples(model, rasa.examples[split])
            source = rasa.dev_source if split == "dev" else rasa.test_source
            title = f"{version_dir.parent.name} version {version_dir.name} on {split}: {source}"
            folders[split] = write_nlu_report(report, version_dir / "evaluation" / split, title)
    return folders


def train_rasa(
    data: str | Path,
    name: str,
    dev: str | Path | None = None,
    test: str | Path | None = None,
    models_dir: Path = REPO_ROOT / "models",
    config: Path | None = None,
    overrides: dict | None = None,
    data_dir: Path | None = None,
) -> Path:
    """Trains a slots + intent model on Rasa NLU data and exports `models_dir/<name>/<version>/`;
    returns the version folder.

    `data`, `dev` and `test` are Rasa 3.x YAML or `rasa_nlu_data` JSON files, or folders of them,
    relative to the current directory (not DATA_DIR: they are the caller's files, not benchmarks).
    Hyperparameters come from training/configs/chatbot.toml, then from the TOML file `config`
    over it, then from `overrides` (field -> value). Without `dev`, a seeded, intent-stratified
    tenth of `data` is held out for early stopping; without `test`, the model has no test metrics.
    `data_dir` is the base of the relative paths a `config` file names (default $DATA_DIR).
    Raises DatasetError (`file:line: what is wrong`) for bad data and ConfigError for a bad config.
    """
    given = {"rasa_data": data, "rasa_dev": dev, "rasa_test": test}
    paths = {key: str(Path(value).absolute()) for key, value in given.items() if value is not None}
    override_files = [config] if config else []
    train_config = load_config(CHATBOT_CONFIG, *override_files, **{**(overrides or {}), **paths, "name": name})
    return run(train_config, models_dir, data_dir or default_data_dir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train, evaluate and export a slot-tagger model.")
    parser.add_argument("--config", type=Path, help="TOML config, e.g. training/configs/atis.toml; with --rasa-data, hyperparameters over training/configs/chatbot.toml")
    parser.add_argument("--rasa-data", help="train on this Rasa NLU file or folder (relative to the current directory) with training/configs/chatbot.toml")
    parser.add_argument("--rasa-dev", help="with --rasa-data: the dev file or folder (default: a tenth of the data held out)")
    parser.add_argument("--rasa-test", help="with --rasa-data: the test file or folder (default: no test metrics)")
    parser.add_argument("--name", help="with --rasa-data: the model's name, its folder under --models-dir")
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models", help="where models/<name>/<version>/ go")
    parser.add_argument("--data-dir", type=Path, default=None, help="base folder for relative dataset paths (default: $DATA_DIR or ../shared/data)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (JSON value), e.g. --set max_epochs=2")
    args = parser.parse_args(argv)
    if args.rasa_data is None and (args.rasa_dev or args.rasa_test or args.name):
        parser.error("--rasa-dev, --rasa-test and --name go with --rasa-data")
    if args.rasa_data is None and args.config is None:
        parser.error("give --config, or --rasa-data with --name")
    if args.rasa_data is not None and not args.name:
        parser.error("--rasa-data needs --name (the model's folder under models/)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("absl", "tensorflow"):  # SavedModel export notes, not news to the user
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        overrides = dict(_parse_override(item) for item in args.set)
        if args.rasa_data is not None:
            version_dir = train_rasa(args.rasa_data, args.name, args.rasa_dev, args.rasa_test, args.models_dir,
                                     args.config, overrides, args.data_dir)
        else:
            config = load_config(args.config, **overrides)
            version_dir = run(config, args.models_dir, args.data_dir or default_data_dir())
    except (ConfigError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metadata = json.loads((version_dir / "metadata.json").read_text(encoding="utf-8"))
    print(json.dumps({"model": str(version_dir), "metrics": metadata["metrics"], "training_seconds": metadata["training_seconds"]}, indent=2))
    return 0


def _parse_override(item: str) -> tuple[str, object]:
    key, separator, value = item.partition("=")
    if not separator:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


if __name__ == "__main__":
    sys.exit(main())
