"""The batch CLI's speed-ups change no output: against the base commit's CLI, and batch by batch.

`test_cli_bytes_match_base_commit` runs the CLI of commit `tests.cli_identity.BASE_COMMIT` and
this tree's on tiny trained models (all heads; part of speech only, whose batches are capped by
padded cells), over more lines than one chunk, with every kind of bad line;
the other tests pin the batching and decoding helpers to one-sentence-at-a-time answers.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from service.cli import CHUNK_LINES
from service.model_store import load_model
from service.predictor import MAX_BATCH_CELLS, Predictor, _split_rows
from service.tokenizer import split_pretokenized, tokenize, tokenize_texts
from tests.cli_identity import BASE_COMMIT, ROOT, _same_without_added, compare, export_service
from tests.conftest import FIXTURES, tiny_config
from training.pipeline import run

SENTENCES = [
    "show me flights from Boston to Denver on friday",
    "The quick brown fox jumped over the lazy dog .",
    "x",
    "i want   to fly\tto taipei",
    "One two three 4 5 six , seven eight nine ten eleven twelve thirteen fourteen fifteen",
]


def _has_base_commit() -> bool:
    if shutil.which("git") is None:
        return False
    probe = subprocess.run(["git", "cat-file", "-e", f"{BASE_COMMIT}^{{commit}}"], cwd=ROOT,
                           capture_output=True, check=False)
    return probe.returncode == 0


def _input_lines() -> bytes:
    """More lines than a chunk: good sentences, a BOM, CRLF, empty, non-UTF-8, too long."""
    lines = [b"\xef\xbb\xbf" + SENTENCES[0].encode()]
    for i in range(CHUNK_LINES + 300):
        lines.append(" ".join([SENTENCES[i % len(SENTENCES)]] * (1 + i % 4)).encode())
    lines[10] = b""
    lines[11] = b"   \t "
    lines[12] = b"caf\xe9 au lait"
    lines[13] = b" ".join([b"word"] * 600)
    lines[CHUNK_LINES - 1] = SENTENCES[3].encode() + b"\r"
    lines[CHUNK_LINES] = b""
    return b"\n".join(lines) + b"\n"


@pytest.fixture(scope="module")
def tiny_pos_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A part-of-speech-only model: its batches are capped by padded cells (no intent head)."""
    return run(tiny_config(name="tiny_pos", heads=("pos",)), tmp_path_factory.mktemp("models"),
               data_dir=FIXTURES)


@pytest.mark.skipif(not _has_base_commit(), reason=f"needs git and commit {BASE_COMMIT}")
@pytest.mark.parametrize("model", ["tiny_model", "tiny_pos_model"])
def test_cli_bytes_match_base_commit(model: str, request: pytest.FixtureRequest,
                                     tmp_path: Path) -> None:
    source = tmp_path / "input.txt"
    source.write_bytes(_input_lines())
    model_dir = request.getfixturevalue(model)
    records = compare(model_dir, source, export_service(BASE_COMMIT, tmp_path / "base"))
    assert len(records) == 4
    for record in records:
        assert record["bytes"] > 0
        assert record == {**record, "identical": True, "same_stderr": True,
                          "same_exit_code": True, "exit_code": 1}


def test_only_the_added_fields_may_differ_from_the_base(tmp_path: Path) -> None:
    base, new = tmp_path / "base.out", tmp_path / "new.out"
    base.write_text('{"intent": "a", "entities": [{"slot": "city", "confidence": 0.5}]}\n', encoding="utf-8")
    added = '{"intent": "a", "intent_ranking": [], "entities": [{"slot": "city", "confidence": 0.5, "value": "x"}]}\n'
    new.write_text(added, encoding="utf-8")
    assert _same_without_added(base, new)
    new.write_text(added.replace("0.5", "0.6"), encoding="utf-8")
    assert not _same_without_added(base, new)
    new.write_text(added + "\n", encoding="utf-8")
    assert not _same_without_added(base, new)


def test_batched_outputs_equal_one_sentence_at_a_time(tiny_model: Path) -> None:
    predictor = Predictor(load_model(tiny_model), batch_size=3)
    sentences = [s.split() for s in SENTENCES] * 3
    together = predictor.predict(sentences)
    alone = [predictor.predict([sentence])[0] for sentence in sentences]
    assert together == alone
    assert set(together[0]) == {"slots", "slot_confidence", "pos", "pos_confidence", "intent",
                                "intent_confidence", "intent_ranking"}
    assert [len(outputs["pos"]) for outputs in together] == [len(s) for s in sentences]


def _batches(heads: tuple[str, ...], widths: list[int]) -> list[list[int]]:
    model = SimpleNamespace(heads=heads, metadata={"labels": {}})  # batching reads only heads
    predictor = Predictor(model, batch_size=4)
    return list(predictor._batches(list(range(len(widths))), [["w"] * w for w in widths]))


WIDTHS = [1, 1, 2, 3, 3, 3, 3, 3, 40, 900, 5000, 5000]


def test_batches_respect_both_caps_and_keep_every_sentence() -> None:
    batches = _batches(("slots", "pos"), WIDTHS)
    assert [i for batch in batches for i in batch] == list(range(len(WIDTHS)))
    for batch in batches:
        assert 1 <= len(batch) <= 4
        assert len(batch) == 1 or len(batch) * max(WIDTHS[i] for i in batch) <= MAX_BATCH_CELLS
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [10], [11]]


def test_batches_of_intent_models_are_runs_of_batch_size() -> None:
    assert _batches(("intent", "pos"), WIDTHS) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_split_rows_cuts_padding_and_rounds() -> None:
    arrays = {
        "lengths": np.array([2, 1], dtype=np.int32),
        "pos": np.array([[b"NOUN", b"VERB"], [b"X", b""]], dtype=object),
        "pos_confidence": np.array([[0.9, 0.123456], [0.5, 0.0]], dtype=np.float32),
        "intent": np.array([b"flight", b"caf\xc3\xa9"], dtype=object),
        "intent_confidence": np.array([0.99999, 0.25], dtype=np.float32),
    }
    rows = _split_rows(arrays, ("pos", "intent"), arrays["lengths"])
    assert rows == [
        {"pos": ["NOUN", "VERB"], "pos_confidence": [0.9, 0.1235], "intent": "flight",
         "intent_confidence": 1.0},
        {"pos": ["X"], "pos_confidence": [0.5], "intent": "café", "intent_confidence": 0.25},
    ]
    assert list(rows[0]) == ["pos", "pos_confidence", "intent", "intent_confidence"]


def test_tokenize_texts_picks_the_splitter() -> None:
    texts = ["New York,  ok", "a\u00a0b\tc"]
    assert tokenize_texts(texts, pretokenized=True) == [split_pretokenized(t) for t in texts]
    assert tokenize_texts(texts) == [tokenize(t) for t in texts]
    assert [t.text for t in tokenize_texts(texts)[0]] == ["New", "York", ",", "ok"]
