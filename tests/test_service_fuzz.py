"""Malformed input, and a property-based fuzz of the envelope, through real HTTP on SQLite and PostgreSQL.

Whatever arrives, the answer is HTTP 200 with the national envelope, ``infcode`` the number 0 or
−1, and a refusal writes nothing: the row count of every table of :mod:`yibao.store.models` is
the same after as before. The one row a refusal may leave is by design (``api/app.py``): a
writing transaction that reached its handler is remembered under its ``msgid`` with the refusal
it got, so a repeat gets the same answer. That row is allowed only where the transaction was
reached, and only if it holds exactly the answer the client received. A message refused before
that (unreadable body, envelope, unknown ``infno``) writes nothing at all.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from conftest import new_person
from harness import Client
from yibao.api.transactions import TRANSACTIONS, Transaction
from yibao.store.models import Base, Institution, Message

PATH = "/fsi/api/rsfComIfsService/callService"
NOW = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
TODAY = datetime.now().date().isoformat()
TABLES = Base.metadata.sorted_tables
ENVELOPE_KEYS = {
    "infcode",
    "inf_refmsgid",
    "refmsg_time",
    "respond_time",
    "err_msg",
    "warn_msg",
    "cainfo",
    "signtype",
    "output",
}
CHINESE = re.compile(r"[\u3400-\u9fff]")
GENERIC = "平台内部错误"  # the answer to an unexpected failure: it names no field
READ_ONLY = {infno for infno, tx in TRANSACTIONS.items() if not tx.writes}


# -- what the database holds, and what an answer must look like -------------------------------------


def counts(platform) -> dict[str, int]:
    """Rows of every table, in one statement."""
    query = select(*(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in TABLES))
    with platform.sessions() as s:
        row = s.execute(query).one()
    return dict(zip((t.name for t in TABLES), row, strict=True))


def assert_nothing_written(platform, before: dict[str, int], answer: str, remembered_ok: bool) -> None:
    after = counts(platform)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    grown = changed.pop(Message.__tablename__, None)
    assert not changed, f"a refusal wrote rows: {changed}"
    if grown is None:
        return
    assert remembered_ok, f"a message refused before its transaction ran left a message row: {grown}"
    assert grown[1] - grown[0] == 1, f"message rows {grown}"
    with platform.sessions() as s:
        kept = list(s.scalars(select(Message).where(Message.response == answer)))
    assert len(kept) == 1 and kept[0].status == "done", "the new message row is not the remembered refusal"


def settle_server() -> None:
    """Give the in-process server time to finish logging the traceback of its failure before pytest reports
    ours. Both format tracebacks with ``ast`` and CPython 3.11 keeps the AST builder's depth counter per
    interpreter, not per thread (python/cpython#106905): overlapping, they abort the whole session with
    "INTERNALERROR> SystemError: AST constructor recursion depth mismatch"."""
    time.sleep(0.3)


def envelope_of(r: httpx.Response) -> dict[str, Any]:
    """The answer as the spec's common output: HTTP 200, UTF-8 JSON, infcode the number 0 or -1."""
    if r.status_code != 200:
        settle_server()
        pytest.fail(f"HTTP {r.status_code}: {r.text[:300]}")
    assert r.headers["content-type"].startswith("application/json")
    doc = json.loads(r.content.decode("utf-8"))
    assert isinstance(doc, dict) and set(doc) == ENVELOPE_KEYS, doc
    assert type(doc["infcode"]) is int and doc["infcode"] in (0, -1), doc["infcode"]
    assert re.fullmatch(r"\d{17}", doc["refmsg_time"]) and re.fullmatch(r"\d{17}", doc["respond_time"])
    assert isinstance(doc["inf_refmsgid"], str) and doc["inf_refmsgid"]
    assert isinstance(doc["err_msg"], str)
    if doc["infcode"] == -1:
        assert doc["output"] == {}
        assert doc["err_msg"].strip() and CHINESE.search(doc["err_msg"]), f"not a Chinese message: {doc['err_msg']!r}"
    return doc


# -- a server, a person and an open visit with one fee line ------------------------------------------


@dataclass
class World:
    platform: Any
    client: Client
    psn: str
    visit: str  # an open outpatient visit of psn with fee line "1" uploaded

    def env(self, infno: str, input_: object, /, **over: object) -> dict[str, object]:
        e = self.client.envelope(infno, input_)
        for k, v in over.items():
            if v is DROP:
                del e[k]
            else:
                e[k] = v
        return e

    def send(self, body: object, path: str = PATH) -> httpx.Response:
        """One request on its own connection: a server that fails one must not take the next down with it."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False, allow_nan=True)
        assert isinstance(body, (bytes, str))
        return httpx.post(self.client.base + path, content=body, timeout=60)

    def refused(self, body: object, field: str | None, remembered_ok: bool, path: str = PATH) -> str:
        before = counts(self.platform)
        r = self.send(body, path)
        doc = envelope_of(r)
        assert doc["infcode"] == -1, f"accepted: {r.text[:300]}"
        message = doc["err_msg"]
        if field is not None:
            assert GENERIC not in message, f"the refusal does not name {field}: {message}"
            assert field in message, f"{field!r} not named in {message!r}"
        assert_nothing_written(self.platform, before, r.text, remembered_ok)
        return message

    def ok(self, body: object, path: str = PATH) -> dict[str, Any]:
        doc = envelope_of(self.send(body, path))
        assert doc["infcode"] == 0, doc["err_msg"]
        return doc["output"]


DROP = object()


def registration(psn: str, **kw: object) -> dict[str, object]:
    return {
        "data": {
            "psn_no": psn,
            "insutype": "310",
            "begntime": NOW,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": "x",
            "ipt_otp_no": "OP1",
            "dept_code": "01",
            "dept_name": "内科",
            "caty": "A03",
            **kw,
        }
    }


def fee(mdtrt_id: str, psn: str, sn: str = "1", **kw: object) -> dict[str, object]:
    return {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn,
        "med_list_codg": "DEMO-D0001",
        "medins_list_codg": "HIS-1",
        "pric": "12.50",
        "cnt": "2",
        "bilg_dept_codg": "01",
        "bilg_dept_name": "内科",
        "fee_ocur_time": NOW,
        **kw,
    }


def settlement(mdtrt_id: str, psn: str, **kw: object) -> dict[str, object]:
    return {
        "data": {
            "psn_no": psn,
            "mdtrt_id": mdtrt_id,
            "med_type": "11",
            "psn_setlway": "01",
            "insutype": "310",
            "acct_used_flag": "0",
            "mdtrt_cert_type": "02",
            **kw,
        }
    }


def open_visit(platform, c: Client, lines: int = 1) -> tuple[str, str]:
    psn = new_person(platform)
    out = c.ok("2201", registration(psn))
    mdtrt_id = str(out["data"]["mdtrt_id"])
    if lines:
        c.ok("2204", {"feedetail": [fee(mdtrt_id, psn, str(i + 1)) for i in range(lines)]})
    return psn, mdtrt_id


@pytest.fixture
def world(service) -> World:
    """A fresh person with an open visit (one fee line, 25.00) for each test: cases never share state."""
    platform, base = service
    c = Client(base)
    psn, visit = open_visit(platform, c)
    return World(platform, c, psn, visit)


@pytest.fixture(scope="module")
def shared(service) -> World:
    """One person and visit for the cases that never reach a transaction, and for the fuzz's reads (1101)."""
    platform, base = service
    c = Client(base)
    psn, visit = open_visit(platform, c)
    return World(platform, c, psn, visit)


# -- truncated JSON ------------------------------------------------------------------------------------


def test_truncated_json_is_refused_and_the_whole_message_then_settles(world: World) -> None:
    w = world
    env = w.env("2207", settlement(w.visit, w.psn, remark="门诊结算"))
    body = json.dumps(env, ensure_ascii=False).encode("utf-8")
    inside_a_character = body.index("门".encode()) + 1
    cuts = sorted({1, 2, 10, len(body) // 4, len(body) // 2, inside_a_character, len(body) - 2, len(body) - 1})
    for cut in cuts:
        message = w.refused(body[:cut], "(报文)", remembered_ok=False)
        assert "JSON" in message or "UTF-8" in message, (cut, message)
    # none of it was remembered under the msgid: the whole message is then settled
    assert w.ok(body)["setlinfo"]["setl_id"]


# -- the envelope: missing, wrong types, unreadable bodies ------------------------------------------


def big_envelope(w: World) -> bytes:
    env = w.env("1101", {"data": {"psn_no": w.psn}}, padding="x" * 2_000_001)
    return json.dumps(env).encode()


ENVELOPE_CASES: list[tuple[str, Callable[[World], object], str]] = [
    # required envelope fields, one at a time
    ("no infno", lambda w: w.env("2201", registration(w.psn), infno=DROP), "infno"),
    ("no msgid", lambda w: w.env("2201", registration(w.psn), msgid=DROP), "msgid"),
    ("no fixmedins_code", lambda w: w.env("2201", registration(w.psn), fixmedins_code=DROP), "fixmedins_code"),
    ("empty msgid", lambda w: w.env("2201", registration(w.psn), msgid=""), "msgid"),
    ("null msgid", lambda w: w.env("2201", registration(w.psn), msgid=None), "msgid"),
    ('"null" fixmedins_code', lambda w: w.env("2201", registration(w.psn), fixmedins_code="null"), "fixmedins_code"),
    # wrong types in the envelope
    ("infno an object", lambda w: w.env("2201", registration(w.psn), infno={"code": "2201"}), "infno"),
    ("infno a list", lambda w: w.env("2201", registration(w.psn), infno=["2201"]), "infno"),
    ("infno a boolean", lambda w: w.env("2201", registration(w.psn), infno=True), "infno"),
    ("infno a float", lambda w: w.env("2201", registration(w.psn), infno=2201.5), "infno"),
    ("msgid an object", lambda w: w.env("2201", registration(w.psn), msgid={"id": 1}), "msgid"),
    ("msgid a list", lambda w: w.env("2201", registration(w.psn), msgid=["a"]), "msgid"),
    (
        "fixmedins_code a list",
        lambda w: w.env("2201", registration(w.psn), fixmedins_code=["H44510000001"]),
        "fixmedins_code",
    ),
    ("mdtrtarea_admvs an object", lambda w: w.env("2201", registration(w.psn), mdtrtarea_admvs={}), "mdtrtarea_admvs"),
    ("insuplc_admdvs a list", lambda w: w.env("2201", registration(w.psn), insuplc_admdvs=[]), "insuplc_admdvs"),
    ("opter an object", lambda w: w.env("2201", registration(w.psn), opter={"no": 1}), "opter"),
    ("input a number", lambda w: w.env("2201", 5), "input"),
    ("input a list", lambda w: w.env("2201", [registration(w.psn)]), "input"),
    ("input a boolean", lambda w: w.env("2201", True), "input"),
    ("input a string of a list", lambda w: w.env("2201", json.dumps([registration(w.psn)])), "input"),
    ("input a malformed JSON string", lambda w: w.env("2201", '{"data": {"psn_no": '), "input"),
    ("input a string that is not JSON", lambda w: w.env("2201", "data=psn_no"), "input"),
    # unknown transactions
    ("unknown infno", lambda w: w.env("9999", {"data": {}}), "infno"),
    ("unknown infno, spaces", lambda w: w.env(" 22O1 ", registration(w.psn)), "infno"),
    ("msgid of 31 characters", lambda w: w.env("2201", registration(w.psn), msgid="M" * 31), "msgid"),
    ("msgid of 300 characters", lambda w: w.env("2201", registration(w.psn), msgid="医" * 300), "msgid"),
    # bodies that are no envelope at all
    ("empty body", lambda _: b"", "(报文)"),
    ("whitespace body", lambda _: b" \r\n\t ", "(报文)"),
    ("JSON array", lambda w: [w.env("2201", registration(w.psn))], "(根)"),
    ("JSON string", lambda _: b'"infno=2201"', "(根)"),
    ("JSON number", lambda _: b"2201", "(根)"),
    ("JSON null", lambda _: b"null", "(根)"),
    ("JSON true", lambda _: b"true", "(根)"),
    ("form-encoded", lambda _: b"infno=2201&msgid=1", "(报文)"),
    ("non-UTF-8 bytes", lambda _: b'{"infno": "2201", "msgid": "\xff\xfe\xfd"}', "(报文)"),
    (
        "GBK-encoded envelope",
        lambda w: json.dumps(w.env("2201", registration(w.psn)), ensure_ascii=False).encode("gbk"),
        "(报文)",
    ),
    ("UTF-16 envelope", lambda w: json.dumps(w.env("2201", registration(w.psn))).encode("utf-16"), "(报文)"),
    ("over 2,000,000 bytes", big_envelope, "(报文)"),
]


@pytest.mark.parametrize(("builder", "field"), [pytest.param(b, f, id=i) for i, b, f in ENVELOPE_CASES])
def test_a_malformed_envelope_is_refused_before_anything_runs(shared: World, builder, field: str) -> None:
    shared.refused(builder(shared), field, remembered_ok=False)


def test_the_infno_in_the_path_must_match_the_envelope(shared: World) -> None:
    shared.refused(shared.env("2201", registration(shared.psn)), "infno", False, path=f"{PATH}/2207")


# -- the input nodes of 2201, 2204, 2207: missing, wrong types ----------------------------------------


def reg(**kw: object) -> Callable[[World], object]:
    def build(w: World) -> object:
        data = registration(w.psn)["data"]
        assert isinstance(data, dict)
        for k, v in kw.items():
            if v is DROP:
                del data[k]
            else:
                data[k] = v
        return w.env("2201", {"data": data})

    return build


def up(*lines: dict[str, object] | object, node: object = DROP) -> Callable[[World], object]:
    """2204 on the world's open visit: lines given as overrides of a fresh line ("2", "3", ...)."""

    def build(w: World) -> object:
        if node is not DROP:
            return w.env("2204", {"feedetail": node})
        items: list[object] = []
        for i, over in enumerate(lines):
            if not isinstance(over, dict):
                items.append(over)
                continue
            line = fee(w.visit, w.psn, str(i + 2))
            for k, v in over.items():
                if v is DROP:
                    del line[k]
                else:
                    line[k] = v
            items.append(line)
        return w.env("2204", {"feedetail": items})

    return build


def setl(**kw: object) -> Callable[[World], object]:
    def build(w: World) -> object:
        data = settlement(w.visit, w.psn)["data"]
        assert isinstance(data, dict)
        for k, v in kw.items():
            if v is DROP:
                del data[k]
            else:
                data[k] = v
        return w.env("2207", {"data": data})

    return build


INPUT_CASES: list[tuple[str, Callable[[World], object], str]] = [
    # a number where the envelope wants text is read as text, and then refused by the transaction
    (
        "fixmedins_code a number",
        lambda w: w.env("2201", registration(w.psn), fixmedins_code=44510000001),
        "fixmedins_code",
    ),
    # 2201 outpatient registration
    ("2201 no data node", lambda w: w.env("2201", {"mdtrtinfo": registration(w.psn)["data"]}), "input.data"),
    ("2201 empty input", lambda w: w.env("2201", ""), "input.data"),
    ("2201 data a list", lambda w: w.env("2201", {"data": [registration(w.psn)["data"]]}), "input.data"),
    ("2201 data a string", lambda w: w.env("2201", {"data": "psn_no"}), "input.data"),
    ("2201 data a number", lambda w: w.env("2201", {"data": 1}), "input.data"),
    ("2201 no psn_no", reg(psn_no=DROP), "psn_no"),
    ("2201 no insutype", reg(insutype=DROP), "insutype"),
    ("2201 no begntime", reg(begntime=DROP), "begntime"),
    ("2201 psn_no null", reg(psn_no=None), "psn_no"),
    ('2201 psn_no "null"', reg(psn_no="null"), "psn_no"),
    ("2201 psn_no an object", reg(psn_no={"id": "x"}), "psn_no"),
    ("2201 psn_no a list", reg(psn_no=["x"]), "psn_no"),
    ("2201 psn_no a number", reg(psn_no=4451000001), "psn_no"),
    ("2201 psn_no a boolean", reg(psn_no=True), "psn_no"),
    ("2201 insutype a list", reg(insutype=["310"]), "insutype"),
    ("2201 insutype a wrong number", reg(insutype=391), "insutype"),
    ("2201 begntime a boolean", reg(begntime=False), "begntime"),
    ("2201 begntime a float", reg(begntime=1.5), "begntime"),
    ("2201 begntime an object", reg(begntime={"date": NOW}), "begntime"),
    ("2201 med_type a list", reg(med_type=["11"]), "med_type"),
    ("2201 med_type unknown number", reg(med_type=99), "med_type"),
    ("2201 transfer_from_level text", reg(transfer_from_level="一级"), "transfer_from_level"),
    ("2201 out_of_area_filed neither flag", reg(out_of_area_filed="maybe"), "out_of_area_filed"),
    # 2204 fee upload
    ("2204 no feedetail", lambda w: w.env("2204", {"data": fee(w.visit, w.psn, "2")}), "feedetail"),
    ("2204 feedetail an object", up(node=fee("V", "P", "2")), "feedetail"),
    ("2204 feedetail a string", up(node="[]"), "feedetail"),
    ("2204 feedetail null", up(node=None), "feedetail"),
    ("2204 feedetail empty", up(node=[]), "feedetail"),
    ("2204 feedetail of numbers", up(1, 2), "feedetail[0]"),
    ("2204 feedetail of lists", up([fee("V", "P", "2")]), "feedetail[0]"),
    ("2204 second line a string", up({}, "line"), "feedetail[1]"),
    ("2204 no mdtrt_id", up({"mdtrt_id": DROP}), "mdtrt_id"),
    ("2204 no feedetl_sn", up({"feedetl_sn": DROP}), "feedetl_sn"),
    ("2204 no med_list_codg", up({"med_list_codg": DROP}), "med_list_codg"),
    ("2204 no pric", up({"pric": DROP}), "pric"),
    ("2204 no cnt", up({"cnt": DROP}), "cnt"),
    ("2204 pric text", up({"pric": "十二元"}), "pric"),
    ("2204 pric a boolean", up({"pric": True}), "pric"),
    ("2204 pric a list", up({"pric": [12.5]}), "pric"),
    ("2204 pric an object", up({"pric": {"yuan": 12}}), "pric"),
    ("2204 pric negative", up({"pric": -1}), "pric"),
    ("2204 cnt text", up({"cnt": "两"}), "cnt"),
    ("2204 cnt NaN", up({"cnt": "NaN"}), "cnt"),
    ("2204 det_item_fee_sumamt text", up({"det_item_fee_sumamt": "x"}), "det_item_fee_sumamt"),
    ("2204 det_item_fee_sumamt 3 decimals", up({"det_item_fee_sumamt": "25.001"}), "det_item_fee_sumamt"),
    ("2204 mdtrt_id a list", up({"mdtrt_id": ["V"]}), "mdtrt_id"),
    ("2204 med_list_codg an object", up({"med_list_codg": {}}), "med_list_codg"),
    ("2204 lmt_used_flag neither flag", up({"lmt_used_flag": "maybe"}), "lmt_used_flag"),
    ("2204 second line repeats the first", up({"feedetl_sn": "7"}, {"feedetl_sn": "7"}), "feedetl_sn"),
    # 2207 settlement
    ("2207 no data node", lambda w: w.env("2207", {"setlinfo": settlement(w.visit, w.psn)["data"]}), "input.data"),
    ("2207 data a list", lambda w: w.env("2207", {"data": [settlement(w.visit, w.psn)["data"]]}), "input.data"),
    ("2207 data a boolean", lambda w: w.env("2207", {"data": True}), "input.data"),
    ("2207 no mdtrt_id", setl(mdtrt_id=DROP), "mdtrt_id"),
    ("2207 mdtrt_id an object", setl(mdtrt_id={"id": 1}), "mdtrt_id"),
    ("2207 mdtrt_id a number", setl(mdtrt_id=12345), "mdtrt_id"),
    ("2207 psn_no a number", setl(psn_no=12345), "psn_no"),
    ("2207 psn_no a list", setl(psn_no=["x"]), "psn_no"),
    ("2207 insutype of another scheme", setl(insutype=390), "insutype"),
    ("2207 acct_used_flag a list", setl(acct_used_flag=[1]), "acct_used_flag"),
    ("2207 acct_used_flag 7", setl(acct_used_flag=7), "acct_used_flag"),
    ("2207 mid_setl_flag neither flag", setl(mid_setl_flag="半"), "mid_setl_flag"),
    ("2207 medfee_sumamt text", setl(medfee_sumamt="二十五元"), "medfee_sumamt"),
    ("2207 medfee_sumamt a boolean", setl(medfee_sumamt=True), "medfee_sumamt"),
    ("2207 medfee_sumamt an object", setl(medfee_sumamt={"yuan": 25}), "medfee_sumamt"),
    ("2207 medfee_sumamt wrong", setl(medfee_sumamt=24.99), "medfee_sumamt"),
    ("2207 medfee_sumamt 3 decimals", setl(medfee_sumamt="25.001"), "medfee_sumamt"),
    # amounts no platform can hold: JSON's 1e400 is Infinity
    ("2204 pric 1e400", up({"pric": float("inf")}), "pric"),
    ("2204 pric 1e30", up({"pric": "1e30"}), "pric"),
    ("2204 cnt 1e30", up({"cnt": "1e30"}), "cnt"),
    ("2207 medfee_sumamt 1e400", setl(medfee_sumamt=float("inf")), "medfee_sumamt"),
    ("2207 medfee_sumamt -1e400", setl(medfee_sumamt=float("-inf")), "medfee_sumamt"),
]


@pytest.mark.parametrize(("builder", "field"), [pytest.param(b, f, id=i) for i, b, f in INPUT_CASES])
def test_a_malformed_input_node_is_refused_naming_the_field(world: World, builder, field: str) -> None:
    world.refused(builder(world), field, remembered_ok=True)
    # the visit the case aimed at is as it was: its one line, open, settles for 25.00
    out = world.ok(world.env("2207", settlement(world.visit, world.psn, medfee_sumamt="25.00")))
    assert out["setlinfo"]["medfee_sumamt"] == 25.0


def test_a_msgid_reused_for_another_transaction_is_refused(shared: World) -> None:
    """A repeat of a msgid gets the first answer; the same msgid on another transaction is no repeat. Answering a
    2207 with the stored answer of a 2201 would tell the hospital "settled" (infcode 0) for nothing settled."""
    w = shared
    msgid = w.client.msgid()
    psn = new_person(w.platform)
    first = w.send(w.env("2201", registration(psn), msgid=msgid))
    assert envelope_of(first)["infcode"] == 0
    assert w.send(w.env("2201", registration(psn), msgid=msgid)).text == first.text  # a repeat: the first answer
    w.refused(w.env("2207", settlement(w.visit, w.psn), msgid=msgid), "msgid", remembered_ok=False)


def test_a_msgid_of_another_institution_is_refused_even_where_the_transaction_would_succeed(shared: World) -> None:
    """The first try of a message does not look its msgid up: a 2201 that would register a visit must still be
    refused, and leave nothing, when another institution's message holds that msgid."""
    w = shared
    msgid = w.client.msgid()
    psn = new_person(w.platform)
    first = w.send(w.env("2201", registration(psn), msgid=msgid))
    assert envelope_of(first)["infcode"] == 0
    other = w.env("2201", registration(psn), msgid=msgid, fixmedins_code="H44510200002", fixmedins_name="乡镇卫生院")
    assert w.ok(w.env("2201", registration(psn), fixmedins_code="H44510200002"))["data"]["mdtrt_id"]  # it would
    assert "其他机构" in w.refused(other, "msgid", remembered_ok=False)
    assert w.send(w.env("2201", registration(psn), msgid=msgid)).text == first.text


def test_a_read_only_transaction_keeps_nothing_even_if_it_writes(shared: World, monkeypatch) -> None:
    """On PostgreSQL a read-only message ends with COMMIT, not ROLLBACK (api/app.py: psycopg drops its
    prepared statements on every ROLLBACK), so it runs as BEGIN READ ONLY: a write slipped into a read-only
    transaction — a bug — must fail there and leave nothing. On SQLite it is rolled back as before."""
    w = shared

    def writes_anyway(c: Any) -> object:
        c.session.add(Institution(code="H99999999999", name="只读事务误写", kind="H", hospital_level=1,
                                  region_code="445100", active=True))  # fmt: skip
        c.session.flush()
        return {}

    monkeypatch.setitem(TRANSACTIONS, "1101", Transaction(writes_anyway, False))
    before = counts(w.platform)
    doc = envelope_of(w.send(w.env("1101", {"data": {"psn_no": w.psn}})))
    assert counts(w.platform) == before
    if w.platform.engine.dialect.name == "postgresql":
        assert doc["infcode"] == -1 and GENERIC in doc["err_msg"]
    monkeypatch.undo()
    assert envelope_of(w.send(w.env("1101", {"data": {"psn_no": w.psn}})))["infcode"] == 0  # the real 1101


# -- hostile but well-formed bodies: the answer must still be an envelope ------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE_CASES: list[tuple[str, Callable[[World], object], str | None]] = [
    # bodies Python's json module cannot read without an exception other than JSONDecodeError
    ("array nested 100,000 deep", lambda _: nested(100_000).encode(), "(报文)"),
    ("object nested 5,000 deep", lambda _: ('{"a":' * 5_000 + "1" + "}" * 5_000).encode(), "(报文)"),
    ("input a string nested 5,000 deep", lambda w: w.env("2201", nested(5_000)), "input"),
    (
        "an integer of 5,000 digits",
        lambda w: (
            json.dumps(w.env("2201", registration(w.psn)))
            .replace('"infno"', '"extra": ' + "9" * 5_000 + ', "infno"', 1)
            .encode()
        ),
        None,
    ),
    ("input a string with 5,000 digits", lambda w: w.env("1312", '{"data": {"page_num": ' + "1" * 5_000 + "}}"), None),
    # strings a database or an encoder cannot hold
    ("infno a lone surrogate", lambda w: json.dumps(w.env("\ud800", {})).encode(), "infno"),
    ("msgid a lone surrogate", lambda w: json.dumps(w.env("2201", registration(w.psn), msgid="\udfff")).encode(), None),
    ("msgid with NUL", lambda w: w.env("2201", registration(w.psn), msgid="M\u0000001"), None),
    (
        "fixmedins_code with NUL",
        lambda w: w.env("2201", registration(w.psn), fixmedins_code="H4451\u00000000001"),
        None,
    ),
    (
        "fixmedins_code of 31 characters",
        lambda w: w.env("2201", registration(w.psn), fixmedins_code="H" * 31),
        "fixmedins_code",
    ),
    ("2201 psn_no with NUL", reg(psn_no="T\u0000"), "psn_no"),
    ("2201 ipt_otp_no of 40 characters", reg(ipt_otp_no="I" * 40), None),
    ("2201 dise_codg of 60 characters", reg(dise_codg="D" * 60), None),
    ("2201 transfer_from_level 10**12", reg(transfer_from_level=10**12), None),
    ("2204 feedetl_sn of 40 characters", up({"feedetl_sn": "S" * 40}), None),
    ("2204 medins_list_codg of 60 characters", up({"medins_list_codg": "H" * 60}), None),
    (
        "2203 diag_code of 40 characters",
        lambda w: w.env(
            "2203",
            {
                "mdtrtinfo": {"mdtrt_id": w.visit, "psn_no": w.psn, "med_type": "11"},
                "diseinfo": [{"diag_type": "1", "diag_srt_no": 1, "diag_code": "I" * 40, "diag_name": "高血压"}],
            },
        ),
        None,
    ),
    (
        "2203 diag_srt_no 10**12",
        lambda w: w.env(
            "2203",
            {
                "mdtrtinfo": {"mdtrt_id": w.visit, "psn_no": w.psn, "med_type": "11"},
                "diseinfo": [{"diag_type": "1", "diag_srt_no": 10**12, "diag_code": "I10.x00"}],
            },
        ),
        None,
    ),
    ("9001 opter_no of 40 characters", lambda w: w.env("9001", {"signIn": {"opter_no": "O" * 40}}), None),
    ("9001 opter_no with NUL", lambda w: w.env("9001", {"signIn": {"opter_no": "O\u00001"}}), None),
    ("2601 omsgid of 40 characters", lambda w: w.env("2601", {"data": {"omsgid": "X" * 40, "oinfno": "2207"}}), None),
]


@pytest.mark.parametrize(("builder", "field"), [pytest.param(b, f, id=i) for i, b, f in HOSTILE_CASES])
def test_a_hostile_body_gets_an_envelope_and_a_refusal_writes_nothing(world: World, builder, field: str | None) -> None:
    """Not every one of these must be refused (a long value may be stored), but each is answered with
    the envelope; a refusal is in Chinese, names the field where the field is the cause, and writes nothing."""
    w = world
    before = counts(w.platform)
    r = w.send(builder(w))
    doc = envelope_of(r)
    if doc["infcode"] == -1:
        message = doc["err_msg"]
        assert GENERIC not in message, f"the refusal names no field: {message}"
        if field is not None:
            assert field in message, (field, message)
        assert_nothing_written(w.platform, before, r.text, remembered_ok=True)


# -- lenient in ------------------------------------------------------------------------------------------


def test_unknown_extra_fields_are_ignored(shared: World) -> None:
    w = shared
    psn = new_person(w.platform)
    extra = {"x_vendor": {"ver": [1, 2, {"a": None}]}, "flag": True, "n": 1.5, "empty": None, "中文字段": "值"}
    reg_input = registration(psn, **extra)
    reg_input["x_node"] = [{"whatever": 1}]
    mdtrt_id = w.ok(w.env("2201", reg_input, **extra))["data"]["mdtrt_id"]
    w.ok(w.env("2204", {"feedetail": [fee(mdtrt_id, psn, **extra)], "x_node": {}}, **extra))
    out = w.ok(w.env("2207", {**settlement(mdtrt_id, psn, **extra), "x_node": "x"}, **extra))
    assert out["setlinfo"]["medfee_sumamt"] == 25.0


def test_numbers_as_numbers_and_as_numeric_strings_are_the_same(shared: World) -> None:
    w = shared
    answers = []
    for number in (str, json.loads):
        psn = new_person(w.platform)
        mdtrt_id = w.ok(w.env("2201", registration(psn, insutype=number("310"), transfer_from_level=number("1"))))[
            "data"
        ]["mdtrt_id"]
        w.ok(
            w.env(
                "2203",
                {
                    "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn, "med_type": number("11")},
                    "diseinfo": [
                        {
                            "diag_type": number("1"),
                            "diag_srt_no": number("1"),
                            "diag_code": "I10.x00",
                            "diag_name": "高血压",
                        }
                    ],
                },
            )
        )
        lines = [
            fee(mdtrt_id, psn, number("1"), pric=number("12.5"), cnt=number("2"), det_item_fee_sumamt=number("25")),
            fee(mdtrt_id, psn, number("2"), med_list_codg="DEMO-S0002", pric=number("280.00"), cnt=number("1")),
        ]
        splits = w.ok(w.env("2204", {"feedetail": lines}))["result"]
        setl_out = w.ok(
            w.env("2207", settlement(mdtrt_id, psn, acct_used_flag=number("0"), medfee_sumamt=number("305")))
        )
        page = w.ok(
            w.env(
                "1312",
                {"data": {"updt_time": "2000-01-01 00:00:00", "page_num": number("2"), "page_size": number("3")}},
            )
        )
        answers.append(([{k: v for k, v in s.items() if k != "mdtrt_id"} for s in splits], page))
        info = setl_out["setlinfo"]
        answers[-1] += ({k: info[k] for k in ("medfee_sumamt", "hifp_pay", "psn_cash_pay", "fund_pay_sumamt")},)
    assert answers[0] == answers[1]


@pytest.mark.parametrize("empty", ["", None, "null"], ids=["empty string", "null", "null string"])
def test_empty_optional_fields_are_accepted(shared: World, empty: object) -> None:
    w = shared
    psn = new_person(w.platform)
    env_over = dict.fromkeys(("mdtrtarea_admvs", "insuplc_admdvs", "opter", "opter_name", "sign_no", "cainfo"), empty)
    optional = dict.fromkeys(("ipt_otp_no", "med_type", "dise_codg", "transfer_from_level", "out_of_area_filed"), empty)
    mdtrt_id = w.ok(w.env("2201", registration(psn, **optional), **env_over))["data"]["mdtrt_id"]
    w.ok(
        w.env(
            "2203",
            {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn, "med_type": "11", "dise_codg": empty}},
            **env_over,
        )
    )
    line = fee(
        mdtrt_id,
        psn,
        **dict.fromkeys(
            (
                "chrg_bchno",
                "medins_list_codg",
                "det_item_fee_sumamt",
                "chrgitm_lv",
                "lmt_used_flag",
                "hosp_appr_flag",
                "psn_no",
            ),
            empty,
        ),
    )
    w.ok(w.env("2204", {"feedetail": [line]}, **env_over))
    data = settlement(mdtrt_id, psn)["data"]
    assert isinstance(data, dict)
    data.update(dict.fromkeys(("psn_no", "insutype", "acct_used_flag", "mid_setl_flag", "medfee_sumamt"), empty))
    assert w.ok(w.env("2207", {"data": data}, **env_over))["setlinfo"]["setl_id"]
    w.ok(w.env("1312", {"data": {"updt_time": empty, "page_num": empty, "page_size": empty}}, **env_over))


@pytest.mark.parametrize("empty", ["", None, "null"], ids=["empty string", "null", "null string"])
def test_an_empty_optional_node_is_accepted(world: World, empty: object) -> None:
    """2203's diseinfo is optional (a visit may be described before it is diagnosed); empty is as absent."""
    w = world
    info = {"mdtrt_id": w.visit, "psn_no": w.psn, "med_type": "11"}
    w.ok(w.env("2203", {"mdtrtinfo": info}))
    w.ok(w.env("2203", {"mdtrtinfo": info, "diseinfo": empty}))


def test_input_as_a_json_string_and_a_byte_order_mark_are_accepted(shared: World) -> None:
    w = shared
    psn = new_person(w.platform)
    env = w.env("2201", json.dumps(registration(psn), ensure_ascii=False))
    assert w.ok(b"\xef\xbb\xbf" + json.dumps(env, ensure_ascii=False).encode())["data"]["mdtrt_id"]


# -- the fuzz ------------------------------------------------------------------------------------------

# text as it comes, and the edges a database or an encoder may not hold: NUL, lone surrogates, 30/31
# characters (the width of the id columns), very long values
TEXT = (
    st.text(max_size=40)
    | st.text(st.characters(categories=["Cs", "Cc", "Lo", "Nd"]), max_size=8)
    | st.sampled_from(["", "null", "NULL", "0", "1", "-1", "0.00", "1e9", "1e30", "NaN", "Infinity", NOW, TODAY,
                       "H44510000001", "2207", "\x00", "M" * 30, "M" * 31, "医" * 200])
)  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20) | st.floats() | TEXT,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=10,
)
NAMES = st.sampled_from(
    [
        "infno",
        "msgid",
        "fixmedins_code",
        "input",
        "data",
        "psn_no",
        "mdtrt_id",
        "feedetail",
        "feedetl_sn",
        "pric",
        "cnt",
        "insutype",
        "begntime",
        "med_type",
        "setl_id",
        "omsgid",
        "oinfno",
        "signIn",
        "mdtrtinfo",
        "diseinfo",
        "medfee_sumamt",
        "acct_used_flag",
    ]
) | st.text(max_size=10)
INFNO_SAMPLES = [*sorted(TRANSACTIONS), "", " ", "0000", "9999", "22O7"]
INDEX = st.integers(min_value=0, max_value=10_000)
#: the value at a slot made into an edge case of itself (see ``edge``)
EDGES = ["nul", "long", "very long", "surrogate", "huge", "infinite", "negative", "empty", "null", "true", "list",
         "object"]  # fmt: skip
