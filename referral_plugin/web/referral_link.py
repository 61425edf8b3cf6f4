"""The referral link an advocate shares, `GET /r/<code>` (`web.shopper_links.referral_link`).

- The code is normalized (`domain.codes`); an unknown code, a blocked advocate, an inactive
  program or an uninstalled shop answer the same translated 404 page. Unknown codes are
  counted per keyed IP hash; over LINK_MISS_LIMIT_PER_IP in an hour every lookup from that IP
  answers 429, found or not, so codes cannot be guessed by brute force (`services.clicks`).
- The advocate's own browser (the signed `rp_own` cookie of the share page names the code)
  gets "this is your own link" with the link to share: no click, no discount, no redirect.
- Otherwise the friend's visit is recorded (`friend_pages.record_visit`: a click with a keyed
  IP hash, not for HEAD, link previews or prefetches, repeats within 30 minutes once; the
  `rp_ref` cookie for 30 days) and:
  - per-friend programs show the claim form (`web/friend_claim.py`);
  - shared-code programs first make sure the advocate's code is in the store
    (`friend_code_jobs.push_code`: no store call when it is there already). In the store:
    Shopify redirects to the store's discount link, which applies the code and lands on the
    home page with `?ref=<code>`; WooCommerce shows the landing page (the code to copy, a link
    to the store with `?ref=`). Not in the store yet: the landing page with the code and from
    when it will work. A program whose friend reward is no store discount, or a code the
    store refused: straight to the store with `?ref=` (attribution by the landing link).
"""

from __future__ import annotations

from flask import Blueprint, make_response, redirect
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from connectors.storefronts import storefront_for
from referral_plugin.app import app_services
from referral_plugin.domain.programs import ClaimMode
from referral_plugin.friend_code_jobs import FriendCodeState, push_code
from referral_plugin.services.clicks import ReferralLink
from referral_plugin.web import friend_pages
from referral_plugin.web import shopper_pages as page
from referral_plugin.web.friend_claim import claim_page

blueprint = Blueprint("referral_link", __name__)
friend_pages.register_handlers(blueprint)


@blueprint.get("/r/<code>")
def follow(code: str) -> ResponseReturnValue:
    link = friend_pages.load_link(code)
    if friend_pages.is_own_link(link):
        return friend_pages.own_link(link)
    now = page.utc_now()
    response: Response
    destination: str | None = None
    if link.page.program.claim_mode is ClaimMode.PER_FRIEND:
        response = make_response(claim_page(link))
    else:
        response, destination = _shared_code(link)
    friend_pages.record_visit(link, response, destination=destination, now=now)
    return response


def _shared_code(link: ReferralLink) -> tuple[Response, str]:
    """The answer for a shared-code program and where it sends the friend."""
    services = app_services()
    storefront = storefront_for(link.platform, link.store, services.settings)
    home = storefront.home(link.code)
    push = push_code(services, link.page.shop_id, link.code_id, now=page.utc_now())
    if push.state is FriendCodeState.IN_STORE:
        direct = storefront.discount_link(link.code, link.code)
        if direct is not None:
            return redirect(direct, code=302), direct
    elif push.state is not FriendCodeState.PENDING:  # no store discount: the link attributes
        return redirect(home, code=302), home
    landing = friend_pages.landing(link, code=link.code, push=push, store_url=home, claimed=False)
    return make_response(landing), home
