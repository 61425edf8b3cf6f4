"""The analytics page, `/admin/analytics` (issue 7): headline cards, charts and every other
metric of a period beside the period before, for all programs or one.

One call of `services.analytics.shop_analytics` (the same queries as `GET /api/v1/analytics`)
feeds everything; when the controls cannot be read, or the service refuses the range, the
page names the wrong field (422) and only the shop's program names are read, for the form.
Today is the app's clock (`AppServices.clock`), so tests pin the named ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date

from babel.dates import format_date
from flask import Blueprint

from referral_plugin.app import app_services
from referral_plugin.errors import FieldError, ValidationError
from referral_plugin.services import dashboard_totals as totals
from referral_plugin.services.analytics import DayRange, ShopAnalytics, shop_analytics
from referral_plugin.web.analytics_charts import PageChart, analytics_charts
from referral_plugin.web.dashboard.access import current_merchant, guard
from referral_plugin.web.dashboard.analytics_controls import (
    CAMPAIGN,
    PERIODS,
    Controls,
    read_controls,
)
from referral_plugin.web.dashboard.analytics_figures import HEADLINE, Figure, Numbers, figures
from referral_plugin.web.dashboard.render import LOCALE, render_page

blueprint = Blueprint("dashboard_analytics", __name__, url_prefix="/admin")
guard(blueprint)

NOT_REFERRALS = frozenset({"customers", "other_customers", "ltv_other"})  # any shop has these


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalyticsPage:
    controls: Controls
    found: ShopAnalytics | None  # None when the request was refused
    errors: dict[str, str]  # form field → message
    programs: list[tuple[int, str]]
    figures: dict[str, Figure]
    charts: tuple[PageChart, ...]
    empty: bool  # no referral activity in either period
    join_pages: list[tuple[str, str]]  # (program name, join page address)
    campaigns: list[tuple[str, str]]  # (period value, words) of the programs' campaigns
    period_words: str  # e.g. "1 Mar 2026 to 31 Mar 2026 (31 days)"
    previous_words: str


@blueprint.get("/analytics")
def analytics() -> tuple[str, int]:
    services = app_services()
    today = services.clock().astimezone(UTC).date()
    page = analytics_page(current_merchant().shop_id, read_controls(today), today)
    return render_page(
        "dashboard/analytics.html", 422 if page.errors else 200, page=page, periods=PERIODS,
        headline=HEADLINE,
    )  # fmt: skip


def analytics_page(shop_id: int, controls: Controls, today: date) -> AnalyticsPage:
    """The page's content: one analytics call, or the errors and the program names."""
    services = app_services()
    errors, found = list(controls.errors), None
    with services.sessions.begin() as session:
        if not errors:
            try:
                found = shop_analytics(
                    session, shop_id, controls.days, program_id=controls.program_id,
                    today=today, campaign_id=controls.campaign_id,
                )  # fmt: skip
            except ValidationError as refused:
                errors = refused.errors
        if found is None:
            return _refused(controls, errors, totals.program_choices(session, shop_id))
    base = services.settings.public_base_url.rstrip("/")
    shown = figures(found.metrics, found.currency)
    return AnalyticsPage(
        controls=controls, found=found, errors={}, figures=shown,
        programs=[(p.program_id, p.name) for p in found.programs],
        charts=analytics_charts(found, Numbers(found.currency).shown),
        empty=not any(
            m.current.value or m.previous.value
            for m in found.metrics
            if m.current.key not in NOT_REFERRALS
        ),
        join_pages=[(p.name, f"{base}/p/{p.public_id}/join") for p in found.programs
                    if p.public_id],
        campaigns=[(f"{CAMPAIGN}{p.program_id}", f"Campaign: {p.name}, {days_words(p.days)}")
                   for p in found.presets],
        period_words=days_words(found.current),
        previous_words=days_words(found.previous, with_length=False),
    )  # fmt: skip


def days_words(days: DayRange, *, with_length: bool = True) -> str:
    """Days in words: "1 Mar 2026 to 31 Mar 2026 (31 days)"."""
    first, last = (format_date(day, "d MMM yyyy", locale=LOCALE) for day in (days.first, days.last))
    if not with_length:
        return f"{first} to {last}"
    return f"{first} to {last} ({days.days} day{'s' if days.days != 1 else ''})"


def _refused(
    controls: Controls, errors: list[FieldError], programs: list[tuple[int, str]]
) -> AnalyticsPage:
    by_field = {"campaign": "period"}  # the campaign is chosen in the period list
    return AnalyticsPage(
        controls=controls, found=None, programs=programs, figures={}, charts=(), empty=False,
        join_pages=[], errors={by_field.get(e.field, e.field): e.message for e in errors},
        campaigns=[], period_words="", previous_words="",
    )  # fmt: skip
