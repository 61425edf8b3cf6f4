"""The admin API's analytics: `GET /api/v1/analytics?from=&to=&program_id=`.

`from` and `to` are dates (`YYYY-MM-DD`, UTC, both included; by default the 30 days up to
today, at most 732 days); `program_id` narrows the referral metrics to one program of the
shop (another shop's program answers 404). A bad value answers 422 naming the parameter. Each
metric comes with its value in the previous period of the same length, the change, its unit
(and currency for money), which way is better, and how it is computed (in words, as a formula
and with the period's numbers); the series of both periods feed the charts (`web.charts`),
the presets are the programs' campaign periods.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, jsonify, request

from referral_plugin.api.auth import authenticate_shop, current_shop_id
from referral_plugin.app import app_services
from referral_plugin.domain.metrics import ComparedMetric, Unit, Value, format_value
from referral_plugin.domain.money import minor_unit
from referral_plugin.errors import ValidationError
from referral_plugin.models.types import row_id
from referral_plugin.query_dates import query_dates
from referral_plugin.services.analytics import DayRange, Preset, ShopAnalytics, shop_analytics
from referral_plugin.services.analytics_series import Series

DEFAULT_DAYS = 30

blueprint = Blueprint("analytics_api", __name__, url_prefix="/api/v1")
blueprint.before_request(authenticate_shop)


@blueprint.get("/analytics")
def get_analytics() -> Any:
    today = datetime.now(tz=UTC).date()
    days, program_id = requested_days(today), requested_program()
    with app_services().sessions.begin() as session:
        found = shop_analytics(session, current_shop_id(), days, program_id=program_id, today=today)
    return jsonify(analytics_body(found))


def requested_days(today: date) -> DayRange:
    """The `from` and `to` days (defaults: to today, from DEFAULT_DAYS days before `to`);
    raises ValidationError naming each parameter that is not a date we accept."""
    first, last = query_dates("from", "to")
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    return DayRange(first=first, last=last)


def requested_program() -> int | None:
    raw = request.args.get("program_id", "").strip()
    if not raw:
        return None
    program_id = row_id(raw)
    if program_id is None:
        raise ValidationError.single("program_id", "must be a program's id (a positive number)")
    return program_id


def analytics_body(found: ShopAnalytics) -> dict[str, Any]:
    return {
        "currency": found.currency,
        "program_id": found.program_id,
        "period": _days(found.current),
        "previous_period": _days(found.previous),
        "metrics": [_metric(m, found.currency) for m in found.metrics],
        "series": _series(found.series, found.currency),
        "previous_series": _series(found.previous_series, found.currency),
        "presets": [_preset(p) for p in found.presets],
    }


def _days(days: DayRange) -> dict[str, str]:
    return {"from": days.first.isoformat(), "to": days.last.isoformat()}


def _metric(compared: ComparedMetric, currency: str) -> dict[str, Any]:
    now, before = compared.current, compared.previous
    money = now.unit is Unit.MONEY
    return {
        "key": now.key,
        "label": now.label,
        "unit": now.unit.value,
        "currency": currency if money else None,
        "value": _number(now.value, now.unit, currency),
        "previous": _number(before.value, now.unit, currency),
        "change": _number(compared.change, now.unit, currency),
        "change_percent": _number(compared.change_percent, Unit.PERCENT, currency),
        "display": {
            "value": format_value(now.value, now.unit, currency),
            "previous": format_value(before.value, now.unit, currency),
        },
        "explanation": now.explanation,
        "formula": now.formula,
        "better": now.better.value,
        "computation": {"value": now.computation, "previous": before.computation},
    }


def _number(value: Value, unit: Unit, currency: str) -> int | str | None:
    """Counts as JSON numbers; money (in the currency's minor unit) and rates as strings."""
    if value is None or isinstance(value, int):
        return value
    return str(_money(value, currency) if unit is Unit.MONEY else value)


def _money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency))


def _series(series: Series, currency: str) -> dict[str, Any]:
    return {
        "bucket_days": series.bucket_days,
        "points": [
            {
                "start": p.start.isoformat(),
                "days": p.days,
                "referred_orders": p.referred_orders,
                "referred_revenue": str(_money(p.referred_revenue, currency)),
                "referred_revenue_gross": str(_money(p.referred_revenue_gross, currency)),
                "clicks": p.clicks,
                "reward_cost_issued": str(_money(p.reward_cost_issued, currency)),
                "reward_cost_redeemed": str(_money(p.reward_cost_redeemed, currency)),
            }
            for p in series.points
        ],
    }


def _preset(preset: Preset) -> dict[str, Any]:
    return {"program_id": preset.program_id, "name": preset.name, **_days(preset.days)}
