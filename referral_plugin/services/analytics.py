"""Merchant analytics (issue 7): a date range's referral metrics beside the period before it.

`shop_analytics` reads the figures of both periods (`analytics_queries`, `analytics_engagement`:
six aggregate queries per period), turns them into metrics with their explanations
(`domain.metrics`), and adds the chart series of both periods (`analytics_series`: four
statements per period) and the campaign periods of the shop's programs as presets: a fixed
number of statements, whatever the data. Days are whole UTC days; the previous
period has the same number of days and ends where the range starts. Read-only. Money figures
count amounts in the shop's currency only (an order in another one, after a shop changed its
currency, still counts as an order and a customer).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..domain.days import EARLIEST, LATEST
from ..domain.metrics import ComparedMetric, PeriodFigures, compare
from ..errors import NotFound, ValidationError
from ..models import Program as ProgramRow
from ..models import Shop
from .analytics_engagement import (
    advocate_figures,
    claim_figures,
    reward_figures,
    sharing_figures,
)
from .analytics_queries import (
    Figures,
    Scope,
    Window,
    customer_figures,
    referred_order_figures,
)
from .analytics_series import Series, activity_series
from .snapshots import load_program

MONEY_FIGURES = frozenset(f.name for f in fields(PeriodFigures) if f.type == "Decimal")
MAX_DAYS = 732  # two years, leap day included
FIGURE_QUERIES = (
    customer_figures,
    referred_order_figures,
    sharing_figures,
    claim_figures,
    reward_figures,
    advocate_figures,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DayRange:
    """From `first` to `last`, both included (whole UTC days)."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def window(self) -> Window:
        start = datetime.combine(self.first, time(), tzinfo=UTC)
        return Window(start=start, end=start + timedelta(days=self.days))

    def before(self) -> DayRange:
        """The range of as many days that ends the day before this one starts."""
        return DayRange(
            first=self.first - timedelta(days=self.days), last=self.first - timedelta(days=1)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Preset:
    """A program's campaign period (its conditions' start and end), offered as a range."""

    program_id: int
    name: str
    days: DayRange


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgramChoice:
    """One of the shop's programs, for choosing which one the analytics show."""

    program_id: int
    name: str
    public_id: str | None  # its join page is `/p/<public_id>/join`


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopAnalytics:
    currency: str
    program_id: int | None
    campaign_id: int | None  # the program whose campaign period is the range, if one is
    current: DayRange
    previous: DayRange
    metrics: tuple[ComparedMetric, ...]
    series: Series
    previous_series: Series  # the same buckets in the previous period
    presets: tuple[Preset, ...]
    programs: tuple[ProgramChoice, ...]  # every program of the shop, oldest first


def check_range(days: DayRange) -> None:
    """Raises ValidationError naming `from` or `to` unless the range is one we answer."""
    if not EARLIEST <= days.first <= LATEST:
        raise ValidationError.single("from", f"must be between {EARLIEST} and {LATEST}")
    if not EARLIEST <= days.last <= LATEST:
        raise ValidationError.single("to", f"must be between {EARLIEST} and {LATEST}")
    if days.last < days.first:
        raise ValidationError.single("to", "must not be before from")
    if days.days > MAX_DAYS:
        raise ValidationError.single("to", f"the range may span at most {MAX_DAYS} days")


def shop_analytics(
    session: Session,
    shop_id: int,
    days: DayRange | None,
    *,
    program_id: int | None = None,
    today: date,
    campaign_id: int | None = None,
) -> ShopAnalytics:
    """The metrics of `days` (for one program, or all) beside those of the period before,
    the chart series of both, the campaign presets (`today` ends open campaigns) and the
    shop's programs. With `campaign_id` the range is that program's campaign period instead
    of `days` (which may then be None).

    Raises ValidationError (`from`, `to`; `campaign` for a program without a campaign period)
    or NotFound (shop, or a program or campaign not the shop's).
    """
    currency = session.scalars(select(Shop.currency).where(Shop.id == shop_id)).one_or_none()
    if currency is None:
        raise NotFound("shop", shop_id)
    programs = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id).order_by(ProgramRow.id)
    ).all()
    for wanted in (program_id, campaign_id):
        if wanted is not None and wanted not in {row.id for row in programs}:
            raise NotFound("program", wanted)
    presets = tuple(
        preset for row in programs if (preset := campaign_preset(row, today)) is not None
    )
    days = range_of(days, campaign_id, presets)
    check_range(days)
    scope = Scope(shop_id=shop_id, currency=currency, program_id=program_id)
    window = days.window
    (current, series), (previous, previous_series) = both_periods(session, scope, window)
    return ShopAnalytics(
        currency=currency,
        program_id=program_id,
        campaign_id=campaign_id,
        current=days,
        previous=days.before(),
        metrics=compare(current, previous),
        series=series,
        previous_series=previous_series,
        presets=presets,
        programs=tuple(
            ProgramChoice(program_id=row.id, name=row.name, public_id=row.public_id)
            for row in programs
        ),
    )


