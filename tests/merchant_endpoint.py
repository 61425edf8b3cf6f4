"""A real HTTP server on 127.0.0.1 playing the merchant's webhook endpoint (their CRM/ESP).

It checks every request the way a receiver should (README, "Outbound webhooks"): the signature
header parsed, the HMAC-SHA256 of `"<t>.<raw body>"` recomputed with the endpoint's secret and
compared in constant time, the timestamp within a replay window, the event id deduplicated.
Answers are scripted: a queue of status codes (default 200), or `("sleep", seconds)` to
answer too late.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLAY_WINDOW_SECONDS = 300


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class MerchantEndpoint:
    """The server's state: what arrived, what to answer next, the secret to verify with."""

    port: int = 0
    secret: str | None = None
    answers: deque[int | tuple[str, float]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/referrals"

    def answer(self, *answers: int | tuple[str, float]) -> None:
        self.answers.extend(answers)

    def event_ids(self) -> list[str]:
        with self.lock:
            return [r.headers["X-Referral-Event-Id"] for r in self.received]


def verify(secret: str, header: str, body: bytes, now: float) -> bool:
    """A receiver's check of `X-Referral-Signature: t=<unix>,v1=<hex>`."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > REPLAY_WINDOW_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))


def _handler(state: MerchantEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            header = self.headers.get("X-Referral-Signature", "")
            ok = state.secret is not None and verify(state.secret, header, body, time.time())
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body, ok))
                answer = state.answers.popleft() if state.answers else 200
            if isinstance(answer, tuple):
                time.sleep(answer[1])
                answer = 200
            try:
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def serve_merchant_endpoint() -> Iterator[MerchantEndpoint]:
    """Run the server for one test; yields its state (set `secret` after registering)."""
    state = MerchantEndpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
