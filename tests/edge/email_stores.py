"""Stores for the shopper-email edge tests: "Bella Ceramics" with a two-sided program whose
friend reward comes after the order (store credit), so no code goes into the store and the share
page makes no store call. Each store is erased with everything it owns when its test ends."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.app import app_services
from referral_plugin.services.shop_erasure import erase_shop
from tests.edge.test_shopper_pages import Store, a_store

AFTER_ORDER = {"friend_reward": {"kind": "store_credit", "amount": "5.00"}}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(name="stores")
def stores_fixture(app: Flask) -> Iterator[Callable[..., Store]]:
    """Makes stores (program changes as keywords); import `stores_fixture` to use it."""
    made: list[Store] = []

    def make(**program: Any) -> Store:
        made.append(a_store(app, **{**AFTER_ORDER, **program}))
        return made[-1]

    yield make
    with app_services(app).sessions.begin() as session:
        for store in made:
            erase_shop(session, store.shop_id)


def join(client: FlaskClient, store: Store, email: str, query: str = "") -> str:
    """Join as `email` through the form and return the share page's path."""
    form = client.get(f"/p/{store.public_id}/join{query}").get_data(as_text=True)
    data = {"csrf_token": CSRF.search(form).group(1), "email": email}
    answer = client.post(f"/p/{store.public_id}/join{query}", data=data)
    assert answer.status_code == 303
    return answer.headers["Location"]


def invite(client: FlaskClient, share: str, emails: str, **extra: Any) -> Any:
    """Send the share page's invite form (with its own CSRF token) for `emails`."""
    page = client.get(share).get_data(as_text=True)
    data = {"csrf_token": CSRF.search(page).group(1), "emails": emails}
    return client.post(f"{share}/invite", data=data, **extra)
