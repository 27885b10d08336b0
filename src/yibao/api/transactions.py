"""The transactions of the national interface, by ``infno``.

Each handler reads its input nodes (field names as the specification gives them), calls the
service layer inside the request's database transaction, and returns the ``output`` object.
A handler that refuses raises :class:`~yibao.errors.InputError`; the dispatcher turns that
into ``infcode = -1`` and rolls the transaction back, so nothing of the business is written —
only the refusal itself is remembered under the ``msgid``, so that a repeat gets the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.api import catalogue
from yibao.api.answers import fee_results, setl_output, time_text
from yibao.api.envelope import Envelope
from yibao.api.jsonout import amount
from yibao.errors import InputError
from yibao.io.fields import Fields, is_empty
from yibao.service import fees, visits
from yibao.service.messages import reverse_message
from yibao.service.platform import Platform
from yibao.service.reconcile import reconcile
from yibao.service.registry import age_on, enrolment_on, find_psn_no_by_certno
from yibao.service.settling import cancel_settlement, settle_visit
from yibao.store.models import Account, Enrolment, EVoucher, Person, SignIn, Visit
from yibao.store.pii import LABEL_CERTNO as CERTNO
from yibao.store.pii import LABEL_NAME as NAME
from yibao.store.pii import mask_certno


@dataclass
class Call:
    platform: Platform
    session: Session
    env: Envelope
    now: datetime
    #: what the message created, kept with it (2601 reverses by msgid)
    setl_id: str | None = None
    mdtrt_id: str | None = None

    def node(self, name: str) -> Fields:
        if name not in self.env.input.data:
            raise InputError(f"input.{name}", "缺少交易输入节点")
        return self.env.input.sub(name)

    def nodes(self, name: str, required: bool = True) -> list[Fields]:
        if is_empty(self.env.input.data.get(name)):
            if required:
                raise InputError(f"input.{name}", "缺少交易输入节点")
            return []
        return self.env.input.items(name)

    def visit(self, f: Fields, lock: bool = False) -> Visit:
        return visits.visit_of(
            self.session, f.text("mdtrt_id"), f.text("psn_no", required=False), self.env.fixmedins_code, lock
        )

    def person_clear(self, person: Person) -> tuple[str, str]:
        """The person's ID number and name in clear, for the answer (never logged)."""
        return self.platform.cipher.decrypt(person.certno_enc, CERTNO), self.platform.cipher.decrypt(
            person.name_enc, NAME
        )


Handler = Callable[[Call], object]


# -- sign-in, person ---------------------------------------------------------------------------


def sign_in(c: Call) -> object:
    f = c.node("signIn")
    visits.institution(c.session, c.env.fixmedins_code)
    sign_no = c.platform.ids.next("N", c.now)
    c.session.add(
        SignIn(
            sign_no=sign_no,
            fixmedins_code=c.env.fixmedins_code,
            opter_no=f.text("opter_no", max_len=30),
            sign_time=c.now,
        )
    )
    return {"signinoutb": {"sign_time": time_text(c.now), "sign_no": sign_no}}


def sign_out(c: Call) -> object:
    f = c.node("signOut")
    row = c.session.get(SignIn, f.text("sign_no", max_len=30))
    if row is None or row.fixmedins_code != c.env.fixmedins_code:
        raise InputError("input.signOut.sign_no", "签到流水号不存在")
    row.sign_out_time = c.now
    return {"signoutoutb": {"sign_time": time_text(c.now)}}


_IDET = {
    "extreme_poverty": "2304",
    "subsistence_allowance": "2303",
    "near_subsistence": "2305",
    "illness_impoverished": "2306",
    "relapse_poverty": "2302",
    "severe_disability": "2308",
}


