"""The REST API in-process (Flask's test client, the tiny session model): every happy path,
every client mistake as a 4xx JSON error, and answers checked against /openapi.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.errors import InvalidSetting, ModelCorrupt, ModelNotFound
from service.model_store import check_model_folder
from service.settings import Settings, load_settings

LIMITS = {"MAX_TEXT_CHARS": 1000, "MAX_TOKENS": 50, "MAX_BATCH": 4, "MAX_BODY_BYTES": 256 * 1024}
SENTENCE = "show me flights from boston to taipei on friday"


@pytest.fixture(scope="module")
def app(tiny_model: Path):
    return create_app({"TESTING": True, "MODEL": str(tiny_model.parent), **LIMITS})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def spec(app) -> dict:
    return app.test_client().get("/openapi.json").get_json()


def conforms(spec: dict, schema: dict, value: Any, where: str = "$") -> None:
    """A small JSON-schema check, enough for the document's keywords (no jsonschema installed)."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for part in schema.get("allOf", []):
        conforms(spec, part, value, where)
    if value is None and schema.get("nullable"):
        return
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float)}
    if kind:
        assert isinstance(value, types[kind]) and not isinstance(value, bool), f"{where}: {value!r}"
    if kind == "object":
        assert not set(schema.get("required", [])) - set(value), f"{where}: missing keys"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                conforms(spec, sub, value[key], f"{where}.{key}")
    if kind == "array":
        assert len(value) <= schema.get("maxItems", len(value)), f"{where}: too many items"
        for i, item in enumerate(value):
            conforms(spec, schema.get("items", {}), item, f"{where}[{i}]")
    if kind in ("integer", "number"):
        assert schema.get("minimum", value) <= value <= schema.get("maximum", value), where


def check_response(spec: dict, path: str, method: str, response) -> dict:
    """The body must match the document's schema for this path, method and status."""
    body = response.get_json()
    documented = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, (path, response.status_code)
    conforms(spec, documented[str(response.status_code)]["content"]["application/json"]["schema"], body)
    return body


# --- happy paths ------------------------------------------------------------------------


def test_health_and_ready(client, spec):
    assert check_response(spec, "/healthz", "get", client.get("/healthz")) == {"status": "ok"}
    ready = check_response(spec, "/readyz", "get", client.get("/readyz"))
    assert ready["status"] == "ready" and ready["model"] == {"name": "tiny", "version": 1}


def test_models_lists_the_metadata(client, spec):
    body = check_response(spec, "/v1/models", "get", client.get("/v1/models"))
    assert body["heads"] == ["slots", "intent", "pos"]
    assert {"slots", "intent", "pos"} <= set(body["labels"]) and body["created"] and body["metrics"]


