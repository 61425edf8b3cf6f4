"""Contest winner draws (issue 7): draw once the contest has ended, record it, read it back,
and verify it against the entries as they are now.

A draw picks distinct advocates with `domain.contest_draw.draw_winners` from the entries of the
contest window (`services.contests`) and a seed: the merchant's (a value they published before
the end, say), or 32 random bytes in hex. It records the seed, weighting, algorithm, window,
the number and SHA-256 digest of the entries, the winners, who drew and when, plus an audit
entry. Every accepted request records a new draw: drawing again never replaces an earlier
draw, and all of them stay listed, so a redraw is always visible. Verifying re-reads the
entries of the recorded window and re-runs the draw with the recorded seed; the entries differ
when a referral was reversed (refund, cancellation) or approved after the draw.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.contest_draw import ALGORITHM, Weighting, candidates, draw_winners
from ..domain.contest_draw import entries_digest as digest_of
from ..errors import Conflict, FieldError, NotFound, ValidationError
from ..models import Advocate, Conversion, Referral
from ..models.contests import ContestDraw
from .audit import record_audit
from .contests import (
    ContestWindow,
    contest_entries,
    contest_program,
    contest_window,
    iso_time,
    window_json,
)

DRAW_FIELDS = frozenset({"winners", "seed", "weighting"})
MAX_WINNERS = 100
MAX_SEED_LENGTH = 256
CHANGES_SHOWN = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class DrawRequest:
    winners: int
    seed: str | None  # None: a random one is made
    weighting: Weighting


def new_seed() -> str:
    """32 random bytes, hex."""
    return secrets.token_hex(32)


def draw_request(body: dict[str, Any]) -> DrawRequest:
    """The request body as a DrawRequest; raises ValidationError naming every wrong field."""
    problems = [FieldError(name, "unknown field") for name in sorted(body.keys() - DRAW_FIELDS)]
    winners, seed, weighting = body.get("winners"), body.get("seed"), body.get("weighting")
    if not (isinstance(winners, int) and not isinstance(winners, bool)):
        problems.append(FieldError("winners", "is required and must be a whole number"))
    elif not 1 <= winners <= MAX_WINNERS:
        problems.append(FieldError("winners", f"must be between 1 and {MAX_WINNERS}"))
    if seed is not None and not (isinstance(seed, str) and seed.strip()):
        problems.append(FieldError("seed", "must be a non-empty string"))
    elif seed is not None and not seed.isprintable():  # NUL, line breaks, lone surrogates
        problems.append(FieldError("seed", "must be printable text on one line"))
    elif seed is not None and len(seed) > MAX_SEED_LENGTH:
        problems.append(FieldError("seed", f"must be at most {MAX_SEED_LENGTH} characters"))
    if weighting not in tuple(Weighting):
        problems.append(FieldError("weighting", "must be one of: per_entry, per_advocate"))
    if problems:
        raise ValidationError(problems)
    return DrawRequest(winners=winners, seed=seed, weighting=Weighting(weighting))


def draw_contest(
    session: Session,
    shop_id: int,
    program_id: int,
    request: DrawRequest,
    *,
    actor: str,
    now: datetime,
    make_seed: Callable[[], str] = new_seed,
) -> dict[str, Any]:
    """Draw and record the winners; returns the draw as `get_draw` shows it. Not idempotent:
    each call records another draw. Raises NotFound (not a contest of the shop), Conflict
    (no end date, not ended yet, no entries) or ValidationError("winners": more than the
    advocates with entries)."""
    window = contest_window(contest_program(session, shop_id, program_id))
    if window.ends_at is None:
        raise Conflict("The contest has no end date (conditions.ends_at): set one, draw after it.")
    if now < window.ends_at:
        raise Conflict(f"The contest ends at {iso_time(window.ends_at)}; draw after it has ended.")
    entries = contest_entries(session, shop_id, program_id, window)
    pool = candidates(entries)
    if not pool:
        raise Conflict("The contest has no entries to draw from.")
    if request.winners > len(pool):
        raise ValidationError.single(
            "winners", f"must be at most {len(pool)}: the number of advocates with entries"
        )
    seed = request.seed if request.seed is not None else make_seed()
    drawn = draw_winners(entries, seed=seed, winners=request.winners, weighting=request.weighting)
    draw = ContestDraw(
        shop_id=shop_id, program_id=program_id, seed=seed,
        seed_source="generated" if request.seed is None else "merchant",
        weighting=request.weighting, algorithm=ALGORITHM,
        starts_at=window.starts_at, ends_at=window.ends_at,
        entries=len(entries), advocates=len(pool), entries_digest=digest_of(entries),
        winners=[{"advocate_id": c.advocate_id, "entries": c.entries} for c in drawn],
        drawn_by=actor, drawn_at=now,
    )  # fmt: skip
    session.add(draw)
    session.flush()
    record_audit(
        session, shop_id, actor=actor, action="contest.drawn", subject_type="contest_draw",
        subject_id=draw.id, now=now,
        details={"program_id": program_id, "seed": seed, "weighting": draw.weighting.value,
                 "entries": draw.entries, "entries_digest": draw.entries_digest,
                 "winners": [c.advocate_id for c in drawn]},
    )  # fmt: skip
    return _shown(session, draw)


def list_draws(session: Session, shop_id: int, program_id: int) -> list[dict[str, Any]]:
    """Every draw of the contest, newest first. Raises NotFound (not a contest of the shop)."""
    contest_program(session, shop_id, program_id)
    draws = session.scalars(
        select(ContestDraw)
        .where(ContestDraw.shop_id == shop_id, ContestDraw.program_id == program_id)
        .order_by(ContestDraw.id.desc())
    ).all()
    return [_shown(session, draw) for draw in draws]


def get_draw(session: Session, shop_id: int, program_id: int, draw_id: int) -> dict[str, Any]:
    """One draw with its winners' names and emails. Raises NotFound."""
    return _shown(session, _draw(session, shop_id, program_id, draw_id))