# an op is (what, where, name, value, edge); each kind reads the parts it needs
TREE_OPS = st.tuples(
    st.sampled_from(["drop", "replace", "replace", "insert", "infno", "stringify", "edge", "edge", "edge"]),
    INDEX,
    NAMES,
    JSON_VALUES,
    st.sampled_from(EDGES),
)
BYTE_OPS = st.one_of(
    st.tuples(st.just("truncate"), INDEX),
    st.tuples(st.just("garble"), st.lists(st.tuples(INDEX, st.integers(0, 255)), min_size=1, max_size=4)),
    st.tuples(st.just("splice"), INDEX, st.binary(min_size=1, max_size=8)),
)
KINDS = ["1101", "2201", "2203", "2204", "2205", "2206", "2207", "9001", "2601", "3201", "1312"]


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(KINDS)),
        "ops": draw(st.lists(TREE_OPS, max_size=4)),
        "bytes": draw(BYTE_OPS) if draw(st.integers(0, 3)) == 0 else None,
        "ascii": draw(st.booleans()),
        "path": draw(st.sampled_from(["", "", "", "/2207", "/1101", "/9999"])),
    }


def seed(w: World, kind: str) -> dict[str, object]:
    """A valid request of ``kind``, on a fresh person and visit where it needs one."""
    if kind == "1101":
        return w.env(kind, {"data": {"psn_no": w.psn}})
    if kind == "2201":
        return w.env(kind, registration(new_person(w.platform)))
    if kind == "9001":
        return w.env(kind, {"signIn": {"opter_no": "0001", "mac": "00-00", "ip": "127.0.0.1"}})
    if kind == "2601":
        return w.env(kind, {"data": {"omsgid": w.client.msgid(), "oinfno": "2207"}})
    if kind == "3201":
        return w.env(
            kind,
            {
                "data": {
                    "insutype": "310",
                    "clr_type": "11",
                    "setl_optins": "445100",
                    "stmt_begndate": TODAY,
                    "stmt_enddate": TODAY,
                    "medfee_sumamt": "0",
                    "fund_pay_sumamt": "0",
                    "acct_pay": "0",
                    "fixmedins_setl_cnt": 0,
                }
            },
        )
    if kind == "1312":
        return w.env(kind, {"data": {"updt_time": "2000-01-01 00:00:00", "page_num": 1, "page_size": 3}})
    psn, mdtrt_id = open_visit(w.platform, w.client, lines=0 if kind == "2204" else 1)
    if kind == "2203":
        return w.env(
            kind,
            {
                "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn, "med_type": "11"},
                "diseinfo": [{"diag_type": "1", "diag_code": "I10.x00", "diag_name": "高血压"}],
            },
        )
    if kind == "2204":
        return w.env(kind, {"feedetail": [fee(mdtrt_id, psn, "1"), fee(mdtrt_id, psn, "2", pric=3, cnt=1)]})
    if kind == "2205":
        return w.env(kind, {"data": {"chrg_bchno": "0000", "mdtrt_id": mdtrt_id, "psn_no": psn}})
    return w.env(kind, settlement(mdtrt_id, psn))  # 2206, 2207


