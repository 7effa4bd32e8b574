"""Request bodies: parse JSON, check it against a strict schema, and apply the size limits.

Pydantic checks shape and types (`extra="forbid"`, strict: no silent coercion of 5 to "5");
the limits live in `Settings`, so they are checked here after the schema, with a `field`
that points at the offending value (`texts[3]`, `tokens[0]`). Every failure is an
`InputError`, which the one error handler turns into a 4xx.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from service.errors import (
    BatchTooLarge,
    EmptyInput,
    InvalidRequest,
    TextTooLong,
    UndecodableInput,
    UnsupportedMediaType,
)
from service.settings import Settings

Body = TypeVar("Body", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ParseRequest(_Strict):
    """Exactly one of `text` (raw, tokenized by the server) or `tokens` (already split)."""

    text: str | None = None
    tokens: list[str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ParseRequest:
        if (self.text is None) == (self.tokens is None):
            raise ValueError("send exactly one of 'text' or 'tokens'")
        return self


class BatchRequest(_Strict):
    texts: list[str]


def read_body(request: Request, model: type[Body]) -> Body:
    """The request's JSON body validated as `model`, or an `InputError` saying what is wrong."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"send Content-Type: application/json, got {request.mimetype or 'none'!r}"
        )
    try:
        data = json.loads(request.get_data())  # get_data enforces the body size limit (413)
    except (ValueError, RecursionError) as exc:  # ValueError covers bad UTF-8 too
        raise InvalidRequest(f"body is not valid JSON: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"body must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _field_name(error["loc"]) or None
        message = f"{field}: {error['msg']}" if field else error["msg"].removeprefix("Value error, ")
        raise InvalidRequest(message, field=field) from None


def check_text(text: str, field: str, settings: Settings) -> None:
    """Reject text that is empty, over the character limit, or holds lone surrogates."""
    if len(text) > settings.max_text_chars:
        raise TextTooLong(
            f"{len(text)} characters, more than the limit of {settings.max_text_chars}", field=field
        )
    if not text.strip():
        raise EmptyInput("empty or whitespace-only text", field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON allows "\ud800"; UTF-8 (and the model) does not
        raise UndecodableInput(f"text has a lone surrogate at index {exc.start}", field=field) from None


def check_tokens(tokens: list[str], settings: Settings) -> None:
    """Tokens must be non-empty and whitespace-free: "" is the model's padding token."""
    for i, token in enumerate(tokens):
        field = f"tokens[{i}]"
        if not token or any(char.isspace() for char in token):
            raise InvalidRequest(f"{field} is empty or contains whitespace", field=field)
    check_text(" ".join(tokens), "tokens", settings)


def check_batch(texts: list[str], settings: Settings) -> None:
    if len(texts) > settings.max_batch:
        raise BatchTooLarge(
            f"{len(texts)} texts, more than the limit of {settings.max_batch}", field="texts"
        )
    if not texts:
        raise EmptyInput("texts is an empty list", field="texts")
    for i, text in enumerate(texts):
        check_text(text, f"texts[{i}]", settings)


def _field_name(loc: tuple[Any, ...]) -> str:
    """Pydantic's ("tokens", 3) as "tokens[3]"."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _first_line(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0]
