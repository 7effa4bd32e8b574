"""The one exception hierarchy of the serving side.

Every failure a caller can act on is a `SlotTaggerError` subclass with a stable, greppable
`code`, an HTTP status for the REST API and an exit code for the CLI, so each edge maps the
same classes its own way and nothing inside needs to know which edge it runs under.
Messages say what went wrong and where (a path, a line number) so they can be fixed without
a traceback.
"""

from __future__ import annotations


class SlotTaggerError(Exception):
    """Base class: catch this at an edge (CLI `main`, a REST error handler)."""

    code: str = "slot_tagger_error"
    http_status: int = 500
    exit_code: int = 2
    # False for a fault of the server's whose message names its paths: the REST edge answers with
    # the code only and logs the message.
    message_for_clients: bool = True

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        """The body of `{"error": ...}`; `field` only when the error points at one."""
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


# --- the model on disk -----------------------------------------------------------------


class ModelNotFound(SlotTaggerError):
    """The model path is missing, or holds no integer version folder."""

    code = "model_not_found"
    http_status = 503
    message_for_clients = False


class ModelCorrupt(SlotTaggerError):
    """The SavedModel or its metadata.json cannot be loaded or breaks the export contract."""

    code = "model_corrupt"
    http_status = 503
    message_for_clients = False


# --- a client's input: fail that one sentence, answer the rest --------------------------


class InputError(SlotTaggerError):
    """A client sent something we will not tag; it is their fix, hence 400 and exit 1."""

    code = "invalid_input"
    http_status = 400
    exit_code = 1


class EmptyInput(InputError):
    """Empty or whitespace-only text: there is nothing to tag."""

    code = "empty_input"


class InputTooLong(InputError):
    """More tokens than the predictor's `max_tokens`, which bounds one batch's memory."""

    code = "input_too_long"


class UndecodableInput(InputError):
    """Bytes that are not UTF-8."""

    code = "invalid_utf8"


# --- the REST edge: a request the API cannot accept (one handler renders them all) -------


class Unauthorized(SlotTaggerError):
    """A request without the API token the server was started with (SLOT_TAGGER_API_TOKEN)."""

    code = "unauthorized"
    http_status = 401
    exit_code = 1


class RequestTimeout(InputError):
    """A request whose body did not arrive within SLOT_TAGGER_READ_TIMEOUT seconds."""

    code = "request_timeout"
    http_status = 408


class Overloaded(SlotTaggerError):
    """More requests than a worker's turns and queue (service/api/admission.py): retry later."""

    code = "overloaded"
    http_status = 503


class InvalidUsage(SlotTaggerError):
    """Command-line options that cannot work together, such as one file as input and output."""

    code = "invalid_usage"


class InvalidSetting(SlotTaggerError):
    """A SLOT_TAGGER_* environment variable or create_app option that cannot be used."""

    code = "invalid_setting"
    message_for_clients = False


class InvalidRequest(InputError):
    """The body is not JSON, not an object, or does not match the request schema."""

    code = "invalid_request"


class UnsupportedMediaType(InputError):
    """A body sent without `Content-Type: application/json`."""

    code = "unsupported_media_type"
    http_status = 415


class TextTooLong(InputError):
    """More characters than SLOT_TAGGER_MAX_TEXT_CHARS, checked before any tokenization."""

    code = "text_too_long"


class BatchTooLarge(InputError):
    """More texts than SLOT_TAGGER_MAX_BATCH in one /v1/parse/batch request."""

    code = "batch_too_large"
