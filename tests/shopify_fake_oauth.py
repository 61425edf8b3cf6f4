"""The OAuth half of the local fake Shopify (one shop), as shopify.dev and FACTS §1.3 describe it:

- `GET /admin/oauth/authorize` is the merchant's grant page (a browser page). `approve(url)`
  plays the merchant clicking "Install": it checks the request like Shopify does and returns
  the callback URL Shopify would redirect to (code, hmac, host, shop, state, timestamp).
- `POST /admin/oauth/access_token`: the authorization code grant (single-use codes), the
  refresh_token grant (rotating refresh tokens; the previous one keeps working until the new
  access token is used, since 2026-08-28), and the token-exchange grant (an App Bridge session
  token for an offline token). `expiring: "1"` asks for a 3600 s token with a refresh token.
  Errors are the OAuth JSON `{error, error_description}` with Shopify's statuses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import jwt

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"
APP_KEY = "test-api-key"  # the `settings` fixture's shopify_api_key and secret
APP_SECRET = "test-api-secret-long-enough-for-hs256"
APP_TOML = Path(__file__).resolve().parents[1] / "shopify.app.toml"


def managed_scopes() -> str:
    """The scopes Shopify grants at a managed install: those of shopify.app.toml."""
    return tomllib.loads(APP_TOML.read_text(encoding="utf-8"))["access_scopes"]["scopes"]


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass
class WallClock:
    """A settable UTC clock shared by a test, the fake and our code (never patched)."""

    now: datetime = field(default_factory=utc_now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class _Refresh:
    expires_at: datetime
    successor: str | None = None  # the access token issued when this one was used


@dataclass
class FakeShopifyOAuth:
    shop: str = "demo-store.myshopify.com"
    client_id: str = APP_KEY
    client_secret: str = APP_SECRET
    wall: Callable[[], datetime] = utc_now
    access_ttl: int = 3600
    refresh_ttl: int = 90 * 24 * 3600
    # What the merchant granted: the app's toml scopes (managed install), or those of the
    # authorize request (authorization code grant).
    scopes: str = field(default_factory=managed_scopes)
    codes: dict[str, str] = field(default_factory=dict)  # live code -> granted scope
    access_tokens: dict[str, datetime | None] = field(default_factory=dict)  # -> expiry
    refresh_tokens: dict[str, _Refresh] = field(default_factory=dict)
    grants: list[str] = field(default_factory=list)  # grant types served, in order
    answer_delay: float = 0.0  # seconds the token endpoint takes (to make races visible)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the merchant's browser ------------------------------------------------------------

    def approve(self, authorize_url: str, *, tamper: dict[str, str] | None = None) -> str:
        """The callback URL Shopify redirects to after "Install" on `authorize_url`."""
        parts = urlsplit(authorize_url)
        query = dict(parse_qsl(parts.query))
        assert parts.path == "/admin/oauth/authorize", parts.path
        assert query["client_id"] == self.client_id
        assert "grant_options[]" not in query, "offline access: no per-user grant options"
        assert query.get("state"), "Shopify requires a state nonce"
        code = secrets.token_hex(16)
        with self._lock:
            self.scopes = query.get("scope", "")
            self.codes[code] = self.scopes
        params = {
            "code": code,
            "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ",
            "shop": self.shop,
            "state": query["state"],
            "timestamp": str(int(self.wall().timestamp())),
        }
        params["hmac"] = sign_query(params, self.client_secret)
        params.update(tamper or {})
        return f"{query['redirect_uri']}?{urlencode(params)}"

    def grant_page(self) -> str:
        return f"<html><body><h1>Install app on {self.shop}?</h1></body></html>"

    # -- the token endpoint ----------------------------------------------------------------

    def token(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, JSON) for one POST to /admin/oauth/access_token."""
        if body.get("client_id") != self.client_id or body.get("client_secret") != (
            self.client_secret
        ):
            return 401, _error("invalid_client", "Client authentication failed.")
        grant = body.get("grant_type") or "authorization_code"
        time.sleep(self.answer_delay)
        with self._lock:
            self.grants.append(grant)
            if grant == "authorization_code":
                return self._code(body)
            if grant == "refresh_token":
                return self._refresh(body)
            if grant == TOKEN_EXCHANGE:
                return self._exchange(body)
        return 400, _error("unsupported_grant_type", f"{grant} is not supported")

    def access_token_valid(self, token: str | None) -> bool:
        """True for a live access token; using one retires the refresh token it replaced."""
        with self._lock:
            if token not in self.access_tokens:
                return False
            expires_at = self.access_tokens[token]
            if expires_at is not None and expires_at <= self.wall():
                return False
            for old, record in list(self.refresh_tokens.items()):
                if record.successor == token:
                    del self.refresh_tokens[old]
            return True

    def revoke_all(self) -> None:
        """The merchant uninstalled the app: every token stops working."""
        with self._lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    def _code(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        scope = self.codes.pop(str(body.get("code")), None)
        if scope is None:
            return 400, _error(
                "invalid_request", "The authorization code was not found or was already used"
            )
        return 200, self._issue(scope, expiring=body.get("expiring") == "1")

    def _refresh(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        old = str(body.get("refresh_token"))
        record = self.refresh_tokens.get(old)
        if record is None:
            return 401, _error("invalid_request", "This request requires an active refresh_token")
        if record.expires_at <= self.wall():
            del self.refresh_tokens[old]
            return 400, _error("invalid_grant", "The refresh token has expired")
        answer = self._issue(self.scopes, expiring=True)
        record.successor = answer["access_token"]
        return 200, answer

    def _exchange(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("subject_token_type") != ID_TOKEN or body.get("requested_token_type") != (
            OFFLINE
        ):
            return 400, _error("invalid_request", "Unsupported subject or requested token type")
        try:
            claims = jwt.decode(
                str(body.get("subject_token")),
                self.client_secret,
                algorithms=["HS256"],
                audience=self.client_id,
                leeway=10,
            )
        except jwt.PyJWTError:
            return 400, _error("invalid_subject_token", "The session token is invalid or expired")
        if urlsplit(str(claims.get("dest"))).hostname != self.shop:
            return 400, _error("invalid_subject_token", "The session token is for another shop")
        return 200, self._issue(self.scopes, expiring=body.get("expiring") == "1")

    def _issue(self, scope: str, *, expiring: bool) -> dict[str, Any]:
        now = self.wall()
        access = "shpat_" + secrets.token_hex(12)
        answer: dict[str, Any] = {"access_token": access, "scope": scope}
        if not expiring:
            self.access_tokens[access] = None
            return answer
        refresh = "shprt_" + secrets.token_hex(12)
        self.access_tokens[access] = now + timedelta(seconds=self.access_ttl)
        self.refresh_tokens[refresh] = _Refresh(now + timedelta(seconds=self.refresh_ttl))
        answer.update(
            expires_in=self.access_ttl,
            refresh_token=refresh,
            refresh_token_expires_in=self.refresh_ttl,
        )
        return answer


def sign_query(params: dict[str, str], secret: str) -> str:
    """Shopify's hex HMAC of a query: sorted `k=v` pairs (URL-encoded) joined by `&`."""
    message = "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in sorted(params.items())
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def session_token(
    shop: str,
    *,
    secret: str = APP_SECRET,
    audience: str = APP_KEY,
    now: datetime | None = None,
    lifetime: int = 60,
    **overrides: Any,
) -> str:
    """An App Bridge session token as Shopify signs it (HS256 with the client secret)."""
    issued = int((now or utc_now()).timestamp())
    claims: dict[str, Any] = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": audience,
        "sub": "42",
        "exp": issued + lifetime,
        "nbf": issued,
        "iat": issued,
        "jti": secrets.token_hex(8),
        "sid": secrets.token_hex(8),
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, "HS256")


def _error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}