def verify_draw(session: Session, shop_id: int, program_id: int, draw_id: int) -> dict[str, Any]:
    """Re-run the recorded draw on the current entries of its window: whether the entries
    (digest) and the winners are still the same, the referrals that changed since, and a
    sentence saying so. Read-only. Raises NotFound."""
    draw = _draw(session, shop_id, program_id, draw_id)
    window = ContestWindow(starts_at=draw.starts_at, ends_at=draw.ends_at)
    entries = contest_entries(session, shop_id, program_id, window)
    recorded = [w["advocate_id"] for w in draw.winners]
    current: list[int] | None = None
    if len(recorded) <= len(candidates(entries)):
        drawn = draw_winners(
            entries, seed=draw.seed, winners=len(recorded), weighting=draw.weighting
        )
        current = [c.advocate_id for c in drawn]
    digest = digest_of(entries)
    changed = _changed_since(session, draw, window)
    entries_match, winners_match = digest == draw.entries_digest, current == recorded
    return {
        "draw_id": draw.id,
        "verified": entries_match and winners_match,
        "entries_match": entries_match,
        "winners_match": winners_match,
        "recorded": {"entries": draw.entries, "entries_digest": draw.entries_digest,
                     "winners": recorded},
        "current": {"entries": len(entries), "entries_digest": digest, "winners": current},
        "changed_referrals": changed,
        "message": _verdict(draw, len(entries), changed, entries_match, current),
    }  # fmt: skip


def _verdict(
    draw: ContestDraw,
    current_entries: int,
    changed: Sequence[dict[str, Any]],
    entries_match: bool,
    current: list[int] | None,
) -> str:
    recorded = [w["advocate_id"] for w in draw.winners]
    if entries_match and current == recorded:
        return (
            "Verified: the entries are the same as at the draw, and re-running it with the "
            "recorded seed picks the same winners."
        )
    why = f"The entries changed since the draw ({draw.entries} then, {current_entries} now"
    if changed:
        why += (
            f"; {len(changed)} of the contest's referrals changed status after it, "
            "for example reversed by a refund or cancellation"
        )
    if current is None:
        return f"{why}), and fewer advocates than the {len(recorded)} winners have entries now."
    if current == recorded:
        return (
            f"{why}), but re-running the draw with the recorded seed still picks the same winners."
        )
    return f"{why}), so re-running the draw with the recorded seed picks different winners."


def _changed_since(
    session: Session, draw: ContestDraw, window: ContestWindow
) -> list[dict[str, Any]]:
    """The contest's referrals paid inside the window whose status changed after the draw."""
    query = (
        select(Referral.id, Referral.advocate_id, Referral.status, Referral.updated_at)
        .join(Conversion, Conversion.id == Referral.conversion_id)
        .where(
            Referral.shop_id == draw.shop_id,
            Referral.program_id == draw.program_id,
            Referral.updated_at > draw.drawn_at,
            Conversion.shop_id == draw.shop_id,
            Conversion.paid_at < window.ends_at,
        )
        .order_by(Referral.updated_at, Referral.id)
        .limit(CHANGES_SHOWN)
    )
    if window.starts_at is not None:
        query = query.where(Conversion.paid_at >= window.starts_at)
    return [
        {"referral_id": r, "advocate_id": a, "status": s.value, "updated_at": iso_time(u)}
        for r, a, s, u in session.execute(query)
    ]


def _draw(session: Session, shop_id: int, program_id: int, draw_id: int) -> ContestDraw:
    contest_program(session, shop_id, program_id)
    draw = session.scalars(
        select(ContestDraw).where(
            ContestDraw.shop_id == shop_id,
            ContestDraw.program_id == program_id,
            ContestDraw.id == draw_id,
        )
    ).one_or_none()
    if draw is None:
        raise NotFound("draw", draw_id)
    return draw


def _shown(session: Session, draw: ContestDraw) -> dict[str, Any]:
    ids = [w["advocate_id"] for w in draw.winners]
    people = {
        a.id: a
        for a in session.scalars(
            select(Advocate).where(Advocate.shop_id == draw.shop_id, Advocate.id.in_(ids))
        )
    }
    return {
        "id": draw.id,
        "program_id": draw.program_id,
        "drawn_at": iso_time(draw.drawn_at),
        "drawn_by": draw.drawn_by,
        "seed": draw.seed,
        "seed_source": draw.seed_source,
        "weighting": draw.weighting.value,
        "algorithm": draw.algorithm,
        "window": window_json(ContestWindow(starts_at=draw.starts_at, ends_at=draw.ends_at)),
        "entries": draw.entries,
        "advocates": draw.advocates,
        "entries_digest": draw.entries_digest,
        "winners": [_winner(position, w, people.get(w["advocate_id"]))
                    for position, w in enumerate(draw.winners, start=1)],
    }  # fmt: skip


def _winner(position: int, won: dict[str, Any], advocate: Advocate | None) -> dict[str, Any]:
    return {
        "position": position,
        "advocate_id": won["advocate_id"],
        "entries": won["entries"],
        "first_name": None if advocate is None else advocate.first_name,
        "last_name": None if advocate is None else advocate.last_name,
        "email": None if advocate is None else advocate.email,
    }
