"""Tables for the shopper side: rate-limit counters and what the advocate pages need."""

from __future__ import annotations
