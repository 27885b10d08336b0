"""Writing the demo's year into the platform's tables, in bulk.

The rows are the same the real-time service writes (:mod:`yibao.store.models`): persons with
their ID numbers and names encrypted, enrolments, accounts and their movements, visits with
diagnoses and split fee lines, settlements with their fund details, and the year's
accumulators; plus the funding tables (:mod:`yibao.store.funding`). Inserts go through
SQLAlchemy Core ``executemany`` in chunks, each chunk one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    Numeric,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from yibao.demo.year import Settled
from yibao.engine.state import COUNTERS, Accumulators
from yibao.fund import entries
from yibao.fund.chart import AccountRef
from yibao.io.claim_json import SCHEME_INSUTYPE
from yibao.io.payments_csv import Payment, Remittance
from yibao.io.settlement_json import CLR_TYPES
from yibao.policy.snapshot import PolicySnapshot
from yibao.service.ledger import ensure_accounts, posting_rows, transfer_row
from yibao.service.settling import settlement_amounts, sub_ledger
from yibao.sim.city import PSN_TYPES, City
from yibao.sim.dues import Due
from yibao.sim.payments import Subsidy
from yibao.store import funding, ledger, models
from yibao.store.pii import LABEL_CERTNO, LABEL_NAME, PiiCipher

CHUNK = 5000

Row = dict[str, Any]


def table(model: type[models.Base]) -> Table:
    t = model.__table__
    assert isinstance(t, Table)
    return t


def _sqlite_text(value: object) -> object:
    """Dates and times as SQLAlchemy's SQLite types store them (ISO text)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    return value.isoformat() if isinstance(value, date) else value


def _sqlite_real(value: object) -> object:
    """NUMERIC as SQLAlchemy stores it on SQLite (REAL); exact values live in the integer-fen columns."""
    return float(value) if isinstance(value, Decimal) else value


def _converter(column: Column[Any]) -> Callable[[object], object] | None:
    if isinstance(column.type, (DateTime, Date)):
        return _sqlite_text
    if isinstance(column.type, Numeric) and not isinstance(column.type, (Integer, BigInteger)):
        return _sqlite_real
    return None  # str, int, bytes and bool go to sqlite3 as they are


def insert_rows(conn: Connection, t: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``t``.

    On SQLite the statement goes straight to the driver's ``executemany``, with dates, times
    and NUMERIC values converted as SQLAlchemy's types would store them and the columns'
    scalar defaults filled in: SQLAlchemy's per-row parameter processing was most of the
    demo's write time. PostgreSQL goes through SQLAlchemy (psycopg's batched inserts).
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(t), list(rows))
        return
    given = list(rows[0])
    defaults = {
        c.name: (c.default.arg if isinstance(c.default, ScalarElementColumnDefault) else None)
        for c in t.columns
        if c.name not in given and not (c.primary_key and c.autoincrement in (True, "auto"))
    }
    names = given + list(defaults)
    sql = f"INSERT INTO {t.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    extra = tuple(defaults.values())
    get = itemgetter(*given)
    convert = [(i, f) for i, name in enumerate(given) if (f := _converter(t.c[name])) is not None]
    values: list[tuple[object, ...]] = []
    for r in rows:
        row = get(r) if len(given) > 1 else (get(r),)
        if convert:
            cells = list(row)
            for i, f in convert:
                cells[i] = f(cells[i])
            row = tuple(cells)
        values.append(row + extra if extra else row)
    conn.exec_driver_sql(sql, values)


def _bulk(engine: Engine, model: type[models.Base], rows: Sequence[Row]) -> None:
    t = table(model)
    with engine.begin() as conn:
        for i in range(0, len(rows), CHUNK):
            insert_rows(conn, t, rows[i : i + CHUNK])


def is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not conn.execute(select(func.count()).select_from(table(models.Person))).scalar_one()


def clear(engine: Engine) -> None:
    """Remove everything a previous demo wrote (child tables first)."""
    order = (ledger.LedgerClose, ledger.LedgerPosting, ledger.LedgerTransfer, ledger.LedgerAccount, ledger.FundMonth,
             ledger.FundBudget, ledger.FundAlert, ledger.CountyOpening, ledger.DeficitShareRow,
             ledger.AdjustmentRegionRow, models.AccountMovement, models.SettlementDetail, models.FeeLine, models.Settlement, models.Diagnosis,
             models.Visit, models.Accumulator, models.Account, models.MutualAidBinding, models.EVoucher,
             models.Enrolment, models.Message, models.SignIn, models.Person, models.Institution, models.Region,
             funding.Collection, funding.Remittance, funding.FiscalSubsidy, funding.ContributionDue,
             funding.Employer)  # fmt: skip
    with engine.begin() as conn:
        for model in order:
            conn.execute(delete(table(model)))


