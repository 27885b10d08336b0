"""The national message envelope: common input (spec table 2) and common output (tables 3–4).

Lenient in: a JSON body whatever the Content-Type, ``input`` as an object or a JSON string,
numbers as numbers or numeric strings, ``""``/``null``/``"null"`` for empty optional fields,
unknown fields ignored. Strict out: ``infcode`` the number 0 or −1, times as
``yyyyMMddHHmmssSSS``, every answer HTTP 200.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from yibao.errors import InputError
from yibao.io.fields import Fields, is_empty

MAX_BODY = 2_000_000  # bytes; the spec's input is ≤ 40,000 characters, fee uploads can be larger


@dataclass
class Envelope:
    infno: str
    msgid: str
    fixmedins_code: str
    mdtrtarea_admvs: str
    insuplc_admdvs: str
    opter: str
    fields: Fields
    input: Fields


def parse(body: bytes, infno_in_path: str | None = None) -> Envelope:
    if len(body) > MAX_BODY:
        raise InputError("(报文)", f"报文过大（超过上限 {MAX_BODY} 字节）")
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError("(报文)", "报文不是 UTF-8 编码") from None
    except json.JSONDecodeError as e:
        raise InputError("(报文)", f"不是合法的 JSON（第 {e.lineno} 行第 {e.colno} 列：{e.msg}）") from None
    except (RecursionError, ValueError):  # nesting too deep; an integer of thousands of digits
        raise InputError("(报文)", "报文结构嵌套过深或数值过大") from None
    f = Fields(data, "")
    infno = f.text("infno", required=infno_in_path is None, max_len=10) or (infno_in_path or "")
    if infno_in_path and infno != infno_in_path:
        raise InputError("infno", f"报文中的交易编号 {infno} 与地址中的 {infno_in_path} 不符")
    msgid = f.text("msgid", max_len=30)
    raw_input = f.data.get("input")
    if isinstance(raw_input, str) and not is_empty(raw_input):
        try:
            raw_input = json.loads(raw_input)
        except (json.JSONDecodeError, RecursionError, ValueError):
            raise InputError("input", "交易输入不是合法的 JSON") from None
    if is_empty(raw_input):
        raw_input = {}
    return Envelope(
        infno=infno,
        msgid=msgid,
        fixmedins_code=f.text("fixmedins_code", max_len=30),
        mdtrtarea_admvs=f.text("mdtrtarea_admvs", required=False, max_len=6),
        insuplc_admdvs=f.text("insuplc_admdvs", required=False, max_len=6),
        opter=f.text("opter", required=False, max_len=30),
        fields=f,
        input=Fields(raw_input, "input"),
    )


def stamp(at: datetime) -> str:
    return f"{at:%Y%m%d%H%M%S}{at.microsecond // 1000:03d}"


def answer(
    infcode: int, refmsgid: str, received: datetime, responded: datetime, output: object, err_msg: str = ""
) -> dict[str, object]:
    return {
        "infcode": infcode,
        "inf_refmsgid": refmsgid,
        "refmsg_time": stamp(received),
        "respond_time": stamp(responded),
        "err_msg": err_msg,
        "warn_msg": "",
        "cainfo": "",
        "signtype": "",
        "output": output,
    }
