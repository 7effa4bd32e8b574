"""Rasa examples (text with character spans) turned into token-level BIO Sentences.

Tokens come from service.tokenizer, the tokenizer serving uses, so the tagger trains on exactly
the tokens it will later see. Rasa spans are characters and need not fall on those tokens'
boundaries (`[Boston]ians`, a span that swallowed a space): such a span is widened to the whole
tokens it touches and reported as an Adjustment, never changed silently, so the data's owner can
fix the annotation if the widening is wrong. Roles and groups go into the label through
service.slot_labels, which keeps them learnable and reversible.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from service.slot_labels import slot_label
from service.tokenizer import tokenize
from training.rasa_data import Example, NluData
from training.readers import DatasetError, Sentence


@dataclass(frozen=True)
class Adjustment:
    """One entity span widened to token boundaries: `before` was annotated, `after` is trained on."""

    source: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class FileReport:
    """What one file contributed."""

    examples: int = 0
    entities: int = 0
    adjustments: tuple[Adjustment, ...] = ()


@dataclass(frozen=True)
class AlignmentReport:
    """Per-file counts, keyed like NluData.per_file_counts."""

    files: dict[str, FileReport]

    def summary(self) -> str:
        """One line per file, then each adjustment, for printing where the data's owner sees it."""
        lines = []
        for path, report in self.files.items():
            lines.append(
                f"{path}: {report.examples} examples, {report.entities} entities, "
                f"{len(report.adjustments)} widened to token boundaries"
            )
            lines.extend(f"  {a.source}: {a.label} {a.before!r} -> {a.after!r}" for a in report.adjustments)
        return "\n".join(lines)


def align_example(example: Example) -> tuple[Sentence, tuple[Adjustment, ...]]:
    """The example as tokens with BIO slot tags, and the spans that had to be widened."""
    tokens = tokenize(example.text)
    if not tokens:
        raise DatasetError(f"{example.source}: the text has no tokens")
    tags = ["O"] * len(tokens)
    owners: list[str | None] = [None] * len(tokens)
    adjustments = []
    for entity in example.entities:
        label = slot_label(entity.entity, entity.role, entity.group)
        covered = [i for i, token in enumerate(tokens) if token.start < entity.end and token.end > entity.start]
        if not covered:
            raise DatasetError(f"{example.source}: entity {label!r} ({entity.text!r}) covers no token")
        start, end = tokens[covered[0]].start, tokens[covered[-1]].end
        if (start, end) != (entity.start, entity.end):
            adjustments.append(Adjustment(example.source, label, entity.text, example.text[start:end]))
        for position, i in enumerate(covered):
            if owners[i] is not None:
                raise DatasetError(
                    f"{example.source}: entities {owners[i]!r} and {label!r} share the token "
                    f"{tokens[i].text!r} once widened to whole tokens"
                )
            owners[i] = label
            tags[i] = f"{'B' if position == 0 else 'I'}-{label}"
    sentence = Sentence(tuple(token.text for token in tokens), tuple(tags), example.intent)
    return sentence, tuple(adjustments)


def align(data: NluData) -> tuple[list[Sentence], AlignmentReport]:
    """Every example of `data` as a Sentence, with what each file contributed and what was widened."""
    sentences = []
    examples, entities = Counter(), Counter()
    adjustments: dict[str, list[Adjustment]] = {path: [] for path in data.per_file_counts}
    for example in data.examples:
        sentence, widened = align_example(example)
        sentences.append(sentence)
        path = example.source.rsplit(":", 1)[0]
        examples[path] += 1
        entities[path] += len(example.entities)
        adjustments.setdefault(path, []).extend(widened)
    files = {path: FileReport(examples[path], entities[path], tuple(widened)) for path, widened in adjustments.items()}
    return sentences, AlignmentReport(files)
