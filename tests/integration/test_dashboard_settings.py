"""The dashboard's settings: sign-in limits and session lifetimes from the environment, with
defaults, and a refusal when an idle session would outlive the session itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from referral_plugin.settings import Settings, SettingsError


def from_env(tmp_path: Path, **values: str) -> Settings:
    return Settings.from_env({"INSTANCE_PATH": str(tmp_path), **values})


def test_defaults(tmp_path: Path) -> None:
    settings = from_env(tmp_path)

    assert (settings.sign_in_limit_per_shop, settings.sign_in_limit_per_ip) == (5, 20)
    assert settings.merchant_session_idle_minutes == 120
    assert settings.merchant_session_max_hours == 12


def test_values_from_the_environment(tmp_path: Path) -> None:
    settings = from_env(
        tmp_path, SIGN_IN_LIMIT_PER_SHOP="3", SIGN_IN_LIMIT_PER_IP="9",
        MERCHANT_SESSION_IDLE_MINUTES="30", MERCHANT_SESSION_MAX_HOURS="8",
    )  # fmt: skip

    assert (settings.sign_in_limit_per_shop, settings.sign_in_limit_per_ip) == (3, 9)
    assert (settings.merchant_session_idle_minutes, settings.merchant_session_max_hours) == (30, 8)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"MERCHANT_SESSION_IDLE_MINUTES": "61", "MERCHANT_SESSION_MAX_HOURS": "1"},
         "MERCHANT_SESSION_IDLE_MINUTES"),
        ({"MERCHANT_SESSION_MAX_HOURS": "0"}, "MERCHANT_SESSION_MAX_HOURS"),
        ({"SIGN_IN_LIMIT_PER_SHOP": "many"}, "SIGN_IN_LIMIT_PER_SHOP"),
        ({"SIGN_IN_LIMIT_PER_IP": "-1"}, "SIGN_IN_LIMIT_PER_IP"),
    ],
)  # fmt: skip
def test_values_that_cannot_work_are_refused_by_name(
    tmp_path: Path, values: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        from_env(tmp_path, **values)
