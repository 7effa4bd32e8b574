"""A deadline for reading a request: a slow client cannot hold a worker thread for longer.

gunicorn's gthread worker reads a request's headers, and the app its body, with blocking reads
in a worker thread, so a client that trickles a byte a second would hold that thread for as
long as it likes; enough of them hold every thread. Each connection a thread takes is watched
from that moment (service/worker.py) until the app has the whole body
(service/api/admission.py); past `SLOT_TAGGER_READ_TIMEOUT` seconds, a patrol thread shuts the
socket for reading, so the blocked read returns at once, the thread is freed, and the client
gets `408 request_timeout` if its headers had arrived (else the connection just closes).
No TensorFlow here: gunicorn's master imports the worker class.
"""

from __future__ import annotations

import socket
import threading
import time

PATROL_SECONDS = 0.2

_deadlines: dict[socket.socket, float] = {}
_expired: set[socket.socket] = set()
_lock = threading.Lock()
_patrol: threading.Thread | None = None


def watch(sock: socket.socket, seconds: float) -> None:
    """From now on, `sock` must deliver its request within `seconds`."""
    global _patrol
    with _lock:
        _deadlines[sock] = time.monotonic() + seconds
        _expired.discard(sock)
        if _patrol is None:
            _patrol = threading.Thread(target=_shut_late_sockets, name="read-deadline", daemon=True)
            _patrol.start()


def forget(sock: socket.socket) -> None:
    """The request has been read (or the connection is done): no deadline any more."""
    with _lock:
        _deadlines.pop(sock, None)
        _expired.discard(sock)


def expired(sock: socket.socket) -> bool:
    """Whether `sock` was shut for reading because its deadline passed."""
    with _lock:
        return sock in _expired


def _shut_late_sockets() -> None:
    while True:
        time.sleep(PATROL_SECONDS)
        now = time.monotonic()
        with _lock:
            late = [sock for sock, deadline in _deadlines.items() if deadline < now]
            for sock in late:
                del _deadlines[sock]
                _expired.add(sock)
        for sock in late:
            try:
                sock.shutdown(socket.SHUT_RD)  # a blocked recv returns b"" now; writing still works
            except OSError:
                pass  # closed meanwhile
