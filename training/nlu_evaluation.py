"""Evaluation like `rasa test nlu`: the served answers to Rasa examples, scored as a team reads them.

The examples go through the same `Predictor` the server and the CLI use, so entities are scored
on what a client receives: character spans over the raw text, with the learned label
`entity[:role[:group]]`. An entity counts only when its label and its span are exactly the
gold's (strict span F1), so a span widened to whole tokens, or a right entity with the wrong
role, is an error. Intents are scored per intent, with accuracy and macro, micro and weighted
averages (scikit-learn's `classification_report`).

`write_nlu_report` writes into one folder: `nlu_report.json` and `nlu_report.md` (the figures
and per-intent and per-entity tables), `intent_confusion_matrix.png`, `intent_histogram.png`
(confidence of right and wrong intents) and `errors.jsonl` (every example with a wrong intent or
wrong entities, gold beside predicted).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: training machines have no display
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, classification_report  # noqa: E402

from service.model_store import LoadedModel  # noqa: E402
from service.predictor import Predictor  # noqa: E402
from service.slot_labels import slot_label  # noqa: E402
from training.rasa_data import Example  # noqa: E402

Span = tuple[str, int, int]  # (label, start, end)


def evaluate_examples(model: LoadedModel, examples: list[Example]) -> dict[str, Any]:
    """The report of `model` on `examples`: intent and entity figures, and the wrong examples."""
    results = Predictor(model, intent_ranking=0).tag_texts([example.text for example in examples])
    report: dict[str, Any] = {"examples": len(examples)}
    if "intent" in model.heads:
        report["intent"] = _intent_report(examples, results)
    if "slots" in model.heads:
        report["entities"] = _entity_report([_gold_spans(e) for e in examples], [_spans(r) for r in results])
    report["errors"] = [
        error for example, result in zip(examples, results, strict=True) if (error := _error(example, result, model.heads))
    ]
    report["confidences"] = [
        (result["intent_confidence"], result["intent"] == example.intent)
        for example, result in zip(examples, results, strict=True)
        if "intent" in result
    ]
    return report


def _intent_report(examples: list[Example], results: list[dict]) -> dict[str, Any]:
    gold = [example.intent for example in examples]
    predicted = [result["intent"] for result in results]
    table = classification_report(gold, predicted, output_dict=True, zero_division=0)
    confused = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    for intent, row in table.items():
        if isinstance(row, dict) and intent not in ("macro avg", "weighted avg"):
            row["confused_with"] = {p: n for (g, p), n in confused.most_common() if g == intent}
    accuracy = table.pop("accuracy")
    return {
        "accuracy": accuracy,
        # Each example has one gold and one predicted intent, so micro precision, recall and F1
        # all equal accuracy.
        "micro_f1": accuracy,
        "macro_f1": table["macro avg"]["f1-score"],
        "weighted_f1": table["weighted avg"]["f1-score"],
        "per_intent": {k: v for k, v in table.items() if k not in ("macro avg", "weighted avg")},
        "labels": sorted(set(gold) | set(predicted)),
        "gold": gold,
        "predicted": predicted,
    }


def _gold_spans(example: Example) -> set[Span]:
    return {(slot_label(e.entity, e.role, e.group), e.start, e.end) for e in example.entities}


def _spans(result: dict) -> set[Span]:
    return {(e["slot"], e["start"], e["end"]) for e in result.get("entities", [])}


def _entity_report(gold: list[set[Span]], predicted: list[set[Span]]) -> dict[str, Any]:
    """Strict span precision, recall and F1 per entity label, micro (all spans) and macro."""
    true_pos, false_pos, false_neg = Counter(), Counter(), Counter()
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        true_pos.update(label for label, _, _ in gold_spans & predicted_spans)
        false_pos.update(label for label, _, _ in predicted_spans - gold_spans)
        false_neg.update(label for label, _, _ in gold_spans - predicted_spans)
    labels = sorted(set(true_pos) | set(false_pos) | set(false_neg))
    per_entity = {
        label: _scores(true_pos[label], false_pos[label], false_neg[label]) for label in labels
    }
    micro = _scores(sum(true_pos.values()), sum(false_pos.values()), sum(false_neg.values()))
    macro_f1 = sum(row["f1-score"] for row in per_entity.values()) / len(per_entity) if per_entity else 0.0
    return {"strict_span_f1": micro["f1-score"], "micro": micro, "macro_f1": macro_f1, "per_entity": per_entity}


def _scores(true_pos: int, false_pos: int, false_neg: int) -> dict[str, float]:
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1-score": f1, "support": true_pos + false_neg}


def _error(example: Example, result: dict, heads: tuple[str, ...]) -> dict | None:
    """The example, gold beside predicted, when the intent or any entity is wrong; else None."""
    if "error" in result:
        return {"text": example.text, "source": example.source, "error": result["error"]["message"]}
    wrong = []
    if "intent" in heads and result["intent"] != example.intent:
        wrong.append("intent")
    if "slots" in heads and _spans(result) != _gold_spans(example):
        wrong.append("entities")
    if not wrong:
        return None
    gold_entities = [
        {"entity": slot_label(e.entity, e.role, e.group), "start": e.start, "end": e.end, "text": e.text, "value": e.value}
        for e in example.entities
    ]
    predicted_entities = [
        {"entity": e["slot"], "start": e["start"], "end": e["end"], "text": e["text"], "value": e["value"],
         "confidence": e["confidence"]}
        for e in result.get("entities", [])
    ]
    error: dict[str, Any] = {"text": example.text, "source": example.source, "wrong": wrong}
    if "intent" in heads:
        error["intent"] = example.intent
        error["intent_prediction"] = {"name": result["intent"], "confidence": result["intent_confidence"]}
    if "slots" in heads:
        error["entities"] = gold_entities
        error["entity_predictions"] = predicted_entities
    return error


def write_nlu_report(report: dict[str, Any], folder: Path, title: str) -> Path:
    """Writes the report's files into `folder` (created); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    figures = {key: value for key, value in report.items() if key not in ("errors", "confidences")}
    if "intent" in figures:
        figures["intent"] = {k: v for k, v in figures["intent"].items() if k not in ("gold", "predicted")}
        _plot_confusion(report["intent"], folder / "intent_confusion_matrix.png")
        _plot_confidences(report["confidences"], folder / "intent_histogram.png")
    (folder / "nlu_report.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    with (folder / "errors.jsonl").open("w", encoding="utf-8") as errors:
        for error in report["errors"]:
            errors.write(json.dumps(error, ensure_ascii=False) + "\n")
    (folder / "nlu_report.md").write_text(_markdown(report, title), encoding="utf-8")
    return folder


def _plot_confusion(intent: dict[str, Any], path: Path) -> None:
    labels = intent["labels"]
    size = max(5.0, 0.45 * len(labels) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        intent["gold"], intent["predicted"], labels=labels, ax=axis, colorbar=False, xticks_rotation="vertical"
    )
    axis.set_title("intent confusion matrix (rows: gold, columns: predicted)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_confidences(confidences: list[tuple[float, bool]], path: Path) -> None:
    right = [c for c, correct in confidences if correct]
    wrong = [c for c, correct in confidences if not correct]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.hist([right, wrong], bins=[i / 20 for i in range(21)], stacked=True, color=["tab:green", "tab:red"],
              label=[f"right ({len(right)})", f"wrong ({len(wrong)})"])
    axis.set_xlabel("intent confidence")
    axis.set_ylabel("examples")
    axis.set_title("intent prediction confidence")
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _markdown(report: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", "", f"{report['examples']} examples; {len(report['errors'])} with an error "
             "(in `errors.jsonl`).", ""]
    if "intent" in report:
        intent = report["intent"]
        lines += [
            "## Intents", "",
            f"accuracy {_pct(intent['accuracy'])}, micro F1 {_pct(intent['micro_f1'])}, "
            f"macro F1 {_pct(intent['macro_f1'])}, weighted F1 {_pct(intent['weighted_f1'])}",
            "", *_table(intent["per_intent"], "intent"),
            "", "![confusion matrix](intent_confusion_matrix.png) ![confidence](intent_histogram.png)", "",
        ]
    if "entities" in report:
        entities = report["entities"]
        micro = entities["micro"]
        lines += [
            "## Entities (strict: same label, same character span)", "",
            f"F1 {_pct(entities['strict_span_f1'])} (precision {_pct(micro['precision'])}, "
            f"recall {_pct(micro['recall'])}), macro F1 {_pct(entities['macro_f1'])}",
            "", *_table(entities["per_entity"], "entity"), "",
        ]
    return "\n".join(lines)


def _table(rows: dict[str, dict], name: str) -> list[str]:
    lines = [f"| {name} | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, row in rows.items():
        lines.append(f"| {label} | {_pct(row['precision'])} | {_pct(row['recall'])} | "
                     f"{_pct(row['f1-score'])} | {row['support']} |")
    return lines


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"
