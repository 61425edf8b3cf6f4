"""Tables for the merchant's outbound webhooks: registered endpoints and the delivery log."""

from __future__ import annotations
