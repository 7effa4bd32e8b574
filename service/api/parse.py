"""POST /v1/parse and /v1/parse/batch: validate, tag with the worker's predictor, answer.

For `{"tokens": [...]}` the offsets point into the tokens joined by single spaces, the same
string the CLI's `--pretokenized` mode would have read.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from service.api.schemas import BatchRequest, ParseRequest, check_batch, check_text, check_tokens, read_body
from service.api.tagger import get_tagger
from service.settings import Settings
from service.tokenizer import split_pretokenized, tokenize

bp = Blueprint("parse", __name__, url_prefix="/v1/parse")


@bp.post("")
def parse() -> dict:
    body = read_body(request, ParseRequest)
    settings: Settings = current_app.config["SETTINGS"]
    if body.tokens is not None:
        check_tokens(body.tokens, settings)
        text = " ".join(body.tokens)  # tokens hold no whitespace (checked), so splitting gives them back
        tokens, field = split_pretokenized(text), "tokens"
    else:
        check_text(body.text, "text", settings)
        text, tokens, field = body.text, tokenize(body.text), "text"
    tagger = get_tagger()
    (result,) = tagger.parse([tokens], [text], [field])
    return {**result, "model": tagger.model_info()}


@bp.post("/batch")
def parse_batch() -> dict:
    body = read_body(request, BatchRequest)
    check_batch(body.texts, current_app.config["SETTINGS"])
    tagger = get_tagger()
    fields = [f"texts[{i}]" for i in range(len(body.texts))]
    results = tagger.parse([tokenize(text) for text in body.texts], body.texts, fields)
    return {"results": results, "model": tagger.model_info()}

