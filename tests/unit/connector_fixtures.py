"""Loading recorded platform payloads from tests/fixtures/<platform>/<topic>__<variant>.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load(platform: str, name: str) -> Any:
    """A fresh copy of a fixture payload, safe to modify in a test."""
    return copy.deepcopy(json.loads((FIXTURES / platform / f"{name}.json").read_text()))


def raw(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / f"{name}.json").read_bytes()
