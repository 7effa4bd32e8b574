"""The batch CLI as a real process under what goes wrong: long lines, one file as input and
output, a crash, Ctrl-C, a slow pipe. Every wait is bounded; every process is killed at the end."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cli import CHUNK_LINES, tag_file
from service.predictor import Predictor
from tests.test_predictor_cli import build_contract_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_contract_model(tmp_path_factory.mktemp("toy") / "1")


class _IntegerSlots(tf.Module):
    """Breaks the contract after loading: its slot labels are numbers, which no decoding expects."""

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
    def serve(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        real = tf.not_equal(tokens, "")
        return {"lengths": tf.reduce_sum(tf.cast(real, tf.int32), axis=1),
                "slots": tf.cast(real, tf.int32), "slot_confidence": tf.where(real, 0.5, 0.0)}


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-m", "service.cli", "tag", "--no-progress", *args]
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def _finish(process: subprocess.Popen, stdin: bytes = b"") -> tuple[int, bytes, str]:
    try:
        out, err = process.communicate(stdin, timeout=120)
    finally:
        process.kill()
    return process.returncode, out, err.decode()


def test_a_line_over_max_chars_gets_an_error_line_untokenized(model_dir):
    code, out, err = _finish(_cli("--model", str(model_dir), "--max-chars", "20"),
                             b"a flight to Oslo\n" + b"x " * 5000 + b"\nto Rome\n")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(rows) == 3 and rows[2]["tokens"] == ["to", "Rome"]
    assert rows[1]["line"] == 2 and rows[1]["error"]["code"] == "text_too_long"
    assert "10000 characters, more than the limit of 20" in rows[1]["error"]["message"]


def test_one_file_as_input_and_output_is_refused_and_left_alone(model_dir, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("to Oslo\n", encoding="utf-8")
    code, _, err = _finish(_cli("--model", str(model_dir), "--input", str(data), "--output", str(tmp_path / "." / "data.txt")))
    assert code == 2 and "--input and --output are the same file" in err and "Traceback" not in err
    assert data.read_text(encoding="utf-8") == "to Oslo\n"


def test_a_crash_has_its_own_exit_code_one_line_and_no_half_file(tmp_path):
    version = tmp_path / "broken" / "1"
    module = _IntegerSlots()
    tf.saved_model.save(module, str(version), signatures={"serving_default": module.serve})
    (version / "metadata.json").write_text(json.dumps(
        {"schema_version": 2, "heads": ["slots"], "labels": {"slots": ["O"]}}), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    code, _, err = _finish(_cli("--model", str(version), "--output", str(target)), b"to Oslo\n")
    assert code == 3 and err.count("\n") == 1 and "crashed" in err and "Traceback" not in err
    assert not target.exists() and not list(tmp_path.glob(".out.jsonl.tmp-*"))


def test_output_is_whole_or_not_at_all(model_dir, tmp_path, monkeypatch):
    """A failure after the first chunk was written leaves the old file, not half a new one."""
    source, target = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("to Oslo\n" * (CHUNK_LINES + 10), encoding="utf-8")
    target.write_text("the previous run\n", encoding="utf-8")
    calls = []
    real = Predictor.tag

    def fail_second(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(self, *args)

    monkeypatch.setattr(Predictor, "tag", fail_second)
    with pytest.raises(RuntimeError):
        tag_file(model_dir, source, target, progress=False)
    assert target.read_text(encoding="utf-8") == "the previous run\n"
    assert {p.name for p in tmp_path.iterdir()} == {"in.txt", "out.jsonl"}  # no temporary file left


def test_a_slow_pipe_sees_each_line_promptly_and_ctrl_c_ends_quietly(model_dir):
    process = _cli("--model", str(model_dir))
    try:
        process.stdin.write(b"a flight to Oslo\n")
        process.stdin.flush()  # and keep stdin open: a chatty producer, not a file
        ready, _, _ = select.select([process.stdout], [], [], 90)
        assert ready, "no output line while the input stayed open"
        assert json.loads(process.stdout.readline())["tokens"] == ["a", "flight", "to", "Oslo"]
        process.send_signal(signal.SIGINT)
        code, _, err = _finish(process)
    finally:
        process.kill()
    assert code == 130 and "interrupted" in err and "Traceback" not in err


def test_ctrl_c_leaves_no_output_file(model_dir, tmp_path):
    target = tmp_path / "out.jsonl"
    process = _cli("--model", str(model_dir), "--output", str(target))
    try:
        process.stdin.write(b"to Oslo\n")
        process.stdin.flush()
        deadline = time.monotonic() + 90
        while not list(tmp_path.glob(".out.jsonl.tmp-*")) and time.monotonic() < deadline:
            time.sleep(0.1)  # the model is loaded once the temporary file is open
        process.send_signal(signal.SIGINT)
        code, _, err = _finish(process)
    finally:
        process.kill()
    assert code == 130 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_goes_away_ends_the_run_quietly(model_dir, tmp_path):
    """`... | head -1`: the CLI stops at the broken pipe with no traceback and no fatal error,
    though its reading thread may still be inside a read."""
    source = tmp_path / "in.txt"
    source.write_text("a flight to Oslo\n" * (3 * CHUNK_LINES), encoding="utf-8")
    process = _cli("--model", str(model_dir), "--input", str(source))
    try:
        assert json.loads(process.stdout.readline())["tokens"][0] == "a"
        process.stdout.close()
        process.stdin.close()
        code = process.wait(timeout=120)
        err = process.stderr.read().decode()
    finally:
        process.kill()
    assert code == 1 and "Traceback" not in err and "Fatal" not in err


def test_unicode_line_breaks_in_a_line_never_split_the_output(model_dir):
    lines = ["to Oslo\u2028now", "a\u2029b \x85 c", "plain"]
    code, out, _ = _finish(_cli("--model", str(model_dir)), "\n".join(lines).encode() + b"\n")
    text = out.decode("utf-8")
    assert code == 0 and len(text.splitlines()) == 3  # str.splitlines breaks at U+2028, U+2029, U+0085
    assert [" ".join(json.loads(row)["tokens"]) for row in text.splitlines()][2] == "plain"
    assert "Oslo" in json.loads(text.splitlines()[0])["tokens"]


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=30))
def test_whatever_the_bytes_one_output_line_per_input_line_in_order(model_dir, tmp_path, lines):
    source, target = tmp_path / "in.bin", tmp_path / "out.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    summary = tag_file(model_dir, source, target, progress=False, max_chars=40)
    rows = target.read_text(encoding="utf-8").splitlines()  # Unicode line breaks included
    assert summary.lines == len(lines) == len(rows)
    for number, row in enumerate(rows, start=1):
        result = json.loads(row)
        assert result.get("line", number) == number and ("tokens" in result) != ("error" in result)
