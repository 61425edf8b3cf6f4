"""Attribution: which advocate (if any) referred an order, and which reward codes it redeemed.

Precedence follows `decisions.ATTRIBUTION_PRECEDENCE`: a referral code on the order, then a
friend's claim matching the order email, then the landing-link `ref`.
"""

from __future__ import annotations

from .codes import normalize_code
from .decisions import Attribution, AttributionMethod, ClaimView, CodeKind, CodeView, Snapshot
from .emails import identity_email
from .events import OrderEvent

REFERRAL_CODE_KINDS = frozenset({CodeKind.ADVOCATE, CodeKind.FRIEND})


def referral_code(code: str | None, snapshot: Snapshot) -> CodeView | None:
    """The snapshot's ADVOCATE/FRIEND code for `code` (normalized here), or None."""
    view = snapshot.codes.get(normalize_code(code))
    if view is None or view.kind not in REFERRAL_CODE_KINDS or view.advocate_id is None:
        return None
    return view


def _code_attribution(
    code: str | None, snapshot: Snapshot, method: AttributionMethod
) -> Attribution | None:
    view = referral_code(code, snapshot)
    if view is None or view.advocate_id is None:
        return None
    return Attribution(
        advocate_id=view.advocate_id, program_id=view.program_id, code=view.code, method=method
    )


def _latest_claim(event: OrderEvent, snapshot: Snapshot) -> ClaimView | None:
    email = identity_email(event.email)
    if email is None:
        return None
    matching = [claim for claim in snapshot.claims if identity_email(claim.email) == email]
    # Latest claim wins; the code breaks a tie on the timestamp so the answer never depends on
    # the order in which the snapshot listed the claims.
    return max(matching, key=lambda c: (c.claimed_at, c.code, c.advocate_id), default=None)


def attribute(event: OrderEvent, snapshot: Snapshot) -> Attribution | None:
    """The order's attribution by the strongest signal present, or None when there is none.

    1. CODE: the first of `event.discount_codes` that is a known ADVOCATE/FRIEND code.
    2. CLAIM_EMAIL: the latest claim whose identity email is the order's identity email.
    3. LANDING_LINK: `event.landing_ref` when it is a known ADVOCATE/FRIEND code.
    """
    for code in event.discount_codes or ():
        by_code = _code_attribution(code, snapshot, AttributionMethod.CODE)
        if by_code is not None:
            return by_code
    claim = _latest_claim(event, snapshot)
    if claim is not None:
        return Attribution(
            advocate_id=claim.advocate_id,
            program_id=claim.program_id,
            code=normalize_code(claim.code),
            method=AttributionMethod.CLAIM_EMAIL,
        )
    return _code_attribution(event.landing_ref, snapshot, AttributionMethod.LANDING_LINK)


def has_unknown_landing_ref(event: OrderEvent, snapshot: Snapshot) -> bool:
    """True when the order came through a `ref` link whose code is not a referral code we know.

    `landing_ref` only ever carries our referral parameter (unlike discount codes, which are
    mostly the merchant's own coupons), and the service loads every code we know for it, so a
    ref missing from the snapshot is a dead or mistyped link.
    """
    ref = normalize_code(event.landing_ref)
    return bool(ref) and referral_code(ref, snapshot) is None


def redeemed_reward_ids(event: OrderEvent, snapshot: Snapshot) -> tuple[int, ...]:
    """Ids of our REWARD codes used on the order, in the order's code order, without repeats."""
    found: dict[int, None] = {}
    for code in event.discount_codes or ():
        view = snapshot.codes.get(normalize_code(code))
        if view is not None and view.kind is CodeKind.REWARD and view.reward_id is not None:
            found.setdefault(view.reward_id, None)
    return tuple(found)
