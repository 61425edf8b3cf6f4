"""The A/B test form (`templates/dashboard/experiment_form.html`) as the program's `experiment`
JSON of `domain.program_codec`, and back.

As in the program setup form (`program_form`), the inputs are named after the codec's field
paths (`experiment.variants.1.friend_reward.percent`, `experiment.holdout_percent`), and the
reward inputs are the setup form's, so the codec's errors land next to their input. Each row is
a variant: its key (hidden), name, weight and the rewards it replaces, only those the program's
kind may vary (`program_codec.variant_rewards`); a reward left at "the program's own" is not
replaced. A row that is ticked "remove", or left without a name and a reward, is left out.
The test's start is never sent: the service keeps a running test's and starts a new one now.
"""

from __future__ import annotations

import dataclasses
import string
from decimal import Decimal
from typing import Any

from werkzeug.datastructures import MultiDict

from referral_plugin.domain.program_codec import MAX_VARIANTS, reward_spec_to_dict
from referral_plugin.domain.programs import Program, RewardSpec
from referral_plugin.errors import FieldError
from referral_plugin.web.dashboard.program_form import (
    FormDraft,
    day_stamp,
    reward_data,
    shown_day,
    whole,
)
from referral_plugin.web.dashboard.program_values import form_row_path, put_reward, reward_input

VARIANTS = "experiment.variants"
HOLDOUT, ENDED_AT = "experiment.holdout_percent", "experiment.ended_at"
MIN_ROWS = 2
STEP = Decimal(5)  # the suggested second offer: 5 points (or 5 of the currency) more


def experiment_data(
    form: MultiDict[str, str], stored: dict[str, Any] | None, sides: tuple[str, ...]
) -> FormDraft:
    """The `experiment` JSON of the submitted form; `stored` is the program's experiment as
    `experiment_to_dict` gives it (None for a new test), `sides` the rewards a variant may
    replace."""
    variants: list[dict[str, Any]] = []
    rows: dict[str, str] = {}
    for index in range(row_count(form)):
        prefix = f"{VARIANTS}.{index}"
        name = form.get(f"{prefix}.name", "").strip()
        rewards = {side: reward_data(form, f"{prefix}.{side}") for side in sides}
        if form.get(f"{prefix}.remove") or (not name and not any(rewards.values())):
            continue
        rows[f"{VARIANTS}.{len(variants)}"] = prefix
        weight = form.get(f"{prefix}.weight", "").strip()
        variants.append(
            {"key": form.get(f"{prefix}.key", "").strip() or None, "name": name or None}
            | ({"weight": whole(weight)} if weight else {})
            | rewards
        )
    holdout = form.get(HOLDOUT, "").strip()
    stored_end = (stored or {}).get("ended_at")
    data = {
        "variants": variants,
        "holdout_percent": whole(holdout) if holdout else 0,
        "ended_at": day_stamp(form.get(ENDED_AT, ""), stored_end, last_day=True),
    }
    return FormDraft(data=data, rows=rows)


def row_count(form: MultiDict[str, str]) -> int:
    """How many variant rows the form has (each has its hidden key)."""
    count = 0
    while count < MAX_VARIANTS + 1 and f"{VARIANTS}.{count}.key" in form:
        count += 1
    return count


def form_values(experiment: dict[str, Any]) -> MultiDict[str, str]:
    """The form showing `experiment` (as `experiment_to_dict` gives it), with one empty row
    for another variant while there is room."""
    values: MultiDict[str, str] = MultiDict()
    variants = list(experiment["variants"])
    if len(variants) < MAX_VARIANTS:
        variants.append({"key": next_key(variants), "name": "", "weight": 1})
    for index, variant in enumerate(variants):
        prefix = f"{VARIANTS}.{index}"
        values[f"{prefix}.key"] = variant["key"]
        values[f"{prefix}.name"] = variant.get("name") or ""
        values[f"{prefix}.weight"] = str(variant.get("weight", 1))
        for side in ("advocate_reward", "friend_reward"):
            put_reward(values, f"{prefix}.{side}", variant.get(side))
    values[HOLDOUT] = str(experiment.get("holdout_percent") or 0)
    values[ENDED_AT] = shown_day(experiment.get("ended_at"), last_day=True)
    return values


def next_key(variants: list[dict[str, Any]]) -> str:
    """The first letter no variant uses as its key."""
    used = {variant["key"] for variant in variants}
    return next(letter for letter in string.ascii_lowercase if letter not in used)


def default_experiment(program: Program, sides: tuple[str, ...]) -> dict[str, Any]:
    """A new test: "A" is the program's own offer, "B" the same with the friend's reward (or,
    when the friend's may not vary, the advocate's) 5 higher, shares equal, no holdout."""
    second: dict[str, Any] = {"key": "b", "name": "B", "weight": 1}
    for side in ("friend_reward", "advocate_reward"):
        spec = getattr(program, side) if side in sides else None
        higher = None if spec is None else _higher(spec)
        if higher is not None:
            second[side] = reward_spec_to_dict(higher)
            break
    first = {"key": "a", "name": "A", "weight": 1}
    return {"variants": [first, second], "holdout_percent": 0, "ended_at": None}


def _higher(spec: RewardSpec) -> RewardSpec | None:
    """`spec` worth 5 more: percentage points (at most 100), or currency units; None for a
    reward without a number to raise."""
    if spec.percent is not None:
        return dataclasses.replace(spec, percent=min(Decimal(100), spec.percent + STEP))
    if spec.amount is not None:
        return dataclasses.replace(spec, amount=spec.amount + STEP)
    return None


def error_fields(errors: list[FieldError], draft: FormDraft) -> dict[str, list[str]]:
    """The codec's messages by the form input they belong to ("" for none of them)."""
    placed: dict[str, list[str]] = {}
    for error in errors:
        placed.setdefault(input_for(error.field, draft), []).append(error.message)
    return placed


def input_for(path: str, draft: FormDraft) -> str:
    """The input of a codec path: a variant's reward field at its reward input, its key or a
    whole variant at its name, the list as a whole at the variants."""
    parts = form_row_path(path, draft).split(".")
    if parts[:2] != VARIANTS.split("."):
        return path if path in (HOLDOUT, ENDED_AT) else ""
    if len(parts) == 2:
        return VARIANTS
    prefix, rest = ".".join(parts[:3]), parts[3:]
    if rest and rest[0] in ("advocate_reward", "friend_reward"):
        return f"{prefix}.{reward_input(rest)}"
    if rest and rest[0] == "weight":
        return f"{prefix}.weight"
    return f"{prefix}.name"
