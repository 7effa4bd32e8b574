"""Rasa NLU files as the train, dev and test splits of one slots + intent dataset.

A chatbot team has its training data, often one file, rarely a dev file, sometimes a test file.
Dev is what early stopping watches, so without a dev file a seeded, intent-stratified tenth of the
training examples is held out (training.holdout). Without a test file there are no test metrics:
an empty test split, which the pipeline skips and the report names, rather than a figure on data
the model trained or stopped on.

Besides the splits, `RasaSource` keeps what the data's owner needs to check the run: examples,
entities and widened spans per file (training.rasa_alignment), where dev and test came from, the
training data's synonyms (serving will map extracted text to its `value` with them; synonyms of
dev and test files are left out, since evaluation data should not change what the model serves),
the lookup tables and regexes, which are read but not used as features, and each split's examples
as written (text and character spans), for the evaluation that scores what a client receives
(training.nlu_evaluation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from training.config import TrainConfig, resolve_data_path
from training.holdout import hold_out
from training.rasa_alignment import AlignmentReport, align
from training.rasa_data import Example, NluData, read_nlu
from training.readers import DatasetError, Sentence

log = logging.getLogger(__name__)

DEV_SHARE = 0.1


@dataclass(frozen=True)
class RasaSource:
    """Where a Rasa dataset's splits came from, for metadata.json and report.md."""

    files: dict[str, AlignmentReport]  # split -> what each of its files contributed
    dev_source: str
    test_source: str
    synonyms: dict[str, str]
    lookup_tables: int
    regexes: int
    examples: dict[str, list[Example]]  # split -> its examples, in the order of its sentences

    @property
    def unused(self) -> str:
        """The log and report line about lookup tables and regexes, or "" when there are none."""
        if not self.lookup_tables and not self.regexes:
            return ""
        tables = f"{self.lookup_tables} lookup table{'' if self.lookup_tables == 1 else 's'}"
        patterns = f"{self.regexes} regex{'' if self.regexes == 1 else 'es'}"
        return f"{tables} and {patterns} are read but not used as features"

    def metadata(self) -> dict:
        """JSON-ready facts for the dataset's entry in metadata.json."""
        files = {
            split: {
                path: {
                    "examples": report.examples,
                    "entities": report.entities,
                    "span_adjustments": [
                        {"example": a.source, "label": a.label, "annotated": a.before, "trained": a.after}
                        for a in report.adjustments
                    ],
                }
                for path, report in alignment.files.items()
            }
            for split, alignment in self.files.items()
        }
        return {"dev_source": self.dev_source, "test_source": self.test_source, "files": files,
                "unused_lookup_tables": self.lookup_tables, "unused_regexes": self.regexes}

    def report_lines(self) -> list[str]:
        """Markdown lines for report.md: the splits' sources, then each file as read."""
        lines = [f"- dev: {self.dev_source}", f"- test: {self.test_source}"]
        if self.unused:
            lines.append(f"- {self.unused}")
        lines.append(f"- synonyms: {len(self.synonyms)} texts mapped to a value (in metadata.json)")
        for split, alignment in self.files.items():
            before = " (before the dev hold-out)" if split == "train" and "dev" not in self.files else ""
            lines += ["", f"Files read for {split}{before}:", "", "```", alignment.summary(), "```"]
        return lines


def load_rasa_splits(config: TrainConfig, data_dir: Path) -> tuple[Path, dict[str, list[Sentence]], RasaSource]:
    """The path of `config.rasa_data`, its train/dev/test sentences, and where each came from."""
    path, data, train, train_report = _read(config.rasa_data, data_dir)
    files = {"train": train_report}
    examples = {"train": list(data.examples), "test": []}
    if config.rasa_dev:
        dev_path, dev_data, dev, files["dev"] = _read(config.rasa_dev, data_dir)
        examples["dev"] = list(dev_data.examples)
        dev_source = f"read from {dev_path}"
    else:
        pairs = list(zip(data.examples, train, strict=True))  # align gives one sentence per example
        kept, held = hold_out(pairs, DEV_SHARE, config.seed, intent_of=lambda pair: pair[0].intent)
        (examples["train"], train), (examples["dev"], dev) = _unzip(kept), _unzip(held)
        if not dev:
            raise DatasetError(
                f"{path}: too few examples to hold out {DEV_SHARE:.0%} as dev ({len(train)} examples, and an "
                f"intent keeps at least one in train); give a dev file (DEV=... or rasa_dev)"
            )
        dev_source = f"{DEV_SHARE:.0%} of train held out, seed {config.seed}"
    test: list[Sentence] = []
    test_source = "none given, so there are no test metrics"
    if config.rasa_test:
        test_path, test_data, test, files["test"] = _read(config.rasa_test, data_dir)
        examples["test"] = list(test_data.examples)
        test_source = f"read from {test_path}"
    source = RasaSource(
        files, dev_source, test_source, data.synonyms, len(data.lookups), len(data.regexes), examples
    )
    if source.unused:
        log.info("%s", source.unused)
    return path, {"train": train, "dev": dev, "test": test}, source


def _unzip(pairs: list[tuple[Example, Sentence]]) -> tuple[list[Example], list[Sentence]]:
    return [example for example, _ in pairs], [sentence for _, sentence in pairs]


def _read(name: str, data_dir: Path) -> tuple[Path, NluData, list[Sentence], AlignmentReport]:
    """One Rasa file or folder: its path, its data, its examples as BIO sentences, its report."""
    path = resolve_data_path(name, data_dir)
    data = read_nlu(path)
    sentences, report = align(data)
    if not sentences:
        raise DatasetError(f"{path}: no examples (an nlu: list with - intent: blocks and their examples is needed)")
    return path, data, sentences, report