def test_parse_text_has_offsets_into_the_original(client, spec):
    text = "  show me\tflights from  boston to taipei "
    body = check_response(spec, "/v1/parse", "post", client.post("/v1/parse", json={"text": text}))
    assert [t["text"] for t in body["tokens"]] == text.split()
    for token in body["tokens"]:
        assert text[token["start"] : token["end"]] == token["text"]
        assert {"slot", "slot_confidence", "pos", "pos_confidence"} <= set(token)
    for entity in body["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    assert body["intent"]["name"] and body["model"] == {"name": "tiny", "version": 1}


def test_parse_ranks_intents_most_likely_first(app, client, spec):
    body = check_response(spec, "/v1/parse", "post", client.post("/v1/parse", json={"text": SENTENCE}))
    ranking = body["intent_ranking"]
    intents = app.extensions["slot_tagger"].model.metadata["labels"]["intent"]
    assert len(ranking) == min(10, len(intents)) and {r["name"] for r in ranking} <= set(intents)
    assert ranking[0] == body["intent"]
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    for entity in body["entities"]:
        assert entity["value"] == entity["text"] and entity["entity"] == entity["slot"]


def test_model_parse_answers_what_rasa_sends_in_rasas_format(client, spec):
    sent = {"text": SENTENCE, "message_id": None, "token": None, "metadata": {"from": "rasa"}}
    body = check_response(spec, "/model/parse", "post", client.post("/model/parse", json=sent))
    ours = client.post("/v1/parse", json={"text": SENTENCE}).get_json()
    assert body["text"] == SENTENCE and body["intent"] == ours["intent"]
    assert body["intent_ranking"] == ours["intent_ranking"]
    assert body["text_tokens"] == [[t["start"], t["end"]] for t in ours["tokens"]]
    assert [(e["entity"], e["start"], e["end"], e["value"], e["confidence_entity"]) for e in body["entities"]] == [
        (e["entity"], e["start"], e["end"], e["value"], e["confidence"]) for e in ours["entities"]
    ]
    assert all(e["extractor"] == "SlotTagger" for e in body["entities"])
    with_ids = client.post("/model/parse", json={"text": SENTENCE, "message_id": "m1", "token": "t"})
    assert with_ids.status_code == 200 and with_ids.get_json() == body


def test_model_parse_gives_rasas_empty_parse_for_a_message_without_words(client, spec):
    body = check_response(spec, "/model/parse", "post", client.post("/model/parse", json={"text": "  "}))
    assert body == {"text": "  ", "intent": {"name": None, "confidence": 0.0}, "entities": [],
                    "intent_ranking": [], "text_tokens": []}


def test_intent_ranking_size_is_a_setting(tiny_model):
    small = create_app({"TESTING": True, "MODEL": str(tiny_model.parent), "INTENT_RANKING": 2})
    body = small.test_client().post("/v1/parse", json={"text": SENTENCE}).get_json()
    assert len(body["intent_ranking"]) == 2


def test_parse_tokens_offsets_refer_to_the_joined_tokens(client, spec):
    words = ["fly", "to", "new", "york", ","]
    body = check_response(spec, "/v1/parse", "post", client.post("/v1/parse", json={"tokens": words}))
    joined = " ".join(words)
    assert [joined[t["start"] : t["end"]] for t in body["tokens"]] == words


def test_parse_matches_the_cli_predictor(app, client):
    """One code path: the REST answer is the predictor's answer, reshaped."""
    from service.api.tagger import EXTENSION

    expected = app.extensions[EXTENSION].predictor.tag_texts([SENTENCE])[0]
    body = client.post("/v1/parse", json={"text": SENTENCE}).get_json()
    assert [t["slot"] for t in body["tokens"]] == expected["slots"]
    assert [t["pos"] for t in body["tokens"]] == expected["pos"]
    assert body["intent"]["name"] == expected["intent"] and body["entities"] == expected["entities"]


def test_batch_keeps_order_in_one_predictor_call(app, client, spec, monkeypatch):
    from service.api.tagger import EXTENSION

    predictor = app.extensions[EXTENSION].predictor
    calls = []
    original = predictor.tag
    monkeypatch.setattr(predictor, "tag", lambda *a: calls.append(a) or original(*a))
    texts = ["list flights to denver", SENTENCE, "what is the fare"]
    response = client.post("/v1/parse/batch", json={"texts": texts})
    body = check_response(spec, "/v1/parse/batch", "post", response)
    assert len(calls) == 1
    assert [" ".join(t["text"] for t in r["tokens"]) for r in body["results"]] == texts
    single = client.post("/v1/parse", json={"text": SENTENCE}).get_json()
    assert body["results"][1]["tokens"] == single["tokens"]


@pytest.mark.parametrize(
    "text",
    ["飛往台北的航班", "رحلات إلى القاهرة", "рейсы в москву", "fly ✈️ to taipei 🇹🇼", "a\x00b\x07c\x1b[31m",
     "w" * 900, "e\u0301\u200b\u200f", "\ufeffboston"],
)
def test_any_text_is_answered(client, spec, text):
    response = client.post("/v1/parse", json={"text": text})
    body = check_response(spec, "/v1/parse", "post", response)
    assert response.status_code == 200 and body["tokens"]


def test_openapi_document(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/v1/parse", "/v1/parse/batch", "/model/parse", "/v1/models", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert spec["components"]["schemas"]["BatchRequest"]["properties"]["texts"]["maxItems"] == LIMITS["MAX_BATCH"]


def test_metrics_count_routes_statuses_and_errors(client):
    client.post("/v1/parse", json={"text": SENTENCE})
    client.post("/v1/parse", json={"text": " "})
    client.get("/no/such/route")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'slot_tagger_http_requests_total{method="POST",route="/v1/parse",status="200"}' in text
    assert 'slot_tagger_http_requests_total{method="POST",route="/v1/parse",status="400"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert 'slot_tagger_errors_total{code="empty_input"}' in text
    assert "slot_tagger_inference_seconds_count" in text
    assert "slot_tagger_http_request_duration_seconds_bucket" in text


# --- client mistakes ----------------------------------------------------------------------

JSON_HEADERS = {"Content-Type": "application/json"}
BAD = [
    # (method, path, request kwargs, status, code, field)
    ("post", "/v1/parse", {"data": "{not json", "headers": JSON_HEADERS}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"data": b'{"text": "\xff"}', "headers": JSON_HEADERS}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"data": "[" * 50_000, "headers": JSON_HEADERS}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"data": "", "headers": JSON_HEADERS}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"json": ["a list"]}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"json": "text"}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"data": '{"text": "hi"}', "headers": {"Content-Type": "text/plain"}}, 415,
     "unsupported_media_type", None),
    ("post", "/v1/parse", {"data": '{"text": "hi"}'}, 415, "unsupported_media_type", None),
    ("post", "/v1/parse", {"json": {}}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"json": {"text": "hi", "lang": "en"}}, 400, "invalid_request", "lang"),
    ("post", "/v1/parse", {"json": {"text": 5}}, 400, "invalid_request", "text"),
    ("post", "/v1/parse", {"json": {"text": None}}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"json": {"tokens": "fly to"}}, 400, "invalid_request", "tokens"),
    ("post", "/v1/parse", {"json": {"tokens": ["fly", 3]}}, 400, "invalid_request", "tokens[1]"),
    ("post", "/v1/parse", {"json": {"text": "hi", "tokens": ["hi"]}}, 400, "invalid_request", None),
    ("post", "/v1/parse", {"json": {"text": ""}}, 400, "empty_input", "text"),
    ("post", "/v1/parse", {"json": {"text": " \t\n "}}, 400, "empty_input", "text"),
    ("post", "/v1/parse", {"json": {"text": "x" * 1001}}, 400, "text_too_long", "text"),
    ("post", "/v1/parse", {"json": {"text": "a " * 51}}, 400, "input_too_long", "text"),
    ("post", "/v1/parse", {"data": '{"text": "a\\ud800b"}', "headers": JSON_HEADERS}, 400, "invalid_utf8", "text"),
    ("post", "/v1/parse", {"json": {"tokens": []}}, 400, "empty_input", "tokens"),
    ("post", "/v1/parse", {"json": {"tokens": ["fly", ""]}}, 400, "invalid_request", "tokens[1]"),
    ("post", "/v1/parse", {"json": {"tokens": ["new york"]}}, 400, "invalid_request", "tokens[0]"),
    ("post", "/v1/parse", {"json": {"tokens": ["a"] * 51}}, 400, "input_too_long", "tokens"),
    ("post", "/v1/parse/batch", {"json": {"texts": ["a"] * 5}}, 400, "batch_too_large", "texts"),
    ("post", "/v1/parse/batch", {"json": {"texts": []}}, 400, "empty_input", "texts"),
    ("post", "/v1/parse/batch", {"json": {"texts": ["ok", " "]}}, 400, "empty_input", "texts[1]"),
    ("post", "/v1/parse/batch", {"json": {"texts": ["ok", 1]}}, 400, "invalid_request", "texts[1]"),
    ("post", "/v1/parse/batch", {"json": {"texts": ["ok", "a " * 51]}}, 400, "input_too_long", "texts[1]"),
    ("post", "/v1/parse/batch", {"json": {"text": "ok"}}, 400, "invalid_request", "texts"),
    ("post", "/model/parse", {"json": {"message_id": "m1"}}, 400, "invalid_request", "text"),
    ("post", "/model/parse", {"json": {"text": 5}}, 400, "invalid_request", "text"),
    ("post", "/model/parse", {"json": {"text": "hi", "message_id": 7}}, 400, "invalid_request", "message_id"),
    ("post", "/model/parse", {"json": {"text": "x" * 1001}}, 400, "text_too_long", "text"),
    ("post", "/model/parse", {"data": '{"text": "a\\ud800b"}', "headers": JSON_HEADERS}, 400, "invalid_utf8", "text"),
    ("post", "/model/parse", {"data": "{not json", "headers": JSON_HEADERS}, 400, "invalid_request", None),
    ("get", "/model/parse", {}, 405, "method_not_allowed", None),
    ("post", "/v1/parse", {"json": {"text": "x" * 300_000}}, 413, "request_entity_too_large", None),
    ("get", "/v1/nothing", {}, 404, "not_found", None),
    ("get", "/v1/parse/", {}, 404, "not_found", None),
    ("get", "/v1/parse", {}, 405, "method_not_allowed", None),
    ("delete", "/v1/models", {}, 405, "method_not_allowed", None),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code", "field"), BAD)
