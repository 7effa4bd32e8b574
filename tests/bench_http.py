"""REST service benchmark: a load generator on loopback against a real gunicorn (run by hand).

    python -m tests.bench_http --model models/default [--port P] [--seconds S]

Starts `gunicorn -c service/gunicorn.conf.py service.wsgi:app` with 2 workers on a free
127.0.0.1 port, times start-up to the first 200 from GET /readyz, warms both workers up with
every ATIS test sentence (`$DATA_DIR/atis/test/seq.in`), then measures:

  (a) one keep-alive client, sequential POST /v1/parse {"text": ...}: p50/p99 latency;
  (b) 16 keep-alive client threads for `--seconds`: requests/s, p50/p99, errors;
  (c) POST /v1/parse/batch with 64 sentences per request, one client and then two clients
      (one per worker): sentences/s and p50 per request;
  (d) Rasa's POST /model/parse against POST /v1/parse, one keep-alive client, phases of a
      quarter of `--seconds` alternated 3 times each: the ratio of the median p50s;
  (e) one keep-alive client for half of `--seconds` while 32 slow clients (16 sending their
      headers, 16 their body, a byte every 0.2 s, reconnecting when cut off) hold connections:
      p50/p99 and errors of the normal client;

then the RSS of each worker (children of the master, /proc/<pid>/status VmRSS), stops the
server, and times the in-process `Predictor.tag_texts` on the same sentences (batches of 64
and one sentence at a time) so the HTTP overhead is measured in the same run. For every
phase the server's own /metrics (request duration, inference time) and the CPU seconds of
the workers and of this client are read before and after, which splits the time into client,
HTTP server (gunicorn + Flask + JSON + validation) and `Predictor.tag` (tokenization, model
call, decoding, entities). Prints one JSON line, dated and with the machine.

Client and server share the machine's cores: the client's CPU share is reported, not hidden.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.bench_cli import machine

ROOT = Path(__file__).resolve().parent.parent
ATIS_TEST = Path("atis") / "test" / "seq.in"
WORKERS = 2
CLIENTS = 16
BATCH = 64
READY_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0
MAX_REQUESTS_PER_PHASE = 200_000
HEADERS = {"Content-Type": "application/json"}
TARGETS = {
    "startup_s": ("<=", 20.0),
    "single_p50_ms": ("<=", 5.0),
    "single_p99_ms": ("<=", 15.0),
    "concurrent_req_per_s": (">=", 400.0),
    "concurrent_errors": ("<=", 0),
    "max_worker_rss_mib": ("<=", 1024.0),
    "model_parse_vs_v1_parse_p50": ("<=", 1.10),
}
PAIRED_ROUNDS = 3


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One gunicorn master started by us; `stop` ends it (and only it and its workers)."""

    def __init__(self, model: str, port: int, log: Path, **settings: str) -> None:
        env = dict(os.environ)
        env.update(
            SLOT_TAGGER_MODEL=model, SLOT_TAGGER_HOST="127.0.0.1", SLOT_TAGGER_PORT=str(port),
            SLOT_TAGGER_WORKERS=str(WORKERS), TF_CPP_MIN_LOG_LEVEL="2", **settings,
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes a fresh one
        self.port = port
        self.log = log
        self._log_handle = log.open("wb")
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(gunicorn), "-c", "service/gunicorn.conf.py", "service.wsgi:app"],
            cwd=ROOT, env=env, stdout=self._log_handle, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a hard stop reaches only it
        )

    def wait_ready(self) -> float:
        """Seconds from Popen to the first 200 from /readyz; raise if it dies or times out."""
        deadline = self.started + READY_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"/readyz not 200 after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def workers(self) -> list[int]:
        """PIDs of the master's children (its workers)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            pids = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
            return pids

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group we created at start
                self.proc.wait(timeout=10)
        self._log_handle.close()

    def log_tail(self, lines: int = 20) -> str:
        self._log_handle.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (all their threads), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


_METRIC = re.compile(r"^(slot_tagger_\w+?)(?:\{([^}]*)\})? ([0-9.eE+-]+|NaN)$")


def scrape(port: int) -> dict[str, float]:
    """The `_sum`/`_count` series of /metrics as {"name{labels}": value}."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    values = {}
    for line in text.splitlines():
        match = _METRIC.match(line)
        if match and match.group(1).endswith(("_sum", "_count")):
            labels = ",".join(sorted(part for part in (match.group(2) or "").split(",") if part))
            values[f"{match.group(1)}{{{labels}}}"] = float(match.group(3))
    return values


