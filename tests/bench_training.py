"""Training speed, peak memory and reproducibility, against a baseline commit's code in the same run.

    python -m tests.bench_training [--baseline ac42b30] [atis snips ewt default]

For each config, in one run on one machine:
- `tests/profile_training.py` times one epoch of the baseline's code (checked out in a temporary git
  worktree) and of today's: featurizing, building batches, train steps, dev scoring;
- the baseline's training time is its recorded epoch count (the cost table of the baseline's
  BENCHMARKS.md; those runs ended on patience) × its steps per epoch × the median seconds per step
  measured now. Dev scoring and graph tracing are left out of it, so the ratio is a lower bound;
- today's config is trained in full in a child process (peak RSS from `wait4`), and its metrics are
  compared with those of `models/<name>`'s newest export, which `make train-all` trained from the
  same config on whatever machine: the same seed, data and config must give the same metrics.
Prints Markdown tables, then one JSON line per config.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from training.config import RENAMED, TrainConfig

REPO = Path(__file__).resolve().parent.parent
BASELINE = "ac42b30"  # the last commit with the plateau-cut schedule, batches of 32 and the 13-minute budget
NAMES = ("atis", "snips", "ewt", "default")


@contextmanager
def baseline_tree(revision: str) -> Iterator[Path]:
    """The baseline commit checked out in a temporary worktree, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="slot-tagger-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), revision], cwd=REPO, check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=REPO, capture_output=True)


def benchmarks_at(revision: str) -> str:
    """BENCHMARKS.md as it was committed at `revision`."""
    return subprocess.run(["git", "show", f"{revision}:BENCHMARKS.md"], cwd=REPO, check=True, capture_output=True, text=True).stdout


def recorded_epochs(revision: str) -> dict[str, int]:
    """Epochs each model ran at `revision`, from the cost table of its BENCHMARKS.md."""
    text = benchmarks_at(revision)
    return {name: int(epochs) for name, epochs in re.findall(r"^\| (\w+) \| \d+ \| (\d+) \(\d+\) \|", text, re.MULTILINE)}


def data_env() -> dict[str, str]:
    """The environment with DATA_DIR made absolute, since the baseline runs in another folder."""
    data_dir = Path(os.environ.get("DATA_DIR", REPO.parent / "shared" / "data")).resolve()
    return {**os.environ, "DATA_DIR": str(data_dir)}


def profile(tree: Path, name: str) -> dict:
    command = [sys.executable, str(REPO / "tests" / "profile_training.py"), "--tree", str(tree), "--config", f"training/configs/{name}.toml"]
    result = subprocess.run(command, cwd=tree, env=data_env(), check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_in_child(name: str, models_dir: Path) -> dict:
    """Trains today's config in a child process; returns its metadata and peak RSS."""
    command = [sys.executable, "-m", "training.pipeline", "--config", f"training/configs/{name}.toml", "--models-dir", str(models_dir)]
    child = subprocess.Popen(command, cwd=REPO, env=data_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"training {name} failed with exit status {os.waitstatus_to_exitcode(status)}")
    (metadata_path,) = (models_dir / name).glob("*/metadata.json")
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    return {"metadata": metadata, "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def exported_metrics(name: str) -> dict | None:
    versions = sorted((REPO / "models" / name).glob("[0-9]*/metadata.json"), key=lambda p: int(p.parent.name))
    return json.loads(versions[-1].read_text(encoding="utf-8")) if versions else None


def same_config(exported: dict, current: dict) -> bool:
    """The same config, where a field added after the export counts as the same at its default
    (which is how the export was trained) and a renamed field by its new name."""
    # As metadata.json holds them: a tuple default reads back as a list.
    fields = dataclasses.fields(TrainConfig)
    defaults = json.loads(json.dumps({f.name: f.default for f in fields if f.default is not dataclasses.MISSING}))
    exported = {RENAMED.get(key, key): value for key, value in exported.items()}
    return set(exported) <= set(current) and all(exported.get(key, defaults.get(key)) == value for key, value in current.items())


def bench(name: str, baseline: Path, epochs_then: int, scratch: Path) -> dict:
    before, after = profile(baseline, name), profile(REPO, name)
    trained = train_in_child(name, scratch)
    metadata = trained["metadata"]
    baseline_s = epochs_then * before["steps_per_epoch"] * before["step_ms_median"] / 1000
    exported = exported_metrics(name)
    same = None if exported is None or not same_config(exported["config"], metadata["config"]) else exported["metrics"] == metadata["metrics"]
    return {
        "config": name,
        "baseline_epochs": epochs_then,
        "baseline_s": round(baseline_s, 1),
        "training_s": metadata["training_seconds"],
        "ratio": round(baseline_s / metadata["training_seconds"], 2),
        "epochs": metadata["epochs"],
        "best_epoch": metadata["best_epoch"],
        "stopped_because": metadata["stopped_because"],
        "cut_short": metadata["cut_short"],
        "peak_rss_mib": trained["peak_rss_mib"],
        "same_metrics_as_models_dir": same,
        "profile_before": before,
        "profile_after": after,
    }


def markdown(rows: list[dict], revision: str) -> str:
    lines = [
        f"| model | baseline ({revision}): epochs × steps × s/step | today: training time, epochs (best), ended by | speed-up | peak RSS | cut short | same metrics as `models/` |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        before = r["profile_before"]
        lines.append(
            f"| {r['config']} | {r['baseline_epochs']} × {before['steps_per_epoch']} × {before['step_ms_median'] / 1000:.4f} = {r['baseline_s']:.0f} s "
            f"| {r['training_s']:.0f} s, {r['epochs']} ({r['best_epoch']}), {r['stopped_because']} | {r['ratio']:.2f}× "
            f"| {r['peak_rss_mib']:.0f} MiB | {'**CUT SHORT**' if r['cut_short'] else 'no'} | {r['same_metrics_as_models_dir']} |"
        )
    lines += ["", "Profile of one epoch (plain timers, `tests/profile_training.py`):", ""]
    lines += [
        "| model | code | batch | steps | featurize | input per epoch | first step (tracing) | step median | steps per epoch | dev scoring |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for code, p in (("baseline", r["profile_before"]), ("today", r["profile_after"])):
            lines.append(
                f"| {r['config']} | {code} | {p['batch_size']} | {p['steps_per_epoch']} | {p['featurize_s']:.1f} s | {p['input_s_per_epoch']:.2f} s "
                f"| {p['first_step_s']:.1f} s | {p['step_ms_median']:.1f} ms | {p['steps_s_per_epoch']:.1f} s | {p['dev_scoring_s']:.2f} s |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Training speed against a baseline commit, peak memory, reproducibility.")
    parser.add_argument("--baseline", default=BASELINE, help="the commit whose training code is the baseline")
    parser.add_argument("names", nargs="*", default=list(NAMES), help="configs under training/configs/")
    args = parser.parse_args(argv)
    epochs_then = recorded_epochs(args.baseline)
    with baseline_tree(args.baseline) as baseline, tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        rows = [bench(name, baseline, epochs_then[name], Path(scratch) / name) for name in args.names]
    print(markdown(rows, args.baseline))
    print()
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
