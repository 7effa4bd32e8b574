"""Tests for training.slot_analysis on a few hand-tagged, made-up ATIS-style sentences."""

from __future__ import annotations

import pytest

from training.readers import Sentence
from training.slot_analysis import cue_distance, f1_by_cue_distance, role_pair_f1, spans


def sentence(text: str, tags: str) -> Sentence:
    return Sentence(tokens=tuple(text.split()), slots=tuple(tags.split()))


FROM_TO = sentence(
    "show flights from boston to new york on monday",
    "O O O B-fromloc.city_name O B-toloc.city_name I-toloc.city_name O B-depart_date.day_name",
)
# "in" is no cue: boston is 2 tokens after "arrive", "before" 3 and "5 pm" 4.
ARRIVE = sentence(
    "flights that arrive in boston before 5 pm",
    "O O O O B-toloc.city_name B-arrive_time.time_relative B-arrive_time.time I-arrive_time.time",
)
# "morning" is 6 tokens after "leaving": the far bucket.
LEAVE = sentence(
    "flights leaving at about 8 in the morning",
    "O O O B-depart_time.time_relative B-depart_time.time O O B-depart_time.period_of_day",
)
NO_ROLE = sentence("ground transportation in denver", "O O O B-city_name")


def gold_tags(*sentences: Sentence) -> list[list[str]]:
    return [list(s.slots) for s in sentences]


def test_spans_follow_conlleval() -> None:
    tags = ["B-a", "I-a", "B-a", "O", "I-b", "I-b", "I-a", "B-c", "I-a"]
    assert spans(tags) == [(0, 2, "a"), (2, 3, "a"), (4, 6, "b"), (6, 7, "a"), (7, 8, "c"), (8, 9, "a")]
    assert spans(["B-a", "O", "I-a"]) == [(0, 1, "a"), (2, 3, "a")]  # an O ends a span
    assert spans([]) == []
    assert spans(["O", "O"]) == []


def test_perfect_prediction_scores_100() -> None:
    scores = role_pair_f1([FROM_TO, ARRIVE], gold_tags(FROM_TO, ARRIVE))
    assert scores == {
        "role_f1": 100.0,
        "role_precision": 100.0,
        "role_recall": 100.0,
        "role_sentences": 2,
        "role_spans": 3,
        "role_confusions": 0,
    }
    by_distance = f1_by_cue_distance([FROM_TO, ARRIVE], gold_tags(FROM_TO, ARRIVE))
    assert all(bucket["f1"] == 100.0 for bucket in by_distance.values() if bucket["gold_spans"])


def test_swapped_roles_score_0_and_count_as_confusions() -> None:
    predicted = [
        "O O O B-toloc.city_name O B-fromloc.city_name I-fromloc.city_name O B-depart_date.day_name".split(),
        "O O O O B-fromloc.city_name B-arrive_time.time_relative B-arrive_time.time I-arrive_time.time".split(),
    ]
    scores = role_pair_f1([FROM_TO, ARRIVE], predicted)
    assert (scores["role_f1"], scores["role_precision"], scores["role_recall"]) == (0.0, 0.0, 0.0)
    assert scores["role_confusions"] == 3


def test_wrong_boundaries_are_no_confusion() -> None:
    predicted = "O O O B-toloc.city_name O B-fromloc.city_name O O B-depart_date.day_name".split()
    scores = role_pair_f1([FROM_TO], [predicted])
    assert scores["role_confusions"] == 1  # boston swapped; "new" alone has other boundaries than "new york"


def test_other_slot_types_are_ignored() -> None:
    predicted = "B-airline_name O O B-fromloc.city_name O B-toloc.city_name I-toloc.city_name O O".split()
    assert role_pair_f1([FROM_TO], [predicted])["role_f1"] == 100.0


def test_sentences_without_from_or_to_city_are_excluded() -> None:
    wrong_on_no_role = "O O O B-toloc.city_name".split()
    scores = role_pair_f1([FROM_TO, NO_ROLE], [list(FROM_TO.slots), wrong_on_no_role])
    assert scores["role_sentences"] == 1
    assert scores["role_spans"] == 2
    assert scores["role_precision"] == 100.0  # the toloc guess on NO_ROLE is not a false positive
    assert role_pair_f1([NO_ROLE], [list(NO_ROLE.slots)])["role_f1"] == 0.0


