"""Property: random sequences of business events keep every invariant of the books.

Settlements and their cancels go through the real server (2201 → 2204 → 2207, 2208, 2601) on SQLite
and on PostgreSQL; collections, remittances, the monthly clearing, the adjustment fund's levy and
allocation, and the month-end close go through the books' use cases. After every sequence
``yibao check``'s invariants all hold; then corrupting a single posting, closing balance or monthly
figure makes them fail.
"""

from __future__ import annotations

import random
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from conftest import new_person, y
from harness import Client
from yibao.fund import entries
from yibao.fund.chart import AccountKind, AccountRef, Fund
from yibao.service.books import clear_month, close_month, open_county, post_all, reopen_month
from yibao.service.check import run_checks
from yibao.service.ledger import balances
from yibao.store.ledger import FundMonth, LedgerClose, LedgerPosting
from yibao.store.models import Settlement

CITY, PROVINCE, COUNTIES = "445100", "440000", ("445102", "445103", "445122")
HOSPITALS = ("H44510000001", "H44510200002")
CODES = ("DEMO-S0001", "DEMO-S0002")

collect = st.tuples(st.just("collect"), st.sampled_from(COUNTIES), st.integers(1, 5_000_000))
settle = st.tuples(st.just("settle"), st.sampled_from(HOSPITALS), st.sampled_from(CODES), st.integers(1, 40))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50), st.booleans())
remit = st.tuples(st.just("remit"), st.sampled_from(COUNTIES))
clear = st.tuples(st.just("clear"))
adjust = st.tuples(st.just("adjust"), st.integers(1, 2_000_000), st.integers(0, 100))
events = st.lists(st.one_of(collect, settle, settle, cancel, remit, clear, adjust), min_size=1, max_size=12)

_seq = iter(range(1, 10**6))


def _funded(platform) -> None:
    """Every fund of the city starts with money in its special account (once per database)."""
    with platform.sessions() as s:
        if balances(s, None, [AccountRef(AccountKind.FISCAL_SPECIAL, Fund.EMPLOYEE_POOLED, CITY).code]):
            return
    for fund in Fund:
        open_county(platform, CITY, COUNTIES[0], fund, date(2000, 1, 1), y("10000000"), 0)


def _failures(platform) -> list[tuple[str, list[str]]]:
    return [(r.name, r.breaches) for r in run_checks(platform.engine) if not r.ok]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=events)
def test_random_business_events_keep_every_invariant(service, script) -> None:
    platform, base = service
    _funded(platform)
    today = datetime.now().date()
    month = today.replace(day=1)
    n = next(_seq)
    reopen_month(platform, CITY, month)  # the last example closed it (反结账 before more entries)
    psn = new_person(platform, region=COUNTIES[n % 3])
    settled: list[tuple[str, str, str]] = []  # (institution, setl_id, msgid)
    for i, event in enumerate(script):
        kind = event[0]
        if kind == "collect":
            _, county, amount = event
            post_all(platform, [entries.collection(f"p{n}-{i}", today, Fund.EMPLOYEE_POOLED, CITY, county, amount)])
        elif kind == "settle":
            _, inst, code, qty = event
            c = Client(base, inst)
            out = c.ok("2201", {"data": {"psn_no": psn, "insutype": "310", "begntime": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "ipt_otp_no": "x"}})  # fmt: skip
            mdtrt_id = str(out["data"]["mdtrt_id"])
            c.ok("2204", {"feedetail": [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn, "med_list_codg": code,
                                         "pric": "23.45", "cnt": str(qty)}]})  # fmt: skip
            msgid = c.msgid()
            setl = c.ok("2207", {"data": {"psn_no": psn, "mdtrt_id": mdtrt_id, "insutype": "310", "med_type": "11",
                                          "acct_used_flag": "0"}}, msgid)  # fmt: skip
            settled.append((inst, str(setl["setlinfo"]["setl_id"]), msgid))
        elif kind == "cancel" and settled:
            _, k, by_msgid = event
            inst, setl_id, msgid = settled.pop(k % len(settled))
            c = Client(base, inst)
            if by_msgid:
                c.ok("2601", {"data": {"psn_no": psn, "omsgid": msgid, "oinfno": "2207"}})
            else:
                with platform.sessions() as s:
                    mdtrt_id = s.get(Settlement, setl_id).mdtrt_id
                c.ok("2208", {"data": {"psn_no": psn, "setl_id": setl_id, "mdtrt_id": mdtrt_id}})
        elif kind == "remit":
            county = event[1]
            code = AccountRef(AccountKind.INCOME_ACCOUNT, Fund.EMPLOYEE_POOLED, county).code
            with platform.sessions() as s:
                held = balances(s, None, [code]).get(code, 0)
            if held:
                post_all(
                    platform, [entries.remittance(today, Fund.EMPLOYEE_POOLED, CITY, county, month, held, f"r{n}-{i}")]
                )
        elif kind == "clear":
            clear_month(platform, CITY, month)
        elif kind == "adjust":
            _, levy, share = event
            back = levy * share // 100
            post_all(platform, [entries.adjustment_levy(today, Fund.RESIDENT_POOLED, PROVINCE, CITY, levy, f"{n}-{i}")])
            if back:
                post_all(
                    platform,
                    [entries.adjustment_allocation(today, Fund.RESIDENT_POOLED, PROVINCE, CITY, back, f"{n}-{i}")],
                )
    close_month(platform, CITY, month)
    assert _failures(platform) == []


def test_one_corrupted_row_breaks_the_books(service) -> None:
    platform, _ = service
    assert _failures(platform) == []
    rng = random.Random(7)
    with platform.engine.begin() as c:
        ids = list(c.scalars(select(LedgerPosting.id)))
        victim = rng.choice(ids)
        c.execute(update(LedgerPosting).where(LedgerPosting.id == victim).values(amount=LedgerPosting.amount + 1))
    assert "每笔转账借贷平衡（按基金与会计主体）" in {name for name, _ in _failures(platform)}
    with platform.engine.begin() as c:
        c.execute(update(LedgerPosting).where(LedgerPosting.id == victim).values(amount=LedgerPosting.amount - 1))
        first = c.scalar(select(func.min(LedgerClose.month)))
        account = c.scalar(select(func.min(LedgerClose.account)).where(LedgerClose.month == first))
        c.execute(update(LedgerClose).where(LedgerClose.month == first, LedgerClose.account == account)
                  .values(balance=LedgerClose.balance - 1))  # fmt: skip
    assert "结账余额等于分录合计" in {name for name, _ in _failures(platform)}
    with platform.engine.begin() as c:
        c.execute(update(LedgerClose).where(LedgerClose.month == first, LedgerClose.account == account)
                  .values(balance=LedgerClose.balance + 1))  # fmt: skip
        c.execute(update(FundMonth).where(FundMonth.region == COUNTIES[0]).values(income=FundMonth.income + 1))
    assert "月报收支与累计结余等于分录" in {name for name, _ in _failures(platform)}
    with platform.engine.begin() as c:
        c.execute(update(FundMonth).where(FundMonth.region == COUNTIES[0]).values(income=FundMonth.income - 1))
    assert _failures(platform) == []
