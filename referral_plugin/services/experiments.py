"""The results of a program's A/B test: per group (each variant, and the holdout) what its
advocates did (`experiment_figures`), the rates, and each variant compared with the control
(the first variant) and with the holdout (`domain.experiments` statistics).

Two comparisons, each on a proportion of advocates, since advocates are what was randomized:
- vs the control: the *advocate conversion rate*, the share of the group's advocates with at
  least one converted referral (the z-test and the lift of this variant over the first one);
- vs the holdout: the *own order rate*, the share of the group's customers who placed an order
  of their own after their assignment. The holdout has no code, so it has no referrals to
  compare; what a holdout can show is whether being in the program changes how its members
  buy themselves.
Also reported, not tested: converted referrals per advocate and per click (a friend may type
the code without clicking, so per click can exceed 1), referred revenue and reward cost.
A comparison whose groups have fewer than `MIN_OUTCOMES` successes or failures says the
samples are too small to conclude, whatever its p-value. With more than two variants each is
compared with the control alone, without a correction for multiple comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ..domain.experiments import (
    HOLDOUT,
    MIN_OUTCOMES,
    ZTest,
    compare_proportions,
    enough_outcomes,
    lift,
    rate,
)
from ..domain.money import minor_unit
from ..domain.program_codec import experiment_to_dict
from ..domain.programs import Program
from ..errors import NotFound, ValidationError
from .experiment_figures import GroupFigures, group_figures
from .programs import get_program


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    name: str
    successes: str  # the GroupFigures field counted as a success
    success_words: str  # for the notes: "advocates with a converted referral"


ADVOCATE_CONVERSION = Metric(
    name="advocate_conversion_rate",
    successes="converting_advocates",
    success_words="advocates with a converted referral",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "since the beginning" once the experiment is gone
OWN_ORDERS = Metric(
    name="own_order_rate",
    successes="ordering_advocates",
    success_words="customers who ordered again",
)


def experiment_results(
    session: Session,
    shop_id: int,
    program_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The results for advocates assigned in [since, until) (by default from the experiment's
    start to its end, or to `now`), as a JSON-ready dict. Raises NotFound for another shop's
    program, or one that never ran an experiment (none now and nobody assigned), and
    ValidationError("until") when the window is empty. Read-only."""
    program = get_program(session, shop_id, program_id)
    experiment = program.experiment
    start, end = _window(program, since, until, now)
    figures = group_figures(session, shop_id, program_id, program.currency, start, end)
    keys = _group_keys(program, figures)
    if experiment is None and not figures:
        raise NotFound("experiment of program", program_id)
    control = next((key for key in keys if key != HOLDOUT), None)
    groups = [
        _group(program, key, figures.get(key, GroupFigures()), figures, control) for key in keys
    ]
    return {
        "program_id": program.id,
        "currency": program.currency,
        "experiment": experiment_to_dict(experiment),
        "since": start.isoformat(),
        "until": end.isoformat(),
        "control": control,
        "minimum_outcomes": MIN_OUTCOMES,
        "groups": groups,
    }


