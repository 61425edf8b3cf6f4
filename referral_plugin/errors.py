"""Errors the services raise for the edges to map (HTTP mapping lives in api/errors.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # dotted path into the request body, e.g. "advocate_reward.amount"
    message: str


class ServiceError(Exception):
    """Base of the errors a client can cause; never used for bugs."""


class NotFound(ServiceError):
    def __init__(self, resource: str, identifier: object) -> None:
        super().__init__(f"{resource} {identifier} not found")
        self.resource = resource
        self.identifier = identifier


class ValidationError(ServiceError):
    """The input cannot be accepted; `errors` names every field that is wrong."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls([FieldError(field, message)])


class Conflict(ServiceError):
    """The request clashes with the current state (e.g. a code already taken); `field` names
    the request field at fault, when one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
