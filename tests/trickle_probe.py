"""Slow-client probe behind docs/EXPERIMENTS.md#slow-client-read-deadline (run by hand against a running server).

    python tests/trickle_probe.py PORT N SECONDS headers|body

Opens N connections that send a /v1/parse request a byte every 0.5 s (its headers, or its body)
and, meanwhile, sends normal requests from one client for SECONDS; prints their count, errors and
p50/p99 as one JSON line.
"""
import socket, sys, threading, time, json, statistics, http.client
port = int(sys.argv[1]); n = int(sys.argv[2]); seconds = float(sys.argv[3]); mode = sys.argv[4]  # headers | body
stop = threading.Event()
def trickle():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        if mode == "headers":
            data = b"POST /v1/parse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n" + b'{"text": "hi there"}'
        else:
            s.sendall(b"POST /v1/parse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n")
            data = b'{"text": "' + b"a " * 900 + b'"}'
        for b in data:
            if stop.is_set(): break
            s.send(bytes([b])); time.sleep(0.5)
    except OSError as e:
        pass
threads = [threading.Thread(target=trickle, daemon=True) for _ in range(n)]
for t in threads: t.start()
time.sleep(2)
lat, errs = [], 0
end = time.monotonic() + seconds
body = json.dumps({"text": "show me flights from boston to taipei"})
while time.monotonic() < end:
    t0 = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10); c.request("POST", "/v1/parse", body=body, headers={"Content-Type": "application/json"}); r = c.getresponse(); r.read(); c.close()
        lat.append(time.perf_counter() - t0) if r.status == 200 else None
    except Exception as e:
        errs += 1
lat.sort()
print(json.dumps({"n": n, "mode": mode, "ok": len(lat), "errors": errs, "p50_ms": round(1000*lat[len(lat)//2],1) if lat else None, "p99_ms": round(1000*lat[int(len(lat)*0.99)],1) if lat else None}))
stop.set()
