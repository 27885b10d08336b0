"""The fund-management parameters in force for a region on a date (policy files ``fund.*``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yibao.fund.adjustment import AdjustmentRule
from yibao.fund.monitor import Thresholds
from yibao.fund.pooling import SharingRule
from yibao.policy.snapshot import PolicySnapshot


@dataclass(frozen=True, slots=True)
class FundTerms:
    thresholds: Thresholds
    sharing: SharingRule
    adjustment: AdjustmentRule


def fund_terms(snapshot: PolicySnapshot, region: str, on: date) -> FundTerms:
    """Warning thresholds, the city–county sharing rule and the adjustment-fund rule for ``region``."""
    policy = snapshot.at(region, on)

    def v(path: str) -> int:
        return policy.whole_number(f"fund.{path}", on)

    return FundTerms(
        thresholds=Thresholds(
            shortage=v("warning.shortage_months"),
            reasonable_min=v("warning.reasonable_min_months"),
            reasonable_max=v("warning.reasonable_max_months"),
            excess=v("warning.excess_months"),
        ),
        sharing=SharingRule(
            under_collection=v("pooling.county_share.under_collection"),
            over_budget=v("pooling.county_share.over_budget"),
            within_budget=v("pooling.county_share.within_budget"),
        ),
        adjustment=AdjustmentRule(
            levy_rate=v("adjustment.levy_rate"),
            stop_months=v("adjustment.stop_months"),
            reserve_months=v("adjustment.reserve_months"),
        ),
    )
