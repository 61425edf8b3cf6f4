"""Codes: one normalization, readable generation, deterministic keyed reward codes."""

from __future__ import annotations

import random

import pytest

from referral_plugin.domain.codes import (
    ALPHABET,
    generate_code,
    name_prefix,
    normalize_code,
    reward_code,
)

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(" anna-7q2k 9xpa ", "ANNA7Q2K9XPA", id="spaces dashes and case"),
        pytest.param("anna_7q2k\t9xpa\n", "ANNA7Q2K9XPA", id="underscores and whitespace"),
        pytest.param("\uff21\uff2e\uff2e\uff21\uff11", "ANNA1", id="full-width letters (NFKC)"),
        pytest.param("anna\u00a07q2k", "ANNA7Q2K", id="non-breaking space"),
        pytest.param(None, "", id="none"),
        pytest.param("   ", "", id="blank"),
    ],
)
def test_normalize_code(raw: str | None, expected: str) -> None:
    assert normalize_code(raw) == expected


def test_normalize_is_idempotent() -> None:
    once = normalize_code(" anna-7q2k ")
    assert normalize_code(once) == once


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        pytest.param("Zoë Smith", "ZOE", id="accents dropped, first name only"),
        pytest.param("  anna ", "ANNA", id="trimmed"),
        pytest.param("Maximilianus", "MAXIMILI", id="at most eight letters"),
        pytest.param("李", "", id="no ascii letters"),
        pytest.param(None, "", id="none"),
        pytest.param("   ", "", id="blank"),
    ],
)
def test_name_prefix(name: str | None, prefix: str) -> None:
    assert name_prefix(name) == prefix


def test_generated_codes_are_readable_and_normalize_cleanly() -> None:
    code = generate_code("Anna", chooser=random.Random(1))
    prefix, first, second = code.split("-")
    assert prefix == "ANNA"
    assert len(first) == len(second) == 4
    assert set(first + second) <= set(ALPHABET)
    assert normalize_code(code) == f"ANNA{first}{second}"


def test_generated_codes_without_a_name_have_no_prefix() -> None:
    assert len(generate_code(chooser=random.Random(2)).split("-")) == 2


def test_the_alphabet_has_no_lookalikes() -> None:
    assert not set("01OIL") & set(ALPHABET)


def test_reward_codes_are_deterministic_and_keyed() -> None:
    assert reward_code(42, KEY) == reward_code(42, KEY)
    assert reward_code(42, KEY) != reward_code(43, KEY)
    assert reward_code(42, KEY) != reward_code(42, b"other-key")
    assert reward_code(42, KEY).startswith("RW-")
    assert len(normalize_code(reward_code(42, KEY))) == len("RW") + 12
