"""Virtual HIS clients for ``bench/serve_load.py``: a synthetic 潮州 registry, complete outpatient and
inpatient flows of the national interface, two HTTP clients, and the load-generating process.

Registry (seeded, deterministic): persons of 潮州市 445100 and its counties 445102/445103/445122 —
employees (在职 1101, 退休 1201, some civil servants) with personal-account balances, residents
(成年 1501, 未成年 1402, 学生 1403; some in a 医疗救助 category), some minors and elderly parents
bound to an employee's account for 家庭共济 — and designated hospitals of levels 1–3 plus a pharmacy.

Flows (each ends in one settlement):

- outpatient: 2201 → 2203 → 2204 (3–15 lines) → 2206 → 2207
- inpatient: 2401 → 2301 (50–100 lines) → 2402 → 2303 → 2304

Every answer is checked: ``infcode`` 0, and the amounts — the fee upload's lines add up to what
was sent, pre-settlement equals settlement, ``medfee_sumamt`` = 基金 + 个人 + 医院, 个人 = 账户 + 现金,
the ``setldetail`` funds add up to ``fund_pay_sumamt`` and its 310200 (个人账户) rows to ``acct_pay``,
and ``balc`` follows the account (each virtual client owns its
households, so nobody else touches their accounts or accumulators while a flow runs).

A virtual client is one HIS of one institution running flows back to back over one keep-alive
connection. ``raw`` is a minimal HTTP/1.1 client on asyncio streams (cheap on CPU, so that the
load generator takes as little as possible from the server on a small machine); ``httpx`` is
``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PATH = "/fsi/api/rsfComIfsService/callService"
CITY = "445100"
COUNTIES = ("445102", "445103", "445122")

#: every infno the flows send, in a fixed order (an index is what the recorder stores)
INFNOS = ("2201", "2203", "2204", "2206", "2207", "2401", "2301", "2402", "2303", "2304")
IDX = {n: i for i, n in enumerate(INFNOS)}
FLOWS = ("outpatient", "inpatient")
TIMEOUT = 30.0  # seconds; a request that takes longer counts as a failure

# -- institutions -----------------------------------------------------------------------------

#: (code, name, level, region, share of the virtual HIS clients)
INSTITUTIONS: tuple[tuple[str, str, int, str, int], ...] = (
    ("H44510000001", "潮州市中心医院（压测）", 3, "445100", 4),
    ("H44510000002", "潮州市人民医院（压测）", 3, "445100", 3),
    ("H44510200003", "湘桥区人民医院（压测）", 2, "445102", 2),
    ("H44510300004", "潮安区人民医院（压测）", 2, "445103", 2),
    ("H44512200005", "饶平县人民医院（压测）", 2, "445122", 2),
    ("H44510200006", "湘桥区城西社区卫生服务中心（压测）", 1, "445102", 1),
    ("H44510300007", "潮安区庵埠镇卫生院（压测）", 1, "445103", 1),
    ("H44512200008", "饶平县黄冈镇卫生院（压测）", 1, "445122", 1),
)
PHARMACY = ("P44510000009", "潮州示例大药房（压测）", 0, "445100")


def client_institutions(n: int) -> list[tuple[str, int, str]]:
    """The institution of each of ``n`` virtual clients (code, level, region), by share."""
    wheel = [(code, lv, reg) for code, _, lv, reg, share in INSTITUTIONS for _ in range(share)]
    return [wheel[i % len(wheel)] for i in range(n)]


# -- catalogue items (policies/000000-national/catalog/sample.csv) with typical prices ----------

#: code → (price range in yuan, quantity range, outpatient weight, inpatient weight)
ITEMS: dict[str, tuple[tuple[float, float], tuple[int, int], int, int]] = {
    "DEMO-D0001": ((0.35, 0.60), (12, 36), 14, 6),  # 阿莫西林
    "DEMO-D0002": ((0.09, 0.16), (7, 28), 10, 6),  # 阿托伐他汀（集采 0.12）
    "DEMO-D0003": ((8.0, 15.0), (1, 7), 6, 14),  # 头孢曲松
    "DEMO-D0004": ((300.0, 450.0), (1, 3), 1, 3),  # 白蛋白（限定）
    "DEMO-D0005": ((1.5, 2.5), (6, 12), 4, 1),  # 小儿氨酚黄那敏（限儿童）
    "DEMO-D0006": ((1.0, 1.5), (30, 60), 12, 4),  # 二甲双胍
    "DEMO-D0007": ((0.10, 0.40), (14, 30), 10, 4),  # 氨氯地平（集采 0.15）
    "DEMO-S0001": ((10.0, 10.0), (1, 1), 12, 6),  # 一般诊疗费
    "DEMO-S0002": ((180.0, 320.0), (1, 1), 4, 3),  # CT
    "DEMO-S0003": ((3000.0, 4500.0), (1, 1), 0, 1),  # 冠脉造影（限二级以上）
    "DEMO-S0004": ((20.0, 40.0), (1, 1), 2, 1),  # 妇科检查（限女性）
    "DEMO-S0005": ((100.0, 800.0), (1, 1), 1, 0),  # 美容整形（丙类）
    "DEMO-F0001": ((40.0, 80.0), (1, 1), 0, 0),  # 床位费: one line a day, added separately
    "DEMO-M0001": ((700.0, 1200.0), (1, 2), 0, 1),  # 支架（集采 800，限住院、二级以上）
    "DEMO-M0002": ((2.0, 6.0), (1, 6), 4, 12),  # 输液器
}
_OUT = [c for c, v in ITEMS.items() if v[2]]
_OUT_W = [ITEMS[c][2] for c in _OUT]
_IN = [c for c, v in ITEMS.items() if v[3]]
_IN_W = [ITEMS[c][3] for c in _IN]

DIAGNOSES_OUT = (
    ("I10.x00", "高血压"),
    ("E11.900", "2型糖尿病"),
    ("J06.900", "急性上呼吸道感染"),
    ("K29.700", "胃炎"),
    ("M54.500", "腰痛"),
    ("J20.900", "急性支气管炎"),
    ("N76.000", "急性阴道炎"),
    ("E78.500", "高脂血症"),
)
DIAGNOSES_IN = (
    ("I63.900", "脑梗死", "03", "神经内科"),
    ("J18.900", "肺炎", "02", "呼吸内科"),
    ("I25.103", "冠状动脉粥样硬化性心脏病", "04", "心血管内科"),
    ("K80.100", "胆囊结石伴胆囊炎", "05", "普外科"),
    ("S72.000", "股骨颈骨折", "06", "骨科"),
    ("O80.000", "单胎顺产", "07", "产科"),
)
DEPTS_OUT = (("01", "内科"), ("02", "外科"), ("08", "儿科"), ("09", "妇科"), ("10", "全科"))


def fen(price: Decimal, qty: Decimal) -> int:
    return int((price * qty * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- registry -----------------------------------------------------------------------------------

_SURNAMES = "陈林黄李张吴许蔡刘郑王杨谢余丁邱翁詹洪庄苏沈肖柯钟佘"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华少丹锐鸿彬泽坤嘉琪佳怡晓燕志文浩然俊"
_CATEGORIES = (
    "subsistence_allowance",
    "extreme_poverty",
    "near_subsistence",
    "illness_impoverished",
    "severe_disability",
    "relapse_poverty",
)


def _check_digit(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


@dataclass
class Insured:
    """What a virtual client knows about a person it sends to hospital."""

    psn_no: str
    insutype: str
    psn_type: str
    sex: str
    birth: str
    certno: str
    balance: int  # fen, the client's own running copy of the personal account
    payer: str | None = None


def make_registry(n: int, seed: int) -> tuple[dict[str, Any], list[list[Insured]]]:
    """(registry JSON for ``yibao db load``, households: each a list of persons, the payer first)."""
    rnd = random.Random(seed)
    today = date.today()
    persons: list[dict[str, Any]] = []
    households: list[list[Insured]] = []
    seq = dict.fromkeys((CITY, *COUNTIES), 0)
    cert_seq = 0

    def person(
        region: str, insutype: str, psn_type: str, age_lo: int, age_hi: int, balance: int, **extra: Any
    ) -> Insured:
        nonlocal cert_seq
        seq[region] += 1
        cert_seq += 1
        psn_no = f"{region}{seq[region]:08d}"
        sex = rnd.choice("12")
        born = today - timedelta(days=rnd.randint(age_lo * 365 + 1, age_hi * 365 + 300))
        birth_region = rnd.choice(COUNTIES)
        order = (cert_seq % 499) * 2 + (1 if sex == "1" else 2)
        first17 = f"{birth_region}{born:%Y%m%d}{order:03d}"
        certno = first17 + _check_digit(first17)
        name = rnd.choice(_SURNAMES) + "".join(rnd.choice(_GIVEN) for _ in range(rnd.choice((1, 2))))
        enrolment: dict[str, Any] = {
            "insutype": insutype,
            "psn_type": psn_type,
            "insuplc_admdvs": region,
            "begndate": f"{rnd.randint(2008, min(2024, today.year - 1))}-01-01",
        }
        enrolment.update(extra)
        doc: dict[str, Any] = {
            "psn_no": psn_no,
            "certno": certno,
            "psn_name": name,
            "gend": sex,
            "brdy": born.isoformat(),
            "balc": f"{balance / 100:.2f}",
            "enrolments": [enrolment],
            "e_vouchers": [{"token": f"EV-{psn_no}", "expires_at": "2099-12-31"}],
        }
        persons.append(doc)
        return Insured(psn_no, insutype, psn_type, sex, born.isoformat(), certno, balance)

    while len(persons) < n:
        r = rnd.random()
        if r < 0.32:  # an employee household
            retired = rnd.random() < 0.28
            region = CITY if rnd.random() < 0.7 else rnd.choice(COUNTIES)
            if retired:
                balance = rnd.randint(500_00, 9000_00)
                head = person(region, "310", "1201", 60, 88, balance)
            else:
                balance = 0 if rnd.random() < 0.1 else rnd.randint(50_00, 4000_00)
                extra = {"emp_name": "潮州示例陶瓷有限公司", "cvlserv_flag": "1" if rnd.random() < 0.08 else "0"}
                head = person(region, "310", "1101", 22, 59, balance, **extra)
            home = [head]
            if not retired and rnd.random() < 0.4:
                county = rnd.choice(COUNTIES)
                for _ in range(rnd.choice((1, 1, 2))):
                    kind = rnd.random()
                    if kind < 0.5:
                        dep = person(county, "390", "1402", 1, 6, 0)
                    elif kind < 0.8:
                        dep = person(county, "390", "1403", 7, 17, 0)
                    else:
                        dep = person(county, "390", "1501", 62, 90, 0)
                    if rnd.random() < 0.7:
                        dep.payer = head.psn_no
                        persons[-1]["mutual_aid_payer"] = head.psn_no
                    home.append(dep)
            households.append(home)
        else:  # a resident
            county = rnd.choice(COUNTIES)
            kind = rnd.random()
            extra = {}
            if rnd.random() < 0.06:
                extra["assistance_category"] = rnd.choice(_CATEGORIES)
            if kind < 0.12:
                one = person(county, "390", "1402", 0, 6, 0, **extra)
            elif kind < 0.25:
                one = person(county, "390", "1403", 7, 20, 0, **extra)
            else:
                one = person(county, "390", "1501", 21, 92, 0, **extra)
            households.append([one])
    institutions = [
        {"fixmedins_code": c, "fixmedins_name": name, "hosp_lv": lv, "admdvs": reg}
        for c, name, lv, reg, _ in INSTITUTIONS
    ]
    institutions.append(dict(zip(("fixmedins_code", "fixmedins_name", "hosp_lv", "admdvs"), PHARMACY, strict=True)))
    return {"institutions": institutions, "persons": persons}, households


# -- HTTP clients ---------------------------------------------------------------------------------


class TransportError(Exception):
    pass


class RawHttp:
    """HTTP/1.1 with keep-alive over one asyncio stream: ``POST`` a body, read the answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n").encode()

    async def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = -1
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readuntil(b"\r\n")
                        break
                    parts.append(await self.reader.readexactly(size))
                    await self.reader.readexactly(2)
                data = b"".join(parts)
            elif length >= 0:
                data = await self.reader.readexactly(length)
            else:
                data = await self.reader.read()
                await self.close()
            return status, data
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            await self.close()
            raise TransportError(f"{e.__class__.__name__}: {e}") from None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class HttpxHttp:
    """The same over a shared ``httpx.AsyncClient`` (connection pool of the process)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def post(self, body: bytes) -> tuple[int, bytes]:
        import httpx

        try:
            r = await self.client.post(PATH, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as e:
            raise TransportError(f"{e.__class__.__name__}: {e}") from None
        return r.status_code, r.content

    async def close(self) -> None:
        pass


# -- recording ----------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Per request: completion time, latency, infno index, ok; per flow: completion time, kind."""

    t: array = field(default_factory=lambda: array("d"))
    lat: array = field(default_factory=lambda: array("d"))
    kind: array = field(default_factory=lambda: array("b"))
    ok: array = field(default_factory=lambda: array("b"))
    flow_t: array = field(default_factory=lambda: array("d"))
    flow_kind: array = field(default_factory=lambda: array("b"))
    failures: list[dict[str, Any]] = field(default_factory=list)  # first few, in full
    failure_counts: dict[str, int] = field(default_factory=dict)  # (infno, message) → count
    wrong: list[dict[str, Any]] = field(default_factory=list)  # answers with infcode 0 that fail a check
    wrong_counts: dict[str, int] = field(default_factory=dict)
    aborted_flows: int = 0
    keep: int = 20

    def failure(self, at: float, infno: str, why: str, request: bytes, response: bytes | str) -> None:
        key = f"{infno} {why[:160]}"
        self.failure_counts[key] = self.failure_counts.get(key, 0) + 1
        if len(self.failures) < self.keep:
            self.failures.append(
                {
                    "at": at,
                    "infno": infno,
                    "why": why,
                    "request": request.decode("utf-8", "replace")[:4000],
                    "response": response if isinstance(response, str) else response.decode("utf-8", "replace")[:4000],
                }
            )

    def check(self, infno: str, what: str, request: bytes, answer: bytes) -> None:
        key = f"{infno} {what[:160]}"
        self.wrong_counts[key] = self.wrong_counts.get(key, 0) + 1
        if len(self.wrong) < self.keep:
            self.wrong.append(
                {
                    "infno": infno,
                    "check": what,
                    "request": request.decode("utf-8", "replace")[:4000],
                    "response": answer.decode("utf-8", "replace")[:4000],
                }
            )


