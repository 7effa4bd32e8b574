"""The worker's `Tagger` (a loaded model and its warmed-up `Predictor`), shared by every request.

Views only call `get_tagger()`, once per request, so a request is answered by one model version
from start to end even when service/api/rollout.py swaps in a new version meanwhile. `parse`
adds character offsets to the predictor's answer: the predictor is the same code path as the CLI
(tokens in, tags, entities out), and the offsets come from the `Token`s we gave it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import current_app

from service.api.metrics import INFERENCE_SECONDS, SENTENCES
from service.errors import EmptyInput, InputError, InputTooLong, InvalidRequest
from service.model_store import LoadedModel
from service.predictor import Predictor
from service.settings import Settings
from service.tokenizer import Token

EXTENSION = "slot_tagger"
# The predictor reports a bad sentence as an error dict; the REST edge raises it again.
PREDICTOR_ERRORS: dict[str, type[InputError]] = {
    cls.code: cls for cls in (EmptyInput, InputTooLong, InputError)
}


@dataclass
class Tagger:
    """A loaded model version and its warmed-up predictor."""

    model: LoadedModel
    predictor: Predictor

    def model_info(self) -> dict[str, Any]:
        return {"name": self.model.name, "version": self.model.version}

    def parse(self, token_lists: list[list[Token]], texts: list[str], fields: list[str]) -> list[dict]:
        """Tag all sentences in one predictor call; raise the first sentence error as a 4xx."""
        started = time.perf_counter()
        results = self.predictor.tag(token_lists, texts)
        INFERENCE_SECONDS.observe(time.perf_counter() - started)
        SENTENCES.inc(len(texts))
        for result, field in zip(results, fields, strict=True):
            if "error" in result:
                error = result["error"]
                raise PREDICTOR_ERRORS.get(error["code"], InvalidRequest)(error["message"], field=field)
        return [
            _with_offsets(result, tokens, self.model.heads)
            for result, tokens in zip(results, token_lists, strict=True)
        ]


def build_tagger(model: LoadedModel, settings: Settings) -> Tagger:
    """The model with its predictor, warmed up: a warm-up that fails means the model is not valid."""
    predictor = Predictor(
        model, max_tokens=settings.max_tokens, compiled_single=True, intent_ranking=settings.intent_ranking
    )
    predictor.warm_up()
    return Tagger(model=model, predictor=predictor)


def get_tagger() -> Tagger:
    return current_app.extensions[EXTENSION]


def _with_offsets(result: dict, tokens: list[Token], heads: tuple[str, ...]) -> dict:
    """Reshape the predictor's parallel lists into one object per token, with offsets."""
    rows = []
    for i, token in enumerate(tokens):
        row: dict[str, Any] = {"text": token.text, "start": token.start, "end": token.end}
        if "slots" in heads:
            row["slot"] = result["slots"][i]
            row["slot_confidence"] = result["slot_confidence"][i]
        if "pos" in heads:
            row["pos"] = result["pos"][i]
            row["pos_confidence"] = result["pos_confidence"][i]
        rows.append(row)
    shaped: dict[str, Any] = {"tokens": rows}
    if "intent" in heads:
        shaped["intent"] = {"name": result["intent"], "confidence": result["intent_confidence"]}
        shaped["intent_ranking"] = result["intent_ranking"]
    if "slots" in heads:
        shaped["entities"] = result["entities"]
    return shaped
