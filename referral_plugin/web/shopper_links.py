"""The shopper pages' addresses: share and referral links, and the signed, expiring tokens of
the share and status pages (itsdangerous; no password, no session).

A token is bound to its purpose by its salt (a share token never opens a status page) and
carries the program's public id and the advocate's code, never an internal id. The status
link lives 30 days (it is emailed in the next slice; a fresh one comes with every email);
the share token only bridges the join form's POST to the share page (a day).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

STATUS_SALT = "referral-plugin/advocate-status/v1"
SHARE_SALT = "referral-plugin/advocate-share/v1"
STATUS_MAX_AGE_SECONDS = 30 * 24 * 3600
SHARE_MAX_AGE_SECONDS = 24 * 3600

Clock = Callable[[], float]  # seconds since the epoch


@dataclass(frozen=True, slots=True)
class AdvocateRef:
    public_id: str  # the program's
    code: str  # the advocate's share code (display form)


def referral_link(public_base_url: str, code: str) -> str:
    """The link an advocate shares: `{PUBLIC_BASE_URL}/r/<CODE>` (served by the friend slice)."""
    return f"{public_base_url.rstrip('/')}/r/{quote(code, safe='')}"


def status_token(secret_key: str, ref: AdvocateRef, *, clock: Clock = time.time) -> str:
    return _serializer(secret_key, STATUS_SALT, clock).dumps([ref.public_id, ref.code])


def share_token(secret_key: str, ref: AdvocateRef, *, clock: Clock = time.time) -> str:
    return _serializer(secret_key, SHARE_SALT, clock).dumps([ref.public_id, ref.code])


def read_status_token(
    secret_key: str, token: str, *, clock: Clock = time.time
) -> AdvocateRef | None:
    """The advocate a status token names; None when forged, for another purpose, or expired."""
    return _read(_serializer(secret_key, STATUS_SALT, clock), token, STATUS_MAX_AGE_SECONDS)


def read_share_token(
    secret_key: str, token: str, *, clock: Clock = time.time
) -> AdvocateRef | None:
    return _read(_serializer(secret_key, SHARE_SALT, clock), token, SHARE_MAX_AGE_SECONDS)


def _read(serializer: URLSafeTimedSerializer, token: str, max_age: int) -> AdvocateRef | None:
    try:
        value: Any = serializer.loads(token, max_age=max_age)
    except BadData:  # bad signature, wrong salt, expired, not base64, not JSON
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return None
    return AdvocateRef(public_id=value[0], code=value[1])


def _serializer(secret_key: str, salt: str, clock: Clock) -> URLSafeTimedSerializer:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return URLSafeTimedSerializer(secret_key, salt=salt, signer=ClockedSigner)
