"""The one place that maps errors to HTTP answers; every answer is JSON, never a traceback.

Body shape: `{"error": <machine code>, "message": <human sentence>}`, plus `"errors": [{"field",
"message"}]` when specific fields or parameters are wrong.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from referral_plugin.domain.lifecycle import IllegalTransition
from referral_plugin.errors import Conflict, FieldError, NotFound, ValidationError

logger = logging.getLogger(__name__)

# Machine codes for the HTTP errors Werkzeug raises (routing, size limits, methods).
HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class BadRequest(Exception):
    """The request cannot be read (malformed JSON, wrong content type, a bad query parameter).

    `field` names the parameter or body part at fault, when there is one.
    """

    def __init__(self, message: str, *, error: str = "bad_request", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.error = error
        self.field = field


class Unauthorized(Exception):
    """No valid admin API token; answered 401 with a `WWW-Authenticate: Bearer` challenge."""

    def __init__(self, message: str, *, challenge_error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        # RFC 6750: a request without credentials gets a challenge without an error code.
        self.challenge_error = challenge_error


def error_response(
    status: int, error: str, message: str, fields: list[FieldError] | None = None
) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": error, "message": message}
    if fields is not None:
        body["errors"] = [{"field": f.field, "message": f.message} for f in fields]
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ValidationError, _validation_failed)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(Conflict, _conflict)
    app.register_error_handler(IllegalTransition, _conflict)
    app.register_error_handler(BadRequest, _bad_request)
    app.register_error_handler(Unauthorized, _unauthorized)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _validation_failed(exc: ValidationError) -> tuple[Response, int]:
    return error_response(422, "validation_failed", "The request has invalid fields.", exc.errors)


def _not_found(exc: NotFound) -> tuple[Response, int]:
    return error_response(404, "not_found", f"{exc.resource} {exc.identifier} does not exist.")


def _conflict(exc: Exception) -> tuple[Response, int]:
    field = getattr(exc, "field", None)
    fields = [FieldError(field, str(exc))] if field else None
    return error_response(409, "conflict", str(exc), fields)


def _bad_request(exc: BadRequest) -> tuple[Response, int]:
    fields = [FieldError(exc.field, exc.message)] if exc.field else None
    return error_response(400, exc.error, exc.message, fields)


def _unauthorized(exc: Unauthorized) -> tuple[Response, int]:
    response, status = error_response(401, "unauthorized", exc.message)
    challenge = 'Bearer realm="admin-api"'
    if exc.challenge_error:
        challenge += f', error="{exc.challenge_error}"'
    response.headers["WWW-Authenticate"] = challenge
    return response, status


def _database_unavailable(exc: OperationalError) -> tuple[Response, int]:
    logger.error(
        "database unavailable",
        extra={"path": request.path, "error_class": type(exc.orig or exc).__name__},
    )
    response, status = error_response(
        503, "database_unavailable", "The database is unavailable; try again shortly."
    )
    response.headers["Retry-After"] = "5"
    return response, status


def _http_error(exc: HTTPException) -> tuple[Response, int] | HTTPException:
    status = exc.code or 500
    if status >= 500:
        return _unexpected(exc)
    response, _ = error_response(
        status, HTTP_ERROR_CODES.get(status, "http_error"), _http_message(exc)
    )
    # Keep the headers Werkzeug computed (e.g. `Allow` on 405).
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def _http_message(exc: HTTPException) -> str:
    if exc.code == 404:
        return f"No resource at {request.path}."
    if exc.code == 405:
        return f"{request.method} is not allowed on {request.path}."
    if exc.code == 413:
        return "The request body is too large."
    return exc.description or exc.name


def _unexpected(exc: Exception) -> tuple[Response, int]:
    original = getattr(exc, "original_exception", None) or exc
    logger.error(
        "unhandled error",
        exc_info=(type(original), original, original.__traceback__),
        extra={"path": request.path, "method": request.method},
    )
    return error_response(500, "internal_error", "Something went wrong on our side.")
