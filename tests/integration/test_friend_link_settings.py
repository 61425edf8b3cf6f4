"""The friend link's limits from the environment: defaults, overrides, and refusals naming the
variable (claims per IP and per email an hour, unknown codes per IP an hour)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from referral_plugin.settings import Settings, SettingsError

LIMITS = {
    "CLAIM_LIMIT_PER_IP": "claim_limit_per_ip",
    "CLAIM_LIMIT_PER_EMAIL": "claim_limit_per_email",
    "LINK_MISS_LIMIT_PER_IP": "link_miss_limit_per_ip",
}


def environ(tmp_path: Path, **values: str) -> dict[str, str]:
    key = base64.urlsafe_b64encode(b"f" * 32).decode()
    return {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", "ENCRYPTION_KEY": key, **values}


def test_the_limits_default_and_follow_the_environment(tmp_path: Path) -> None:
    defaults = Settings.from_env(environ(tmp_path))
    assert [getattr(defaults, name) for name in LIMITS.values()] == [20, 5, 30]
    given = Settings.from_env(environ(tmp_path, **{v: str(n) for n, v in enumerate(LIMITS, 7)}))
    assert [getattr(given, name) for name in LIMITS.values()] == [7, 8, 9]


@pytest.mark.parametrize("variable", sorted(LIMITS))
@pytest.mark.parametrize(("value", "says"), [("0", "positive"), ("many", "whole number")])
def test_a_limit_that_cannot_work_is_refused_by_name(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environ(tmp_path, **{variable: value}))
    assert variable in str(refused.value) and says in str(refused.value)