def person_info(c: Call) -> object:
    """1101: by e-voucher token (01), ID number (02), or psn_no."""
    f = c.node("data")
    psn_no = f.text("psn_no", required=False)
    if not psn_no:
        kind = f.text("mdtrt_cert_type")
        number = f.text("mdtrt_cert_no")
        if kind == "01":
            voucher = c.session.get(EVoucher, number)
            if voucher is None or voucher.expires_at < c.now:
                raise InputError("input.data.mdtrt_cert_no", "医保电子凭证无效或已过期")
            psn_no = voucher.psn_no
        elif kind == "02":
            found = find_psn_no_by_certno(c.session, c.platform.cipher, number)
            if found is None:
                raise InputError("input.data.mdtrt_cert_no", "未查询到该身份证号的参保人")
            psn_no = found
        else:
            raise InputError("input.data.mdtrt_cert_type", f"不支持的就诊凭证类型 {kind!r}（01 电子凭证、02 身份证）")
    person = c.session.get(Person, psn_no)
    if person is None:
        raise InputError("input.data.psn_no", f"人员编号 {psn_no} 不存在")
    certno, name = c.person_clear(person)
    today = c.now.date()
    enrolments = list(c.session.scalars(select(Enrolment).where(Enrolment.psn_no == psn_no)))
    account = c.session.get(Account, psn_no)
    insuinfo = []
    idetinfo = []
    for e in enrolments:
        current = enrolment_on(c.session, psn_no, e.insutype, today)
        insuinfo.append(
            {
                "balc": amount(account.balance if account and e.insutype == "310" else 0),
                "insutype": e.insutype,
                "psn_type": e.psn_type,
                "psn_insu_stas": "1" if current is not None and current.id == e.id else "4",
                "psn_insu_date": e.begin_date.isoformat(),
                "paus_insu_date": e.end_date.isoformat() if e.end_date else None,
                "cvlserv_flag": "1" if e.civil_servant else "0",
                "insuplc_admdvs": e.region_code,
                "emp_name": e.emp_name,
            }
        )
        if e.assistance_category != "none":
            idetinfo.append(
                {
                    "psn_idet_type": _IDET[e.assistance_category],
                    "psn_type_lv": "",
                    "memo": "",
                    "begntime": e.begin_date.isoformat(),
                    "endtime": e.end_date.isoformat() if e.end_date else None,
                }
            )
    return {
        "baseinfo": {
            "psn_no": psn_no,
            "psn_cert_type": "01",
            "certno": mask_certno(certno),
            "psn_name": name,
            "gend": person.sex,
            "naty": "",
            "brdy": person.birth_date.isoformat(),
            "age": age_on(person.birth_date, today),
            "exp_content": "",
        },
        "insuinfo": insuinfo,
        "idetinfo": idetinfo,
    }


# -- outpatient ---------------------------------------------------------------------------------


def register_outpatient(c: Call) -> object:
    visit = visits.register(c.session, c.platform, c.env.fixmedins_code, c.env.mdtrtarea_admvs, c.node("data"), False)
    c.mdtrt_id = visit.mdtrt_id
    return {
        "data": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "ipt_otp_no": visit.ipt_otp_no, "exp_content": ""}
    }


def cancel_registration(c: Call) -> object:
    visits.cancel_visit(c.session, c.visit(c.node("data"), lock=True))
    return {}


def visit_information(c: Call) -> object:
    info = c.node("mdtrtinfo")
    visit = c.visit(info, lock=True)
    visits.visit_information(c.session, c.platform, visit, info)
    visits.record_diagnoses(c.session, visit, c.nodes("diseinfo", required=False))
    return {}


def upload_fees(c: Call) -> object:
    items = c.nodes("feedetail")
    if not items:
        raise InputError("input.feedetail", "费用明细不能为空")
    visit = c.visit(items[0], lock=True)
    return {"result": fee_results(fees.upload(c.session, c.platform, visit, items))}


def withdraw_fees(key: str) -> Handler:
    def handler(c: Call) -> object:
        f = c.node("data")
        fees.withdraw(c.session, c.visit(f, lock=True), key, f.text(key))
        return {}

    return handler


def settle(commit: bool) -> Handler:
    def handler(c: Call) -> object:
        f = c.node("data")
        visit = c.visit(f, lock=commit)
        outcome = settle_visit(c.session, c.platform, visit, f, c.env.msgid, commit)
        c.setl_id, c.mdtrt_id = outcome.setl_id, visit.mdtrt_id
        certno, name = c.person_clear(outcome.person)
        return setl_output(outcome, certno, name, c.env.msgid, f.text("mdtrt_cert_type", required=False, default="02"))

    return handler


def cancel(kinds: tuple[str, ...]) -> Handler:
    def handler(c: Call) -> object:
        f = c.node("data")
        outcome = cancel_settlement(
            c.session,
            c.platform,
            f.text("setl_id"),
            f.text("mdtrt_id", required=False),
            f.text("psn_no", required=False),
            c.env.fixmedins_code,
            c.env.msgid,
            kinds,
        )
        certno, name = c.person_clear(outcome.person)
        return setl_output(outcome, certno, name, c.env.msgid, "")

    return handler


# -- inpatient ----------------------------------------------------------------------------------


def admit(c: Call) -> object:
    info = c.node("mdtrtinfo")
    area = info.text("mdtrtarea_admvs", required=False) or c.env.mdtrtarea_admvs
    visit = visits.register(c.session, c.platform, c.env.fixmedins_code, area, info, True)
    visits.record_diagnoses(c.session, visit, c.nodes("diseinfo", required=False))
    c.mdtrt_id = visit.mdtrt_id
    return {"result": {"mdtrt_id": visit.mdtrt_id, "exp_content": ""}}