class FlowAborted(Exception):
    pass


def cents(x: object) -> int:
    return int((Decimal(str(x)) * 100).to_integral_value(rounding=ROUND_HALF_UP))


# -- one virtual HIS client ------------------------------------------------------------------------

#: setldetail rows that are the personal account, not a fund (they add up to ``acct_pay``)
ACCOUNT_FUNDS = ("310200",)

_SETL_KEYS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
)


class VirtualHis:
    def __init__(
        self,
        number: int,
        institution: tuple[str, int, str],
        households: list[list[Insured]],
        http: RawHttp | HttpxHttp,
        rec: Recorder,
        mix: list[tuple[str, float]],
        seed: int,
        stop_at: float,
    ) -> None:
        self.code, self.level, self.region = institution
        self.persons = [p for h in households for p in h]
        self.by_psn = {p.psn_no: p for p in self.persons}
        self.http = http
        self.rec = rec
        self.rnd = random.Random(seed)
        self.mix = mix
        self.stop_at = stop_at
        self.seq = 0
        # two base-36 characters of client number + two of sequence: unique across clients
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        self.tag = alphabet[number // 36 % 36] + alphabet[number % 36]
        self.alphabet = alphabet

    # -- envelope --
    def msgid(self, now: datetime) -> str:
        self.seq += 1
        a = self.alphabet
        return f"{self.code}{now:%Y%m%d%H%M%S}{self.tag}{a[self.seq // 36 % 36]}{a[self.seq % 36]}"

    def body(self, infno: str, input_: object) -> bytes:
        now = datetime.now()
        env = {
            "infno": infno,
            "msgid": self.msgid(now),
            "mdtrtarea_admvs": self.region,
            "insuplc_admdvs": CITY,
            "recer_sys_code": "YBXT",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "0001",
            "opter_name": "收费员",
            "inf_time": f"{now:%Y-%m-%d %H:%M:%S}",
            "fixmedins_code": self.code,
            "fixmedins_name": "压测机构",
            "sign_no": "",
            "input": input_,
        }
        return json.dumps(env, ensure_ascii=False, separators=(",", ":")).encode()

    async def call(self, infno: str, input_: object) -> tuple[dict[str, Any], bytes]:
        if time.perf_counter() >= self.stop_at:
            raise FlowAborted
        body = self.body(infno, input_)
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT):
                status, data = await self.http.post(body)
        except (TransportError, TimeoutError) as e:
            await self.http.close()
            t1 = time.perf_counter()
            self._record(t1, t1 - t0, infno, False)
            self.rec.failure(t1, infno, f"transport: {e.__class__.__name__} {e}", body, "")
            raise FlowAborted from None
        t1 = time.perf_counter()
        try:
            doc = json.loads(data)
            good = status == 200 and doc.get("infcode") == 0
        except (ValueError, AttributeError):
            doc, good = {}, False
        self._record(t1, t1 - t0, infno, good)
        if not good:
            why = f"HTTP {status} infcode={doc.get('infcode')!r} {doc.get('err_msg', '')}"
            self.rec.failure(t1, infno, why, body, data)
            raise FlowAborted
        return doc["output"], body

    def _record(self, t: float, lat: float, infno: str, ok: bool) -> None:
        r = self.rec
        r.t.append(t)
        r.lat.append(lat)
        r.kind.append(IDX[infno])
        r.ok.append(1 if ok else 0)

    # -- flows --
    async def run(self) -> None:
        names = [m for m, _ in self.mix]
        weights = [w for _, w in self.mix]
        while time.perf_counter() < self.stop_at:
            kind = self.rnd.choices(names, weights)[0]
            psn = self.rnd.choice(self.persons)
            try:
                if kind == "outpatient":
                    await self.outpatient(psn)
                else:
                    await self.inpatient(psn)
            except FlowAborted:
                self.rec.aborted_flows += 1
                continue
            self.rec.flow_t.append(time.perf_counter())
            self.rec.flow_kind.append(FLOWS.index(kind))

    def _lines(self, mdtrt_id: str, psn: Insured, inpatient: bool, days: int) -> tuple[list[dict[str, Any]], int]:
        rnd = self.rnd
        now = datetime.now()
        if inpatient:
            n = rnd.randint(50, 100)
            codes = ["DEMO-F0001"] * days + rnd.choices(_IN, _IN_W, k=max(0, n - days))
        else:
            codes = rnd.choices(_OUT, _OUT_W, k=rnd.randint(3, 15))
        lines = []
        total = 0
        bed = Decimal(str(rnd.randrange(40, 81, 5)))
        for i, code in enumerate(codes):
            (lo, hi), (qlo, qhi), _, _ = ITEMS[code]
            price = bed if code == "DEMO-F0001" else Decimal(f"{rnd.uniform(lo, hi):.2f}")
            qty = Decimal(rnd.randint(qlo, qhi))
            total += fen(price, qty)
            at = now - timedelta(days=days - min(i, days - 1) - 1, minutes=rnd.randint(0, 600)) if inpatient else now
            lines.append(
                {
                    "feedetl_sn": str(i + 1),
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn.psn_no,
                    "chrg_bchno": f"B{i // 10 + 1}",
                    "med_list_codg": code,
                    "medins_list_codg": f"HIS-{code}",
                    "pric": str(price),
                    "cnt": str(qty),
                    "det_item_fee_sumamt": f"{fen(price, qty) / 100:.2f}",
                    "bilg_dept_codg": "01",
                    "bilg_dept_name": "内科",
                    "bilg_dr_codg": "D440000000001",
                    "bilg_dr_name": "医生",
                    "fee_ocur_time": f"{at:%Y-%m-%d %H:%M:%S}",
                }
            )
        return lines, total

    def _account_flag(self, psn: Insured) -> str:
        if psn.payer and self.rnd.random() < 0.6:
            return "2"
        return "1" if psn.insutype == "310" else "0"

    async def outpatient(self, psn: Insured) -> None:
        now = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
        dept = self.rnd.choice(DEPTS_OUT)
        med_type = "13" if self.rnd.random() < 0.08 else "11"
        out, _ = await self.call(
            "2201",
            {
                "data": {
                    "psn_no": psn.psn_no,
                    "insutype": psn.insutype,
                    "begntime": now,
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": psn.certno,
                    "ipt_otp_no": f"OP{self.seq:08d}",
                    "atddr_no": "D440000000001",
                    "dr_name": "医生",
                    "dept_code": dept[0],
                    "dept_name": dept[1],
                    "caty": "A03",
                }
            },
        )
        mdtrt_id = str(out["data"]["mdtrt_id"])
        diag = self.rnd.choice(DIAGNOSES_OUT)
        await self.call(
            "2203",
            {
                "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn.psn_no, "med_type": med_type, "begntime": now},
                "diseinfo": [{"diag_type": "1", "diag_srt_no": 1, "diag_code": diag[0], "diag_name": diag[1]}],
            },
        )
        await self._fees_and_settle("2204", "2206", "2207", mdtrt_id, psn, med_type, False, 1)

    async def inpatient(self, psn: Insured) -> None:
        rnd = self.rnd
        days = rnd.randint(3, 14)
        begin = datetime.now() - timedelta(days=days, hours=rnd.randint(0, 8))
        diag = rnd.choice(DIAGNOSES_IN)
        out, _ = await self.call(
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": psn.psn_no,
                    "insutype": psn.insutype,
                    "begntime": f"{begin:%Y-%m-%d %H:%M:%S}",
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": psn.certno,
                    "med_type": "21",
                    "ipt_no": f"IP{self.seq:08d}",
                    "medrcdno": f"MR{self.seq:08d}",
                    "atddr_no": "D440000000001",
                    "chfpdr_name": "医生",
                    "adm_diag_dscr": diag[1],
                    "adm_dept_codg": diag[2],
                    "adm_dept_name": diag[3],
                    "adm_bed": str(rnd.randint(1, 60)),
                    "dscg_maindiag_code": diag[0],
                    "dscg_maindiag_name": diag[1],
                },
                "diseinfo": [
                    {
                        "psn_no": psn.psn_no,
                        "diag_type": "1",
                        "maindiag_flag": "1",
                        "diag_srt_no": 1,
                        "diag_code": diag[0],
                        "diag_name": diag[1],
                        "diag_dept": diag[3],
                        "dise_dor_no": "D440000000001",
                        "dise_dor_name": "医生",
                        "diag_time": f"{begin:%Y-%m-%d %H:%M:%S}",
                    }
                ],
            },
        )
        mdtrt_id = str(out["result"]["mdtrt_id"])
        await self._fees_and_settle("2301", "2303", "2304", mdtrt_id, psn, "21", True, days)

    async def _fees_and_settle(
        self,
        upload: str,
        pre: str,
        final: str,
        mdtrt_id: str,
        psn: Insured,
        med_type: str,
        inpatient: bool,
        days: int,
    ) -> None:
        rec = self.rec
        lines, total = self._lines(mdtrt_id, psn, inpatient, days)
        up, up_body = await self.call(upload, {"feedetail": lines})
        up_raw = json.dumps(up, ensure_ascii=False).encode()
        results = up.get("result") or []
        if len(results) != len(lines):
            rec.check(upload, f"{len(results)} results for {len(lines)} lines", up_body, up_raw)
        else:
            got = sum(cents(r["det_item_fee_sumamt"]) for r in results)
            if got != total:
                rec.check(upload, f"line amounts add up to {got} fen, sent {total}", up_body, up_raw)
            for r in results:
                parts = sum(
                    cents(r[k]) for k in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
                )
                if parts != cents(r["det_item_fee_sumamt"]):
                    rec.check(upload, "line split parts ≠ det_item_fee_sumamt", up_body, up_raw)
                    break
        if inpatient:
            await self.call(
                "2402",
                {
                    "dscginfo": {
                        "mdtrt_id": mdtrt_id,
                        "psn_no": psn.psn_no,
                        "insutype": psn.insutype,
                        "endtime": f"{datetime.now() - timedelta(minutes=30):%Y-%m-%d %H:%M:%S}",
                        "dscg_way": "1",
                        "dscg_dept_codg": "03",
                        "dscg_dept_name": "病区",
                    }
                },
            )
        flag = self._account_flag(psn)
        data = {
            "psn_no": psn.psn_no,
            "mdtrt_id": mdtrt_id,
            "med_type": med_type,
            "psn_setlway": "01",
            "chrg_bchno": "0000",
            "insutype": psn.insutype,
            "acct_used_flag": flag,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": psn.certno,
            "mid_setl_flag": "0",
            "medfee_sumamt": f"{total / 100:.2f}",
        }
        p_out, _ = await self.call(pre, {"data": data})
        s_out, s_body = await self.call(final, {"data": data})
        self._check_settlement(final, psn, flag, total, p_out, s_out, s_body)

    def _check_settlement(
        self, infno: str, psn: Insured, flag: str, total: int, pre: dict[str, Any], out: dict[str, Any], body: bytes
    ) -> None:
        rec = self.rec
        raw = json.dumps(out, ensure_ascii=False).encode()
        p, s = pre.get("setlinfo") or {}, out.get("setlinfo") or {}
        try:
            a = {k: cents(s[k]) for k in _SETL_KEYS}
            b = {k: cents(p[k]) for k in _SETL_KEYS}
        except (KeyError, ArithmeticError, ValueError, TypeError) as e:
            rec.check(infno, f"setlinfo amount missing or not a number: {e}", body, raw)
            return
        problems = []
        if not s.get("setl_id"):
            problems.append("setl_id empty")
        if p.get("setl_id") is not None:
            problems.append("pre-settlement has a setl_id")
        if s.get("psn_no") != psn.psn_no:
            problems.append("psn_no differs")
        if a != b:
            diff = {k: (b[k], a[k]) for k in a if a[k] != b[k]}
            problems.append(f"pre-settlement ≠ settlement {diff}")
        if a["medfee_sumamt"] != total:
            problems.append(f"medfee_sumamt {a['medfee_sumamt']} ≠ lines {total}")
        if a["medfee_sumamt"] != a["fund_pay_sumamt"] + a["psn_part_amt"] + a["hosp_part_amt"]:
            problems.append("medfee_sumamt ≠ fund + personal + hospital")
        if a["psn_part_amt"] != a["acct_pay"] + a["psn_cash_pay"]:
            problems.append("psn_part_amt ≠ acct_pay + psn_cash_pay")
        details = out.get("setldetail") or []
        funds = sum(cents(d["fund_payamt"]) for d in details if d.get("fund_pay_type") not in ACCOUNT_FUNDS)
        accounts = sum(cents(d["fund_payamt"]) for d in details if d.get("fund_pay_type") in ACCOUNT_FUNDS)
        if funds != a["fund_pay_sumamt"]:
            problems.append("Σ setldetail.fund_payamt (funds) ≠ fund_pay_sumamt")
        if accounts != a["acct_pay"]:
            problems.append("Σ setldetail 310200 (account) ≠ acct_pay")
        own = a["acct_pay"] - a["acct_mulaid_pay"]
        if flag == "0" and a["acct_pay"]:
            problems.append("account used with acct_used_flag 0")
        if own > psn.balance:
            problems.append(f"account pay {own} > balance {psn.balance}")
        psn.balance -= own
        if a["balc"] != psn.balance:
            problems.append(f"balc {a['balc']} ≠ expected balance {psn.balance}")
            psn.balance = a["balc"]
        if a["acct_mulaid_pay"]:
            payer = self.by_psn.get(psn.payer or "")
            if payer is None or flag != "2":
                problems.append("mutual-aid pay without a binding or acct_used_flag 2")
            else:
                if a["acct_mulaid_pay"] > payer.balance:
                    problems.append("mutual-aid pay above the payer's balance")
                payer.balance -= a["acct_mulaid_pay"]
        for prob in problems:
            rec.check(infno, prob, body, raw)


