"""Accuracy, training time and size of the exported models, as Markdown (run by hand or `make bench`).

    python -m tests.bench_models [--models-dir models] [atis snips ewt default]

Every figure is read from the newest version's `metadata.json`, which the training pipeline wrote
from its own evaluation; nothing here is computed twice or typed in.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from service.model_store import resolve_version_dir
from tests.bench_training import BASELINE, benchmarks_at

COLUMNS = (
    ("slot F1", "slot_f1"),
    ("intent acc", "intent_accuracy"),
    ("sentence acc", "sentence_accuracy"),
    ("UPOS acc", "upos_accuracy"),
)


def newest_metadata(models_dir: Path, name: str) -> tuple[Path, dict]:
    version_dir = resolve_version_dir(models_dir / name)
    return version_dir, json.loads((version_dir / "metadata.json").read_text(encoding="utf-8"))


def size_mb(version_dir: Path) -> float:
    """SavedModel size (graph + variables), without the report and plot beside it."""
    files = [version_dir / "saved_model.pb", *(version_dir / "variables").glob("*")]
    return sum(f.stat().st_size for f in files) / 1e6


def _cell(metrics: dict, key: str) -> str:
    return f"{metrics[key]:.2f}" if key in metrics else "—"


def accuracy_table(rows: list[tuple[str, Path, dict]]) -> list[str]:
    lines = ["| model | split | " + " | ".join(name for name, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for name, _, metadata in rows:
        for split in ("dev", "test"):
            metrics = metadata["metrics"][split]
            lines.append(f"| {name} | {split} | " + " | ".join(_cell(metrics, key) for _, key in COLUMNS) + " |")
    return lines


def decoding_table(rows: list[tuple[str, Path, dict]]) -> list[str]:
    lines = ["| model | split | slot F1, constrained Viterbi (served) | slot F1, plain argmax |", "|---|---|---|---|"]
    for name, _, metadata in rows:
        metrics = metadata["metrics"]
        for split in ("dev", "test"):
            if f"{split}_argmax" in metrics:
                lines.append(f"| {name} | {split} | {_cell(metrics[split], 'slot_f1')} | {_cell(metrics[f'{split}_argmax'], 'slot_f1')} |")
    return lines


def gap_table(rows: list[tuple[str, Path, dict]], columns: str, variant: str, metric: str) -> list[str]:
    """Plain dev against a harder variant of it (`variant` in the metrics), for the models that have one."""
    lines = [f"| model | {columns} | gap |", "|---|---|---|---|"]
    for name, _, metadata in rows:
        metrics = metadata["metrics"]
        if variant in metrics:
            plain, harder = metrics["dev"][metric], metrics[variant][metric]
            lines.append(f"| {name} | {plain:.2f} | {harder:.2f} | {plain - harder:.2f} |")
    return lines


def unseen_table(rows: list[tuple[str, Path, dict]]) -> list[str]:
    return gap_table(rows, "ATIS dev slot F1 | dev with unseen city names", "dev_unseen_cities", "slot_f1")


def lowercased_table(rows: list[tuple[str, Path, dict]]) -> list[str]:
    return gap_table(rows, "EWT dev UPOS acc | the same sentences lower-cased", "dev_lowercased", "upos_accuracy")


def recorded_figures(benchmarks: str) -> dict[tuple[str, str], dict[str, float]]:
    """Each (model, split) row of the accuracy table in a BENCHMARKS.md text, by metric key."""
    accuracy = benchmarks.split("### Accuracy", 1)[-1].split("###", 1)[0]
    figures = {}
    for name, split, cells in re.findall(r"^\| (\w+) \| (dev|test) \| (.+) \|$", accuracy, re.MULTILINE):
        values = [cell.strip() for cell in cells.split("|")]
        figures[name, split] = {key: float(value) for (_, key), value in zip(COLUMNS, values, strict=True) if value != "—"}
    return figures


def against_baseline_table(rows: list[tuple[str, Path, dict]], revision: str = BASELINE) -> list[str]:
    """Today's dev and test figures beside those the baseline commit's BENCHMARKS.md recorded."""
    before = recorded_figures(benchmarks_at(revision))
    lines = [f"| model | split | metric | {revision} | now | change |", "|---|---|---|---|---|---|"]
    for name, _, metadata in rows:
        for split in ("dev", "test"):
            for label, key in COLUMNS:
                now = metadata["metrics"][split].get(key)
                then = before.get((name, split), {}).get(key)
                if now is not None and then is not None:
                    lines.append(f"| {name} | {split} | {label} | {then:.2f} | {now:.2f} | {now - then:+.2f} |")
    return lines


def ended_by(metadata: dict) -> str:
    """How training ended; a run the wall-clock limit stopped is flagged, since it depends on the machine."""
    if metadata.get("cut_short"):
        return f"**CUT SHORT**: {metadata['stopped_because']}"
    return metadata.get("stopped_because", "not recorded")


def cost_table(rows: list[tuple[str, Path, dict]]) -> list[str]:
    lines = [
        "| model | version | epochs (best) | ended by | training time | SavedModel size | created |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, version_dir, metadata in rows:
        lines.append(
            f"| {name} | {version_dir.name} | {metadata['epochs']} ({metadata['best_epoch']}) | {ended_by(metadata)} "
            f"| {metadata['training_seconds'] / 60:.1f} min | {size_mb(version_dir):.1f} MB | {metadata['created']} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown tables of the exported models' metrics and costs.")
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="folder holding models/<name>/<version>/")
    parser.add_argument("names", nargs="*", default=["atis", "snips", "ewt", "default"], help="model names")
    args = parser.parse_args(argv)
    rows = [(name, *newest_metadata(args.models_dir, name)) for name in args.names]
    for title, table in (
        ("Accuracy (%)", accuracy_table),
        ("Slot decoding", decoding_table),
        ("Words never seen in training", unseen_table),
        ("Lower-cased text, as chatbot users type it", lowercased_table),
        ("Training cost and size", cost_table),
        (f"Beside the baseline's figures (issue 20: {BASELINE}, from its BENCHMARKS.md)", against_baseline_table),
    ):
        print(f"### {title}\n")
        print("\n".join(table(rows)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
