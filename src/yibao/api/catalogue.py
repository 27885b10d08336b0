"""1312 医保目录信息查询: page through the catalogue in force for the institution's region."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yibao.api.envelope import Envelope
from yibao.errors import InputError
from yibao.io.fields import Fields
from yibao.money import ratio_to_str
from yibao.service.platform import Platform
from yibao.service.visits import institution

_KIND_LIST_TYPE = {"drug": "101", "service": "201", "facility": "201", "material": "301"}


def query(platform: Platform, session: Session, env: Envelope, data: Fields) -> dict[str, object]:
    inst = institution(session, env.fixmedins_code)
    on_day = data.day("query_date", required=False) or platform.clock().date()
    page = data.integer("page_num", required=False, default=1) or 1
    size = data.integer("page_size", required=False, default=100) or 100
    if page < 1 or not 1 <= size <= 1000:
        raise InputError("input.data.page_size", "页码从1开始，每页1到1000条")
    code = data.text("hilist_code", required=False)
    name = data.text("hilist_name", required=False)
    level = data.text("chrgitm_lv", required=False)
    policy = platform.snapshot.at(inst.region_code, on_day, "fixmedins_code")
    items = sorted(policy.catalog.values(), key=lambda i: i.code)
    if code:
        items = [i for i in items if i.code == code]
    if name:
        items = [i for i in items if name in i.name]
    if level:
        items = [i for i in items if f"0{i.item_class}" == level]
    total = len(items)
    chunk = items[(page - 1) * size : page * size]
    pages = (total + size - 1) // size
    return {
        "pageNum": page,
        "pageSize": size,
        "size": len(chunk),
        "startRow": (page - 1) * size + 1 if chunk else 0,
        "recordCounts": total,
        "pages": pages,
        "firstPage": page == 1,
        "lastPage": page >= pages,
        "data": [
            {
                "hilist_code": i.code,
                "hilist_name": i.name,
                "insu_admdvs": i.region,
                "begndate": i.valid_from.isoformat() if i.valid_from else None,
                "enddate": i.valid_to.isoformat() if i.valid_to else None,
                "chrgitm_lv": f"0{i.item_class}",
                "lmt_used_flag": "1" if i.restricted else "0",
                "list_type": _KIND_LIST_TYPE.get(i.kind, "201"),
                "selfpay_prop": None if i.self_pay_first_ratio is None else ratio_to_str(i.self_pay_first_ratio),
                "pric_uplmt_amt": None if i.payment_standard is None else str(i.payment_standard),
                "vali_flag": "1",
            }
            for i in chunk
        ],
    }
