"""Personal account (个人账户), family mutual aid (家庭共济), and cash as the residual.

After the 2021 reform (国办发〔2021〕14号) the account pays the person's policy-range
self-pay (deductible, co-insurance, 乙类先行自付); a region may let it pay the whole
personal burden. With ``acct_used_flag = 2`` the payment comes from a family
member's account instead (共济). Cash is what remains, so
``personal_burden = account_pay + mutual_aid_pay + cash_pay`` holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.engine.model import ACCOUNT_MUTUAL_AID, ACCOUNT_OWN
from yibao.engine.terms import Reader
from yibao.engine.trace import Trace, yuan

RULE = "personal_account@1"


@dataclass(slots=True)
class AccountOutcome:
    account_pay: int
    mutual_aid_pay: int
    cash_pay: int
    payable: int


@dataclass(frozen=True, slots=True)
class AccountTerms:
    all_burden: bool
    mutual_aid: bool


def account_terms(r: Reader, scheme: str) -> AccountTerms | None:
    base = f"{scheme}.personal_account"
    if not r.flag(f"{base}.enabled"):
        return None
    return AccountTerms(
        all_burden=r.choice(f"{base}.scope", "policy_range_self_pay") == "all_personal_burden",
        mutual_aid=r.flag(f"{base}.mutual_aid"),
    )


def pay_personal_part(
    terms: Reader,
    scheme: str,
    personal_burden: int,
    not_payable: int,
    account_use: int,
    balance: int,
    mutual_aid_balance: int,
    trace: Trace | None,
) -> AccountOutcome:
    # a family member's account (共济) is an employee's account: its rules are the employee scheme's,
    # whatever the scheme of the person it pays for (国办发〔2021〕14号: 配偶、父母、子女)
    owner = "employee" if account_use == ACCOUNT_MUTUAL_AID else scheme
    base = f"{owner}.personal_account"
    account = acct = aid = 0
    payable = 0
    t = terms.bundle(("personal_account", owner), lambda r: account_terms(r, owner))
    if t is not None and account_use != 0 and personal_burden > 0:
        payable = personal_burden if t.all_burden else max(0, personal_burden - not_payable)
        if account_use == ACCOUNT_OWN:
            acct = min(max(0, balance), payable)
        elif account_use == ACCOUNT_MUTUAL_AID and t.mutual_aid:
            aid = min(max(0, mutual_aid_balance), payable)
        account = acct + aid
    cash = personal_burden - account
    if trace:
        trace.add(
            "personal_account",
            RULE,
            f"个人负担{yuan(personal_burden)}，其中可用个人账户支付{yuan(payable)}；"
            + (f"本人账户余额{yuan(balance)}，支付{yuan(acct)}；" if account_use == ACCOUNT_OWN else "")
            + (
                f"共济账户余额{yuan(mutual_aid_balance)}，支付{yuan(aid)}；"
                if account_use == ACCOUNT_MUTUAL_AID
                else ""
            )
            + f"现金支付{yuan(cash)}。",
            terms.uses(f"{base}.enabled", f"{base}.scope", f"{base}.mutual_aid"),
            {"personal_burden": personal_burden, "balance": balance},
            {"account_pay": acct, "mutual_aid_pay": aid, "cash_pay": cash},
        )
    return AccountOutcome(acct, aid, cash, payable)
