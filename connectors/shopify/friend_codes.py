"""Friend-offer codes: one discount per program, advocates' codes added to it in bulk.

The discount is found by the offer's own keyed code (`FriendCodeOffer.offer_code`), created
from the offer when missing. Codes go in `discountRedeemCodeBulkAdd` calls of at most 250, each
polled to completion; a code that failed as TAKEN is fine when it sits on this discount already
(a retry), and is refused otherwise (another discount owns it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from referral_plugin.domain.store import FriendCodeOffer, FriendCodesRejected, StoreClientError

from . import documents
from .graphql_client import ShopifyGraphQL, user_error
from .reward_inputs import friend_discount, friend_offer

logger = logging.getLogger(__name__)

BULK_LIMIT = 250  # Shopify's cap on codes per discountRedeemCodeBulkAdd call
FindDiscount = Callable[[str], Mapping[str, Any] | None]


class FriendCodes:
    """Find-or-create a program's friend discount and add codes to it, polling each bulk job."""

    def __init__(
        self,
        graphql: ShopifyGraphQL,
        find_discount: FindDiscount,
        *,
        max_polls: int = 20,
        poll_interval: float = 1.0,
    ) -> None:
        self._graphql = graphql
        self._find = find_discount
        self._max_polls = max_polls
        self._poll_interval = poll_interval

    def add(self, offer: FriendCodeOffer, codes: Sequence[str]) -> None:
        """Add `codes` (deduplicated) in chunks of 250. Raises FriendCodesRejected after every
        chunk when some codes were refused for good, StoreClientError otherwise."""
        unique = list(dict.fromkeys(code for code in codes if code))
        if not unique:
            return
        discount_id = self.discount_id(offer)
        rejected: dict[str, str] = {}
        for start in range(0, len(unique), BULK_LIMIT):
            rejected.update(self._add_chunk(discount_id, unique[start : start + BULK_LIMIT]))
        if rejected:
            raise FriendCodesRejected(rejected)

    def discount_id(self, offer: FriendCodeOffer) -> str:
        """The program's friend discount GID, created from the offer when missing."""
        code = offer.offer_code
        node = self._find(code)
        if node is not None:
            return str(node["id"])
        call = friend_discount(code, friend_offer(offer))
        payload = self._graphql.execute(call.document, call.variables)[call.root]
        if not payload["userErrors"]:
            return str(payload["codeDiscountNode"]["id"])
        if any(error.get("code") == "TAKEN" for error in payload["userErrors"]):
            node = self._find(code)  # created by a concurrent or timed-out attempt
            if node is not None:
                return str(node["id"])
        raise user_error(payload["userErrors"], "friend discount not created")

    def _add_chunk(self, discount_id: str, codes: list[str]) -> dict[str, str]:
        """Add one chunk; returns the codes refused for good with the reason."""
        variables = {"discountId": discount_id, "codes": [{"code": code} for code in codes]}
        payload = self._graphql.execute(documents.BULK_ADD_CODES, variables)
        added = payload["discountRedeemCodeBulkAdd"]
        if added["userErrors"]:
            raise user_error(added["userErrors"], "codes not added")
        creation_id = added["bulkCreation"]["id"]
        status = self._poll(creation_id)
        if status["failedCount"]:
            return self._failures(discount_id, creation_id)
        return {}

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

    def _failures(self, discount_id: str, creation_id: str) -> dict[str, str]:
        """The chunk's refused codes. A code that failed as TAKEN is fine when it already sits
        on this discount (a retry); on another discount it is refused."""
        data = self._graphql.execute(documents.BULK_CREATION_FAILURES, {"id": creation_id})
        creation = data["discountRedeemCodeBulkCreation"] or {}
        refused: dict[str, str] = {}
        for entry in (creation.get("codes") or {}).get("nodes") or ():
            errors = entry.get("errors") or []
            if not errors:
                continue
            code = str(entry["code"])
            if all(error.get("code") == "TAKEN" for error in errors):
                if not self._ours(discount_id, code):
                    refused[code] = "TAKEN: the code belongs to another discount in the store"
                continue
            refused[code] = str(user_error(errors, "not added"))
        return refused

    def _ours(self, discount_id: str, code: str) -> bool:
        node = self._find(code)
        if node is None:  # TAKEN but not visible yet: let the whole call be retried
            raise StoreClientError(
                f"code {code} reported taken but not found", retryable=True, code="TAKEN"
            )
        return str(node["id"]) == discount_id
