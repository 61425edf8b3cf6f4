"""The Grow page: customers worth inviting to a program (a segment: repeat buyers, high
spenders, recent buyers who have not joined), invited in one action.

The merchant picks a program and a segment and sees its customers, best first, a page at a
time. They tick some (or press "Invite all shown"), see a confirmation page listing who will
be enrolled and sent the welcome email, confirm, and come back to the page with the result:
how many were invited, how many were members already and how many were skipped and why
(`services.segment_invites`, idempotent, at most its daily cap per shop).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from referral_plugin.app import app_services
from referral_plugin.email_links import email_hash_key
from referral_plugin.errors import Conflict, ValidationError
from referral_plugin.models.types import row_id
from referral_plugin.services import dashboard_totals as totals
from referral_plugin.services import segment_invites, segments
from referral_plugin.services.segment_invites import InviteRequest
from referral_plugin.services.segments import SegmentName, SegmentQuery
from referral_plugin.web.dashboard.access import current_merchant, guard, utc_now
from referral_plugin.web.dashboard.render import id_arg, render_page

blueprint = Blueprint("dashboard_segments", __name__, url_prefix="/admin/grow")
guard(blueprint)

PAGE_SIZE = 25
DAY_CHOICES = (7, 30, 90)
RESULT_FIELDS = ("invited", "already", "unsubscribed", "daily_limit", "held_out", "more")


@blueprint.get("")
def grow() -> tuple[str, int]:
    result = {name: id_arg(name) or 0 for name in RESULT_FIELDS}
    shown = request.args.get("done") is not None
    return _grow_page(request.args, 200, result=result if shown else None)


@blueprint.post("/confirm")
def confirm() -> tuple[str, int]:
    program_id, query, emails = _chosen(request.form)
    if program_id is None or not emails:
        return _grow_page(request.form, 422, problem="choose")
    shop_id = current_merchant().shop_id
    with app_services().sessions.begin() as session:
        chosen = segments.chosen_customers(
            session, shop_id, program_id, query, emails, now=utc_now()
        )
        program = dict(totals.program_choices(session, shop_id)).get(program_id)
    return render_page(
        "dashboard/segments_confirm.html", chosen=chosen, program_id=program_id,
        program_name=program, query=query,
    )  # fmt: skip


@blueprint.post("/invite")
def invite() -> Response | tuple[str, int]:
    merchant = current_merchant()
    program_id, query, emails = _chosen(request.form)
    if program_id is None or not emails:
        return _grow_page(request.form, 422, problem="choose")
    services = app_services()
    wanted = InviteRequest(query=query, emails=tuple(emails))
    try:
        with services.sessions.begin() as session:
            result = segment_invites.invite_segment(
                session, merchant.shop_id, program_id, wanted,
                email_key=email_hash_key(services.settings.secret_key), actor=merchant.actor,
                now=utc_now(),
            )  # fmt: skip
    except ValidationError:
        return _grow_page(request.form, 422, problem="not_in_segment")
    except Conflict as exc:
        return _grow_page(request.form, 409, problem="program", detail=str(exc))
    target = url_for(
        ".grow", program=program_id, segment=query.segment.value, days=_days_arg(query),
        done=1, invited=result.invited or None, already=result.already_members or None,
        unsubscribed=result.skipped.get("unsubscribed"),
        daily_limit=result.skipped.get("daily_limit"), held_out=result.skipped.get("held_out"),
        more=result.remaining or None,
    )  # fmt: skip
    return redirect(target, code=303)


def _chosen(form: Any) -> tuple[int | None, SegmentQuery, list[str]]:
    """The program, segment and emails of a form: the ticked ones, or every one shown."""
    program_id = row_id(form.get("program", ""))
    query = _query(form)
    field = "shown" if form.get("all_shown") else "emails"
    emails = [e.strip() for e in form.getlist(field) if e.strip()]
    return program_id, query, emails[: segment_invites.MAX_INVITES]


def _grow_page(args: Any, status: int, **context: object) -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    query = _query(args)
    services = app_services()
    with services.sessions.begin() as session:
        programs = totals.program_choices(session, shop_id)
        program_id = row_id(args.get("program", "")) or (programs[0][0] if programs else None)
        key = email_hash_key(services.settings.secret_key)
        page, cursor = None, _cursor(args)
        if program_id is not None:
            try:
                page = segments.segment_page(
                    session, shop_id, program_id, query, email_key=key, now=utc_now(),
                    limit=PAGE_SIZE, cursor=cursor,
                )  # fmt: skip
            except ValidationError:  # a stale or edited cursor: start from the first page
                cursor = None
                page = segments.segment_page(
                    session, shop_id, program_id, query, email_key=key, now=utc_now(),
                    limit=PAGE_SIZE,
                )  # fmt: skip
    return render_page(
        "dashboard/segments.html", status, programs=programs, program_id=program_id,
        query=query, page=page, day_choices=DAY_CHOICES, cursor=cursor,
        **{"result": None, "problem": None, "detail": None, **context},
    )  # fmt: skip


def _query(args: Any) -> SegmentQuery:
    raw = args.get("segment", "")
    segment = SegmentName(raw) if raw in set(SegmentName) else SegmentName.REPEAT_BUYERS
    days_raw = args.get("days", "")
    days = int(days_raw) if days_raw.isdigit() and int(days_raw) in DAY_CHOICES else None
    return SegmentQuery(segment=segment, days=days or segments.RECENT_DAYS)


def _days_arg(query: SegmentQuery) -> int | None:
    return query.days if query.segment is SegmentName.RECENT_NOT_JOINED else None


def _cursor(args: Any) -> str | None:
    raw = args.get("cursor", "")
    return raw if raw and len(raw) <= 1000 else None
