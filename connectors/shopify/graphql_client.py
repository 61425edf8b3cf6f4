"""One shop's GraphQL Admin API endpoint: timeouts, cost-aware pacing, and bounded retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from referral_plugin.domain.store import StoreClientError, StoreUnavailable

logger = logging.getLogger(__name__)

THROTTLED = "THROTTLED"
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"  # a non-idempotent call may or may not have happened
_RETRY_STATUSES = frozenset({429, 503})
_UNAVAILABLE_STATUSES = frozenset({401, 402, 403, 423})
_RETRYABLE_ERROR_CODES = frozenset({"INTERNAL_SERVER_ERROR"})
_DEFAULT_COST = 10.0  # before Shopify has told us a document's cost


@dataclass(slots=True)
class _Bucket:
    """The last `throttleStatus` Shopify reported, and when (on our monotonic clock)."""

    maximum: float
    available: float
    restore_rate: float
    observed_at: float

    def available_at(self, now: float) -> float:
        restored = self.available + self.restore_rate * max(0.0, now - self.observed_at)
        return min(self.maximum, restored)


class _Retry(Exception):
    """Internal: the attempt failed in a way worth repeating after `delay` seconds."""

    def __init__(self, error: StoreClientError, delay: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


class ShopifyGraphQL:
    """POSTs documents to `https://{shop}/admin/api/{version}/graphql.json` with the shop's
    access token. Never logs the token or response bodies."""

    def __init__(
        self,
        shop_domain: str,
        access_token: str,
        api_version: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 20),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = 5,
        endpoint: str | None = None,
    ) -> None:
        self.shop_domain = shop_domain
        self.endpoint = endpoint or f"https://{shop_domain}/admin/api/{api_version}/graphql.json"
        self._token = access_token
        self._session = session or requests.Session()
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._bucket: _Bucket | None = None
        self._costs: dict[str, float] = {}  # last requestedQueryCost per document

    def pause(self, seconds: float) -> None:
        """Wait (with the injected sleep), e.g. between polls of an asynchronous job."""
        self._sleep(seconds)

    def execute(
        self, document: str, variables: Mapping[str, Any] | None = None, *, idempotent: bool = True
    ) -> dict[str, Any]:
        """The response's `data`. Waits for room in the cost bucket first; retries throttling,
        429/503, 5xx, timeouts and connection errors a bounded number of times.

        Raises StoreUnavailable (401/403: token rejected; 402/423: shop frozen or locked) and
        StoreClientError (retryable when the attempts ran out on a transient failure; terminal
        for GraphQL errors). With `idempotent=False`, a failure after the request may have
        reached Shopify is not retried: it raises a terminal OUTCOME_UNKNOWN error instead.
        """
        for attempt in range(1, self._max_attempts + 1):
            self._wait_for_room(document)
            try:
                return self._attempt(document, variables, idempotent)
            except _Retry as retry:
                if attempt == self._max_attempts:
                    raise retry.error from None
                logger.warning(
                    "shopify call retried",
                    extra={
                        "shop": self.shop_domain,
                        "status": retry.error.status,
                        "error_code": retry.error.code,
                        "attempt": attempt,
                    },
                )
                self._sleep(retry.delay if retry.delay > 0 else _backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, document: str, variables: Mapping[str, Any] | None, idempotent: bool
    ) -> dict[str, Any]:
        response = self._post(document, variables, idempotent)
        status = response.status_code
        if status in _UNAVAILABLE_STATUSES:
            raise StoreUnavailable(_unavailable_reason(status))
        if status in _RETRY_STATUSES:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            code = THROTTLED if status == 429 else None
            error = StoreClientError(
                f"shopify answered HTTP {status}",
                retryable=True,
                status=status,
                code=code,
                retry_after=retry_after,
            )
            raise _Retry(error, retry_after or 0.0)
        if status >= 500:
            error = StoreClientError(
                f"shopify answered HTTP {status}", retryable=True, status=status
            )
            raise _Retry(error, 0.0) if idempotent else _unknown(error)
        if status != 200:
            raise StoreClientError(
                f"shopify answered HTTP {status}", retryable=False, status=status
            )
        return self._read(document, response, idempotent)

    def _post(
        self, document: str, variables: Mapping[str, Any] | None, idempotent: bool
    ) -> requests.Response:
        headers = {"X-Shopify-Access-Token": self._token, "Content-Type": "application/json"}
        body = {"query": document, "variables": dict(variables or {})}
        try:
            return self._session.post(
                self.endpoint, json=body, headers=headers, timeout=self._timeout
            )
        except requests.ConnectTimeout as exc:  # never reached Shopify: always safe to repeat
            raise _Retry(_transport_error("connect timed out", "TIMEOUT"), 0.0) from exc
        except requests.Timeout as exc:
            error = _transport_error("read timed out", "TIMEOUT")
            raise (_Retry(error, 0.0) if idempotent else _unknown(error)) from exc
        except requests.RequestException as exc:
            error = _transport_error(f"connection failed: {type(exc).__name__}", "CONNECTION")
            raise (_Retry(error, 0.0) if idempotent else _unknown(error)) from exc

    def _read(self, document: str, response: requests.Response, idempotent: bool) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError as exc:
            error = StoreClientError("shopify sent a body that is not JSON", retryable=True)
            raise (_Retry(error, 0.0) if idempotent else _unknown(error)) from exc
        requested = self._observe_cost(document, payload)
        errors = payload.get("errors") or []
        if errors:
            raise self._graphql_error(errors, requested, idempotent)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise StoreClientError("shopify sent no data", retryable=False, status=200)
        return data

    def _graphql_error(self, errors: list[Any], requested: float, idempotent: bool) -> Exception:
        codes = [_error_code(error) for error in errors]
        message = "; ".join(_error_message(error) for error in errors)[:500]
        if THROTTLED in codes:  # nothing ran: always safe to repeat
            delay = self._deficit_delay(requested)
            error = StoreClientError(
                "throttled", retryable=True, status=200, code=THROTTLED, retry_after=delay
            )
            return _Retry(error, delay)
        code = next((c for c in codes if c), None)
        if code in _RETRYABLE_ERROR_CODES:
            error = StoreClientError(message, retryable=True, status=200, code=code)
            return _Retry(error, 0.0) if idempotent else _unknown(error)
        return StoreClientError(f"graphql error: {message}", retryable=False, status=200, code=code)

    def _observe_cost(self, document: str, payload: Mapping[str, Any]) -> float:
        cost = (payload.get("extensions") or {}).get("cost") or {}
        requested = _number(cost.get("requestedQueryCost"))
        if requested is not None:
            self._costs[document] = requested
        status = cost.get("throttleStatus") or {}
        maximum = _number(status.get("maximumAvailable"))
        available = _number(status.get("currentlyAvailable"))
        rate = _number(status.get("restoreRate"))
        if maximum is not None and available is not None and rate:
            self._bucket = _Bucket(maximum, available, rate, self._clock())
        return requested if requested is not None else self._costs.get(document, _DEFAULT_COST)

    def _deficit_delay(self, cost: float) -> float:
        """Seconds until the bucket holds `cost` points (a small margin for rounding)."""
        bucket = self._bucket
        if bucket is None:
            return 1.0
        missing = min(cost, bucket.maximum) - bucket.available_at(self._clock())
        return max(0.0, missing / bucket.restore_rate) + 0.05

    def _wait_for_room(self, document: str) -> None:
        if self._bucket is None:
            return
        delay = self._deficit_delay(self._costs.get(document, _DEFAULT_COST)) - 0.05
        if delay > 0:
            self._sleep(delay + 0.05)


def user_error(errors: Sequence[Mapping[str, Any]], what: str) -> StoreClientError:
    """A terminal error naming the userErrors' messages, with the first error's code."""
    messages = "; ".join(str(error.get("message")) for error in errors)[:500]
    code = next((str(error["code"]) for error in errors if error.get("code")), None)
    return StoreClientError(f"{what}: {messages}", retryable=False, status=200, code=code)


def _backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2 ** (attempt - 1))


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _error_code(error: Any) -> str | None:
    extensions = error.get("extensions") if isinstance(error, Mapping) else None
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    return str(code) if code else None


def _error_message(error: Any) -> str:
    return str(error.get("message")) if isinstance(error, Mapping) else str(error)


def _transport_error(message: str, code: str) -> StoreClientError:
    return StoreClientError(message, retryable=True, code=code)


def _unknown(error: StoreClientError) -> StoreClientError:
    return StoreClientError(
        f"{error} (the call is not idempotent: check the store before retrying)",
        retryable=False,
        status=error.status,
        code=OUTCOME_UNKNOWN,
    )


def _unavailable_reason(status: int) -> str:
    if status in (401, 403):
        return f"access token rejected (HTTP {status}): reinstall the app"
    return f"shop is frozen or locked (HTTP {status})"
