"""`make data`: check that the benchmark datasets are where training looks for them.

The datasets are never copied into the repository (their licences and size keep them out of git),
so this only looks in DATA_DIR, reports sentence counts, and says where to get anything missing.
Run as `python -m data.check_data`; exits 1 when something is missing or malformed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from training.readers import SPLITS, DatasetError, read_split

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"

SEQ_DATASETS = ("atis", "snips")
SEQ_FILES = ("seq.in", "seq.out", "label")
UD_DATASET = "ud_english_ewt"

SOURCES = {
    "atis": "the ATIS split of Goo et al. 2018 used by JointBERT: folder data/atis of "
    "https://github.com/monologg/JointBERT",
    "snips": "the SNIPS split of Goo et al. 2018 used by JointBERT: folder data/snips of "
    "https://github.com/monologg/JointBERT",
    UD_DATASET: "the en_ewt-ud-{train,dev,test}.conllu files of "
    "https://github.com/UniversalDependencies/UD_English-EWT",
}


def data_dir() -> Path:
    """DATA_DIR from the environment, else the shared folder beside the repository."""
    return Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR))


def find_missing(root: Path) -> dict[str, list[Path]]:
    """Map each dataset with missing pieces to the paths that were expected but not found."""
    missing: dict[str, list[Path]] = {}
    for name in (*SEQ_DATASETS, UD_DATASET):
        folder = root / name
        if not folder.is_dir():
            missing[name] = [folder]
            continue
        if name == UD_DATASET:
            patterns = [f"*-ud-{split}.conllu" for split in SPLITS]
            absent = [folder / pattern for pattern in patterns if not any(folder.glob(pattern))]
        else:
            expected = [folder / split / file for split in SPLITS for file in SEQ_FILES]
            absent = [path for path in expected if not path.is_file()]
        if absent:
            missing[name] = absent
    return missing


def count_sentences(root: Path) -> dict[str, dict[str, int]]:
    """Sentence count per dataset and split, read with the same readers training uses."""
    return {
        name: {split: len(read_split(root / name, split)) for split in SPLITS}
        for name in (*SEQ_DATASETS, UD_DATASET)
    }


def missing_message(root: Path, missing: dict[str, list[Path]]) -> str:
    lines = [f"Datasets missing in DATA_DIR={root}:"]
    for name, paths in missing.items():
        lines += [f"  missing: {path}" for path in paths]
        lines.append(f"  -> get {name} from {SOURCES[name]}")
    lines.append(
        "Place them as DATA_DIR/atis/{train,dev,test}/{seq.in,seq.out,label}, DATA_DIR/snips/..., "
        "DATA_DIR/ud_english_ewt/en_ewt-ud-{train,dev,test}.conllu (see data/README.md),\n"
        f"or point DATA_DIR at a folder that holds them: DATA_DIR=/path/to/data make data (default: {DEFAULT_DATA_DIR})"
    )
    return "\n".join(lines)


def main() -> int:
    root = data_dir()
    missing = find_missing(root)
    if missing:
        print(missing_message(root, missing), file=sys.stderr)
        return 1
    try:
        counts = count_sentences(root)
    except DatasetError as err:
        print(f"Malformed dataset: {err}", file=sys.stderr)
        return 1
    for name, per_split in counts.items():
        sizes = ", ".join(f"{split} {count}" for split, count in per_split.items())
        print(f"{name}: {sizes} ({root / name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
