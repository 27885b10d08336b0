"""The vectorised batch executor equals the scalar one to the fen (DESIGN.md §2, issue 6).

A million random claims (``random_batch``: every rule variant of the rule fixtures, the published
examples and 潮州, every person type and assistance category, opening accumulators at and beyond
caps, waiting periods, transfers, day surgery, chronic diseases, pharmacy, mutual aid, reversals in
the stream) are settled by :func:`yibao.batch.scalar.settle_scalar` and by
:func:`yibao.batch.vector.settle_vectorised`; every column of every result row and every closing
accumulator must be equal — one fen of difference fails, naming the claim and the column.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace

import duckdb
import pytest

from random_batch import Generator, snapshot
from yibao.batch.scalar import settle_scalar
from yibao.batch.vector import settle_vectorised
from yibao.batch.vector_input import tables_from_batch
from yibao.errors import InputError
from yibao.io.batch_files import BatchClaim, BatchPerson, result_row, state_row
from yibao.policy.snapshot import PolicySnapshot

#: claims in the differential test (override with YIBAO_DIFF_CLAIMS for a quicker local run)
TOTAL = int(os.environ.get("YIBAO_DIFF_CLAIMS", "1000000"))
CHUNK = 250_000  # settled as independent batches of distinct persons, to bound memory


@pytest.fixture(scope="module")
def snap() -> PolicySnapshot:
    return snapshot()


def both(claims: list[BatchClaim], persons: dict[tuple[str, int], BatchPerson], snap: PolicySnapshot):
    scalar = settle_scalar(claims, persons, snap)
    want = [result_row(s, who.person, bc.claim.hospital_level, bc.reverses) for bc, s, who in scalar.settled]
    closing = {k: p.state for k, p in persons.items()} | scalar.closing
    want_acc = [state_row(a) for _, a in sorted(closing.items())]
    con = duckdb.connect()
    tables_from_batch(con, claims, persons)
    run = settle_vectorised(con, snap)
    return want, run.results.to_pylist(), want_acc, run.accumulators.to_pylist()


def assert_same(want: list[dict[str, object]], got: list[dict[str, object]], what: str) -> None:
    assert len(want) == len(got), what
    for w, g in zip(want, got, strict=True):
        if w != g:
            diff = {k: (w[k], g.get(k)) for k in w if w[k] != g.get(k)}
            pytest.fail(f"{what} {w.get('claim_id') or w.get('person_id')}: scalar ≠ vectorised {diff}")


def test_a_million_random_claims_agree_to_the_fen(snap: PolicySnapshot) -> None:
    seen: Counter[str] = Counter()
    settled = 0
    chunk = 0
    while settled < TOTAL:
        gen = Generator(snap, seed=1000 + chunk)
        claims, persons = gen.batch(max(1, min(CHUNK, TOTAL - settled) // 6), prefix=f"Q{chunk}-")
        want, got, want_acc, got_acc = both(claims, persons, snap)
        assert_same(want, got, "result")
        assert_same(want_acc, got_acc, "accumulators")
        settled += len(want)
        chunk += 1
        for r in want:
            seen.update(r["reasons"].split(",") if r["reasons"] else ["-"])
            seen[r["visit_type"]] += 1
            seen[f"setl:{bool(r['setl_hifmi_pay'] or r['setl_oth_pay'])}"] += 1
            seen[f"aid:{r['setl_maf_pay'] != 0}"] += 1
            seen[f"mutual:{r['mutual_aid_pay'] != 0}"] += 1
        bc = {c.claim.claim_id: c for c in claims}
        seen["transfer"] += sum(c.claim.transfer_from_level is not None for c in bc.values())
        capped = {r["claim_id"] for r in want if "CAP-POOL" in r["reasons"]}
        seen["reversal of a capped claim"] += sum(r["reverses"] in capped for r in want if r["reverses"])
    assert settled >= TOTAL
    # the set is only a test of what it exercises: each kind of case occurs, many times over
    for case in ("CAP-POOL", "WAITING", "REVERSAL", "reversal of a capped claim", "inpatient", "outpatient",
                 "chronic", "pharmacy", "transfer", "setl:True", "aid:True", "mutual:True"):  # fmt: skip
        assert seen[case] >= min(20, TOTAL // 10_000), (case, seen[case])
    assert sum(n for k, n in seen.items() if k.startswith("EXC:")) > TOTAL // 100


def test_one_fen_of_difference_is_caught(snap: PolicySnapshot) -> None:
    claims, persons = Generator(snap, seed=7).batch(300, prefix="F")
    want, got, _, _ = both(claims, persons, snap)
    assert_same(want, got, "result")
    paid = next(i for i, r in enumerate(got) if r["fund_pay_total"] > 0)
    got[paid] = {**got[paid], "cash_pay": got[paid]["cash_pay"] + 1}
    with pytest.raises(pytest.fail.Exception, match="cash_pay"):
        assert_same(want, got, "result")


def test_bad_reversals_are_refused_as_the_scalar_refuses_them(snap: PolicySnapshot) -> None:
    claims, persons = Generator(snap, seed=11).batch(40, prefix="B")
    first = next(c for c in claims if c.reverses is None)
    again = [c for c in claims if c.person_id == first.person_id]
    undo = [replace(first.claim, claim_id=f"R{i}") for i in range(3)]
    twice = [*again, BatchClaim(10**6, first.person_id, undo[0], first.claim.claim_id),
             BatchClaim(10**6 + 1, first.person_id, undo[1], first.claim.claim_id)]  # fmt: skip
    early = [BatchClaim(-1, first.person_id, undo[2], "NOT-THERE"), *again]
    for stream, message in ((twice, "已被冲正|不在其之前"), (early, "不在其之前")):
        with pytest.raises(InputError, match=message):
            settle_scalar(stream, persons, snap)
        con = duckdb.connect()
        tables_from_batch(con, stream, persons)
        with pytest.raises(InputError, match=message):
            settle_vectorised(con, snap)


def test_a_chronic_claim_without_terms_is_refused_as_the_scalar_refuses_it(snap: PolicySnapshot) -> None:
    """Two chronic-disease claims of diseases the region has no terms for, in different person-years
    (so in different threads of the chain): both engines refuse, naming the same one — the first in
    settlement order — and the vectorised one before settling anything."""
    claims, persons = Generator(snap, seed=12).batch(150_000 // 6, prefix="D")
    scalar = settle_scalar(claims, persons, snap)
    live = {bc.claim.claim_id for bc, s, _ in scalar.settled if "WAITING" not in s.reasons}
    chronic = [i for i, c in enumerate(claims) if c.claim.visit_type == "chronic" and c.reverses is None
               and c.claim.claim_id in live and not any(x.reverses == c.claim.claim_id for x in claims)]  # fmt: skip
    first, last = chronic[len(chronic) // 3], chronic[-1]
    assert claims[first].person_id != claims[last].person_id
    bad = list(claims)
    for i, code in ((first, "NO-SUCH-1"), (last, "NO-SUCH-2")):
        bad[i] = replace(claims[i], claim=replace(claims[i].claim, disease=code))
    with pytest.raises(InputError, match="门诊慢特病病种") as want:
        settle_scalar(bad, persons, snap)
    con = duckdb.connect()
    tables_from_batch(con, bad, persons)
    with pytest.raises(InputError, match="门诊慢特病病种") as got:
        settle_vectorised(con, snap)
    assert got.value.reason == want.value.reason


def test_distinct_masks_by_counting_equal_numpy_unique() -> None:
    """The results' exception masks are made distinct by counting when small; any value by a sort."""
    import numpy as np

    from yibao.batch.vector_output import _distinct

    rng = np.random.default_rng(5)
    for values in (rng.integers(0, 40, 10_000), rng.integers(0, 1 << 40, 1_000), np.zeros(3, dtype=np.int64),
                   np.array([], dtype=np.int64)):  # fmt: skip
        want_u, want_ix = np.unique(values, return_inverse=True)
        got_u, got_ix = _distinct(values)
        assert got_u.tolist() == want_u.tolist() and got_ix.tolist() == want_ix.tolist()


def test_rank_within_person_year_counts_the_earlier_claims_of_the_same_person_year() -> None:
    """Both ways of ranking (runs where person-years never interleave, a stable sort where they do)
    give each claim the number of earlier claims of its person-year."""
    import numpy as np

    from yibao.batch.vector_claims import rank_in_group

    rng = np.random.default_rng(3)
    for g in (np.sort(rng.integers(0, 50, 2_000)), rng.integers(0, 50, 2_000), np.array([], dtype=np.int64)):
        want = [int(np.sum(g[:i] == g[i])) for i in range(len(g))]
        assert rank_in_group(g).tolist() == want
