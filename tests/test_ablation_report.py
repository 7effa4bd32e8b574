"""The ablation's verdicts and report follow from the numbers given (made-up results, no training)."""

from __future__ import annotations

from training.ablation_report import Claim, f1_on_test, verdict, write_ablation_report

BUCKETS = ("1", "2", "3-4", "5+", "none")


def _result(row: str, seed: int, slot_f1: float, norms: tuple[float, ...] = (2.0, 1.0)) -> dict:
    split = {"slot_f1": slot_f1, "intent_accuracy": 90.0}
    return {
        "row": row, "group": "cells", "seed": seed, "max_epochs": 2, "patience": 6,
        "metrics": {"dev": split, "test": split, "dev_unseen_cities": split},
        "role_test": {"role_f1": slot_f1}, "role_unseen_dev": {"role_f1": slot_f1},
        "far_test": {"f1": slot_f1},
        "distance_test": {bucket: {"f1": slot_f1, "gold_spans": 3} for bucket in BUCKETS},
        "training_seconds": 10.0, "parameters": 1000, "latency_ms": 1.0,
        "largest_gradient_norm": list(norms),
    }


def _rows(**scores: tuple[float, float]) -> dict[str, list[dict]]:
    return {row.replace("_", " "): [_result(row.replace("_", " "), seed, f1) for seed, f1 in enumerate(pair, 1)]
            for row, pair in scores.items()}


CLAIM = Claim("Reading both directions beats one", "test slot F1", f1_on_test, "lstm uni", "lstm bi")


def test_separate_seed_ranges_the_claimed_way_support_a_claim() -> None:
    sentence = verdict(CLAIM, _rows(lstm_uni=(90.0, 91.0), lstm_bi=(92.0, 93.0)))
    assert "**supported**" in sentence and "+2.00" in sentence and "±0.50" in sentence


def test_separate_ranges_the_other_way_say_the_claim_does_not_hold() -> None:
    assert "**does not hold**" in verdict(CLAIM, _rows(lstm_uni=(94.0, 95.0), lstm_bi=(92.0, 93.0)))


def test_overlapping_ranges_show_nothing() -> None:
    assert "**not shown**" in verdict(CLAIM, _rows(lstm_uni=(90.0, 92.5), lstm_bi=(92.0, 93.0)))


def test_a_lower_is_better_claim_reads_the_other_way() -> None:
    claim = Claim("Clipping tames gradients", "largest gradient norm", lambda r: max(r["largest_gradient_norm"]),
                  "elman bi unclipped", "elman bi", lower_is_better=True)
    results = {
        "elman bi unclipped": [_result("elman bi unclipped", seed, 80.0, (50.0 + seed,)) for seed in (1, 2)],
        "elman bi": [_result("elman bi", seed, 80.0, (5.0 + seed,)) for seed in (1, 2)],
    }
    assert "**supported**" in verdict(claim, results)


def test_the_report_has_a_row_per_result_and_only_the_claims_it_can_judge(tmp_path) -> None:
    path = write_ablation_report(_rows(lstm_uni=(90.0, 91.0), lstm_bi=(92.0, 93.0), none=(70.0, 71.0)), tmp_path)
    text = path.read_text(encoding="utf-8")
    assert text.count("| `") == 3 and (tmp_path / "ablation.png").stat().st_size > 0
    assert "Reading both directions beats one: **supported**" in text
    assert "a recurrent memory can: **supported**" in text  # none against lstm uni
    assert "A Jordan network does better" not in text  # no jordan rows, so no verdict about them