def write_city(
    engine: Engine, city: City, snapshot: PolicySnapshot, cipher: PiiCipher, benefits: dict[str, date]
) -> None:
    regions = [{"code": r.code, "name": r.name, "parent_code": r.parent, "pooling": r.pooling} for r in snapshot.tree]
    _bulk(engine, models.Region, regions)
    _bulk(engine, models.Institution, [
        {"code": i.code, "name": i.name, "kind": i.kind, "hospital_level": i.level, "region_code": i.region,
         "active": True} for i in city.institutions
    ])  # fmt: skip
    _bulk(engine, funding.Employer, [
        {"code": e.code, "name": e.name, "region_code": e.region, "public": e.public} for e in city.employers
    ])  # fmt: skip
    employer_names = {e.code: e.name for e in city.employers}
    persons: list[Row] = []
    enrolments: list[Row] = []
    accounts: list[Row] = []
    carried: list[Row] = []  # 上年结转: the opening balance as the account's first movement
    for p in city.people:
        persons.append({
            "psn_no": p.psn_no,
            "certno_enc": cipher.encrypt(p.certno, LABEL_CERTNO),
            "certno_hash": cipher.lookup_hash(p.certno),
            "name_enc": cipher.encrypt(p.name, LABEL_NAME),
            "sex": "1" if p.sex == "male" else "2",
            "birth_date": p.birth,
        })  # fmt: skip
        enrolments.append({
            "psn_no": p.psn_no, "insutype": SCHEME_INSUTYPE[p.scheme], "psn_type": PSN_TYPES[p.person_type],
            "region_code": p.region, "begin_date": date(city.year, 1, 1), "end_date": date(city.year, 12, 31),
            "assistance_category": p.category, "civil_servant": p.civil_servant,
            "emp_name": employer_names.get(p.employer or "", ""), "emp_code": p.employer,
            "wage": p.wage or None, "benefits_from": benefits[p.psn_no],
        })  # fmt: skip
        if p.scheme == "employee":
            accounts.append({"psn_no": p.psn_no, "balance": p.account_opening})
            carried.append({"psn_no": p.psn_no, "amount": p.account_opening, "kind": "carry_over", "setl_id": None,
                            "beneficiary_psn_no": None, "at": datetime(city.year, 1, 1)})  # fmt: skip
    _bulk(engine, models.Person, persons)
    _bulk(engine, models.Enrolment, enrolments)
    _bulk(engine, models.Account, accounts)
    _bulk(engine, models.AccountMovement, carried)


def write_dues(engine: Engine, dues: Iterable[Due]) -> None:
    _bulk(engine, funding.ContributionDue, [
        {"psn_no": d.psn_no, "insutype": d.insutype, "region_code": d.region, "period": d.period, "base": d.base,
         "employer_amount": d.employer, "personal_amount": d.personal, "assistance_amount": d.assistance,
         "fiscal_subsidy": d.fiscal_subsidy, "account_credit": d.account_credit,
         "critical_illness_funding": d.critical_illness_funding} for d in dues
    ])  # fmt: skip


def write_collections(
    engine: Engine,
    payments: Iterable[Payment],
    remitted: Iterable[Remittance],
    subsidies: Iterable[Subsidy],
    source: str,
) -> None:
    _bulk(engine, funding.Collection, [
        {"serial": p.serial, "psn_no": p.psn_no, "insutype": p.insutype, "region_code": p.region,
         "period": p.period, "employer_amount": p.employer, "personal_amount": p.personal,
         "assistance_amount": p.assistance, "late_fee": p.late_fee, "paid_on": p.paid_on, "source_file": source}
        for p in payments
    ])  # fmt: skip
    _bulk(engine, funding.Remittance, [
        {"region_code": r.region, "insutype": r.insutype, "month": r.month, "payments": r.payments,
         "amount": r.amount, "remitted_on": r.remitted_on} for r in remitted
    ])  # fmt: skip
    _bulk(engine, funding.FiscalSubsidy, [
        {"region_code": s.region, "insutype": "390", "month": s.month, "persons": s.persons, "amount": s.amount}
        for s in subsidies
    ])  # fmt: skip


