"""Soak: many requests, good and bad, from many clients against a real gunicorn on loopback.

    python -m tests.soak --model models/default [--requests 100000] [--clients 16]   (make soak)

Starts gunicorn (2 workers) on a free 127.0.0.1 port and sends `--requests` requests from
`--clients` keep-alive connections, cycling through a fixed mix of good requests (50% `/v1/parse`,
10% `/v1/parse/batch`, 10% `/model/parse`) and 30% bad ones (invalid JSON, empty or too long text,
a wrong type, a wrong content type, an unknown route). Counts every status, every 5xx and every connection the
server dropped, and compares each worker's RSS after the first tenth of the requests (warm-up)
with its RSS at the end. Prints one JSON line with the targets (0 × 5xx, 0 dropped, RSS growth
under 5%) and exits 1 if one fails. `tests/test_soak.py` runs a short version in CI.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from tests.bench_cli import machine
from tests.bench_http import Server, free_port, rss_mib

JSON_TYPE = {"Content-Type": "application/json"}
SENTENCES = [
    "show me flights from boston to taipei on friday",
    "i want a large pepperoni pizza without onions",
    "what is the weather like in berlin tomorrow",
    "book a table for two at 7 pm",
]
MAX_RSS_GROWTH = 0.05


def request_mix() -> list[tuple[str, str, bytes, dict[str, str]]]:
    """A cycle of 20 requests, (method, path, body, headers): 14 good, 6 bad, interleaved."""
    good = [("POST", "/v1/parse", json.dumps({"text": s}).encode(), JSON_TYPE) for s in SENTENCES]
    good += [
        ("POST", "/v1/parse", json.dumps({"tokens": SENTENCES[0].split()}).encode(), JSON_TYPE),
        ("POST", "/v1/parse", json.dumps({"text": SENTENCES[1].upper()}).encode(), JSON_TYPE),
        ("POST", "/v1/parse", json.dumps({"text": SENTENCES[2] + " ?!"}).encode(), JSON_TYPE),
        ("POST", "/v1/parse/batch", json.dumps({"texts": SENTENCES}).encode(), JSON_TYPE),
        ("POST", "/model/parse", json.dumps({"text": SENTENCES[3], "message_id": None, "token": None}).encode(), JSON_TYPE),
    ]
    bad = [
        ("POST", "/v1/parse", b"{not json", JSON_TYPE),
        ("POST", "/v1/parse", json.dumps({"text": "   "}).encode(), JSON_TYPE),
        ("POST", "/v1/parse", json.dumps({"text": 5}).encode(), JSON_TYPE),
        ("POST", "/v1/parse", json.dumps({"text": "x " * 600}).encode(), JSON_TYPE),
        ("POST", "/v1/parse", b"text=hi", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("GET", "/v1/nothing", b"", {}),
    ]
    return [good[0], good[1], bad[0], good[2], good[7], bad[1], good[3], good[8], bad[2], good[4],
            good[5], bad[3], good[6], good[0], bad[4], good[1], good[7], bad[5], good[2], good[8]]


def client(port: int, mix: list, count: int, offset: int, statuses: Counter, dropped: list[str],
           done: list[int], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(count):
        method, path, body, headers = mix[(offset + i) % len(mix)]
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            dropped.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        with lock:
            statuses[status] += 1
            done[0] += 1
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.close()


def soak(model: str, requests: int, clients: int, **settings: str) -> dict:
    """Runs the soak against a gunicorn it starts and stops; returns the report."""
    statuses: Counter = Counter()
    dropped: list[str] = []
    done = [0]
    lock = threading.Lock()
    mix = request_mix()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        server = Server(model, free_port(), Path(tmp) / "gunicorn.log", **settings)
        try:
            server.wait_ready()
            share = [requests // clients + (k < requests % clients) for k in range(clients)]
            threads = [threading.Thread(target=client, args=(server.port, mix, share[k], k * 7, statuses, dropped, done, lock),
                                        daemon=True) for k in range(clients)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            while done[0] < requests // 10 and any(t.is_alive() for t in threads):
                time.sleep(0.05)
            warm = {pid: rss_mib(pid) for pid in server.workers()}
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - began
            end = {pid: rss_mib(pid) for pid in server.workers()}
        finally:
            server.stop()
    growth = {pid: end[pid] / warm[pid] - 1 for pid in warm if pid in end}
    max_growth = max(growth.values(), default=None)
    fives = sum(n for status, n in statuses.items() if status >= 500)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "model": model,
        "requests": requests,
        "clients": clients,
        "seconds": round(seconds, 1),
        "req_per_s": round(requests / seconds, 1),
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "dropped": len(dropped),
        "dropped_kinds": sorted(set(dropped))[:5],
        "worker_rss_mib_after_warm_up": [round(v, 1) for v in warm.values()],
        "worker_rss_mib_at_end": [round(end[pid], 1) for pid in warm if pid in end],
        "workers_replaced": sorted(set(warm) ^ set(end)) != [],
        "targets": {
            "5xx": {"value": fives, "target": "0", "pass": fives == 0},
            "dropped": {"value": len(dropped), "target": "0", "pass": not dropped},
            "max_rss_growth": {"value": None if max_growth is None else round(max_growth, 4),
                               "target": f"< {MAX_RSS_GROWTH}", "pass": max_growth is not None and max_growth < MAX_RSS_GROWTH},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args(argv)
    report = soak(args.model, args.requests, args.clients)
    print(json.dumps(report))
    return 0 if all(t["pass"] for t in report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
