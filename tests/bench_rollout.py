"""A new model version rolled out under load, against a real gunicorn on loopback (run by hand).

    python -m tests.bench_rollout --model models/default [--clients 8] [--seconds 10]

Copies the newest version of `--model` into a scratch `models/<name>/1`, starts gunicorn (2
workers, `SLOT_TAGGER_POLL_SECONDS=1`) on a free 127.0.0.1 port and, from `--clients` keep-alive
clients sending ATIS test sentences to `/v1/parse`, measures `--seconds` before the rollout; then
publishes a copy as version 2 (renamed into place, as an export is), keeps sending until every
client has been answered by version 2, and `--seconds` more. Reports, for before, during (from
the publish to the last client's first answer from version 2) and after: requests per second,
p50/p99 latency and errors; and whether any client ever saw version 1 again after version 2.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from service.model_store import resolve_version_dir
from tests.bench_cli import machine
from tests.bench_http import ATIS_TEST, ROOT, Server, free_port, percentile

SWITCH_TIMEOUT_S = 180.0


def client(port: int, bodies: list[bytes], start: int, stop: threading.Event, log: list[tuple[float, float, int, int]]) -> None:
    """Send bodies in turn; log (sent at, seconds, status, version) per request; 0 status on error."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = start
    while not stop.is_set():
        began = time.perf_counter()
        try:
            conn.request("POST", "/v1/parse", body=bodies[i % len(bodies)], headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = json.loads(response.read())
            log.append((began, time.perf_counter() - began, response.status, answer.get("model", {}).get("version", 0)))
        except (OSError, http.client.HTTPException, ValueError):
            log.append((began, time.perf_counter() - began, 0, 0))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i += 1
    conn.close()


def window(logs: list[list[tuple[float, float, int, int]]], begin: float, end: float) -> dict:
    entries = [entry for log in logs for entry in log if begin <= entry[0] < end]
    latencies = sorted(seconds for _, seconds, status, _ in entries if status == 200)
    span = max(end - begin, 1e-9)
    return {
        "seconds": round(span, 2),
        "requests": len(entries),
        "errors": sum(status != 200 for _, _, status, _ in entries),
        "req_per_s": round(len(latencies) / span, 1),
        "p50_ms": round(1000 * percentile(latencies, 50), 2),
        "p99_ms": round(1000 * percentile(latencies, 99), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_rollout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "data")))
    args = parser.parse_args(argv)
    data_dir = args.data_dir if args.data_dir.is_absolute() else ROOT / args.data_dir
    sentences = [line.strip() for line in (data_dir / ATIS_TEST).read_text(encoding="utf-8").splitlines() if line.strip()]
    bodies = [json.dumps({"text": s}).encode() for s in sentences]
    source = resolve_version_dir(Path(args.model))
    logs: list[list[tuple[float, float, int, int]]] = [[] for _ in range(args.clients)]
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        models = Path(tmp) / "models" / source.parent.name
        shutil.copytree(source, models / "1")
        server = Server(str(models), free_port(), Path(tmp) / "gunicorn.log", SLOT_TAGGER_POLL_SECONDS="1")
        try:
            server.wait_ready()
            threads = [threading.Thread(target=client, args=(server.port, bodies, k * 97, stop, logs[k]), daemon=True)
                       for k in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(2)  # connections open and warm
            measured_from = time.perf_counter()
            time.sleep(args.seconds)
            shutil.copytree(source, models / ".export-rollout")
            published = time.perf_counter()
            (models / ".export-rollout").rename(models / "2")
            deadline = published + SWITCH_TIMEOUT_S
            while time.perf_counter() < deadline and not all(any(v == 2 for *_, v in log) for log in logs):
                time.sleep(0.1)
            switched = max(next((t for t, _, _, v in log if v == 2), deadline) for log in logs)
            time.sleep(args.seconds)
            ended = time.perf_counter()
        finally:
            stop.set()
            server.stop()
    never_back = all(
        [v for *_, v in log if v] == sorted(v for *_, v in log if v) for log in logs
    )
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "model": str(source),
        "clients": args.clients,
        "switch_seconds": round(switched - published, 2),
        "before": window(logs, measured_from, published),
        "during": window(logs, published, switched),
        "after": window(logs, switched, ended),
        "never_an_older_version_after_a_newer": never_back,
    }
    print(json.dumps(report))
    failed = report["before"]["errors"] + report["during"]["errors"] + report["after"]["errors"]
    return 0 if failed == 0 and never_back and switched < deadline else 1


if __name__ == "__main__":
    sys.exit(main())
