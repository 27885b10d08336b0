"""Fee-line split (费用分割): full self-pay, over-limit, self-pay-first, policy range.

For one line of amount ``A`` (benefit-rules.md §1.1)::

    not covered (丙类, or a restriction not met)  → full_self_pay = A
    otherwise  over_limit     = A − round(payment_standard × qty)   when price > standard
               self_pay_first = round((A − over_limit) × selfpay_prop)    (乙类 only)
               policy_range   = A − over_limit − self_pay_first

Each line is rounded half-up to the fen on its own (the line's split is what 2301
returns to the hospital), and the claim totals are sums of the lines, so
``total = full_self_pay + over_limit + self_pay_first + policy_range`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from yibao.engine.model import FeeLine
from yibao.engine.result import LineSplit
from yibao.errors import InputError
from yibao.money import decimal_to_fen_half_up, mul_ratio
from yibao.policy.catalog import CLASS_B, CLASS_C, CatalogItem


class MissingDefaultRatio(Exception):
    """A 乙类 line has no ratio of its own and the policy sets no default (``default_b_ratio < 0``)."""


def restriction_failed(item: CatalogItem, line: FeeLine, sex: str, age: int, visit_type: str, level: int) -> str:
    """The reason code of the first restriction the line does not meet, or ``""``."""
    if item.sex is not None and item.sex != sex:
        return "R-sex"
    if item.age_min is not None and age < item.age_min:
        return "R-age"
    if item.age_max is not None and age > item.age_max:
        return "R-age"
    if item.visit_types is not None and visit_type not in item.visit_types:
        return "R-visit"
    if item.min_hospital_level is not None and level < item.min_hospital_level:
        return "R-level"
    if item.indication_required and not line.indication_met:
        return "R-indication"
    return ""


def split_fee_lines(
    lines: Sequence[FeeLine],
    catalog: dict[str, CatalogItem],
    person_type: str,
    sex: str,
    age: int,
    visit_type: str,
    level: int,
    default_b_ratio: int,
    keep_lines: bool,
) -> tuple[int, int, int, int, int, list[LineSplit] | None]:
    """Split every line; returns (total, full_self_pay, over_limit, self_pay_first, policy_range, lines)."""
    total = full = over = first = scope = 0
    out: list[LineSplit] | None = [] if keep_lines else None
    find = catalog.get
    for i, line in enumerate(lines):
        amount = line.amount
        total += amount
        item = find(line.item_code)
        reason = ""
        if item is None:
            cls = line.declared_class
            if cls is None:
                raise InputError(
                    f"fee_lines[{i}].item_code", f"目录中没有项目 {line.item_code}，且未给出收费项目等级 chrgitm_lv"
                )
            ratio = default_b_ratio if cls == CLASS_B else 0
            cap = None
        else:
            cls = item.item_class
            cap = item.payment_standard
            if item.restricted:
                reason = restriction_failed(item, line, sex, age, visit_type, level)
            if cls != CLASS_B:
                ratio = 0
            elif item.ratio_by_person_type:
                ratio = next((r for t, r in item.ratio_by_person_type if t == person_type), -1)
                if ratio < 0:
                    ratio = default_b_ratio if item.self_pay_first_ratio is None else item.self_pay_first_ratio
            else:
                ratio = default_b_ratio if item.self_pay_first_ratio is None else item.self_pay_first_ratio
        if cls == CLASS_C or reason:
            full += amount
            if out is not None:
                out.append(
                    LineSplit(i, line.line_no, line.item_code, cls, amount, amount, 0, 0, 0, 0, "", reason or "C")
                )
            continue
        ol = 0
        if cap is not None and line.price > cap:
            ol = amount - decimal_to_fen_half_up(cap * line.quantity)
            if amount >= 0:
                ol = 0 if ol < 0 else (amount if ol > amount else ol)
            else:
                ol = 0 if ol > 0 else (amount if ol < amount else ol)
        base = amount - ol
        if ratio:
            if ratio < 0:
                raise MissingDefaultRatio
            # mul_ratio inlined for the usual non-negative amount: half-up to the fen
            psf = (base * ratio + 5000) // 10000 if base >= 0 else mul_ratio(base, ratio)
        else:
            psf = 0
        over += ol
        first += psf
        scope += base - psf
        if out is not None:
            out.append(
                LineSplit(
                    i,
                    line.line_no,
                    line.item_code,
                    cls,
                    amount,
                    0,
                    ol,
                    psf,
                    base - psf,
                    ratio,
                    "" if cap is None else str(cap),
                    "",
                )
            )
    return total, full, over, first, scope, out
