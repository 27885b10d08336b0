"""Output nodes of the national interface built from service results (amounts as numbers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yibao.api.jsonout import amount, ratio
from yibao.engine.result import FUND_NAMES, LineSplit
from yibao.io.settlement_json import SETLINFO_AMOUNTS, setlinfo
from yibao.service.registry import age_on
from yibao.service.settling import Outcome
from yibao.store.pii import mask_certno

TIME = "%Y-%m-%d %H:%M:%S"


def setl_output(o: Outcome, certno: str, psn_name: str, msgid: str, mdtrt_cert_type: str) -> dict[str, object]:
    s = o.result
    amounts = setlinfo(s)
    info: dict[str, object] = {
        "mdtrt_id": s.claim_id,
        "setl_id": o.setl_id,
        "psn_no": s.person_id,
        "psn_name": psn_name,
        "psn_cert_type": "01",
        "certno": mask_certno(certno),
        "gend": o.person.sex,
        "naty": "",
        "brdy": o.person.birth_date.isoformat(),
        "age": age_on(o.person.birth_date, o.setl_time.date()),
        "insutype": "310" if s.scheme == "employee" else "390",
        "psn_type": o.psn_type,
        "cvlserv_flag": "0",
        "setl_time": o.setl_time.strftime(TIME) if o.setl_id else None,
        "mdtrt_cert_type": mdtrt_cert_type,
        "med_type": o.med_type,
    }
    for name in SETLINFO_AMOUNTS:
        info[name] = _num(amounts[name])
    info["pool_prop_selfpay"] = ratio(s.pooled_ratio)
    info.update(
        {
            "medins_setl_id": msgid,
            "clr_optins": s.region,
            "clr_way": "1",
            "clr_type": o.clr_type,
            "exp_content": "",
        }
    )
    details = [
        {
            "fund_pay_type": d.fund_code,
            "inscp_scp_amt": amount(d.base),
            "crt_payb_lmt_amt": amount(d.limit_available) if d.limit_available is not None else amount(0),
            "fund_payamt": amount(d.amount),
            "fund_pay_type_name": FUND_NAMES.get(d.fund_code, "其他基金"),
            "setl_proc_info": d.note,
        }
        for d in s.details
    ]
    return {"setlinfo": info, "setldetail": details}


def _num(text: object) -> object:
    from decimal import Decimal

    return Decimal(str(text))


def fee_results(pairs: list[tuple[dict[str, Any], LineSplit]]) -> list[dict[str, object]]:
    """2204 / 2301 ``result[]``: each line's split."""
    out = []
    for row, split in pairs:
        out.append(
            {
                "feedetl_sn": row["feedetl_sn"],
                "det_item_fee_sumamt": amount(row["amount"]),
                "cnt": row["quantity"],
                "pric": row["price"],
                "pric_uplmt_amt": _num(split.price_cap) if split.price_cap else amount(0),
                "selfpay_prop": ratio(split.self_pay_first_ratio),
                "fulamt_ownpay_amt": amount(split.full_self_pay),
                "overlmt_amt": amount(split.over_limit),
                "preselfpay_amt": amount(split.self_pay_first),
                "inscp_scp_amt": amount(split.policy_range),
                "chrgitm_lv": f"0{split.item_class}",
                "med_chrgitm_type": "",
                "lmt_used_flag": "1" if row["indication_met"] else "0",
                "memo": split.reason,
            }
        )
    return out


def time_text(at: datetime) -> str:
    return at.strftime(TIME)
