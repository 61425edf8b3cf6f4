"""Email normalization and identity: when two addresses reach the same inbox."""

from __future__ import annotations

import pytest

from referral_plugin.domain.emails import identity_email, normalize_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  Anna@Example.COM ", "anna@example.com", id="trimmed and lower-cased"),
        pytest.param("anna+shop@example.com", "anna+shop@example.com", id="plus tag kept"),
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("anna", None, id="no at sign"),
        pytest.param("a@b@example.com", None, id="two at signs"),
        pytest.param("@example.com", None, id="no local part"),
        pytest.param("anna@localhost", None, id="no dot in the domain"),
    ],
)
def test_normalize_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Anna+promo@example.com", "anna@example.com", id="plus tag dropped"),
        pytest.param("a.n.n.a@gmail.com", "anna@gmail.com", id="gmail ignores dots"),
        pytest.param("anna.b+x@googlemail.com", "annab@gmail.com", id="googlemail is gmail"),
        pytest.param("a.nna@example.com", "a.nna@example.com", id="other providers keep dots"),
        pytest.param("not an email", None, id="invalid"),
    ],
)
def test_identity_email(raw: str, expected: str | None) -> None:
    assert identity_email(raw) == expected


def test_identity_is_idempotent() -> None:
    once = identity_email("A.nna+1@Gmail.com")
    assert identity_email(once) == once
