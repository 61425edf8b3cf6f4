"""Validating what a merchant sends for a webhook endpoint: the URL, the events, the flags.

The URL must be https with a host and no credentials; in production it must not name this
machine or a private network by address (a loopback `http://127.0.0.1:PORT` is allowed only in
development and test, where the merchant's endpoint is a local server). Every problem is
reported as a `FieldError` naming the field.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from ..errors import FieldError, ValidationError
from .merchant_webhooks import EVENT_TYPES

FIELDS = frozenset({"url", "events", "active", "description"})
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 255
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def endpoint_fields(body: dict[str, Any], *, partial: bool, allow_loopback: bool) -> dict[str, Any]:
    """The valid fields of `body` (all required unless `partial`; `active` defaults to true on
    creation); raises ValidationError naming every field that is wrong."""
    problems = [FieldError(name, "unknown field") for name in sorted(body.keys() - FIELDS)]
    values: dict[str, Any] = {}
    if "url" in body or not partial:
        _check(problems, values, "url", check_url(body.get("url"), allow_loopback=allow_loopback))
    if "events" in body or not partial:
        _check(problems, values, "events", check_events(body.get("events")))
    if "active" in body:
        if isinstance(body["active"], bool):
            values["active"] = body["active"]
        else:
            problems.append(FieldError("active", "must be true or false"))
    if "description" in body:
        _check(problems, values, "description", check_description(body["description"]))
    if problems:
        raise ValidationError(problems)
    return values


def _check(
    problems: list[FieldError], values: dict[str, Any], name: str, checked: tuple[Any, str | None]
) -> None:
    value, problem = checked
    if problem is None:
        values[name] = value
    else:
        problems.append(FieldError(name, problem))


def check_url(raw: object, *, allow_loopback: bool) -> tuple[str | None, str | None]:
    """(url, None) when acceptable, else (None, why not)."""
    if not isinstance(raw, str) or not raw.strip():
        return None, "is required and must be a URL"
    url = raw.strip()
    if len(url) > MAX_URL_LENGTH:
        return None, f"must be at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return None, "is not a valid URL"
    if parts.scheme not in {"http", "https"} or not host:
        return None, "must be an https URL such as https://crm.example.com/hooks"
    if parts.username is not None or parts.password is not None:
        return None, "must not contain a user name or password; the signature authenticates us"
    if parts.fragment:
        return None, "must not contain a #fragment"
    local = is_loopback(host)
    if local and allow_loopback:
        return url, None
    if parts.scheme != "https":
        return None, "must use https"
    if local or _is_private_address(host):
        return None, "must be a public address, not this machine or a private network"
    return url, None


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_private_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a name; what it resolves to is the merchant's business
    return not address.is_global


def check_events(raw: object) -> tuple[list[str] | None, str | None]:
    allowed = ", ".join(EVENT_TYPES)
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        return None, f"must be a non-empty list of event types: {allowed}"
    unknown = sorted(set(raw) - set(EVENT_TYPES))
    if unknown:
        return None, f"unknown event type(s) {', '.join(unknown)}; known: {allowed}"
    return sorted(set(raw)), None


def check_description(raw: object) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, str) or len(raw) > MAX_DESCRIPTION_LENGTH:
        return None, f"must be a string of at most {MAX_DESCRIPTION_LENGTH} characters"
    return raw.strip() or None, None
