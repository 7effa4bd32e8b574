"""docs/ABLATION.md and docs/ablation.png from the ablation's results (training/ablation.py):
one table, one plot, and for each textbook claim a verdict computed from the numbers.

A claim is "supported" when the two rows' seed ranges do not overlap and the difference goes the
claimed way, "does not hold" when they do not overlap and it goes the other way, and "not shown"
when the ranges overlap: two seeds cannot tell such a difference from noise.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402

Results = dict[str, list[dict]]
Metric = Callable[[dict], float]

DISTANCE_BUCKETS = ("1", "2", "3-4", "5+")


def f1_on_test(result: dict) -> float:
    return result["metrics"]["test"]["slot_f1"]


def unseen_f1(result: dict) -> float:
    return result["metrics"]["dev_unseen_cities"]["slot_f1"]


def role_f1(result: dict) -> float:
    return result["role_test"]["role_f1"]


def far_f1(result: dict) -> float:
    return result["far_test"]["f1"]


def peak_gradient_norm(result: dict) -> float:
    return max(result["largest_gradient_norm"])


def mean_epoch_gradient_norm(result: dict) -> float:
    """The per-epoch largest norms averaged over the run: the whole curve, not its first steps,
    where every row starts from the same weights and so the same norm."""
    return statistics.mean(result["largest_gradient_norm"])


COLUMNS: list[tuple[str, Metric, str]] = [
    ("dev slot F1", lambda r: r["metrics"]["dev"]["slot_f1"], ".2f"),
    ("test slot F1", f1_on_test, ".2f"),
    ("dev intent", lambda r: r["metrics"]["dev"]["intent_accuracy"], ".2f"),
    ("test intent", lambda r: r["metrics"]["test"]["intent_accuracy"], ".2f"),
    ("unseen-city dev F1", unseen_f1, ".2f"),
    ("from/to city F1, test", role_f1, ".2f"),
    ("from/to city F1, unseen-city dev", lambda r: r["role_unseen_dev"]["role_f1"], ".2f"),
    ("role-slot F1 at cue distance ≥ 3, test", far_f1, ".2f"),
    ("largest gradient norm", peak_gradient_norm, ".3g"),
    ("training s", lambda r: r["training_seconds"], ".0f"),
    ("parameters", lambda r: r["parameters"], ",.0f"),
    ("latency ms", lambda r: r["latency_ms"], ".2f"),
]


@dataclass(frozen=True)
class Claim:
    text: str
    metric_name: str
    metric: Metric
    baseline: str  # the row the claim says is worse
    better: str  # the row the claim says is better
    lower_is_better: bool = False


def claims(results: Results) -> list[Claim]:
    depth = sorted(name for name in results if "×" in name)
    best = depth[0].split(" ×")[0] if depth else "lstm bi"
    listed = [
        Claim("A feedforward tagger cannot tell `arrive X` from `leave X`; a recurrent memory can",
              "from/to city F1 on test", role_f1, "none", "lstm uni"),
        Claim("Gates keep long context where a simple RNN forgets (LSTM)",
              "role-slot F1 at cue distance ≥ 3 on test", far_f1, "elman uni", "lstm uni"),
        Claim("Gates keep long context where a simple RNN forgets (GRU)",
              "role-slot F1 at cue distance ≥ 3 on test", far_f1, "elman uni", "gru uni"),
        Claim("Reading both directions beats one", "test slot F1", f1_on_test, "lstm uni", "lstm bi"),
        *[Claim(f"Stacking helps ({name.split('×')[1]} layers of the best cell, {best})", "test slot F1", f1_on_test, best, name)
          for name in depth],
        Claim("Word hashing (letter trigrams) rescues unseen words where a 1-of-N vocabulary with an other bucket cannot",
              "unseen-city dev slot F1", unseen_f1, "1-of-N word + other", "+ trigrams"),
        Claim("Suffix and shape features add to trigrams", "unseen-city dev slot F1", unseen_f1, "+ trigrams", "+ suffix, shape"),
        Claim("Pretrained vectors add to the learned features", "unseen-city dev slot F1", unseen_f1, "+ suffix, shape", "lstm bi"),
        Claim("Gradient clipping keeps a simple RNN's gradients from exploding",
              "mean over epochs of the largest gradient norm before clipping", mean_epoch_gradient_norm,
              "elman bi unclipped", "elman bi", lower_is_better=True),
        Claim("Gradient clipping helps a simple RNN", "test slot F1", f1_on_test, "elman bi unclipped", "elman bi"),
        Claim("Gradient clipping helps an LSTM", "test slot F1", f1_on_test, "lstm bi unclipped", "lstm bi"),
        Claim("Identity initialization with ReLU (IRNN) keeps long context better than a tanh RNN",
              "role-slot F1 at cue distance ≥ 3 on test", far_f1, "elman uni", "irnn uni"),
        Claim("IRNN tags better than a tanh RNN", "test slot F1", f1_on_test, "elman uni", "irnn uni"),
        Claim("Reversed input helps a one-directional LSTM", "test slot F1", f1_on_test, "lstm uni", "lstm uni reversed"),
        Claim("A Jordan network does better than an Elman network (one direction)", "test slot F1", f1_on_test, "elman uni", "jordan uni"),
        Claim("A Jordan network does better than an Elman network (both directions)", "test slot F1", f1_on_test, "elman bi", "jordan bi"),
        Claim("Peepholes help an LSTM", "test slot F1", f1_on_test, "lstm bi", "peephole_lstm bi"),
    ]
    return [claim for claim in listed if claim.baseline in results and claim.better in results]


def verdict(claim: Claim, results: Results) -> str:
    """One sentence: supported, does not hold, or not shown, with the means, the difference and the spread."""
    worse, better = ([claim.metric(r) for r in results[name]] for name in (claim.baseline, claim.better))
    sign = -1 if claim.lower_is_better else 1
    if min(sign * value for value in better) > max(sign * value for value in worse):
        outcome = "**supported**"
    elif max(sign * value for value in better) < min(sign * value for value in worse):
        outcome = "**does not hold**"
    else:
        outcome = "**not shown** (the seed ranges overlap)"
    mean_worse, mean_better = statistics.mean(worse), statistics.mean(better)
    return (f"- {claim.text}: {outcome}. {claim.metric_name}: `{claim.better}` {mean_better:.2f} "
            f"against `{claim.baseline}` {mean_worse:.2f} ({mean_better - mean_worse:+.2f}; "
            f"seed spread ±{_half_range(better):.2f} and ±{_half_range(worse):.2f}).")


def _half_range(values: list[float]) -> float:
    return (max(values) - min(values)) / 2


def _cell(values: list[float], spec: str) -> str:
    mean = statistics.mean(values)
    if len(values) < 2 or not _half_range(values):
        return format(mean, spec)
    return f"{format(mean, spec)} ±{format(_half_range(values), spec.lstrip(','))}"


def table(results: Results) -> list[str]:
    header = ["row", "group", "seeds", *[name for name, _, _ in COLUMNS], "F1 by cue distance 1 / 2 / 3–4 / 5+, test"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, runs in results.items():
        cells = [_cell([metric(r) for r in runs], spec) for _, metric, spec in COLUMNS]
        distance = " / ".join(
            f"{statistics.mean(r['distance_test'][bucket]['f1'] for r in runs):.1f}" for bucket in DISTANCE_BUCKETS
        )
        lines.append(f"| `{name}` | {runs[0]['group']} | {len(runs)} | " + " | ".join(cells) + f" | {distance} |")
    spans = results[next(iter(results))][0]["distance_test"]
    lines += ["", "Gold role-bearing spans per cue distance on test: "
              + ", ".join(f"{bucket}: {spans[bucket]['gold_spans']}" for bucket in (*DISTANCE_BUCKETS, "none")) + "."]
    return lines


def plot(results: Results, path: Path) -> Path:
    figure, (scores, norms) = plt.subplots(1, 2, figsize=(13, 0.32 * len(results) + 2))
    names = list(results)
    for position, name in enumerate(names):
        values = [f1_on_test(r) for r in results[name]]
        scores.barh(position, statistics.mean(values), color="tab:blue", alpha=0.5)
        scores.plot(values, [position] * len(values), "k.")
    scores.set_yticks(range(len(names)), names)
    scores.invert_yaxis()
    floor = min(f1_on_test(r) for runs in results.values() for r in runs)
    scores.set_xlim(max(0.0, floor - 5), 100)
    scores.set_xlabel("ATIS test slot F1 (bar: mean, dots: seeds)")
    scores.set_title("every row")
    for name in ("elman bi", "elman bi unclipped", "lstm bi", "lstm bi unclipped", "irnn bi"):
        for run in results.get(name, []):
            style = "--" if "unclipped" in name else ":" if name.startswith("irnn") else "-"
            norms.plot(range(1, len(run["largest_gradient_norm"]) + 1), run["largest_gradient_norm"],
                       label=f"{name}, seed {run['seed']}", linestyle=style)
    norms.set_yscale("log")
    norms.set_xlabel("epoch")
    norms.set_ylabel("largest gradient norm (before clipping)")
    norms.set_title("clipping on (solid), off (dashed); IRNN, clipped (dotted)")
    norms.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


METHOD_NOTES = [
    "- The Jordan cell (`training/recurrent.py`) remembers only its previous output distribution over the slot"
    " labels, and reads the token features alone, to isolate that memory. In ATIS the word that decides a role"
    " (`from`, `to`, `leave`) is itself tagged `O`, so the label it remembers says nothing of the cue. Mesnil, He,"
    " Deng and Bengio (Interspeech 2013), whose bidirectional Jordan network did best on ATIS, fed each step a window"
    " of neighbouring words as well.",
    "- Reversed input feeds a one-directional encoder the sentence right to left, so each token sees only what comes"
    " after it. In ATIS the cue stands before the slot (`from boston`); Sutskever et al. (2014) reversed the source of"
    " a translation model, where it brings the first source and target words close together.",
    "- Clipping is per weight (`clipnorm`, Keras's), at 5, and the gradient norm recorded is the global norm before"
    " clipping, so a clipped and an unclipped run start from the same norms and part as their weights do.",
    "- The IRNN rows are clipped too (every row but the unclipped two keeps atis.toml's `clipnorm`).",
]


def write_ablation_report(results: Results, docs: Path, command: str = "make ablation") -> Path:
    """Writes docs/ABLATION.md and docs/ablation.png; returns the Markdown's path."""
    docs.mkdir(parents=True, exist_ok=True)
    plot(results, docs / "ablation.png")
    first = results[next(iter(results))][0]
    epochs = sorted({r["max_epochs"] for runs in results.values() for r in runs})
    seeds = sorted({r["seed"] for runs in results.values() for r in runs})
    lines = [
        "# Ablation: the recurrent family and the token features on ATIS",
        "",
        f"Written by `{command}` (`python -m training.ablation`) on {datetime.date.today().isoformat()}, "
        f"on {_machine()}, at commit {_commit()}.",
        f"Every row trains `training/configs/atis.toml` with its overrides for the same budget of "
        f"{', '.join(map(str, epochs))} epochs (early stopping with atis.toml's patience of {first['patience']} epochs)"
        f" with seeds {', '.join(map(str, seeds))}.",
        "Cells show the mean over seeds ± half the range between them. Test figures are reported, never used to choose:"
        " the depth rows take the bidirectional cell with the best mean dev slot F1.",
        "",
        "- `none` reads each token alone, so it has no direction and one row; every recurrent cell has two.",
        "- `lstm bi` is atis.toml itself: all four token features and the GloVe vectors. The feature rows drop the"
        " vectors and then the features one by one, so they read upwards to it.",
        "- The unseen-city dev variant replaces every city in dev with a real city no training sentence holds"
        " (`training/unseen_cities.py`).",
        "- From/to city F1 scores only `fromloc.city_name` and `toloc.city_name` spans, on the sentences that have one"
        " (`training/slot_analysis.py`): telling `arrive X` from `leave X`.",
        "- Cue distance is how many tokens back the nearest role word (`from`, `to`, `leave`, `arrive`, …) stands from"
        " a role-bearing slot (`fromloc.*`, `toloc.*`, `depart_*`, `arrive_*`, `return_*`, `stoploc.*`).",
        "- Latency is the median time to tag one dev sentence through the REST path (the compiled single-sentence"
        " signature), in the ablation's process.",
        "",
        *table(results),
        "",
        "![ablation](ablation.png)",
        "",
        "## The claims",
        "",
        *[verdict(claim, results) for claim in claims(results)],
        "",
        "## How the variants are built, which bears on reading them",
        "",
        *METHOD_NOTES,
        "",
    ]
    path = docs / "ABLATION.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}"


def _commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"
