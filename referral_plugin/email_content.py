"""The words of each shopper email, in the language of the current (forced) locale.

`email_content` turns `EmailFacts` and their links into `EmailContent`: subject, heading,
paragraphs, the code to show, a link, one button and the footer's reason line. The templates
`email/message.html` and `email/message.txt` lay the same content out, so the text and HTML
parts never say different things. Called by `email_rendering` inside `force_locale`.

An inviter's first name is typed by a shopper, and an invitation goes to someone else from the
store: it is used only when it reads as a name (letters, spaces, hyphens, apostrophes; at most
40 characters), so nobody can put a link or a message into the store's email through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import format_date, gettext

from referral_plugin.domain.offers import describe_offer
from referral_plugin.domain.programs import ClaimMode, ShopperEmail
from referral_plugin.email_links import EmailLinks
from referral_plugin.services.email_facts import EmailFacts, RewardFacts
from referral_plugin.web.offer_text import offer_details, offer_headline, reward_text

NAME_MAX = 40
NAME_MARKS = frozenset(" -'\u2019")  # space, hyphen, apostrophes (O'Neil, O\u2019Neil)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailContent:
    subject: str
    heading: str
    paragraphs: tuple[str, ...]
    why: str  # why the recipient gets this email (the footer)
    code: str | None = None
    code_label: str = ""
    link: str | None = None
    link_label: str = ""
    button: Button | None = None


def email_content(facts: EmailFacts, links: EmailLinks) -> EmailContent:
    """The content of `facts.kind`, in the current locale."""
    return _WRITERS[facts.kind](facts, links)


def _welcome(facts: EmailFacts, links: EmailLinks) -> EmailContent:
    store = facts.store_name
    return EmailContent(
        subject=gettext("Your referral code for %(store)s", store=store),
        heading=_headline(facts),
        paragraphs=(
            gettext("Thank you for shopping at %(store)s. You can now share your code or your "
                    "link with friends.", store=store),
            *offer_details(describe_offer(facts.program)),
        ),
        why=gettext("You receive this email because you ordered from %(store)s, which invites "
                    "its customers to its referral program.", store=store),
        **_share_parts(facts, links),
    )  # fmt: skip


def _share_nudge(facts: EmailFacts, links: EmailLinks) -> EmailContent:
    store = facts.store_name
    offer = describe_offer(facts.program)
    subject = gettext("Share %(store)s with your friends", store=store)
    if offer.friend is not None:
        subject = gettext("Your friends can still get %(reward)s at %(store)s",
                          reward=reward_text(offer.friend), store=store)  # fmt: skip
    return EmailContent(
        subject=subject,
        heading=_headline(facts),
        paragraphs=(
            gettext("You joined the referral program of %(store)s but have not shared your "
                    "code yet. It takes a moment.", store=store),
            *offer_details(offer),
        ),
        why=_why_advocate(facts),
        **_share_parts(facts, links),
    )  # fmt: skip


def _invite(facts: EmailFacts, links: EmailLinks) -> EmailContent:
    store, name = facts.store_name, readable_name(facts.advocate_name)
    offer = describe_offer(facts.program)
    gift = None if offer.friend is None else reward_text(offer.friend)
    paragraphs = [
        gettext("%(name)s shops at %(store)s and thinks you will like it too.",
                name=name, store=store) if name else
        gettext("A customer of %(store)s thinks you will like it too.", store=store),
    ]  # fmt: skip
    if gift:
        paragraphs.append(gettext("You get %(reward)s on your order.", reward=gift))
    # The code only where friends can type it at checkout; else the link carries the gift.
    shared = facts.program.claim_mode is ClaimMode.SHARED_CODE
    shows_code = gift is not None and facts.code_in_store and shared
    return EmailContent(
        subject=_invite_subject(name, gift, store),
        heading=_invite_subject(name, gift, store),
        paragraphs=(*paragraphs, *offer_details(offer)),
        why=gettext("You receive this email because %(name)s entered your address on the "
                    "page of %(store)s. They cannot invite you again.", name=name, store=store)
        if name else
        gettext("You receive this email because a customer of %(store)s entered your "
                "address on its page. They cannot invite you again.", store=store),
        code=facts.advocate_code if shows_code else None,
        code_label=gettext("Your code at checkout"),
        button=Button(gettext("Get your gift") if gift else
                      gettext("Visit %(store)s", store=store), links.referral or links.store),
    )  # fmt: skip


def _invite_subject(name: str | None, gift: str | None, store: str) -> str:
    if gift and name:
        return gettext("%(name)s sent you %(reward)s at %(store)s",
                       name=name, reward=gift, store=store)  # fmt: skip
    if gift:
        return gettext("A gift for you: %(reward)s at %(store)s", reward=gift, store=store)
    if name:
        return gettext("%(name)s invites you to discover %(store)s", name=name, store=store)
    return gettext("An invitation to discover %(store)s", store=store)


def _reward_pending(facts: EmailFacts, links: EmailLinks) -> EmailContent:
    reward = _reward(facts)
    store, what = facts.store_name, reward_text(reward.terms)
    paragraphs = [
        gettext("A friend you referred placed an order. Thank you for spreading the word!")
        if facts.to_advocate else gettext("Thank you for your order.")
    ]  # fmt: skip
    if reward.hold_until is not None:
        paragraphs.append(
            gettext("Your reward is pending until %(date)s, when the return period ends. We "
                    "will email you again when it is ready.", date=_date(reward.hold_until))
        )  # fmt: skip
    return EmailContent(
        subject=gettext("You earned %(reward)s at %(store)s", reward=what, store=store),
        heading=gettext("You earned %(reward)s", reward=what),
        paragraphs=tuple(paragraphs),
        why=_why_advocate(facts) if facts.to_advocate else _why_friend(facts),
    )


def _reward_issued(facts: EmailFacts, links: EmailLinks) -> EmailContent:
    reward = _reward(facts)
    store = facts.store_name
    paragraphs = [
        gettext("Enter this code at checkout.") if reward.code else
        gettext("It is in your account at %(store)s.", store=store)
    ]  # fmt: skip
    if reward.expires_at is not None:
        paragraphs.append(gettext("Use it by %(date)s.", date=_date(reward.expires_at)))
    return _reward_ready(
        facts, links,
        subject=gettext("Your reward from %(store)s is ready", store=store),
        heading=gettext("Your reward is ready: %(reward)s", reward=reward_text(reward.terms)),
        paragraphs=paragraphs,
    )  # fmt: skip


def _expiry_reminder(facts: EmailFacts, links: EmailLinks) -> EmailContent:
    reward = _reward(facts)
    expires = _date(reward.expires_at) if reward.expires_at else ""
    return _reward_ready(
        facts, links,
        subject=gettext("Your reward from %(store)s expires on %(date)s",
                        store=facts.store_name, date=expires),
        heading=gettext("Do not forget your reward: %(reward)s", reward=reward_text(reward.terms)),
        paragraphs=[gettext("You have not used your reward yet. It expires on %(date)s.",
                            date=expires)],
    )  # fmt: skip


def _reward_ready(
    facts: EmailFacts, links: EmailLinks, *, subject: str, heading: str, paragraphs: list[str]
) -> EmailContent:
    """An issued reward's email: its code and a button to the store."""
    return EmailContent(
        subject=subject,
        heading=heading,
        paragraphs=tuple(paragraphs),
        why=_why_advocate(facts) if facts.to_advocate else _why_friend(facts),
        code=_reward(facts).code,
        code_label=gettext("Your reward code"),
        button=Button(gettext("Shop at %(store)s", store=facts.store_name), links.store),
    )


