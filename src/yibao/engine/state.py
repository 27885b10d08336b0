"""Year-to-date accumulators: the explicit state a settlement reads and returns.

Keyed by person × scheme × pooling region × year. Every settlement returns the
accumulators after it *and* the deltas it applied, so a reversal can subtract exactly
what the original added. All amounts are fen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

#: scalar accumulators (name → Chinese label, for traces and documentation)
COUNTERS: dict[str, str] = {
    "admissions": "本年住院次数",
    "deductible_paid": "本年住院已付起付线",
    "inpatient_covered": "本年住院起付线以上政策范围内费用累计",
    "inpatient_eligible": "本年计入封顶线的政策范围内费用累计",
    "pooled_fund_paid": "本年统筹基金已支付（住院及共用封顶线的门诊慢特病）",
    "large_expense_paid": "本年大额医疗费用补助已支付",
    "critical_illness_base": "本年大病保险合规费用累计",
    "critical_illness_paid": "本年大病保险已支付",
    "outpatient_deductible_paid": "本年普通门诊统筹已付起付线",
    "outpatient_pooled_paid": "本年普通门诊统筹已支付",
    "outpatient_eligible": "本年计入门诊统筹限额的政策范围内费用累计",
    "assistance_deductible_paid": "本年医疗救助已付起付线",
    "assistance_paid_outpatient": "本年门诊医疗救助已支付",
    "assistance_paid_inpatient": "本年住院（含门诊慢特病）医疗救助已支付",
    "tilted_base": "本年倾斜救助费用累计",
    "tilted_paid": "本年倾斜救助已支付",
}
#: per-disease chronic accumulators
CHRONIC_COUNTERS = ("paid", "deductible_paid")


@dataclass(slots=True)
class Accumulators:
    person_id: str
    scheme: str
    region: str
    year: int
    admissions: int = 0
    deductible_paid: int = 0
    inpatient_covered: int = 0
    inpatient_eligible: int = 0
    pooled_fund_paid: int = 0
    large_expense_paid: int = 0
    critical_illness_base: int = 0
    critical_illness_paid: int = 0
    outpatient_deductible_paid: int = 0
    outpatient_pooled_paid: int = 0
    outpatient_eligible: int = 0
    assistance_deductible_paid: int = 0
    assistance_paid_outpatient: int = 0
    assistance_paid_inpatient: int = 0
    tilted_base: int = 0
    tilted_paid: int = 0
    account_balance: int = 0  # carries over between years
    chronic: dict[str, dict[str, int]] = field(default_factory=dict)

    def copy(self) -> Accumulators:
        # written out rather than dataclasses.replace: this runs on every settlement
        return Accumulators(
            self.person_id,
            self.scheme,
            self.region,
            self.year,
            self.admissions,
            self.deductible_paid,
            self.inpatient_covered,
            self.inpatient_eligible,
            self.pooled_fund_paid,
            self.large_expense_paid,
            self.critical_illness_base,
            self.critical_illness_paid,
            self.outpatient_deductible_paid,
            self.outpatient_pooled_paid,
            self.outpatient_eligible,
            self.assistance_deductible_paid,
            self.assistance_paid_outpatient,
            self.assistance_paid_inpatient,
            self.tilted_base,
            self.tilted_paid,
            self.account_balance,
            {k: dict(v) for k, v in self.chronic.items()} if self.chronic else {},
        )

    def for_year(self, year: int) -> Accumulators:
        """The accumulators to settle a claim of ``year``: a new year starts from zero
        (the personal account balance carries over)."""
        if year == self.year:
            return self.copy()
        return Accumulators(self.person_id, self.scheme, self.region, year, account_balance=self.account_balance)

    def chronic_value(self, disease: str, name: str) -> int:
        return self.chronic.get(disease, {}).get(name, 0)

    def add_chronic(self, disease: str, name: str, amount: int) -> None:
        """Add to a per-disease counter; a disease whose counters are all zero is not kept."""
        if amount == 0:
            return
        slot = self.chronic.setdefault(disease, dict.fromkeys(CHRONIC_COUNTERS, 0))
        slot[name] = slot.get(name, 0) + amount
        if not any(slot.values()):
            del self.chronic[disease]


def new_state(person_id: str, scheme: str, region: str, year: int, account_balance: int = 0) -> Accumulators:
    return Accumulators(person_id, scheme, region, year, account_balance=account_balance)


_DELTA_NAMES = (*COUNTERS, "account_balance")
_delta_values = attrgetter(*_DELTA_NAMES)


def deltas(before: Accumulators, after: Accumulators) -> dict[str, object]:
    """What a settlement changed: ``{counter: delta}`` plus ``chronic: {disease: {name: delta}}``."""
    now, then = _delta_values(after), _delta_values(before)
    out: dict[str, object] = (
        {} if now == then else {n: a - b for n, a, b in zip(_DELTA_NAMES, now, then, strict=True) if a != b}
    )
    chronic: dict[str, dict[str, int]] = {}
    for disease, slot in after.chronic.items():
        for name in CHRONIC_COUNTERS:
            d = slot.get(name, 0) - before.chronic_value(disease, name)
            if d:
                chronic.setdefault(disease, {})[name] = d
    if chronic:
        out["chronic"] = chronic
    return out
