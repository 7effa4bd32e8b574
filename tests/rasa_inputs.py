"""Rasa NLU YAML files built from the seq-format benchmarks, for the chatbot benchmarks and the
experiments behind training/configs/chatbot.toml. They go to a scratch folder, never into git.

    python -m tests.rasa_inputs OUT_DIR   # writes the files below from $DATA_DIR/snips and atis
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from training.config import default_data_dir
from training.convert import seq_to_rasa_yaml
from training.readers import Sentence, read_seq_split

SEED = 0  # which examples the subsets draw
PER_INTENT = (10, 25, 50, 100)  # the learning curve's points, beside all of train
SMALL_PER_INTENT = 43  # SNIPS's 7 intents × 43 = 301 examples, "about 40 per intent"
LARGE = 10_000


def sample_per_intent(sentences: list[Sentence], per_intent: int, seed: int = SEED) -> list[Sentence]:
    """Up to `per_intent` seeded examples of each intent, in their input order."""
    by_intent: dict[str, list[int]] = {}
    for index, sentence in enumerate(sentences):
        by_intent.setdefault(sentence.intent, []).append(index)
    rng = np.random.default_rng(seed)
    kept = {int(i) for intent in sorted(by_intent) for i in rng.permutation(by_intent[intent])[:per_intent]}
    return [s for index, s in enumerate(sentences) if index in kept]


def sample(sentences: list[Sentence], count: int, seed: int = SEED) -> list[Sentence]:
    """`count` seeded examples drawn without regard to intent, in their input order."""
    kept = set(np.random.default_rng(seed).permutation(len(sentences))[:count].tolist())
    return [s for index, s in enumerate(sentences) if index in kept]


def write_rasa_yaml(sentences: list[Sentence], path: Path) -> Path:
    """`sentences` as a Rasa YAML file at `path`, through the seq → YAML converter."""
    with tempfile.TemporaryDirectory(prefix="seq-") as folder:
        columns = {
            "seq.in": [" ".join(s.tokens) for s in sentences],
            "seq.out": [" ".join(s.slots) for s in sentences],
            "label": [s.intent for s in sentences],
        }
        for name, lines in columns.items():
            (Path(folder) / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        document, _ = seq_to_rasa_yaml(Path(folder))
    path.write_text(document, encoding="utf-8")
    return path


def build(out_dir: Path, data_dir: Path | None = None) -> dict[str, Path]:
    """The benchmark's input files in `out_dir`, by name: each SNIPS and ATIS split whole
    (`snips_train`, `atis_dev`, ...), `snips_10k`, `snips_300` and `snips_N_per_intent`."""
    data_dir = data_dir or default_data_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for corpus in ("snips", "atis"):
        for split in ("train", "dev", "test"):
            document, _ = seq_to_rasa_yaml(data_dir / corpus / split)
            files[f"{corpus}_{split}"] = out_dir / f"{corpus}_{split}.yml"
            files[f"{corpus}_{split}"].write_text(document, encoding="utf-8")
    train = read_seq_split(data_dir / "snips" / "train")
    files["snips_10k"] = write_rasa_yaml(sample(train, LARGE), out_dir / "snips_10k.yml")
    files["snips_300"] = write_rasa_yaml(sample_per_intent(train, SMALL_PER_INTENT), out_dir / "snips_300.yml")
    for count in PER_INTENT:
        name = f"snips_{count}_per_intent"
        files[name] = write_rasa_yaml(sample_per_intent(train, count), out_dir / f"{name}.yml")
    return files


if __name__ == "__main__":
    for name, path in build(Path(sys.argv[1])).items():
        print(f"{name}: {path}")
