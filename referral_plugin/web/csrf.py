"""CSRF protection for our HTML forms: a random token kept in Flask's signed session cookie
and echoed in a hidden field; a POST is accepted only when the two match (constant time).

The session cookie is SameSite=Lax (`use_lax_session_cookie`), so a cross-site POST does not
even carry it. Each form may use its own session key, so one form's token never unlocks
another's.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, session

DEFAULT_KEY = "csrf_token"


def csrf_token(key: str = DEFAULT_KEY) -> str:
    """This browser's token for the form (made and stored in the session on first use)."""
    token = session.get(key)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[key] = token
    return token


def csrf_valid(sent: str | None, key: str = DEFAULT_KEY) -> bool:
    """True when `sent` (the form's hidden field) is this browser's token."""
    expected = session.get(key)
    return isinstance(expected, str) and bool(sent) and hmac.compare_digest(expected, sent or "")


def use_lax_session_cookie(app: Flask) -> None:
    """Make the session cookie SameSite=Lax unless the app already chose."""
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
