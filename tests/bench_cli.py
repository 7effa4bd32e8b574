"""CLI throughput and memory benchmark (not a pytest module: run it by hand).

    python -m tests.bench_cli --make-input /tmp/ewt.txt            # EWT train, one per line
    python -m tests.bench_cli --model models/ewt --input /tmp/ewt.txt

Throughput times only `tag_file --pretokenized` on an already loaded model (reading, tokenizing, tagging,
formatting, writing), median of `--runs`. Peak RSS is that of a separate
`python -m service.cli tag` process on the same file, model load included, since that is
what a user's machine must have. Prints one JSON line, dated and with the machine, so
numbers from different days and machines can be compared.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EWT_TRAIN = Path("ud_english_ewt") / "en_ewt-ud-train.conllu"


def make_input(conllu: Path, target: Path) -> int:
    """Write each sentence's FORM column joined by spaces, one per line; return the count."""
    count = 0
    words: list[str] = []
    with conllu.open(encoding="utf-8") as source, target.open("w", encoding="utf-8") as sink:
        for line in source:
            line = line.rstrip("\n")
            if not line:
                if words:
                    sink.write(" ".join(words) + "\n")
                    count += 1
                words = []
            elif not line.startswith("#"):
                token_id, form = line.split("\t")[:2]
                if token_id.isdigit():  # skip multiword ranges (1-2) and empty nodes (1.1)
                    words.append(form)
        if words:
            sink.write(" ".join(words) + "\n")
            count += 1
    return count


def peak_rss_of_cli(model: Path, source: Path, batch_size: int) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one CLI process; run before any other child."""
    command = [
        sys.executable, "-m", "service.cli", "tag", "--model", str(model), "--input", str(source),
        "--output", os.devnull, "--no-progress", "--pretokenized", "--batch-size", str(batch_size),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=False, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    max_rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return max_rss_kib / 1024, wall


def time_tag_file(model: Path, source: Path, batch_size: int, runs: int) -> dict:
    """Median seconds of `tag_file` over `runs`, with the token count from its output."""
    from service.cli import tag_file
    from service.model_store import load_model

    loaded = load_model(model)
    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "out.jsonl"
        for _ in range(runs):
            start = time.perf_counter()
            summary = tag_file(loaded, source, output, pretokenized=True, batch_size=batch_size, progress=False)
            seconds.append(time.perf_counter() - start)
        with output.open(encoding="utf-8") as results:
            tokens = sum(len(json.loads(line).get("tokens", ())) for line in results)
    median = statistics.median(seconds)
    return {
        "lines": summary.lines,
        "failed": summary.failed,
        "tokens": tokens,
        "runs_s": [round(s, 3) for s in seconds],
        "median_s": round(median, 3),
        "tokens_per_s": round(tokens / median),
        "lines_per_s": round(summary.lines / median),
    }


def machine() -> dict:
    """nproc and the CPU model, so a number is never read without its machine."""
    cpu = platform.processor() or "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu, "python": platform.python_version()}


def _temp_file() -> Path:
    handle, name = tempfile.mkstemp(prefix="ewt-train-", suffix=".txt")
    os.close(handle)
    return Path(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_cli", description=__doc__)
    parser.add_argument("--model", type=Path, help="models/<name> or a version folder")
    parser.add_argument("--input", type=Path, help="one sentence per line (see --make-input)")
    parser.add_argument("--make-input", nargs="?", const="", metavar="FILE",
                        help="write EWT train sentences to FILE (a temp file if none) and use it")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("DATA_DIR"),
                        help="folder holding ud_english_ewt/ (default: $DATA_DIR)")
    parser.add_argument("--batch-size", type=int, default=256, help="sentences per model call")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the median is reported")
    args = parser.parse_args(argv)

    source = args.input
    if args.make_input is not None:
        if args.data_dir is None:
            parser.error("--make-input needs --data-dir or $DATA_DIR")
        source = Path(args.make_input) if args.make_input else _temp_file()
        count = make_input(args.data_dir / EWT_TRAIN, source)
        print(f"wrote {count} sentences to {source}", file=sys.stderr)
        if args.model is None:
            return 0
    if args.model is None or source is None:
        parser.error("give --model and --input FILE (or --make-input)")

    rss_mib, cli_wall = peak_rss_of_cli(args.model, source, args.batch_size)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "model": str(args.model),
        "input": str(source),
        "batch_size": args.batch_size,
        **time_tag_file(args.model, source, args.batch_size, args.runs),
        "cli_peak_rss_mib": round(rss_mib, 1),
        "cli_wall_s_with_load": round(cli_wall, 2),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
