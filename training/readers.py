"""Dataset readers: ATIS/SNIPS-style `seq.in`/`seq.out`/`label` folders and CoNLL-U files.

Both the benchmarks and the user's own data come through here, so every problem is reported as a
`DatasetError` reading `path:line: what is wrong` - a bad line should be fixable from the message
alone instead of surfacing later as a shape error inside training.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "dev", "test")

# seqeval and the BIO decoder only understand these shapes; anything else is a typo in the data.
_BIO_TAG = re.compile(r"O|[BI]-.+")
_CONLLU_COLUMNS = 10
_UPOS_COLUMN = 3  # zero-based index of column 4
_MULTIWORD_OR_EMPTY_NODE = re.compile(r"[0-9]+-[0-9]+|[0-9]+\.[0-9]+")


@dataclass(frozen=True)
class Sentence:
    """One tokenized sentence with whichever annotations its source provides."""

    tokens: tuple[str, ...]
    slots: tuple[str, ...] | None = None  # BIO slot tags, same length as tokens
    intent: str | None = None
    pos: tuple[str, ...] | None = None  # UPOS tags, same length as tokens

    def __post_init__(self) -> None:
        # Checked here, not only in the readers, because other code builds Sentences too.
        for name, tags in (("slots", self.slots), ("pos", self.pos)):
            if tags is not None and len(tags) != len(self.tokens):
                raise ValueError(f"{len(tags)} {name} for {len(self.tokens)} tokens: {self.tokens}")


class DatasetError(ValueError):
    """Raised for malformed/missing/badly encoded input; str() reads like `path:line: what is wrong`."""


def _error(path: Path, line: int, what: str) -> DatasetError:
    return DatasetError(f"{path}:{line}: {what}")


def _read_lines(path: Path) -> list[str]:
    """Return the file's lines, decoding strictly so a wrong encoding fails at its line
    instead of turning tokens into mojibake."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise _error(path, line, f"not valid UTF-8 (byte 0x{raw[err.start]:02x})") from None
    # Files saved by Windows editors carry a BOM and CRLF endings; neither is part of the data.
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _check_line_counts(first: Path, first_lines: list[str], second: Path, second_lines: list[str]) -> None:
    """Point at the first line that the shorter of two line-aligned files lacks."""
    if len(first_lines) == len(second_lines):
        return
    shorter, count = (first, len(first_lines)) if len(first_lines) < len(second_lines) else (second, len(second_lines))
    raise _error(
        shorter,
        count + 1,
        f"line missing ({first.name} has {len(first_lines)} lines, {second.name} has {len(second_lines)})",
    )


def read_seq_split(folder: Path) -> list[Sentence]:
    """Read a folder of line-aligned `seq.in` (tokens), `seq.out` (BIO tags) and optional `label` (intent)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    tokens_path, tags_path, label_path = folder / "seq.in", folder / "seq.out", folder / "label"
    token_lines = _read_lines(tokens_path)
    tag_lines = _read_lines(tags_path)
    label_lines = _read_lines(label_path) if label_path.exists() else None
    if not token_lines:
        raise DatasetError(f"{tokens_path}: file is empty")
    _check_line_counts(tokens_path, token_lines, tags_path, tag_lines)
    if label_lines is not None:
        _check_line_counts(tokens_path, token_lines, label_path, label_lines)

    sentences = []
    for number, (token_line, tag_line) in enumerate(zip(token_lines, tag_lines), start=1):
        tokens = tuple(token_line.split())  # SNIPS has double and trailing spaces
        if not tokens:
            raise _error(tokens_path, number, "empty line (every line must hold one sentence)")
        tags = tuple(tag_line.split())
        if len(tags) != len(tokens):
            raise _error(tags_path, number, f"{len(tags)} tags for {len(tokens)} tokens")
        for tag in tags:
            if not _BIO_TAG.fullmatch(tag):
                raise _error(tags_path, number, f"tag {tag!r} is not O, B-<slot> or I-<slot>")
        intent = None
        if label_lines is not None:
            intent = label_lines[number - 1].strip()
            if not intent:
                raise _error(label_path, number, "empty intent")
        sentences.append(Sentence(tokens, tags, intent))
    return sentences


def read_conllu(path: Path) -> list[Sentence]:
    """Read the FORM and UPOS columns of a CoNLL-U file, one Sentence per blank-line-separated block."""
    sentences = []
    forms: list[str] = []
    upos: list[str] = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            if forms:
                sentences.append(Sentence(tuple(forms), pos=tuple(upos)))
                forms, upos = [], []
            continue
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        if len(columns) != _CONLLU_COLUMNS:
            raise _error(path, number, f"expected {_CONLLU_COLUMNS} tab-separated columns, found {len(columns)}")
        token_id = columns[0]
        if not (token_id.isascii() and token_id.isdigit()):
            # Multi-word ranges (1-2) and empty nodes (8.1) carry no UPOS of their own.
            if _MULTIWORD_OR_EMPTY_NODE.fullmatch(token_id):
                continue
            raise _error(path, number, f"token id {token_id!r} is not an integer, a range (1-2) or an empty node (8.1)")
        if int(token_id) != len(forms) + 1:
            raise _error(
                path, number, f"token id {token_id} out of order, expected {len(forms) + 1} (missing blank line?)"
            )
        form, tag = columns[1], columns[_UPOS_COLUMN]
        if not form:
            raise _error(path, number, "empty FORM column")
        if tag in ("", "_"):
            raise _error(path, number, f"missing UPOS for token {form!r}")
        forms.append(form)
        upos.append(tag)
    if forms:  # the last sentence may lack its closing blank line
        sentences.append(Sentence(tuple(forms), pos=tuple(upos)))
    return sentences


def read_split(dataset_dir: Path, split: str) -> list[Sentence]:
    """Read one split of the user's data, whichever of the two supported layouts it uses.

    `dataset_dir/<split>/seq.in` (with `seq.out`, optional `label`) wins; otherwise the single
    `dataset_dir/*<split>.conllu` file is read.
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    if (dataset_dir / split / "seq.in").is_file():
        return read_seq_split(dataset_dir / split)
    if not dataset_dir.is_dir():
        raise DatasetError(f"{dataset_dir}: folder not found (looked for {split}/seq.in or *{split}.conllu in it)")
    matches = sorted(dataset_dir.glob(f"*{split}.conllu"))
    if len(matches) > 1:
        names = ", ".join(match.name for match in matches)
        raise DatasetError(f"{dataset_dir}: several files match *{split}.conllu ({names}); keep only one")
    if not matches:
        raise DatasetError(f"{dataset_dir}: no {split}/seq.in and no file matching *{split}.conllu")
    return read_conllu(matches[0])