class SettlementWriter:
    """Buffers settled visits and writes them in chunks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rows: dict[str, list[Row]] = {
            k: [] for k in ("visit", "diagnosis", "fee_line", "settlement", "detail", "movement", "transfer", "posting")
        }
        self.accounts: set[AccountRef] = set()
        self.count = 0

    def add(self, done: Settled) -> None:
        v, s = done.visit, done.settlement
        c = v.claim
        setl_id = f"S{c.claim_id[3:]}"
        begin = datetime.combine(c.admission_date or v.day, time(9))
        end = datetime.combine(v.day, time(11))
        insutype = SCHEME_INSUTYPE[s.scheme]
        self.rows["visit"].append({
            "mdtrt_id": c.claim_id, "psn_no": v.person.psn_no, "insutype": insutype, "fixmedins_code": v.institution,
            "visit_type": c.visit_type, "med_type": v.med_type, "hospital_level": c.hospital_level,
            "insured_region": c.insured_region, "treatment_region": c.treatment_region, "begin_time": begin,
            "end_time": end, "status": "settled", "disease": c.disease, "day_surgery": c.day_surgery,
            "filed": c.filed, "transfer_from_level": c.transfer_from_level, "ipt_otp_no": c.claim_id,
        })  # fmt: skip
        for n, (code, name) in enumerate(v.diagnoses, start=1):
            self.rows["diagnosis"].append({
                "mdtrt_id": c.claim_id, "diag_type": "1", "srt_no": n, "code": code, "name": name, "main": n == 1,
                "valid": True,
            })  # fmt: skip
        lines = c.fee_lines or ()
        for line, split in zip(lines, s.lines or (), strict=True):
            self.rows["fee_line"].append({
                "mdtrt_id": c.claim_id, "feedetl_sn": line.line_no, "item_code": line.item_code,
                "medins_item_code": line.item_code, "price": line.price, "quantity": line.quantity,
                "amount": line.amount, "declared_class": line.declared_class, "indication_met": line.indication_met,
                "status": "active", "setl_id": setl_id, "item_class": split.item_class,
                "full_self_pay": split.full_self_pay, "over_limit": split.over_limit,
                "self_pay_first": split.self_pay_first, "policy_range": split.policy_range,
                "self_pay_first_ratio": split.self_pay_first_ratio, "price_cap": split.price_cap,
                "reason": split.reason,
            })  # fmt: skip
        self.rows["settlement"].append({
            "setl_id": setl_id, "mdtrt_id": c.claim_id, "psn_no": v.person.psn_no, "insutype": insutype,
            "fixmedins_code": v.institution, "visit_type": s.visit_type, "med_type": v.med_type,
            "clr_type": CLR_TYPES[s.visit_type], "clr_optins": s.region, "setl_time": end, "status": "settled",
            "reverses": None, "msgid": f"DEMO{c.claim_id[3:]}", "mutual_aid_psn_no": None, **settlement_amounts(s),
        })  # fmt: skip
        for d in s.details:
            self.rows["detail"].append({
                "setl_id": setl_id, "fund_pay_type": d.fund_code, "inscp_scp_amt": d.base,
                "crt_payb_lmt_amt": d.limit_available, "fund_payamt": d.amount, "setl_proc_info": d.note[:400],
            })  # fmt: skip
        transfer = entries.settlement(
            setl_id, v.day, v.institution, s.region, sub_ledger(v.person.region, s.region),
            ((d.fund_code, d.amount) for d in s.details), s.account_pay + s.mutual_aid_pay,
        )  # fmt: skip
        if transfer is not None:
            self.rows["transfer"].append(transfer_row(transfer, end))
            self.rows["posting"].extend(posting_rows(transfer))
            self.accounts.update(p.account for p in transfer.postings)
        if s.account_pay:
            self.rows["movement"].append({
                "psn_no": v.person.psn_no, "amount": -s.account_pay, "kind": "settlement", "setl_id": setl_id,
                "beneficiary_psn_no": None, "at": end,
            })  # fmt: skip
        self.count += 1
        if self.count % CHUNK == 0:
            self.flush()

    def flush(self) -> None:
        order = (("visit", models.Visit), ("diagnosis", models.Diagnosis), ("fee_line", models.FeeLine),
                 ("settlement", models.Settlement), ("detail", models.SettlementDetail),
                 ("movement", models.AccountMovement), ("transfer", ledger.LedgerTransfer),
                 ("posting", ledger.LedgerPosting))  # fmt: skip
        with self.engine.begin() as conn:
            ensure_accounts(conn, self.accounts, conn.dialect.name)
            self.accounts.clear()
            for key, model in order:
                rows = self.rows[key]
                insert_rows(conn, table(model), rows)
                rows.clear()


def write_credits(engine: Engine, city: City, credit: Any) -> None:
    """The monthly account credits (个人账户划入) as account movements."""
    rows = []
    for p in city.people:
        if p.scheme != "employee":
            continue
        for month in range(1, 13):
            amount = credit(p, month)
            if amount:
                rows.append({"psn_no": p.psn_no, "amount": amount, "kind": "credit", "setl_id": None,
                             "beneficiary_psn_no": None, "at": datetime(city.year, month, 1)})  # fmt: skip
    _bulk(engine, models.AccountMovement, rows)


def write_year_end(engine: Engine, accumulators: dict[str, Accumulators]) -> None:
    rows = []
    for acc in accumulators.values():
        row: Row = {"psn_no": acc.person_id, "insutype": SCHEME_INSUTYPE[acc.scheme], "region_code": acc.region,
                    "year": acc.year, "chronic": json.dumps(acc.chronic, sort_keys=True)}  # fmt: skip
        row.update({name: getattr(acc, name) for name in COUNTERS})
        rows.append(row)
    _bulk(engine, models.Accumulator, rows)
    balances = [{"b_psn_no": a.person_id, "b_balance": a.account_balance} for a in accumulators.values()
                if a.scheme == "employee"]  # fmt: skip
    t = table(models.Account)
    with engine.begin() as conn:
        for i in range(0, len(balances), CHUNK):
            conn.execute(
                update(t).where(t.c.psn_no == bindparam("b_psn_no")).values(balance=bindparam("b_balance")),
                balances[i : i + CHUNK],
            )
