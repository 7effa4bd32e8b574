"""Slot metrics for the ablation study that tests two textbook claims about recurrent taggers on ATIS.

1. A tagger reads a slot's role from its context: `boston` is `fromloc` after "from"/"leave" and
   `toloc` after "to"/"arrive". `role_pair_f1` scores only the from/to city spans, on the sentences
   that have one, and counts the spans tagged with the right boundaries but the other role.
2. A (Bi)LSTM keeps long context: `f1_by_cue_distance` scores role-bearing spans by how far back the
   nearest role word stands, so an ablation can show whether F1 falls as that distance grows.

Pure Python (no TensorFlow): gold is `Sentence.slots`, predictions are BIO tag lists of the same length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from training.readers import Sentence

Span = tuple[int, int, str]  # first token, end token (exclusive), slot type
Bucket = tuple[int, int | None]  # lowest and highest distance, None for no upper bound

# Each role's opposite: a gold span found with the same boundaries but the other label is a role confusion.
CITY_ROLES = {"fromloc.city_name": "toloc.city_name", "toloc.city_name": "fromloc.city_name"}
# Slot types whose label says which part of the trip they belong to, so a word before them decides it.
ROLE_PREFIXES = ("fromloc.", "toloc.", "depart_", "arrive_", "return_", "stoploc.")

# Words that decide a slot's role, grouped by the role they mark:
# - direction prepositions "from", "to", "into" (fromloc/toloc), and "between" of "between X and Y";
# - departure "leave", "depart(ure)" (depart_*, fromloc) and arrival "arrive", "reach", "land" (arrive_*, toloc);
# - "return" (return_*); "stop", "via", "connecting" (stoploc).
# Left out on purpose, as they decide no role and would only shorten distances: "in", "at", "on" and "and"
# stand before role-less slots as much ("ground transportation in boston", "at 5 pm", "monday and tuesday"),
# and in "fly/go/get to boston" the role comes from the preposition, which is a cue itself.
CUE_WORDS = frozenset(
    {"from", "to", "into", "between"}
    | {"leave", "leaves", "leaving", "depart", "departs", "departing", "departure", "departures"}
    | {"arrive", "arrives", "arriving", "arrival", "arrivals", "reach", "reaches", "land", "lands", "landing"}
    | {"return", "returns", "returning"}
    | {"stop", "stops", "stopping", "stopover", "via", "connecting"}
)
DEFAULT_BUCKETS: tuple[Bucket, ...] = ((1, 1), (2, 2), (3, 4), (5, None))


def spans(tags: Sequence[str]) -> list[Span]:
    """BIO tags to spans the way conlleval reads them: a B- starts a span, an I- continues the span
    of its type that ends right before it, and any other I- (a stray one) starts a span of its own."""
    found: list[Span] = []
    for i, tag in enumerate(tags):
        kind = tag[2:]
        if tag.startswith("I-") and found and found[-1][1] == i and found[-1][2] == kind:
            found[-1] = (found[-1][0], i + 1, kind)
        elif tag != "O":
            found.append((i, i + 1, kind))
    return found


def cue_distance(tokens: Sequence[str], start: int) -> int | None:
    """Tokens from the nearest cue word before `start` to `start` (1: the cue is right before), None without one."""
    for distance in range(1, start + 1):
        if tokens[start - distance].lower() in CUE_WORDS:
            return distance
    return None


def _span_pairs(
    sentences: Sequence[Sentence], predicted: Sequence[Sequence[str]]
) -> Iterator[tuple[Sentence, list[Span], list[Span]]]:
    """Each sentence with its gold and predicted spans; a length mismatch is a caller's bug, so it raises."""
    if len(sentences) != len(predicted):
        raise ValueError(f"{len(predicted)} predictions for {len(sentences)} sentences")
    for sentence, tags in zip(sentences, predicted):
        if len(tags) != len(sentence.tokens):
            raise ValueError(f"{len(tags)} predicted tags for {len(sentence.tokens)} tokens: {sentence.tokens}")
        yield sentence, spans(sentence.slots or ()), spans(tags)


def _scores(matched: int, n_predicted: int, n_gold: int) -> dict[str, float]:
    """Strict span precision, recall and F1 as percentages rounded to 2 decimals; nothing to divide by gives 0.0."""

    def percent(part: int, whole: int) -> float:
        return round(100 * part / whole, 2) if whole else 0.0

    precision, recall = percent(matched, n_predicted), percent(matched, n_gold)
    return {"f1": percent(2 * matched, n_predicted + n_gold), "precision": precision, "recall": recall}


def role_pair_f1(sentences: Sequence[Sentence], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Span F1 of `fromloc.city_name`/`toloc.city_name` alone, on the sentences whose gold has such a span.

    Other slot types are ignored in gold and prediction alike, so the score isolates telling
    "leave taipei" from "arrive taipei"; `role_confusions` counts gold spans found with the right
    boundaries but the other role, the error that claim is about.
    """
    matched = n_predicted = n_gold = n_sentences = confusions = 0
    for _, gold, guess in _span_pairs(sentences, predicted):
        gold_roles = {span for span in gold if span[2] in CITY_ROLES}
        if not gold_roles:
            continue
        guess_roles = {span for span in guess if span[2] in CITY_ROLES}
        n_sentences += 1
        n_gold += len(gold_roles)
        n_predicted += len(guess_roles)
        matched += len(gold_roles & guess_roles)
        confusions += sum((start, end, CITY_ROLES[kind]) in guess_roles for start, end, kind in gold_roles)
    scores = {f"role_{name}": value for name, value in _scores(matched, n_predicted, n_gold).items()}
    return {**scores, "role_sentences": n_sentences, "role_spans": n_gold, "role_confusions": confusions}


def _bucket_name(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else str(low) if low == high else f"{low}-{high}"


def _bucket(distance: int | None, buckets: Sequence[Bucket]) -> str | None:
    """The bucket a distance falls in, "none" without a cue, None if no bucket covers it (then it is not counted)."""
    if distance is None:
        return "none"
    for low, high in buckets:
        if low <= distance and (high is None or distance <= high):
            return _bucket_name(low, high)
    return None


def f1_by_cue_distance(
    sentences: Sequence[Sentence], predicted: Sequence[Sequence[str]], buckets: Sequence[Bucket] = DEFAULT_BUCKETS
) -> dict[str, dict[str, float]]:
    """Strict span P/R/F1 of role-bearing slots (`ROLE_PREFIXES`) per bucket of `cue_distance`.

    The distance depends only on where a span starts, so gold and predicted spans are bucketed alike
    and a match always falls in one bucket: if F1 drops in the far buckets, long context is lost.
    """
    counts = {name: [0, 0, 0] for name in [_bucket_name(*bucket) for bucket in buckets] + ["none"]}
    for sentence, gold, guess in _span_pairs(sentences, predicted):
        gold_roles = {span for span in gold if span[2].startswith(ROLE_PREFIXES)}
        guess_roles = {span for span in guess if span[2].startswith(ROLE_PREFIXES)}
        for span in gold_roles | guess_roles:
            name = _bucket(cue_distance(sentence.tokens, span[0]), buckets)
            if name is not None:
                counts[name][0] += span in gold_roles and span in guess_roles
                counts[name][1] += span in guess_roles
                counts[name][2] += span in gold_roles
    return {name: {**_scores(*count), "gold_spans": count[2]} for name, count in counts.items()}
