"""Slow-client probe behind docs/EXPERIMENTS.md#slow-client-read-deadline, run by hand against a
server already listening on 127.0.0.1:PORT:

    python -m tests.trickle_probe PORT N SECONDS headers|body

Holds N connections that send a `/v1/parse` request a byte every 0.2 s (their headers, or their
body; `tests.bench_http.trickle`), and meanwhile sends normal requests from one keep-alive client
for SECONDS; prints the normal client's answers, errors and p50/p99 as one JSON line.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time

from tests.bench_http import percentile, trickle

BODY = json.dumps({"text": "show me flights from boston to taipei"}).encode()


def probe(port: int, slow: int, seconds: float, part: str) -> dict:
    stop = threading.Event()
    for _ in range(slow):
        threading.Thread(target=trickle, args=(port, part, BODY, stop), daemon=True).start()
    time.sleep(2)
    latencies, errors = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        try:
            conn.request("POST", "/v1/parse", body=BODY, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - began)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    stop.set()
    latencies.sort()
    return {"slow": slow, "part": part, "answered": len(latencies), "errors": errors,
            "p50_ms": round(1000 * percentile(latencies, 50), 1), "p99_ms": round(1000 * percentile(latencies, 99), 1)}


if __name__ == "__main__":
    port, slow, seconds, part = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    print(json.dumps(probe(port, slow, seconds, part)))
