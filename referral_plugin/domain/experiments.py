"""A/B tests of a program's offer (pure): which group an advocate joins, the program as that
group sees it, and the statistics that compare groups.

- `choose_variant(experiment, random_value)`: the holdout first (`[0, holdout share)`), then
  the variants by weight over the rest of `[0, 1)`; deterministic for a given value, computed
  with exact fractions of the value's shortest decimal form, so 0.6 is a boundary of 3/5.
- `program_for(program, key)`: the one place a variant is applied. A variant replaces the
  program's advocate and/or friend reward; the holdout gets a program without any reward; no
  key (enrolled before the experiment) or a key the program no longer has gets the program.
- `compare_proportions`: the two-proportion z-test with the pooled standard error and its
  two-sided p-value (`math.erfc`, the complement of `math.erf`, exact in the tails).
- `lift`: the relative difference of two rates with a 95% confidence interval for the ratio
  of the rates (Katz's log method); no interval when either group has no success.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from .programs import Experiment, Program

HOLDOUT = "holdout"
Z_95 = 1.959963984540054  # the two-sided 95% quantile of the standard normal
SIGNIFICANCE = 0.05
# The normal approximation behind the z-test needs at least this many successes and this many
# failures in each group; below it the comparison says the samples are too small to conclude.
MIN_OUTCOMES = 5


class EnrollmentSource(StrEnum):
    """How an advocate came to be assigned (recorded with the assignment)."""

    JOINED = "joined"  # the shopper join page
    AUTO_ENROLL = "auto_enroll"  # automatic enrollment after a paid order
    INVITE = "invite"  # the merchant invited a segment's customers (`services.segment_invites`)
    API = "api"  # the admin API, the command line and other direct calls


def choose_variant(experiment: Experiment, random_value: float) -> str:
    """The group of an advocate drawn with `random_value` in [0, 1): HOLDOUT or a variant key.

    Raises ValueError for a value outside [0, 1) or an experiment without variants."""
    if not 0 <= random_value < 1:
        raise ValueError(f"random_value must be in [0, 1), got {random_value!r}")
    if not experiment.variants:
        raise ValueError("an experiment needs at least one variant")
    value = Fraction(repr(float(random_value)))  # its shortest decimal: 0.6 is exactly 3/5
    holdout = Fraction(experiment.holdout_percent, 100)
    if value < holdout:
        return HOLDOUT
    total = sum(variant.weight for variant in experiment.variants)
    reached = 0
    for variant in experiment.variants:
        reached += variant.weight
        if value < holdout + (1 - holdout) * Fraction(reached, total):
            return variant.key
    return experiment.variants[-1].key  # not reached: the last boundary is exactly 1


def in_holdout(program: Program, key: str | None) -> bool:
    """True when an advocate with this key is held out of the program (no code, no reward)."""
    return key == HOLDOUT and program.experiment is not None


def program_for(program: Program, key: str | None) -> Program:
    """The program as the advocate of group `key` sees it (see the module docstring)."""
    experiment = program.experiment
    if experiment is None or key is None:
        return program
    if key == HOLDOUT:
        return dataclasses.replace(
            program, advocate_reward=None, friend_reward=None, milestones=(), every_n=None
        )
    variant = experiment.variant(key)
    if variant is None:
        return program
    return dataclasses.replace(
        program,
        advocate_reward=variant.advocate_reward or program.advocate_reward,
        friend_reward=variant.friend_reward or program.friend_reward,
    )


def friend_offer_variant(program: Program, key: str | None) -> str | None:
    """The variant whose friend reward a friend of an advocate of group `key` gets in the
    store: `key` when that variant replaces the friend reward, else None (the program's)."""
    experiment = program.experiment
    variant = experiment.variant(key) if experiment else None
    return key if variant is not None and variant.friend_reward is not None else None


def variant_keys(program: Program) -> tuple[str, ...]:
    """The program's groups in order: its variants, then HOLDOUT when it has one."""
    experiment = program.experiment
    if experiment is None:
        return ()
    keys = tuple(variant.key for variant in experiment.variants)
    return keys + ((HOLDOUT,) if experiment.holdout_percent > 0 else ())


def rate(successes: int, trials: int) -> float | None:
    """successes / trials, or None without trials."""
    return None if trials <= 0 else successes / trials


@dataclass(frozen=True, slots=True, kw_only=True)
class ZTest:
    z: float  # positive when the treatment's rate is the higher
    p_value: float  # two-sided

    @property
    def significant(self) -> bool:
        """Significant at the 95% level (p < 0.05)."""
        return self.p_value < SIGNIFICANCE


def compare_proportions(
    treatment_successes: int, treatment_trials: int, control_successes: int, control_trials: int
) -> ZTest | None:
    """The pooled two-proportion z-test of treatment against control; None when a group has no
    trials or nobody (or everybody) succeeded in both, where the test is undefined."""
    if treatment_trials <= 0 or control_trials <= 0:
        return None
    pooled = (treatment_successes + control_successes) / (treatment_trials + control_trials)
    variance = pooled * (1 - pooled) * (1 / treatment_trials + 1 / control_trials)
    if variance <= 0:
        return None
    difference = treatment_successes / treatment_trials - control_successes / control_trials
    z = difference / math.sqrt(variance)
    return ZTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Lift:
    relative: float  # treatment rate / control rate - 1 (0.25 means 25% higher)
    low: float | None = None  # the 95% confidence interval of `relative`, when it has one
    high: float | None = None


def lift(
    treatment_successes: int, treatment_trials: int, control_successes: int, control_trials: int
) -> Lift | None:
    """The treatment's relative lift over the control, with a 95% interval from the log of the
    rate ratio (se = sqrt(1/x_t - 1/n_t + 1/x_c - 1/n_c)). None when the control's rate is
    zero (no lift is defined); no interval when the treatment has no success."""
    treatment = rate(treatment_successes, treatment_trials)
    control = rate(control_successes, control_trials)
    if treatment is None or control is None or control == 0:
        return None
    relative = treatment / control - 1
    if treatment_successes == 0:
        return Lift(relative=relative)
    spread = Z_95 * math.sqrt(
        1 / treatment_successes - 1 / treatment_trials + 1 / control_successes - 1 / control_trials
    )
    log_ratio = math.log(treatment / control)
    return Lift(
        relative=relative,
        low=math.exp(log_ratio - spread) - 1,
        high=math.exp(log_ratio + spread) - 1,
    )


def enough_outcomes(*groups: tuple[int, int]) -> bool:
    """True when every (successes, trials) group has MIN_OUTCOMES successes and failures."""
    return all(
        successes >= MIN_OUTCOMES and trials - successes >= MIN_OUTCOMES
        for successes, trials in groups
    )