def test_client_mistakes_get_a_json_error_and_the_server_goes_on(
    client, spec, method, path, kwargs, status, code, field
):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert response.is_json and "Traceback" not in response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert error["message"]
    conforms(spec, spec["components"]["schemas"]["Error"], response.get_json())
    assert client.post("/v1/parse", json={"text": SENTENCE}).status_code == 200


# --- settings and start-up --------------------------------------------------------------


def test_settings_defaults_env_then_explicit_mapping():
    assert load_settings({}) == Settings()
    env = {"SLOT_TAGGER_PORT": "9000", "SLOT_TAGGER_MODEL": "models/atis", "SLOT_TAGGER_MAX_BATCH": "8"}
    settings = load_settings(env, {"MAX_BATCH": 2, "TESTING": True})
    assert (settings.port, settings.model, settings.max_batch) == (9000, "models/atis", 2)


@pytest.mark.parametrize("env", [{"SLOT_TAGGER_PORT": "http"}, {"SLOT_TAGGER_WORKERS": "0"}, {"SLOT_TAGGER_MODEL": " "}])
def test_bad_settings_name_the_variable(env):
    with pytest.raises(InvalidSetting, match=next(iter(env))):
        load_settings(env)


def test_missing_or_corrupt_model_fails_app_creation(tmp_path):
    with pytest.raises(ModelNotFound, match=str(tmp_path / "nope")):
        create_app({"MODEL": str(tmp_path / "nope")})
    (tmp_path / "broken" / "1").mkdir(parents=True)
    with pytest.raises(ModelCorrupt, match="broken"):
        create_app({"MODEL": str(tmp_path / "broken")})


