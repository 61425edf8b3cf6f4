"""Tables for contests (issue 7): recorded winner draws."""

from __future__ import annotations
