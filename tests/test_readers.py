"""Tests for training.readers: the fixtures parse as written, and every malformed input fails
with a DatasetError that names the file and line to fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.readers import DatasetError, Sentence, read_conllu, read_seq_split, read_split

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "data" / "fixtures"
TINY_ATIS = FIXTURES / "tiny_atis"
TINY_EWT = FIXTURES / "tiny_ewt"

CONLLU_HEADER = "# sent_id = 1\n# text = Hi there\n"
HI_THERE = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_\n2\tthere\tthere\tADV\tRB\t_\t1\tadvmod\t1:advmod\t_\n"


def write_seq(folder: Path, seq_in: bytes | str, seq_out: str, label: str | None = None) -> Path:
    """Write a seq.in/seq.out(/label) folder; bytes for seq.in allow bad encodings."""
    folder.mkdir(parents=True, exist_ok=True)
    raw_in = seq_in if isinstance(seq_in, bytes) else seq_in.encode("utf-8")
    (folder / "seq.in").write_bytes(raw_in)
    (folder / "seq.out").write_text(seq_out, encoding="utf-8")
    if label is not None:
        (folder / "label").write_text(label, encoding="utf-8")
    return folder


def assert_error_at(err: pytest.ExceptionInfo[DatasetError], path: Path, line: int, fragment: str) -> None:
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message, message


# --- good inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(("split", "count"), [("train", 40), ("dev", 12), ("test", 12)])
def test_tiny_atis_parses(split: str, count: int) -> None:
    sentences = read_seq_split(TINY_ATIS / split)
    assert len(sentences) == count
    assert all(s.slots is not None and s.intent and s.pos is None for s in sentences)


def test_tiny_atis_first_sentence() -> None:
    first = read_seq_split(TINY_ATIS / "train")[0]
    assert first == Sentence(
        tokens=("i", "want", "to", "fly", "from", "boston", "to", "denver", "on", "monday"),
        slots=("O",) * 5 + ("B-fromloc.city_name", "O", "B-toloc.city_name", "O", "B-depart_date.day_name"),
        intent="atis_flight",
    )


def test_tiny_atis_has_context_pairs_and_closed_label_sets() -> None:
    """Other tests rely on 'leave taipei' / 'arrive in taipei' deciding the role, in every split."""
    train_slots: set[str] = set()
    train_intents: set[str | None] = set()
    for split in ("train", "dev", "test"):
        sentences = read_seq_split(TINY_ATIS / split)
        roles = {
            sentence.slots[i]
            for sentence in sentences
            for i, token in enumerate(sentence.tokens)
            if token == "taipei" and sentence.slots is not None
        }
        assert {"B-fromloc.city_name", "B-toloc.city_name"} <= roles, split
        slots = {tag for s in sentences for tag in s.slots or ()}
        intents = {s.intent for s in sentences}
        if split == "train":
            train_slots, train_intents = slots, intents
            assert "I-toloc.city_name" in slots
            assert intents == {"atis_flight", "atis_airfare", "atis_ground_service"}
        else:
            assert slots <= train_slots and intents <= train_intents, split


@pytest.mark.parametrize(("split", "count"), [("train", 30), ("dev", 10), ("test", 10)])
def test_tiny_ewt_parses(split: str, count: int) -> None:
    sentences = read_conllu(TINY_EWT / f"tiny-ud-{split}.conllu")
    assert len(sentences) == count
    assert all(s.pos is not None and s.slots is None and s.intent is None for s in sentences)


def test_tiny_ewt_skips_multiword_ranges_and_empty_nodes() -> None:
    sentences = read_conllu(TINY_EWT / "tiny-ud-train.conllu")
    assert sentences[1] == Sentence(
        tokens=("I", "do", "n't", "like", "rain", "."), pos=("PRON", "AUX", "PART", "VERB", "NOUN", "PUNCT")
    )
    gapped = next(s for s in sentences if s.tokens[:3] == ("I", "like", "tea"))
    assert gapped.tokens == ("I", "like", "tea", "and", "she", "coffee", ".")


def test_seq_split_tolerates_spacing_and_missing_label(tmp_path: Path) -> None:
    folder = write_seq(tmp_path, "play  some jazz \nstop\n", "O O B-genre \nO\n")
    assert read_seq_split(folder) == [
        Sentence(("play", "some", "jazz"), ("O", "O", "B-genre")),
        Sentence(("stop",), ("O",)),
    ]


def test_seq_split_accepts_bom_and_crlf(tmp_path: Path) -> None:
    folder = write_seq(tmp_path, "\ufeffhi there\r\nbye\r\n", "O O\r\nO\r\n", "greet\r\nbye\r\n")
    assert [(s.tokens, s.intent) for s in read_seq_split(folder)] == [(("hi", "there"), "greet"), (("bye",), "bye")]


def test_conllu_last_sentence_without_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "x.conllu"
    path.write_text(f"{CONLLU_HEADER}{HI_THERE}\n\n{CONLLU_HEADER}{HI_THERE}", encoding="utf-8")
    expected = Sentence(("Hi", "there"), pos=("INTJ", "ADV"))
    assert read_conllu(path) == [expected, expected]


def test_read_split_picks_the_layout() -> None:
    assert read_split(TINY_ATIS, "dev") == read_seq_split(TINY_ATIS / "dev")
    assert read_split(TINY_EWT, "dev") == read_conllu(TINY_EWT / "tiny-ud-dev.conllu")


def test_sentence_rejects_misaligned_tags() -> None:
    with pytest.raises(ValueError, match="2 slots for 1 tokens"):
        Sentence(("hi",), slots=("O", "O"))


# --- malformed seq.in / seq.out / label ----------------------------------------------------------


@pytest.mark.parametrize(
    ("seq_in", "seq_out", "label", "bad_file", "line", "fragment"),
    [
        ("a b\nc d\ne f\n", "O O\nO O\n", None, "seq.out", 3, "line missing"),
        ("a b\nc d\n", "O O\nO O\nO O\n", None, "seq.in", 3, "line missing"),
        ("a\nb\n", "O\nO\n", "x\n", "label", 2, "line missing"),
        ("a\nb c d e f g\n", "O\nO O O O O\n", None, "seq.out", 2, "5 tags for 6 tokens"),
        ("a\n \nb\n", "O\n\nO\n", None, "seq.in", 2, "empty line"),
        ("a\nb c\n", "O\nO X-city\n", None, "seq.out", 2, "'X-city'"),
        ("a\nb c\n", "O\nO B-\n", None, "seq.out", 2, "'B-'"),
        ("a\nb\n", "O\nO\n", "x\n  \n", "label", 2, "empty intent"),
        (b"a\nb\ncaf\xe9\n", "O\nO\nO\n", None, "seq.in", 3, "not valid UTF-8"),
    ],
)
def test_seq_split_errors_name_file_and_line(
    tmp_path: Path, seq_in: bytes | str, seq_out: str, label: str | None, bad_file: str, line: int, fragment: str
) -> None:
    folder = write_seq(tmp_path / "split", seq_in, seq_out, label)
    with pytest.raises(DatasetError) as err:
        read_seq_split(folder)
    assert_error_at(err, folder / bad_file, line, fragment)


@pytest.mark.parametrize("missing", ["seq.in", "seq.out"])
def test_seq_split_missing_file(tmp_path: Path, missing: str) -> None:
    folder = write_seq(tmp_path, "a\n", "O\n")
    (folder / missing).unlink()
    with pytest.raises(DatasetError, match="file not found") as err:
        read_seq_split(folder)
    assert str(folder / missing) in str(err.value)


def test_seq_split_missing_folder_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="folder not found") as err:
        read_seq_split(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value)
    with pytest.raises(DatasetError, match="file is empty"):
        read_seq_split(write_seq(tmp_path / "empty", "", ""))


# --- malformed CoNLL-U ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_line", "fragment"),
    [
        ("3\tyou\tyou\tPRON\tPRP\t_\t1\tvocative", "expected 10 tab-separated columns, found 8"),
        ("three\tyou\tyou\tPRON\tPRP\t_\t1\tvocative\t_\t_", "token id 'three' is not an integer"),
        ("3.x\tyou\tyou\tPRON\tPRP\t_\t1\tvocative\t_\t_", "token id '3.x'"),
        ("3\tyou\tyou\t_\tPRP\t_\t1\tvocative\t_\t_", "missing UPOS for token 'you'"),
        ("3\tyou\tyou\t\tPRP\t_\t1\tvocative\t_\t_", "missing UPOS"),
        ("4\tyou\tyou\tPRON\tPRP\t_\t1\tvocative\t_\t_", "token id 4 out of order, expected 3"),
        ("3\t\tyou\tPRON\tPRP\t_\t1\tvocative\t_\t_", "empty FORM"),
    ],
)
def test_conllu_errors_name_file_and_line(tmp_path: Path, bad_line: str, fragment: str) -> None:
    path = tmp_path / "bad.conllu"
    # Lines 1-5: a good sentence and its blank line; 6-8: comment and two tokens; 9: the bad token.
    path.write_text(f"{CONLLU_HEADER}{HI_THERE}\n# sent_id = 2\n{HI_THERE}{bad_line}\n", encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        read_conllu(path)
    assert_error_at(err, path, 9, fragment)


def test_conllu_bad_encoding_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.conllu"
    path.write_bytes(f"{CONLLU_HEADER}{HI_THERE}".encode() + "3\tcafé\t_\tNOUN\t_\t_\t_\t_\t_\t_\n".encode("latin-1"))
    with pytest.raises(DatasetError) as err:
        read_conllu(path)
    assert_error_at(err, path, 5, "not valid UTF-8")
    with pytest.raises(DatasetError, match="file not found") as err:
        read_conllu(tmp_path / "gone.conllu")
    assert "gone.conllu" in str(err.value)


# --- read_split ----------------------------------------------------------------------------------


def test_read_split_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="allowed: train, dev, test"):
        read_split(TINY_ATIS, "validation")
    with pytest.raises(DatasetError, match=r"folder not found \(looked for dev/seq.in"):
        read_split(tmp_path / "nope", "dev")
    with pytest.raises(DatasetError, match=r"no dev/seq.in and no file matching \*dev.conllu"):
        read_split(tmp_path, "dev")
    (tmp_path / "a-dev.conllu").write_text(HI_THERE, encoding="utf-8")
    (tmp_path / "b-dev.conllu").write_text(HI_THERE, encoding="utf-8")
    with pytest.raises(DatasetError, match="several files match"):
        read_split(tmp_path, "dev")


# --- the real benchmarks, when present -----------------------------------------------------------


def shared_data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.mark.parametrize(
    ("dataset", "split", "count"),
    [
        ("atis", "train", 4478), ("atis", "dev", 500), ("atis", "test", 893),
        ("snips", "train", 13084), ("snips", "dev", 700), ("snips", "test", 700),
        ("ud_english_ewt", "train", 12544), ("ud_english_ewt", "dev", 2001), ("ud_english_ewt", "test", 2077),
    ],
)
def test_shared_datasets_sentence_counts(dataset: str, split: str, count: int) -> None:
    data_dir = shared_data_dir()
    if not data_dir.is_dir():
        pytest.skip(f"no datasets at {data_dir} (set DATA_DIR)")
    sentences = read_split(data_dir / dataset, split)
    assert len(sentences) == count
    if (dataset, split) == ("ud_english_ewt", "train"):
        assert sum(len(s.tokens) for s in sentences) == 204_577
