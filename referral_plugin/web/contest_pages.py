"""The contest's public leaderboard (issue 7): `GET /p/<public_id>/leaderboard`, and
`GET /p/<public_id>/leaderboard/<token>` through the advocate's signed status link
(`web.shopper_links.status_token`), which also shows them their own rank.

Live: `services.contests.leaderboard` runs on every request (one aggregate query). Names are
masked ("Anna K.", "a•••@example.com"), never a full email. A program that is not a contest
answers the shopper 404 page; a forged, expired or foreign link shows the board without a rank
and says why. Every word is in the template, so the catalogs carry them.
"""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy.orm import Session

from referral_plugin.app import app_services
from referral_plugin.domain.programs import ProgramKind
from referral_plugin.errors import NotFound
from referral_plugin.services import contests
from referral_plugin.services import shopper_pages as pages_service
from referral_plugin.services.shopper_pages import ProgramPage
from referral_plugin.web import shopper_pages as page
from referral_plugin.web.shopper_links import read_status_token

TOP = 10

blueprint = Blueprint("contest_pages", __name__, url_prefix="/p")
page.register_not_found(blueprint)


@blueprint.get("/<public_id>/leaderboard")
def leaderboard(public_id: str) -> page.Page:
    return _leaderboard(public_id, token=None)


@blueprint.get("/<public_id>/leaderboard/<token>")
def own_leaderboard(public_id: str, token: str) -> page.Page:
    return _leaderboard(public_id, token=token)


def _leaderboard(public_id: str, *, token: str | None) -> page.Page:
    program_page = page.load_program_page(public_id)
    if program_page.program.kind is not ProgramKind.CONTEST:
        return page.not_available()
    with app_services().sessions.begin() as session:
        viewer = None if token is None else _viewer(session, program_page, token)
        board = contests.leaderboard(
            session, program_page.shop_id, program_page.program,
            now=page.utc_now(), top=TOP, advocate_id=viewer,
        )  # fmt: skip
    return page.render(
        "shopper/leaderboard.html", program_page, 200,
        board=board, rows=contests.public_standings(board),
        viewer=viewer is not None, link_expired=token is not None and viewer is None,
    )  # fmt: skip


def _viewer(session: Session, program_page: ProgramPage, token: str) -> int | None:
    """The advocate a status token names in this program; None when it names nobody here."""
    ref = read_status_token(app_services().settings.secret_key, token)
    if ref is None or ref.public_id != program_page.public_id:
        return None
    try:
        found = pages_service.find_advocate_code(
            session, program_page.shop_id, program_page.program.id, ref.code
        )
    except NotFound:
        return None
    return found.advocate_id