def range_of(
    days: DayRange | None, campaign_id: int | None, presets: tuple[Preset, ...]
) -> DayRange:
    """`days`, or the campaign period of program `campaign_id` when one is asked for."""
    if campaign_id is None:
        if days is None:
            raise TypeError("shop_analytics needs days or a campaign")
        return days
    for preset in presets:
        if preset.program_id == campaign_id:
            return preset.days
    raise ValidationError.single(
        "campaign", "this program has no campaign period (no dates, or it has not begun)"
    )


Period = tuple[PeriodFigures, Series]


def both_periods(session: Session, scope: Scope, window: Window) -> tuple[Period, Period]:
    """The figures and series of `window` and of the period before it. On PostgreSQL, with a
    session bound to an engine, the period before is read at the same time on a connection of
    its own (the dozen statements of each period then share the two cores: ~0.5 s instead of
    ~0.9 s at 1,000,000 orders, docs/BENCHMARKS.md); it is then its own snapshot, a moment
    apart, as a second request would be. Otherwise (SQLite, or a session bound to one
    connection, as in tests) one after the other in `session`."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return _period(session, scope, window), _period(session, scope, window.before())
    with ThreadPoolExecutor(max_workers=1) as pool:
        before = pool.submit(_period_on_its_own, bind, scope, window.before())
        current = _period(session, scope, window)
        return current, before.result()


def _period(session: Session, scope: Scope, window: Window) -> Period:
    return period_figures(session, scope, window), activity_series(session, scope, window)


def _period_on_its_own(engine: Engine, scope: Scope, window: Window) -> Period:
    with Session(bind=engine) as session, session.begin():
        return _period(session, scope, window)


def period_figures(session: Session, scope: Scope, window: Window) -> PeriodFigures:
    """Every figure of one period: sums of money as Decimal, counts as int (a count summed in
    SQL comes back as a decimal; nothing to sum as None)."""
    values: Figures = {}
    for query in FIGURE_QUERIES:
        values.update(query(session, scope, window))
    typed: dict[str, Any] = {
        name: Decimal(value or 0) if name in MONEY_FIGURES else int(value or 0)
        for name, value in values.items()
    }
    return PeriodFigures(currency=scope.currency, **typed)


def campaign_preset(row: ProgramRow, today: date) -> Preset | None:
    """The program's campaign period as a range of whole days: from its start (else its
    creation) to the day before its end (else today); None without a start or an end, or
    when the campaign has not begun. Longer campaigns keep their last MAX_DAYS days."""
    conditions = load_program(row).conditions
    if conditions.starts_at is None and conditions.ends_at is None:
        return None
    first = (conditions.starts_at or row.created_at).astimezone(UTC).date()
    ends = conditions.ends_at
    last = today if ends is None else (ends - timedelta(microseconds=1)).astimezone(UTC).date()
    if last < first:
        return None
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return Preset(program_id=row.id, name=row.name, days=DayRange(first=first, last=last))
