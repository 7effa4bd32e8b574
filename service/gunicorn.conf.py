"""gunicorn settings: `gunicorn -c service/gunicorn.conf.py service.wsgi:app`.

Values come from the same `Settings` as the app (SLOT_TAGGER_* variables). `preload_app` is
off so every worker imports TensorFlow, loads the model and warms it up itself after the fork
(TensorFlow's threads do not survive a fork); a worker takes traffic only once that is done.
gthread workers keep client connections alive between requests.
"""

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `service` without installing

from service.api.admission import SPARE_THREADS  # noqa: E402
from service.errors import SlotTaggerError  # noqa: E402
from service.model_store import check_model_folder  # noqa: E402
from service.settings import DRAINING, load_settings, open_bind_warning  # noqa: E402
from service.tensorflow_env import apply_serving_defaults  # noqa: E402

# Fail here, in the master, with one line and exit status 1, before any worker is forked.
try:
    _settings = load_settings()
    check_model_folder(_settings.model, _settings.model_version)
except SlotTaggerError as exc:
    sys.exit(f"slot-tagger: cannot start: {exc.message}")

apply_serving_defaults()  # workers inherit them before importing TensorFlow
# Parallelism comes from the worker processes: one TF thread each (TF_NUM_INTRAOP_THREADS is a
# serving default) stops the workers' thread pools fighting over the cores: lower latency and more
# requests per second on the same machine (measured with `python -m tests.bench_http`). Set the
# variables to override.
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
# Each run gets its own metrics folder, so counts from a previous run never leak in; workers
# inherit the variable, and prometheus-client reads it when first imported there.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="slot-tagger-metrics-")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
if _warning := open_bind_warning(_settings):
    logging.getLogger("slot_tagger").warning("%s", _warning)

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
worker_class = "service.worker.DeadlineThreadWorker"  # gthread with a read deadline per request
# Turns plus queue plus spares: every admitted request and every refusal has a thread.
threads = _settings.threads + _settings.max_queue + SPARE_THREADS
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout + _settings.drain_seconds  # the master's patience
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
keepalive = 5
preload_app = False
control_socket_disable = True  # no runtime control needed; avoids clashes between servers
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    """With a drain period, SIGTERM first marks the worker draining, then stops it."""
    if _settings.drain_seconds:
        signal.signal(signal.SIGTERM, lambda signum, frame: _drain(worker, signum, frame))


def _drain(worker, signum, frame):  # noqa: ANN001
    worker.wsgi.config[DRAINING] = True
    worker.log.info("draining for %d s before stopping", _settings.drain_seconds)
    threading.Timer(_settings.drain_seconds, worker.handle_exit, args=(signum, frame)).start()


def child_exit(server, worker):  # noqa: ANN001 - gunicorn's hook signature
    """Drop a dead worker's live gauges so /metrics does not sum ghosts."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
