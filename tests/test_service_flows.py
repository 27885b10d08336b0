"""Every transaction of the national interface through real HTTP, on SQLite and on PostgreSQL.

Amounts are checked against the engine itself (the service must settle exactly what the engine
settles for the same visit), and the database is inspected after each refusal: nothing written.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from conftest import new_person
from harness import Client
from yibao.engine import Claim, FeeLine, Person, settle
from yibao.store.models import Account, Accumulator, Message, Settlement, Visit
from yibao.store.models import FeeLine as FeeRow

HOSPITAL, CLINIC, PHARMACY = "H44510000001", "H44510200002", "P44510000003"
NOW = f"{datetime.now():%Y-%m-%d %H:%M:%S}"


def lines(mdtrt_id: str, psn_no: str, *items: tuple[str, str, str], start: int = 1) -> list[dict[str, object]]:
    return [
        {"feedetl_sn": str(start + i), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_list_codg": code,
         "medins_list_codg": f"HIS-{code}", "pric": price, "cnt": qty, "bilg_dept_codg": "01", "bilg_dept_name": "内科",
         "bilg_dr_codg": "D440000000001", "bilg_dr_name": "医生", "fee_ocur_time": NOW}
        for i, (code, price, qty) in enumerate(items)
    ]  # fmt: skip


def register(c: Client, psn_no: str, insutype: str = "310") -> str:
    out = c.ok("2201", {"data": {"psn_no": psn_no, "insutype": insutype, "begntime": NOW, "mdtrt_cert_type": "02",
                                 "mdtrt_cert_no": "x", "ipt_otp_no": "OP1", "dept_code": "01", "dept_name": "内科",
                                 "caty": "A03"}})  # fmt: skip
    return str(out["data"]["mdtrt_id"])


def outpatient_visit(c: Client, psn_no: str, insutype: str = "310") -> str:
    mdtrt_id = register(c, psn_no, insutype)
    c.ok("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "begntime": NOW},
                  "diseinfo": [{"diag_type": "1", "diag_srt_no": 1, "diag_code": "I10.x00", "diag_name": "高血压"}]})  # fmt: skip
    return mdtrt_id


def settle_data(mdtrt_id: str, psn_no: str, insutype: str = "310", **kw: object) -> dict[str, object]:
    return {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "med_type": "11", "psn_setlway": "01", "chrg_bchno": "1",
                     "insutype": insutype, "acct_used_flag": "1", "mdtrt_cert_type": "02", **kw}}  # fmt: skip


def count(platform, model) -> int:
    with platform.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_outpatient_flow_settles_what_the_engine_settles(service) -> None:
    platform, base = service
    c = Client(base)
    psn = new_person(platform, "310", "1201", balance="500.00", birth="1950-02-02")
    mdtrt_id = outpatient_visit(c, psn)
    up = c.ok("2204", {"feedetail": lines(mdtrt_id, psn, ("DEMO-D0006", "1.20", "60"), ("DEMO-S0002", "280", "1"),
                                          ("DEMO-D0007", "0.30", "30"), ("DEMO-S0005", "150", "1"))})  # fmt: skip
    splits = {r["med_list_codg"] if "med_list_codg" in r else r["feedetl_sn"]: r for r in up["result"]}
    assert Decimal(str(splits["2"]["preselfpay_amt"])) == Decimal("28.00")  # 乙类 CT 10%
    assert Decimal(str(splits["3"]["overlmt_amt"])) == Decimal("4.50")  # above the 集采 payment standard
    assert Decimal(str(splits["4"]["fulamt_ownpay_amt"])) == Decimal("150.00")  # 丙类
    pre = c.ok("2206", settle_data(mdtrt_id, psn))
    assert pre["setlinfo"]["setl_id"] is None
    out = c.ok("2207", settle_data(mdtrt_id, psn, medfee_sumamt="511.00"))
    info = out["setlinfo"]
    assert {k: info[k] for k in ("hifp_pay", "psn_cash_pay")} == {
        k: pre["setlinfo"][k] for k in ("hifp_pay", "psn_cash_pay")
    }
    # the same visit through the engine directly
    today = datetime.now().date()
    claim = Claim("X", "445100", "445100", "outpatient", 3, today, today, fee_lines=(
        FeeLine("DEMO-D0006", 7200, Decimal("1.20"), Decimal(60)), FeeLine("DEMO-S0002", 28000, Decimal(280), Decimal(1)),
        FeeLine("DEMO-D0007", 900, Decimal("0.30"), Decimal(30)), FeeLine("DEMO-S0005", 15000, Decimal(150), Decimal(1))))  # fmt: skip
    from yibao.engine.state import Accumulators

    direct, _ = settle(claim, Person(psn, "employee", "retiree", 76), Accumulators(psn, "employee", "445100", today.year,
                                                                                       account_balance=50000), platform.snapshot)  # fmt: skip
    assert Decimal(str(info["hifp_pay"])) == Decimal(direct.pooled_fund_pay) / 100
    assert Decimal(str(info["acct_pay"])) == Decimal(direct.account_pay) / 100
    assert Decimal(str(info["psn_cash_pay"])) == Decimal(direct.cash_pay) / 100
    assert Decimal(str(info["medfee_sumamt"])) == Decimal(str(info["fund_pay_sumamt"])) + Decimal(
        str(info["psn_part_amt"])
    )
    assert info["certno"].count("*") == 8 and info["setl_time"]
    with platform.sessions() as s:
        assert s.get(Account, psn).balance == 50000 - direct.account_pay
        assert s.get(Visit, mdtrt_id).status == "settled"


def test_a_repeated_msgid_returns_the_first_answer_and_changes_nothing(service) -> None:
    platform, base = service
    c = Client(base)
    psn = new_person(platform, balance="100.00")
    mdtrt_id = outpatient_visit(c, psn)
    c.ok("2204", {"feedetail": lines(mdtrt_id, psn, ("DEMO-D0001", "12.00", "3"))})
    msgid = c.msgid()
    first = c.post(c.envelope("2207", settle_data(mdtrt_id, psn), msgid)).text
    before = count(platform, Settlement)
    again = c.post(c.envelope("2207", settle_data(mdtrt_id, psn), msgid)).text
    assert again == first and count(platform, Settlement) == before
    assert "已结算" in c.refused("2207", settle_data(mdtrt_id, psn))  # a new msgid for the same visit


def test_cancel_restores_accumulators_and_lets_the_visit_be_settled_again(service) -> None:
    platform, base = service
    c = Client(base)
    psn = new_person(platform, "310", "1201", balance="300.00")
    mdtrt_id = outpatient_visit(c, psn)
    c.ok("2204", {"feedetail": lines(mdtrt_id, psn, ("DEMO-S0002", "280", "2"))})
    key = (psn, "310", "445100", datetime.now().year)
    with platform.sessions() as s:
        before = s.get(Accumulator, key)
        before_state = (
            None if before is None else {c_.name: getattr(before, c_.name) for c_ in Accumulator.__table__.columns}
        )
    out = c.ok("2207", settle_data(mdtrt_id, psn))
    setl_id = out["setlinfo"]["setl_id"]
    undone = c.ok("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn}})
    assert Decimal(str(undone["setlinfo"]["fund_pay_sumamt"])) == -Decimal(str(out["setlinfo"]["fund_pay_sumamt"]))
    assert all(Decimal(str(d["fund_payamt"])) < 0 for d in undone["setldetail"])
    with platform.sessions() as s:
        row = s.get(Accumulator, key)
        state = {c_.name: getattr(row, c_.name) for c_ in Accumulator.__table__.columns}
        zero = {k: (0 if isinstance(v, int) and k != "year" else v) for k, v in state.items()} | {"chronic": "{}"}
        assert state == (before_state or zero)
        assert s.get(Account, psn).balance == 30000
        assert s.get(Settlement, setl_id).status == "cancelled"
    assert "已撤销" in c.refused("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn}})
    again = c.ok("2207", settle_data(mdtrt_id, psn))
    assert again["setlinfo"]["fund_pay_sumamt"] == out["setlinfo"]["fund_pay_sumamt"]


def test_inpatient_flow_with_discharge_and_cancel(service) -> None:
    platform, base = service
    c = Client(base)
    psn = new_person(platform, "390", "1501", category="subsistence_allowance", birth="1960-01-01")
    adm = c.ok("2401", {"mdtrtinfo": {"psn_no": psn, "insutype": "390", "begntime": "2026-01-05 08:00:00",
                                      "mdtrt_cert_type": "02", "mdtrt_cert_no": "x", "med_type": "21", "ipt_no": "IP1",
                                      "adm_dept_codg": "03", "adm_dept_name": "神经内科", "dscg_maindiag_code": "I63.900",
                                      "dscg_maindiag_name": "脑梗死"},
                        "diseinfo": [{"psn_no": psn, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": 1,
                                      "diag_code": "I63.900", "diag_name": "脑梗死"}]})  # fmt: skip
    mdtrt_id = adm["result"]["mdtrt_id"]
    c.ok("2301", {"feedetail": lines(mdtrt_id, psn, ("DEMO-F0001", "60", "10"), ("DEMO-S0003", "3200", "1"),
                                     ("DEMO-M0001", "850", "2"), ("DEMO-D0003", "12.80", "14"))})  # fmt: skip
    data = {"psn_no": psn, "mdtrt_id": mdtrt_id, "insutype": "390", "acct_used_flag": "0", "mid_setl_flag": "0",
            "psn_setlway": "01", "mdtrt_cert_type": "02"}  # fmt: skip
    assert "尚未办理出院" in c.refused("2303", {"data": data})
    c.ok("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn, "insutype": "390", "endtime": "2026-01-15 10:00:00",
                               "dscg_way": "1"}})  # fmt: skip
    pre = c.ok("2303", {"data": data})
    out = c.ok("2304", {"data": data})
    assert out["setlinfo"]["hifp_pay"] == pre["setlinfo"]["hifp_pay"] > 0
    assert out["setlinfo"]["act_pay_dedc"] == 400.0  # 三类 800, halved for 低保
    assert "不能再上传" in c.refused("2301", {"feedetail": lines(mdtrt_id, psn, ("DEMO-D0001", "1", "1"), start=9)})
    undone = c.ok("2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": out["setlinfo"]["setl_id"], "psn_no": psn}})
    assert undone["setlinfo"]["medfee_sumamt"] == -out["setlinfo"]["medfee_sumamt"]
    c.ok("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn}})
    c.ok("2302", {"data": {"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": psn}})
    c.ok("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn}})
    with platform.sessions() as s:
        assert s.get(Visit, mdtrt_id).status == "cancelled"


def test_pharmacy_purchase_settle_and_cancel(service) -> None:
    platform, base = service
    c = Client(base, PHARMACY)
    payer = new_person(platform, balance="800.00")
    child = new_person(platform, "390", "1403", birth="2015-01-01", payer=payer)
    drugs = [{"feedetl_sn": "1", "med_list_codg": "DEMO-D0005", "medins_list_codg": "X", "pric": "2.10", "cnt": "10"}]
    data = {"psn_no": child, "insutype": "390", "acct_used_flag": "2", "mdtrt_cert_type": "02", "psn_setlway": "01"}
    pre = c.ok("2101", {"data": data, "drugdetail": drugs})
    out = c.ok("2102", {"data": data, "drugdetail": drugs})
    assert out["setlinfo"]["acct_mulaid_pay"] == pre["setlinfo"]["acct_mulaid_pay"] == 21.0
    with platform.sessions() as s:
        assert s.get(Account, payer).balance == 80000 - 2100
    c.ok("2103", {"data": {"setl_id": out["setlinfo"]["setl_id"], "psn_no": child}})
    with platform.sessions() as s:
        assert s.get(Account, payer).balance == 80000
    assert "只能由定点零售药店" in Client(base).refused("2102", {"data": data, "drugdetail": drugs})


def test_2601_reverses_a_settlement_by_its_msgid_and_blocks_a_late_original(service) -> None:
    platform, base = service
    c = Client(base)
    psn = new_person(platform)
    mdtrt_id = outpatient_visit(c, psn)
    c.ok("2204", {"feedetail": lines(mdtrt_id, psn, ("DEMO-S0002", "280", "1"))})
    omsgid = c.msgid()
    out = c.ok("2207", settle_data(mdtrt_id, psn), omsgid)
    c.ok("2601", {"data": {"psn_no": psn, "omsgid": omsgid, "oinfno": "2207"}})
    with platform.sessions() as s:
        assert s.get(Settlement, out["setlinfo"]["setl_id"]).status == "cancelled"
    c.ok("2601", {"data": {"psn_no": psn, "omsgid": omsgid, "oinfno": "2207"}})  # idempotent
    # the client gave up before its message arrived: reversal first, original later
    late = c.msgid()
    c.ok("2601", {"data": {"psn_no": psn, "omsgid": late, "oinfno": "2207"}})
    assert "已被冲正" in c.refused("2207", settle_data(mdtrt_id, psn), late)


def test_3201_balances_a_day_of_settlements_and_cancels(service) -> None:
    platform, base = service
    c = Client(base, CLINIC)
    total = fund = acct = 0
    n = 0
    for i in range(4):
        psn = new_person(platform, balance="50.00")
        mdtrt_id = outpatient_visit(c, psn)
        c.ok("2204", {"feedetail": lines(mdtrt_id, psn, ("DEMO-S0002", "280", str(i + 1)))})
        info = c.ok("2207", settle_data(mdtrt_id, psn))["setlinfo"]
        total += round(info["medfee_sumamt"] * 100)
        fund += round(info["fund_pay_sumamt"] * 100)
        acct += round(info["acct_pay"] * 100)
        n += 1
        if i % 2:
            c.ok("2208", {"data": {"setl_id": info["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn}})
            total -= round(info["medfee_sumamt"] * 100)
            fund -= round(info["fund_pay_sumamt"] * 100)
            acct -= round(info["acct_pay"] * 100)
            n -= 1
    today = datetime.now().date().isoformat()
    data = {"insutype": "310", "clr_type": "11", "setl_optins": "445100", "stmt_begndate": today, "stmt_enddate": today,
            "medfee_sumamt": f"{total / 100:.2f}", "fund_pay_sumamt": f"{fund / 100:.2f}", "acct_pay": f"{acct / 100:.2f}",
            "fixmedins_setl_cnt": n, "refd_setl_flag": "0"}  # fmt: skip
    assert c.ok("3201", {"data": data})["stmtinfo"]["stmt_rslt"] == "0"
    wrong = c.ok("3201", {"data": {**data, "fund_pay_sumamt": f"{fund / 100 + 0.01:.2f}"}})["stmtinfo"]
    assert wrong["stmt_rslt"] == "1" and "fund_pay_sumamt" in wrong["stmt_rslt_dscr"]


def test_person_information_sign_in_and_catalogue(service) -> None:
    _platform, base = service
    c = Client(base)
    by_token = c.ok("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "EV-DEMO-0002", "psn_cert_type": "01",
                                      "certno": "", "psn_name": ""}})  # fmt: skip
    by_id = c.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "445102195601010015"}})
    assert by_token["baseinfo"] == by_id["baseinfo"]
    assert by_id["baseinfo"]["certno"] == "445102********0015" and by_id["baseinfo"]["psn_no"] == "44510000000002"
    assert by_id["insuinfo"][0]["insuplc_admdvs"] == "445100"
    poor = c.ok("1101", {"data": {"psn_no": "44510200000001"}})
    assert poor["idetinfo"][0]["psn_idet_type"] == "2303"
    assert "未查询到" in c.refused("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "000000000000000000"}})
    sign = c.ok("9001", {"signIn": {"opter_no": "0001", "mac": "00-00", "ip": "127.0.0.1"}})["signinoutb"]
    c.ok("9002", {"signOut": {"sign_no": sign["sign_no"], "opter_no": "0001"}})
    page = c.ok("1312", {"data": {"updt_time": "2000-01-01 00:00:00", "page_num": 1, "page_size": 5}})
    assert page["recordCounts"] >= 10 and len(page["data"]) == 5


def test_withdrawals_and_state_errors(service) -> None:
    platform, base = service
    c = Client(base)
    psn = new_person(platform)
    mdtrt_id = outpatient_visit(c, psn)
    up = lines(mdtrt_id, psn, ("DEMO-D0001", "1.00", "2"), ("DEMO-D0001", "2.00", "1"))
    up[0]["chrg_bchno"], up[1]["chrg_bchno"] = "B1", "B2"
    c.ok("2204", {"feedetail": up})
    assert "已存在" in c.refused("2204", {"feedetail": up[:1]})
    assert "仍有未撤销的费用明细" in c.refused("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn}})
    c.ok("2205", {"data": {"chrg_bchno": "B1", "mdtrt_id": mdtrt_id, "psn_no": psn}})
    c.ok("2204", {"feedetail": up[:1]})  # the withdrawn serial number can be uploaded again
    c.ok("2205", {"data": {"chrg_bchno": "0000", "mdtrt_id": mdtrt_id, "psn_no": psn}})
    assert "没有待结算的费用明细" in c.refused("2207", settle_data(mdtrt_id, psn))
    c.ok("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn}})
    with platform.sessions() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(FeeRow).where(FeeRow.mdtrt_id == mdtrt_id, FeeRow.status == "active")
            )
            == 0
        )


def test_an_institution_cannot_touch_another_institutions_visit(service) -> None:
    platform, base = service
    psn = new_person(platform)
    mdtrt_id = outpatient_visit(Client(base), psn)
    other = Client(base, CLINIC)
    assert "不属于本机构" in other.refused("2204", {"feedetail": lines(mdtrt_id, psn, ("DEMO-D0001", "1", "1"))})
    assert "不属于本机构" in other.refused("2207", settle_data(mdtrt_id, psn))


def test_refusals_write_nothing(service) -> None:
    platform, base = service
    c = Client(base)
    psn = new_person(platform)
    mdtrt_id = outpatient_visit(c, psn)
    c.ok("2204", {"feedetail": lines(mdtrt_id, psn, ("DEMO-S0002", "280", "1"))})
    tables = (Settlement, FeeRow, Visit, Accumulator)
    before = [count(platform, t) for t in tables]
    cases = [
        ("2207", settle_data(mdtrt_id, psn, medfee_sumamt="100.00"), "medfee_sumamt"),
        ("2207", settle_data(mdtrt_id, psn, inscp_scp_amt="1.00"), "inscp_scp_amt"),
        ("2207", settle_data(mdtrt_id, psn, acct_used_flag="7"), "acct_used_flag"),
        ("2207", settle_data("NOPE", psn), "mdtrt_id"),
        ("2204", {"feedetail": [{**lines(mdtrt_id, psn, ("DEMO-D0001", "x", "1"), start=5)[0]}]}, "pric"),
        ("2204", {"feedetail": lines(mdtrt_id, psn, ("NOT-IN-CATALOGUE", "1", "1"), start=6)}, "med_list_codg"),
        ("2201", {"data": {"psn_no": "NOBODY", "insutype": "310", "begntime": NOW}}, "psn_no"),
        ("2201", {"data": {"psn_no": psn, "insutype": "390", "begntime": NOW}}, "insutype"),
        ("2201", {"data": {"psn_no": psn, "insutype": "310", "begntime": "yesterday"}}, "begntime"),
        ("9999", {"data": {}}, "infno"),
    ]
    for infno, input_, field in cases:
        assert field in c.refused(infno, input_), (infno, field)
    assert [count(platform, t) for t in tables] == before


def test_the_envelope_is_lenient_in_and_strict_out(service) -> None:
    _, base = service
    c = Client(base)
    env = c.envelope("1101", json.dumps({"data": {"psn_no": "44510000000002"}}))  # input as a JSON string
    r = c.post(env, path="/fsi/api/rsfComIfsService/callService/1101", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["infcode"] == 0
    text = r.text
    assert '"infcode":0' in text and '"balc":3000.00' in text.replace(" ", "")  # numbers with two decimals
    for body in (b"{not json", b"", b"[]", json.dumps({"infno": "1101"}).encode(), b"x" * 2_100_000):
        r = c.post(body)
        assert r.status_code == 200
        doc = r.json()
        assert (
            doc["infcode"] == -1
            and doc["err_msg"]
            and set(doc) >= {"inf_refmsgid", "refmsg_time", "respond_time", "output"}
        )
    mismatch = c.post(c.envelope("2201", {}), path="/fsi/api/rsfComIfsService/callService/1101").json()
    assert mismatch["infcode"] == -1 and "infno" in mismatch["err_msg"]


def test_messages_are_remembered_once(service) -> None:
    platform, base = service
    c = Client(base)
    msgid = c.msgid()
    refusal = c.call("2201", {"data": {"psn_no": "NOBODY", "insutype": "310", "begntime": NOW}}, msgid)
    assert refusal["infcode"] == -1
    assert c.call("2201", {"data": {"psn_no": "NOBODY", "insutype": "310", "begntime": NOW}}, msgid) == refusal
    with platform.sessions() as s:
        assert s.get(Message, msgid).infno == "2201"


def test_catalogue_download_then_9102_fetches_the_zip(service) -> None:
    import io
    import zipfile

    platform, base = service
    c = Client(base)
    meta = c.ok("1301", {"data": {"ver": "0"}})
    assert meta["data_cnt"] >= 5 and meta["file_qury_no"].startswith("1301445100")
    assert (
        c.ok("1301", {"data": {"ver": platform.snapshot.id}})["data_cnt"] == 0
    )  # nothing newer than the local version
    r = c.post(c.envelope("9102", {"fsDownloadIn": {"file_qury_no": meta["file_qury_no"], "filename": meta["filename"],
                                                    "fixmedins_code": "plc"}}))  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        (name,) = z.namelist()
        rows = [line.split("\t") for line in z.read(name).decode("utf-8").splitlines()]
    assert len(rows) == meta["data_cnt"] and all(len(row) == 97 for row in rows)
    codes = {row[0]: row for row in rows}
    assert codes["DEMO-D0002"][91] == "02" and codes["DEMO-D0004"][57] == "1"  # 乙类; 限制使用
    assert "文件查询号" in c.refused(
        "9102", {"fsDownloadIn": {"file_qury_no": "1301445100209901019999", "filename": "x"}}
    )


def test_the_real_time_path_runs_its_statements_on_the_driver(service) -> None:
    """After the flows above, every statement of the real-time path ran on psycopg's cursor on
    PostgreSQL: none fell back to SQLAlchemy's path (a callable column default, a type whose
    values SQLAlchemy converts) without anyone noticing. Runs after the other tests of the module."""
    from yibao.service import fees as fee_service
    from yibao.service import holdings, ledger, registry, settling, visits
    from yibao.store import db
    from yibao.store.direct import Direct

    platform, _ = service

    def found(value: object) -> list[Direct]:
        if isinstance(value, Direct):
            return [value]
        if isinstance(value, dict):
            return [d for v in value.values() for d in found(v)]
        if isinstance(value, tuple):
            return [d for v in value for d in found(v)]
        return []

    modules = (holdings, ledger, registry, settling, visits, fee_service, db)
    directs = [d for m in modules for v in vars(m).values() for d in found(v)]
    plans = {(id(d), key): plan for d in directs for key, plan in d._plans.items() if key[0] == "postgresql"}
    if platform.engine.dialect.name != "postgresql":
        return
    assert len(plans) >= 20  # the flows above used them
    assert all(plan is not None for plan in plans.values()), [k for k, p in plans.items() if p is None]
