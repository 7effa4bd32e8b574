"""The learning curve (PNG) and the Markdown report written beside every exported model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: training machines have no display
import matplotlib.pyplot as plt  # noqa: E402

from training.config import TrainConfig  # noqa: E402
from training.data import Dataset  # noqa: E402
from training.trainer import TrainingHistory  # noqa: E402


def plot_learning_curve(history: TrainingHistory, path: Path) -> Path:
    epochs = range(1, len(history.train_loss) + 1)
    figure, loss_axis = plt.subplots(figsize=(7, 4))
    loss_axis.plot(epochs, history.train_loss, color="tab:blue", label="train loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("train loss", color="tab:blue")
    score_axis = loss_axis.twinx()
    score_axis.plot(epochs, history.dev_score, color="tab:orange", label="dev score")
    score_axis.set_ylabel("dev score (mean of head metrics, %)", color="tab:orange")
    if history.best_epoch:
        score_axis.axvline(history.best_epoch, color="grey", linestyle=":", label="best epoch")
    figure.suptitle("learning curve")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_report(
    path: Path, config: TrainConfig, history: TrainingHistory, metrics: dict, extra: dict, datasets: list[Dataset]
) -> Path:
    """A human-readable summary: metrics per split, the curve, how training ended, the data, the config."""
    lines = [f"# Model `{config.name}`", ""]
    if history.cut_short:
        lines += [
            f"**CUT SHORT: the wall-clock limit of {config.max_minutes} minutes stopped training before its "
            "epochs and patience did, so this model depends on the speed of the machine that trained it.**",
            "",
        ]
    lines += [f"- {key}: {value}" for key, value in extra.items()]
    lines += [
        f"- epochs run: {len(history.train_loss)}, best dev epoch: {history.best_epoch} ({history.stopped_because})",
        f"- steps per epoch: {history.steps_per_epoch}"
        + (f" ({history.passes_per_epoch:.1f} passes over train, to reach min_steps)" if history.passes_per_epoch > 1 else ""),
        f"- peak learning rate: {history.peak_learning_rate:g}",
        f"- training time: {history.seconds:.0f} s",
        "",
        "## Data",
        "",
        *_data_lines(datasets),
        "",
        "## Metrics (%)",
        "",
    ]
    names = sorted({name for split in metrics.values() for name in split})
    lines.append("| split | " + " | ".join(names) + " |")
    lines.append("| --- " * (len(names) + 1) + "|")
    for split, values in metrics.items():
        lines.append(f"| {split} | " + " | ".join(str(values.get(name, "—")) for name in names) + " |")
    lines += ["", "![learning curve](learning_curve.png)", "", "## Dev metrics per epoch", ""]
    for epoch, values in enumerate(history.dev_metrics, start=1):
        scores = ", ".join(f"{name} {value}" for name, value in values.items())
        norm = history.largest_gradient_norm[epoch - 1]
        lines.append(f"- epoch {epoch}: loss {history.train_loss[epoch - 1]:.4f}, largest gradient norm {norm:.3g}; {scores}")
    lines += ["", "## Config", "", "```"]
    lines += [f"{key} = {value!r}" for key, value in dataclasses.asdict(config).items()]
    lines += ["```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _data_lines(datasets: list[Dataset]) -> list[str]:
    """Each dataset's split sizes, and for Rasa data where the splits came from and what each file held."""
    lines = []
    for dataset in datasets:
        sizes = " · ".join(f"{split} {len(sentences)}" for split, sentences in dataset.splits.items())
        lines.append(f"- `{dataset.path}` ({', '.join(dataset.heads)}): {sizes}")
        if dataset.rasa:
            lines += dataset.rasa.report_lines()
    return lines
