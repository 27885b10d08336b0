"""The floor of the stack: how many outpatient flows per second the load generator of
``bench/serve_load.py`` reaches against servers that make the same HTTP and database round trips
as ``yibao serve`` but run no business logic.

Why: the issue asks for ≥ 500 complete outpatient flows per second (2201 → 2203 → 2204 → 2206 →
2207 per virtual client) on a 2-core machine shared by the server, PostgreSQL and the load
generator. If a server that does nothing but the unavoidable work — HTTP, JSON in and out, a hand-off
to a thread, and the same database round trips — stays below 500, the target cannot be met with
this stack (uvicorn + Python + psycopg + PostgreSQL on these cores), whatever the application does.

Variants, measured in alternating rounds (A/B, so that drift on a shared machine touches each alike):

- ``yibao``: the real server, ``yibao serve --workers N`` (``serve_load.server``).
- ``floor-http``: answers every message from memory, no database. The answers have the fields of
  the real ones and pass every check of ``bench/hisload.py``: each fee line wholly within policy
  (``inscp_scp_amt``), the whole amount paid in cash (fund 0, account 0), ``balc`` = the person's
  balance (read once at start from the registry in the database), a fresh ``setl_id`` in 2207 only.
- ``floor-sql``: the same answers, but each message does its database work with psycopg 3 directly
  (no SQLAlchemy), in one transaction (BEGIN … COMMIT; 2206 BEGIN READ ONLY), with the statements
  the committed server sends for that infno: 2201 2 reads + 2 inserts; 2203 1 read, delete + insert
  of the diagnoses, insert of the message; 2204 3 reads + 2 inserts; 2206 5 reads; 2207 4 reads +
  11 writes (the path of a settlement that touches account and ledger: accumulator get-or-create
  and update, account update and movement, settlement + details, fee lines marked, ledger transfer +
  postings, visit closed, message) — 33 statements per flow, and BEGIN and COMMIT of each message:
  43 round trips. (A real 2207 skips the account's update and movement when the account pays
  nothing: the floor does not send fewer statements than yibao did at commit 26f2f7a. The
  ``yibao`` variant runs whatever ``src/`` holds when it runs.) Rows of several lines go as one JSON
  parameter to ``json_populate_recordset``, as the real server sends them. The message rows hold
  the answer text (the real server keeps it for idempotence). Tables of its own, in schema
  ``floor`` of the benchmark database, with the real schema's keys, foreign keys and indexes
  (comparable shapes, not identical); registry rows copied from the loaded registry. One
  connection per worker thread, prepared statements (psycopg's default: after 5 executions).
- ``floor-sql-min``: as ``floor-sql``, but all the writes of a message go as one statement
  (data-modifying CTEs: ``WITH a AS (INSERT …), b AS (UPDATE …) INSERT INTO message …``) — what fewer
  round trips would give: 20 statements per flow (30 round trips). Reads that the answer depends
  on stay separate statements, the accumulator's get-or-create-and-lock of 2207 among them.

The floor servers are served as the real one is: uvicorn with the options ``yibao serve`` passes
(log level warning, no access log, loop and HTTP implementation ``auto``), the same number of
worker processes under a supervisor, each with its own ``SO_REUSEPORT`` listening socket
(``yibao.api.workers.listening_socket``), and a raw ASGI callable that reads the body and handles
the message in a ``ThreadPoolExecutor`` of 20 threads (like ``yibao.api.front``), parsing with
``json.loads`` and answering with ``json.dumps``.

For each run it prints what ``serve_load`` prints (flows/s, requests/s, latency p50/p95/p99 overall
and per infno, CPU of server / PostgreSQL / load generator and CPU per flow, database transactions,
failed and incorrect answers), then a summary per variant over the rounds and the ratios yibao /
floor-sql, floor-sql / floor-http, floor-sql-min / floor-sql and each against the 500 target.

    .venv/bin/python bench/serve_floor.py                                   # 3 rounds × 4 variants, 30 s windows
    .venv/bin/python bench/serve_floor.py --duration 60 --warmup 10 --rounds 2 --concurrency 16
    .venv/bin/python bench/serve_floor.py --variants floor-http,floor-sql --duration 5 --warmup 2 --rounds 1

It reports; it does not assert (exit 0 unless it could not run). It creates and drops its own
database (``yibao_bench_<random>``) and stops every server it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hisload import cents
from serve_load import (
    TARGET_FLOWS,
    bench_env,
    create_db,
    drop_db,
    free_port,
    load_registry,
    machine,
    parse_mix,
    pg_dsn,
    print_machine,
    print_run,
    refresh_balances,
    run_load,
    server,
    sqlalchemy_url,
    started,
    wait_idle,
)

VARIANTS = ("yibao", "floor-http", "floor-sql", "floor-sql-min")
PATH = "/fsi/api/rsfComIfsService/callService"
THREADS = 20  # as yibao.api.front: messages processed at once per server process
SCHEMA = "floor"
_JSON = (b"content-type", b"application/json; charset=utf-8")
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


# == the floor servers (run in the server processes) =============================================


def dumps(value: object) -> str:
    # the real server's encoder (yibao.api.jsonout) is json.dumps with these options plus two
    # string replacements for Decimal amounts; the floor's amounts are floats, written as numbers
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fen(text: object) -> int:
    """A two-decimal yuan amount (string or number) in fen, exactly (the load generator's own)."""
    return cents(text)


def yuan(amount: int) -> float:
    return amount / 100  # the nearest double: json writes it back as the two-decimal text


def mask(certno: str) -> str:
    return certno[:6] + "********" + certno[-4:] if len(certno) > 10 else certno


class Ids:
    """Ids as yibao.store.ids issues them: prefix, time to the second, a per-process tag, a counter."""

    def __init__(self) -> None:
        self.tag = "".join(secrets.choice(_ALPHABET) for _ in range(4))
        self.counter = itertools.count(1)  # next() on a count is atomic under the GIL

    def next(self, prefix: str, now: datetime) -> str:
        return f"{prefix}{now:%Y%m%d%H%M%S}{self.tag}{next(self.counter) % 1_000_000:06d}"[:30]


class Person:
    __slots__ = ("balance", "birth", "insutype", "name", "psn_no", "psn_type", "region", "sex")

    def __init__(
        self, psn_no: str, name: str, sex: str, birth: date, insutype: str, psn_type: str, region: str, balance: int
    ) -> None:
        self.psn_no, self.name, self.sex, self.birth = psn_no, name, sex, birth
        self.insutype, self.psn_type, self.region, self.balance = insutype, psn_type, region, balance


class Floor:
    """Answers the outpatient messages; subclasses decide where the data comes from."""

    #: infno → whether it writes (2206 is read-only and not remembered, as in yibao)
    writes: ClassVar[dict[str, bool]] = {"2201": True, "2203": True, "2204": True, "2206": False, "2207": True}

    def __init__(self, admdvs: str = "445100") -> None:
        self.admdvs = admdvs
        self.ids = Ids()
        self.seq = itertools.count(1)

    def handle(self, body: bytes) -> str:
        """The answer envelope for one request body; never raises (as Gateway.handle)."""
        received = datetime.now()
        refmsgid = f"{self.admdvs}{received:%Y%m%d%H%M%S}{next(self.seq) % 10**10:010d}"
        try:
            env = json.loads(body)
            infno = env["infno"]
            if infno not in self.writes:
                return self.envelope(-1, refmsgid, received, None, f"floor: infno {infno} is not served here")
            return self.process(infno, env, refmsgid, received)
        except Exception as e:
            traceback.print_exc()  # into the server log: the orchestrator counts the tracebacks
            return self.envelope(-1, refmsgid, received, None, f"floor: {e.__class__.__name__}: {e}")

    def process(self, infno: str, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        raise NotImplementedError

    def envelope(self, code: int, refmsgid: str, received: datetime, output: object, err: str = "") -> str:
        done = datetime.now()
        return dumps(
            {
                "infcode": code,
                "inf_refmsgid": refmsgid,
                "refmsg_time": f"{received:%Y%m%d%H%M%S%f}"[:17],
                "respond_time": f"{done:%Y%m%d%H%M%S%f}"[:17],
                "err_msg": err,
                "warn_msg": "",
                "cainfo": "",
                "signtype": "",
                "output": output if output is not None else {},
            }
        )

    # -- the outputs, with the fields of the real answers ------------------------------------------

    @staticmethod
    def out_2201(mdtrt_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "data": {
                "mdtrt_id": mdtrt_id,
                "psn_no": data["psn_no"],
                "ipt_otp_no": data.get("ipt_otp_no", ""),
                "exp_content": "",
            }
        }

    @staticmethod
    def out_2204(lines: list[dict[str, Any]]) -> dict[str, Any]:
        result = []
        for line in lines:
            amount = fen(line["det_item_fee_sumamt"])
            result.append(
                {
                    "feedetl_sn": line["feedetl_sn"],
                    "det_item_fee_sumamt": yuan(amount),
                    "cnt": float(line["cnt"]),
                    "pric": float(line["pric"]),
                    "pric_uplmt_amt": 0.0,
                    "selfpay_prop": 0.0,
                    "fulamt_ownpay_amt": 0.0,
                    "overlmt_amt": 0.0,
                    "preselfpay_amt": 0.0,
                    "inscp_scp_amt": yuan(amount),  # the whole line within policy: the parts add up
                    "chrgitm_lv": "01",
                    "med_chrgitm_type": "",
                    "lmt_used_flag": "1",
                    "memo": "",
                }
            )
        return {"result": result}

    @staticmethod
    def out_settlement(
        env: dict[str, Any], person: Person, total: int, balance: int, setl_id: str | None, now: datetime
    ) -> dict[str, Any]:
        """2206/2207: everything paid in cash, so pre-settlement equals settlement and the
        account's balance does not move (the load generator checks ``balc`` against its copy)."""
        data = env["input"]["data"]
        today = now.date()
        birth = person.birth
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        fund = "310100" if person.insutype == "310" else "390100"
        return {
            "setlinfo": {
                "mdtrt_id": data["mdtrt_id"],
                "setl_id": setl_id,
                "psn_no": person.psn_no,
                "psn_name": person.name,
                "psn_cert_type": "01",
                "certno": mask(data.get("mdtrt_cert_no", "")),
                "gend": person.sex,
                "naty": "",
                "brdy": birth.isoformat(),
                "age": age,
                "insutype": person.insutype,
                "psn_type": person.psn_type,
                "cvlserv_flag": "0",
                "setl_time": f"{now:%Y-%m-%d %H:%M:%S}" if setl_id else None,
                "mdtrt_cert_type": data.get("mdtrt_cert_type", ""),
                "med_type": data.get("med_type", ""),
                "medfee_sumamt": yuan(total),
                "fulamt_ownpay_amt": 0.0,
                "overlmt_selfpay": 0.0,
                "preselfpay_amt": 0.0,
                "inscp_scp_amt": yuan(total),
                "act_pay_dedc": 0.0,
                "hifp_pay": 0.0,
                "cvlserv_pay": 0.0,
                "hifes_pay": 0.0,
                "hifmi_pay": 0.0,
                "hifob_pay": 0.0,
                "maf_pay": 0.0,
                "oth_pay": 0.0,
                "fund_pay_sumamt": 0.0,
                "psn_part_amt": yuan(total),
                "acct_pay": 0.0,
                "psn_cash_pay": yuan(total),
                "hosp_part_amt": 0.0,
                "balc": yuan(balance),
                "acct_mulaid_pay": 0.0,
                "hifdm_pay": 0.0,
                "pool_prop_selfpay": 1.0,
                "medins_setl_id": env.get("msgid", ""),
                "clr_optins": person.region[:4] + "00",
                "clr_way": "1",
                "clr_type": "11",
                "exp_content": "",
            },
            # one fund row paying nothing: the shape of a real answer, and Σ fund_payamt = fund_pay_sumamt
            "setldetail": [
                {
                    "fund_pay_type": fund,
                    "inscp_scp_amt": yuan(total),
                    "crt_payb_lmt_amt": 0.0,
                    "fund_payamt": 0.0,
                    "setl_proc_info": "floor",
                }
            ],
        }


class FloorHttp(Floor):
    """No database: persons and balances from memory (read once, at start, from the registry)."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.people: dict[str, Person] = {}
        with psycopg.connect(dsn) as c:
            for psn_no, sex, birth, insutype, psn_type, region, balance in c.execute(
                "SELECT p.psn_no, p.sex, p.birth_date, e.insutype, e.psn_type, e.region_code, coalesce(a.balance, 0)"
                " FROM public.person p JOIN public.enrolment e ON e.psn_no = p.psn_no"
                " LEFT JOIN public.account a ON a.psn_no = p.psn_no"
            ):
                self.people[psn_no] = Person(psn_no, "压测", sex, birth, insutype, psn_type, region, int(balance))

    def process(self, infno: str, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        inp = env["input"]
        if infno == "2201":
            data = inp["data"]
            if data["psn_no"] not in self.people:
                return self.envelope(-1, refmsgid, received, None, "floor: unknown person")
            output: dict[str, Any] = self.out_2201(self.ids.next("M", received), data)
        elif infno == "2203":
            output = {}
        elif infno == "2204":
            output = self.out_2204(inp["feedetail"])
        else:  # 2206, 2207: the total as the client declares it (floor-sql adds up the stored lines)
            data = inp["data"]
            person = self.people[data["psn_no"]]
            setl_id = self.ids.next("S", received) if infno == "2207" else None
            output = self.out_settlement(env, person, fen(data["medfee_sumamt"]), person.balance, setl_id, received)
        return self.envelope(0, refmsgid, received, output)


# -- floor-sql: the statements ----------------------------------------------------------------------

_VISIT_COLS = (
    "mdtrt_id, psn_no, insutype, fixmedins_code, visit_type, med_type, hospital_level, insured_region,"
    " treatment_region, begin_time, end_time, status, disease, day_surgery, filed, transfer_from_level, ipt_otp_no"
)
_ACC_COLS = (
    "psn_no, insutype, region_code, year, admissions, deductible_paid, inpatient_covered, inpatient_eligible,"
    " pooled_fund_paid, large_expense_paid, critical_illness_base, critical_illness_paid,"
    " outpatient_deductible_paid, outpatient_pooled_paid, outpatient_eligible, assistance_deductible_paid,"
    " assistance_paid_outpatient, assistance_paid_inpatient, tilted_base, tilted_paid, chronic"
)
_SETL_COLS = (
    "setl_id, mdtrt_id, psn_no, insutype, fixmedins_code, visit_type, med_type, clr_type, clr_optins, setl_time,"
    " rule_date, year, snapshot_id, status, reverses, msgid, medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay,"
    " preselfpay_amt, inscp_scp_amt, act_pay_dedc, hifp_pay, pool_prop_selfpay, cvlserv_pay, hifes_pay, hifmi_pay,"
    " hifob_pay, maf_pay, oth_pay, hifdm_pay, fund_pay_sumamt, psn_part_amt, acct_pay, acct_mulaid_pay,"
    " psn_cash_pay, hosp_part_amt, balc, reasons, deltas, mutual_aid_psn_no"
)
_DIAG_COLS = "mdtrt_id, diag_type, srt_no, code, name, main, valid"
_FEE_COLS = (
    "mdtrt_id, feedetl_sn, chrg_bchno, item_code, medins_item_code, price, quantity, amount, declared_class,"
    " indication_met, status, item_class, full_self_pay, over_limit, self_pay_first, policy_range,"
    " self_pay_first_ratio, price_cap, reason"
)
_DETAIL_COLS = "setl_id, fund_pay_type, inscp_scp_amt, crt_payb_lmt_amt, fund_payamt, setl_proc_info"
_POSTING_COLS = "transfer_id, account, booked_on, amount"
_MSG_COLS = "msgid, infno, fixmedins_code, received_at, status, response, setl_id, mdtrt_id"


def _ph(cols: str, prefix: str = "") -> str:
    """Named placeholders for a column list."""
    return ", ".join(f"%({prefix}{c.strip()})s" for c in cols.split(","))


def _from_json(table: str, cols: str, param: str) -> str:
    """Several rows from one JSON parameter, in order (how yibao.store.db inserts them)."""
    sel = ", ".join(f"r.{c.strip()}" for c in cols.split(","))
    return (
        f"INSERT INTO {table} ({cols}) SELECT {sel} FROM json_populate_recordset(NULL::{table}, %({param})s::json)"
        " WITH ORDINALITY AS r ORDER BY r.ordinality"
    )


Q_INSTITUTION = "SELECT code, name, kind, hospital_level, region_code, active FROM institution WHERE code = %(code)s"
Q_PERSON = (
    "SELECT p.psn_no, p.certno_hash, p.name, p.sex, p.birth_date, e.id, e.psn_no, e.insutype, e.psn_type,"
    " e.region_code, e.begin_date, e.end_date, e.assistance_category, e.civil_servant, e.emp_name"
    " FROM person p JOIN enrolment e ON e.psn_no = p.psn_no"
    " WHERE p.psn_no = %(psn_no)s AND e.insutype = %(insutype)s AND e.begin_date <= %(on)s"
    " AND (e.end_date IS NULL OR e.end_date >= %(on)s) ORDER BY e.begin_date DESC LIMIT 1"
)
Q_VISIT = f"SELECT {_VISIT_COLS} FROM visit WHERE mdtrt_id = %(mdtrt_id)s"
Q_VISIT_LOCK = Q_VISIT + " FOR UPDATE"
Q_FEE_SNS = "SELECT feedetl_sn FROM fee_line WHERE mdtrt_id = %(mdtrt_id)s"
Q_FEES = (
    "SELECT item_code, amount, price, quantity, declared_class, indication_met, feedetl_sn FROM fee_line"
    " WHERE mdtrt_id = %(mdtrt_id)s AND status = 'active' AND setl_id IS NULL ORDER BY id"
)
Q_ACCUMULATOR = (
    f"SELECT {_ACC_COLS} FROM accumulator WHERE psn_no = %(psn_no)s AND insutype = %(insutype)s"
    " AND region_code = %(region_code)s AND year = %(year)s"
)
Q_BALANCE = "SELECT balance FROM account WHERE psn_no = %(psn_no)s"
Q_BALANCE_LOCK = Q_BALANCE + " FOR UPDATE"
I_VISIT = f"INSERT INTO visit ({_VISIT_COLS}) VALUES ({_ph(_VISIT_COLS)})"
I_MESSAGE = f"INSERT INTO message ({_MSG_COLS}) VALUES ({_ph(_MSG_COLS, 'm_')})"
D_DIAGNOSES = "DELETE FROM diagnosis WHERE mdtrt_id = %(mdtrt_id)s"
I_DIAGNOSES = _from_json("diagnosis", _DIAG_COLS, "rows")
I_FEES = _from_json("fee_line", _FEE_COLS, "rows")
# get-or-create and lock the year's row (yibao's ON CONFLICT … DO UPDATE SET psn_no = excluded.psn_no RETURNING)
U_ACC_GET = (
    "INSERT INTO accumulator (psn_no, insutype, region_code, year) VALUES (%(psn_no)s, %(insutype)s,"
    " %(region_code)s, %(year)s) ON CONFLICT (psn_no, insutype, region_code, year) DO UPDATE"
    f" SET psn_no = excluded.psn_no RETURNING {_ACC_COLS}"
)
_ACC_NAMES = tuple(c.strip() for c in _ACC_COLS.split(","))
_ACC_SET = (
    "outpatient_deductible_paid", "outpatient_pooled_paid", "outpatient_eligible", "pooled_fund_paid",
    "deductible_paid", "large_expense_paid", "assistance_paid_outpatient", "tilted_base",
)  # fmt: skip
U_ACC = (
    "UPDATE accumulator SET "
    + ", ".join(f"{c} = %(a_{c})s" for c in _ACC_SET)
    + " WHERE psn_no = %(psn_no)s AND insutype = %(insutype)s AND region_code = %(region_code)s AND year = %(year)s"
)
U_ACCOUNT = "UPDATE account SET balance = balance + %(amount)s WHERE psn_no = %(psn_no)s"
_MOVE_COLS = "psn_no, amount, kind, setl_id, beneficiary_psn_no, at"
I_MOVEMENT = f"INSERT INTO account_movement ({_MOVE_COLS}) VALUES ({_ph(_MOVE_COLS, 'mv_')})"
I_SETTLEMENT = f"INSERT INTO settlement ({_SETL_COLS}) VALUES ({_ph(_SETL_COLS, 's_')})"
I_DETAILS = _from_json("settlement_detail", _DETAIL_COLS, "details")
U_FEES = (
    "UPDATE fee_line SET setl_id = %(setl_id)s WHERE mdtrt_id = %(mdtrt_id)s AND status = 'active' AND setl_id IS NULL"
)
_TRANSFER_COLS = "id, type, ref, booked_on, at, memo"
I_TRANSFER = f"INSERT INTO ledger_transfer ({_TRANSFER_COLS}) VALUES ({_ph(_TRANSFER_COLS, 't_')})"
I_POSTINGS = _from_json("ledger_posting", _POSTING_COLS, "postings")
U_VISIT = "UPDATE visit SET status = %(status)s WHERE mdtrt_id = %(mdtrt_id)s"

# floor-sql-min: every write of a message in one statement. The CTEs see one snapshot and their
# foreign keys are checked at the end of the statement, so a detail row may name a settlement
# inserted beside it.
M_2201 = f"WITH v AS ({I_VISIT} RETURNING 1) {I_MESSAGE}"
M_2203 = f"WITH d AS ({D_DIAGNOSES} RETURNING 1), i AS ({I_DIAGNOSES} RETURNING 1) {I_MESSAGE}"
M_2204 = f"WITH f AS ({I_FEES} RETURNING 1) {I_MESSAGE}"
M_2207 = (
    f"WITH a AS ({U_ACC} RETURNING 1), b AS ({U_ACCOUNT} RETURNING 1), mv AS ({I_MOVEMENT} RETURNING 1),"
    f" s AS ({I_SETTLEMENT} RETURNING 1), d AS ({I_DETAILS} RETURNING 1), f AS ({U_FEES} RETURNING 1),"
    f" t AS ({I_TRANSFER} RETURNING 1), p AS ({I_POSTINGS} RETURNING 1), v AS ({U_VISIT} RETURNING 1)"
    f" {I_MESSAGE}"
)

DDL = f"""
CREATE SCHEMA {SCHEMA};
SET search_path = {SCHEMA};
CREATE TABLE institution (code varchar(30) PRIMARY KEY, name varchar(200) NOT NULL, kind varchar(1) NOT NULL,
  hospital_level integer NOT NULL, region_code varchar(6) NOT NULL, active boolean NOT NULL);
CREATE TABLE person (psn_no varchar(30) PRIMARY KEY, certno_hash varchar(64) NOT NULL UNIQUE,
  name varchar(100) NOT NULL, sex varchar(1) NOT NULL, birth_date date NOT NULL);
CREATE TABLE enrolment (id serial PRIMARY KEY, psn_no varchar(30) NOT NULL REFERENCES person,
  insutype varchar(6) NOT NULL, psn_type varchar(10) NOT NULL, region_code varchar(6) NOT NULL,
  begin_date date NOT NULL, end_date date, assistance_category varchar(30) NOT NULL,
  civil_servant boolean NOT NULL, emp_name varchar(200) NOT NULL);
CREATE INDEX ON enrolment (psn_no);
CREATE TABLE account (psn_no varchar(30) PRIMARY KEY REFERENCES person, balance bigint NOT NULL);
CREATE TABLE account_movement (id serial PRIMARY KEY, psn_no varchar(30) NOT NULL REFERENCES person,
  amount bigint NOT NULL, kind varchar(20) NOT NULL, setl_id varchar(30), beneficiary_psn_no varchar(30),
  at timestamp NOT NULL);
CREATE INDEX ON account_movement (psn_no);
CREATE TABLE visit (mdtrt_id varchar(30) PRIMARY KEY, psn_no varchar(30) NOT NULL REFERENCES person,
  insutype varchar(6) NOT NULL, fixmedins_code varchar(30) NOT NULL REFERENCES institution,
  visit_type varchar(12) NOT NULL, med_type varchar(10) NOT NULL, hospital_level integer NOT NULL,
  insured_region varchar(6) NOT NULL, treatment_region varchar(6) NOT NULL, begin_time timestamp NOT NULL,
  end_time timestamp, status varchar(12) NOT NULL, disease varchar(50) NOT NULL, day_surgery boolean NOT NULL,
  filed boolean NOT NULL, transfer_from_level integer, ipt_otp_no varchar(30) NOT NULL);
CREATE INDEX ON visit (psn_no);
CREATE INDEX ON visit (fixmedins_code);
CREATE TABLE diagnosis (id serial PRIMARY KEY, mdtrt_id varchar(30) NOT NULL REFERENCES visit,
  diag_type varchar(3) NOT NULL, srt_no integer NOT NULL, code varchar(30) NOT NULL, name varchar(200) NOT NULL,
  main boolean NOT NULL, valid boolean NOT NULL);
CREATE INDEX ON diagnosis (mdtrt_id);
CREATE TABLE fee_line (id serial PRIMARY KEY, mdtrt_id varchar(30) NOT NULL REFERENCES visit,
  feedetl_sn varchar(30) NOT NULL, chrg_bchno varchar(30) NOT NULL, item_code varchar(50) NOT NULL,
  medins_item_code varchar(50) NOT NULL, price numeric(16, 6) NOT NULL, quantity numeric(16, 4) NOT NULL,
  amount bigint NOT NULL, declared_class integer, indication_met boolean NOT NULL, status varchar(10) NOT NULL,
  setl_id varchar(30), item_class integer NOT NULL, full_self_pay bigint NOT NULL, over_limit bigint NOT NULL,
  self_pay_first bigint NOT NULL, policy_range bigint NOT NULL, self_pay_first_ratio integer NOT NULL,
  price_cap varchar(30) NOT NULL, reason varchar(20) NOT NULL, UNIQUE (mdtrt_id, feedetl_sn));
CREATE INDEX ON fee_line (setl_id);
CREATE TABLE settlement (setl_id varchar(30) PRIMARY KEY, mdtrt_id varchar(30) NOT NULL REFERENCES visit,
  psn_no varchar(30) NOT NULL, insutype varchar(6) NOT NULL, fixmedins_code varchar(30) NOT NULL,
  visit_type varchar(12) NOT NULL, med_type varchar(10) NOT NULL, clr_type varchar(6) NOT NULL,
  clr_optins varchar(6) NOT NULL, setl_time timestamp NOT NULL, rule_date date NOT NULL, year integer NOT NULL,
  snapshot_id varchar(40) NOT NULL, status varchar(10) NOT NULL, reverses varchar(30), msgid varchar(30) NOT NULL,
  medfee_sumamt bigint NOT NULL, fulamt_ownpay_amt bigint NOT NULL, overlmt_selfpay bigint NOT NULL,
  preselfpay_amt bigint NOT NULL, inscp_scp_amt bigint NOT NULL, act_pay_dedc bigint NOT NULL,
  hifp_pay bigint NOT NULL, pool_prop_selfpay integer NOT NULL, cvlserv_pay bigint NOT NULL,
  hifes_pay bigint NOT NULL, hifmi_pay bigint NOT NULL, hifob_pay bigint NOT NULL, maf_pay bigint NOT NULL,
  oth_pay bigint NOT NULL, hifdm_pay bigint NOT NULL, fund_pay_sumamt bigint NOT NULL,
  psn_part_amt bigint NOT NULL, acct_pay bigint NOT NULL, acct_mulaid_pay bigint NOT NULL,
  psn_cash_pay bigint NOT NULL, hosp_part_amt bigint NOT NULL, balc bigint NOT NULL, reasons text NOT NULL,
  deltas text NOT NULL, mutual_aid_psn_no varchar(30));
CREATE INDEX ON settlement (mdtrt_id);
CREATE INDEX ON settlement (psn_no);
CREATE INDEX ON settlement (fixmedins_code, insutype, clr_type, setl_time);
CREATE TABLE settlement_detail (id serial PRIMARY KEY, setl_id varchar(30) NOT NULL REFERENCES settlement,
  fund_pay_type varchar(6) NOT NULL, inscp_scp_amt bigint NOT NULL, crt_payb_lmt_amt bigint,
  fund_payamt bigint NOT NULL, setl_proc_info varchar(400) NOT NULL);
CREATE INDEX ON settlement_detail (setl_id);
CREATE TABLE accumulator (psn_no varchar(30), insutype varchar(6), region_code varchar(6), year integer,
  admissions integer NOT NULL DEFAULT 0, deductible_paid bigint NOT NULL DEFAULT 0,
  inpatient_covered bigint NOT NULL DEFAULT 0, inpatient_eligible bigint NOT NULL DEFAULT 0,
  pooled_fund_paid bigint NOT NULL DEFAULT 0, large_expense_paid bigint NOT NULL DEFAULT 0,
  critical_illness_base bigint NOT NULL DEFAULT 0, critical_illness_paid bigint NOT NULL DEFAULT 0,
  outpatient_deductible_paid bigint NOT NULL DEFAULT 0, outpatient_pooled_paid bigint NOT NULL DEFAULT 0,
  outpatient_eligible bigint NOT NULL DEFAULT 0, assistance_deductible_paid bigint NOT NULL DEFAULT 0,
  assistance_paid_outpatient bigint NOT NULL DEFAULT 0, assistance_paid_inpatient bigint NOT NULL DEFAULT 0,
  tilted_base bigint NOT NULL DEFAULT 0, tilted_paid bigint NOT NULL DEFAULT 0, chronic text NOT NULL DEFAULT '{{}}',
  PRIMARY KEY (psn_no, insutype, region_code, year));
CREATE TABLE ledger_account (code varchar(80) PRIMARY KEY, kind varchar(10) NOT NULL, fund varchar(6) NOT NULL,
  region varchar(6) NOT NULL, entity varchar(6) NOT NULL, party varchar(30) NOT NULL);
CREATE TABLE ledger_transfer (id varchar(80) PRIMARY KEY, type varchar(30) NOT NULL, ref varchar(80) NOT NULL,
  booked_on date NOT NULL, at timestamp NOT NULL, memo varchar(400) NOT NULL);
CREATE INDEX ON ledger_transfer (ref);
CREATE INDEX ON ledger_transfer (type, booked_on);
CREATE TABLE ledger_posting (id serial PRIMARY KEY, transfer_id varchar(80) NOT NULL REFERENCES ledger_transfer,
  account varchar(80) NOT NULL REFERENCES ledger_account, booked_on date NOT NULL, amount bigint NOT NULL);
CREATE INDEX ON ledger_posting (transfer_id);
CREATE INDEX ON ledger_posting (account, booked_on);
CREATE TABLE message (msgid varchar(30) PRIMARY KEY, infno varchar(10) NOT NULL,
  fixmedins_code varchar(30) NOT NULL, received_at timestamp NOT NULL, status varchar(12) NOT NULL,
  response text NOT NULL, setl_id varchar(30), mdtrt_id varchar(30));
-- the registry, copied from the one yibao db load wrote (names are encrypted there: a placeholder)
INSERT INTO institution SELECT code, name, kind, hospital_level, region_code, active FROM public.institution;
INSERT INTO person SELECT psn_no, certno_hash, '压测', sex, birth_date FROM public.person;
INSERT INTO enrolment (psn_no, insutype, psn_type, region_code, begin_date, end_date, assistance_category,
  civil_servant, emp_name)
  SELECT psn_no, insutype, psn_type, region_code, begin_date, end_date, assistance_category, civil_servant, emp_name
  FROM public.enrolment;
INSERT INTO account SELECT p.psn_no, coalesce(a.balance, 0) FROM public.person p
  LEFT JOIN public.account a ON a.psn_no = p.psn_no;
INSERT INTO ledger_account
  SELECT 'benefit:' || f || ':' || r, 'benefit', f, r, r, '' FROM unnest(ARRAY['310100', '390100']) f,
    (SELECT DISTINCT region_code AS r FROM enrolment) rr
  UNION ALL
  SELECT 'pay:' || f || ':445100:' || code, 'payable', f, '445100', '445100', code
    FROM unnest(ARRAY['310100', '390100']) f, institution;
"""


class FloorSql(Floor):
    """Each message's database work as the real server does it, with psycopg and no ORM."""

    def __init__(self, dsn: str, minimal: bool) -> None:
        super().__init__()
        self.dsn = dsn
        self.minimal = minimal
        self.local = threading.local()  # one connection per worker thread of the front's pool

    def connection(self) -> psycopg.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None or conn.closed:
            # not autocommit: psycopg sends BEGIN before the first statement and COMMIT on commit(),
            # as under SQLAlchemy; prepare_threshold stays at its default (prepared after 5 runs)
            conn = psycopg.connect(self.dsn, options=f"-c search_path={SCHEMA}")
            self.local.conn = conn
        return conn

    def process(self, infno: str, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        conn = self.connection()
        read_only = not self.writes[infno]
        if conn.read_only != read_only:
            conn.read_only = read_only  # 2206: BEGIN READ ONLY … COMMIT, as the real server does
        try:
            with conn.cursor() as cur:
                handler = getattr(self, f"m{infno}")
                answer: str = handler(cur, env, refmsgid, received)
            conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.rollback()
            if conn.broken:
                self.local.conn = None
            raise
        return answer

    def message(
        self, env: dict[str, Any], infno: str, received: datetime, answer: str, **ids: str | None
    ) -> dict[str, Any]:
        """The message row's parameters (m_ prefixed): the answer text kept for a repeated msgid."""
        return {
            "m_msgid": env["msgid"],
            "m_infno": infno,
            "m_fixmedins_code": env["fixmedins_code"],
            "m_received_at": received,
            "m_status": "done",
            "m_response": answer,
            "m_setl_id": ids.get("setl_id"),
            "m_mdtrt_id": ids.get("mdtrt_id"),
        }

    def person(self, cur: psycopg.Cursor, psn_no: str, insutype: str, on: date) -> Person:
        row = cur.execute(Q_PERSON, {"psn_no": psn_no, "insutype": insutype, "on": on}).fetchone()
        if row is None:
            raise LookupError(f"no enrolment of {psn_no} in {insutype}")
        return Person(row[0], row[2], row[3], row[4], row[7], row[8], row[9], 0)

    def m2201(self, cur: psycopg.Cursor, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        data = env["input"]["data"]
        inst = cur.execute(Q_INSTITUTION, {"code": env["fixmedins_code"]}).fetchone()
        if inst is None:
            raise LookupError("unknown institution")
        person = self.person(cur, data["psn_no"], data["insutype"], received.date())
        mdtrt_id = self.ids.next("M", received)
        answer = self.envelope(0, refmsgid, received, self.out_2201(mdtrt_id, data))
        visit = {
            "mdtrt_id": mdtrt_id,
            "psn_no": person.psn_no,
            "insutype": person.insutype,
            "fixmedins_code": inst[0],
            "visit_type": "outpatient",
            "med_type": "11",
            "hospital_level": inst[3],
            "insured_region": person.region,
            "treatment_region": env.get("mdtrtarea_admvs", ""),
            "begin_time": received,
            "end_time": None,
            "status": "open",
            "disease": "",
            "day_surgery": False,
            "filed": False,
            "transfer_from_level": None,
            "ipt_otp_no": data.get("ipt_otp_no", ""),
        }
        msg = self.message(env, "2201", received, answer, mdtrt_id=mdtrt_id)
        if self.minimal:
            cur.execute(M_2201, visit | msg)
        else:
            cur.execute(I_VISIT, visit)
            cur.execute(I_MESSAGE, msg)
        return answer

    def m2203(self, cur: psycopg.Cursor, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        inp = env["input"]
        mdtrt_id = inp["mdtrtinfo"]["mdtrt_id"]
        if cur.execute(Q_VISIT_LOCK, {"mdtrt_id": mdtrt_id}).fetchone() is None:
            raise LookupError("unknown visit")
        rows = [
            {
                "mdtrt_id": mdtrt_id,
                "diag_type": d.get("diag_type", "1"),
                "srt_no": int(d.get("diag_srt_no", 1)),
                "code": d["diag_code"],
                "name": d.get("diag_name", ""),
                "main": int(d.get("diag_srt_no", 1)) == 1,
                "valid": True,
            }
            for d in inp.get("diseinfo", [])
        ]
        answer = self.envelope(0, refmsgid, received, {})
        params = {"mdtrt_id": mdtrt_id, "rows": dumps(rows)}
        msg = self.message(env, "2203", received, answer, mdtrt_id=mdtrt_id)
        if self.minimal:
            cur.execute(M_2203, params | msg)
        else:
            cur.execute(D_DIAGNOSES, params)
            cur.execute(I_DIAGNOSES, params)
            cur.execute(I_MESSAGE, msg)
        return answer

    def m2204(self, cur: psycopg.Cursor, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        lines = env["input"]["feedetail"]
        mdtrt_id = lines[0]["mdtrt_id"]
        visit = cur.execute(Q_VISIT_LOCK, {"mdtrt_id": mdtrt_id}).fetchone()
        if visit is None:
            raise LookupError("unknown visit")
        known = {r[0] for r in cur.execute(Q_FEE_SNS, {"mdtrt_id": mdtrt_id})}
        if any(line["feedetl_sn"] in known for line in lines):
            raise ValueError("a fee line was uploaded before")
        self.person(cur, visit[1], visit[2], received.date())
        rows = []
        for line in lines:
            amount = fen(line["det_item_fee_sumamt"])
            rows.append(
                {
                    "mdtrt_id": mdtrt_id,
                    "feedetl_sn": line["feedetl_sn"],
                    "chrg_bchno": line.get("chrg_bchno", ""),
                    "item_code": line["med_list_codg"],
                    "medins_item_code": line.get("medins_list_codg", ""),
                    "price": line["pric"],
                    "quantity": line["cnt"],
                    "amount": amount,
                    "declared_class": None,
                    "indication_met": True,
                    "status": "active",
                    "item_class": 1,
                    "full_self_pay": 0,
                    "over_limit": 0,
                    "self_pay_first": 0,
                    "policy_range": amount,
                    "self_pay_first_ratio": 0,
                    "price_cap": "",
                    "reason": "",
                }
            )
        answer = self.envelope(0, refmsgid, received, self.out_2204(lines))
        params = {"rows": dumps(rows)}
        msg = self.message(env, "2204", received, answer, mdtrt_id=mdtrt_id)
        if self.minimal:
            cur.execute(M_2204, params | msg)
        else:
            cur.execute(I_FEES, params)
            cur.execute(I_MESSAGE, msg)
        return answer

    def _visit_fees_person(
        self, cur: psycopg.Cursor, env: dict[str, Any], lock: bool, on: date
    ) -> tuple[tuple[Any, ...], int, Person]:
        data = env["input"]["data"]
        key = {"mdtrt_id": data["mdtrt_id"]}
        visit = cur.execute(Q_VISIT_LOCK if lock else Q_VISIT, key).fetchone()
        if visit is None:
            raise LookupError("unknown visit")
        total = sum(int(r[1]) for r in cur.execute(Q_FEES, key))  # the stored lines, not what the client says
        person = self.person(cur, visit[1], visit[2], on)
        return visit, total, person

    def m2206(self, cur: psycopg.Cursor, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        _visit, total, person = self._visit_fees_person(cur, env, False, received.date())
        acc = {"psn_no": person.psn_no, "insutype": person.insutype, "region_code": person.region}
        cur.execute(Q_ACCUMULATOR, acc | {"year": received.year}).fetchone()
        row = cur.execute(Q_BALANCE, {"psn_no": person.psn_no}).fetchone()
        balance = int(row[0]) if row else 0
        return self.envelope(0, refmsgid, received, self.out_settlement(env, person, total, balance, None, received))

    def m2207(self, cur: psycopg.Cursor, env: dict[str, Any], refmsgid: str, received: datetime) -> str:
        visit, total, person = self._visit_fees_person(cur, env, True, received.date())
        mdtrt_id, psn_no = visit[0], person.psn_no
        key = {"psn_no": psn_no, "insutype": person.insutype, "region_code": person.region, "year": received.year}
        acc = cur.execute(U_ACC_GET, key).fetchone()
        assert acc is not None
        row = cur.execute(Q_BALANCE_LOCK, {"psn_no": psn_no}).fetchone()
        balance = int(row[0]) if row else 0
        setl_id = self.ids.next("S", received)
        answer = self.envelope(
            0, refmsgid, received, self.out_settlement(env, person, total, balance, setl_id, received)
        )
        fund = "310100" if person.insutype == "310" else "390100"
        data = env["input"]["data"]
        # the accumulator's new values, from the row just locked: the outpatient eligible amount grows
        sums = dict(zip(_ACC_NAMES, acc, strict=True))
        new = {f"a_{c}": int(sums[c]) for c in _ACC_SET}
        new["a_outpatient_eligible"] += total
        settlement = {
            "s_setl_id": setl_id,
            "s_mdtrt_id": mdtrt_id,
            "s_psn_no": psn_no,
            "s_insutype": person.insutype,
            "s_fixmedins_code": visit[3],
            "s_visit_type": visit[4],
            "s_med_type": data.get("med_type", visit[5]),
            "s_clr_type": "11",
            "s_clr_optins": person.region[:4] + "00",
            "s_setl_time": received,
            "s_rule_date": received.date(),
            "s_year": received.year,
            "s_snapshot_id": "floor",
            "s_status": "settled",
            "s_reverses": None,
            "s_msgid": env["msgid"],
            "s_medfee_sumamt": total,
            "s_fulamt_ownpay_amt": 0,
            "s_overlmt_selfpay": 0,
            "s_preselfpay_amt": 0,
            "s_inscp_scp_amt": total,
            "s_act_pay_dedc": 0,
            "s_hifp_pay": 0,
            "s_pool_prop_selfpay": 10000,
            "s_cvlserv_pay": 0,
            "s_hifes_pay": 0,
            "s_hifmi_pay": 0,
            "s_hifob_pay": 0,
            "s_maf_pay": 0,
            "s_oth_pay": 0,
            "s_hifdm_pay": 0,
            "s_fund_pay_sumamt": 0,
            "s_psn_part_amt": total,
            "s_acct_pay": 0,
            "s_acct_mulaid_pay": 0,
            "s_psn_cash_pay": total,
            "s_hosp_part_amt": 0,
            "s_balc": balance,
            "s_reasons": "[]",
            "s_deltas": dumps({"outpatient_eligible": total}),
            "s_mutual_aid_psn_no": None,
        }
        transfer = f"setl:{setl_id}"
        params = {
            **key,
            **new,
            "amount": 0,  # the account pays nothing: the update is still made (a row version, WAL)
            "mv_psn_no": psn_no,
            "mv_amount": 0,
            "mv_kind": "settlement",
            "mv_setl_id": setl_id,
            "mv_beneficiary_psn_no": None,
            "mv_at": received,
            **settlement,
            "details": dumps(
                [
                    {
                        "setl_id": setl_id,
                        "fund_pay_type": fund,
                        "inscp_scp_amt": total,
                        "crt_payb_lmt_amt": 0,
                        "fund_payamt": 0,
                        "setl_proc_info": "floor",
                    }
                ]
            ),
            "setl_id": setl_id,
            "mdtrt_id": mdtrt_id,
            "t_id": transfer,
            "t_type": "settlement",
            "t_ref": setl_id,
            "t_booked_on": received.date(),
            "t_at": received,
            "t_memo": "",
            "postings": dumps(
                [
                    {
                        "transfer_id": transfer,
                        "account": f"benefit:{fund}:{person.region}",
                        "booked_on": received.date().isoformat(),
                        "amount": total,
                    },
                    {
                        "transfer_id": transfer,
                        "account": f"pay:{fund}:445100:{visit[3]}",
                        "booked_on": received.date().isoformat(),
                        "amount": -total,
                    },
                ]
            ),
            "status": "settled",
            **self.message(env, "2207", received, answer, setl_id=setl_id, mdtrt_id=mdtrt_id),
        }
        if self.minimal:
            cur.execute(M_2207, params)
        else:
            for statement in (
                U_ACC, U_ACCOUNT, I_MOVEMENT, I_SETTLEMENT, I_DETAILS, U_FEES, I_TRANSFER, I_POSTINGS, U_VISIT,
                I_MESSAGE,
            ):  # fmt: skip
                cur.execute(statement, params)
        return answer


# -- the ASGI callable and its processes --------------------------------------------------------------


class FloorApp:
    """ASGI: the callService endpoint handled in a thread pool (as yibao.api.front), ``/health``, 404."""

    def __init__(self, make: Callable[[], Floor], threads: int = THREADS) -> None:
        self.make = make
        self.threads = threads
        self.floor: Floor | None = None
        self.pool: ThreadPoolExecutor | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        self.floor = self.make()  # in the serving process, before the first request
                    except Exception as e:  # uvicorn stops: the orchestrator sees the server exit
                        await send({"type": "lifespan.startup.failed", "message": f"{e.__class__.__name__}: {e}"})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == PATH or path.startswith(PATH + "/"):
            body = await _body(receive)
            if body is None:
                return
            if self.pool is None:
                self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="floor-message")
            assert self.floor is not None
            answer = await asyncio.get_running_loop().run_in_executor(self.pool, self.floor.handle, body)
            await _send(send, 200, answer.encode("utf-8"))
        elif path == "/health":
            await _send(send, 200, b'{"status":"ok"}')
        else:
            await _send(send, 404, b'{"detail":"Not Found"}')


async def _body(receive: Any) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Any, status: int, content: bytes) -> None:
    headers = [_JSON, (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def make_floor(variant: str, dsn: str) -> Floor:
    if variant == "floor-http":
        return FloorHttp(dsn)
    return FloorSql(dsn, minimal=variant == "floor-sql-min")


#: what yibao serve passes uvicorn (yibao.cli serve); loop and http stay "auto" (uvloop, httptools)
UVICORN_OPTIONS: dict[str, Any] = {"log_level": "warning", "access_log": False}


def _floor_worker(variant: str, host: str, port: int, dsn: str, supervisor: int) -> None:
    import uvicorn

    from yibao.api.workers import listening_socket

    def stop_without() -> None:  # as yibao.api.workers: no worker outlives its supervisor
        while os.getppid() == supervisor:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_without, daemon=True).start()
    app = FloorApp(lambda: make_floor(variant, dsn))
    config = uvicorn.Config(app, **UVICORN_OPTIONS)
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def serve_main(argv: list[str]) -> int:
    """``serve_floor.py --serve VARIANT --port P --workers N --dsn DSN``: one floor server (the
    orchestrator starts it as its own process, as it starts ``yibao serve``)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", choices=VARIANTS[1:], required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--dsn", required=True)
    a = ap.parse_args(argv)
    if a.workers == 1:  # yibao serve --workers 1 is uvicorn.run in one process
        import uvicorn

        uvicorn.run(FloorApp(lambda: make_floor(a.serve, a.dsn)), host=a.host, port=a.port, **UVICORN_OPTIONS)
        return 0
    # as yibao.api.workers.run_workers: spawned workers, each with its own SO_REUSEPORT socket
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda _signum, _frame: stopping.set())
    me = os.getpid()
    processes = [
        context.Process(target=_floor_worker, args=(a.serve, a.host, a.port, a.dsn, me), name="floor-worker")
        for _ in range(a.workers)
    ]
    for p in processes:
        p.start()
    try:
        while not stopping.wait(0.5):
            for p in processes:
                if not p.is_alive():
                    print(f"floor worker {p.pid} exited ({p.exitcode})", file=sys.stderr, flush=True)
                    stopping.set()
    finally:
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(30)
            if p.is_alive():
                p.kill()
    return 0


# == the orchestrator ============================================================================


def create_floor_schema(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(DDL)  # several statements: sent as one simple query (no parameters)
        c.execute(f"VACUUM ANALYZE {SCHEMA}.person, {SCHEMA}.enrolment, {SCHEMA}.account, {SCHEMA}.institution")


def sync_floor_accounts(dsn: str) -> None:
    """The floor's balances from the real accounts (the yibao runs spend from those; the load
    generator's copy comes from them too, by refresh_balances)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(
            f"UPDATE {SCHEMA}.account f SET balance = a.balance FROM public.account a"
            " WHERE a.psn_no = f.psn_no AND a.balance <> f.balance"
        )


@contextlib.contextmanager
def floor_server(variant: str, dsn: str, workers: int, log: Path) -> Iterator[dict[str, Any]]:
    """Start a floor server as serve_load.server starts ``yibao serve``; stop it and its workers."""
    port = free_port()
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        variant,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--dsn",
        dsn,
    ]
    with started(cmd, None, port, workers, log) as srv:
        yield srv


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One variant over its rounds: throughput averaged, latency percentiles the median of the
    rounds', CPU per flow from the CPU seconds and flows of all windows together."""
    secs = sum(r["window_s"] for r in runs)
    flows = sum(r["flows_per_s"] * r["window_s"] for r in runs)
    requests = sum(r["requests_per_s"] * r["window_s"] for r in runs)
    cpu_ms = {
        k: 10 * sum(r["cpu_percent"][k] * r["window_s"] for r in runs) / flows if flows else float("nan")
        for k in ("server", "postgres", "loadgen")
    }
    total = sum(cpu_ms.values())
    capacity = runs[0]["cpu_percent"]["machine_capacity"] / 100  # cores
    return {
        "rounds": len(runs),
        "flows_per_s": flows / secs,
        "flows_per_s_each": [round(r["flows_per_s"], 1) for r in runs],
        "requests_per_s": requests / secs,
        "p50": statistics.median(r["latency_ms"]["p50"] for r in runs),
        "p95": statistics.median(r["latency_ms"]["p95"] for r in runs),
        "p99": statistics.median(r["latency_ms"]["p99"] for r in runs),
        "cpu_ms_per_flow": cpu_ms,
        "cpu_ms_per_flow_total": total,
        "projected_flows_per_s": 1000 * capacity / total if total else float("nan"),
        "machine_percent": statistics.mean(r["cpu_percent"]["machine"] for r in runs),
        "other_percent": statistics.mean(r["cpu_percent"]["other"] for r in runs),
        "xacts_per_flow": statistics.mean(r["db"]["xacts_per_flow"] for r in runs),
        "failed": sum(r["requests_failed_incl_warmup"] for r in runs),
        "wrong": sum(sum(r["wrong_counts"].values()) for r in runs),
        "tracebacks": sum(r.get("server_tracebacks", 0) for r in runs),
    }


def print_summary(agg: dict[str, dict[str, Any]], capacity: float) -> None:
    print("\n== summary (per variant over its rounds; latency: median of the rounds' percentiles)")
    print(
        "  variant         flows/s  (each round)            req/s    p50    p95    p99  vs500   "
        "CPU ms/flow: server + postgres + loadgen = total   2-core proj.  vs500  DBxact/flow  fails wrong  other%"
    )
    for v, a in agg.items():
        c = a["cpu_ms_per_flow"]
        print(
            f"  {v:<14} {a['flows_per_s']:8.1f}  {a['flows_per_s_each']!s:<22} {a['requests_per_s']:7.0f} "
            f"{a['p50']:6.1f} {a['p95']:6.1f} {a['p99']:6.1f} {a['flows_per_s'] / TARGET_FLOWS:6.1%}   "
            f"{c['server']:10.2f} + {c['postgres']:6.2f} + {c['loadgen']:6.2f} = {a['cpu_ms_per_flow_total']:6.2f}"
            f"        {a['projected_flows_per_s']:8.0f}/s {a['projected_flows_per_s'] / TARGET_FLOWS:6.1%}"
            f"  {a['xacts_per_flow']:10.2f}  {a['failed']:5d} {a['wrong']:5d}  {a['other_percent']:6.0f}"
        )
    print(
        f"  (2-core proj.: {capacity:.0f} cores' worth of CPU divided by the CPU per flow of server, PostgreSQL and "
        "load generator — what the window's throughput would be if nothing else ran and the cores were the limit)"
    )

    def ratio(a: str, b: str) -> None:
        if a in agg and b in agg and agg[b]["flows_per_s"]:
            x, y = agg[a], agg[b]
            print(
                f"  {a} / {b}: flows/s {x['flows_per_s'] / y['flows_per_s']:6.1%}   CPU per flow "
                f"{x['cpu_ms_per_flow_total'] / y['cpu_ms_per_flow_total']:5.2f}×   (server "
                f"{x['cpu_ms_per_flow']['server']:.2f} vs {y['cpu_ms_per_flow']['server']:.2f} ms, postgres "
                f"{x['cpu_ms_per_flow']['postgres']:.2f} vs {y['cpu_ms_per_flow']['postgres']:.2f} ms)"
            )

    print("\n== ratios")
    ratio("yibao", "floor-sql")
    ratio("floor-sql", "floor-http")
    ratio("floor-sql-min", "floor-sql")
    ratio("yibao", "floor-http")
    for v, a in agg.items():
        verdict = "at or above" if a["flows_per_s"] >= TARGET_FLOWS else "below"
        print(
            f"  {v:<14} {a['flows_per_s']:7.1f} flows/s = {a['flows_per_s'] / TARGET_FLOWS:6.1%} of the 500 target "
            f"({verdict}); projected from CPU per flow {a['projected_flows_per_s']:5.0f}/s = "
            f"{a['projected_flows_per_s'] / TARGET_FLOWS:6.1%}"
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        return serve_main(argv)
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of the variants (default 3)")
    ap.add_argument("--duration", type=float, default=30.0, help="measured window, seconds (default 30)")
    ap.add_argument("--warmup", type=float, default=5.0, help="warm-up before the window, seconds (default 5)")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    ap.add_argument("--concurrency", type=int, default=8, help="virtual HIS clients (default 8)")
    ap.add_argument("--procs", type=int, default=1, help="load-generating processes (default 1)")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw", help="HTTP client (default raw)")
    ap.add_argument("--persons", type=int, default=3000, help="insured persons to generate (default 3000)")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        help="before each run, wait up to this many seconds for other work on the machine to stop (default 60)",
    )
    ap.add_argument("--out", help="folder for a JSON report")
    # what serve_load's run_load and server read from its arguments
    ap.set_defaults(py_spy=False, py_spy_rate=200, py_spy_args="", server_env=None)
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown} (known: {', '.join(VARIANTS)})")
    mix = parse_mix("outpatient=1")  # the floor servers answer the outpatient messages only

    base = f"host={args.pg_host} port={args.pg_port} user={args.pg_user}"
    admin = psycopg.connect(pg_dsn(base, "postgres"), autocommit=True)
    info = machine(admin)
    print(f"yibao serve floor — {info['date']}  (commit {info['commit']})")
    print_machine(info)
    print(
        f"  plan: {args.rounds} round(s) of {variants}; workers {args.workers}, concurrency {args.concurrency}, "
        f"outpatient flows; warm-up {args.warmup:g} s, window {args.duration:g} s; {args.persons} persons"
    )
    print(
        "  statements per flow: floor-sql 33 (2201 4, 2203 4, 2204 5, 2206 5, 2207 15), floor-sql-min 20 "
        "(3, 2, 4, 5, 6); each message also BEGIN and COMMIT"
    )

    name = f"yibao_bench_{secrets.token_hex(4)}"
    url = sqlalchemy_url(args, name)
    dsn = pg_dsn(base, name)
    env = bench_env()
    env.pop("YIBAO_GATEWAY_KEYS", None)
    tmp = Path(tempfile.mkdtemp(prefix="yibao-floor-"))
    log = tmp / "server.log"
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    created = False
    try:
        create_db(admin, name)
        created = True
        households, load_s = load_registry(args, url, env, tmp)
        print(f"  database {name}: {sum(len(h) for h in households)} persons loaded in {load_s:.1f} s")
        if any(v.startswith("floor-sql") for v in variants):
            create_floor_schema(dsn)
        for r in range(args.rounds):
            # alternate the order, so that no variant always runs first (or right after another)
            order = variants if r % 2 == 0 else variants[::-1]
            for v in order:
                with psycopg.connect(dsn, autocommit=True) as c:
                    c.execute("VACUUM ANALYZE")
                    c.execute("CHECKPOINT")
                if args.wait_idle > 0:
                    busy = wait_idle(args.wait_idle)
                    if busy >= 25.0:
                        print(f"\n  (machine still {busy:.0f}% busy with other work after {args.wait_idle:g} s)")
                refresh_balances(dsn, households)  # the clients' copies of the accounts, from the database
                if v.startswith("floor-sql"):
                    sync_floor_accounts(dsn)
                log_before = log.stat().st_size if log.exists() else 0
                starter = (
                    server(args, url, env, args.workers, log)
                    if v == "yibao"
                    else floor_server(v, dsn, args.workers, log)
                )
                with starter as srv:
                    res = run_load(args, srv, households, args.concurrency, mix, dsn, tmp, f"{v}-{r}")
                text = log.read_text("utf-8", "replace")[log_before:] if log.exists() else ""
                res["server_tracebacks"] = text.count("Traceback")
                res["server_log_tail"] = text[-3000:]
                res["variant"] = v
                res["round"] = r
                print(f"\n#### {v}, round {r + 1} of {args.rounds}")
                print_run(args.workers, res, None)
                if res["server_tracebacks"]:
                    print(f"  server log: {res['server_tracebacks']} tracebacks; tail:\n{res['server_log_tail']}")
                runs[v].append(res)
        agg = {v: aggregate(rs) for v, rs in runs.items() if rs}
        print_summary(agg, (os.cpu_count() or 1))
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            out = Path(args.out) / f"serve_floor-{datetime.now():%Y%m%d-%H%M%S}.json"
            report = {"machine": info, "args": vars(args), "summary": agg, "runs": runs}
            out.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            print(f"  report: {out}")
    finally:
        if created:
            with contextlib.suppress(Exception):
                drop_db(admin, name)
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