def test_partial_prediction_percentages() -> None:
    predicted = "O O O B-fromloc.city_name O O O O O".split()
    scores = role_pair_f1([FROM_TO], [predicted])
    assert (scores["role_precision"], scores["role_recall"], scores["role_f1"]) == (100.0, 50.0, 66.67)


def test_stray_inside_tags_start_spans() -> None:
    # A stray I- is a span of its own: an I-toloc city alone matches gold B-toloc ...
    alone = "O O O O I-toloc.city_name B-arrive_time.time_relative B-arrive_time.time I-arrive_time.time".split()
    assert role_pair_f1([ARRIVE], [alone])["role_f1"] == 100.0
    # ... and an I- of another type after a B- splits "new york" into two wrong spans.
    split = "O O O B-fromloc.city_name O B-toloc.city_name I-fromloc.city_name O O".split()
    scores = role_pair_f1([FROM_TO], [split])
    assert (scores["role_precision"], scores["role_recall"]) == (33.33, 50.0)


def test_cue_distances() -> None:
    assert [cue_distance(FROM_TO.tokens, start) for start in (3, 5, 8)] == [1, 1, 4]  # boston, new york, monday
    assert [cue_distance(ARRIVE.tokens, start) for start in (4, 5, 6)] == [2, 3, 4]  # boston, before, 5 pm
    assert cue_distance(("Leaving", "boston"), 1) == 1
    assert cue_distance(("boston", "to", "denver"), 0) is None


def test_distance_buckets() -> None:
    by_distance = f1_by_cue_distance([FROM_TO, ARRIVE], gold_tags(FROM_TO, ARRIVE))
    assert list(by_distance) == ["1", "2", "3-4", "5+", "none"]
    counts = {name: bucket["gold_spans"] for name, bucket in by_distance.items()}
    assert counts == {"1": 2, "2": 1, "3-4": 3, "5+": 0, "none": 0}
    assert by_distance["5+"] == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "gold_spans": 0}


def test_far_bucket() -> None:
    assert [cue_distance(LEAVE.tokens, start) for start in (3, 4, 7)] == [2, 3, 6]
    predicted = "O O O B-depart_time.time_relative B-depart_time.time O O B-arrive_time.period_of_day".split()
    by_distance = f1_by_cue_distance([LEAVE], [predicted])
    assert by_distance["5+"] == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "gold_spans": 1}
    assert by_distance["3-4"]["f1"] == by_distance["2"]["f1"] == 100.0


def test_no_cue_goes_to_none_and_non_role_slots_are_not_counted() -> None:
    no_cue = sentence(
        "boston to denver flights on monday", "B-fromloc.city_name O B-toloc.city_name O O B-depart_date.day_name"
    )
    predicted = "B-fromloc.city_name O B-toloc.city_name O O B-arrive_date.day_name".split()
    by_distance = f1_by_cue_distance([no_cue, NO_ROLE], [predicted, list(NO_ROLE.slots)])
    assert by_distance["none"] == {"f1": 100.0, "precision": 100.0, "recall": 100.0, "gold_spans": 1}
    assert by_distance["1"]["gold_spans"] == 1
    # monday (4 after "to"): the gold depart_date is missed and the arrive_date guess is a false positive.
    assert by_distance["3-4"] == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "gold_spans": 1}


def test_errors_land_in_their_bucket() -> None:
    predicted = "O O O O B-toloc.city_name O B-arrive_time.time I-arrive_time.time".split()
    by_distance = f1_by_cue_distance([ARRIVE], [predicted])
    assert by_distance["2"]["f1"] == 100.0
    far = by_distance["3-4"]
    assert (far["precision"], far["recall"], far["f1"]) == (100.0, 50.0, 66.67)


def test_custom_buckets_leave_uncovered_distances_out() -> None:
    by_distance = f1_by_cue_distance([ARRIVE], gold_tags(ARRIVE), buckets=((1, 2), (3, 3)))
    assert {name: bucket["gold_spans"] for name, bucket in by_distance.items()} == {"1-2": 1, "3": 1, "none": 0}


def test_length_mismatches_raise() -> None:
    with pytest.raises(ValueError, match="predictions for"):
        role_pair_f1([FROM_TO], [])
    with pytest.raises(ValueError, match="predicted tags for"):
        f1_by_cue_distance([FROM_TO], [["O"]])
