"""Tables for connecting stores: one-time WooCommerce key-flow requests."""

from __future__ import annotations
