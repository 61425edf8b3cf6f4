"""Rendering shopper emails outside any request, in the recipient's language.

The worker has no Flask request, so emails are rendered inside an app context of a small
rendering app (built on first use, once per process): Flask-Babel with the same catalogs
(`referral_plugin/translations`) and templates (`referral_plugin/templates/email/`) as the
pages, and `force_locale(language)` around the rendering. So `gettext`, the money and percent
formats of `web/offer_text.py` and the dates all speak that language, with no request and no
global locale. The content (`email_content`) is laid out twice, `email/message.txt` and
`email/message.html`: small inline-styled HTML without a stylesheet or images, in the store's
colour with a readable text colour, `dir="rtl"` for Persian.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from flask import Flask, render_template
from flask_babel import Babel, force_locale

from referral_plugin.domain.colors import readable_text_on
from referral_plugin.domain.languages import DEFAULT_LANGUAGE, text_direction
from referral_plugin.email_content import email_content
from referral_plugin.email_links import EmailLinks
from referral_plugin.services.email_facts import EmailFacts


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(facts: EmailFacts, links: EmailLinks) -> RenderedEmail:
    """Subject, text part and HTML part of one email in `facts.language`."""
    with _rendering_app().app_context(), force_locale(facts.language):
        content = email_content(facts, links)
        color = facts.program.appearance.color
        context = {
            "content": content,
            "links": links,
            "store_name": facts.store_name,
            "language": facts.language,
            "direction": text_direction(facts.language),
            "brand": color,
            "on_brand": readable_text_on(color),
        }
        return RenderedEmail(
            subject=content.subject,
            text=render_template("email/message.txt", **context),
            html=render_template("email/message.html", **context),
        )


@cache
def _rendering_app() -> Flask:
    """The app whose context email rendering runs in: templates and catalogs of the package."""
    app = Flask("referral_plugin")  # root path: the package, so templates/ and translations/
    app.config.update(BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE, BABEL_DEFAULT_TIMEZONE="UTC")
    Babel(app)
    return app
