"""A program's A/B test (`experiment`) to and from JSON: its variants, the holdout share and
its dates. Whether each variant fits the program's kind is checked on the whole program
(`program_codec.check_experiment_fits_kind`)."""

from __future__ import annotations

import re
from typing import Any

from ..experiments import HOLDOUT
from ..programs import Experiment, Variant
from ._fields import FieldErrors, read_datetime, read_int, read_list, read_object, read_str
from ._reward_spec import parse_reward_spec, reward_spec_to_dict

EXPERIMENT_FIELDS = frozenset({"variants", "holdout_percent", "started_at", "ended_at"})
VARIANT_FIELDS = frozenset({"key", "name", "weight", "advocate_reward", "friend_reward"})
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")
MAX_VARIANTS = 10
MAX_WEIGHT = 1000
MAX_HOLDOUT_PERCENT = 50


def read_experiment(value: Any, errors: FieldErrors) -> Experiment | None:
    """`{"variants": [{"key": "a", "name": ..., "weight": 1, "advocate_reward": {...}}, ...],
    "holdout_percent": 10, "started_at": "...Z", "ended_at": null}`; None when absent."""
    if value is None:
        return None
    body = read_object(value, "experiment", EXPERIMENT_FIELDS, errors)
    if body is None:
        return None
    before = len(errors)
    variants = _variants(body.get("variants"), errors)
    holdout = read_int(
        body.get("holdout_percent", 0), "experiment.holdout_percent", errors,
        0, MAX_HOLDOUT_PERCENT,
    )  # fmt: skip
    started_at = read_datetime(body.get("started_at"), "experiment.started_at", errors)
    ended_at = read_datetime(body.get("ended_at"), "experiment.ended_at", errors)
    if started_at is None and body.get("started_at") is None:
        errors.append(("experiment.started_at", "is required"))
    if started_at is not None and ended_at is not None and ended_at <= started_at:
        errors.append(("experiment.ended_at", "must be after started_at"))
    if len(errors) == before and len(variants) < 2 and not holdout:
        errors.append(
            ("experiment.variants", "needs at least two variants, or one and a holdout_percent")
        )
    if len(errors) > before or started_at is None:
        return None
    return Experiment(
        variants=tuple(variants),
        holdout_percent=holdout or 0,
        started_at=started_at,
        ended_at=ended_at,
    )


def _variants(value: Any, errors: FieldErrors) -> list[Variant]:
    if value is None:
        errors.append(("experiment.variants", "is required"))
        return []
    items = read_list(value, "experiment.variants", errors)
    if len(items) > MAX_VARIANTS:
        errors.append(("experiment.variants", f"must have at most {MAX_VARIANTS} variants"))
        return []
    variants: list[Variant] = []
    for index, item in enumerate(items):
        variant = _variant(item, f"experiment.variants.{index}", errors)
        if variant is not None and any(v.key == variant.key for v in variants):
            errors.append((f"experiment.variants.{index}.key", "is used by another variant"))
        elif variant is not None:
            variants.append(variant)
    return variants


def _variant(value: Any, field: str, errors: FieldErrors) -> Variant | None:
    body = read_object(value, field, VARIANT_FIELDS, errors)
    if body is None:
        return None
    before = len(errors)
    key = read_str(body.get("key"), f"{field}.key", errors, required=True, max_length=16)
    if key is not None and (key == HOLDOUT or not KEY_PATTERN.fullmatch(key)):
        errors.append(
            (f"{field}.key", 'must be lower-case letters, digits, "-" or "_", not "holdout"')
        )
    name = read_str(body.get("name"), f"{field}.name", errors, required=True, max_length=100)
    weight = read_int(body.get("weight", 1), f"{field}.weight", errors, 1, MAX_WEIGHT)
    advocate = body.get("advocate_reward")
    friend = body.get("friend_reward")
    variant = Variant(
        key=key or "",
        name=name or "",
        weight=weight or 1,
        advocate_reward=None
        if advocate is None
        else parse_reward_spec(advocate, f"{field}.advocate_reward", errors),
        friend_reward=None
        if friend is None
        else parse_reward_spec(friend, f"{field}.friend_reward", errors),
    )
    return variant if len(errors) == before else None


def experiment_to_dict(experiment: Experiment | None) -> dict[str, Any] | None:
    if experiment is None:
        return None
    return {
        "variants": [_variant_to_dict(variant) for variant in experiment.variants],
        "holdout_percent": experiment.holdout_percent,
        "started_at": experiment.started_at.isoformat(),
        "ended_at": None if experiment.ended_at is None else experiment.ended_at.isoformat(),
    }


def _variant_to_dict(variant: Variant) -> dict[str, Any]:
    return {
        "key": variant.key,
        "name": variant.name,
        "weight": variant.weight,
        "advocate_reward": None
        if variant.advocate_reward is None
        else reward_spec_to_dict(variant.advocate_reward),
        "friend_reward": None
        if variant.friend_reward is None
        else reward_spec_to_dict(variant.friend_reward),
    }
