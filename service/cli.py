"""Command line: tag a file of sentences with an exported model, streaming.

`python -m service.cli tag --model models/<name> [--input FILE|-] [--output FILE|-] ...`

`main` only parses options, prints and picks the exit code; `tag_file` does the work and
returns a `TagSummary`, so tests and the benchmark call it directly. Input is read in chunks
of `CHUNK_LINES` lines, so memory stays flat however large the file is; a worker thread runs
the model on one chunk while the main thread tokenizes the next and renders the one before.
A chunk also ends when input has been slow for `FLUSH_SECONDS`, so a pipe sees its lines
promptly. An output file is written under a temporary name beside it and renamed when the run
ends, so a crash never leaves half a file.

Exit codes: 0 every line tagged, 1 some lines got an error line, 2 a usage, model or file
problem, 3 a crash (a bug: one line on stderr, no traceback), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from service.tensorflow_env import apply_serving_defaults

apply_serving_defaults()  # before anything imports TensorFlow

from tqdm import tqdm  # noqa: E402

from service.errors import InvalidUsage, SlotTaggerError, TextTooLong, UndecodableInput  # noqa: E402
from service.model_store import LoadedModel, load_model  # noqa: E402
from service.predictor import Predictor  # noqa: E402
from service.settings import INTENT_RANKING  # noqa: E402
from service.tokenizer import Token, tokenize_texts  # noqa: E402

CHUNK_LINES = 4096  # lines read, tagged and written at a time: bounds memory, feeds batches
FLUSH_SECONDS = 0.5  # a chunk ends after this long without reaching CHUNK_LINES
READ_BYTES = 1 << 16
MAX_CHARS = 10_000  # characters per line, as the server's SLOT_TAGGER_MAX_TEXT_CHARS
EXIT_CRASH, EXIT_INTERRUPTED = 3, 130
FORMATS = ("json", "conll")
STDIO = "-"
BOM = b"\xef\xbb\xbf"
# One encoder for every line: `json.dumps` with an option builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False)
# Line breaks JSON leaves raw outside ASCII, escaped, so a reader splitting on Unicode line
# breaks (Python's str.splitlines) still sees one line per result.
_LINE_BREAK_ESCAPES = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


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
    max_chars: int = MAX_CHARS,
) -> TagSummary:
    """Tag every line of `input` into `output` ("-" means stdin / stdout), in order.

    `model_path` may also be a `LoadedModel` already in memory, so a caller tagging several
    files (the benchmark) loads once. `progress=None` shows a bar only when stderr is a TTY.
    A line longer than `max_chars` characters gets an error line without being tokenized.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    _refuse_same_file(input, output)
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
        # releases the GIL), this thread tokenizes the next and renders the one before. An empty
        # chunk (input is slow) writes out the one in flight.
        pending: tuple[_Chunk, Future[list[dict]]] | None = None
        for lines_read in _chunks(source):
            if not lines_read:
                if pending is not None:
                    failed += write(_finish(*pending))
                    pending = None
                continue
            chunk = _read_chunk(lines_read, lines + 1, pretokenized, max_chars)
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


def _read_chunk(chunk: list[bytes], first_line: int, pretokenized: bool, max_chars: int) -> _Chunk:
    """Decode and tokenize one chunk's lines; a line that is not UTF-8, or too long, gets its
    error now."""
    results: list[dict] = [{} for _ in chunk]
    positions: list[int] = []
    texts: list[str] = []
    for i, raw in enumerate(chunk):
        if first_line + i == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            text = raw.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError as exc:
            results[i] = {"error": UndecodableInput(f"invalid UTF-8 at byte {exc.start}").to_dict()}
            continue
        if len(text) > max_chars:
            error = TextTooLong(f"{len(text)} characters, more than the limit of {max_chars} (--max-chars)")
            results[i] = {"error": error.to_dict()}
            continue
        texts.append(text)
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
        return _JSON.encode(result).translate(_LINE_BREAK_ESCAPES) + "\n"
    if "error" in result:
        return f"# error = {result['error']['message']}\n\n"
    head = f"# intent = {result['intent']}\n" if "intent" in result else ""
    columns = [result["tokens"]] + [result[key] for key in ("slots", "pos") if key in result]
    rows = "".join("\t".join(row) + "\n" for row in zip(*columns))
    return head + rows + "\n"


