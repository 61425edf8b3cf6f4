"""Tables for privacy compliance: customer data requests and redactions."""

from __future__ import annotations