def _share_parts(facts: EmailFacts, links: EmailLinks) -> dict[str, Any]:
    """The advocate's code and link. A per-friend program's advocate code is no checkout code
    (each friend claims one through the link), so only the link is given there."""
    per_friend = facts.program.claim_mode is ClaimMode.PER_FRIEND
    return {
        "code": None if per_friend else facts.advocate_code,
        "code_label": gettext("Your code"),
        "link": links.referral,
        "link_label": gettext("Your link"),
    }


def _headline(facts: EmailFacts) -> str:
    """The merchant's headline in this language if they wrote one, else the offer in a line."""
    own = facts.program.copy.get(facts.language)
    if own is not None and own.headline:
        return own.headline
    return offer_headline(describe_offer(facts.program), facts.store_name)


def _why_advocate(facts: EmailFacts) -> str:
    return gettext("You receive this email because you joined the referral program of "
                   "%(store)s.", store=facts.store_name)  # fmt: skip


def _why_friend(facts: EmailFacts) -> str:
    return gettext("You receive this email because you ordered from %(store)s with a "
                   "friend's referral.", store=facts.store_name)  # fmt: skip


def _reward(facts: EmailFacts) -> RewardFacts:
    assert facts.reward is not None, f"{facts.kind} needs a reward"
    return facts.reward


def _date(value: object) -> str:
    return format_date(value, format="long")


def readable_name(name: str | None) -> str | None:
    """`name` when it reads as a person's first name, else None (see the module docstring)."""
    if not name:
        return None
    cleaned = " ".join(name.split())
    allowed = all(c.isalpha() or c in NAME_MARKS for c in cleaned)
    return cleaned if cleaned and allowed and len(cleaned) <= NAME_MAX else None


_WRITERS: dict[ShopperEmail, Callable[[EmailFacts, EmailLinks], EmailContent]] = {
    ShopperEmail.WELCOME: _welcome,
    ShopperEmail.INVITE: _invite,
    ShopperEmail.REWARD_PENDING: _reward_pending,
    ShopperEmail.REWARD_ISSUED: _reward_issued,
    ShopperEmail.EXPIRY_REMINDER: _expiry_reminder,
    ShopperEmail.SHARE_NUDGE: _share_nudge,
}
