"""The referral link `/r/<code>`: which advocate and program a code leads to, the clicks on it,
and the guard against guessing codes.

- `find_referral_link` is the one lookup by code alone (a link names no shop): the advocate's
  code of an active advocate in an active program of an installed shop. Its answer carries
  the shop that scopes every later query of the request.
- A click is stored with a keyed hash of the IP (the same hash conversions keep for the
  SAME_IP check, `snapshots.signal_hashes`), never the IP, and the user agent cut to 512
  characters. Link previews (chat apps, social sites, crawlers) and browser prefetches are
  not clicks. Repeats count once: a click from the same IP hash and user agent on the same
  code within `REPEAT_WINDOW` of one already stored is not stored again, so a friend who
  opens the link three times in a morning is one click in the advocate's funnel; on
  PostgreSQL a transaction-level advisory lock on (code, IP hash) makes that check exact
  under concurrent requests (SQLite has one writer).
- Unknown codes are counted per keyed IP hash (`referral_link_misses`, fixed windows, the
  way `rate_limits` counts); over the limit, every lookup from that IP is refused until the
  window ends, found or not, so the answers tell a guesser nothing.
The caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..domain.codes import normalize_code
from ..domain.decisions import CodeKind
from ..domain.events import Platform
from ..domain.experiments import program_for
from ..errors import NotFound
from ..models import Advocate, AdvocateStatus, Click, Code, ProgramStatus, Shop, ShopStatus
from ..models import Program as ProgramRow
from ..models.shops import LinkMissCounter
from .rate_limits import key_hash, window_start
from .shopper_pages import ProgramPage
from .snapshots import load_program

REPEAT_WINDOW = timedelta(minutes=30)
MISS_WINDOW = timedelta(hours=1)
USER_AGENT_LIMIT = 512
MISS_SCOPE = "link:ip"
# User agents of link previews and crawlers: they fetch a shared link, nobody clicked it.
PREVIEW_AGENTS = re.compile(
    r"bot(?:/|-|;|\)| \(|$)|crawler|spider|preview|^whatsapp/|facebookexternalhit|facebot|embedly|"
    r"iframely|vkshare|^pinterest/|google-pagerenderer|^curl/|^wget/|python-requests|"
    r"go-http-client",
    re.IGNORECASE,
)
_CLICK_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferralLink:
    page: ProgramPage  # the program and its shop, for the shopper pages
    platform: Platform
    store: str  # the shop's domain: myshopify domain or WooCommerce store URL
    code_id: int
    code: str  # the advocate's code, display form
    advocate_id: int


def find_referral_link(session: Session, code: str) -> ReferralLink:
    """The live advocate code `code` (any case, spaces and dashes ignored); raises NotFound
    for an unknown code, a code of another kind, a blocked advocate, an inactive program or
    an uninstalled shop. Codes are unique per shop; should two shops hold the same code, the
    older one answers."""
    normalized = normalize_code(code)
    if not normalized:
        raise NotFound("code", "(hidden)")
    row = session.execute(
        select(Code, Advocate.id, Advocate.variant, ProgramRow, Shop)
        .join(Advocate, Advocate.id == Code.advocate_id)
        .join(ProgramRow, ProgramRow.id == Code.program_id)
        .join(Shop, Shop.id == Code.shop_id)
        .where(
            Code.normalized == normalized,
            Code.kind == CodeKind.ADVOCATE,
            Advocate.shop_id == Code.shop_id,
            Advocate.status == AdvocateStatus.ACTIVE,
            ProgramRow.shop_id == Code.shop_id,
            ProgramRow.status == ProgramStatus.ACTIVE,
            ProgramRow.public_id.is_not(None),
            Shop.status == ShopStatus.ACTIVE,
        )
        .order_by(Code.id)
        .limit(1)
    ).one_or_none()
    if row is None:
        raise NotFound("code", "(hidden)")
    code_row, advocate_id, variant, program_row, shop = row
    page = ProgramPage(
        shop_id=shop.id,
        public_id=str(program_row.public_id),
        program=program_for(load_program(program_row), variant),  # the advocate's A/B offer
        store_name=shop.name or shop.domain,
    )
    return ReferralLink(
        page=page,
        platform=shop.platform,
        store=shop.domain,
        code_id=code_row.id,
        code=code_row.code,
        advocate_id=advocate_id,
    )


def is_link_preview(user_agent: str | None, purpose: str | None = None) -> bool:
    """True for a preview or crawler user agent, no user agent at all, or a browser's
    prefetch (`Sec-Purpose` / `Purpose: prefetch`)."""
    if purpose and "prefetch" in purpose.lower():
        return True
    return not user_agent or PREVIEW_AGENTS.search(user_agent) is not None


def ip_hash(key: bytes, ip: str | None) -> str | None:
    """The IP as clicks keep it: the keyed hash conversions store for the same IP
    (`snapshots.signal_hashes`, "ip"), so the two can be compared; None without an IP."""
    if not ip:
        return None
    return hmac.new(key, f"ip:{ip}".encode(), hashlib.sha256).hexdigest()[:40]


def record_click(
    session: Session,
    link: ReferralLink,
    *,
    ip_hash: str | None,
    user_agent: str | None,
    landing_url: str | None,
    now: datetime,
) -> bool:
    """Store a click on the link's code; False when the same IP hash and user agent clicked
    it within `REPEAT_WINDOW` (counted once). Flushes; never commits."""
    shop_id = link.page.shop_id
    agent = (user_agent or "")[:USER_AGENT_LIMIT] or None
    if ip_hash is not None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_CLICK_LOCK, {"key": _lock_key(link.code_id, ip_hash)})
        repeat = session.execute(
            select(Click.id)
            .where(
                Click.shop_id == shop_id,
                Click.code_id == link.code_id,
                Click.created_at > now - REPEAT_WINDOW,
                Click.ip_hash == ip_hash,
                Click.user_agent.is_(None) if agent is None else Click.user_agent == agent,
            )
            .limit(1)
        ).first()
        if repeat is not None:
            return False
    session.add(
        Click(
            shop_id=shop_id,
            code_id=link.code_id,
            ip_hash=ip_hash,
            user_agent=agent,
            landing_url=landing_url,
            created_at=now,
        )
    )
    session.flush()
    return True


def lookups_blocked_until(
    session: Session, *, key: bytes, ip: str, limit: int, now: datetime
) -> datetime | None:
    """When the IP may look codes up again, or None while it is within `limit` unknown codes
    in the current window. Read-only."""
    start = window_start(now, MISS_WINDOW)
    hits = session.scalar(
        select(LinkMissCounter.hits).where(
            LinkMissCounter.key_hash == key_hash(key, MISS_SCOPE, ip),
            LinkMissCounter.window_start == start,
        )
    )
    return start + MISS_WINDOW if hits is not None and hits >= limit else None


def count_miss(session: Session, *, key: bytes, ip: str, now: datetime) -> int:
    """Count one unknown code for the IP in the current window (`INSERT ... ON CONFLICT DO
    UPDATE ... RETURNING`, exact under concurrency); returns the window's count. The IP's
    finished windows are deleted. Never commits."""
    digest = key_hash(key, MISS_SCOPE, ip)
    start = window_start(now, MISS_WINDOW)
    session.execute(
        delete(LinkMissCounter).where(
            LinkMissCounter.key_hash == digest, LinkMissCounter.window_start < start
        )
    )
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(LinkMissCounter)
        .values(key_hash=digest, window_start=start, hits=1)
        .on_conflict_do_update(
            index_elements=["key_hash", "window_start"],
            set_={"hits": LinkMissCounter.hits + 1},
        )
        .returning(LinkMissCounter.hits)
    )
    return int(session.execute(statement).scalar_one())


def _lock_key(code_id: int, ip_digest: str) -> int:
    digest = hashlib.blake2b(f"click:{code_id}:{ip_digest}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
