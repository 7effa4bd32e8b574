"""Command line: tag a file of sentences with an exported model, streaming.

`python -m service.cli tag --model models/<name> [--input FILE|-] [--output FILE|-] ...`

`main` only parses options, prints and picks the exit code; `tag_file` does the work and
returns a `TagSummary`, so tests and the benchmark call it directly. Input is read in chunks
of `CHUNK_LINES` lines, so memory stays flat however large the file is; a worker thread runs
the model on one chunk while the main thread tokenizes the next and renders the one before.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from service.tensorflow_env import apply_serving_defaults

apply_serving_defaults()  # before anything imports TensorFlow

from tqdm import tqdm  # noqa: E402

from service.errors import SlotTaggerError, UndecodableInput  # noqa: E402
from service.model_store import LoadedModel, load_model  # noqa: E402
from service.predictor import Predictor  # noqa: E402
from service.settings import INTENT_RANKING  # noqa: E402
from service.tokenizer import Token, tokenize_texts  # noqa: E402

CHUNK_LINES = 4096  # lines read, tagged and written at a time: bounds memory, feeds batches
FORMATS = ("json", "conll")
STDIO = "-"
BOM = b"\xef\xbb\xbf"
# One encoder for every line: `json.dumps` with an option builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False)


@dataclass(frozen=True)
class TagSummary:
    """How a run went: `failed` lines got an error line instead of tags."""

    lines: int
    failed: int


def tag_file(
    model_path: str | Path | LoadedModel,
    input: str | Path = STDIO,  # noqa: A002 - the name the CLI option and callers use
    output: str | Path = STDIO,
    pretokenized: bool = False,
    fmt: str = "json",
    batch_size: int = 256,
    progress: bool | None = None,
    intent_ranking: int = INTENT_RANKING,
) -> TagSummary:
    """Tag every line of `input` into `output` ("-" means stdin / stdout), in order.

    `model_path` may also be a `LoadedModel` already in memory, so a caller tagging several
    files (the benchmark) loads once. `progress=None` shows a bar only when stderr is a TTY.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    model = model_path if isinstance(model_path, LoadedModel) else load_model(Path(model_path))
    predictor = Predictor(model, batch_size=batch_size, intent_ranking=intent_ranking)
    show = sys.stderr.isatty() if progress is None else progress
    lines = failed = 0
    with (
        _open_binary(input, "rb") as source,
        _open_binary(output, "wb") as sink,
        tqdm(unit=" lines", file=sys.stderr, disable=not show) as bar,
        ThreadPoolExecutor(max_workers=1) as tagger,
    ):

        def write(results: list[dict]) -> int:
            sink.write("".join(_render(result, fmt) for result in results).encode("utf-8"))
            sink.flush()
            bar.update(len(results))
            return sum("error" in result for result in results)

        # Three chunks in flight: while the worker thread runs the model on one (TensorFlow
        # releases the GIL), this thread tokenizes the next and renders the one before.
        pending: tuple[_Chunk, Future[list[dict]]] | None = None
        for lines_read in _chunks(source):
            chunk = _read_chunk(lines_read, lines + 1, pretokenized)
            tagging = tagger.submit(predictor.tag, chunk.tokens, chunk.texts)
            lines += len(lines_read)
            if pending is not None:
                failed += write(_finish(*pending))
            pending = (chunk, tagging)
        if pending is not None:
            failed += write(_finish(*pending))
    return TagSummary(lines=lines, failed=failed)


@dataclass(frozen=True)
class _Chunk:
    """Lines read and tokenized: `results` holds the decoding errors, `texts` the other lines."""

    first_line: int
    results: list[dict]
    positions: list[int]  # where each of `texts` sits in `results`
    texts: list[str]
    tokens: list[list[Token]]


