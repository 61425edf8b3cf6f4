"""What the program setup form shows: the defaults of a new program, a stored program as form
values, and the codec's errors placed at the form's inputs (see `program_form`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from referral_plugin.domain.program_codec import parse_program, program_to_dict
from referral_plugin.errors import FieldError
from referral_plugin.web.dashboard.program_form import (
    CONDITION_INPUTS,
    MIN_CAP_ROWS,
    MIN_MILESTONE_ROWS,
    SPEC_INPUTS,
    FormDraft,
    shown_day,
)

# A new program: two-sided, "give 15% off, get 10" as a fixed-amount code (every store
# platform issues both kinds), and the codec's own defaults for the rest (hold period, first
# order only, shared code, every email).
DEFAULT_PROGRAM: dict[str, Any] = {
    "name": "Refer a friend",
    "kind": "two_sided",
    "advocate_reward": {"kind": "fixed_discount", "amount": "10"},
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
}
# Shown when the merchant picks a tiered program: bigger rewards at the 3rd, 5th, 10th friend.
DEFAULT_MILESTONES = [
    {"count": count, "reward": {"kind": "fixed_discount", "amount": amount}}
    for count, amount in ((3, "10"), (5, "25"), (10, "50"))
]
DEFAULT_CAPS = [
    {"scope": scope, "metric": "count", "period": "lifetime"} for scope in ("advocate", "program")
]


@dataclass(frozen=True, slots=True, kw_only=True)
class FormState:
    """The form's values (as submitted, or from a program) and its row counts."""

    values: MultiDict[str, str]
    milestone_rows: int
    cap_rows: int


def default_program(currency: str) -> dict[str, Any]:
    """A new program as the codec would store it: DEFAULT_PROGRAM plus every codec default."""
    program, errors = parse_program(DEFAULT_PROGRAM, shop_id=0, program_id=0, currency=currency)
    assert program is not None, errors  # DEFAULT_PROGRAM is valid by construction
    return program_to_dict(program)


def state_of_program(program: dict[str, Any], *, new: bool) -> FormState:
    """The form showing `program` (from `program_to_dict`); a new one gets example
    milestones to start from."""
    values: MultiDict[str, str] = MultiDict()
    for name in ("name", "kind", "hold_days", "claim_mode"):
        values[name] = _text(program.get(name))
    for side in ("advocate_reward", "friend_reward"):
        put_reward(values, side, program.get(side))
    milestones = program.get("milestones") or (DEFAULT_MILESTONES if new else [])
    for index, milestone in enumerate(milestones):
        values[f"milestones.{index}.count"] = _text(milestone.get("count"))
        put_reward(values, f"milestones.{index}.reward", milestone.get("reward"))
    caps = program.get("caps") or []
    for index, cap in enumerate(caps or DEFAULT_CAPS):
        for name in ("scope", "metric", "limit", "period"):
            values[f"caps.{index}.{name}"] = _text(cap.get(name))
    _put_conditions(values, program.get("conditions") or {})
    emails = program.get("emails") or {}
    values.setlist("emails.enabled", list(emails.get("enabled") or []))
    for name in ("reminder_days_before", "nudge_after_days"):
        values[f"emails.{name}"] = _text(emails.get(name))
    appearance = program.get("appearance") or {}
    for name in ("color", "language"):
        values[f"appearance.{name}"] = _text(appearance.get(name))
    return FormState(
        values=values,
        milestone_rows=max(MIN_MILESTONE_ROWS, len(milestones) + 1),
        cap_rows=max(MIN_CAP_ROWS, len(caps) + 1),
    )


def state_of_form(form: MultiDict[str, str]) -> FormState:
    """The form as submitted (shown again with the errors)."""
    milestones = sum(
        1 for name in form if name.startswith("milestones.") and name.endswith(".count")
    )
    caps = sum(1 for name in form if name.startswith("caps.") and name.endswith(".limit"))
    return FormState(
        values=form,
        milestone_rows=max(MIN_MILESTONE_ROWS, milestones),
        cap_rows=max(MIN_CAP_ROWS, caps),
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def put_reward(values: MultiDict[str, str], prefix: str, spec: dict[str, Any] | None) -> None:
    """The inputs under `prefix` showing the reward spec JSON `spec` (none: empty)."""
    values[f"{prefix}.kind"] = _text((spec or {}).get("kind"))
    for name in SPEC_INPUTS:
        values[f"{prefix}.{name}"] = _text((spec or {}).get(name))
    if not values[f"{prefix}.basis"]:
        values[f"{prefix}.basis"] = "fixed"


def _put_conditions(values: MultiDict[str, str], conditions: dict[str, Any]) -> None:
    values["conditions.starts_at"] = shown_day(conditions.get("starts_at"), last_day=False)
    values["conditions.ends_at"] = shown_day(conditions.get("ends_at"), last_day=True)
    values["conditions.minimum_subtotal"] = _text(conditions.get("minimum_subtotal"))
    if conditions.get("first_order_only", True):
        values["conditions.first_order_only"] = "1"
    values["conditions.allowed_countries"] = ", ".join(conditions.get("allowed_countries") or [])


def error_fields(errors: list[FieldError], draft: FormDraft) -> dict[str, list[str]]:
    """The codec's messages by the form input they belong to ("" for none of them): list rows
    renamed to the form's rows, a missing reward at its kind, a list entry at its list."""
    placed: dict[str, list[str]] = {}
    for error in errors:
        placed.setdefault(input_for(error.field, draft), []).append(error.message)
    return placed


def input_for(path: str, draft: FormDraft) -> str:
    path = form_row_path(path, draft)
    parts = path.split(".")
    if parts[0] in ("advocate_reward", "friend_reward") or parts[:1] == ["milestones"]:
        return reward_input(parts)
    if parts[0] == "conditions" and len(parts) > 1 and parts[1] in CONDITION_INPUTS:
        return ".".join(parts[:2])
    if parts[0] == "emails" and len(parts) > 1:
        return ".".join(parts[:2])
    if parts[0] in ("caps", "appearance") or path in ("name", "kind", "hold_days", "claim_mode"):
        return path
    return ""


def form_row_path(path: str, draft: FormDraft) -> str:
    """`path` with a list entry's JSON index renamed to the form row it came from."""
    for json_row, form_row in sorted(draft.rows.items(), key=lambda item: -len(item[0])):
        if path == json_row or path.startswith(json_row + "."):
            return form_row + path[len(json_row) :]
    return path


def reward_input(parts: list[str]) -> str:
    """`advocate_reward` → `advocate_reward.kind`; `milestones.0.reward` → its kind;
    `milestones` → `milestones` (the list as a whole)."""
    if parts[0] == "milestones":
        if len(parts) < 3 or parts[2] == "count":
            return ".".join(parts[:3]) if len(parts) == 3 else "milestones"
        prefix, rest = parts[:3], parts[3:]
    else:
        prefix, rest = parts[:1], parts[1:]
    if not rest or rest[0] not in ("kind", *SPEC_INPUTS):
        return ".".join([*prefix, "kind"])
    return ".".join([*prefix, rest[0]])
