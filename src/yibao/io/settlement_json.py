"""Render settlements and accumulators as JSON (national field names, yuan with two places),
and read a rendered settlement back for a reversal.
"""

from __future__ import annotations

from collections.abc import Mapping

from yibao.engine.result import ACCOUNT, FUND_NAMES, FundDetail, Settlement
from yibao.engine.state import CHRONIC_COUNTERS, COUNTERS, Accumulators
from yibao.errors import InputError
from yibao.io.claim_json import INSUTYPES, SCHEME_INSUTYPE
from yibao.io.fields import Fields
from yibao.money import fen_to_yuan, ratio_to_str

SETLINFO_AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
    "acct_mulaid_pay",
    "hifdm_pay",
)
CLR_TYPES = {"inpatient": "21", "outpatient": "11", "chronic": "14", "pharmacy": "41"}


def setlinfo_fen(s: Settlement) -> dict[str, int]:
    """The setlinfo amounts in fen, named as the national interface (and the settlement table) names them."""
    return {
        "medfee_sumamt": s.total,
        "fulamt_ownpay_amt": s.full_self_pay,
        "overlmt_selfpay": s.over_limit,
        "preselfpay_amt": s.self_pay_first,
        "inscp_scp_amt": s.policy_range,
        "act_pay_dedc": s.deductible_paid,
        "hifp_pay": s.setlinfo_amount("hifp_pay"),
        "cvlserv_pay": s.setlinfo_amount("cvlserv_pay"),
        "hifes_pay": s.setlinfo_amount("hifes_pay"),
        "hifmi_pay": s.setlinfo_amount("hifmi_pay"),
        "hifob_pay": s.setlinfo_amount("hifob_pay"),
        "maf_pay": s.setlinfo_amount("maf_pay"),
        "oth_pay": s.setlinfo_amount("oth_pay"),
        "fund_pay_sumamt": s.fund_pay_total,
        "psn_part_amt": s.personal_burden,
        # the national acct_pay includes the mutual-aid amount (spec 2207 note 4)
        "acct_pay": s.account_pay + s.mutual_aid_pay,
        "psn_cash_pay": s.cash_pay,
        "hosp_part_amt": s.hospital_burden,
        "balc": s.account_balance,
        "acct_mulaid_pay": s.mutual_aid_pay,
        "hifdm_pay": s.setlinfo_amount("hifdm_pay"),
    }


def setlinfo(s: Settlement) -> dict[str, object]:
    amounts = setlinfo_fen(s)
    out: dict[str, object] = {
        "mdtrt_id": s.claim_id,
        "psn_no": s.person_id,
        "insutype": SCHEME_INSUTYPE[s.scheme],
        "clr_type": CLR_TYPES[s.visit_type],
        "clr_optins": s.region,
        "setl_time": s.rule_date,
    }
    for name in SETLINFO_AMOUNTS:
        out[name] = fen_to_yuan(amounts[name])
    out["pool_prop_selfpay"] = ratio_to_str(s.pooled_ratio)
    return out


def setldetail(s: Settlement) -> list[dict[str, object]]:
    return [
        {
            "fund_pay_type": d.fund_code,
            "fund_pay_type_name": d.name,
            "inscp_scp_amt": fen_to_yuan(d.base),
            "crt_payb_lmt_amt": "" if d.limit_available is None else fen_to_yuan(d.limit_available),
            "fund_payamt": fen_to_yuan(d.amount),
            "setl_proc_info": d.note,
        }
        for d in s.details
    ]


def feedetail(s: Settlement) -> list[dict[str, object]]:
    return [
        {
            "feedetl_sn": x.line_no,
            "hilist_code": x.item_code,
            "det_item_fee_sumamt": fen_to_yuan(x.amount),
            "fulamt_ownpay_amt": fen_to_yuan(x.full_self_pay),
            "overlmt_amt": fen_to_yuan(x.over_limit),
            "preselfpay_amt": fen_to_yuan(x.self_pay_first),
            "inscp_scp_amt": fen_to_yuan(x.policy_range),
            "selfpay_prop": ratio_to_str(x.self_pay_first_ratio),
            "pric_uplmt_amt": x.price_cap,
            "chrgitm_lv": f"0{x.item_class}",
            "reason": x.reason,
        }
        for x in s.lines or []
    ]


