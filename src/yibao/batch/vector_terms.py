"""The vectorised executor's benefit terms: one row of parameters per distinct kind of claim.

A claim's terms depend on the policy in force on its rule date and on the *projection* of its
rule context (the attributes the exception rules in force test), plus the scheme, visit type,
hospital level, disease and assistance category that name the parameter paths. Claims that agree on
these settle under identical parameters, so the terms are read once per distinct key by the scalar
engine's own readers (:class:`yibao.engine.terms.Reader`, the same bundles ``settle`` reads) — one
definition of which policy applies — and the chain kernel gathers them per claim by key index.

Each rule step also records the exception rules its parameters relied on, as a bit mask per key, so
the vectorised executor reports the same ``EXC:`` reason codes as the scalar one for the steps a
claim actually ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from yibao.engine.account import AccountTerms, account_terms
from yibao.engine.critical_illness import critical_illness_terms
from yibao.engine.outpatient import pooling_terms
from yibao.engine.pooled_fund import inpatient_pool_terms
from yibao.engine.result import SETLINFO_FIELD
from yibao.engine.terms import Reader, terms_for
from yibao.errors import InputError
from yibao.policy.context import RuleContext
from yibao.policy.resolved import ResolvedPolicy
from yibao.policy.scale import Scale, flat

I64 = npt.NDArray[np.int64]
#: an absent cap or limit (``None`` in the scalar engine); never reached by a year of fen
UNLIMITED = 1 << 55
#: an infinitely high band edge
TOP = 1 << 58
LATER = {"none": 0, "percentage": 1, "schedule": 2, "fixed_step": 3}
VISITS = ("inpatient", "outpatient", "chronic", "pharmacy")
#: the steps whose exception rules are recorded (bit masks per key), in chain order
STEPS = ("split", "ded", "ded_later_mode", "ded_later", "ded_day", "ded_from_0", "ded_from_1", "ded_from_2",
         "ded_from_3", "pool", "large_flag", "large", "chronic", "pharmacy_level", "op", "ci", "as_flag", "as",
         "ti_flag", "ti", "acct_own", "acct_employee")  # fmt: skip
MAX_BANDS = 8


def _cap(v: int | None) -> int:
    return UNLIMITED if v is None else v


@dataclass
class TermsTable:
    """Column arrays of parameters, one entry per key; ``masks[step]`` the exception-rule bits."""

    rules: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    cols: dict[str, np.ndarray] = field(default_factory=dict)

    def bit(self, applied: list[str]) -> int:
        mask = 0
        for rule in applied:
            if rule not in self.rules:
                if len(self.rules) == 63:
                    raise InputError("policy", "批量结算一次最多支持 63 条例外规则")
                self.rules.append(rule)
            mask |= 1 << self.rules.index(rule)
        return mask

    def freeze(self) -> None:
        if not self.rows:  # a batch without claims: every column empty, of the shape the chain reads
            self.cols = _NoKeys()
            return
        names = self.rows[0].keys()
        for name in names:
            values = [r[name] for r in self.rows]
            if name in ("pool_low", "pool_rate", "ci_low", "ci_rate"):
                self.cols[name] = np.array(values, dtype=np.int64).reshape(len(values), MAX_BANDS)
            elif name in ("ci_code", "ci_setl"):
                self.cols[name] = np.array(values, dtype=object)
            else:
                self.cols[name] = np.array(values, dtype=np.int64)
        for scale in ("pool", "ci"):  # keep only the band columns some key uses (padding bands start at TOP)
            if f"{scale}_low" in self.cols:
                used = max(1, int((self.cols[f"{scale}_low"] < TOP).sum(axis=1).max(initial=1)))
                for part in ("low", "rate"):
                    self.cols[f"{scale}_{part}"] = self.cols[f"{scale}_{part}"][:, :used]

    def reasons(self, mask: int) -> list[str]:
        return sorted(f"EXC:{r}" for i, r in enumerate(self.rules) if mask >> i & 1)


class _NoKeys(dict[str, np.ndarray]):
    """The columns of a table without keys: whichever is asked for, empty (bands with one column)."""

    def __missing__(self, name: str) -> np.ndarray:
        if name in ("pool_low", "pool_rate", "ci_low", "ci_rate"):
            return np.zeros((0, 1), dtype=np.int64)
        return np.zeros(0, dtype=object if name in ("ci_code", "ci_setl") else np.int64)


def _bands(scale: Scale, prefix: str, row: dict[str, Any]) -> None:
    if len(scale.lowers) > MAX_BANDS:
        raise InputError("policy", f"分段数超过 {MAX_BANDS}")
    pad = MAX_BANDS - len(scale.lowers)
    row[f"{prefix}_low"] = [*scale.lowers, *[TOP] * pad]
    row[f"{prefix}_rate"] = [*scale.rates, *[0] * pad]


def build_row(table: TermsTable, policy: ResolvedPolicy, ctx: RuleContext, on: date) -> dict[str, Any]:
    """Every parameter a claim of this key may read, with the exception rules behind each step."""
    shared = terms_for(policy, ctx, on).terms
    masks: dict[str, int] = {}

    def probe(step: str, fn: Callable[[Reader], Any]) -> Any:
        r = Reader(shared, on)
        value = fn(r)
        masks[step] = masks.get(step, 0) | table.bit(r.applied)
        return value

    scheme, level = ctx.scheme, int(ctx.hospital_level[-1])
    row: dict[str, Any] = {"visit": VISITS.index(ctx.visit_type), "employee": int(scheme == "employee")}
    split_path = f"{scheme}.fee_split.class_b_self_pay_first_ratio"
    default_b = probe("split", lambda r: r.ratio(split_path) if r.has(split_path) else None)
    row["default_b"] = -1 if default_b is None else default_b  # -1: the policy sets no default 乙类 ratio

    # inpatient deductible (engine/deductible.py), every variant's parameters
    ded = f"{scheme}.inpatient.deductible"

    def level_amount(lv: int) -> Callable[[Reader], int]:
        return lambda r: r.amount(f"{ded}.level_{lv}") if r.has(f"{ded}.level_{lv}") else 0

    row["ded"] = [probe("ded" if lv == level else f"ded_from_{lv}", level_amount(lv)) for lv in range(4)]
    if ctx.visit_type == "inpatient" and not policy.has(f"{ded}.level_{level}"):
        row["ded"][level] = probe("ded", lambda r: r.amount(f"{ded}.level_{level}"))  # raises NoPolicyInForce
    row["ded_annual"] = int(probe("ded", lambda r: r.choice(f"{ded}.mode", "per_admission")) == "annual")
    later = probe("ded_later_mode", lambda r: r.choice(f"{ded}.later_admission.mode", "none"))
    row["later"] = LATER[later]
    row["later_pct"] = row["later_step"] = row["later_floor"] = 0
    row["later_sched"] = [0] * 6
    row["later_sched_n"] = 1
    if later == "percentage":
        row["later_pct"] = probe("ded_later", lambda r: r.ratio(f"{ded}.later_admission.percentage"))
    elif later == "schedule":
        sched = probe("ded_later", lambda r: r.ratios(f"{ded}.later_admission.schedule"))
        if len(sched) > 6:
            raise InputError(f"{ded}.later_admission.schedule", "批量结算支持最多 6 档再次住院起付线比例")
        row["later_sched"] = [*sched[:6], *[sched[-1]] * (6 - len(sched[:6]))]
        row["later_sched_n"] = min(len(sched), 6)
    elif later == "fixed_step":
        row["later_step"] = probe("ded_later", lambda r: r.amount(f"{ded}.later_admission.step"))
        row["later_floor"] = probe("ded_later", lambda r: r.amount(f"{ded}.later_admission.floor.level_{level}"))
    has_day = policy.has(f"{ded}.day_surgery_reduction")
    row["day_cut"] = probe("ded_day", lambda r: r.amount(f"{ded}.day_surgery_reduction")) if has_day else 0
    row["has_day"] = int(has_day)

    pool = None
    if ctx.visit_type == "inpatient":
        pool = probe("pool", lambda r: r.bundle(("inpatient_pool", scheme, f"level_{level}"),
                                                lambda q: inpatient_pool_terms(q, scheme, f"level_{level}")))  # fmt: skip
    _bands(pool.scale if pool else flat(0), "pool", row)
    row["pool_banded"] = int(bool(pool and pool.banded))
    row["pool_annual"] = int(bool(pool and pool.annual_basis))
    row["pool_cap"] = _cap(pool.cap) if pool else UNLIMITED
    row["pool_on_fee"] = int(bool(pool and pool.cap_on_fee))
    le = f"{scheme}.large_expense"
    row["le_enabled"] = int(probe("large_flag", lambda r: r.flag(f"{le}.enabled")))
    row["le_ratio"] = probe("large", lambda r: r.ratio(f"{le}.ratio")) if row["le_enabled"] else 0
    row["le_cap"] = _cap(probe("large", lambda r: r.cap(f"{le}.annual_cap"))) if row["le_enabled"] else UNLIMITED

    _chronic(row, probe, policy, ctx, scheme, level)
    _outpatient(row, probe, ctx, scheme, level)
    _critical_illness(row, probe, scheme)
    _assistance(row, probe, ctx)

    def account(w: str) -> Callable[[Reader], AccountTerms | None]:
        return lambda r: r.bundle(("personal_account", w), lambda q: account_terms(q, w))

    for owner in ("own", "employee"):
        t = probe(f"acct_{owner}", account(scheme if owner == "own" else "employee"))
        row[f"acct_{owner}_enabled"] = int(t is not None)
        row[f"acct_{owner}_all"] = int(bool(t and t.all_burden))
        row[f"acct_{owner}_mutual"] = int(bool(t and t.mutual_aid))
    for step in STEPS:
        row[f"m_{step}"] = masks.get(step, 0)
    return row


Probe = Callable[[str, Callable[[Reader], Any]], Any]


def _chronic(row: dict[str, Any], probe: Probe, policy: ResolvedPolicy, ctx: RuleContext, scheme: str,
             level: int) -> None:  # fmt: skip
    row["ch_ded"] = row["ch_ratio"] = row["ch_shared"] = row["ch_on_fee"] = row["ch_error"] = 0
    row["ch_limit"] = row["ch_cap"] = UNLIMITED
    if ctx.visit_type != "chronic":
        return
    base = f"{scheme}.chronic.{ctx.disease}"
    # the scalar engine refuses these only when a fund would pay (not in a waiting period): the kernel checks
    row["ch_error"] = 1 if not ctx.disease else (2 if not policy.has(f"{base}.mode") else 0)
    if row["ch_error"]:
        return

    def read(r: Reader) -> None:
        mode = r.choice(f"{base}.mode", "own_limit")
        lvl = f"level_{level}"
        if mode == "as_inpatient":
            row["ch_ded"] = r.amount(f"{scheme}.inpatient.deductible.{lvl}")
            path = f"{base}.ratio" if r.has(f"{base}.ratio") else f"{scheme}.inpatient.ratio.{lvl}"
        else:
            row["ch_ded"] = r.amount(f"{base}.deductible") if r.has(f"{base}.deductible") else 0
            path = f"{base}.ratio"
        row["ch_ratio"] = r.ratio(path)
        row["ch_limit"] = _cap(r.cap(f"{base}.annual_limit"))
        row["ch_shared"] = int(r.flag(f"{scheme}.chronic.shares_inpatient_cap"))
        if row["ch_shared"]:
            row["ch_cap"] = _cap(r.cap(f"{scheme}.inpatient.annual_cap"))
            basis = r.choice(f"{scheme}.inpatient.annual_cap_basis", "fund_payment")
            row["ch_on_fee"] = int(basis == "eligible_fee")

    probe("chronic", read)


def _outpatient(row: dict[str, Any], probe: Probe, ctx: RuleContext, scheme: str, level: int) -> None:
    row["op_on"] = row["op_ded"] = row["op_ratio"] = row["op_on_fee"] = 0
    row["op_cap"] = UNLIMITED
    if ctx.visit_type not in ("outpatient", "pharmacy"):
        return
    lvl = f"level_{level}"
    if ctx.visit_type == "pharmacy":
        lvl = probe("pharmacy_level", lambda r: r.choice(f"{scheme}.outpatient_pooling.pharmacy_level", "none"))
    if lvl == "none":
        return
    t = probe("op", lambda r: r.bundle(("outpatient_pooling", scheme, lvl), lambda q: pooling_terms(q, scheme, lvl)))
    if t is None:
        return
    row.update(op_on=1, op_ded=t.deductible, op_ratio=t.ratio, op_cap=_cap(t.cap), op_on_fee=int(t.on_fee))


def _critical_illness(row: dict[str, Any], probe: Probe, scheme: str) -> None:
    t = None
    if row["visit"] != VISITS.index("pharmacy"):
        t = probe("ci", lambda r: r.bundle(("critical_illness", scheme), lambda q: critical_illness_terms(q, scheme)))
    applies = t is not None and (
        row["visit"] == 0 or (row["visit"] == 2 and t.includes_chronic) or (row["visit"] == 1 and t.includes_outpatient)
    )
    row["ci_on"] = int(applies)
    row["ci_code"] = t.fund_code if t else ""
    row["ci_setl"] = SETLINFO_FIELD.get(t.fund_code, "oth_pay") if t else ""
    row["ci_threshold"] = t.threshold if t else 0
    row["ci_excess"] = int(bool(t and t.excess))
    row["ci_cap"] = _cap(t.cap) if t else UNLIMITED
    row["ci_first"] = int(bool(t and t.with_first))
    _bands(t.bands if t else flat(0), "ci", row)


def _assistance(row: dict[str, Any], probe: Probe, ctx: RuleContext) -> None:
    cat = ctx.assistance_category
    row["as_on"] = row["as_first"] = row["as_ded"] = row["as_ratio"] = 0
    row["as_limit_class"] = row["as_limit_total"] = UNLIMITED
    row["ti_on"] = row["ti_full"] = row["ti_threshold"] = row["ti_ratio"] = row["ti_annual"] = 0
    row["ti_limit"] = UNLIMITED
    if cat == "none" or ctx.visit_type == "pharmacy":
        return
    row["as_first"] = int(probe("as_flag", lambda r: r.flag("assistance.base_includes_self_pay_first")))
    prefix = f"assistance.{cat}"

    def read(r: Reader) -> None:
        if not r.has(f"{prefix}.ratio"):
            return
        row["as_on"] = 1
        row["as_ded"] = r.amount(f"{prefix}.deductible") if r.has(f"{prefix}.deductible") else 0
        row["as_ratio"] = r.ratio(f"{prefix}.ratio")
        kind = "inpatient" if ctx.visit_type in ("inpatient", "chronic") else "outpatient"
        row["as_limit_class"] = _cap(r.cap(f"{prefix}.limit.{kind}"))
        row["as_limit_total"] = _cap(r.cap(f"{prefix}.limit.total"))

    probe("as", read)
    if not row["as_on"] or ctx.visit_type == "outpatient":
        return
    row["ti_full"] = int(probe("ti_flag", lambda r: r.flag("tilted_assistance.base_includes_full_self_pay")))
    tp = f"tilted_assistance.{cat}"

    def tilted(r: Reader) -> None:
        if not r.has(f"{tp}.ratio"):
            return
        row["ti_on"] = 1
        row["ti_threshold"] = r.amount(f"{tp}.threshold")
        row["ti_ratio"] = r.ratio(f"{tp}.ratio")
        row["ti_limit"] = _cap(r.cap(f"{tp}.limit"))
        row["ti_annual"] = int(r.choice("tilted_assistance.scope", "per_settlement") == "annual")

    probe("ti", tilted)
