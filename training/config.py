"""Training configuration: one frozen dataclass, read from a TOML file.

Every hyperparameter lives here with its default, and the whole config is saved beside each
exported model, so a model can always be traced back to exactly how it was trained.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path

from service.export_contract import HEADS
from training.features import TOKEN_FEATURES

REPO_ROOT = Path(__file__).resolve().parent.parent
# The model's folder under models/, so it must not climb out of it or be empty.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CELLS = ("lstm", "gru", "elman", "irnn", "jordan", "peephole_lstm", "none")
MAX_RNN_LAYERS = 3
# Earlier names of fields, still read from config files and --set.
RENAMED = {"lstm_layers": "rnn_layers", "lstm_units": "rnn_units"}


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class TrainConfig:
    name: str
    heads: tuple[str, ...]
    seq_data: str = ""  # folder with train/dev/test in seq.in/seq.out/label format (slots, intent)
    conllu_data: str = ""  # folder with *train.conllu, *dev.conllu, *test.conllu (pos)
    # Rasa NLU data (a .yml/.yaml/.json file or a folder of them) for slots and intent, instead of
    # seq_data. Without rasa_dev, dev is a seeded, intent-stratified tenth of rasa_data held out
    # for early stopping; without rasa_test, there are no test metrics. Relative paths resolve
    # under DATA_DIR like seq_data's; make train DATA=... and train_rasa pass absolute ones.
    rasa_data: str = ""
    rasa_dev: str = ""
    rasa_test: str = ""
    seed: int = 42
    # featurization: the learned token features, from TOKEN_FEATURES ("word" always: its ids are
    # the padding mask); pretrained_vectors below adds frozen vectors
    token_features: tuple[str, ...] = TOKEN_FEATURES
    min_word_count: int = 1  # rarer training words go to the OOV buckets
    oov_buckets: int = 8
    trigram_buckets: int = 16384
    max_trigrams: int = 20  # longer words keep their first trigrams only
    suffix_buckets: int = 4096
    # network
    word_dim: int = 100
    trigram_dim: int = 64
    suffix_dim: int = 32
    shape_dim: int = 8
    # Frozen GloVe vectors (training/vectors.py) beside the learned embeddings: the model keeps the
    # vectors of its training words and of the `vector_extra_words` most frequent other words.
    # why GloVe, not spaCy md: wider gap, no room under 20 MB; see docs/EXPERIMENTS.md#spacy-md-vectors
    pretrained_vectors: bool = False
    # why 10000: 40,000 went over 20 MB, no dev gain; see docs/EXPERIMENTS.md#vector-extra-words-40000
    vector_extra_words: int = 10000
    # The encoder over the token features (training/recurrent.py): a recurrent cell from CELLS, or
    # "none" for a feedforward tagger that reads each token alone.
    cell: str = "lstm"
    bidirectional: bool = True
    rnn_units: int = 128
    rnn_layers: int = 2  # stacked encoders, 1 to MAX_RNN_LAYERS
    reverse_input: bool = False  # a one-directional encoder reads the sentence right to left
    # The intent from a vote of every token (as in Stack-Propagation, Qin et al. 2019) instead of
    # pooled states.
    # why: it also sharpened one-member ATIS slots on dev; see docs/EXPERIMENTS.md#token-voting-intent
    intent_voting: bool = False
    ensemble_size: int = 1  # encoders over the shared embeddings, trained side by side; probabilities averaged
    dropout: float = 0.3
    word_dropout: float = 0.2  # share of known words whose word id is hidden in training
    token_dropout: float = 0.2  # share of known words that also take another position's trigram and suffix ids
    # why no slot-value swapping beside these: rejected on dev; see docs/EXPERIMENTS.md#slot-value-substitution
    # Share of training sentences shown as lower-cased text each epoch. Chatbot users rarely
    # capitalize, and a treebank always does, so without it lower-cased names read as common nouns.
    lowercase_rate: float = 0.0
    # optimization
    batch_size: int = 32
    # why 0.005 over 20 epochs: the old schedule's dev figures in 20 epochs, not 28 to 38 (docs/EXPERIMENTS.md#fast-training-schedule)
    learning_rate: float = 0.005  # the peak, reached after the warm-up
    warmup_epochs: float = 1.0  # linear warm-up from 0, then a cosine decay to 0 at max_epochs
    clipnorm: float = 5.0  # each weight's gradient is clipped to this norm; 0: no clipping
    # Adam updates only the embedding rows a batch looked up (training/optimizer.py), not every row.
    # why: a fifth off each step at the same dev figures; see docs/EXPERIMENTS.md#lazy-adam
    lazy_embedding_updates: bool = True
    # Above 0, dev scoring and export use an exponential moving average of the weights over steps
    # (Polyak averaging) with this momentum, smoothing out the noise of the last steps.
    ema_momentum: float = 0.0
    max_epochs: int = 20  # also the length of the learning-rate schedule
    # At least this many optimizer steps in all: when max_epochs passes over the training data take
    # fewer, each epoch takes ceil(min_steps / max_epochs) steps, running on into the next shuffled
    # pass, so small data gets enough updates while warm-up, patience and the schedule keep their
    # share of the run. 0: an epoch is one pass.
    # why: 24 passes of 301 SNIPS examples left dev slot F1 at 10; see docs/EXPERIMENTS.md#chatbot-defaults
    min_steps: int = 0
    # Smaller data trains better at a higher peak: when max_epochs passes over train take fewer
    # than learning_rate_steps steps, the peak is learning_rate × learning_rate_steps / those
    # steps, at most max_learning_rate. 0: the peak is learning_rate.
    learning_rate_steps: int = 0
    max_learning_rate: float = 0.0
    patience: int = 6  # epochs without dev improvement before stopping
    # A safety net only: a run it stops is marked cut short, since its model depends on the machine.
    max_minutes: float = 30.0
    max_steps_per_epoch: int = 0  # 0 means the whole training set; tests set a few steps

    def data_dir(self, head: str) -> str:
        if head == "pos":
            return self.conllu_data
        return self.rasa_data or self.seq_data


def load_config(path: Path, *override_files: Path, **overrides) -> TrainConfig:
    """Reads a TOML config, then each of `override_files` over it, then `overrides`; unknown keys
    and missing data folders are reported by name."""
    raw = _read_toml(path)
    for file in override_files:
        raw.update(_read_toml(file))
    raw.update(_renamed(overrides, "--set"))
    source = ", ".join(str(file) for file in (path, *override_files))
    _check_keys(raw, source)
    raw["heads"] = tuple(raw.get("heads", ()))
    if "token_features" in raw and isinstance(raw["token_features"], list):
        raw["token_features"] = tuple(raw["token_features"])
    try:
        config = TrainConfig(**raw)
    except TypeError as error:
        raise ConfigError(f"{source}: {error}") from None
    validate(config, source=source)
    return config


def _read_toml(path: Path) -> dict:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    raw = _renamed(raw, str(path))
    _check_keys(raw, str(path))
    return raw


def _renamed(raw: dict, source: str) -> dict:
    """`raw` with the old names of RENAMED fields read as the new ones."""
    for old, new in RENAMED.items():
        if old in raw and new in raw:
            raise ConfigError(f"{source}: {old} is the old name of {new}; give only {new}")
    return {RENAMED.get(key, key): value for key, value in raw.items()}


def _check_keys(raw: dict, source: str) -> None:
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown keys {unknown}; allowed: {sorted(known)}")


def validate(config: TrainConfig, source: str = "config") -> None:
    for field, expected in typing.get_type_hints(TrainConfig).items():
        value = getattr(config, field)
        if not _has_type(value, expected):
            name = getattr(typing.get_origin(expected) or expected, "__name__", str(expected))
            raise ConfigError(f"{source}: {field} must be of type {name}, got {value!r}")
    if not _MODEL_NAME.fullmatch(config.name):
        raise ConfigError(f"{source}: name must be a folder name (letters, digits, '.', '_', '-'), got {config.name!r}")
    if config.vector_extra_words < 0:
        raise ConfigError(f"{source}: vector_extra_words must be 0 or more, got {config.vector_extra_words}")
    if not 0.0 <= config.lowercase_rate <= 1.0:
        raise ConfigError(f"{source}: lowercase_rate must be between 0 and 1, got {config.lowercase_rate}")
    if config.max_epochs < 1 or config.batch_size < 1 or config.patience < 1:
        raise ConfigError(f"{source}: max_epochs, batch_size and patience must be at least 1")
    if config.max_learning_rate and config.max_learning_rate < config.learning_rate:
        raise ConfigError(f"{source}: max_learning_rate must be 0 (off) or at least learning_rate "
                          f"{config.learning_rate}, got {config.max_learning_rate}")
    if config.learning_rate_steps and not config.max_learning_rate:
        raise ConfigError(f"{source}: learning_rate_steps needs max_learning_rate, the highest peak it may raise to")
    for field in ("min_steps", "learning_rate_steps", "max_steps_per_epoch"):
        if getattr(config, field) < 0:
            raise ConfigError(f"{source}: {field} must be 0 or more, got {getattr(config, field)}")
    if config.warmup_epochs < 0:
        raise ConfigError(f"{source}: warmup_epochs must be 0 or more, got {config.warmup_epochs}")
    if not 0.0 <= config.ema_momentum < 1.0:
        raise ConfigError(f"{source}: ema_momentum must be at least 0 and below 1, got {config.ema_momentum}")
    _validate_encoder(config, source)
    bad = [head for head in config.heads if head not in HEADS]
    if not config.heads or bad:
        raise ConfigError(f"{source}: heads must be a non-empty subset of {list(HEADS)}, got {list(config.heads)}")
    if config.rasa_data and config.seq_data:
        raise ConfigError(f"{source}: seq_data and rasa_data both name slot and intent data; keep one")
    if (config.rasa_dev or config.rasa_test) and not config.rasa_data:
        raise ConfigError(f"{source}: rasa_dev and rasa_test need rasa_data to name the training data")
    for head in config.heads:
        if not config.data_dir(head):
            field = "conllu_data" if head == "pos" else "seq_data or rasa_data"
            raise ConfigError(f"{source}: head {head!r} needs {field} to name its dataset")


def _validate_encoder(config: TrainConfig, source: str) -> None:
    if config.cell not in CELLS:
        raise ConfigError(f"{source}: cell must be one of {list(CELLS)}, got {config.cell!r}")
    if not 1 <= config.rnn_layers <= MAX_RNN_LAYERS:
        raise ConfigError(f"{source}: rnn_layers must be 1 to {MAX_RNN_LAYERS}, got {config.rnn_layers}")
    if config.rnn_units < 1:
        raise ConfigError(f"{source}: rnn_units must be at least 1, got {config.rnn_units}")
    if config.cell == "none" and (config.bidirectional or config.reverse_input):
        raise ConfigError(f"{source}: cell 'none' reads each token alone, so it has no direction: "
                          "set bidirectional = false and reverse_input = false")
    if config.reverse_input and config.bidirectional:
        raise ConfigError(f"{source}: reverse_input is for a one-directional encoder; set bidirectional = false")
    if config.cell == "jordan" and not {"slots", "pos"} & set(config.heads):
        raise ConfigError(f"{source}: cell 'jordan' feeds back a token head's labels: heads need 'slots' or 'pos'")
    if config.cell == "jordan" and config.rnn_layers != 1:
        raise ConfigError(f"{source}: cell 'jordan' feeds back the output labels, which only the top layer has: "
                          f"set rnn_layers = 1, got {config.rnn_layers}")
    unknown = [name for name in config.token_features if name not in TOKEN_FEATURES]
    if unknown or "word" not in config.token_features or len(set(config.token_features)) != len(config.token_features):
        raise ConfigError(f"{source}: token_features must be distinct names from {list(TOKEN_FEATURES)} "
                          f"including 'word', got {list(config.token_features)}")
    if config.clipnorm < 0:
        raise ConfigError(f"{source}: clipnorm must be 0 (no clipping) or more, got {config.clipnorm}")


def _has_type(value: object, expected: type) -> bool:
    """isinstance, except that a bool is not a number here ("true" for a count is a mistake) and
    an int is a fine float; `tuple[str, ...]` checks only that it is a tuple."""
    if expected is bool or isinstance(value, bool):
        return expected is bool and isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, typing.get_origin(expected) or expected)


def default_data_dir() -> Path:
    """DATA_DIR from the environment, else the shared benchmark data beside the repository."""
    return Path(os.environ.get("DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def resolve_data_path(folder: str, data_dir: Path) -> Path:
    """Absolute folders are used as given; relative ones are looked up under DATA_DIR."""
    path = Path(folder)
    return path if path.is_absolute() else data_dir / path
