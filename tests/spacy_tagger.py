"""The spaCy baseline of the paired benchmark: a CNN tagger trained once on EWT, predicting UPOS.

    python -m tests.spacy_tagger            # trains models/spacy-ewt-tagger unless it exists

spaCy's `tagger` predicts `Token.tag_`, which `spacy convert` fills from the CoNLL-U XPOS column,
so the treebank is rewritten with its UPOS column copied into XPOS first; the tagger then learns
the same 17 labels as our `pos` head. The pipeline is spaCy's own efficiency config for a tagger
(`spacy init config --pipeline tagger --optimize efficiency`: `tok2vec` + `tagger`), trained
with `spacy train` for `EPOCHS` epochs so it takes minutes, not hours. Its dev tag accuracy is in
`models/spacy-ewt-tagger/meta.json` (`performance.tag_acc`), which `dev_accuracy` reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TAGGER_DIR = REPO_ROOT / "models" / "spacy-ewt-tagger"
EWT = Path("ud_english_ewt")
SPLITS = {"train": "en_ewt-ud-train.conllu", "dev": "en_ewt-ud-dev.conllu"}
EPOCHS = 4
UPOS, XPOS = 3, 4  # CoNLL-U columns (0-based)


def upos_as_xpos(source: Path, target: Path) -> None:
    """Copy `source` to `target` with each token line's XPOS replaced by its UPOS."""
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as sink:
        for line in lines:
            columns = line.rstrip("\n").split("\t")
            if len(columns) == 10:
                columns[XPOS] = columns[UPOS]
                line = "\t".join(columns) + "\n"
            sink.write(line)


def train_tagger(data_dir: Path, target: Path = TAGGER_DIR) -> Path:
    """Train the baseline into `target` (its best dev checkpoint); return `target`."""
    spacy = [sys.executable, "-m", "spacy"]
    with tempfile.TemporaryDirectory(prefix="spacy-ewt-") as tmp:
        work = Path(tmp)
        for split, name in SPLITS.items():
            mapped = work / f"{split}.conllu"
            upos_as_xpos(data_dir / EWT / name, mapped)
            _run(spacy + ["convert", str(mapped), str(work), "--converter", "conllu",
                          "--n-sents", "10"])
        config = work / "config.cfg"
        _run(spacy + ["init", "config", str(config), "--lang", "en", "--pipeline", "tagger",
                      "--optimize", "efficiency"])
        _run(spacy + ["train", str(config), "--output", str(work / "out"),
                      "--paths.train", str(work / "train.spacy"),
                      "--paths.dev", str(work / "dev.spacy"),
                      f"--training.max_epochs={EPOCHS}", "--training.max_steps=0"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(work / "out" / "model-best", target)
    return target


def ensure_tagger(data_dir: Path) -> Path:
    """The baseline's folder, training it first when it is absent."""
    if not (TAGGER_DIR / "meta.json").is_file():
        print(f"training the spaCy baseline into {TAGGER_DIR} ({EPOCHS} epochs)", file=sys.stderr)
        train_tagger(data_dir)
    return TAGGER_DIR


def dev_accuracy(tagger_dir: Path = TAGGER_DIR) -> float:
    """The baseline's EWT dev UPOS accuracy (%), as `spacy train` scored its best checkpoint."""
    meta = json.loads((tagger_dir / "meta.json").read_text(encoding="utf-8"))
    return round(100 * meta["performance"]["tag_acc"], 2)


def _run(command: list[str]) -> None:
    """Run a spaCy command, its chatter on our stderr; fail loudly."""
    subprocess.run(command, check=True, stdout=sys.stderr)


def main() -> int:
    data_dir = Path(os.environ.get("DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    ensure_tagger(data_dir)
    print(json.dumps({"tagger": str(TAGGER_DIR), "dev_upos_acc": dev_accuracy()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