def discharge(c: Call) -> object:
    info = c.node("dscginfo")
    visit = c.visit(info, lock=True)
    visits.discharge(c.session, visit, info)
    if "diseinfo" in c.env.input.data:
        visits.record_diagnoses(c.session, visit, c.nodes("diseinfo"))
    return {}


def cancel_discharge(c: Call) -> object:
    visits.cancel_discharge(c.session, c.visit(c.node("data"), lock=True))
    return {}


# -- pharmacy -------------------------------------------------------------------------------------


def pharmacy(commit: bool) -> Handler:
    """2101 / 2102: a purchase is a visit, its lines and its settlement in one message."""

    def handler(c: Call) -> object:
        f = c.node("data")
        inst = visits.institution(c.session, c.env.fixmedins_code)
        if inst.kind != "P":
            raise InputError("fixmedins_code", "药店购药交易只能由定点零售药店发起")
        reg = {
            "psn_no": f.text("psn_no"),
            "insutype": f.text("insutype"),
            "begntime": time_text(c.now),
            "med_type": "41",
        }
        data = Fields(reg, "input.data")
        visit = visits.register(
            c.session, c.platform, c.env.fixmedins_code, c.env.mdtrtarea_admvs, data, False, as_type="pharmacy"
        )
        fees.upload(c.session, c.platform, visit, c.nodes("drugdetail"))
        outcome = settle_visit(c.session, c.platform, visit, f, c.env.msgid, commit)
        c.setl_id, c.mdtrt_id = outcome.setl_id, visit.mdtrt_id
        certno, name = c.person_clear(outcome.person)
        out = setl_output(outcome, certno, name, c.env.msgid, f.text("mdtrt_cert_type", required=False, default="02"))
        return out

    return handler


# -- reversal, reconciliation ---------------------------------------------------------------------


def reversal(c: Call) -> object:
    f = c.node("data")
    what = reverse_message(
        c.session, c.platform, f.text("omsgid", max_len=30), f.text("oinfno", max_len=10), f.text("psn_no", required=False),
        c.env.fixmedins_code, c.env.msgid,
    )  # fmt: skip
    return {"memo": what}


def reconcile_totals(c: Call) -> object:
    return {"stmtinfo": reconcile(c.session, c.env.fixmedins_code, c.node("data"))}


@dataclass(frozen=True)
class Transaction:
    handler: Handler
    writes: bool  # False: read-only, not remembered by msgid; nothing it does is kept
    #: writes rows only to compute its answer (2101 registers a visit and its lines to price a
    #: purchase): always rolled back. A read-only transaction that is not scratch runs as
    #: READ ONLY on PostgreSQL, where any write it attempted would fail (yibao.api.app).
    scratch: bool = False


def catalogue_query(c: Call) -> object:
    return catalogue.query(c.platform, c.session, c.env, c.node("data"))


def catalogue_download(c: Call) -> object:
    return catalogue.download(c.platform, c.session, c.env, c.node("data"))


def file_download(c: Call) -> object:
    return catalogue.fetch(c.platform, c.node("fsDownloadIn"))


TRANSACTIONS: dict[str, Transaction] = {
    "9001": Transaction(sign_in, True),
    "9002": Transaction(sign_out, True),
    "1101": Transaction(person_info, False),
    "2201": Transaction(register_outpatient, True),
    "2202": Transaction(cancel_registration, True),
    "2203": Transaction(visit_information, True),
    "2204": Transaction(upload_fees, True),
    "2205": Transaction(withdraw_fees("chrg_bchno"), True),
    "2206": Transaction(settle(False), False),
    "2207": Transaction(settle(True), True),
    "2208": Transaction(cancel(("outpatient", "chronic")), True),
    "2401": Transaction(admit, True),
    "2404": Transaction(cancel_registration, True),
    "2301": Transaction(upload_fees, True),
    "2302": Transaction(withdraw_fees("feedetl_sn"), True),
    "2402": Transaction(discharge, True),
    "2405": Transaction(cancel_discharge, True),
    "2303": Transaction(settle(False), False),
    "2304": Transaction(settle(True), True),
    "2305": Transaction(cancel(("inpatient",)), True),
    "2101": Transaction(pharmacy(False), False, scratch=True),
    "2102": Transaction(pharmacy(True), True),
    "2103": Transaction(cancel(("pharmacy",)), True),
    "2601": Transaction(reversal, True),
    "3201": Transaction(reconcile_totals, False),
    "1312": Transaction(catalogue_query, False),
    "1301": Transaction(catalogue_download, False),
    "1305": Transaction(catalogue_download, False),
    "1306": Transaction(catalogue_download, False),
    "9102": Transaction(file_download, False),
}