# ----------------------------------------------------------------------------- load


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def client_loop(port: int, path: str, bodies: list[bytes], start: int, deadline: float,
                max_requests: int, latencies: list[float], errors: list[str]) -> None:
    """Send bodies[start:], cycling, on one keep-alive connection until the deadline."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    i = start
    try:
        for _ in range(max_requests):
            if time.perf_counter() >= deadline:
                break
            body = bodies[i % len(bodies)]
            i += 1
            began = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=HEADERS)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
                continue
            if status != 200:
                errors.append(str(status))
            else:
                latencies.append(time.perf_counter() - began)
    finally:
        conn.close()


def run_phase(server: Server, path: str, bodies: list[bytes], clients: int, seconds: float,
              max_requests: int = MAX_REQUESTS_PER_PHASE) -> dict:
    """`clients` threads, one keep-alive connection each; latency, rate, server/client CPU."""
    workers = server.workers()
    before = scrape(server.port)
    cpu_server, cpu_client = cpu_seconds(workers), time.process_time()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    began = time.perf_counter()
    deadline = began + seconds
    threads = [
        threading.Thread(target=client_loop, args=(
            server.port, path, bodies, k * len(bodies) // clients, deadline,
            max_requests // clients, latencies[k], errors), daemon=True)
        for k in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + 5)
    wall = time.perf_counter() - began
    cpu_client = time.process_time() - cpu_client
    cpu_server = cpu_seconds(workers) - cpu_server
    after = scrape(server.port)
    done = sorted(x for per_thread in latencies for x in per_thread)
    n = len(done)

    def server_mean_ms(name: str) -> float | None:
        total = after.get(f"{name}_sum{{}}", 0) - before.get(f"{name}_sum{{}}", 0)
        count = after.get(f"{name}_count{{}}", 0) - before.get(f"{name}_count{{}}", 0)
        if not count:  # labelled series: match by route
            key = f'method="POST",route="{path}"'
            total = after.get(f"{name}_sum{{{key}}}", 0) - before.get(f"{name}_sum{{{key}}}", 0)
            count = after.get(f"{name}_count{{{key}}}", 0) - before.get(f"{name}_count{{{key}}}", 0)
        return round(1000 * total / count, 3) if count else None

    return {
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": n,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "req_per_s": round(n / wall, 1),
        "p50_ms": round(1000 * percentile(done, 50), 2),
        "p99_ms": round(1000 * percentile(done, 99), 2),
        "mean_ms": round(1000 * statistics.fmean(done), 2) if done else None,
        # server side, from /metrics: the Flask view (validation, tokenize, tag, JSON) ...
        "server_request_mean_ms": server_mean_ms("slot_tagger_http_request_duration_seconds"),
        # ... and the Predictor.tag part of it (model call, decoding, entities; tokenization is outside)
        "server_inference_mean_ms": server_mean_ms("slot_tagger_inference_seconds"),
        "server_cpu_ms_per_req": round(1000 * cpu_server / n, 3) if n else None,
        "client_cpu_ms_per_req": round(1000 * cpu_client / n, 3) if n else None,
        "server_cpu_cores": round(cpu_server / wall, 2),
        "client_cpu_cores": round(cpu_client / wall, 2),
    }


def rasa_against_v1(server: Server, sentences: list[str], seconds: float) -> dict:
    """p50 of /model/parse (the body Rasa sends) and of /v1/parse, one client, alternated."""
    bodies = {
        "/v1/parse": [json.dumps({"text": s}).encode() for s in sentences],
        "/model/parse": [json.dumps({"text": s, "message_id": None, "token": None}).encode() for s in sentences],
    }
    p50: dict[str, list[float]] = {path: [] for path in bodies}
    errors = 0
    for _ in range(PAIRED_ROUNDS):
        for path, path_bodies in bodies.items():
            phase = run_phase(server, path, path_bodies, 1, seconds)
            p50[path].append(phase["p50_ms"])
            errors += phase["errors"]
    v1, rasa = statistics.median(p50["/v1/parse"]), statistics.median(p50["/model/parse"])
    return {"v1_parse_p50_ms": p50["/v1/parse"], "model_parse_p50_ms": p50["/model/parse"],
            "ratio_of_medians": round(rasa / v1, 3), "errors": errors}


def trickle(port: int, part: str, body: bytes, stop: threading.Event) -> None:
    """A slow client: a request sent a byte every 0.2 s (its headers, or its body), again and again."""
    head = (f"POST /v1/parse HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_S) as sock:
                if part == "body":
                    sock.sendall(head)
                for byte in head + body if part == "headers" else body:
                    if stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
                sock.recv(65536)
        except OSError:
            continue  # cut off by the server's read deadline: start again


def with_slow_clients(server: Server, bodies: list[bytes], seconds: float, slow: int = 32) -> dict:
    """A normal single-client phase while `slow` trickling connections are held open."""
    stop = threading.Event()
    threads = [threading.Thread(target=trickle, args=(server.port, "headers" if k % 2 else "body", bodies[0], stop),
                                daemon=True) for k in range(slow)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    try:
        return {"slow_clients": slow, **run_phase(server, "/v1/parse", bodies, 1, seconds)}
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def warm_up(server: Server, sentences: list[str], seconds: float) -> dict:
    """Every sentence once over 4 connections (so both workers see traffic), checking answers."""
    bodies = [json.dumps({"text": s}).encode() for s in sentences]
    deadline = time.perf_counter() + seconds
    bad: list[str] = []
    token_counts = [0] * len(sentences)

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT_S)
        try:
            for i in range(k, len(bodies), 4):
                if time.perf_counter() >= deadline:
                    return
                conn.request("POST", "/v1/parse", body=bodies[i], headers=HEADERS)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    bad.append(f"{response.status} {data[:200]!r}")
                    continue
                token_counts[i] = len(json.loads(data)["tokens"])
            for i in range(k, 4 * len(bodies) // BATCH, 4):  # a few batches per connection
                chunk = sentences[(i * BATCH) % len(sentences):][:BATCH]
                conn.request("POST", "/v1/parse/batch", body=json.dumps({"texts": chunk}).encode(),
                             headers=HEADERS)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    bad.append(str(response.status))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S)
    if bad:
        raise RuntimeError(f"warm-up got {len(bad)} bad answers, e.g. {bad[0]}")
    return {"token_counts": token_counts}


# ----------------------------------------------------------------------------- in-process


def in_process(model: str, sentences: list[str], seconds: float) -> dict:
    """Predictor.tag_texts on the same sentences in this process (after the server stopped),
    under the workers' TensorFlow settings."""
    from service.tensorflow_env import apply_serving_defaults

    apply_serving_defaults()
    from service.model_store import load_model
    from service.predictor import Predictor
    from service.tokenizer import tokenize

    loaded = load_model(model)
    predictor = Predictor(loaded, batch_size=BATCH)
    predictor.warm_up()
    tokens = sum(len(r["tokens"]) for r in predictor.tag_texts(sentences))
    n = len(sentences)

    def best_of(fn, runs: int) -> float:
        """Median seconds of fn() over up to `runs` runs, bounded by `seconds` overall."""
        times: list[float] = []
        stop = time.perf_counter() + seconds
        for _ in range(runs):
            began = time.perf_counter()
            fn()
            times.append(time.perf_counter() - began)
            if time.perf_counter() >= stop:
                break
        return statistics.median(times)

    def batched() -> None:
        for k in range(0, n, BATCH):  # requests of 64, like the batch endpoint
            predictor.tag_texts(sentences[k:k + BATCH])

    def single() -> None:
        for s in sentences:
            predictor.tag_texts([s])

    def tokenize_only() -> None:
        for s in sentences:
            tokenize(s)

    token_lists = [tokenize(s) for s in sentences]

    def tag_single_pretokenized() -> None:  # Predictor.tag: model call + decoding + entities
        for tokens, s in zip(token_lists, sentences, strict=True):
            predictor.tag([tokens], [s])

    t_batch = best_of(batched, 5)
    t_single = best_of(single, 3)
    t_tok = best_of(tokenize_only, 5)
    t_tag = best_of(tag_single_pretokenized, 3)
    return {
        "sentences": n,
        "tokens": tokens,
        "batch64_sentences_per_s": round(n / t_batch, 1),
        "batch64_tokens_per_s": round(tokens / t_batch),
        "single_sentences_per_s": round(n / t_single, 1),
        "single_tokens_per_s": round(tokens / t_single),
        "single_ms_per_sentence": round(1000 * t_single / n, 3),
        "single_tokenize_ms": round(1000 * t_tok / n, 3),
        "single_tag_ms": round(1000 * t_tag / n, 3),
    }


