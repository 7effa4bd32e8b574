"""The OpenAPI 3 document served at GET /openapi.json.

Built from `Settings` so the limits it states are the ones the server enforces; the API tests
validate real responses against these schemas, so the document cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from service.settings import Settings

bp = Blueprint("openapi", __name__)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


NUM = {"type": "number", "minimum": 0, "maximum": 1}
INT = {"type": "integer", "minimum": 0}
STR = {"type": "string"}
ERRORS = {
    "400": _json(_ref("Error"), "invalid JSON, schema or limits; `field` names the value"),
    "401": _json(_ref("Error"), "SLOT_TAGGER_API_TOKEN is set and the request lacks it"),
    "413": _json(_ref("Error"), "body larger than SLOT_TAGGER_MAX_BODY_BYTES"),
    "415": _json(_ref("Error"), "Content-Type is not application/json"),
    "503": _json(_ref("Error"), "`overloaded`: the worker's queue is full; retry after `Retry-After` seconds"),
}


def document(settings: Settings) -> dict[str, Any]:
    """The whole document; heads a model lacks leave their fields out of the answers."""
    text = {"type": "string", "minLength": 1, "maxLength": settings.max_text_chars}
    schemas = {
        "Error": _obj(["error"], error=_obj(["code", "message"], code=STR, message=STR, field=STR)),
        "ModelRef": _obj(["name", "version"], name=STR, version=INT),
        "ParseRequest": {
            **_obj([], text=text, tokens={"type": "array", "items": {**STR, "minLength": 1},
                                          "maxItems": settings.max_tokens}),
            "additionalProperties": False,
            "description": "Exactly one of `text` or `tokens`. For `tokens`, offsets refer to "
                           "the tokens joined by single spaces. Offsets count Unicode code points.",
        },
        "BatchRequest": {
            **_obj(["texts"], texts={"type": "array", "items": text, "minItems": 1,
                                     "maxItems": settings.max_batch}),
            "additionalProperties": False,
        },
        "Token": _obj(["text", "start", "end"], text=STR, start=INT, end=INT, slot=STR,
                      slot_confidence=NUM, pos=STR, pos_confidence=NUM),
        "Entity": {
            **_obj(["slot", "text", "start", "end", "confidence", "entity", "value"], slot=STR,
                   text=STR, start=INT, end=INT, confidence=NUM, entity=STR, role=STR, group=STR,
                   value=STR),
            "description": "`slot` is the learned label, `entity[:role[:group]]`, unfolded into "
                           "`entity`, `role` and `group`; `value` is the synonym's value when "
                           "the training data maps this text to one, else the text.",
        },
        "Intent": _obj(["name", "confidence"], name=STR, confidence=NUM),
        "IntentRanking": {"type": "array", "items": _ref("Intent"),
                          "maxItems": settings.intent_ranking,
                          "description": "the most likely intents, most likely first"},
        "Result": _obj(["tokens"], tokens={"type": "array", "items": _ref("Token")},
                       intent=_ref("Intent"), intent_ranking=_ref("IntentRanking"),
                       entities={"type": "array", "items": _ref("Entity")}),
        "ParseResponse": {"allOf": [_ref("Result"), _obj(["model"], model=_ref("ModelRef"))]},
        "BatchResponse": _obj(["results", "model"], results={"type": "array", "items": _ref("Result")},
                              model=_ref("ModelRef")),
        "Model": _obj(["name", "version", "heads", "labels"], name=STR, version=INT,
                      heads={"type": "array", "items": STR}, created=STR,
                      labels={"type": "object"}, metrics={"type": "object"}),
        "Status": _obj(["status"], status=STR, model=_ref("ModelRef")),
        "RasaParseRequest": {
            **_obj(["text"], text={"type": "string", "maxLength": settings.max_text_chars},
                   message_id={**STR, "nullable": True}, token={**STR, "nullable": True}),
            "description": "What Rasa's RasaNLUHttpInterpreter sends; other keys are ignored.",
        },
        "RasaParseResponse": _obj(
            ["text", "intent", "entities", "intent_ranking", "text_tokens"], text=STR,
            intent=_obj(["name", "confidence"], name={**STR, "nullable": True}, confidence=NUM),
            entities={"type": "array", "items": _ref("RasaEntity")},
            intent_ranking=_ref("IntentRanking"),
            text_tokens={"type": "array", "items": {"type": "array", "items": INT}},
        ),
        "RasaEntity": _obj(
            ["entity", "start", "end", "value", "confidence_entity", "extractor"], entity=STR,
            start=INT, end=INT, value=STR, confidence_entity=NUM, role=STR, group=STR,
            extractor=STR, processors={"type": "array", "items": STR},
        ),
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "slot-tagger", "version": "1",
                 "description": "Slot, intent and part-of-speech tagging. Errors are "
                                "`{\"error\": {\"code\", \"message\", \"field\"}}`."},
        "paths": {
            "/v1/parse": {"post": {
                "summary": "Tag one sentence",
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("ParseRequest")}}},
                "responses": {"200": _json(_ref("ParseResponse"), "tags and entities"), **ERRORS},
            }},
            "/v1/parse/batch": {"post": {
                "summary": "Tag several sentences in one model call, answers in order",
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("BatchRequest")}}},
                "responses": {"200": _json(_ref("BatchResponse"), "one result per text"), **ERRORS},
            }},
            "/model/parse": {"post": {
                "summary": "Tag one message and answer as Rasa's NLU server does",
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("RasaParseRequest")}}},
                "responses": {"200": _json(_ref("RasaParseResponse"), "Rasa's parse format"), **ERRORS},
            }},
            "/v1/models": {"get": {"summary": "The served model's metadata",
                                   "responses": {"200": _json(_ref("Model"), "metadata")}}},
            "/healthz": {"get": {"summary": "The process answers",
                                 "responses": {"200": _json(_ref("Status"), "alive")}}},
            "/readyz": {"get": {"summary": "The model is loaded and warmed up",
                                "responses": {"200": _json(_ref("Status"), "ready"),
                                              "503": _json(_ref("Status"), "draining after SIGTERM")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "text exposition format",
                                                       "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OpenAPI 3"}}}},
        },
        "components": {"schemas": schemas},
    }


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return document(current_app.config["SETTINGS"])
