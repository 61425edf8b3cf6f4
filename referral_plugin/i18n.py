"""Languages of the shopper pages (Flask-Babel): which one a request speaks, and its direction.

The language is, in order: an explicit `?lang=` (remembered in a `lang` cookie for a year),
the `lang` cookie, the browser's Accept-Language, the store's language when the program says
it (`g.store_language`, set by the view before anything is translated), else English.
Catalogs live in `referral_plugin/translations/<lang>/LC_MESSAGES/messages.po` (+ the compiled
`.mo`); `babel.cfg` at the repository root says what is extracted. To refresh them after
changing a page string (see README, "Translations"):

    pybabel extract -F babel.cfg -k lazy_gettext -o referral_plugin/translations/messages.pot .
    pybabel update -i referral_plugin/translations/messages.pot -d referral_plugin/translations
    pybabel compile -d referral_plugin/translations

`tests/unit/test_translations.py` fails when a catalog misses a string or a `.mo` is stale.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_babel import Babel, get_locale

from referral_plugin.domain.languages import (
    DEFAULT_LANGUAGE,
    SHOPPER_LANGUAGES,
    supported_language,
    text_direction,
)

LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
LANGUAGE_NAMES = {  # each language in its own name, for the language switcher
    "en": "English",
    "ro": "Română",
    "pl": "Polski",
    "it": "Italiano",
    "fa": "فارسی",
}


def init_i18n(app: Flask) -> None:
    """Install Flask-Babel on `app` with our locale choice, the language cookie and the
    template helpers `current_language()`, `text_direction()` and `LANGUAGE_NAMES`."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    Babel(app, locale_selector=select_language)
    app.after_request(_remember_explicit_language)
    app.context_processor(
        lambda: {
            "current_language": current_language,
            "text_direction": lambda: text_direction(current_language()),
            "LANGUAGE_NAMES": LANGUAGE_NAMES,
        }
    )


def select_language() -> str:
    """The language of this request (see the module docstring for the order)."""
    explicit = supported_language(request.args.get("lang"))
    if explicit is not None:
        g.explicit_language = explicit
        return explicit
    remembered = supported_language(request.cookies.get(LANGUAGE_COOKIE))
    if remembered is not None:
        return remembered
    browser = request.accept_languages.best_match(SHOPPER_LANGUAGES)
    if browser is not None:
        return browser
    return supported_language(g.get("store_language")) or DEFAULT_LANGUAGE


def current_language() -> str:
    """The language this request's pages are in, e.g. "fa"."""
    locale = get_locale()
    return DEFAULT_LANGUAGE if locale is None else locale.language


def _remember_explicit_language(response: Response) -> Response:
    language = g.get("explicit_language")
    if language is not None:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_SECONDS, samesite="Lax",
            httponly=True, secure=request.is_secure,
        )  # fmt: skip
    return response
