"""The layering rules, checked on the real source: the domain is pure, connectors stay at the
edge, and services never import connectors."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "referral_plugin" / "domain"
CONNECTORS = ROOT / "connectors"
SERVICES = ROOT / "referral_plugin" / "services"
SERVICES_MODULE = ROOT / "referral_plugin" / "services.py"

CONNECTOR_FORBIDDEN = (
    "flask",
    "sqlalchemy",
    "referral_plugin.models",
    "referral_plugin.services",
    "referral_plugin.api",
)
SERVICES_FORBIDDEN = ("connectors",)


def python_files(*places: Path) -> list[Path]:
    """Every .py file under the given folders (or the files themselves), sorted."""
    found: list[Path] = []
    for place in places:
        if place.is_file():
            found.append(place)
        elif place.is_dir():
            found.extend(p for p in place.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(found)


def imports(source: str) -> Iterator[tuple[str, int]]:
    """(module name, relative level) for every import statement, at any depth of the tree."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def package_of(path: Path) -> str:
    """The dotted package a source file's relative imports start from."""
    # A module's package is its folder; for __init__.py that folder is the package itself.
    return ".".join(path.relative_to(ROOT).parts[:-1])


def resolve(name: str, level: int, package: str) -> str:
    """The absolute module a (possibly relative) import names, seen from `package`."""
    if level == 0:
        return name
    base = package.split(".")[: len(package.split(".")) - (level - 1)]
    return ".".join([*base, name] if name else base)


def impure_domain_imports(source: str, package: str = "referral_plugin.domain") -> list[str]:
    """Imports a domain module may not make: anything neither stdlib nor inside the domain."""
    bad = []
    for name, level in imports(source):
        absolute = resolve(name, level, package)
        if is_under(absolute, "referral_plugin.domain"):
            continue
        if level == 0 and name.split(".")[0] in sys.stdlib_module_names | {"__future__"}:
            continue
        bad.append("." * level + name)
    return bad


def forbidden_imports(source: str, forbidden: tuple[str, ...]) -> list[str]:
    """Absolute imports of any forbidden package (or one of its sub-modules)."""
    found = []
    for name, level in imports(source):
        if level == 0 and any(is_under(name, prefix) for prefix in forbidden):
            found.append(name)
    # `from referral_plugin import services` names the package in the alias, not the module.
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if any(is_under(full, prefix) for prefix in forbidden):
                    found.append(full)
    return found


def label(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_walk_sees_the_domain_modules() -> None:
    names = {p.stem for p in python_files(DOMAIN)}
    assert {"money", "events", "rules", "fraud", "caps", "decisions"} <= names


@pytest.mark.parametrize("path", python_files(DOMAIN), ids=label)
def test_the_domain_imports_only_the_standard_library(path: Path) -> None:
    assert impure_domain_imports(path.read_text(encoding="utf-8"), package_of(path)) == []


@pytest.mark.parametrize("path", python_files(CONNECTORS), ids=label)
def test_connectors_never_import_flask_models_or_services(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8"), CONNECTOR_FORBIDDEN) == []


@pytest.mark.parametrize("path", python_files(SERVICES, SERVICES_MODULE), ids=label)
def test_services_never_import_connectors(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8"), SERVICES_FORBIDDEN) == []


# The checkers themselves must be able to fail: each known violation is caught.


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import sqlalchemy", ["sqlalchemy"], id="third-party import"),
        pytest.param("from flask import Flask", ["flask"], id="third-party from-import"),
        pytest.param("from ..models import Shop", ["..models"], id="relative import out of domain"),
        pytest.param("from .. import db", [".."], id="relative import of the parent package"),
        pytest.param(
            "from referral_plugin.db import x",
            ["referral_plugin.db"],
            id="absolute import of the application",
        ),
        pytest.param(
            "def f():\n    import requests\n", ["requests"], id="import inside a function"
        ),
        pytest.param(
            "from __future__ import annotations\nimport decimal\nfrom .money import Money",
            [],
            id="stdlib and siblings are fine",
        ),
    ],
)
def test_the_domain_checker_catches_violations(source: str, expected: list[str]) -> None:
    assert impure_domain_imports(source) == expected


def test_a_sub_package_may_import_its_parent_domain_modules() -> None:
    source = "from ..programs import Program\nfrom . import _spec"
    assert impure_domain_imports(source, "referral_plugin.domain.program_codec") == []
    assert impure_domain_imports("from ...db import x", "referral_plugin.domain.program_codec") == [
        "...db"
    ]


@pytest.mark.parametrize(
    ("source", "forbidden", "caught"),
    [
        pytest.param("import flask.json", CONNECTOR_FORBIDDEN, True, id="flask submodule"),
        pytest.param(
            "from referral_plugin import models",
            CONNECTOR_FORBIDDEN,
            True,
            id="models through the package",
        ),
        pytest.param(
            "from referral_plugin.services.rewards import x",
            CONNECTOR_FORBIDDEN,
            True,
            id="a service module",
        ),
        pytest.param(
            "from referral_plugin.domain.events import OrderEvent",
            CONNECTOR_FORBIDDEN,
            False,
            id="the domain is allowed",
        ),
        pytest.param("import flasky", CONNECTOR_FORBIDDEN, False, id="a prefix is not a package"),
        pytest.param(
            "from connectors.shopify import client",
            SERVICES_FORBIDDEN,
            True,
            id="services importing a connector",
        ),
    ],
)
def test_the_layer_checker_catches_violations(
    source: str, forbidden: tuple[str, ...], caught: bool
) -> None:
    assert bool(forbidden_imports(source, forbidden)) is caught