def slots(value: object, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of the document, depth first."""
    if isinstance(value, dict):
        for k in list(value):
            out.append((value, k))
            slots(value[k], out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((value, i))
            slots(v, out)
    return out


def edge(value: object, how: str) -> object:
    text = "" if value is None else str(value)
    return {
        "nul": text + "\x00",
        "long": text + "x" * 31,  # past the 30 characters of the id columns
        "very long": "长" * 300,
        "surrogate": text + "\ud800",
        "huge": 10**30,
        "infinite": float("inf"),
        "negative": -1,
        "empty": "",
        "null": None,
        "true": True,
        "list": [value],
        "object": {"value": value},
    }[how]


def mutate(env: dict[str, Any], ops: list[tuple[Any, ...]]) -> object:
    doc: object = env
    for what, where, name, value, how in ops:
        if what == "infno" and isinstance(doc, dict):
            doc["infno"] = value if where % 2 else INFNO_SAMPLES[where % len(INFNO_SAMPLES)]
            continue
        if what == "stringify":
            if isinstance(doc, dict) and not isinstance(doc.get("input"), str):
                doc["input"] = json.dumps(doc.get("input"), ensure_ascii=False, allow_nan=True)
            continue
        places = slots(doc, [])
        if what == "insert":
            boxes = [doc] + [box for box, _ in places]
            box = boxes[where % len(boxes)]
            if isinstance(box, dict):
                box[name] = value
            elif isinstance(box, list):
                box.insert(where % (len(box) + 1), value)
            continue
        if not places:
            continue
        # half of the ops aim inside ``input``, where the transactions read
        inner = slots(doc.get("input"), []) if isinstance(doc, dict) else []
        pool = inner if inner and where % 2 else places
        box, key = pool[(where // 2) % len(pool)]
        if what == "drop":
            del box[key]
        elif what == "edge":
            box[key] = edge(box[key], how)
        else:
            box[key] = value
    return doc


def garble(body: bytes, op: tuple[Any, ...] | None) -> bytes:
    if op is None or not body:
        return body
    if op[0] == "truncate":
        return body[: op[1] % len(body)]
    if op[0] == "garble":
        data = bytearray(body)
        for at, byte in op[1]:
            data[at % len(data)] = byte
        return bytes(data)
    at = op[1] % (len(body) + 1)
    return body[:at] + op[2] + body[at:]


FUZZ = settings(
    max_examples=100,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example is a round trip
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(plan=plans())
def test_fuzz_every_answer_is_an_envelope_and_no_refusal_writes(shared: World, plan: dict[str, Any]) -> None:
    w = shared
    doc = mutate(seed(w, plan["kind"]), plan["ops"])
    text = json.dumps(doc, ensure_ascii=plan["ascii"], allow_nan=True)
    # a lone surrogate is escaped (\ud800) when ascii, else sent as the bytes no UTF-8 decoder accepts
    body = garble(text.encode("utf-8", "surrogatepass"), plan["bytes"])
    note(f"POST {PATH}{plan['path']} {body[:2000]!r}")
    before = counts(w.platform)
    r = w.send(body, PATH + plan["path"])
    note(f"answer HTTP {r.status_code}: {r.text[:500]}")
    answer = envelope_of(r)
    if answer["infcode"] == -1:
        assert_nothing_written(w.platform, before, r.text, remembered_ok=True)
    elif isinstance(doc, dict) and str(doc.get("infno", "")).strip() in READ_ONLY and plan["bytes"] is None:
        assert counts(w.platform) == before, "a read-only transaction wrote"
