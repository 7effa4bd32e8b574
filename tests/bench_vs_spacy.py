"""Paired benchmark against spaCy's CNN tagger trained on the same treebank (run by hand).

    python -m tests.bench_vs_spacy [--model models/ewt] [--rest-model models/default] [--rounds 3]

Batch: whole processes, alternated in one run, `--rounds` of each: our
`python -m service.cli tag --pretokenized` and `python -m tests.spacy_tag` over the EWT train
sentences (one per line, tokens joined by spaces). Each process is also run on the file's first
line alone, right after, and that time (start-up: imports, model load, one sentence) is subtracted,
so tokens/s is the tagging rate of a process already up (null for a run whose start-up took as
long as the whole file, which a neighbour's load can cause). The ratio is of the two medians.
The same is reported per CPU second (user + system, all threads, from `getrusage`), which a
neighbour's load on a shared machine moves less than wall time (`cpu_ratio`).

REST: a real gunicorn (2 workers, `service/gunicorn.conf.py`) serving `--rest-model`, one
keep-alive client sending ATIS test sentences to POST /v1/parse one at a time, against spaCy's
`nlp(text)` on the same sentences in this process (its tokenizer and tagger: the same work as the
endpoint's, minus HTTP). Passes alternate between the two, `--rounds` of each, and each side's
median per-sentence latency over all its passes is reported, with our median / spaCy's.

The spaCy baseline (`tests/spacy_tagger.py`) is trained first if `models/spacy-ewt-tagger` is
absent. Prints one JSON line, dated and with the machine.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench_cli import EWT_TRAIN, machine, make_input
from tests.bench_http import ATIS_TEST, HEADERS, REQUEST_TIMEOUT_S, Server, free_port, warm_up
from tests.spacy_tagger import dev_accuracy, ensure_tagger

ROOT = Path(__file__).resolve().parent.parent
RUN_KEYS = ("full_s", "startup_s", "tokens_per_s", "tokens_per_cpu_s")


def _seconds(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process, which must succeed; CPU is user + system, all threads."""
    cpu_before = _children_cpu()
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def batch_commands(model: str, tagger: Path) -> dict[str, list[str]]:
    """Each side's command without its input and output."""
    return {
        "slot_tagger": [sys.executable, "-m", "service.cli", "tag", "--pretokenized", "--model",
                        model, "--no-progress"],
        "spacy": [sys.executable, "-m", "tests.spacy_tag", "--tagger", str(tagger)],
    }


