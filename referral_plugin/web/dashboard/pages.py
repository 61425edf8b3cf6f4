"""The dashboard's reading pages: the overview, the referrals list and the rewards with their
liability. Each view reads its filters leniently (an unknown value shows everything), calls the
list services of `services.dashboard_lists` for the merchant's shop and renders a template."""

from __future__ import annotations

from flask import Blueprint

from referral_plugin.app import app_services
from referral_plugin.domain.lifecycle import ReferralStatus, RewardStatus
from referral_plugin.services import dashboard_lists as lists
from referral_plugin.services import dashboard_totals as totals
from referral_plugin.services.programs import public_ids
from referral_plugin.web.dashboard.access import current_merchant, guard
from referral_plugin.web.dashboard.render import (
    PAGE_SIZE,
    enum_arg,
    id_arg,
    offset_of,
    page_number,
    render_page,
)

blueprint = Blueprint("dashboard", __name__, url_prefix="/admin")
guard(blueprint)


@blueprint.get("/")
def overview() -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    services = app_services()
    with services.sessions.begin() as session:
        programs = totals.program_choices(session, shop_id)
        join_ids = public_ids(session, shop_id, [program_id for program_id, _ in programs])
        counts = totals.count_referrals_by_status(session, shop_id)
        advocates = totals.count_advocates(session, shop_id)
        liability = totals.reward_liability(session, shop_id)
    base = services.settings.public_base_url.rstrip("/")
    join_pages = [
        (name, f"{base}/p/{join_ids[program_id]}/join")
        for program_id, name in programs
        if program_id in join_ids
    ]
    return render_page(
        "dashboard/overview.html", programs=programs, join_pages=join_pages, counts=counts,
        advocates=advocates, liability=liability, statuses=list(ReferralStatus),
    )  # fmt: skip


@blueprint.get("/referrals")
def referrals() -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    status, program_id, page = enum_arg("status", ReferralStatus), id_arg("program"), page_number()
    with app_services().sessions.begin() as session:
        found = lists.list_referrals(
            session, shop_id, status=status, program_id=program_id, limit=PAGE_SIZE,
            offset=offset_of(page),
        )  # fmt: skip
        programs = totals.program_choices(session, shop_id)
    return render_page(
        "dashboard/referrals.html", found=found, page=page, programs=programs,
        statuses=list(ReferralStatus), filters={"status": status, "program": program_id},
    )  # fmt: skip


@blueprint.get("/rewards")
def rewards() -> tuple[str, int]:
    shop_id = current_merchant().shop_id
    status, page = enum_arg("status", RewardStatus), page_number()
    with app_services().sessions.begin() as session:
        found = lists.list_rewards(
            session, shop_id, status=status, limit=PAGE_SIZE, offset=offset_of(page)
        )
        liability = totals.reward_liability(session, shop_id)
    return render_page(
        "dashboard/rewards.html", found=found, page=page, liability=liability,
        statuses=list(RewardStatus), filters={"status": status},
    )  # fmt: skip
