"""POST /model/parse: the answer Rasa's own NLU server gives, so a Rasa assistant needs no glue.

A Rasa assistant whose `endpoints.yml` names this server (`nlu:` / `url:`) posts each user
message here through its `RasaNLUHttpInterpreter`, as `{"text", "message_id", "token"}`, and
reads `intent`, `entities` and `intent_ranking` from the answer. Keys Rasa may add to the request
are ignored rather than refused, so a newer Rasa keeps working; `token` is accepted and not
checked. A message with no words (a user who sent only spaces) is not a client mistake here:
it gets Rasa's empty parse, a null intent and no entities.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict

from service.api.schemas import check_text, read_body
from service.api.tagger import get_tagger
from service.settings import Settings
from service.tokenizer import tokenize

bp = Blueprint("rasa", __name__, url_prefix="/model")

EXTRACTOR = "SlotTagger"  # Rasa names the component that found an entity
SYNONYM_PROCESSOR = "EntitySynonymMapper"  # and the one that changed its value, as Rasa does


class RasaParseRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    text: str
    message_id: str | None = None
    token: str | None = None


@bp.post("/parse")
def parse() -> dict[str, Any]:
    body = read_body(request, RasaParseRequest)
    if not body.text.strip():
        return {"text": body.text, "intent": {"name": None, "confidence": 0.0}, "entities": [],
                "intent_ranking": [], "text_tokens": []}
    settings: Settings = current_app.config["SETTINGS"]
    check_text(body.text, "text", settings)
    (result,) = get_tagger().parse([tokenize(body.text)], [body.text], ["text"])
    return rasa_answer(body.text, result)


def rasa_answer(text: str, result: dict[str, Any]) -> dict[str, Any]:
    """Our parse of `text` (as `/v1/parse` answers it) in the shape of Rasa's NLU server."""
    return {
        "text": text,
        "intent": result.get("intent", {"name": None, "confidence": 0.0}),
        "entities": [_rasa_entity(entity) for entity in result.get("entities", [])],
        "intent_ranking": result.get("intent_ranking", []),
        "text_tokens": [[token["start"], token["end"]] for token in result["tokens"]],
    }


def _rasa_entity(entity: dict[str, Any]) -> dict[str, Any]:
    answer = {
        "entity": entity["entity"],
        "start": entity["start"],
        "end": entity["end"],
        "value": entity["value"],
        "confidence_entity": entity["confidence"],
        **{key: entity[key] for key in ("role", "group") if key in entity},
        "extractor": EXTRACTOR,
    }
    if entity["value"] != entity["text"]:
        answer["processors"] = [SYNONYM_PROCESSOR]
    return answer
