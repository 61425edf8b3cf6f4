"""What every platform connector provides: identify a delivery, verify it, translate it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from referral_plugin.domain.events import Event, Platform


class TranslationError(ValueError):
    """An authentic payload we cannot read; the message says which field and why.

    The worker marks the delivery failed with this message; it stays replayable.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryMeta:
    """Who sent a webhook delivery and what it is, read from the headers only."""

    platform: Platform
    shop: str  # myshopify domain, or the store URL as the platform sends it
    topic: str
    dedup_key: str | None  # unique per distinct delivery; None when the body must decide
    webhook_id: str | None = None  # the platform's delivery/subscription id, for tracing
    triggered_at: datetime | None = None
    received_at: datetime | None = None  # when our edge stored it (set by the inbox)
    api_version: str | None = None

    @property
    def happened_at(self) -> datetime | None:
        """The best time we have for the delivery: the platform's, else our receipt."""
        return self.triggered_at or self.received_at


class Connector(Protocol):
    platform: Platform

    def identify(self, headers: Mapping[str, str]) -> DeliveryMeta | None:
        """The delivery's meta, or None when the headers do not describe a delivery."""

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> bool:
        """True when the body's signature matches one of `secrets` (constant-time)."""

    def delivery_key(self, meta: DeliveryMeta, body: bytes) -> str:
        """The inbox deduplication key: the same delivery always gives the same key."""

    def translate(self, meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
        """Common events for an authentic payload; () for topics we ignore.

        Raises TranslationError for a payload that cannot be read.
        """
