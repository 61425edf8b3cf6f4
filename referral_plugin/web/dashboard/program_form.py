"""The program setup form (`templates/dashboard/program_form.html`) as the program JSON of
`domain.program_codec` (`program_values` goes the other way).

The form's inputs are named after the codec's field paths (`advocate_reward.amount`,
`conditions.minimum_subtotal`, `caps.0.limit`), so the codec's errors land next to the input
they name (`program_values.error_fields`). The form owns only the parts it shows: name, kind,
the two rewards and the milestones (a part the chosen kind does not use is cleared, see
`PARTS`), caps, hold period, claim mode, and the keys of `conditions`, `emails` and
`appearance` it has inputs for; `program_data` merges those onto the program being edited, so
every other part (fraud policy, copy, every-Nth reward, parts added later) is kept as it was.
Values are handed to the codec as typed as the form allows: a whole number becomes an int,
anything else stays text for the codec to refuse by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from werkzeug.datastructures import MultiDict

from referral_plugin.domain.programs import ProgramKind, RewardKind, ValueBasis

SIDES = ("advocate_reward", "friend_reward")
REQUIRED, OPTIONAL = "required", "optional"
# Which reward parts each program kind shows; a part a kind does not show is cleared.
PARTS: dict[str, dict[str, str]] = {
    ProgramKind.TWO_SIDED: {"advocate_reward": REQUIRED, "friend_reward": REQUIRED},
    ProgramKind.ONE_SIDED: {"advocate_reward": REQUIRED},
    ProgramKind.TIERED: {"milestones": REQUIRED, "advocate_reward": OPTIONAL,
                         "friend_reward": OPTIONAL},
    ProgramKind.CONTEST: {},
    ProgramKind.CHARITY: {"advocate_reward": REQUIRED, "friend_reward": OPTIONAL},
    ProgramKind.POINTS: {"advocate_reward": REQUIRED, "friend_reward": OPTIONAL},
}  # fmt: skip
# The advocate's reward kinds a program kind allows (the codec insists on these two).
ADVOCATE_KINDS = {
    ProgramKind.CHARITY: (RewardKind.CHARITY,),
    ProgramKind.POINTS: (RewardKind.POINTS,),
}
CONDITION_INPUTS = ("starts_at", "ends_at", "minimum_subtotal", "first_order_only",
                    "allowed_countries")  # fmt: skip

# The inputs a reward of each kind reads, for a fixed value and for a percent of the order.
CODE_LIMITS = ("expires_in_days", "minimum_subtotal")  # the store code's own limits
_BY_BASIS = {
    ValueBasis.FIXED: ("basis", "amount"),
    ValueBasis.PERCENT_OF_ORDER: ("basis", "percent"),
}
REWARD_INPUTS: dict[str, dict[str, tuple[str, ...]]] = {
    RewardKind.PERCENT_DISCOUNT: {"fixed": ("percent", *CODE_LIMITS)},
    RewardKind.FIXED_DISCOUNT: {b: (*i, *CODE_LIMITS) for b, i in _BY_BASIS.items()},
    RewardKind.FREE_SHIPPING: {"fixed": CODE_LIMITS},
    RewardKind.FREE_PRODUCT: {"fixed": ("product_id", "amount", *CODE_LIMITS)},
    RewardKind.STORE_CREDIT: dict(_BY_BASIS),
    RewardKind.POINTS: {"fixed": ("basis", "points"), "percent_of_order": ("basis", "percent")},
    RewardKind.CASH: dict(_BY_BASIS),
    RewardKind.CHARITY: {b: ("charity", *i) for b, i in _BY_BASIS.items()},
    RewardKind.VIP: {"fixed": ("tag",)},
    RewardKind.CUSTOM: {"fixed": ("description", "amount")},
}
SPEC_INPUTS = ("basis", "amount", "percent", "points", "product_id", "tag", "charity",
               "description", "expires_in_days", "minimum_subtotal")  # fmt: skip
WHOLE_NUMBER = re.compile(r"^[+-]?\d{1,12}$")
SEPARATORS = re.compile(r"[\s,;]+")
MIN_MILESTONE_ROWS, MIN_CAP_ROWS, MAX_ROWS = 3, 2, 50


@dataclass(frozen=True, slots=True, kw_only=True)
class FormDraft:
    """The program JSON parts the form gave, and how the codec's list indexes map back to the
    form's rows (blank rows are left out of the JSON): {"caps.0": "caps.1"}."""

    data: dict[str, Any]
    rows: dict[str, str] = field(default_factory=dict)


def inputs_for(kind: str, basis: str) -> tuple[str, ...]:
    """The inputs a reward of `kind` reads with `basis` (no kind: none)."""
    by_basis = REWARD_INPUTS.get(kind)
    if by_basis is None:
        return ()
    return by_basis.get(basis) or by_basis.get("fixed") or next(iter(by_basis.values()))


