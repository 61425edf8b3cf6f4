"""Tables for shopper emails (issue 6): email unsubscribes."""

from __future__ import annotations
