"""The learning-rate schedule, averaged weights, and the wall-clock safety net of the trainer."""

import json

import numpy as np
import pytest

from tests.conftest import FIXTURES, tiny_config
from training.data import BatchMaker, load_datasets
from training.pipeline import build_tagger, run
from training.trainer import learning_rate_schedule, peak_learning_rate, steps_per_epoch, train


def test_learning_rate_warms_up_linearly_then_decays_to_zero_at_the_last_epoch():
    schedule = learning_rate_schedule(tiny_config(learning_rate=0.01, warmup_epochs=1.0, max_epochs=5), steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 30, 50)]
    assert rates == pytest.approx([0.0, 0.005, 0.01, 0.005, 0.0], abs=1e-7)
    assert all(float(schedule(a)) >= float(schedule(b)) for a, b in zip(range(10, 50), range(11, 51)))


def test_without_warm_up_the_schedule_starts_at_the_peak():
    schedule = learning_rate_schedule(tiny_config(learning_rate=0.01, warmup_epochs=0.0, max_epochs=4), steps_per_epoch=10)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(40)) == pytest.approx(0.0, abs=1e-7)


def _trained_weights(ema_momentum: float) -> tuple[list, list]:
    """(initial, kept) weights of a tiny model trained one short epoch."""
    config = tiny_config(heads=("slots", "intent"), max_epochs=1, max_steps_per_epoch=6, ema_momentum=ema_momentum, warmup_epochs=0.0)
    datasets = load_datasets(config, FIXTURES)
    tagger = build_tagger(config, datasets)
    initial = tagger.network.get_weights()
    batches = BatchMaker(datasets, tagger.featurizer, tagger.labels, config.batch_size, config.seed)
    train(tagger, batches, [d.splits["dev"] for d in datasets], config)
    return initial, tagger.network.get_weights()


def _distance(a: list, b: list) -> float:
    return float(sum(np.sum((x - y) ** 2) for x, y in zip(a, b)))


def test_averaged_weights_are_the_ones_kept():
    """With a momentum near 1 the average barely leaves the first step's weights, so the kept
    weights must stay much closer to the start than the raw weights of the same run do."""
    raw_start, raw = _trained_weights(0.0)
    averaged_start, averaged = _trained_weights(0.999999)
    assert _distance(averaged_start, averaged) < 0.5 * _distance(raw_start, raw)


def test_a_run_stopped_by_the_wall_clock_limit_is_marked_cut_short(tmp_path, caplog):
    config = tiny_config(name="hurried", heads=("pos",), max_epochs=3, max_minutes=0.0)
    version_dir = run(config, tmp_path, FIXTURES)
    metadata = json.loads((version_dir / "metadata.json").read_text())
    assert metadata["cut_short"] is True and metadata["epochs"] == 1
    assert metadata["stopped_because"].startswith("CUT SHORT")
    assert "CUT SHORT" in (version_dir / "report.md").read_text().splitlines()[2]
    assert any("CUT SHORT" in record.getMessage() for record in caplog.records)


def test_a_run_that_ends_on_its_epochs_is_not_cut_short(tiny_model):
    metadata = json.loads((tiny_model / "metadata.json").read_text())
    assert metadata["cut_short"] is False and metadata["stopped_because"] == "reached 3 epochs"
    assert "CUT SHORT" not in (tiny_model / "report.md").read_text()


def test_min_steps_stretches_short_epochs_over_several_passes_and_never_shortens_one():
    assert steps_per_epoch(10, tiny_config(max_epochs=5)) == 10  # min_steps 0: one pass
    assert steps_per_epoch(10, tiny_config(max_epochs=5, min_steps=121)) == 25  # ceil(121 / 5)
    assert steps_per_epoch(10, tiny_config(max_epochs=5, min_steps=30)) == 10  # 5 passes already reach 30
    assert steps_per_epoch(10, tiny_config(max_epochs=5, min_steps=121, max_steps_per_epoch=3)) == 3


def test_the_schedule_of_a_stretched_run_decays_to_zero_at_its_last_step_not_at_max_epochs_passes():
    config = tiny_config(learning_rate=0.01, warmup_epochs=1.0, max_epochs=4, min_steps=400)
    schedule = learning_rate_schedule(config, steps_per_epoch(10, config))
    assert float(schedule(100)) == pytest.approx(0.01)  # the warm-up is one (stretched) epoch
    assert float(schedule(40)) == pytest.approx(0.004)
    assert float(schedule(250)) == pytest.approx(0.005, abs=1e-6)
    assert float(schedule(400)) == pytest.approx(0.0, abs=1e-7)


def test_a_stretched_run_takes_min_steps_optimizer_steps_and_records_its_passes(tmp_path):
    """tiny_atis has 40 training sentences, 5 batches of 8: 2 epochs of one pass would be 10 steps."""
    config = tiny_config(name="stretched", heads=("slots", "intent"), max_epochs=2, patience=2, min_steps=23,
                         learning_rate=0.005, learning_rate_steps=20, max_learning_rate=0.02)
    datasets = load_datasets(config, FIXTURES)
    tagger = build_tagger(config, datasets)
    batches = BatchMaker(datasets, tagger.featurizer, tagger.labels, config.batch_size, config.seed)
    history = train(tagger, batches, [d.splits["dev"] for d in datasets], config)
    assert int(tagger.network.optimizer.iterations) == 24 == len(history.train_loss) * history.steps_per_epoch
    assert history.passes_per_epoch == pytest.approx(12 / 5)
    assert history.peak_learning_rate == pytest.approx(0.01)  # 0.005 × 20 / (2 epochs × 5 batches)
    assert float(tagger.network.optimizer._learning_rate(12)) == pytest.approx(0.01)  # the schedule's peak


def test_data_of_fewer_one_pass_steps_than_learning_rate_steps_peaks_higher_up_to_max_learning_rate():
    config = tiny_config(learning_rate=0.003, max_epochs=24, learning_rate_steps=3000, max_learning_rate=0.02)
    assert peak_learning_rate(config, batches=140) == pytest.approx(0.003)  # 3360 steps: not raised
    assert peak_learning_rate(config, batches=66) == pytest.approx(0.003 * 3000 / 1584)
    assert peak_learning_rate(config, batches=10) == pytest.approx(0.02)  # 0.0375, capped
    assert peak_learning_rate(tiny_config(learning_rate=0.003), batches=10) == pytest.approx(0.003)  # 0: off
    schedule = learning_rate_schedule(config, steps_per_epoch=63, peak=0.0125)
    assert float(schedule(63)) == pytest.approx(0.0125)  # the end of the one-epoch warm-up
