"""The engine's JSON codec (orjson) reads and writes what the standard library's json does:
the same values, of the same types, and the same errors for what json refuses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest

from referral_plugin.db import json_dumps, json_loads


class Colour(StrEnum):
    RED = "red"


@dataclass
class Point:
    x: int


def typed(value: Any) -> Any:
    """`value` with every leaf's type beside it, so 1 == 1.0 == True no longer pass for equal."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value), repr(value))


TEXTS = [
    ("object", '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}'),
    ("duplicate keys: the last wins", '{"a": 1, "a": 2}'),
    ("floats", "[0.1, 1.0, -0.0, 1e-05, 1E2, 2.5e-300, 1.7976931348623157e308]"),
    ("integers at the 64-bit edges", "[9223372036854775807, -9223372036854775808, 0, -0]"),
    ("unsigned 64-bit", "[18446744073709551615]"),
    ("beyond 64 bits stays an integer", "[123456789012345678901234567890]"),
    ("below -2**63 stays an integer", "[-9223372036854775809]"),
    ("many digits in a float", "[3.14159265358979323846264338327950288]"),
    ("long digit run in a string", '{"token": "12345678901234567890123"}'),
    ("NaN and infinities", "[NaN, Infinity, -Infinity, 1e400]"),
    ("escapes and non-ASCII", '["\\u00e9", "é", "\\ud83d\\ude00", "\\u2028", "tab\\t"]'),
    ("a lone surrogate", '"\\ud800"'),
    ("whitespace around", " \n[1] \t"),
    ("deep", "[" * 200 + "]" * 200),
]


@pytest.mark.parametrize(("label", "text"), TEXTS, ids=[label for label, _ in TEXTS])
@pytest.mark.parametrize("form", ["str", "bytes", "memoryview"])
def test_loads_reads_what_json_reads(label: str, text: str, form: str) -> None:
    encoded = text.encode("utf-8", "surrogatepass")
    given = {"str": text, "bytes": encoded, "memoryview": memoryview(encoded)}[form]
    assert typed(json_loads(given)) == typed(json.loads(encoded))


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("UTF-8 with a BOM", "\ufeff[1]".encode()),
        ("UTF-16", '{"a": "é"}'.encode("utf-16")),
        ("UTF-32", "[1]".encode("utf-32")),
    ],
)
def test_loads_reads_the_encodings_json_reads(label: str, data: bytes) -> None:
    assert typed(json_loads(data)) == typed(json.loads(data))


@pytest.mark.parametrize(
    "text",
    ["", "{not json", "[1]x", "[1,]", "{'a': 1}", b"\xff\xfe\x00", b'"\xff"', "\ufeff[1]"],
)
def test_loads_refuses_what_json_refuses_with_its_error(text: str | bytes) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(type(expected.value)) as raised:
        json_loads(text)
    assert str(raised.value) == str(expected.value)


VALUES = [
    ("nested", {"a": [1, 2.5, None, True, False], "b": {"c": "d"}}),
    ("empty", {"list": [], "dict": {}, "text": ""}),
    ("non-str keys", {2: "int", 2.5: "float", True: "bool", None: "none"}),
    ("enum keys and values", {Colour.RED: Colour.RED}),
    ("tuples", {"t": (1, (2, 3))}),
    ("non-ASCII", {"é": "même ✓ \u2028 😀"}),
    ("quotes and backslashes", ['"', "\\", "\n", "\x00"]),
    ("big integers", [2**63 - 1, -(2**63), 2**64 - 1, 2**70, -(2**70)]),
    ("floats", [0.1, 1e-05, 1e300, -0.0]),
    ("a scalar", "plain"),
]


@pytest.mark.parametrize(("label", "value"), VALUES, ids=[label for label, _ in VALUES])
def test_dumps_writes_what_json_writes_in_meaning(label: str, value: Any) -> None:
    written = json_dumps(value)
    assert isinstance(written, str)
    assert typed(json.loads(written)) == typed(json.loads(json.dumps(value)))
    assert typed(json_loads(written)) == typed(json.loads(json.dumps(value)))


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1.10"),
        datetime(2026, 3, 2, tzinfo=UTC),
        date(2026, 3, 2),
        {1, 2},
        Point(1),
        {"nested": [Decimal("1")]},
        b"bytes",
    ],
    ids=repr,
)
def test_dumps_refuses_what_json_refuses(value: Any) -> None:
    with pytest.raises(TypeError) as expected:
        json.dumps(value)
    with pytest.raises(TypeError) as raised:
        json_dumps(value)
    assert str(raised.value) == str(expected.value)
