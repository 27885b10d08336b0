"""Catalogues through the interface: 1312 paged query; 1301/1305/1306 download, fetched with 9102."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from yibao.api.envelope import Envelope
from yibao.errors import InputError
from yibao.io.fields import Fields
from yibao.money import ratio_to_str
from yibao.policy.catalog import CatalogItem
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


# -- 1301 / 1305 / 1306 catalogue download, fetched with 9102 ----------------------------------------

#: infno → (catalogue kinds, the file's column count per the specification)
DOWNLOADS = {"1301": (("drug",), 97), "1305": (("service", "facility"), 19), "1306": (("material",), 60)}


@dataclass(frozen=True)
class FileAnswer:
    """A 9102 answer: the file itself, streamed (spec: 文件上传下载交易对应文件以流式数据传输)."""

    filename: str
    content: bytes


def _rows(infno: str, items: list[CatalogItem], version: str) -> list[list[str]]:
    width = DOWNLOADS[infno][1]
    rows = []
    for i in items:
        row = [""] * width
        row[0] = i.code
        if (
            infno == "1301"
        ):  # spec 表 14: col 1 code, 4 通用名, 37/38 dates, 58 限制使用标志, 83 版本号, 92 甲乙类, 96/97
            row[3] = i.name
            row[36] = i.valid_from.isoformat() if i.valid_from else ""
            row[37] = i.valid_to.isoformat() if i.valid_to else ""
            row[57] = "1" if i.restricted else "0"
            row[82] = version
            row[91] = f"0{i.item_class}"
            row[95] = row[36]
            row[96] = row[37]
        else:
            row[1] = i.name
            row[2] = f"0{i.item_class}"
            row[-2] = version
            row[-1] = "1"
        rows.append(row)
    return rows


def download(platform: Platform, session: Session, env: Envelope, data: Fields) -> dict[str, object]:
    """1301 西药中成药 / 1305 医疗服务项目 / 1306 医用耗材 目录下载: the file is then fetched with 9102."""
    inst = institution(session, env.fixmedins_code)
    local_version = data.text("ver")
    today = platform.clock().date()
    kinds, _ = DOWNLOADS[env.infno]
    items = [i for i in platform.snapshot.at(inst.region_code, today).catalog.values() if i.kind in kinds]
    newer = [] if local_version == platform.snapshot.id else sorted(items, key=lambda i: i.code)
    query_no = f"{env.infno}{inst.region_code}{today:%Y%m%d}{platform.snapshot.id}"
    return {
        "file_qury_no": query_no,
        "filename": f"{env.infno}_{platform.snapshot.id}.zip",
        "dld_end_time": (today + timedelta(days=7)).isoformat(),
        "data_cnt": len(newer),
    }


def fetch(platform: Platform, data: Fields) -> FileAnswer:
    """9102: the ZIP of a TAB-separated UTF-8 TXT, regenerated from the file query number."""
    query_no = data.text("file_qury_no")
    infno, region, day, version = query_no[:4], query_no[4:10], query_no[10:18], query_no[18:]
    if infno not in DOWNLOADS or version != platform.snapshot.id:
        raise InputError("input.fsDownloadIn.file_qury_no", "文件查询号无效或文件已过期，请重新下载")
    try:
        on = date(int(day[:4]), int(day[4:6]), int(day[6:8]))
    except ValueError:
        raise InputError("input.fsDownloadIn.file_qury_no", "文件查询号无效") from None
    kinds, _ = DOWNLOADS[infno]
    items = sorted(
        (i for i in platform.snapshot.at(region, on).catalog.values() if i.kind in kinds), key=lambda i: i.code
    )
    text = "\n".join("\t".join(r) for r in _rows(infno, items, version)) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{infno}_{version}.txt", text.encode("utf-8"))
    return FileAnswer(f"{infno}_{version}.zip", buffer.getvalue())
