"""The StoreClient for Shopify: reward codes, friend-offer codes, and order reconciliation
through the GraphQL Admin API."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from referral_plugin.domain.programs import RewardKind
from referral_plugin.domain.store import (
    FriendCodeOffer,
    IssuedReward,
    RewardCodeRequest,
    StoreClientError,
    StoreOrder,
    StoreUnavailable,
)
from referral_plugin.settings import Settings

from . import documents
from .friend_codes import FriendCodes
from .graphql_client import ShopifyGraphQL, user_error
from .oauth import graphql_endpoint
from .order_nodes import store_order
from .reward_inputs import (
    DISCOUNT_KINDS,
    customer_tags,
    iso,
    reward_discount,
    store_credit,
)
from .shop_domain import valid_shop_domain

logger = logging.getLogger(__name__)

TAG_MARK = "#tag="  # a VIP reward's store_ref: "<customer GID>#tag=<tag>"
_GONE_WORDS = ("does not exist", "not found", "doesn't exist")


class ShopifyStoreClient:
    """One shop's StoreClient. Every call goes through `ShopifyGraphQL` (timeouts, pacing,
    bounded retries) and is safe to repeat."""

    def __init__(
        self,
        graphql: ShopifyGraphQL,
        *,
        shop_domain: str,
        order_page_size: int = 5,
        max_polls: int = 20,
    ) -> None:
        self._graphql = graphql
        self._shop = shop_domain
        self._page_size = order_page_size
        self._friend_codes = FriendCodes(graphql, self.find_discount, max_polls=max_polls)

    def issue_reward(self, request: RewardCodeRequest) -> IssuedReward:
        """Create the reward: a single-use code for discount kinds, a store-credit transaction,
        or a customer tag. A friend's claimed code (`friend_code_id`) is a single-use code
        bound to the customer with the friend's email when the shop has one (Shopify cannot
        restrict a code to an email), else open to all. Idempotent on `request.code`: a TAKEN
        code that is ours (found by `codeDiscountNodeByCode` with our title) is success.
        Raises StoreClientError (code = the DiscountErrorCode for rejected input) and
        StoreUnavailable."""
        if request.kind in DISCOUNT_KINDS:
            return self._issue_discount(request)
        if request.kind is RewardKind.STORE_CREDIT:
            return self._credit(request)
        if request.kind is RewardKind.VIP:
            variables = customer_tags(request)
            self._run(documents.ADD_CUSTOMER_TAGS, "tagsAdd", variables, "tag not added")
            return IssuedReward(code=None, store_ref=f"{variables['id']}{TAG_MARK}{request.tag}")
        raise StoreClientError(
            f"{request.kind} is not issued in a Shopify store", retryable=False, code="KIND"
        )

    def revoke_reward(self, store_ref: str, code: str | None) -> None:
        """Deactivate the discount (or remove the VIP tag). Idempotent: a discount that no
        longer exists counts as revoked. Store credit cannot be taken back automatically: it
        raises a terminal StoreClientError (code NOT_REVOCABLE) for the merchant to handle."""
        if TAG_MARK in store_ref:
            customer, tag = store_ref.split(TAG_MARK, 1)
            variables = {"id": customer, "tags": [tag]}
            self._run(documents.REMOVE_CUSTOMER_TAGS, "tagsRemove", variables, "tag not removed")
            return
        if "/StoreCreditAccount" in store_ref:
            raise StoreClientError(
                "store credit cannot be revoked automatically",
                retryable=False,
                code="NOT_REVOCABLE",
            )
        data = self._graphql.execute(documents.DEACTIVATE_DISCOUNT, {"id": store_ref})
        errors = data["discountCodeDeactivate"]["userErrors"]
        if errors and not all(_says_gone(error) for error in errors):
            raise user_error(errors, "discount not deactivated")

    def add_friend_codes(self, offer: FriendCodeOffer, codes: Sequence[str]) -> None:
        """Add advocates' codes to the program's friend-offer discount (found by the offer's
        code, or created from the offer: percent as a fraction, `context.all`, once per
        customer), ≤250 per bulk call, polled to completion. Idempotent: codes already on that
        discount count as added; codes taken by another discount are refused
        (FriendCodesRejected, reason TAKEN) while the others are added."""
        self._friend_codes.add(offer, codes)

    def orders_updated_since(self, since: datetime) -> Iterator[StoreOrder]:
        """Orders with `updated_at >= since`, oldest first, a page at a time, each in the REST
        webhook shape under topic `orders/updated`. Raises StoreClientError mid-way."""
        variables: dict[str, Any] = {
            "query": f"updated_at:>='{iso(since)}'",
            "first": self._page_size,
            "after": None,
        }
        while True:
            page = self._graphql.execute(documents.ORDERS_UPDATED_SINCE, variables)["orders"]
            for node in page["nodes"]:
                yield store_order(node, self._shop)
            if not page["pageInfo"]["hasNextPage"]:
                return
            variables = {**variables, "after": page["pageInfo"]["endCursor"]}

    def find_discount(self, code: str) -> Mapping[str, Any] | None:
        """The code discount node holding `code` (any case), or None."""
        data = self._graphql.execute(documents.DISCOUNT_BY_CODE, {"code": code})
        return data.get("codeDiscountNodeByCode")

    def find_customer(self, email: str) -> str | None:
        """The GID of the shop's customer with this email address, or None."""
        data = self._graphql.execute(documents.CUSTOMER_BY_EMAIL, {"email": email})
        customer = data.get("customerByIdentifier")
        return None if customer is None else str(customer["id"])

    def _issue_discount(self, request: RewardCodeRequest) -> IssuedReward:
        if request.friend_code_id is not None and request.customer_id is None and request.email:
            request = replace(request, customer_id=self.find_customer(request.email))
        call = reward_discount(request)
        payload = self._graphql.execute(call.document, call.variables)[call.root]
        errors = payload["userErrors"]
        if not errors:
            return IssuedReward(code=request.code, store_ref=payload["codeDiscountNode"]["id"])
        if any(error.get("code") == "TAKEN" for error in errors):
            return self._already_issued(request)
        raise user_error(errors, "discount not created")

    def _already_issued(self, request: RewardCodeRequest) -> IssuedReward:
        node = self.find_discount(request.code)
        if node is None:  # TAKEN but not visible yet: ask again later
            raise StoreClientError(
                "code reported taken but not found", retryable=True, status=200, code="TAKEN"
            )
        title = (node.get("codeDiscount") or {}).get("title")
        if title != request.title:
            raise StoreClientError(
                "code belongs to another discount", retryable=False, status=200, code="TAKEN"
            )
        logger.info(
            "reward code already in the store",
            extra={"reward_id": request.reward_id, "friend_code_id": request.friend_code_id},
        )
        return IssuedReward(code=request.code, store_ref=node["id"])

    def _credit(self, request: RewardCodeRequest) -> IssuedReward:
        # Not idempotent (no key for this mutation): an ambiguous failure is not retried.
        payload = self._run(
            documents.CREDIT_STORE_CREDIT,
            "storeCreditAccountCredit",
            store_credit(request),
            "store credit not added",
            idempotent=False,
        )
        transaction = payload["storeCreditAccountTransaction"]
        return IssuedReward(code=None, store_ref=transaction["id"])

    def _run(
        self,
        document: str,
        root: str,
        variables: Mapping[str, Any],
        what: str,
        *,
        idempotent: bool = True,
    ) -> Mapping[str, Any]:
        payload = self._graphql.execute(document, variables, idempotent=idempotent)[root]
        if payload["userErrors"]:
            raise user_error(payload["userErrors"], what)
        return payload


def _says_gone(error: Mapping[str, Any]) -> bool:
    message = str(error.get("message") or "").lower()
    return any(words in message for words in _GONE_WORDS)


def make_shopify_store_client(
    shop_domain: str, credentials: dict[str, str], settings: Settings
) -> ShopifyStoreClient:
    """The registry's factory: a client for the shop's offline access token. Raises
    StoreUnavailable for an invalid shop domain or a missing token."""
    domain = shop_domain.strip().lower()
    if not valid_shop_domain(domain):
        raise StoreUnavailable("the shop domain is not a valid myshopify.com domain")
    token = credentials.get("access_token")
    if not token:
        raise StoreUnavailable("the shop has no Shopify access token")
    version = settings.shopify_api_version
    endpoint = graphql_endpoint(settings.shopify_shop_origin, domain, version)  # https://{shop}
    graphql = ShopifyGraphQL(domain, token, version, endpoint=endpoint)
    return ShopifyStoreClient(graphql, shop_domain=domain)
