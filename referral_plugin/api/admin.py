"""The admin JSON API under `/api/v1`: programs and advocates of the token's shop.

Views parse the request with the helpers below, call one service inside one transaction and
render the result; errors are mapped to HTTP in `api/errors.py`. Every service call receives the
authenticated shop's id, so another shop's ids answer 404.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy.orm import Session

from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.api.errors import BadRequest
from referral_plugin.app import app_services
from referral_plugin.domain.experiments import EnrollmentSource
from referral_plugin.domain.program_codec import program_to_dict
from referral_plugin.domain.programs import Program
from referral_plugin.errors import FieldError, ValidationError
from referral_plugin.services import advocates, programs

API_ACTOR = "admin-api"  # the audit actor of changes made through the API
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
ENROLLMENT_FIELDS = {"program_id", "email", "first_name", "last_name", "customer_id"}

blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")
admin = Blueprint("admin", __name__)
admin.before_request(authenticate_shop)
docs = Blueprint("docs", __name__)


# --- programs -------------------------------------------------------------------------------


@admin.get("/programs")
def list_programs() -> Any:
    with app_services().sessions.begin() as session:
        found = programs.list_programs(session, current_shop_id())
        shown = _shown(session, found)
    return jsonify({"programs": shown})


@admin.post("/programs")
def create_program() -> Any:
    data = json_object_body()
    with app_services().sessions.begin() as session:
        program = programs.create_program(
            session, current_shop_id(), data, now=utc_now(), actor=API_ACTOR
        )
        [shown] = _shown(session, [program])
    location = url_for(".get_program", program_id=program.id)
    return created(shown, location)


@admin.get("/programs/<int:program_id>")
def get_program(program_id: int) -> Any:
    with app_services().sessions.begin() as session:
        program = programs.get_program(session, current_shop_id(), program_id)
        [shown] = _shown(session, [program])
    return jsonify(shown)


@admin.patch("/programs/<int:program_id>")
def update_program(program_id: int) -> Any:
    data = json_object_body()
    with app_services().sessions.begin() as session:
        program = programs.update_program(
            session, current_shop_id(), program_id, data, now=utc_now(), actor=API_ACTOR
        )
        [shown] = _shown(session, [program])
    return jsonify(shown)


def _shown(session: Session, found: list[Program]) -> list[dict[str, Any]]:
    """Programs as the API shows them: the stored config plus their shopper-page address."""
    ids = programs.public_ids(session, current_shop_id(), [p.id for p in found])
    base = app_services().settings.public_base_url.rstrip("/")
    return [
        program_to_dict(program)
        | (
            {"public_id": ids[program.id], "join_url": f"{base}/p/{ids[program.id]}/join"}
            if program.id in ids
            else {}
        )
        for program in found
    ]


# --- advocates ------------------------------------------------------------------------------


@admin.get("/advocates")
def list_advocates() -> Any:
    program_id = query_int("program_id", default=None, minimum=1)
    limit = query_int("limit", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    offset = query_int("offset", default=0, minimum=0)
    with app_services().sessions.begin() as session:
        found = advocates.list_advocates(
            session, current_shop_id(), program_id=program_id, limit=limit, offset=offset
        )
    return jsonify({"advocates": found, "limit": limit, "offset": offset})


@admin.post("/advocates")
def enroll_advocate() -> Any:
    enrollment = enrollment_from_body(json_object_body())
    with app_services().sessions.begin() as session:
        shop_id = current_shop_id()
        enrolled = advocates.enroll_advocate(
            session, shop_id, now=utc_now(), source=EnrollmentSource.API, **enrollment
        )
        advocate = advocates.get_advocate(session, shop_id, enrolled.id)
    location = url_for(".get_advocate", advocate_id=enrolled.id)
    return created(advocate, location) if enrolled.created else jsonify(advocate)


@admin.get("/advocates/<int:advocate_id>")
def get_advocate(advocate_id: int) -> Any:
    with app_services().sessions.begin() as session:
        advocate = advocates.get_advocate(session, current_shop_id(), advocate_id)
    return jsonify(advocate)


@admin.patch("/advocates/<int:advocate_id>")
def update_advocate(advocate_id: int) -> Any:
    data = json_object_body()
    with app_services().sessions.begin() as session:
        advocate = advocates.update_advocate(session, current_shop_id(), advocate_id, data)
    return jsonify(advocate)


# --- the API's own description (public) -----------------------------------------------------


@docs.get("/openapi.yaml")
def openapi_yaml() -> Response:
    return Response(openapi_text(), mimetype="application/yaml")


@docs.get("/openapi.json")
def openapi_json() -> Any:
    return jsonify(openapi_document())


@functools.cache
def openapi_text() -> str:
    return resources.files("referral_plugin.api").joinpath("openapi.yaml").read_text("utf-8")


@functools.cache
def openapi_document() -> dict[str, Any]:
    return yaml.safe_load(openapi_text())


blueprint.register_blueprint(admin)
blueprint.register_blueprint(docs)


# --- request parsing ------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def created(body: dict[str, Any], location: str) -> tuple[Response, int, dict[str, str]]:
    return jsonify(body), 201, {"Location": location}


def json_object_body() -> dict[str, Any]:
    """The request body as a JSON object; raises BadRequest naming what is wrong."""
    if not request.is_json:
        raise BadRequest(
            "The body must be JSON: send `Content-Type: application/json`.",
            error="unsupported_content_type",
        )
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.", error="malformed_json") from exc
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", error="malformed_json")
    return body


def query_int(
    name: str, *, default: int | None, minimum: int, maximum: int | None = None
) -> int | None:
    """The integer query parameter `name` within bounds; raises BadRequest naming it."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(
            f"{name} must be a whole number {bounds}.", error="invalid_parameter", field=name
        ) from exc
    if value < minimum or (maximum is not None and value > maximum):
        raise BadRequest(f"{name} must be {bounds}.", error="invalid_parameter", field=name)
    return value


def enrollment_from_body(body: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `enroll_advocate`; raises ValidationError naming every field."""
    problems = [
        FieldError(name, "unknown field") for name in sorted(body.keys() - ENROLLMENT_FIELDS)
    ]
    if body.get("program_id") is None:
        problems.append(FieldError("program_id", "is required"))
    elif not is_integer(body["program_id"]):
        problems.append(FieldError("program_id", "must be an integer"))
    if not isinstance(body.get("email"), str) or not body["email"].strip():
        problems.append(FieldError("email", "is required and must be a string"))
    for name in ("first_name", "last_name"):
        if body.get(name) is not None and not isinstance(body[name], str):
            problems.append(FieldError(name, "must be a string"))
    customer_id = body.get("customer_id")
    if customer_id is not None and not (isinstance(customer_id, str) or is_integer(customer_id)):
        problems.append(FieldError("customer_id", "must be a string"))
    if problems:
        raise ValidationError(problems)
    return {
        "program_id": body["program_id"],
        "email": body["email"],
        "first_name": body.get("first_name"),
        "last_name": body.get("last_name"),
        "customer_id": None if customer_id is None else str(customer_id),
    }


def is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
