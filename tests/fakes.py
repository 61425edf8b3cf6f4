"""Fakes for the seams: an in-memory StoreClient with scripted failures."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from referral_plugin.domain.store import (
    FriendCodeOffer,
    FriendCodesRejected,
    IssuedReward,
    RewardCodeRequest,
    StoreClientError,
    StoreOrder,
    StoreUnavailable,
)

# What must match for "already exists" to count as success (times move on between retries).
SPEC_FIELDS = (
    "kind",
    "currency",
    "amount",
    "percent",
    "product_id",
    "tag",
    "customer_id",
    "email",
    "minimum_subtotal",
)


def throttled(retry_after: float | None = 2.0) -> StoreClientError:
    return StoreClientError(
        "throttled", retryable=True, status=429, code="THROTTLED", retry_after=retry_after
    )


def server_error(status: int = 502) -> StoreClientError:
    return StoreClientError("bad gateway", retryable=True, status=status)


def timed_out() -> StoreClientError:
    return StoreClientError("read timed out after 10s", retryable=True, code="TIMEOUT")


def rejected(message: str = "minimum subtotal is invalid") -> StoreClientError:
    return StoreClientError(message, retryable=False, status=422, code="INVALID")


@dataclass
class FakeStoreClient:
    """A StoreClient in memory: codes keyed by code, "already exists" with the same spec is
    success, every call recorded in `calls`, failures scripted with `fail_next`."""

    codes: dict[str, RewardCodeRequest] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # code -> store ref
    revoked: set[str] = field(default_factory=set)  # store refs
    friend_codes: dict[int, set[str]] = field(default_factory=dict)  # program id -> codes
    offers: dict[int, FriendCodeOffer] = field(default_factory=dict)  # program id -> offer
    taken: dict[str, str] = field(default_factory=dict)  # code -> why the store refuses it
    orders: list[StoreOrder] = field(default_factory=list)
    calls: list[tuple[str, object]] = field(default_factory=list)
    fail_orders_after: int | None = None  # raise after yielding this many orders
    _failures: deque[Exception] = field(default_factory=deque)

    def fail_next(self, error: Exception, times: int = 1) -> FakeStoreClient:
        """The next `times` calls (any method) raise `error`."""
        self._failures.extend([error] * times)
        return self

    def _call(self, name: str, argument: object) -> None:
        self.calls.append((name, argument))
        if self._failures:
            raise self._failures.popleft()

    def calls_to(self, name: str) -> list[object]:
        return [argument for called, argument in self.calls if called == name]

    def issue_reward(self, request: RewardCodeRequest) -> IssuedReward:
        self._call("issue_reward", request)
        existing = self.codes.get(request.code)
        if existing is not None:
            if _spec(existing) != _spec(request):
                raise StoreClientError(
                    "code exists with another spec", retryable=False, status=422, code="TAKEN"
                )
            return IssuedReward(code=request.code, store_ref=self.refs[request.code])
        self.codes[request.code] = request
        self.refs[request.code] = f"gid://fake/Discount/{len(self.refs) + 1}"
        return IssuedReward(code=request.code, store_ref=self.refs[request.code])

    def revoke_reward(self, store_ref: str, code: str | None) -> None:
        self._call("revoke_reward", store_ref)
        self.revoked.add(store_ref)  # already gone counts as revoked

    def add_friend_codes(self, offer: FriendCodeOffer, codes: Sequence[str]) -> None:
        """Like the clients: the offer is created once per program, codes already holding it
        count as added, codes in `taken` are refused while the others are added."""
        self._call("add_friend_codes", tuple(codes))
        self.offers.setdefault(offer.program_id, offer)
        refused = {code: self.taken[code] for code in codes if code in self.taken}
        added = [code for code in codes if code not in refused]
        self.friend_codes.setdefault(offer.program_id, set()).update(added)
        if refused:
            raise FriendCodesRejected(refused)

    def orders_updated_since(self, since: datetime) -> Iterator[StoreOrder]:
        self._call("orders_updated_since", since)
        due = sorted((o for o in self.orders if o.updated_at >= since), key=_updated)
        for index, order in enumerate(due):
            if self.fail_orders_after is not None and index >= self.fail_orders_after:
                raise server_error(503)
            yield order


def _spec(request: RewardCodeRequest) -> tuple[object, ...]:
    return tuple(getattr(request, name) for name in SPEC_FIELDS)


def _updated(order: StoreOrder) -> datetime:
    return order.updated_at


__all__ = [
    "FakeStoreClient",
    "StoreUnavailable",
    "rejected",
    "server_error",
    "throttled",
    "timed_out",
]