def test_folder_check_before_fork_agrees_with_the_loader(tmp_path, tiny_model: Path):
    assert check_model_folder(tiny_model.parent)[0] == tiny_model
    assert check_model_folder(tiny_model)[0] == tiny_model
    with pytest.raises(ModelNotFound):
        check_model_folder(tmp_path)
    (tmp_path / "1").mkdir()
    with pytest.raises(ModelCorrupt, match="saved_model.pb"):
        check_model_folder(tmp_path)
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "2" / "metadata.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelCorrupt, match="metadata.json"):
        check_model_folder(tmp_path)
    assert json.loads((tiny_model / "metadata.json").read_text())["name"] == "tiny"


# --- token auth and what a server fault tells a client ------------------------------------

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(tiny_model: Path):
    return create_app({"TESTING": True, "MODEL": str(tiny_model.parent), "API_TOKEN": TOKEN}).test_client()


def test_with_a_token_every_route_but_the_health_checks_needs_it(guarded):
    for path in ("/healthz", "/readyz"):
        assert guarded.get(path).status_code == 200
    for method, path in (("get", "/v1/models"), ("get", "/metrics"), ("get", "/openapi.json")):
        assert getattr(guarded, method)(path).status_code == 401, path
    refused = guarded.post("/v1/parse", json={"text": SENTENCE})
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.get_json()["error"]["code"] == "unauthorized" and TOKEN not in refused.get_data(as_text=True)
    wrong = guarded.post("/v1/parse", json={"text": SENTENCE}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = guarded.post("/v1/parse", json={"text": SENTENCE}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and right.get_json()["tokens"]


def test_model_parse_also_takes_rasas_body_token_and_query_token(guarded):
    assert guarded.post("/model/parse", json={"text": SENTENCE, "token": TOKEN}).status_code == 200
    assert guarded.post(f"/model/parse?token={TOKEN}", json={"text": SENTENCE, "token": None}).status_code == 200
    assert guarded.post("/model/parse", json={"text": SENTENCE, "token": None}).status_code == 401
    lone = guarded.post("/model/parse", data='{"text": "hi", "token": "\\ud800"}', headers=JSON_HEADERS)
    assert lone.status_code == 401
    # the body token counts on /model/parse only
    assert guarded.post("/v1/parse", json={"text": SENTENCE, "token": TOKEN}).status_code == 401


def test_a_server_fault_keeps_its_code_but_not_its_paths(app, client, monkeypatch, caplog):
    from service.api.tagger import EXTENSION
    from service.errors import ModelCorrupt

    def broken(*_):
        raise ModelCorrupt("model at /srv/secret/models/tiny/1 returned lengths [2] for sentences of [3] tokens")

    monkeypatch.setattr(app.extensions[EXTENSION].predictor, "tag", broken)
    with caplog.at_level("ERROR", logger="service.api.errors"):
        response = client.post("/v1/parse", json={"text": SENTENCE})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "model_corrupt"
    assert "/srv/secret" not in response.get_data(as_text=True)
    assert "/srv/secret" in caplog.text


def test_the_open_bind_warning():
    from service.settings import open_bind_warning

    assert open_bind_warning(Settings(host="127.0.0.1")) is None and open_bind_warning(Settings(host="::1")) is None
    assert open_bind_warning(Settings(host="localhost")) is None
    assert "without SLOT_TAGGER_API_TOKEN" in open_bind_warning(Settings(host="0.0.0.0"))
    assert open_bind_warning(Settings(host="0.0.0.0", api_token="x")) is None
    assert "api_token" not in repr(Settings(api_token="x"))  # a logged Settings never shows it
