"""Programs to and from JSON-ready dicts, with validation that names every wrong field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..experiments import program_for
from ..programs import (
    DEFAULT_FRAUD_POLICY,
    ClaimMode,
    EveryN,
    FraudAction,
    FraudCheck,
    Milestone,
    PartialRefundPolicy,
    Program,
    ProgramKind,
    RewardKind,
    RewardSpec,
)
from ._conditions import cap_to_dict, conditions_to_dict, read_caps, read_conditions
from ._experiment import MAX_VARIANTS, experiment_to_dict, read_experiment
from ._fields import (
    FieldErrors,
    read_bool,
    read_enum,
    read_int,
    read_list,
    read_object,
    read_str,
)
from ._reward_spec import parse_reward_spec, reward_spec_to_dict
from ._shopper import (
    appearance_to_dict,
    copy_to_dict,
    emails_to_dict,
    read_appearance,
    read_auto_enroll,
    read_claim_mode,
    read_copy,
    read_emails,
)

__all__ = [
    "MAX_VARIANTS",
    "FieldErrors",
    "experiment_to_dict",
    "parse_program",
    "parse_reward_spec",
    "program_from_dict",
    "program_to_dict",
    "reward_spec_to_dict",
    "variant_rewards",
]

READ_ONLY_FIELDS = ("id", "shop_id", "currency")
PROGRAM_FIELDS = frozenset(
    {
        *READ_ONLY_FIELDS,
        "name",
        "kind",
        "active",
        "advocate_reward",
        "friend_reward",
        "milestones",
        "every_n",
        "conditions",
        "caps",
        "hold_days",
        "partial_refund_policy",
        "fraud_policy",
        "appearance",
        "copy",
        "claim_mode",
        "emails",
        "auto_enroll",
        "experiment",
    }
)
MAX_HOLD_DAYS = 365


def parse_program(
    data: Any, *, shop_id: int, program_id: int, currency: str
) -> tuple[Program | None, FieldErrors]:
    """Validate `data` (a decoded JSON object) into a Program; never raises.

    Returns (program, []) or (None, [(dotted field, message), ...]). `id`, `shop_id` and
    `currency` are read-only: they may be echoed back unchanged, and come from the arguments.
    """
    errors: FieldErrors = []
    body = read_object(data, "", PROGRAM_FIELDS, errors)
    if body is None:
        return None, errors
    _check_read_only(body, {"id": program_id, "shop_id": shop_id, "currency": currency}, errors)
    fields = _read_program_fields(body, errors)
    if errors:
        return None, errors
    program = Program(id=program_id, shop_id=shop_id, currency=currency, **fields)
    for check in KIND_CHECKS[program.kind]:
        check(program, errors)
    _claim_mode_needs_friend_reward(program, errors)
    if not errors:
        check_experiment_fits_kind(program, errors)
    return (None, errors) if errors else (program, [])


def program_from_dict(
    data: dict[str, Any], *, shop_id: int, program_id: int, currency: str
) -> Program:
    """A stored program (written by `program_to_dict`); raises ValueError if it is invalid."""
    program, errors = parse_program(data, shop_id=shop_id, program_id=program_id, currency=currency)
    if program is None:
        raise ValueError("stored program is invalid: " + "; ".join(f"{f}: {m}" for f, m in errors))
    return program


def program_to_dict(program: Program) -> dict[str, Any]:
    """JSON-ready dict: Decimals as strings, datetimes ISO 8601 UTC, enums as their values."""
    return {
        "id": program.id,
        "shop_id": program.shop_id,
        "currency": program.currency,
        "name": program.name,
        "kind": program.kind.value,
        "active": program.active,
        "advocate_reward": _spec_or_none(program.advocate_reward),
        "friend_reward": _spec_or_none(program.friend_reward),
        "milestones": [
            {"count": m.count, "reward": reward_spec_to_dict(m.reward)} for m in program.milestones
        ],
        "every_n": None
        if program.every_n is None
        else {"n": program.every_n.n, "reward": reward_spec_to_dict(program.every_n.reward)},
        "conditions": conditions_to_dict(program.conditions),
        "caps": [cap_to_dict(cap) for cap in program.caps],
        "hold_days": program.hold_days,
        "partial_refund_policy": program.partial_refund_policy.value,
        "fraud_policy": {check.value: program.fraud_action(check).value for check in FraudCheck},
        "appearance": appearance_to_dict(program.appearance),
        "copy": copy_to_dict(program.copy),
        "claim_mode": program.claim_mode.value,
        "emails": emails_to_dict(program.emails),
        "auto_enroll": program.auto_enroll,
        "experiment": experiment_to_dict(program.experiment),
    }


def _spec_or_none(spec: RewardSpec | None) -> dict[str, Any] | None:
    return None if spec is None else reward_spec_to_dict(spec)


def _check_read_only(
    body: dict[str, Any], expected: dict[str, object], errors: FieldErrors
) -> None:
    for name in READ_ONLY_FIELDS:
        if body.get(name) is not None and body[name] != expected[name]:
            errors.append((name, f"is read-only (expected {expected[name]!r})"))


def _read_program_fields(body: dict[str, Any], errors: FieldErrors) -> dict[str, Any]:
    name = read_str(body.get("name"), "name", errors, required=True, max_length=200)
    return {
        "name": name or "",
        "kind": read_enum(body.get("kind"), ProgramKind, "kind", errors, required=True),
        "active": read_bool(body.get("active", True), "active", errors),
        "advocate_reward": _optional_spec(body, "advocate_reward", errors),
        "friend_reward": _optional_spec(body, "friend_reward", errors),
        "milestones": _milestones(body.get("milestones"), errors),
        "every_n": _every_n(body.get("every_n"), errors),
        "conditions": read_conditions(body.get("conditions"), errors),
        "caps": read_caps(body.get("caps"), errors),
        "hold_days": read_int(body.get("hold_days", 30), "hold_days", errors, 0, MAX_HOLD_DAYS),
        "partial_refund_policy": read_enum(
            body.get("partial_refund_policy") or PartialRefundPolicy.PROPORTIONAL.value,
            PartialRefundPolicy,
            "partial_refund_policy",
            errors,
        ),
        "fraud_policy": _fraud_policy(body.get("fraud_policy"), errors),
        "appearance": read_appearance(body.get("appearance"), errors),
        "copy": read_copy(body.get("copy"), errors),
        "claim_mode": read_claim_mode(body.get("claim_mode"), errors),
        "emails": read_emails(body.get("emails"), errors),
        "auto_enroll": read_auto_enroll(body.get("auto_enroll"), errors),
        "experiment": read_experiment(body.get("experiment"), errors),
    }


def _optional_spec(body: dict[str, Any], name: str, errors: FieldErrors) -> RewardSpec | None:
    value = body.get(name)
    return None if value is None else parse_reward_spec(value, name, errors)


def _milestones(value: Any, errors: FieldErrors) -> tuple[Milestone, ...]:
    milestones: list[Milestone] = []
    for index, item in enumerate(read_list(value, "milestones", errors)):
        field = f"milestones.{index}"
        body = read_object(item, field, frozenset({"count", "reward"}), errors)
        if body is None:
            continue
        count = read_int(body.get("count"), f"{field}.count", errors, 1, 1_000_000, required=True)
        reward = _required_spec(body, field, errors)
        if count is not None and milestones and count <= milestones[-1].count:
            errors.append((f"{field}.count", "must be greater than the previous milestone's"))
        if count is not None and reward is not None:
            milestones.append(Milestone(count=count, reward=reward))
    return tuple(milestones)


def _required_spec(body: dict[str, Any], field: str, errors: FieldErrors) -> RewardSpec | None:
    if body.get("reward") is None:
        errors.append((f"{field}.reward", "is required"))
        return None
    return parse_reward_spec(body["reward"], f"{field}.reward", errors)


def _every_n(value: Any, errors: FieldErrors) -> EveryN | None:
    if value is None:
        return None
    body = read_object(value, "every_n", frozenset({"n", "reward"}), errors)
    if body is None:
        return None
    n = read_int(body.get("n"), "every_n.n", errors, 2, 1_000_000, required=True)
    reward = _required_spec(body, "every_n", errors)
    return None if n is None or reward is None else EveryN(n=n, reward=reward)


def _fraud_policy(value: Any, errors: FieldErrors) -> dict[FraudCheck, FraudAction]:
    policy = dict(DEFAULT_FRAUD_POLICY)
    if value is None:
        return policy
    if not isinstance(value, dict):
        errors.append(("fraud_policy", "must be an object"))
        return policy
    for key, action_text in value.items():
        check = read_enum(key, FraudCheck, f"fraud_policy.{key}", errors, what="fraud check")
        action = read_enum(action_text, FraudAction, f"fraud_policy.{key}", errors, required=True)
        if check is not None and action is not None:
            policy[check] = action
    return policy


def _needs_advocate_reward(program: Program, errors: FieldErrors) -> None:
    if program.advocate_reward is None:
        errors.append(("advocate_reward", f"is required for a {program.kind} program"))


def _needs_friend_reward(program: Program, errors: FieldErrors) -> None:
    if program.friend_reward is None:
        errors.append(("friend_reward", f"is required for a {program.kind} program"))


def _refuses_friend_reward(program: Program, errors: FieldErrors) -> None:
    if program.friend_reward is not None:
        errors.append(("friend_reward", f"is not allowed for a {program.kind} program"))


def _claim_mode_needs_friend_reward(program: Program, errors: FieldErrors) -> None:
    if program.claim_mode is ClaimMode.PER_FRIEND and program.friend_reward is None:
        errors.append(("claim_mode", "per_friend needs a friend_reward to give each friend"))


def _needs_milestones(program: Program, errors: FieldErrors) -> None:
    if not program.milestones:
        errors.append(("milestones", "a tiered program needs at least one milestone"))


def _advocate_reward_of(kind: RewardKind) -> Callable[[Program, FieldErrors], None]:
    def check(program: Program, errors: FieldErrors) -> None:
        reward = program.advocate_reward
        if reward is None:
            errors.append(("advocate_reward", f"is required for a {program.kind} program"))
        elif reward.kind is not kind:
            errors.append(("advocate_reward.kind", f"must be {kind} for a {program.kind} program"))

    return check


# The rewards an A/B test's variant may replace, by program kind: a contest has no reward per
# referral, and a one-sided program gives the friend nothing. What a replacement must be (a
# charity program's advocate reward is a donation) is checked on the variant's program.
VARIANT_REWARDS: dict[ProgramKind, tuple[str, ...]] = {
    ProgramKind.ONE_SIDED: ("advocate_reward",),
    ProgramKind.TWO_SIDED: ("advocate_reward", "friend_reward"),
    ProgramKind.TIERED: ("advocate_reward", "friend_reward"),
    ProgramKind.CONTEST: (),
    ProgramKind.CHARITY: ("advocate_reward", "friend_reward"),
    ProgramKind.POINTS: ("advocate_reward", "friend_reward"),
}


def variant_rewards(kind: ProgramKind) -> tuple[str, ...]:
    """The rewards ("advocate_reward", "friend_reward") a variant of a `kind` program may
    replace; the dashboard's A/B test form offers only these."""
    return VARIANT_REWARDS[kind]


