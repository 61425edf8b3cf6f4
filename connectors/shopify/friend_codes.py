"""Friend-offer codes: one discount per program, advocates' codes added to it in bulk."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from referral_plugin.domain.codes import normalize_code
from referral_plugin.domain.store import StoreClientError

from . import documents
from .graphql_client import ShopifyGraphQL, user_error
from .reward_inputs import FriendOffer, friend_discount

logger = logging.getLogger(__name__)

BULK_LIMIT = 250  # Shopify's cap on codes per discountRedeemCodeBulkAdd call
FindDiscount = Callable[[str], Mapping[str, Any] | None]


def friend_offer_code(program_id: int) -> str:
    """The friend-offer discount's own code: deterministic, so the discount is found again."""
    return f"REFERRAL-FRIENDS-{program_id}"


class FriendCodes:
    """Find-or-create a program's friend discount and add codes to it, polling each bulk job."""

    def __init__(
        self,
        graphql: ShopifyGraphQL,
        find_discount: FindDiscount,
        offer_for: Callable[[int], FriendOffer | None] | None,
        *,
        max_polls: int = 20,
        poll_interval: float = 1.0,
    ) -> None:
        self._graphql = graphql
        self._find = find_discount
        self._offer_for = offer_for
        self._max_polls = max_polls
        self._poll_interval = poll_interval

    def add(self, program_id: int, codes: Sequence[str]) -> None:
        """Add `codes` (deduplicated) in chunks of 250. Raises StoreClientError."""
        unique = list(dict.fromkeys(code for code in codes if code))
        if not unique:
            return
        discount_id = self.discount_id(program_id)
        for start in range(0, len(unique), BULK_LIMIT):
            self._add_chunk(discount_id, unique[start : start + BULK_LIMIT])

    def discount_id(self, program_id: int) -> str:
        """The program's friend discount GID, created from its FriendOffer when missing."""
        code = friend_offer_code(program_id)
        node = self._find(code)
        if node is not None:
            return str(node["id"])
        offer = self._offer_for(program_id) if self._offer_for else None
        if offer is None:
            raise StoreClientError(
                f"program {program_id} has no friend discount in the store and no offer to "
                "create it from",
                retryable=False,
                code="FRIEND_OFFER_MISSING",
            )
        call = friend_discount(code, offer)
        payload = self._graphql.execute(call.document, call.variables)[call.root]
        if not payload["userErrors"]:
            return str(payload["codeDiscountNode"]["id"])
        if any(error.get("code") == "TAKEN" for error in payload["userErrors"]):
            node = self._find(code)  # created by a concurrent or timed-out attempt
            if node is not None:
                return str(node["id"])
        raise user_error(payload["userErrors"], "friend discount not created")

    def _add_chunk(self, discount_id: str, codes: list[str]) -> None:
        variables = {"discountId": discount_id, "codes": [{"code": code} for code in codes]}
        payload = self._graphql.execute(documents.BULK_ADD_CODES, variables)
        added = payload["discountRedeemCodeBulkAdd"]
        if added["userErrors"]:
            raise user_error(added["userErrors"], "codes not added")
        creation_id = added["bulkCreation"]["id"]
        status = self._poll(creation_id)
        if status["failedCount"]:
            self._check_failures(discount_id, creation_id)

    def _poll(self, creation_id: str) -> Mapping[str, Any]:
        for attempt in range(self._max_polls):
            if attempt:
                self._graphql.pause(min(self._poll_interval * attempt, 5.0))
            data = self._graphql.execute(documents.BULK_CREATION_STATUS, {"id": creation_id})
            status = data["discountRedeemCodeBulkCreation"]
            if status is not None and status["done"]:
                return status
        raise StoreClientError(
            "bulk code creation still running", retryable=True, code="BULK_PENDING"
        )

    def _check_failures(self, discount_id: str, creation_id: str) -> None:
        """Codes that failed as TAKEN are fine when they already sit on this discount."""
        data = self._graphql.execute(documents.BULK_CREATION_FAILURES, {"id": creation_id})
        creation = data["discountRedeemCodeBulkCreation"] or {}
        for entry in (creation.get("codes") or {}).get("nodes") or ():
            errors = entry.get("errors") or []
            if not errors:
                continue
            if all(error.get("code") == "TAKEN" for error in errors):
                self._require_ours(discount_id, entry["code"])
                continue
            raise user_error(errors, f"code {entry['code']} not added")

    def _require_ours(self, discount_id: str, code: str) -> None:
        node = self._find(code)
        if node is None or str(node["id"]) != discount_id:
            raise StoreClientError(
                f"code {normalize_code(code) or code} belongs to another discount",
                retryable=False,
                status=200,
                code="TAKEN",
            )
