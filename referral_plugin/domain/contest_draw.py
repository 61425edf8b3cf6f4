"""The contest winner draw: the canonical entry list, its digest, and a seeded, reproducible
weighted draw of distinct advocates.

- Entries are put in one canonical order, (paid_at, referral_id), and digested as UTF-8 lines
  `contest-entries/v1`, then `<referral_id> <advocate_id> <paid_at ISO UTC>` per entry, each
  ending in a newline; the SHA-256 of those bytes (hex) is the digest a draw records.
- Candidates are the advocates in the order of their first canonical entry, with their entry
  count. `per_entry` weighs each by that count; `per_advocate` weighs all alike.
- The random source is HMAC-SHA256(key = the seed as UTF-8, message = a counter as 8 bytes
  big-endian), counter 0, 1, 2, ...: one 32-byte block per number. A number below `n` takes
  the top `bit_length(n - 1)` bits of a block and is rejected (next block) when it is `n` or
  more, so every value is equally likely (no modulo bias).
- Each pick takes a number below the remaining total weight, walks the candidates' running
  weights to the one it falls in, and removes that advocate (no replacement).

The same seed and the same entries always give the same winners, on any machine; `ALGORITHM`
names this procedure and is recorded with every draw.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

ALGORITHM = "hmac-sha256-rejection/v1"
DIGEST_HEADER = "contest-entries/v1"
BLOCK_BITS = 256


class Weighting(StrEnum):
    PER_ENTRY = "per_entry"  # an advocate's chance grows with their entries
    PER_ADVOCATE = "per_advocate"  # every advocate with an entry has the same chance


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One converted referral of the contest, counted at its order's payment time."""

    referral_id: int
    advocate_id: int
    paid_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    advocate_id: int
    entries: int


def canonical_order(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    return tuple(sorted(entries, key=lambda e: (_utc_text(e.paid_at), e.referral_id)))


def entries_digest(entries: Iterable[Entry]) -> str:
    """SHA-256 (hex) of the canonical entry list; the same entries in any order, same digest."""
    lines = [DIGEST_HEADER] + [
        f"{e.referral_id} {e.advocate_id} {_utc_text(e.paid_at)}" for e in canonical_order(entries)
    ]
    return hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()


def candidates(entries: Iterable[Entry]) -> tuple[Candidate, ...]:
    """The advocates with entries, in the order of their first canonical entry."""
    counts: dict[int, int] = {}
    for entry in canonical_order(entries):
        counts[entry.advocate_id] = counts.get(entry.advocate_id, 0) + 1
    return tuple(Candidate(advocate_id=a, entries=n) for a, n in counts.items())


def random_blocks(seed: str) -> Iterator[bytes]:
    """HMAC-SHA256(seed, counter) for counter 0, 1, 2, ...: the draw's only random source."""
    key, counter = seed.encode(), 0
    while True:
        yield hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1


def uniform_below(blocks: Iterator[bytes], n: int) -> int:
    """A number in [0, n), every value equally likely: rejection sampling over the blocks."""
    if not 1 <= n <= 2**BLOCK_BITS:
        raise ValueError(f"n must be between 1 and 2**{BLOCK_BITS}, not {n}")
    bits = (n - 1).bit_length()
    while True:
        value = int.from_bytes(next(blocks), "big") >> (BLOCK_BITS - bits)
        if value < n:
            return value


def draw_winners(
    entries: Iterable[Entry], *, seed: str, winners: int, weighting: Weighting
) -> tuple[Candidate, ...]:
    """`winners` distinct advocates, in the order drawn. Deterministic in (seed, entries,
    weighting, winners); raises ValueError when fewer advocates have entries than asked."""
    pool = list(candidates(entries))
    if not 1 <= winners <= len(pool):
        raise ValueError(f"cannot draw {winners} winners from {len(pool)} advocates")
    blocks = random_blocks(seed)
    drawn: list[Candidate] = []
    for _ in range(winners):
        weights = [_weight(c, weighting) for c in pool]
        point = uniform_below(blocks, sum(weights))
        for index, weight in enumerate(weights):
            if point < weight:
                drawn.append(pool.pop(index))
                break
            point -= weight
    return tuple(drawn)


def _weight(candidate: Candidate, weighting: Weighting) -> int:
    return candidate.entries if weighting is Weighting.PER_ENTRY else 1


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime refused: entries carry aware UTC times")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
