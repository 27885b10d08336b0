"""The vectorised executor's calculation chain: every rule of :func:`yibao.engine.settle` on arrays.

Claims arrive in settlement order with their split totals, their key into the
:class:`~yibao.batch.vector_terms.TermsTable` and their person-year (``g``). The chain is
order-dependent only within a person-year, so it runs in *rounds*: round ``r`` settles the r-th
claim of every person-year at once, as array operations over all of them (a city-year has a few
hundred rounds; most person-years have a handful of claims).

Why rounds and not one clipped running sum per accumulator (DESIGN.md §2): a clipped running sum
equals the scalar result only while every step's remaining room is a function of the plain sum of
earlier entitlements. That fails here in three places, each exercised by the differential test:

* reversals in the stream refund what the original actually paid, so the state after a reversal is
  not the clip of a running sum of entitlements once a cap has bound;
* the annual deductible, the 大病 base and the assistance deductible feed the *next* step's base
  (a clipped sum of a clipped sum), and the chronic-disease limit shares the inpatient cap;
* the cap, the ratio and the bands may change within a person-year (a policy dated mid-year, an
  exception for an age the person reaches), so "the cap" of a running sum is not one number.

A round applies the scalar rule to the accumulators *as they stand*, so it is exact in all three
cases by construction, and each step reads only its own accumulators, so a round updates them once
at its end. Reversals take the negated increments of the claim they cancel.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import numpy as np

from yibao.batch.vector_terms import I64, TOP, UNLIMITED, TermsTable

B = np.ndarray  # a boolean array
HALF, ONE = 5_000, 10_000

#: the accumulators a claim adds to, in :data:`yibao.engine.state.COUNTERS` order, plus the balance
STATE = ("admissions", "deductible_paid", "inpatient_covered", "inpatient_eligible", "pooled_fund_paid",
         "large_expense_paid", "critical_illness_base", "critical_illness_paid", "outpatient_deductible_paid",
         "outpatient_pooled_paid", "outpatient_eligible", "assistance_deductible_paid", "assistance_paid_outpatient",
         "assistance_paid_inpatient", "tilted_base", "tilted_paid", "account_balance")  # fmt: skip
#: per-claim outputs kept for the whole run (a reversal reads its original's)
OUT = ("ded", "pooled", "ratio", "covered", "elig", "large", "ci", "ci_base", "aid", "as_used", "tilted", "ti_base",
       "fund", "burden", "acct", "mutual", "cash", "balance", "mask")  # fmt: skip


def mul_ratio(amount: I64, ratio: I64) -> I64:
    """``amount × ratio / 10000`` half-up away from zero, as :func:`yibao.money.mul_ratio`."""
    p = amount * ratio
    return np.where(p >= 0, (p + HALF) // ONE, -((-p + HALF) // ONE))


def _round(fen_bp: I64) -> I64:
    return (fen_bp + HALF) // ONE  # a band integral is never negative


class Scales:
    """Banded functions for a set of claims: ``low``/``rate`` rows of bands (as many as some key uses)."""

    def __init__(self, low: I64, rate: I64) -> None:
        self.low, self.rate = low, rate
        self.hi = np.concatenate([low[:, 1:], np.full((len(low), 1), TOP, dtype=np.int64)], axis=1)

    def integral(self, start: I64, end: I64) -> I64:
        a = np.maximum(start[:, None], self.low)
        b = np.minimum(end[:, None], self.hi)
        total = (np.maximum(b - a, 0) * self.rate).sum(axis=1)
        return np.where(end > start, total, 0)

    def rate_at(self, x: I64) -> I64:
        idx = (x[:, None] >= self.low).sum(axis=1)
        return np.where(idx > 0, self.rate[np.arange(len(x)), np.maximum(idx - 1, 0)], 0)

    def reach(self, start: I64, target: I64) -> tuple[I64, B]:
        """Where the integral from ``start`` first reaches ``target`` (fen·bp), and whether it ever does."""
        res = start.copy()
        done = target <= 0
        acc = np.zeros_like(start)
        for b in range(self.low.shape[1]):
            lo, hi, r = self.low[:, b], self.hi[:, b], self.rate[:, b]
            a = np.maximum(start, lo)
            active = ~done & (hi > a) & (r > 0)
            if not active.any():
                continue
            capacity = (np.minimum(hi, a + (1 << 40)) - a) * r
            hit = active & ((hi >= TOP) | (acc + capacity >= target))
            need = target - acc
            res = np.where(hit, a + (2 * need + r) // (2 * np.maximum(r, 1)), res)
            done = done | hit
            acc = np.where(active & ~hit, acc + capacity, acc)
        return res, done


def pay_with_cap(sc: Scales, start: I64, covered: I64, remaining: I64, on_fee: B) -> tuple[I64, I64, I64, I64]:
    """(pay, ratio, eligible, over_cap_fee) as :func:`yibao.engine.pooled_fund.pay_with_cap`."""
    room = np.minimum(covered, np.maximum(0, remaining))
    pay_fee = _round(sc.integral(start, start + room))
    ratio_fee = sc.rate_at(np.where(room > 0, start + room - 1, start))
    raw = _round(sc.integral(start, start + covered))
    ratio_pay = sc.rate_at(start + covered - 1)
    fits = raw <= remaining
    pay_cap = np.where(fits, raw, np.maximum(0, remaining))
    within = covered
    if not fits.all():
        reached, found = sc.reach(start, pay_cap * ONE)
        within = np.where(found, np.maximum(0, np.minimum(covered, reached - start)), covered)
    elig_pay = np.where(fits, covered, within)
    pay = np.where(on_fee, pay_fee, pay_cap)
    ratio = np.where(on_fee, ratio_fee, ratio_pay)
    elig = np.where(on_fee, room, elig_pay)
    positive = covered > 0
    return (np.where(positive, pay, 0), np.where(positive, ratio, sc.rate_at(start)),
            np.where(positive, elig, 0), np.where(positive, covered - elig, 0))  # fmt: skip


class Flat(Scales):
    """One band from zero at ``ratio``: the same answers as a one-band :class:`Scales`, without the 2-D arrays."""

    def __init__(self, ratio: I64) -> None:
        self.r = ratio

    def integral(self, start: I64, end: I64) -> I64:
        return np.where(end > start, np.maximum(end - np.maximum(start, 0), 0) * self.r, 0)

    def rate_at(self, x: I64) -> I64:
        return np.where(x >= 0, self.r, 0)

    def reach(self, start: I64, target: I64) -> tuple[I64, B]:
        done = target <= 0
        hit = ~done & (self.r > 0)
        at = np.maximum(start, 0) + (2 * target + self.r) // (2 * np.maximum(self.r, 1))
        return np.where(hit, at, start), done | hit


class Chain:
    """The run's arrays: claims ``C`` (length N), terms ``T`` (per key), state ``S`` (per person-year),
    chronic state ``CH`` (per person-year × disease) and outputs ``res`` (length N)."""

    def __init__(self, C: dict[str, Any], T: TermsTable, S: dict[str, I64], CH: dict[str, I64]) -> None:
        self.C, self.S, self.CH = C, S, CH
        self.T: dict[str, I64] = T.cols
        n = len(C["key"])
        self.res: dict[str, I64] = {name: np.zeros(n, dtype=np.int64) for name in OUT}
        self.cap_hit = np.zeros(n, dtype=bool)
        t = self.T
        self.static_mask = (t["m_pool"] | t["m_chronic"] | t["m_pharmacy_level"] | t["m_op"] | t["m_ci"]
                            | t["m_as_flag"] | t["m_as"] | t["m_ti_flag"] | t["m_ti"]
                            | np.where(t["visit"] == 0, t["m_ded"], 0))  # fmt: skip
        self.ded_from = np.stack([t[f"m_ded_from_{lv}"] for lv in range(4)], axis=1)
        self.pp = np.zeros(n, dtype=np.int64)  # the policy-range burden left to the person, step by step

    def t(self, name: str, ix: I64) -> I64:
        return cast(I64, self.T[name][self.C["key"][ix]])

    def s(self, name: str, ix: I64) -> I64:
        return cast(I64, self.S[name][self.C["g"][ix]])

    # -- one round ---------------------------------------------------------------------------------
    def round(self, ix: I64) -> None:
        C = self.C
        rev = C["orig"][ix] >= 0
        if rev.any():
            self._reverse(ix[rev])
            ix = ix[~rev]
        visit = self.t("visit", ix)
        live = ~C["waiting"][ix]
        res = self.res
        mask = self.t("m_split", ix) | np.where(C["account_use"][ix] == 2, self.t("m_acct_employee", ix),
                                                self.t("m_acct_own", ix))  # fmt: skip
        res["mask"][ix] = mask | np.where(live, self.static_mask[C["key"][ix]], 0)
        self._inpatient(ix[live & (visit == 0)])
        self._chronic(ix[live & (visit == 2)])
        self._outpatient(ix[live & ((visit == 1) | (visit == 3))])
        self._critical_illness(ix[live & (self.t("ci_on", ix) == 1)])
        self._assistance(ix[live & (self.t("as_on", ix) == 1)])
        self._account(ix)
        self._apply(ix, ix, 1)

    def _inpatient(self, ix: I64) -> None:
        if not len(ix):
            return
        C, res, t = self.C, self.res, self.t
        pr = C["policy_range"][ix]
        level = C["level"][ix]
        tfrom = C["transfer_from"][ix]
        transfer = tfrom >= 0
        ded_levels = self.T["ded"][C["key"][ix]]
        amount = ded_levels[np.arange(len(ix)), level]
        amount_tr = np.maximum(0, amount - ded_levels[np.arange(len(ix)), np.maximum(tfrom, 0)])
        ordinal = self.s("admissions", ix) + 1
        annual = t("ded_annual", ix) == 1
        later = t("later", ix)
        applies = ~transfer & (later != 0) & (ordinal > 1) & ~annual
        pct = mul_ratio(amount, t("later_pct", ix))
        sched = self.T["later_sched"][C["key"][ix]]
        factor = sched[np.arange(len(ix)), np.minimum(ordinal - 1, t("later_sched_n", ix) - 1)]
        step = np.maximum(np.minimum(t("later_floor", ix), amount), amount - t("later_step", ix) * (ordinal - 1))
        later_amount = np.select([later == 1, later == 2, later == 3], [pct, mul_ratio(amount, factor), step], amount)
        amount = np.where(applies, later_amount, amount)
        day = ~transfer & C["day_surgery"][ix] & (t("has_day", ix) == 1)
        amount = np.where(day, np.maximum(0, amount - t("day_cut", ix)), amount)
        amount = np.where(transfer, amount_tr, amount)
        due = np.where(annual, np.maximum(0, amount - self.s("deductible_paid", ix)), amount)
        ded = np.minimum(due, np.maximum(0, pr))
        mask = np.where(transfer, self.ded_from[C["key"][ix], np.maximum(tfrom, 0)], t("m_ded_later_mode", ix))
        mask |= np.where(applies, t("m_ded_later", ix), 0) | np.where(day, t("m_ded_day", ix), 0)

        covered = np.maximum(0, pr - ded)
        banded = t("pool_banded", ix) == 1
        start = np.where(banded, np.where(t("pool_annual", ix) == 1, self.s("inpatient_covered", ix),
                                          np.maximum(0, ded)), 0)  # fmt: skip
        on_fee = t("pool_on_fee", ix) == 1
        used = np.where(on_fee, self.s("inpatient_eligible", ix), self.s("pooled_fund_paid", ix))
        cap = t("pool_cap", ix)
        remaining = np.where(cap >= UNLIMITED, UNLIMITED, np.maximum(0, cap - used))
        sc = Scales(self.T["pool_low"][C["key"][ix]], self.T["pool_rate"][C["key"][ix]])
        pay, ratio, elig, over = pay_with_cap(sc, start, covered, remaining, on_fee)
        le_on = (over > 0) & (t("le_enabled", ix) == 1)
        raw = _round(over * t("le_ratio", ix))
        le_cap = t("le_cap", ix)
        large = np.where(
            le_cap >= UNLIMITED, raw, np.maximum(0, np.minimum(raw, le_cap - self.s("large_expense_paid", ix)))
        )
        large = np.where(le_on, large, 0)
        mask |= np.where(over > 0, t("m_large_flag", ix), 0) | np.where(le_on, t("m_large", ix), 0)
        res["mask"][ix] |= mask
        res["ded"][ix], res["pooled"][ix], res["ratio"][ix] = ded, pay, ratio
        res["covered"][ix], res["elig"][ix], res["large"][ix] = covered, elig, large
        self.cap_hit[ix] = over > 0
        self.pp[ix] = pr - pay - large

    def _chronic(self, ix: I64) -> None:
        if not len(ix):
            return
        C, res, t = self.C, self.res, self.t
        pr = C["policy_range"][ix]
        slot = C["slot"][ix]
        due = np.maximum(0, t("ch_ded", ix) - self.CH["deductible_paid"][slot])
        used = np.minimum(due, np.maximum(0, pr))
        covered = np.maximum(0, pr - used)
        limit = t("ch_limit", ix)
        room = np.where(limit >= UNLIMITED, UNLIMITED, np.maximum(0, limit - self.CH["paid"][slot]))
        shared = t("ch_shared", ix) == 1
        cap = t("ch_cap", ix)
        on_fee = t("ch_on_fee", ix) == 1
        fee_room = np.maximum(0, cap - self.s("inpatient_eligible", ix))
        covered = np.where(shared & on_fee & (cap < UNLIMITED), np.minimum(covered, fee_room), covered)
        cap_room = np.maximum(0, cap - self.s("pooled_fund_paid", ix))
        room = np.where(shared & ~on_fee & (cap < UNLIMITED), np.minimum(room, cap_room), room)
        pay, ratio, _, _ = pay_with_cap(Flat(t("ch_ratio", ix)), np.zeros_like(pr), covered, room,
                                        np.zeros(len(ix), dtype=bool))  # fmt: skip
        res["ded"][ix], res["pooled"][ix], res["ratio"][ix] = used, pay, ratio
        res["covered"][ix] = covered
        res["elig"][ix] = np.where(shared, covered, 0)
        self.pp[ix] = pr - pay

    def _outpatient(self, ix: I64) -> None:
        if not len(ix):
            return
        C, res, t = self.C, self.res, self.t
        pr = C["policy_range"][ix]
        on = t("op_on", ix) == 1
        due = np.maximum(0, t("op_ded", ix) - self.s("outpatient_deductible_paid", ix))
        used = np.minimum(due, np.maximum(0, pr))
        on_fee = t("op_on_fee", ix) == 1
        cap = t("op_cap", ix)
        spent = np.where(on_fee, self.s("outpatient_eligible", ix), self.s("outpatient_pooled_paid", ix))
        room = np.where(cap >= UNLIMITED, UNLIMITED, np.maximum(0, cap - spent))
        pay, ratio, elig, _ = pay_with_cap(Flat(t("op_ratio", ix)), np.zeros_like(pr), np.maximum(0, pr - used),
                                           room, on_fee)  # fmt: skip
        res["ded"][ix] = np.where(on, used, 0)
        res["pooled"][ix] = np.where(on, pay, 0)
        res["ratio"][ix] = np.where(on, ratio, 0)
        res["elig"][ix] = np.where(on, elig, 0)
        self.pp[ix] = pr - res["pooled"][ix]

    def _critical_illness(self, ix: I64) -> None:
        if not len(ix):
            return
        C, res, t = self.C, self.res, self.t
        first = np.where(t("ci_first", ix) == 1, C["self_pay_first"][ix], 0)
        base = np.maximum(0, self.pp[ix] + first)
        paid = self.s("critical_illness_paid", ix)
        cum = self.s("critical_illness_base", ix) + base
        threshold = t("ci_threshold", ix)
        sc = Scales(self.T["ci_low"][C["key"][ix]], self.T["ci_rate"][C["key"][ix]])
        excess = t("ci_excess", ix) == 1
        raw = np.where(excess, sc.integral(np.zeros_like(cum), cum - threshold), sc.integral(threshold, cum))
        entitled = _round(raw)
        cap = t("ci_cap", ix)
        cap = np.where(cap >= UNLIMITED, UNLIMITED, cap + mul_ratio(cap, C["cap_raise"][ix]))
        entitled = np.minimum(entitled, cap)
        pay = np.minimum(np.maximum(0, entitled - paid), base)
        res["ci"][ix], res["ci_base"][ix] = pay, base
        self.pp[ix] -= pay

    def _assistance(self, ix: I64) -> None:
        if not len(ix):
            return
        C, res, t = self.C, self.res, self.t
        visit = t("visit", ix)
        inpatient_class = (visit == 0) | (visit == 2)
        base_raw = self.pp[ix] + np.where(t("as_first", ix) == 1, C["self_pay_first"][ix], 0)
        base = np.maximum(0, base_raw)
        due = np.maximum(0, t("as_ded", ix) - self.s("assistance_deductible_paid", ix))
        used = np.minimum(base, due)
        raw = mul_ratio(base - used, t("as_ratio", ix))
        paid_in, paid_out = self.s("assistance_paid_inpatient", ix), self.s("assistance_paid_outpatient", ix)
        room_class = np.maximum(0, t("as_limit_class", ix) - np.where(inpatient_class, paid_in, paid_out))
        room_total = np.maximum(0, t("as_limit_total", ix) - paid_in - paid_out)
        pay = np.minimum(raw, np.minimum(room_class, room_total))
        res["aid"][ix], res["as_used"][ix] = pay, used
        ti = (t("ti_on", ix) == 1) & (visit != 1)
        residual = base_raw - pay + np.where(t("ti_full", ix) == 1, C["full_self_pay"][ix] + C["over_limit"][ix], 0)
        residual = np.maximum(0, residual)
        before = self.s("tilted_base", ix)
        th = t("ti_threshold", ix)
        eligible = np.where(t("ti_annual", ix) == 1,
                            np.maximum(0, before + residual - th) - np.maximum(0, before - th),
                            np.maximum(0, residual - th))  # fmt: skip
        raw_ti = mul_ratio(eligible, t("ti_ratio", ix))
        tilted = np.minimum(raw_ti, np.maximum(0, t("ti_limit", ix) - self.s("tilted_paid", ix)))
        res["tilted"][ix] = np.where(ti, tilted, 0)
        res["ti_base"][ix] = np.where(ti, residual, 0)

    def _account(self, ix: I64) -> None:
        C, res, t = self.C, self.res, self.t
        fund = res["pooled"][ix] + res["large"][ix] + res["ci"][ix] + res["aid"][ix] + res["tilted"][ix]
        burden = C["total"][ix] - fund
        use = C["account_use"][ix]
        aid_use = use == 2
        enabled = np.where(aid_use, t("acct_employee_enabled", ix), t("acct_own_enabled", ix)) == 1
        all_burden = np.where(aid_use, t("acct_employee_all", ix), t("acct_own_all", ix)) == 1
        mutual = np.where(aid_use, t("acct_employee_mutual", ix), t("acct_own_mutual", ix)) == 1
        on = enabled & (use != 0) & (burden > 0)
        payable = np.where(all_burden, burden, np.maximum(0, burden - C["full_self_pay"][ix] - C["over_limit"][ix]))
        balance = self.s("account_balance", ix)
        acct = np.where(on & (use == 1), np.minimum(np.maximum(0, balance), payable), 0)
        mut = np.where(on & aid_use & mutual, np.minimum(np.maximum(0, C["mutual_aid_balance"][ix]), payable), 0)
        res["fund"][ix], res["burden"][ix], res["acct"][ix], res["mutual"][ix] = fund, burden, acct, mut
        res["cash"][ix] = burden - acct - mut
        res["balance"][ix] = balance - acct

    # -- accumulators ------------------------------------------------------------------------------
    def increments(self, ix: I64) -> dict[str, I64]:
        """What claims ``ix`` added to their person-year's accumulators (a reversal subtracts them)."""
        res, C = self.res, self.C
        visit = self.T["visit"][C["key"][ix]]
        live = ~C["waiting"][ix]
        inp, chronic, outp = visit == 0, visit == 2, (visit == 1) | (visit == 3)
        shared = chronic & (self.T["ch_shared"][C["key"][ix]] == 1)
        z = np.zeros(len(ix), dtype=np.int64)
        pooled, elig = res["pooled"][ix], res["elig"][ix]
        aid = res["aid"][ix]
        return {
            "admissions": (inp & live).astype(np.int64),
            "deductible_paid": np.where(inp, res["ded"][ix], z),
            "inpatient_covered": np.where(inp, res["covered"][ix], z),
            "inpatient_eligible": np.where(inp | shared, elig, z),
            "pooled_fund_paid": np.where(inp | shared, pooled, z),
            "large_expense_paid": res["large"][ix],
            "critical_illness_base": res["ci_base"][ix],
            "critical_illness_paid": res["ci"][ix],
            "outpatient_deductible_paid": np.where(outp, res["ded"][ix], z),
            "outpatient_pooled_paid": np.where(outp, pooled, z),
            "outpatient_eligible": np.where(outp, elig, z),
            "assistance_deductible_paid": res["as_used"][ix],
            "assistance_paid_outpatient": np.where(visit == 1, aid, z),
            "assistance_paid_inpatient": np.where(inp | chronic, aid, z),
            "tilted_base": res["ti_base"][ix],
            "tilted_paid": res["tilted"][ix],
            "account_balance": -res["acct"][ix],
        }

    def _apply(self, ix: I64, source: I64, sign: int) -> None:
        g = self.C["g"][ix]
        for name, inc in self.increments(source).items():
            self.S[name][g] += sign * inc
        visit = self.T["visit"][self.C["key"][source]]
        chronic = visit == 2
        if chronic.any():
            slot = self.C["slot"][source[chronic]]
            self.CH["deductible_paid"][slot] += sign * self.res["ded"][source[chronic]]
            self.CH["paid"][slot] += sign * self.res["pooled"][source[chronic]]

    def _reverse(self, ix: I64) -> None:
        orig = self.C["orig"][ix]
        self._apply(ix, orig, -1)
        for name in OUT:
            if name not in ("ratio", "balance", "mask"):
                self.res[name][ix] = -self.res[name][orig]
        self.res["ratio"][ix] = self.res["ratio"][orig]
        self.res["balance"][ix] = self.S["account_balance"][self.C["g"][ix]]
        self.res["mask"][ix] = 0

    def run(self, threads: int = 1) -> None:
        """All rounds: claims ordered by their rank within their person-year, then stream order.

        A round's claims are the r-th of every person-year; in settlement order they lie a few
        places apart, so its reads and writes stride through memory rather than jump (measured: as
        fast as first laying the arrays out in round order, which costs a random gather of each).

        Person-years never touch each other's state, so with ``threads`` > 1 they are cut into
        that many contiguous ranges of ``g``, each run by its own thread over the same arrays
        (disjoint rows); NumPy drops the GIL inside its array operations."""
        self._refuse_unsettleable()
        C = self.C
        parts = max(1, min(threads, len(C["g"]) // 100_000 + 1))  # small batches: one thread
        if parts == 1:
            self._rounds(np.arange(len(C["g"]), dtype=np.int64))
            return
        cuts = np.quantile(C["g"], np.linspace(0, 1, parts + 1)[1:-1]).astype(np.int64)
        part = np.searchsorted(cuts, C["g"], side="right")
        with ThreadPoolExecutor(parts) as pool:
            for done in [pool.submit(self._rounds, np.flatnonzero(part == p)) for p in range(parts)]:
                done.result()

    def _rounds(self, claims: I64) -> None:
        rank = self.C["rank"][claims]
        if rank.max(initial=0) < 1 << 15:  # NumPy's stable sort of 16-bit integers is a radix sort
            rank = rank.astype(np.int16)
        order = claims[np.argsort(rank, kind="stable")]
        bounds = np.searchsorted(self.C["rank"][order], np.arange(int(rank.max(initial=-1)) + 2))
        for r in range(len(bounds) - 1):
            self.round(order[bounds[r] : bounds[r + 1]])

    def _refuse_unsettleable(self) -> None:
        """A chronic-disease claim without a disease code, or of a disease the region has no terms for,
        is refused before anything is settled: the first in settlement order, as the scalar engine does."""
        C, T = self.C, self.T
        bad = (T["ch_error"][C["key"]] > 0) & (T["visit"][C["key"]] == 2) & ~C["waiting"] & (C["orig"] < 0)
        if bad.any():
            from yibao.errors import InputError

            first = int(np.flatnonzero(bad)[0])
            code = int(T["ch_error"][C["key"][first]])
            raise InputError("disease", "门诊慢特病结算必须给出病种代码" if code == 1
                             else f"该统筹区没有门诊慢特病病种 {C['disease'][first]} 的待遇参数")  # fmt: skip
