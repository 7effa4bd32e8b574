"""The soak's short version, in CI: 3,000 mixed good and bad requests from 16 clients on real
gunicorn with the tiny model; no 5xx and no dropped connection (RSS is reported, and judged
only by the full `make soak`, whose warm-up is long enough to mean something)."""

from __future__ import annotations

from tests.soak import soak


def test_short_soak_no_5xx_and_no_dropped_connection(tiny_model):
    report = soak(str(tiny_model.parent), requests=3000, clients=16)
    assert report["targets"]["5xx"]["pass"] and report["targets"]["dropped"]["pass"], report
    statuses = report["statuses"]
    assert int(statuses["200"]) > 1500 and {"400", "404", "415"} <= set(statuses), statuses
    assert sum(statuses.values()) == 3000
