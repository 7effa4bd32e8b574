"""`make bench` flags a model whose training the wall-clock limit cut short."""

from tests.bench_models import ended_by


def test_a_cut_short_run_is_flagged_and_a_normal_one_is_not():
    assert ended_by({"cut_short": True, "stopped_because": "CUT SHORT by the wall-clock limit of 30.0 minutes"}).startswith("**CUT SHORT**")
    assert ended_by({"cut_short": False, "stopped_because": "reached 20 epochs"}) == "reached 20 epochs"
