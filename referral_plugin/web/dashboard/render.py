"""Rendering dashboard pages: the shared template context (merchant, CSRF token, App Bridge key
when embedded, money in the dashboard's locale) and the reading of list filters and pages.

The words merchants read live in the templates (`templates/dashboard/`), so they can be
translated later; Python hands them codes and numbers.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from babel.numbers import format_currency
from flask import g, render_template, request

from referral_plugin.app import app_services
from referral_plugin.models.types import row_id
from referral_plugin.web.csrf import csrf_token

STATIC_FOLDER = Path(__file__).resolve().parents[3] / "static" / "dashboard"
LOCALE = "en"  # the dashboard's language for now (numbers and money formats follow it)
CSRF_KEY = "dashboard_csrf"
PAGE_SIZE = 25
MAX_PAGE = 10_000

E = TypeVar("E", bound=StrEnum)


def render_page(template: str, status: int = 200, **context: object) -> tuple[str, int]:
    """`template` with what every dashboard page needs, answered with `status`."""
    merchant = g.get("merchant")
    embedded = merchant is not None and merchant.embedded
    settings = app_services().settings
    html = render_template(
        template,
        merchant=merchant,
        embedded=embedded,
        shopify_api_key=settings.shopify_api_key if embedded else None,
        csrf_token=lambda: "" if embedded else csrf_token(CSRF_KEY),
        money=format_money,
        **context,
    )
    return html, status


def format_money(amount: Decimal | None, currency: str) -> str:
    """`amount` in `currency` as the dashboard shows it, e.g. "$1,250.00"; "" for none."""
    if amount is None:
        return ""
    return format_currency(amount, currency, locale=LOCALE)


def page_number() -> int:
    """The `page` query parameter (1 when missing or not a page number)."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1


def offset_of(page: int) -> int:
    return (page - 1) * PAGE_SIZE


def id_arg(name: str) -> int | None:
    """A positive id from the query (None when missing or not an id)."""
    return row_id(request.args.get(name, ""))


def enum_arg(name: str, choices: type[E]) -> E | None:
    """One of `choices` from the query (None when missing or not one of them)."""
    raw = request.args.get(name, "")
    return choices(raw) if raw in {choice.value for choice in choices} else None