def batch_pair(model: str, tagger: Path, source: Path, rounds: int) -> dict:
    """Alternate whole processes of both sides; tokens/s with start-up subtracted, medians."""
    tokens = sum(len(line.split()) for line in source.open(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="bench-vs-spacy-") as tmp:
        first = Path(tmp) / "first-line.txt"
        with source.open(encoding="utf-8") as lines:
            first.write_text(next(lines), encoding="utf-8")
        runs: dict[str, dict[str, list[float]]] = {}
        for _ in range(rounds):
            for side, command in batch_commands(model, tagger).items():
                full, full_cpu = _seconds(command + ["--input", str(source), "--output", os.devnull])
                startup, startup_cpu = _seconds(command + ["--input", str(first), "--output", os.devnull])
                record = runs.setdefault(side, {key: [] for key in RUN_KEYS})
                record["full_s"].append(round(full, 3))
                record["startup_s"].append(round(startup, 3))
                record["tokens_per_s"].append(_rate(tokens, full - startup))
                record["tokens_per_cpu_s"].append(_rate(tokens, full_cpu - startup_cpu))
    for record in runs.values():
        for key in ("tokens_per_s", "tokens_per_cpu_s"):
            valid = [rate for rate in record[key] if rate is not None]
            record[f"median_{key}"] = round(statistics.median(valid)) if valid else None
    return {"model": model, "input_lines": sum(1 for _ in source.open(encoding="utf-8")),
            "tokens": tokens, "rounds": rounds, **runs,
            "ratio": _ratio(runs, "median_tokens_per_s"),
            "cpu_ratio": _ratio(runs, "median_tokens_per_cpu_s")}


def _rate(tokens: int, seconds: float) -> int | None:
    """Tokens per second, or None when the start-up run took as long as the full one (a
    neighbour's load on a shared machine can do that), so such a run cannot count."""
    return round(tokens / seconds) if seconds > 0 else None


def _ratio(runs: dict[str, dict], key: str) -> float | None:
    ours, theirs = runs["slot_tagger"][key], runs["spacy"][key]
    return round(ours / theirs, 2) if ours and theirs else None


def _http_pass(port: int, bodies: list[bytes]) -> list[float]:
    """Seconds per request, one keep-alive connection, each body once in order."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    latencies: list[float] = []
    try:
        for body in bodies:
            began = time.perf_counter()
            conn.request("POST", "/v1/parse", body=body, headers=HEADERS)
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - began)
            if response.status != 200:
                raise RuntimeError(f"/v1/parse answered {response.status}")
    finally:
        conn.close()
    return latencies


def _spacy_pass(nlp, sentences: list[str]) -> list[float]:  # noqa: ANN001 - a spaCy Language
    """Seconds per `nlp(text)`, each sentence once in order."""
    latencies: list[float] = []
    for sentence in sentences:
        began = time.perf_counter()
        nlp(sentence)
        latencies.append(time.perf_counter() - began)
    return latencies


def rest_pair(model: str, tagger: Path, sentences: list[str], rounds: int) -> dict:
    """Median /v1/parse latency (one keep-alive client) against spaCy's in-process `nlp(text)`."""
    import spacy

    nlp = spacy.load(tagger)
    _spacy_pass(nlp, sentences)  # warm-up, as the server's workers warm up before /readyz
    bodies = [json.dumps({"text": s}).encode() for s in sentences]
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-vs-spacy-") as tmp:
        server = Server(model, free_port(), Path(tmp) / "gunicorn.log")
        try:
            startup_s = server.wait_ready()
            warm_up(server, sentences, seconds=120)
            for _ in range(rounds):
                ours += _http_pass(server.port, bodies)
                theirs += _spacy_pass(nlp, sentences)
        finally:
            server.stop()
    ours_ms = 1000 * statistics.median(ours)
    theirs_ms = 1000 * statistics.median(theirs)
    return {
        "model": model, "sentences": len(sentences), "rounds": rounds, "startup_s": round(startup_s, 2),
        "slot_tagger_http_median_ms": round(ours_ms, 3),
        "spacy_in_process_median_ms": round(theirs_ms, 3),
        "ratio": round(ours_ms / theirs_ms, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_vs_spacy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/ewt", help="our model for the batch pair")
    parser.add_argument("--rest-model", default="models/default", help="the model gunicorn serves")
    parser.add_argument("--rounds", type=int, default=3, help="processes (passes) of each side")
    parser.add_argument("--skip-rest", action="store_true", help="only the batch pair")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "data")),
                        help="folder holding ud_english_ewt/ and atis/ (default: $DATA_DIR)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    data_dir = args.data_dir if args.data_dir.is_absolute() else ROOT / args.data_dir

    tagger = ensure_tagger(data_dir)
    report: dict = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "spacy_tagger": {"path": str(tagger.relative_to(ROOT)), "ewt_dev_upos_acc": dev_accuracy(tagger)},
    }
    with tempfile.TemporaryDirectory(prefix="bench-vs-spacy-") as tmp:
        source = Path(tmp) / "ewt-train.txt"
        make_input(data_dir / EWT_TRAIN, source)
        report["batch"] = batch_pair(args.model, tagger, source, args.rounds)
    if not args.skip_rest:
        atis = (data_dir / ATIS_TEST).read_text(encoding="utf-8").splitlines()
        report["rest"] = rest_pair(args.rest_model, tagger, [s.strip() for s in atis if s.strip()],
                                   args.rounds)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
