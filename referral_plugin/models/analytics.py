"""Tables for analytics (issue 7): rollups, if any."""

from __future__ import annotations