def program_data(form: MultiDict[str, str], current: dict[str, Any]) -> FormDraft:
    """The program JSON parts of the submitted form, merged onto `current` (the stored program
    as `program_to_dict` gives it, or {} for a new one) where the form owns only some keys."""
    kind = form.get("kind", "").strip()
    data: dict[str, Any] = {"name": _text(form, "name"), "kind": kind or None}
    rows: dict[str, str] = {}
    parts = PARTS.get(kind, {})
    if kind in PARTS:
        for side in SIDES:
            data[side] = reward_data(form, side) if side in parts else None
        data["milestones"] = _milestones(form, rows) if "milestones" in parts else []
    data["caps"] = _caps(form, rows)
    data["hold_days"] = whole(form.get("hold_days", ""))
    data["claim_mode"] = form.get("claim_mode") or None
    data["conditions"] = {**(current.get("conditions") or {}), **_conditions(form, current)}
    data["emails"] = {**(current.get("emails") or {}), **_emails(form)}
    data["appearance"] = {**(current.get("appearance") or {}), **_appearance(form)}
    if form.get("active") in ("0", "1"):
        data["active"] = form["active"] == "1"
    return FormDraft(data=data, rows=rows)


def _text(form: MultiDict[str, str], name: str) -> str | None:
    return form.get(name, "").strip() or None


def whole(raw: str) -> Any:
    """An int for a whole number; other text as given (the codec names what is wrong)."""
    text = raw.strip()
    return int(text) if WHOLE_NUMBER.match(text) else text


def _optionalwhole(form: MultiDict[str, str], name: str) -> Any:
    text = form.get(name, "").strip()
    return None if not text else whole(text)


def reward_data(form: MultiDict[str, str], prefix: str) -> dict[str, Any] | None:
    """The reward spec JSON of the inputs under `prefix` (None when no kind is chosen)."""
    kind = form.get(f"{prefix}.kind", "").strip()
    if not kind:
        return None
    spec: dict[str, Any] = {"kind": kind}
    basis = form.get(f"{prefix}.basis", "fixed")
    for name in inputs_for(kind, basis):
        if name in ("points", "expires_in_days"):
            spec[name] = _optionalwhole(form, f"{prefix}.{name}")
        else:
            spec[name] = _text(form, f"{prefix}.{name}")
    return spec


def _rows(form: MultiDict[str, str], pattern: str) -> range:
    count = 0
    while count < MAX_ROWS and pattern.format(count) in form:
        count += 1
    return range(count)


def _milestones(form: MultiDict[str, str], rows: dict[str, str]) -> list[dict[str, Any]]:
    milestones: list[dict[str, Any]] = []
    for index in _rows(form, "milestones.{}.count"):
        prefix = f"milestones.{index}"
        count = form.get(f"{prefix}.count", "").strip()
        reward = reward_data(form, f"{prefix}.reward")
        if not count and reward is None:
            continue
        rows[f"milestones.{len(milestones)}"] = prefix
        milestones.append({"count": whole(count), "reward": reward})
    return milestones


def _caps(form: MultiDict[str, str], rows: dict[str, str]) -> list[dict[str, Any]]:
    caps: list[dict[str, Any]] = []
    for index in _rows(form, "caps.{}.limit"):
        prefix = f"caps.{index}"
        limit = form.get(f"{prefix}.limit", "").strip()
        if not limit:
            continue
        rows[f"caps.{len(caps)}"] = prefix
        caps.append({name: form.get(f"{prefix}.{name}") or None
                     for name in ("scope", "metric", "period")} | {"limit": limit})  # fmt: skip
    return caps


def _conditions(form: MultiDict[str, str], current: dict[str, Any]) -> dict[str, Any]:
    stored = current.get("conditions") or {}
    countries = SEPARATORS.split(form.get("conditions.allowed_countries", "").upper())
    return {
        "starts_at": _day_start(form, "starts_at", stored, last_day=False),
        "ends_at": _day_start(form, "ends_at", stored, last_day=True),
        "minimum_subtotal": _text(form, "conditions.minimum_subtotal"),
        "first_order_only": form.get("conditions.first_order_only") == "1",
        "allowed_countries": [country for country in countries if country],
    }


def _day_start(
    form: MultiDict[str, str], name: str, stored: dict[str, Any], *, last_day: bool
) -> str | None:
    return day_stamp(form.get(f"conditions.{name}", ""), stored.get(name), last_day=last_day)


def day_stamp(text: str, stored: Any, *, last_day: bool) -> str | None:
    """A date input as the codec's UTC timestamp: the first day from its midnight, the last
    day until the next midnight. The stored timestamp is kept while its day is unchanged."""
    text = text.strip()
    if not text:
        return None
    if text == shown_day(stored, last_day=last_day):
        return str(stored)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text  # the codec says it is no timestamp
    return f"{day + timedelta(days=1) if last_day else day}T00:00:00+00:00"


def shown_day(stamp: Any, *, last_day: bool) -> str:
    """The date a stored timestamp shows as (an end at midnight shows the day before)."""
    if not isinstance(stamp, str) or not stamp:
        return ""
    moment = datetime.fromisoformat(stamp)
    return str((moment - timedelta(microseconds=1)).date() if last_day else moment.date())


def _emails(form: MultiDict[str, str]) -> dict[str, Any]:
    return {
        "enabled": form.getlist("emails.enabled"),
        "reminder_days_before": _optionalwhole(form, "emails.reminder_days_before"),
        "nudge_after_days": _optionalwhole(form, "emails.nudge_after_days"),
    }


def _appearance(form: MultiDict[str, str]) -> dict[str, Any]:
    return {
        "color": _text(form, "appearance.color"),
        "language": _text(form, "appearance.language"),
    }
