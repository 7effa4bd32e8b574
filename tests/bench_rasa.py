"""Chatbot data (Rasa NLU YAML) through `make train DATA=...`: time, dev and test figures.

    DATA_DIR=../shared/data python -m tests.bench_rasa [--plot docs/learning_curve.png]

Builds its inputs from SNIPS in a scratch folder (tests/rasa_inputs.py; nothing is committed),
trains each in a child process with the command `make train DATA=... NAME=... DEV=... TEST=...`
runs (read from `make -n`, plus `--models-dir` into the scratch folder) and measures:
- a 10,000-example file drawn from SNIPS train: wall time of the whole command, training time, dev
  and test figures;
- a 301-example file (43 per intent): the same, and the same data with no time limit
  (`NO_LIMIT`: many more optimizer steps), whose best dev score the default run should be within
  0.5 points of;
- the round trip: all of SNIPS train converted to YAML, against the native `snips` config's test
  figures in models/snips/<newest>/metadata.json;
- a learning curve of SNIPS test slot (entity) F1 and intent accuracy on 10, 25, 50, 100 and all
  examples per intent (the "all" point is the round-trip run), plotted to `--plot`.
Every run is given SNIPS dev as DEV (so early stopping sees the same dev at every size) and
SNIPS test as TEST. Prints Markdown, then one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.rasa_inputs import PER_INTENT, build

REPO = Path(__file__).resolve().parent.parent
# Four times chatbot.toml's min_steps and no early stop before them: the score the
# 301-example data reaches with no time limit.
NO_LIMIT = {"min_steps": 6000, "patience": 100}
TARGET_MINUTES = {"snips_10k": 5.0, "snips_300": 1.0}
ROUND_TRIP_TOLERANCE = 0.3  # points of test slot F1 and intent accuracy
NO_LIMIT_TOLERANCE = 0.5  # points of dev score


def make_train_command(data: Path, name: str, dev: Path, test: Path) -> list[str]:
    """The command `make train DATA=... NAME=... DEV=... TEST=...` runs, as make prints it."""
    variables = [f"DATA={data}", f"NAME={name}", f"DEV={dev}", f"TEST={test}"]
    result = subprocess.run(["make", "-n", "--no-print-directory", "train", *variables], cwd=REPO,
                            capture_output=True, text=True, check=True)
    return shlex.split(result.stdout.splitlines()[-1])


def train(files: dict[str, Path], data: str, scratch: Path, name: str | None = None, overrides: dict | None = None) -> dict:
    """Trains `files[data]` with SNIPS dev and test in a child process; returns its figures."""
    name = name or data.replace("_", "-")
    command = make_train_command(files[data], name, files["snips_dev"], files["snips_test"])
    command += ["--models-dir", str(scratch / "models")]
    for key, value in (overrides or {}).items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    (path,) = (scratch / "models" / name).glob("*/metadata.json")  # stdout also holds the trainer's time estimate
    metadata = json.loads(path.read_text(encoding="utf-8"))
    (info,) = metadata["data"].values()
    return {
        "run": name,
        "examples": info["train"],
        "overrides": overrides or {},
        "wall_s": round(wall, 1),
        "training_s": metadata["training_seconds"],
        "load_before": round(load_before, 2),
        "epochs": metadata["epochs"],
        "best_epoch": metadata["best_epoch"],
        "steps": metadata["epochs"] * metadata["steps_per_epoch"],
        "peak_learning_rate": metadata["peak_learning_rate"],
        "stopped_because": metadata["stopped_because"],
        "cut_short": metadata["cut_short"],
        "dev": _figures(metadata["metrics"]["dev"]),
        "test": _figures(metadata["metrics"]["test"]),
    }


def _figures(metrics: dict) -> dict:
    figures = {"slot_f1": metrics["slot_f1"], "intent_accuracy": metrics["intent_accuracy"]}
    return {**figures, "score": round((figures["slot_f1"] + figures["intent_accuracy"]) / 2, 2)}


def native_snips(models_dir: Path) -> dict | None:
    """Test figures of the newest `models_dir`/snips export, trained by `make train MODEL=snips`."""
    versions = sorted((models_dir / "snips").glob("[0-9]*/metadata.json"), key=lambda p: int(p.parent.name))
    if not versions:
        return None
    metadata = json.loads(versions[-1].read_text(encoding="utf-8"))
    return {"path": str(versions[-1].parent), **_figures(metadata["metrics"]["test"])}


def plot(curve: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(point["per_intent"]) for point in curve]
    figure, axis = plt.subplots(figsize=(6, 3.6))
    axis.plot(labels, [p["test"]["slot_f1"] for p in curve], marker="o", label="test entity (slot) F1")
    axis.plot(labels, [p["test"]["intent_accuracy"] for p in curve], marker="s", label="test intent accuracy")
    for index, point in enumerate(curve):
        axis.annotate(f"{point['test']['slot_f1']:.1f}", (index, point["test"]["slot_f1"]), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
    axis.set_xlabel("training examples per intent (SNIPS, 7 intents)")
    axis.set_ylabel("%")
    axis.set_ylim(0, 100)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    axis.set_title("Chatbot defaults on little data (make train DATA=...)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _row(r: dict) -> str:
    return (f"| {r['run']} | {r['examples']} | {r['wall_s']:.0f} s ({r['training_s']:.0f} s) | {r['load_before']:.2f} "
            f"| {r['steps']} ({r['epochs']} epochs, best {r['best_epoch']}; peak rate {r['peak_learning_rate']:g}) | {r['dev']['slot_f1']:.2f} / {r['dev']['intent_accuracy']:.2f} "
            f"| {r['test']['slot_f1']:.2f} / {r['test']['intent_accuracy']:.2f} | {'**CUT SHORT**' if r['cut_short'] else 'no'} |")


def markdown(large: dict, small: dict, unlimited: dict, round_trip: dict, native: dict | None, curve: list[dict], plot_path: Path) -> str:
    lines = [
        "| run | train examples | wall time of the command (of which training) | load average before | optimizer steps run | dev slot F1 / intent | test slot F1 / intent | cut short |",
        "|---|---|---|---|---|---|---|---|",
        *(_row(r) for r in (large, small, unlimited, round_trip)),
        "",
    ]
    for run in (large, small):
        minutes = run["wall_s"] / 60
        target = TARGET_MINUTES[run["run"].replace("-", "_")]
        lines.append(f"- {run['run']}: {minutes:.1f} min against a target of ≤ {target:g} min: {'met' if minutes <= target else '**not met**'}")
    gap = unlimited["dev"]["score"] - small["dev"]["score"]
    lines.append(f"- snips-300 dev score (mean of slot F1 and intent accuracy) {small['dev']['score']:.2f} against "
                 f"{unlimited['dev']['score']:.2f} with no time limit ({unlimited['steps']} steps): {abs(gap):.2f} points {'behind' if gap > 0 else 'ahead'}, "
                 f"target ≤ {NO_LIMIT_TOLERANCE}: {'met' if gap <= NO_LIMIT_TOLERANCE else '**not met**'}")
    if native is None:
        lines.append("- round trip: there is no models/snips export, so no native figures to compare with (run `make train MODEL=snips`)")
    else:
        slot, intent = (round_trip["test"][key] - native[key] for key in ("slot_f1", "intent_accuracy"))
        met = abs(slot) <= ROUND_TRIP_TOLERANCE and abs(intent) <= ROUND_TRIP_TOLERANCE
        lines.append(f"- round trip: SNIPS test slot F1 {round_trip['test']['slot_f1']:.2f} and intent accuracy "
                     f"{round_trip['test']['intent_accuracy']:.2f} through Rasa YAML against {native['slot_f1']:.2f} and "
                     f"{native['intent_accuracy']:.2f} for the native `snips` config ({native['path']}): "
                     f"{slot:+.2f} and {intent:+.2f} points, target within ±{ROUND_TRIP_TOLERANCE}: {'met' if met else '**not met**'}")
    lines += [
        "",
        "Learning curve (SNIPS test; SNIPS dev for early stopping; `all` is the round-trip run):",
        "",
        "| examples per intent | train examples | test entity (slot) F1 | test intent acc | dev slot F1 / intent | optimizer steps | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in curve:
        lines.append(f"| {p['per_intent']} | {p['examples']} | {p['test']['slot_f1']:.2f} | {p['test']['intent_accuracy']:.2f} "
                     f"| {p['dev']['slot_f1']:.2f} / {p['dev']['intent_accuracy']:.2f} | {p['steps']} | {p['wall_s']:.0f} s |")
    lines += ["", f"![learning curve]({plot_path.relative_to(REPO) if plot_path.is_relative_to(REPO) else plot_path})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chatbot (Rasa NLU) training time, round trip and learning curve.")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "learning_curve.png", help="where the learning-curve PNG goes")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models", help="where the native snips model is (models/snips/<version>)")
    args = parser.parse_args(argv)
    plot_path = args.plot.absolute()
    with tempfile.TemporaryDirectory(prefix="bench-rasa-") as folder:
        scratch = Path(folder)
        files = build(scratch / "data")
        large = train(files, "snips_10k", scratch)
        small = train(files, "snips_300", scratch)
        unlimited = train(files, "snips_300", scratch, name="snips-300-no-limit", overrides=NO_LIMIT)
        round_trip = train(files, "snips_train", scratch, name="snips-round-trip")
        curve = [{"per_intent": n, **train(files, f"snips_{n}_per_intent", scratch)} for n in PER_INTENT]
        curve.append({"per_intent": "all", **round_trip})
    native = native_snips(args.models_dir)
    plot(curve, plot_path)
    print(markdown(large, small, unlimited, round_trip, native, curve, plot_path))
    print()
    for row in (large, small, unlimited, round_trip, *curve[:-1]):
        print(json.dumps(row))
    print(json.dumps({"native_snips_test": native}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
