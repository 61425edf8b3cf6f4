"""The shopper pages' catalogs are complete and compiled, and the page colours are readable.

Fails when a page string (extracted exactly as `pybabel extract -F babel.cfg` does) has no
translation in one of the languages, when placeholders differ from the English text, when a
catalog is fuzzy, or when a committed `.mo` no longer matches its `.po` (run
`pybabel compile -d referral_plugin/translations`, see README "Translations")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from referral_plugin.domain.colors import contrast_ratio
from referral_plugin.domain.languages import SHOPPER_LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "referral_plugin" / "translations"
BASE_TEMPLATE = ROOT / "referral_plugin" / "templates" / "shopper" / "_base.html"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def page_strings() -> set[str]:
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {"_": None, "gettext": None, "lazy_gettext": None}
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def test_the_pages_have_strings_to_translate() -> None:
    strings = page_strings()
    assert "Get my code" in strings and "Give %(friend)s, get %(advocate)s" in strings
    assert len(strings) > 50


@pytest.mark.parametrize("language", SHOPPER_LANGUAGES)
def test_every_page_string_is_translated(language: str) -> None:
    messages = catalog(language)
    assert not messages.fuzzy, f"{language}: the catalog header is fuzzy (pybabel skips it)"
    missing, wrong = [], []
    for text in sorted(page_strings()):
        message = messages.get(text)
        if message is None or message.fuzzy or (language != "en" and not message.string):
            missing.append(text)
        elif message.string and set(PLACEHOLDER.findall(message.string)) != set(
            PLACEHOLDER.findall(text)
        ):
            wrong.append(text)
    assert not missing, f"{language}: untranslated (run pybabel update, then translate): {missing}"
    assert not wrong, f"{language}: placeholders differ from the English text: {wrong}"


@pytest.mark.parametrize("language", SHOPPER_LANGUAGES)
def test_the_compiled_catalog_matches_its_po(language: str) -> None:
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    with open(folder / "messages.mo", "rb") as mo:
        compiled = {m.id: m.string for m in read_mo(mo) if m.id}
    source = {m.id: m.string for m in catalog(language) if m.id and m.string and not m.fuzzy}
    assert compiled == source, (
        f"{language}: messages.mo is stale: run `pybabel compile -d referral_plugin/translations`"
    )


def colour_variables() -> dict[str, str]:
    css = BASE_TEMPLATE.read_text()
    found = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    found["link"] = re.search(r"\ba \{ color: (#[0-9a-fA-F]{6})", css).group(1)
    return found


@pytest.mark.parametrize("name", ["text", "muted", "error", "link"])
@pytest.mark.parametrize("background", ["#ffffff", "soft"])
def test_page_colours_contrast_at_least_4_5_to_1(name: str, background: str) -> None:
    colours = colour_variables()
    ground = colours.get(background, background)
    assert contrast_ratio(colours[name], ground) >= 4.5, (name, background)