def _deltas_json(deltas: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in deltas.items():
        if isinstance(value, dict):
            out[name] = {k: {c: fen_to_yuan(d) for c, d in slot.items()} for k, slot in value.items()}
        elif name == "admissions":
            out[name] = value
        else:
            assert isinstance(value, int)
            out[name] = fen_to_yuan(value)
    return out


def state_json(state: Accumulators) -> dict[str, object]:
    out: dict[str, object] = {
        "psn_no": state.person_id,
        "insutype": SCHEME_INSUTYPE[state.scheme],
        "region": state.region,
        "year": state.year,
    }
    for name in COUNTERS:
        value = getattr(state, name)
        out[name] = value if name == "admissions" else fen_to_yuan(value)
    out["account_balance"] = fen_to_yuan(state.account_balance)
    out["chronic"] = {
        d: {c: fen_to_yuan(slot.get(c, 0)) for c in CHRONIC_COUNTERS} for d, slot in sorted(state.chronic.items())
    }
    return out


def settlement_json(s: Settlement) -> dict[str, object]:
    """The engine's own record: what a reversal or a replay needs besides ``setlinfo``."""
    out: dict[str, object] = {
        "claim_id": s.claim_id,
        "psn_no": s.person_id,
        "insutype": SCHEME_INSUTYPE[s.scheme],
        "region": s.region,
        "visit_type": s.visit_type,
        "rule_date": s.rule_date,
        "year": s.year,
        "policy_snapshot_id": s.snapshot_id,
        "reasons": s.reasons,
        "deltas": _deltas_json(s.deltas),
    }
    if s.reverses:
        out["reverses"] = s.reverses
    if s.mutual_aid_balance_after is not None:
        out["mutual_aid_balance_after"] = fen_to_yuan(s.mutual_aid_balance_after)
    return out


def read_settlement(data: object) -> Settlement:
    """Rebuild a settlement from ``yibao settle`` output, for a reversal."""
    root = Fields(data, "")
    info = root.sub("setlinfo")
    meta = root.sub("settlement")
    s = Settlement(
        claim_id=meta.text("claim_id"),
        person_id=meta.text("psn_no"),
        scheme=meta.choice("insutype", INSUTYPES),
        region=meta.text("region"),
        visit_type=meta.text("visit_type"),
        rule_date=meta.text("rule_date"),
        year=meta.integer("year") or 0,
        snapshot_id=meta.text("policy_snapshot_id"),
        total=info.fen("medfee_sumamt"),
        full_self_pay=info.fen("fulamt_ownpay_amt"),
        over_limit=info.fen("overlmt_selfpay"),
        self_pay_first=info.fen("preselfpay_amt"),
        policy_range=info.fen("inscp_scp_amt"),
        deductible_paid=info.fen("act_pay_dedc"),
        fund_pay_total=info.fen("fund_pay_sumamt"),
        personal_burden=info.fen("psn_part_amt"),
        mutual_aid_pay=info.fen("acct_mulaid_pay"),
        cash_pay=info.fen("psn_cash_pay"),
        hospital_burden=info.fen("hosp_part_amt"),
        account_balance=info.fen("balc"),
        reverses=meta.text("reverses", required=False) or None,
    )
    s.account_pay = info.fen("acct_pay") - s.mutual_aid_pay
    if meta.has("mutual_aid_balance_after"):
        s.mutual_aid_balance_after = meta.fen("mutual_aid_balance_after")
    for d in root.items("setldetail"):
        code = d.text("fund_pay_type")
        if code not in FUND_NAMES and not code.isdigit():
            raise InputError(d.where("fund_pay_type"), f"未知的基金支付类型 {code}")
        limit = d.fen("crt_payb_lmt_amt", required=False, default=-1)
        s.details.append(
            FundDetail(
                code,
                d.fen("fund_payamt"),
                d.fen("inscp_scp_amt"),
                None if limit < 0 else limit,
                d.text("setl_proc_info", required=False),
            )
        )
    deltas: dict[str, object] = {}
    raw = meta.sub("deltas")
    for name in raw.data:
        if name == "chronic":
            chronic: dict[str, dict[str, int]] = {}
            for disease in raw.sub("chronic").data:
                slot = raw.sub("chronic").sub(str(disease))
                chronic[str(disease)] = {c: slot.fen(c) for c in slot.data}
            deltas["chronic"] = chronic
        elif name == "admissions":
            deltas[name] = raw.integer(name) or 0
        else:
            deltas[str(name)] = raw.fen(str(name))
    s.deltas = deltas
    broken = s.identities()
    if broken:
        raise InputError("setlinfo", "原结算金额不满足恒等式：" + "；".join(broken))
    if sum(d.amount for d in s.details if d.fund_code == ACCOUNT) != s.account_pay + s.mutual_aid_pay:
        raise InputError("setldetail", "个人账户明细与 acct_pay 不符")
    return s