def check_experiment_fits_kind(program: Program, errors: FieldErrors) -> None:
    """Each variant may replace only the rewards of `variant_rewards`, and its program
    (`experiments.program_for`) must pass the checks the program itself passes; errors name the
    variant's field, e.g. `experiment.variants.1.friend_reward`. A contest may still run a
    holdout test. Milestones and every-N rewards are the program's in every variant."""
    experiment = program.experiment
    if experiment is None:
        return
    allowed = variant_rewards(program.kind)
    for index, variant in enumerate(experiment.variants):
        field = f"experiment.variants.{index}"
        found: FieldErrors = [
            (name, _NOT_VARIED.get(program.kind, f"is not allowed for a {program.kind} program"))
            for name in ("advocate_reward", "friend_reward")
            if getattr(variant, name) is not None and name not in allowed
        ]
        if not found:
            seen = program_for(program, variant.key)
            for check in KIND_CHECKS[program.kind]:
                check(seen, found)
            _claim_mode_needs_friend_reward(seen, found)
        errors.extend((f"{field}.{name}", message) for name, message in found)


_NOT_VARIED = {ProgramKind.CONTEST: "a contest program has no reward to vary"}


KIND_CHECKS: dict[ProgramKind, tuple[Callable[[Program, FieldErrors], None], ...]] = {
    ProgramKind.ONE_SIDED: (_needs_advocate_reward, _refuses_friend_reward),
    ProgramKind.TWO_SIDED: (_needs_advocate_reward, _needs_friend_reward),
    ProgramKind.TIERED: (_needs_milestones,),
    ProgramKind.CHARITY: (_advocate_reward_of(RewardKind.CHARITY),),
    ProgramKind.POINTS: (_advocate_reward_of(RewardKind.POINTS),),
    ProgramKind.CONTEST: (),
}
