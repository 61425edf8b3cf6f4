"""Shopify OAuth: the signed query of install and callback requests, the authorize URL, and the
token endpoint (authorization code, session-token exchange, refresh), always asking for
expiring offline tokens (FACTS §1.3).

ShopifyAPI's `Session.request_token` is not reused: it keeps the secret on a class (process
global), accepts a day-old timestamp, posts with no timeout and cannot ask for expiring
tokens, refresh or exchange. Tokens never appear in reprs, messages or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import requests

logger = logging.getLogger(__name__)

QUERY_MAX_AGE = timedelta(seconds=90)  # @shopify/shopify-api's window for a signed query
# Public protocol names, not secrets.
TOKEN_PATH = "/admin/oauth/access_token"  # noqa: S105
AUTHORIZE_PATH = "/admin/oauth/authorize"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105
# Answers that say the grant itself is dead (revoked, expired, already used): asking again
# with the same grant cannot work. `invalid_client` is our app's secret, not the shop's grant.
DEAD_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_request", "invalid_subject_token"})


def canonical_query(pairs: Iterable[tuple[str, str]], *, plus_spaces: bool = False) -> str:
    """The string Shopify signs: every parameter but `hmac` and `signature`, sorted by key,
    URL-encoded as `k=v&k=v`; repeated or `key[]` parameters become `key[]=v` each (the
    reference library's ProcessedQuery)."""
    grouped: dict[str, list[str]] = {}
    arrays: set[str] = set()
    for key, value in pairs:
        if key in {"hmac", "signature"}:
            continue
        base = key.removesuffix("[]")
        if base != key:
            arrays.add(base)
        grouped.setdefault(base, []).append(value)
    flat = [
        (f"{key}[]" if key in arrays or len(grouped[key]) > 1 else key, value)
        for key in sorted(grouped)
        for value in grouped[key]
    ]
    return urlencode(flat, quote_via=quote_plus if plus_spaces else quote)


def query_hmac(pairs: Iterable[tuple[str, str]], secret: str) -> str:
    """Hex HMAC-SHA256 of `canonical_query(pairs)` under `secret`: what Shopify puts in `hmac`."""
    message = canonical_query(pairs).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_query_problem(
    pairs: Sequence[tuple[str, str]], secrets: Sequence[str], *, now: datetime
) -> str | None:
    """None when the query carries a valid `hmac` under one of `secrets` (current, previous)
    and a `timestamp` within QUERY_MAX_AGE of `now`; otherwise what is wrong, in words."""
    given = [value for key, value in pairs if key == "hmac"]
    if len(given) != 1 or not given[0]:
        return "the request has no hmac parameter"
    signature = given[0].strip().lower().encode()
    messages = {canonical_query(pairs).encode(), canonical_query(pairs, plus_spaces=True).encode()}
    matched = False
    for secret in (s for s in secrets if s):
        for message in messages:
            expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
            matched = hmac.compare_digest(expected, signature) or matched
    if not matched:
        return "the hmac does not match the query"
    stamps = [value for key, value in pairs if key == "timestamp"]
    try:
        signed_at = datetime.fromtimestamp(int(stamps[0]), tz=UTC) if len(stamps) == 1 else None
    except (ValueError, OverflowError, OSError):
        signed_at = None
    if signed_at is None:
        return "the request has no valid timestamp"
    if abs(now - signed_at) > QUERY_MAX_AGE:
        return "the request is too old (or its timestamp is in the future)"
    return None


def shop_origin(template: str, shop: str) -> str:
    """`https://{shop}` for `shop` (the settings' SHOPIFY_SHOP_ORIGIN template)."""
    return template.replace("{shop}", shop).rstrip("/")


def graphql_endpoint(template: str, shop: str, api_version: str) -> str:
    """The shop's GraphQL Admin API URL under the SHOPIFY_SHOP_ORIGIN template."""
    return f"{shop_origin(template, shop)}/admin/api/{api_version}/graphql.json"


def authorize_url(
    origin: str, *, client_id: str, scopes: str, redirect_uri: str, state: str
) -> str:
    """Where the merchant approves the app. No `grant_options[]`: that asks for offline access."""
    query = urlencode(
        {"client_id": client_id, "scope": scopes, "redirect_uri": redirect_uri, "state": state}
    )
    return f"{origin}{AUTHORIZE_PATH}?{query}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenGrant:
    """An offline access token as Shopify granted it. `response` is the whole answer."""

    access_token: str = field(repr=False)
    scope: str
    obtained_at: datetime
    expires_at: datetime | None  # None: a non-expiring token
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_expires_at: datetime | None = None
    response: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def credentials(self) -> dict[str, str]:
        """What is sealed on the shop: every scalar of the response, plus the times."""
        values = {
            key: str(value)
            for key, value in self.response.items()
            if isinstance(value, str | int | float) and not isinstance(value, bool)
        }
        values["obtained_at"] = self.obtained_at.isoformat()
        if self.expires_at is not None:
            values["expires_at"] = self.expires_at.isoformat()
        if self.refresh_token_expires_at is not None:
            values["refresh_token_expires_at"] = self.refresh_token_expires_at.isoformat()
        return values


class TokenRequestFailed(Exception):
    """Shopify's token endpoint refused or could not be reached. `error` is the OAuth error
    code of the answer (`invalid_grant`, ...); `retryable` says whether asking again later
    may work; `dead_grant` that the grant (code, refresh token, session token) is gone."""

    def __init__(
        self, message: str, *, status: int | None, error: str | None, retryable: bool
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.retryable = retryable

    @property
    def dead_grant(self) -> bool:
        return self.status in (400, 401) and (self.error or "") in DEAD_GRANT_ERRORS


class TokenEndpoint:
    """`POST {origin}/admin/oauth/access_token` for one app (client id and secret)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 15),
    ) -> None:
        self._client_id = client_id
        self._secret = client_secret
        self._session = session or requests.Session()
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TokenEndpoint(client_id={self._client_id!r})"

    def exchange_code(self, origin: str, code: str, *, now: datetime) -> TokenGrant:
        """The authorization code grant (single use). Raises TokenRequestFailed."""
        return self._grant(origin, {"code": code}, now)

    def exchange_session_token(
        self, origin: str, session_token: str, *, now: datetime
    ) -> TokenGrant:
        """Token exchange: an App Bridge session token for an offline token. Raises
        TokenRequestFailed (400 when the session token is expired or invalid)."""
        body = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN,
            "requested_token_type": OFFLINE_TOKEN,
        }
        return self._grant(origin, body, now)

    def refresh(self, origin: str, refresh_token: str, *, now: datetime) -> TokenGrant:
        """A new access token and a new refresh token (the old one is replaced). Raises
        TokenRequestFailed; `dead_grant` when the refresh token is revoked or expired."""
        return self._grant(
            origin, {"grant_type": "refresh_token", "refresh_token": refresh_token}, now
        )

    def _grant(self, origin: str, fields: Mapping[str, str], now: datetime) -> TokenGrant:
        body = {"client_id": self._client_id, "client_secret": self._secret, **fields}
        if fields.get("grant_type") != "refresh_token":
            body["expiring"] = "1"  # an expiring offline token with a refresh token
        try:
            response = self._session.post(
                origin + TOKEN_PATH,
                json=body,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise TokenRequestFailed(
                f"token endpoint unreachable: {type(exc).__name__}",
                status=None,
                error=None,
                retryable=True,
            ) from None
        payload = _json_object(response)
        if response.status_code != 200 or not isinstance(payload.get("access_token"), str):
            raise _failure(response.status_code, payload)
        return grant_from_response(payload, now=now)


def grant_from_response(payload: Mapping[str, Any], *, now: datetime) -> TokenGrant:
    """A TokenGrant from the endpoint's JSON; `expires_in` seconds count from `now`."""
    expires_in = _seconds(payload.get("expires_in"))
    refresh_in = _seconds(payload.get("refresh_token_expires_in"))
    refresh_token = payload.get("refresh_token")
    return TokenGrant(
        access_token=str(payload["access_token"]),
        scope=str(payload.get("scope") or ""),
        obtained_at=now,
        expires_at=now + timedelta(seconds=expires_in) if expires_in is not None else None,
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        refresh_token_expires_at=now + timedelta(seconds=refresh_in)
        if refresh_in is not None
        else None,
        response=dict(payload),
    )


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _failure(status: int, payload: Mapping[str, Any]) -> TokenRequestFailed:
    error = payload.get("error")
    error = error if isinstance(error, str) else None
    description = payload.get("error_description")
    detail = f": {error}" if error else ""
    if isinstance(description, str):
        detail += f" ({description[:200]})"
    return TokenRequestFailed(
        f"token endpoint answered HTTP {status}{detail}",
        status=status,
        error=error,
        retryable=status == 429 or status >= 500,
    )


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None
