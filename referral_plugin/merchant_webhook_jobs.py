"""The worker's `send_merchant_webhooks` job and the HTTP poster it sends with.

The poster is the one place that talks HTTP to the merchant's endpoints: a POST with a timeout
(connect 3 s, read 10 s), no redirects followed (a redirect is an answer, retried like any
non-2xx: following it could leave https), the response body never read. Network trouble is
returned as a `PostResult` error naming the kind of failure only: an exception's text can
carry the URL, which may hold the merchant's own tokens, so it is neither stored nor logged.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.services.webhook_sending import PostResult, WebhookPoster, send_due_deliveries

if TYPE_CHECKING:
    from referral_plugin.jobs import WorkerRuntime

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0


class HttpWebhookPoster:
    """POSTs with `requests`, one connection pool per instance (one per job run).

    Before each POST the endpoint's host name is resolved and every address must be public
    (`ipaddress.is_global`): a merchant cannot point us at this machine, the cloud metadata
    address or a private network through a name (the API already refuses such addresses typed
    as numbers). Loopback is allowed only with `allow_loopback` (outside production, as the
    API allows `http://127.0.0.1`). What this does not stop: a name that resolves to a public
    address here and a private one a moment later (DNS rebinding); pinning the checked address
    for the connection would.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        allow_loopback: bool = False,
    ) -> None:
        self._timeout = (connect_timeout, read_timeout)
        self._allow_loopback = allow_loopback
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc credentials from the environment

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        refused = non_public_address(url, allow_loopback=self._allow_loopback)
        if refused is not None:
            return PostResult(error=refused)
        try:
            response = self._session.post(
                url,
                data=body,
                headers=dict(headers),
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.ConnectTimeout:
            return PostResult(error=f"connect timeout after {self._timeout[0]:g} s")
        except requests.ReadTimeout:
            return PostResult(error=f"no answer within {self._timeout[1]:g} s")
        except requests.ConnectionError:
            return PostResult(error="connection failed")
        except requests.RequestException as exc:
            return PostResult(error=f"request failed: {type(exc).__name__}")
        response.close()
        return PostResult(status_code=response.status_code)

    def close(self) -> None:
        self._session.close()


def non_public_address(url: str, *, allow_loopback: bool) -> str | None:
    """Why `url`'s host must not be called (it is or resolves to a non-public address, or
    does not resolve), or None. A numeric host is judged as it is, without a lookup."""
    parts = urlsplit(url)
    host = (parts.hostname or "").split("%")[0]
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, ValueError, UnicodeError):
            return "the endpoint's host name does not resolve"
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if address.is_loopback and allow_loopback:
            continue
        if not address.is_global:
            return "the endpoint's host resolves to a private or reserved address: refused"
    return None


def send_merchant_webhooks(
    session: Session,
    *,
    now: datetime,
    services: AppServices,
    runtime: WorkerRuntime,
    poster: WebhookPoster | None = None,
) -> int:
    """Send the due deliveries of every shop's endpoints; returns how many were handled
    (delivered, retrying or failed). The `session` of `run_job` stays unused: each claim and
    each outcome takes its own transaction, none open during a POST."""
    settings = services.settings
    own = HttpWebhookPoster(allow_loopback=not settings.is_production) if poster is None else None
    try:
        report = send_due_deliveries(
            services.sessions.begin,
            poster=own or poster,  # type: ignore[arg-type]
            box=services.box,
            now=now,
            worker=runtime.worker,
            max_attempts=settings.merchant_webhook_max_attempts,
            disable_after=timedelta(hours=settings.merchant_webhook_disable_after_hours),
            clock=runtime.clock,
            should_stop=runtime.stop.is_set,
        )
    finally:
        if own is not None:
            own.close()
    return report.delivered + report.retrying + report.failed