def _window(
    program: Program, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    experiment = program.experiment
    start = since or (experiment.started_at if experiment else EPOCH)
    end = until or now
    if until is None and experiment is not None and experiment.ended_at is not None:
        end = min(end, experiment.ended_at)
    if end <= start:
        raise ValidationError.single("until", "must be after since (and the experiment's start)")
    return start, end


def _group_keys(program: Program, figures: dict[str, GroupFigures]) -> list[str]:
    """The experiment's variants in order, then variants only the data still has, then the
    holdout."""
    experiment = program.experiment
    keys = [variant.key for variant in experiment.variants] if experiment else []
    keys += sorted(set(figures) - set(keys) - {HOLDOUT})
    if (experiment and experiment.holdout_percent) or HOLDOUT in figures:
        keys.append(HOLDOUT)
    return keys


def _group(
    program: Program,
    key: str,
    group: GroupFigures,
    figures: dict[str, GroupFigures],
    control: str | None,
) -> dict[str, Any]:
    experiment = program.experiment
    variant = experiment.variant(key) if experiment else None
    holdout = figures.get(HOLDOUT)
    is_variant = key != HOLDOUT
    return {
        "key": key,
        "name": variant.name if variant else ("Holdout" if key == HOLDOUT else None),
        "weight": variant.weight if variant else None,
        "advocates": group.advocates,
        "sharing_advocates": group.sharing_advocates,
        "clicks": group.clicks,
        "referrals": group.referrals,
        "converted_referrals": group.converted_referrals,
        "converting_advocates": group.converting_advocates,
        "referred_revenue": _money(group.referred_revenue, program.currency),
        "reward_cost": _money(group.reward_cost, program.currency),
        "advocate_conversion_rate": _rate(group.converting_advocates, group.advocates),
        "converted_referrals_per_advocate": _rate(group.converted_referrals, group.advocates),
        "converted_referrals_per_click": _rate(group.converted_referrals, group.clicks),
        "ordering_advocates": group.ordering_advocates,
        "own_orders": group.own_orders,
        "own_order_rate": _rate(group.ordering_advocates, group.advocates),
        "vs_control": _compare(ADVOCATE_CONVERSION, group, figures.get(control or ""), key, control)
        if is_variant and control is not None and key != control
        else None,
        "vs_holdout": _compare(OWN_ORDERS, group, holdout, key, HOLDOUT)
        if is_variant and holdout is not None
        else None,
    }


def _compare(
    metric: Metric,
    group: GroupFigures,
    baseline: GroupFigures | None,
    key: str,
    baseline_key: str | None,
) -> dict[str, Any]:
    """`group` against `baseline` on `metric`: z, p, significance, lift with its interval."""
    baseline = baseline or GroupFigures()
    x, n = getattr(group, metric.successes), group.advocates
    y, m = getattr(baseline, metric.successes), baseline.advocates
    test = compare_proportions(x, n, y, m)
    found = lift(x, n, y, m)
    conclusive = test is not None and enough_outcomes((x, n), (y, m))
    return {
        "metric": metric.name,
        "against": baseline_key,
        "z": _number(test.z, 4) if test else None,
        "p_value": _number(test.p_value, 6) if test else None,
        "significant_at_95": bool(conclusive and test and test.significant),
        "conclusive": conclusive,
        "lift": _number(found.relative, 4) if found else None,
        "lift_95_low": _number(found.low, 4) if found and found.low is not None else None,
        "lift_95_high": _number(found.high, 4) if found and found.high is not None else None,
        "note": _note(metric, key, (x, n), baseline_key, (y, m), test, conclusive),
    }


def _note(
    metric: Metric,
    key: str,
    group: tuple[int, int],
    baseline_key: str | None,
    baseline: tuple[int, int],
    test: ZTest | None,
    conclusive: bool,
) -> str:
    counts = f"{key}: {group[0]} of {group[1]}, {baseline_key}: {baseline[0]} of {baseline[1]}"
    if test is None or not conclusive:
        return (
            f"Too few results to conclude ({metric.success_words}: {counts}). Each group needs "
            f"at least {MIN_OUTCOMES} advocates who did and {MIN_OUTCOMES} who did not."
        )
    p_value = f"p = {test.p_value:.4f}"
    if test.significant:
        return f"Significant at 95% ({p_value}; {metric.success_words}: {counts})."
    return f"No significant difference at 95% ({p_value}; {metric.success_words}: {counts})."


def _rate(successes: int, trials: int) -> str | None:
    value = rate(successes, trials)
    return None if value is None else _number(value, 4)


def _number(value: float, places: int) -> str:
    return f"{value:.{places}f}"


def _money(amount: Decimal, currency: str) -> str:
    return str(amount.quantize(minor_unit(currency)))