# ----------------------------------------------------------------------------- main


def check(value: float | None, op: str, target: float) -> bool:
    if value is None:
        return False
    return value <= target if op == "<=" else value >= target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_http", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default", help="models/<name> or a version folder")
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="duration of the single-client and 16-client phases (batch phases: half)")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "data")),
                        help="folder holding atis/test/seq.in (default: $DATA_DIR or ../shared/data)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.seconds > 600:
        parser.error("--seconds must be in (0, 600]")

    data_dir = args.data_dir if args.data_dir.is_absolute() else ROOT / args.data_dir
    source = data_dir / ATIS_TEST
    sentences = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [json.dumps({"text": s}).encode() for s in sentences]
    batches = [json.dumps({"texts": sentences[k:k + BATCH]}).encode()
               for k in range(0, len(sentences) - BATCH + 1, BATCH)]  # full batches only

    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        server = Server(args.model, port, Path(tmp) / "gunicorn.log")
        try:
            startup_s = server.wait_ready()
            token_counts = warm_up(server, sentences, seconds=120)["token_counts"]
            single = run_phase(server, "/v1/parse", texts, 1, args.seconds)
            concurrent = run_phase(server, "/v1/parse", texts, CLIENTS, args.seconds)
            batch1 = run_phase(server, "/v1/parse/batch", batches, 1, args.seconds / 2)
            batch2 = run_phase(server, "/v1/parse/batch", batches, WORKERS, args.seconds / 2)
            rasa = rasa_against_v1(server, sentences, args.seconds / 4)
            slow = with_slow_clients(server, texts, args.seconds / 2)
            worker_pids = server.workers()
            worker_rss = [round(rss_mib(pid), 1) for pid in worker_pids]
            master_rss = round(rss_mib(server.proc.pid), 1)
        finally:
            server.stop()

    tokens_per_sentence = sum(token_counts) / len(token_counts)
    for phase in (single, concurrent):
        phase["tokens_per_s"] = round(phase["req_per_s"] * tokens_per_sentence)
    for phase in (batch1, batch2):
        phase["sentences_per_s"] = round(phase["req_per_s"] * BATCH, 1)
        phase["tokens_per_s"] = round(phase["sentences_per_s"] * tokens_per_sentence)

    local = in_process(args.model, sentences, seconds=max(5.0, args.seconds))
    numbers = {
        "startup_s": round(startup_s, 2),
        "single_p50_ms": single["p50_ms"],
        "single_p99_ms": single["p99_ms"],
        "concurrent_req_per_s": concurrent["req_per_s"],
        "concurrent_errors": concurrent["errors"],
        "max_worker_rss_mib": max(worker_rss) if worker_rss else None,
        "model_parse_vs_v1_parse_p50": rasa["ratio_of_medians"],
    }
    single_ms_local = local["single_ms_per_sentence"]
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "model": args.model,
        "input": str(source),
        "sentences": len(sentences),
        "tokens_per_sentence": round(tokens_per_sentence, 2),
        "workers": WORKERS,
        "startup_s": numbers["startup_s"],
        "single_client": single,
        "concurrent_16": concurrent,
        "batch64_1_client": batch1,
        "batch64_2_clients": batch2,
        "model_parse_vs_v1_parse": rasa,
        "single_client_with_32_slow_clients": slow,
        "worker_rss_mib": worker_rss,
        "master_rss_mib": master_rss,
        "in_process": local,
        "http_vs_in_process": {
            # one sentence per call: HTTP p50 latency / in-process time per sentence
            "single_latency_ratio": round(single["p50_ms"] / single_ms_local, 2),
            "single_overhead_ms": round(single["p50_ms"] - single_ms_local, 3),
            # 16 clients on 2 workers vs one in-process caller tagging one sentence at a time
            "concurrent_throughput_ratio": round(concurrent["req_per_s"] / local["single_sentences_per_s"], 2),
            # batch endpoint (1 client) vs in-process batches of 64
            "batch64_throughput_ratio": round(batch1["sentences_per_s"] / local["batch64_sentences_per_s"], 2),
        },
        "targets": {
            name: {"value": numbers[name], "target": f"{op} {target}", "pass": check(numbers[name], op, target)}
            for name, (op, target) in TARGETS.items()
        },
        "note": (
            f"client and server share {machine()['nproc']} cores on loopback; the client is Python "
            f"(http.client, one keep-alive connection per thread) and used "
            f"{concurrent['client_cpu_cores']} cores ({concurrent['client_cpu_ms_per_req']} ms CPU per "
            f"request) against the workers' {concurrent['server_cpu_cores']} cores "
            f"({concurrent['server_cpu_ms_per_req']} ms per request) in the 16-client phase. "
            "server_request_mean_ms is the Flask view as seen by /metrics (validation, tokenization, "
            "Predictor.tag, JSON); server_inference_mean_ms is Predictor.tag alone; the rest of the "
            "client latency is gunicorn, the socket and the client."
        ),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
