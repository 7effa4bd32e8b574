"""A Rasa assistant's NLU server: a model trained on Rasa files, served by real gunicorn on
loopback with an API token, asked `/model/parse` exactly as Rasa's RasaNLUHttpInterpreter asks it
(the token from endpoints.yml in the JSON body).

The model is trained on tiny_bot's train folder with that folder as its dev set too, for enough
epochs to learn its own sentences, roles and synonyms included (about 20 s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import FIXTURES, TINY
from tests.test_gunicorn import Server, start, stop, wait_ready
from training.pipeline import train_rasa

TRAIN = FIXTURES / "rasa" / "tiny_bot" / "train"
# From orders.yml: `one [big](size) [hawaiian](dish) with [olives]{"entity": "topping", "role": "add"}`
# and the synonym `big` -> `large`.
SENTENCE = "one big hawaiian with olives"
TOKEN = "rasa-endpoints-token"
NETWORK = {key: value for key, value in TINY.items() if key not in ("seq_data", "conllu_data")}


@pytest.fixture(scope="module")
def bot_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    overrides = {**NETWORK, "max_epochs": 60, "patience": 60, "rnn_units": 32, "word_dim": 32,
                 "dropout": 0.1, "word_dropout": 0.0, "token_dropout": 0.0}
    return train_rasa(TRAIN, "tiny_bot", dev=TRAIN, models_dir=tmp_path_factory.mktemp("models"),
                      overrides=overrides)


@pytest.fixture(scope="module")
def server(bot_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start(bot_model.parent, tmp_path_factory.mktemp("log") / "gunicorn.log", SLOT_TAGGER_WORKERS="1",
                   SLOT_TAGGER_API_TOKEN=TOKEN)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


def rasa_parse(server: Server, body: dict) -> requests.Response:
    return requests.post(server.url + "/model/parse", json=body, timeout=30)


def test_model_parse_answers_in_rasas_format_with_role_and_synonym_value(server, bot_model):
    response = rasa_parse(server, {"text": SENTENCE, "message_id": None, "token": TOKEN})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["text", "intent", "entities", "intent_ranking", "text_tokens"]
    assert body["text"] == SENTENCE and body["intent"]["name"] == "order_pizza"
    ranking = body["intent_ranking"]
    intents = json.loads((bot_model / "metadata.json").read_text(encoding="utf-8"))["labels"]["intent"]
    assert ranking[0] == body["intent"] and sorted(r["name"] for r in ranking) == sorted(intents)
    assert "greet+order_pizza" in intents
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    by_entity = {e["entity"]: e for e in body["entities"]}
    assert set(by_entity) == {"size", "dish", "topping"}
    size, topping = by_entity["size"], by_entity["topping"]
    assert (size["start"], size["end"], size["value"], size["processors"]) == (4, 7, "large", ["EntitySynonymMapper"])
    assert (topping["value"], topping["role"]) == ("olives", "add") and "group" not in topping
    for entity in body["entities"]:
        assert entity["extractor"] == "SlotTagger" and 0.0 < entity["confidence_entity"] <= 1.0
    assert body["text_tokens"][0] == [0, 3]


def test_v1_parse_carries_the_same_ranking_role_and_value(server):
    rasa = rasa_parse(server, {"text": SENTENCE, "message_id": "b2831e73", "token": TOKEN}).json()
    ours = requests.post(server.url + "/v1/parse", json={"text": SENTENCE}, timeout=30,
                         headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert ours["intent"] == rasa["intent"] and ours["intent_ranking"] == rasa["intent_ranking"]
    assert [(e["entity"], e.get("role"), e["value"], e["slot"]) for e in ours["entities"]] == [
        (e["entity"], e.get("role"), e["value"], f"{e['entity']}:{e['role']}" if "role" in e else e["entity"])
        for e in rasa["entities"]
    ]


def test_a_message_without_words_and_a_bad_body(server):
    empty = rasa_parse(server, {"text": " ", "message_id": None, "token": TOKEN})
    assert empty.status_code == 200 and empty.json()["intent"] == {"name": None, "confidence": 0.0}
    bad = rasa_parse(server, {"message_id": "m1", "token": TOKEN})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "text"


def test_the_token_is_required_where_it_should_be(server):
    assert rasa_parse(server, {"text": SENTENCE, "token": None}).status_code == 401
    assert requests.post(f"{server.url}/model/parse?token={TOKEN}", json={"text": SENTENCE}, timeout=30).status_code == 200
    refused = requests.post(server.url + "/v1/parse", json={"text": SENTENCE}, timeout=30)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert requests.get(server.url + "/metrics", timeout=30).status_code == 401
    assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