# -- the load-generating process ---------------------------------------------------------------


def worker_main(cfg: dict[str, Any], conn: Any) -> None:
    """Entry point of one load-generating process (run under multiprocessing)."""
    try:
        result = asyncio.run(_worker(cfg))
    except BaseException as e:  # report, do not hang the parent
        result = {"error": f"{e.__class__.__name__}: {e}"}
    conn.send(result)
    conn.close()


async def _worker(cfg: dict[str, Any]) -> dict[str, Any]:
    households: list[list[Insured]] = cfg["households"]
    clients: list[int] = cfg["clients"]  # global client numbers of this process
    insts = client_institutions(cfg["total_clients"])
    rec = Recorder()
    start, stop = cfg["start"], cfg["stop"]
    mix = cfg["mix"]
    pool = None
    if cfg["client"] == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=len(clients), max_keepalive_connections=len(clients))
        pool = httpx.AsyncClient(base_url=f"http://{cfg['host']}:{cfg['port']}", limits=limits, timeout=60)
    his = []
    per = [households[i :: cfg["total_clients"]] for i in clients]
    for number, hh in zip(clients, per, strict=True):
        http: RawHttp | HttpxHttp = HttpxHttp(pool) if pool is not None else RawHttp(cfg["host"], cfg["port"])
        his.append(VirtualHis(number, insts[number], hh, http, rec, mix, cfg["seed"] * 7919 + number, stop))
    cpu0 = os.times()
    delay = start - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    await asyncio.gather(*(h.run() for h in his))
    for h in his:
        await h.http.close()
    if pool is not None:
        await pool.aclose()
    cpu1 = os.times()
    return {
        "t": rec.t.tobytes(),
        "lat": rec.lat.tobytes(),
        "kind": rec.kind.tobytes(),
        "ok": rec.ok.tobytes(),
        "flow_t": rec.flow_t.tobytes(),
        "flow_kind": rec.flow_kind.tobytes(),
        "failures": rec.failures,
        "failure_counts": rec.failure_counts,
        "wrong": rec.wrong,
        "wrong_counts": rec.wrong_counts,
        "aborted_flows": rec.aborted_flows,
        "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
    }
