"""WooCommerce REST v3 calls through the `woocommerce` package, made to raise and retry.

The package (wc-api-python 3.0.0) signs requests (HTTP Basic over https, one-legged OAuth 1.0a
in the query string over plain http), but has no retries and never raises on an HTTP error; its
timeout is set on the instance (a per-call `timeout=` raises TypeError). This wrapper owns the
instance, retries 429 / 5xx / timeouts / connection errors a bounded number of times with an
injected `sleep`, and turns every failure into the StoreClient error family:

- 401 / 403: StoreUnavailable (the keys are wrong, revoked, or lack the needed permission);
- 429, 5xx, timeouts, connection errors: StoreClientError(retryable=True, retry_after=...);
- any other 4xx: StoreClientError(retryable=False, code=<WooCommerce's error `code`>).

Keys never reach a log line or an error message: over plain http the request URL carries the
consumer key and signature, so messages name the endpoint and the exception class only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from woocommerce import API

from referral_plugin.domain.store import StoreClientError, StoreUnavailable

logger = logging.getLogger(__name__)

API_VERSION = "wc/v3"
# (connect, read) seconds: shared hosting is slow to create coupons; the package's 5 s is not.
DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_MAX_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 1.0
# A longer wait than this is not slept in-process: the error is raised with `retry_after` and
# the worker schedules the next attempt.
MAX_SLEEP_SECONDS = 30.0
REJECTED_KEYS = "WooCommerce rejected the API keys: reconnect the store"

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestResponse:
    """A successful (2xx) answer: the parsed JSON body and the response headers."""

    status: int
    payload: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def total_pages(self) -> int:
        """`X-WP-TotalPages` (1 when absent or unreadable)."""
        try:
            return max(1, int(self.headers.get("X-WP-TotalPages", "1")))
        except ValueError:
            return 1


class WooCommerceRestClient:
    """One store's REST v3 API. Every method raises StoreClientError / StoreUnavailable;
    retries apply to every method, so callers only send requests that are safe to repeat."""

    def __init__(
        self,
        store_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        sleep: Sleep = time.sleep,
        verify_ssl: bool = True,
    ) -> None:
        if not consumer_key or not consumer_secret:
            raise StoreUnavailable("the store has no WooCommerce API keys: reconnect the store")
        self.store_url = store_url.rstrip("/")
        self._api = API(
            url=self.store_url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            version=API_VERSION,
            timeout=timeout,
            verify_ssl=verify_ssl,
            query_string_auth=False,
        )
        self._max_attempts = max(1, max_attempts)
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the keys
        return f"WooCommerceRestClient({self.store_url!r})"

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> RestResponse:
        return self.request("GET", endpoint, params=params)

    def post(self, endpoint: str, data: Any) -> RestResponse:
        return self.request("POST", endpoint, data=data)

    def put(self, endpoint: str, data: Any) -> RestResponse:
        return self.request("PUT", endpoint, data=data)

    def delete(self, endpoint: str, params: Mapping[str, Any] | None = None) -> RestResponse:
        return self.request("DELETE", endpoint, params=params)

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        data: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> RestResponse:
        """Send one request, retrying retryable failures up to `max_attempts` times.

        Returns the 2xx answer. Raises StoreUnavailable (401/403), or StoreClientError:
        retryable after the last attempt, terminal at once for other 4xx or a non-JSON body.
        """
        attempt = 1
        while True:
            try:
                return self._send_once(method, endpoint, data, params)
            except StoreUnavailable:
                raise
            except StoreClientError as error:
                wait = self._wait_before_retry(error, attempt)
                if wait is None:
                    raise
                logger.warning(
                    "woocommerce call retried",
                    extra={
                        "store": self.store_url,
                        "endpoint": endpoint,
                        "status": error.status,
                        "attempt": attempt,
                    },
                )
                self._sleep(wait)
                attempt += 1

    def _wait_before_retry(self, error: StoreClientError, attempt: int) -> float | None:
        """Seconds to sleep before the next attempt, or None to raise now."""
        if not error.retryable or attempt >= self._max_attempts:
            return None
        wait = (
            error.retry_after
            if error.retry_after is not None
            else BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
        )
        return wait if wait <= MAX_SLEEP_SECONDS else None

    def _send_once(
        self, method: str, endpoint: str, data: Any, params: Mapping[str, Any] | None
    ) -> RestResponse:
        call = getattr(self._api, method.lower())
        arguments: dict[str, Any] = {"params": dict(params or {})}
        try:
            if method in {"POST", "PUT"}:
                response = call(endpoint, data, **arguments)
            else:
                response = call(endpoint, **arguments)
        except requests.Timeout as exc:
            raise StoreClientError(
                f"{method} {endpoint}: the store did not answer in time ({type(exc).__name__})",
                retryable=True,
                code="TIMEOUT",
            ) from None
        except requests.ConnectionError as exc:
            raise StoreClientError(
                f"{method} {endpoint}: cannot reach the store ({type(exc).__name__})",
                retryable=True,
                code="CONNECTION",
            ) from None
        return _checked(method, endpoint, response)


def _checked(method: str, endpoint: str, response: requests.Response) -> RestResponse:
    """The 2xx answer as a RestResponse; raises for every other status."""
    status = response.status_code
    payload = _json(response)
    if 200 <= status < 300:
        if payload is _NOT_JSON:
            raise StoreClientError(
                f"{method} {endpoint}: the store answered {status} without JSON; check that the "
                "URL is the WordPress site's address",
                retryable=False,
                status=status,
                code="not_json",
            )
        return RestResponse(status=status, payload=payload, headers=dict(response.headers))
    code, message = _error_fields(payload)
    described = f"{method} {endpoint}: HTTP {status}" + (f" {code}: {message}" if code else "")
    if status in (401, 403):
        unavailable = StoreUnavailable(f"{REJECTED_KEYS} ({code or f'HTTP {status}'})")
        unavailable.status, unavailable.code = status, code
        raise unavailable
    if status == 429 or status >= 500:
        raise StoreClientError(
            described,
            retryable=True,
            status=status,
            code=code,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    raise StoreClientError(described, retryable=False, status=status, code=code)


_NOT_JSON = object()


def _json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return _NOT_JSON


def _error_fields(payload: Any) -> tuple[str | None, str]:
    """WooCommerce's `{code, message, data: {status}}`, tolerant of anything else."""
    if isinstance(payload, Mapping):
        code = payload.get("code")
        message = payload.get("message")
        return (str(code) if code else None), (str(message) if message else "")
    return None, ""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date; None when absent or
    unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(tz=UTC))).total_seconds())