def _chunks(source: BinaryIO) -> Iterator[list[bytes]]:
    """Lines in lists of at most CHUNK_LINES, each list closed after FLUSH_SECONDS at most; an
    empty list when no line came in that time. A thread reads, so a stalled pipe never holds
    back the lines already read."""
    lines: queue.Queue = queue.Queue(maxsize=2 * CHUNK_LINES)
    threading.Thread(target=_read_lines, args=(source.fileno(), lines), daemon=True).start()
    while True:
        chunk: list[bytes] = []
        deadline = time.monotonic() + FLUSH_SECONDS
        while len(chunk) < CHUNK_LINES:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(line, OSError):  # the reader's error, raised here in order
                raise line
            if line is None:
                if chunk:
                    yield chunk
                return
            chunk.append(line)
        yield chunk


def _read_lines(descriptor: int, lines: queue.Queue) -> None:
    """Every line of the file `descriptor` (with its b"\\n") into `lines`, then None, or the
    error that stopped the reading. It reads the descriptor itself, not a buffered file, so a
    read still blocked when the CLI exits (Ctrl-C, `| head`) holds no lock that Python's
    shutdown would wait for."""
    pending: list[bytes] = []
    try:
        while block := os.read(descriptor, READ_BYTES):
            start = 0
            while (end := block.find(b"\n", start)) != -1:
                pending.append(block[start : end + 1])
                lines.put(b"".join(pending))
                pending, start = [], end + 1
            if start < len(block):
                pending.append(block[start:])
    except OSError as error:
        lines.put(error)
        return
    if pending:
        lines.put(b"".join(pending))
    lines.put(None)


@contextlib.contextmanager
def _open_binary(path: str | Path, mode: str) -> Iterator[BinaryIO]:
    """Open a file, or the process's stdin / stdout for "-" (left open for the caller). A file
    opened for writing is a temporary one beside it, renamed over it only if the block ends
    without an exception, and removed if it does not."""
    if str(path) == STDIO:
        yield sys.stdin.buffer if "r" in mode else sys.stdout.buffer
        return
    if "r" in mode:
        with open(path, mode) as handle:
            yield handle
        return
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, mode) as handle:
            yield handle
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _refuse_same_file(input: str | Path, output: str | Path) -> None:  # noqa: A002
    """Reading and writing one file would overwrite lines before they are read."""
    if STDIO in (str(input), str(output)):
        return
    source, target = Path(input), Path(output)
    same = source.resolve() == target.resolve() or (target.exists() and source.exists() and source.samefile(target))
    if same:
        raise InvalidUsage(f"--input and --output are the same file ({source}); write to another file")


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
    tag.add_argument("--max-chars", type=_positive_int, default=MAX_CHARS, metavar="N",
                     help=f"a longer line gets an error line instead of being tagged (default {MAX_CHARS})")
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
    """Run the CLI; the exit codes are in the module's docstring."""
    args = _parser().parse_args(argv)
    try:
        model = load_model(args.model)
        # TensorFlow and the loaded model are some 380,000 Python objects that live as long as
        # the process; frozen, they are not traversed again by every full collection.
        gc.freeze()
        summary = tag_file(
            model, args.input, args.output, args.pretokenized, args.fmt,
            args.batch_size, args.progress, args.intent_ranking, args.max_chars,
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
    except KeyboardInterrupt:
        print("interrupted (an --output file is only written by a run that ends)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, not a traceback, and a code of its own
        print(f"error: slot-tagger crashed ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_CRASH
    print(f"tagged {summary.lines} lines, {summary.failed} failed", file=sys.stderr)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