def _read_chunk(chunk: list[bytes], first_line: int, pretokenized: bool) -> _Chunk:
    """Decode and tokenize one chunk's lines; a line that is not UTF-8 gets its error now."""
    results: list[dict] = [{} for _ in chunk]
    positions: list[int] = []
    texts: list[str] = []
    for i, raw in enumerate(chunk):
        if first_line + i == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            texts.append(raw.rstrip(b"\r\n").decode("utf-8"))
        except UnicodeDecodeError as exc:
            error = UndecodableInput(f"invalid UTF-8 at byte {exc.start}")
            results[i] = {"error": error.to_dict()}
        else:
            positions.append(i)
    return _Chunk(first_line, results, positions, texts, tokenize_texts(texts, pretokenized))


def _finish(chunk: _Chunk, tagging: Future[list[dict]]) -> list[dict]:
    """The chunk's results in line order; a line that failed gets `line` and a message naming it."""
    results = chunk.results
    for i, result in zip(chunk.positions, tagging.result(), strict=True):
        results[i] = result
    for i, result in enumerate(results):
        if "error" in result:
            line = chunk.first_line + i
            error = result["error"]
            message = f"line {line}: {error['message']}"
            results[i] = {"line": line, "error": {**error, "message": message}}
    return results


def _render(result: dict, fmt: str) -> str:
    """One JSON line, or one CoNLL block (comment lines, token rows, a blank line)."""
    if fmt == "json":
        return _JSON.encode(result) + "\n"
    if "error" in result:
        return f"# error = {result['error']['message']}\n\n"
    head = f"# intent = {result['intent']}\n" if "intent" in result else ""
    columns = [result["tokens"]] + [result[key] for key in ("slots", "pos") if key in result]
    rows = "".join("\t".join(row) + "\n" for row in zip(*columns))
    return head + rows + "\n"


def _chunks(source: BinaryIO) -> Iterator[list[bytes]]:
    """Lines in lists of at most CHUNK_LINES, read lazily."""
    lines = iter(source)
    while chunk := list(itertools.islice(lines, CHUNK_LINES)):
        yield chunk


@contextlib.contextmanager
def _open_binary(path: str | Path, mode: str) -> Iterator[BinaryIO]:
    """Open a file, or the process's stdin / stdout for "-" (left open for the caller)."""
    if str(path) == STDIO:
        yield sys.stdin.buffer if "r" in mode else sys.stdout.buffer
        return
    with open(path, mode) as handle:
        yield handle


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service.cli", description="Tag sentences with an exported slot-tagger."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    tag = commands.add_parser("tag", help="tag one sentence per line; write one result per line")
    tag.add_argument("--model", required=True, type=Path,
                     help="models/<name> (newest integer version is used) or a version folder")
    tag.add_argument("--input", default=STDIO,
                     help="UTF-8 text, one sentence per line; - for stdin (default)")
    tag.add_argument("--output", default=STDIO, help="where to write results; - for stdout")
    tag.add_argument("--pretokenized", action="store_true",
                     help="input tokens are already separated by whitespace; do not re-tokenize")
    tag.add_argument("--format", dest="fmt", choices=FORMATS, default="json",
                     help="json: one JSON object per line; conll: token<TAB>slot<TAB>pos rows")
    tag.add_argument("--batch-size", type=_positive_int, default=256,
                     help="sentences per model call (default 256)")
    tag.add_argument("--intent-ranking", type=_non_negative_int, default=INTENT_RANKING, metavar="K",
                     help=f"list the K most likely intents per line (default {INTENT_RANKING}; 0: none)")
    tag.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar on stderr (default: only when stderr is a terminal)")
    return parser


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _int_at_least(text: str, least: int) -> int:
    value = int(text)
    if value < least:
        raise argparse.ArgumentTypeError(f"must be >= {least}, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return 0 when every line was tagged, 1 if some failed, 2 on model errors."""
    args = _parser().parse_args(argv)
    try:
        model = load_model(args.model)
        # TensorFlow and the loaded model are some 380,000 Python objects that live as long as
        # the process; frozen, they are not traversed again by every full collection.
        gc.freeze()
        summary = tag_file(
            model, args.input, args.output, args.pretokenized, args.fmt,
            args.batch_size, args.progress, args.intent_ranking,
        )
    except SlotTaggerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, and keep Python's exit-time
        # flush of stdout from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    print(f"tagged {summary.lines} lines, {summary.failed} failed", file=sys.stderr)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
