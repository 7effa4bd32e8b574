"""gunicorn's gthread worker with a read deadline per request (service/read_deadline.py).

`worker_class = "service.worker.DeadlineThreadWorker"` in service/gunicorn.conf.py.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker

from service import read_deadline
from service.settings import load_settings

READ_TIMEOUT = load_settings().read_timeout


class DeadlineThreadWorker(ThreadWorker):
    """A thread that takes a connection must have its request within READ_TIMEOUT seconds."""

    def handle(self, conn):  # noqa: ANN001, ANN201 - gunicorn's signature
        read_deadline.watch(conn.sock, READ_TIMEOUT)
        try:
            return super().handle(conn)
        finally:
            read_deadline.forget(conn.sock)
