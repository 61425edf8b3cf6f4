"""The contest draw (`domain.contest_draw`): the canonical digest, a reproducible draw of
distinct advocates, the weightings, and uniform numbers without modulo bias.

The distribution tests use fixed seeds, so they give the same answer on every run; their
bounds are loose (chi-square at p = 0.001) but a biased draw misses them by far."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from referral_plugin.domain.contest_draw import (
    ALGORITHM,
    Candidate,
    Entry,
    Weighting,
    candidates,
    canonical_order,
    draw_winners,
    entries_digest,
    random_blocks,
    uniform_below,
)

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# chi-square critical values at p = 0.001 by degrees of freedom
CHI_SQUARE_0_001 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46}


def entries_for(counts: dict[int, int]) -> list[Entry]:
    """`counts[advocate]` entries per advocate, interleaved in time, ids in time order."""
    entries, minute, referral_id = [], 0, 0
    remaining = dict(counts)
    while any(remaining.values()):
        for advocate_id in sorted(remaining):
            if remaining[advocate_id]:
                referral_id += 1
                minute += 1
                paid = START + timedelta(minutes=minute)
                entries.append(
                    Entry(referral_id=referral_id, advocate_id=advocate_id, paid_at=paid)
                )
                remaining[advocate_id] -= 1
    return entries


def chi_square(observed: Counter[int], expected: dict[int, float]) -> float:
    return sum((observed[key] - want) ** 2 / want for key, want in expected.items())


def block(first_byte: int) -> bytes:
    return bytes([first_byte]) + bytes(31)


# --- the random source and uniform numbers ---------------------------------------------------


def test_the_random_source_is_hmac_sha256_of_the_seed_over_a_counter() -> None:
    blocks = random_blocks("summer-2026")
    for counter in range(3):
        expected = hmac.new(b"summer-2026", counter.to_bytes(8, "big"), hashlib.sha256).digest()
        assert next(blocks) == expected


@pytest.mark.parametrize(
    ("n", "first_bytes", "expected"),
    [
        pytest.param(3, [0b1100_0000, 0b1000_0000], 2, id="3 of 0..3 is rejected, not folded"),
        pytest.param(3, [0b1100_0000, 0b1100_0000, 0b0100_0000], 1, id="rejected twice"),
        pytest.param(5, [0b1010_0000, 0b1110_0000, 0b0110_0000], 3, id="5 and 7 of 0..7 rejected"),
        pytest.param(4, [0b1100_0000], 3, id="a power of two takes its bits as they are"),
        pytest.param(1, [0b1111_1111], 0, id="one value: no bits needed"),
    ],
)
def test_a_number_past_the_range_is_rejected_not_reduced(
    n: int, first_bytes: list[int], expected: int
) -> None:
    blocks = iter([block(b) for b in first_bytes])

    assert uniform_below(blocks, n) == expected
    assert next(blocks, None) is None  # every block was needed, none more


@pytest.mark.parametrize("n", [3, 5, 6, 7])
def test_uniform_numbers_are_uniform(n: int) -> None:
    blocks = random_blocks("uniformity")
    draws = 600 * n
    observed = Counter(uniform_below(blocks, n) for _ in range(draws))

    assert set(observed) == set(range(n))
    statistic = chi_square(observed, dict.fromkeys(range(n), draws / n))
    assert statistic < CHI_SQUARE_0_001[n - 1], observed


@pytest.mark.parametrize("n", [0, -1, 2**256 + 1])
def test_a_range_outside_what_a_block_can_give_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="n must be between"):
        uniform_below(random_blocks("x"), n)


# --- entries, candidates and the digest --------------------------------------------------------


def test_candidates_come_in_the_order_of_their_first_entry_with_their_counts() -> None:
    late = Entry(referral_id=1, advocate_id=7, paid_at=START + timedelta(hours=2))
    early = Entry(referral_id=2, advocate_id=9, paid_at=START)
    again = Entry(referral_id=3, advocate_id=7, paid_at=START + timedelta(hours=3))

    assert candidates([late, again, early]) == (
        Candidate(advocate_id=9, entries=1),
        Candidate(advocate_id=7, entries=2),
    )


def test_the_digest_is_the_sha256_of_the_documented_canonical_lines() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    first = Entry(referral_id=12, advocate_id=3, paid_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    # the same instant as `first`, given in another zone: the text is UTC, the lower id first
    tied = Entry(
        referral_id=5, advocate_id=4, paid_at=datetime(2026, 3, 1, 11, 30, tzinfo=two_hours_east)
    )
    later = Entry(
        referral_id=2, advocate_id=3, paid_at=datetime(2026, 3, 1, 9, 31, 5, 250, tzinfo=UTC)
    )
    text = (
        "contest-entries/v1\n"
        "5 4 2026-03-01T09:30:00.000000Z\n"
        "12 3 2026-03-01T09:30:00.000000Z\n"
        "2 3 2026-03-01T09:31:05.000250Z\n"
    )

    assert entries_digest([later, first, tied]) == hashlib.sha256(text.encode()).hexdigest()


def test_the_digest_ignores_order_and_changes_with_any_entry() -> None:
    entries = entries_for({1: 3, 2: 2, 3: 1})
    shuffled = entries[:]
    random.Random(4).shuffle(shuffled)

    assert entries_digest(shuffled) == entries_digest(entries)
    assert canonical_order(shuffled) == tuple(entries)
    assert entries_digest(entries[:-1]) != entries_digest(entries)
    moved = Entry(referral_id=1, advocate_id=2, paid_at=entries[0].paid_at)
    assert entries_digest([moved, *entries[1:]]) != entries_digest(entries)


def test_naive_times_are_refused() -> None:
    naive = Entry(referral_id=1, advocate_id=1, paid_at=datetime(2026, 3, 1, 9, 0))
    with pytest.raises(ValueError, match="naive"):
        entries_digest([naive])


# --- the draw ------------------------------------------------------------------------------------


def test_the_same_seed_and_entries_give_the_same_winners_in_any_input_order() -> None:
    entries = entries_for({a: a % 4 + 1 for a in range(1, 21)})
    shuffled = entries[::-1]

    first = draw_winners(entries, seed="published-seed", winners=5, weighting=Weighting.PER_ENTRY)
    again = draw_winners(shuffled, seed="published-seed", winners=5, weighting=Weighting.PER_ENTRY)
    other = draw_winners(entries, seed="another-seed", winners=5, weighting=Weighting.PER_ENTRY)

    assert first == again
    assert [c.advocate_id for c in first] != [c.advocate_id for c in other]


def test_a_known_draw_stays_the_same_across_versions() -> None:
    """Recorded draws must re-run identically forever: a change here breaks verification."""
    entries = entries_for({11: 1, 12: 2, 13: 3, 14: 4, 15: 5})

    per_entry = draw_winners(entries, seed="known-answer", winners=3, weighting=Weighting.PER_ENTRY)
    per_advocate = draw_winners(
        entries, seed="known-answer", winners=3, weighting=Weighting.PER_ADVOCATE
    )

    assert ALGORITHM == "hmac-sha256-rejection/v1"
    assert [c.advocate_id for c in per_entry] == KNOWN_PER_ENTRY
    assert [c.advocate_id for c in per_advocate] == KNOWN_PER_ADVOCATE


KNOWN_PER_ENTRY = [13, 15, 12]  # recomputed apart from the module, from the HMAC blocks
KNOWN_PER_ADVOCATE = [13, 15, 14]


@pytest.mark.parametrize("weighting", list(Weighting))
def test_winners_are_distinct_and_drawing_everyone_orders_everyone(weighting: Weighting) -> None:
    counts = {a: 1 + a % 3 for a in range(1, 9)}
    entries = entries_for(counts)

    for seed in (f"distinct-{i}" for i in range(50)):
        drawn = draw_winners(entries, seed=seed, winners=len(counts), weighting=weighting)
        assert sorted(c.advocate_id for c in drawn) == sorted(counts)
        assert all(c.entries == counts[c.advocate_id] for c in drawn)


@pytest.mark.parametrize("winners", [0, 4])
def test_more_winners_than_advocates_or_none_is_refused(winners: int) -> None:
    entries = entries_for({1: 5, 2: 1, 3: 1})
    with pytest.raises(ValueError, match="cannot draw"):
        draw_winners(entries, seed="s", winners=winners, weighting=Weighting.PER_ENTRY)


@pytest.mark.parametrize(
    ("weighting", "expected_share"),
    [
        pytest.param(Weighting.PER_ENTRY, {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.4}, id="per entry"),
        pytest.param(
            Weighting.PER_ADVOCATE, {1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25}, id="per advocate"
        ),
    ],
)
def test_the_first_winner_follows_the_weighting(
    weighting: Weighting, expected_share: dict[int, float]
) -> None:
    entries = entries_for({1: 1, 2: 2, 3: 3, 4: 4})
    draws = 4000
    observed = Counter(
        draw_winners(entries, seed=f"first-{i}", winners=1, weighting=weighting)[0].advocate_id
        for i in range(draws)
    )

    expected = {advocate: share * draws for advocate, share in expected_share.items()}
    assert chi_square(observed, expected) < CHI_SQUARE_0_001[3], observed


def test_later_picks_renormalise_over_those_left() -> None:
    """Weights 1, 1, 2: the heavy advocate is among two winners with chance 1/2 + 1/2 * 2/3."""
    entries = entries_for({1: 1, 2: 1, 3: 2})
    draws = 3000
    among = Counter(
        3 in {c.advocate_id for c in draw_winners(entries, seed=f"two-{i}", winners=2,
                                                  weighting=Weighting.PER_ENTRY)}
        for i in range(draws)
    )  # fmt: skip

    expected = {True: draws * 5 / 6, False: draws / 6}
    assert chi_square(among, expected) < CHI_SQUARE_0_001[1], among
