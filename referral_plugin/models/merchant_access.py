"""Tables for merchant dashboard access (issue 7): magic links and sessions."""

from __future__ import annotations
