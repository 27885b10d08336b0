"""The fund's books with worked numbers, on SQLite and on PostgreSQL: a county remittance month, a
monthly clearing with a revolving fund, a year-end deficit shared between city and county, an
adjustment-fund year across several cities with the fund short, idempotent posting, floors, and
``yibao check`` catching a corrupted posting.

Amounts are yuan in the test text (``y("1000")`` is 100000 fen) and compared to the fen.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time

import pytest
from sqlalchemy import insert, select, update

from conftest import POLICIES, y
from harness import database
from yibao.errors import InputError
from yibao.fund import entries
from yibao.fund.chart import AccountKind, AccountRef, Fund
from yibao.fund.transfer import Posting, Transfer, TransferType, move
from yibao.io.policy_dir import load_policy_dir
from yibao.service.books import (
    FundDesk,
    advance_revolving,
    clear_month,
    close_month,
    equity,
    open_county,
    post_all,
    reopen_month,
    set_budget,
)
from yibao.service.check import run_checks
from yibao.service.ledger import balances
from yibao.service.year_end import adjustment_year, share_year
from yibao.store.db import make_engine
from yibao.store.ledger import FundMonth, LedgerPosting, LedgerTransfer
from yibao.store.migrate import upgrade
from yibao.store.models import Institution, Person, Settlement, SettlementDetail, Visit

CITY, XIANGQIAO, CHAOAN = "445100", "445102", "445103"
AMOUNT_COLUMNS = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "act_pay_dedc", "pool_prop_selfpay",
                  "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "hifdm_pay",
                  "psn_part_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay", "hosp_part_amt", "balc")  # fmt: skip
RES, EMP = Fund.RESIDENT_POOLED, Fund.EMPLOYEE_POOLED


def acct(kind: AccountKind, fund: Fund, region: str, party: str = "") -> str:
    return AccountRef(kind, fund, region, party).code


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def snapshot():
    return load_policy_dir(POLICIES)


@pytest.fixture
def desk(backend: str, snapshot, tmp_path) -> Iterator[FundDesk]:
    with database(backend, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as c:
            c.execute(Institution.__table__.insert(), [
                {"code": "H44510200001", "name": "湘桥区人民医院", "kind": "H", "hospital_level": 2, "region_code": XIANGQIAO, "active": True},
                {"code": "H44510000009", "name": "潮州市中心医院", "kind": "H", "hospital_level": 3, "region_code": CITY, "active": True},
            ])  # fmt: skip
        try:
            _desk.append(FundDesk(engine, snapshot))
            yield _desk[-1]
        finally:
            engine.dispose()


def bal(desk: FundDesk, code: str, upto: date | None = None) -> int:
    with desk.sessions() as s:
        return balances(s, upto, [code]).get(code, 0)


def all_ok(desk: FundDesk) -> None:
    failed = [(r.name, r.breaches) for r in run_checks(desk.engine) if not r.ok]
    assert not failed


_desk: list[FundDesk] = []


def settle(setl_id: str, on: date, inst: str, county: str, fund: Fund, amount: int, city: str = CITY) -> Transfer:
    """A settlement's rows (what ``yibao check`` compares the payables with) and its transfer, to post."""
    engine = _desk[-1].engine
    at = datetime.combine(on, time(10))
    with engine.begin() as c:
        c.execute(insert(Person).values(psn_no=f"P{setl_id}", certno_enc=b"x", certno_hash=setl_id, name_enc=b"x",
                                        sex="1", birth_date=date(1970, 1, 1)))  # fmt: skip
        c.execute(insert(Visit).values(mdtrt_id=f"M{setl_id}", psn_no=f"P{setl_id}", insutype="390", fixmedins_code=inst,
                                       visit_type="inpatient", med_type="21", hospital_level=3, insured_region=city,
                                       treatment_region=city, begin_time=at, status="settled"))  # fmt: skip
        amounts = dict.fromkeys(AMOUNT_COLUMNS, 0) | {"medfee_sumamt": amount, "inscp_scp_amt": amount,
                                                      "hifp_pay": amount, "fund_pay_sumamt": amount}  # fmt: skip
        c.execute(insert(Settlement).values(
            setl_id=setl_id, mdtrt_id=f"M{setl_id}", psn_no=f"P{setl_id}", insutype="390", fixmedins_code=inst,
            visit_type="inpatient", med_type="21", clr_type="21", clr_optins=city, setl_time=at, rule_date=on,
            year=on.year, snapshot_id="test", status="settled", msgid=setl_id, **amounts))  # fmt: skip
        c.execute(insert(SettlementDetail).values(setl_id=setl_id, fund_pay_type=fund.value, inscp_scp_amt=amount,
                                                  fund_payamt=amount))  # fmt: skip
    t = entries.settlement(setl_id, on, inst, city, county, [(fund.value, amount)], 0)
    assert t is not None
    return t


# -- pure: transfers ---------------------------------------------------------------------------------


def test_a_transfer_must_balance_per_fund_and_entity() -> None:
    fsa_city = AccountRef(AccountKind.FISCAL_SPECIAL, RES, CITY)
    fsa_prov = AccountRef(AccountKind.FISCAL_SPECIAL, RES, "440000")
    income = AccountRef(AccountKind.CONTRIBUTION_INCOME, RES, XIANGQIAO)
    with pytest.raises(InputError, match="借贷不平衡"):
        Transfer("t1", TransferType.INTEREST, "r", date(2020, 1, 1), (Posting(fsa_city, 100), Posting(income, -99)))
    # balanced overall, but money would move between the province's books and the city's without entries in each
    with pytest.raises(InputError, match="主体 440000"):
        Transfer("t2", TransferType.INTEREST, "r", date(2020, 1, 1), (Posting(fsa_prov, 100), Posting(income, -100)))
    with pytest.raises(InputError, match="两条分录"):
        move("t3", TransferType.INTEREST, "r", date(2020, 1, 1), [(fsa_city, income, 0)])
    with pytest.raises(InputError, match="须指定机构"):
        AccountRef(AccountKind.HOSPITAL_PAYABLE, RES, CITY)
    with pytest.raises(InputError, match="6 位数字"):
        AccountRef(AccountKind.FISCAL_SPECIAL, RES, "4451")


def test_a_cancel_is_the_exact_negative_of_its_settlement() -> None:
    t = entries.settlement(
        "S1", date(2020, 3, 1), "H1", CITY, XIANGQIAO, [("390100", 800), ("390200", 50), ("610102", 7)], 120
    )
    assert t is not None
    c = entries.settlement(
        "S2",
        date(2020, 3, 2),
        "H1",
        CITY,
        XIANGQIAO,
        [("390100", -800), ("390200", -50), ("610102", -7)],
        -120,
        cancels="S1",
    )
    assert c is not None and c.type is TransferType.SETTLEMENT_CANCEL and c.ref == "S1"
    assert sorted((p.account, -p.amount) for p in t.postings) == sorted((p.account, p.amount) for p in c.postings)
    # 倾斜救助 (610102) books to the assistance fund; the account pay to the personal-account fund
    assert {p.account.fund for p in t.postings} == {RES, Fund.CRITICAL_ILLNESS, Fund.ASSISTANCE, Fund.PERSONAL_ACCOUNT}
    assert entries.settlement("S3", date(2020, 3, 1), "H1", CITY, XIANGQIAO, [("390100", 0)], 0) is None


# -- worked flows --------------------------------------------------------------------------------------


def test_a_county_remittance_month(desk: FundDesk) -> None:
    """湘桥区 collects resident contributions on three days of January (the tax bureau's receipts),
    remits them on 5 February to the city's special account; the January close shows them as income
    in the county's income account, the February close in the special account."""
    days = [(date(2020, 1, 6), "12000.00"), (date(2020, 1, 15), "8400.50"), (date(2020, 1, 28), "3599.50")]
    transfers = [entries.collection(f"{XIANGQIAO}:390:{d}", d, RES, CITY, XIANGQIAO, y(a)) for d, a in days]
    transfers.append(entries.remittance(date(2020, 2, 5), RES, CITY, XIANGQIAO, date(2020, 1, 1), y("24000.00")))
    assert post_all(desk, transfers) == 4
    inc = acct(AccountKind.INCOME_ACCOUNT, RES, XIANGQIAO)
    fsa = acct(AccountKind.FISCAL_SPECIAL, RES, CITY)
    assert bal(desk, inc, date(2020, 1, 31)) == y("24000.00")
    assert bal(desk, fsa, date(2020, 1, 31)) == 0
    assert bal(desk, inc) == 0 and bal(desk, fsa) == y("24000.00")
    jan = close_month(desk, CITY, date(2020, 1, 1))
    feb = close_month(desk, CITY, date(2020, 2, 1))
    row = jan.rows[(XIANGQIAO, RES.value)]
    assert (row.income, row.expense, row.accumulated) == (y("24000.00"), 0, y("24000.00"))
    assert feb.rows[(XIANGQIAO, RES.value)].income == 0  # the remittance moves money, it is not income
    all_ok(desk)


def test_monthly_clearing_with_a_revolving_fund(desk: FundDesk) -> None:
    """The city's central hospital (level 3, city agency pays) gets a revolving fund of 100,000 in
    January; January's settlements of 80,000 are paid in full at month end; December's 150,000 are
    paid after the revolving fund is recovered: 100,000 offset, 50,000 paid."""
    h = "H44510000009"
    open_county(desk, CITY, XIANGQIAO, RES, date(2020, 1, 1), y("1000000"), y("200000"))
    advance_revolving(desk, CITY, date(2020, 1, 1), {(h, RES): y("100000")})
    post_all(desk, [settle("S01", date(2020, 1, 20), h, XIANGQIAO, RES, y("50000")),
                    settle("S02", date(2020, 1, 31), h, XIANGQIAO, RES, y("30000"))])  # fmt: skip
    paid = clear_month(desk, CITY, date(2020, 1, 1))
    assert [t.type for t in paid] == [TransferType.DISBURSEMENT, TransferType.CLEARING]
    assert paid[-1].amount == y("80000")
    post_all(desk, [settle("S12", date(2020, 12, 10), h, XIANGQIAO, RES, y("150000"))])
    year_end = clear_month(desk, CITY, date(2020, 12, 1), recover_revolving=True)
    assert [(t.type, t.amount) for t in year_end] == [
        (TransferType.REVOLVING_RECOVERY, y("100000")),
        (TransferType.DISBURSEMENT, y("50000")),
        (TransferType.CLEARING, y("50000")),
    ]
    assert bal(desk, acct(AccountKind.REVOLVING_FUND, RES, CITY, h)) == 0
    assert bal(desk, acct(AccountKind.HOSPITAL_PAYABLE, RES, CITY, h)) == 0
    # 1,000,000 pooled − 100,000 advanced − 80,000 − 50,000 paid (the debt of 200,000 stays with the county)
    assert bal(desk, acct(AccountKind.FISCAL_SPECIAL, RES, CITY)) == y("770000")
    with desk.sessions() as s:
        assert equity(s, CITY, date(2020, 12, 31))[(XIANGQIAO, RES.value)] == y("1000000") - y("230000")
    for m in (1, 12):
        close_month(desk, CITY, date(2020, m, 1))
    all_ok(desk)


def test_a_year_end_deficit_shared_between_city_and_county(desk: FundDesk) -> None:
    """潮安区, employee fund, 2020: income 1,000,000 against a target of 1,100,000; spending 1,300,000
    against a budget of 1,200,000. Deficit 300,000 = under-collection 100,000 (county 100%) +
    over budget 100,000 (county 50%: 50,000) + within budget 100,000 (county 0%): the county's
    finance pays 150,000 into the special account, the city pool bears 150,000 — booked on
    31 January 2021, after the year's accounts."""
    h = "H44510000009"
    set_budget(desk, 2020, EMP, CHAOAN, y("1100000"), y("1200000"))
    open_county(desk, CITY, CHAOAN, EMP, date(2020, 1, 1), y("2000000"), 0)
    post_all(desk, [entries.collection("c1", date(2020, 3, 1), EMP, CITY, CHAOAN, y("1000000")),
                    settle("S1", date(2020, 6, 1), h, CHAOAN, EMP, y("1300000"))])  # fmt: skip
    (share,) = share_year(desk, CITY, EMP, 2020)
    assert (share.deficit, share.under_collection, share.over_budget, share.within_budget) == (
        y("300000"), y("100000"), y("100000"), y("100000"))  # fmt: skip
    assert (share.county, share.city) == (y("150000"), y("150000"))
    assert bal(desk, acct(AccountKind.FISCAL_SPECIAL, EMP, CITY), date(2020, 12, 31)) == y("2000000")
    assert bal(desk, acct(AccountKind.FISCAL_SPECIAL, EMP, CITY)) == y("2150000")
    assert bal(desk, acct(AccountKind.INTERNAL_OUT, EMP, CITY)) == y("150000")  # the city pool's share
    with desk.sessions() as s:
        after = equity(s, CITY, date(2021, 1, 31))
    assert after[(CHAOAN, EMP.value)] == y("2000000")  # its deficit made good: county 150,000 + city 150,000
    assert after[(CITY, EMP.value)] == -y("150000")
    with pytest.raises(InputError, match="未编制预算"):
        share_year(desk, CITY, RES, 2020) if post_all(
            desk, [settle("S2", date(2020, 7, 1), h, CHAOAN, RES, 1)]
        ) else None
    all_ok(desk)


def test_an_adjustment_fund_year_across_four_cities_with_the_fund_short(desk: FundDesk) -> None:
    """Guangdong's resident adjustment fund, 2021 (levy 5% of 2020 income; reserve 3 months).
    Four cities; 潮州 and 汕头 in deficit, 揭阳 in deficit but with a cushion; 梅州 in surplus.
    Levies: 5% of 2020 income. Claims exceed what the fund has, so allocations are pro-rated."""
    cities = {"445100": "2000000", "440500": "3000000", "445200": "1000000", "441400": "4000000"}
    spend = {"445100": "2600000", "440500": "3500000", "445200": "1300000", "441400": "3000000"}
    opening = {"445100": "0", "440500": "0", "445200": "200000", "441400": "1000000"}
    h = "H44510000009"
    for c, income in cities.items():
        county = c[:4] + "02"
        events = [entries.collection(f"{c}-2020", date(2020, 6, 1), RES, c, county, y(income)),
                  entries.collection(f"{c}-2021", date(2021, 6, 1), RES, c, county, y(income)),
                  entries.remittance(date(2020, 7, 5), RES, c, county, date(2020, 6, 1), y(income)),
                  entries.remittance(date(2021, 7, 5), RES, c, county, date(2021, 6, 1), y(income))]  # fmt: skip
        if opening[c] != "0":
            events.insert(0, entries.opening(date(2020, 1, 1), RES, c, county, y(opening[c])))
        events.append(settle(f"S{c}", date(2020, 9, 1), h, county, RES, y(income), c))  # 2020 breaks even
        events.append(settle(f"T{c}", date(2021, 9, 1), h, county, RES, y(spend[c]), c))
        post_all(desk, events, floors=False)
    result = adjustment_year(
        desk, "440000", RES, 2021, {"445100": 10000, "440500": 8000, "445200": 10000, "441400": 9000}
    )
    by = {r.region: r for r in result.regions}
    assert {c: by[c].levy for c in cities} == {c: y(v) * 5 // 100 for c, v in cities.items()}
    # gaps after the levy: expense − (income − levy)
    assert by["445100"].gap == y("2600000") - y("1900000")  # 700,000
    assert by["440500"].gap == y("3500000") - y("2850000")  # 650,000
    assert by["445200"].gap == y("1300000") - y("950000")  # 350,000, cushion 200,000 − 3 × 1,300,000/12 = 0
    assert by["441400"].gap == 0
    assert by["445200"].reasonable_gap == y("350000")
    assert [by[c].claim for c in ("445100", "440500", "445200")] == [y("700000"), y("520000"), y("350000")]
    levied = y("100000") + y("150000") + y("50000") + y("200000")  # 500,000 < claims 1,570,000
    assert result.levied == levied and result.prorated
    assert result.allocated == levied and result.closing == 0
    assert all(0 < by[c].allocation <= by[c].claim for c in ("445100", "440500", "445200"))
    assert bal(desk, acct(AccountKind.FISCAL_SPECIAL, RES, "440000")) == 0
    assert bal(desk, acct(AccountKind.TRANSFER_IN, RES, "445100")) == -by["445100"].allocation
    with pytest.raises(InputError, match="已核定"):
        adjustment_year(desk, "440000", RES, 2021, {"445100": 10000})
    all_ok(desk)


# -- guarantees ---------------------------------------------------------------------------------------


def test_posting_is_idempotent_and_a_reused_id_is_refused(desk: FundDesk) -> None:
    t = entries.collection("dup", date(2020, 1, 2), RES, CITY, XIANGQIAO, y("100"))
    assert post_all(desk, [t]) == 1
    assert post_all(desk, [t]) == 0
    other = entries.collection("dup", date(2020, 1, 2), RES, CITY, XIANGQIAO, y("101"))
    with pytest.raises(InputError, match="内容不同"):
        post_all(desk, [other])
    with desk.sessions() as s:
        assert len(list(s.scalars(select(LedgerPosting).where(LedgerPosting.transfer_id == t.id)))) == 2


def test_a_transfer_that_would_overdraw_is_refused_and_writes_nothing(desk: FundDesk) -> None:
    post_all(desk, [entries.opening(date(2020, 1, 1), RES, CITY, XIANGQIAO, y("1000"))])
    good = entries.disbursement(date(2020, 1, 31), RES, CITY, XIANGQIAO, y("600"))
    too_much = entries.disbursement(date(2020, 1, 31), RES, CITY, CHAOAN, y("500"))
    with pytest.raises(InputError, match="余额不足"):
        post_all(desk, [good, too_much])
    with desk.sessions() as s:
        assert s.scalar(select(LedgerTransfer.id).where(LedgerTransfer.id == good.id)) is None


def test_a_closed_month_takes_no_entries_until_reopened(desk: FundDesk) -> None:
    """月末结账后不得再记该月的账: a late collection dated in a closed month is refused; after 反结账
    it is posted, the month closed again, and the books hold. A repeat of a posted transfer stays a no-op."""
    early = entries.collection("early", date(2020, 3, 5), RES, CITY, XIANGQIAO, y("500"))
    post_all(desk, [early])
    close_month(desk, CITY, date(2020, 3, 1))
    late = entries.collection("late", date(2020, 3, 20), RES, CITY, XIANGQIAO, y("70"))
    with pytest.raises(InputError, match="已结账"):
        post_all(desk, [late])
    assert post_all(desk, [early]) == 0  # the same transfer again: nothing new, no refusal
    assert post_all(desk, [entries.collection("april", date(2020, 4, 1), RES, CITY, XIANGQIAO, y("9"))]) == 1
    assert reopen_month(desk, CITY, date(2020, 3, 1)) == 1
    assert post_all(desk, [late]) == 1
    closed = close_month(desk, CITY, date(2020, 3, 1))
    assert closed.rows[(XIANGQIAO, RES.value)].income == y("570")
    all_ok(desk)


def test_check_finds_a_corrupted_posting_closing_and_monthly_figure(desk: FundDesk) -> None:
    open_county(desk, CITY, XIANGQIAO, RES, date(2020, 1, 1), y("5000"), 0)
    post_all(desk, [settle("S9", date(2020, 1, 3), "H44510200001", XIANGQIAO, RES, y("700"))])
    close_month(desk, CITY, date(2020, 1, 1))
    all_ok(desk)
    with desk.engine.begin() as c:
        c.execute(update(LedgerPosting).where(LedgerPosting.transfer_id == "setl:S9", LedgerPosting.amount > 0)
                  .values(amount=LedgerPosting.amount + 1))  # fmt: skip
    broken = {r.name for r in run_checks(desk.engine) if not r.ok}
    assert "每笔转账借贷平衡（按基金与会计主体）" in broken
    assert "结账余额等于分录合计" in broken
    assert "月报收支与累计结余等于分录" in broken
    with desk.engine.begin() as c:
        c.execute(update(LedgerPosting).where(LedgerPosting.transfer_id == "setl:S9", LedgerPosting.amount > 0)
                  .values(amount=LedgerPosting.amount - 1))  # fmt: skip
        c.execute(update(FundMonth).values(accumulated=FundMonth.accumulated + 1))
    assert {r.name for r in run_checks(desk.engine) if not r.ok} == {
        "月报收支与累计结余等于分录", "县区分账结余合计等于市（省）级账面净资产"}  # fmt: skip


def test_concurrent_drawings_never_overdraw(desk: FundDesk) -> None:
    """Ten agencies draw 300 each at once on a special account holding 1,000: exactly three succeed
    (an advisory lock per drawn account on PostgreSQL; BEGIN IMMEDIATE on SQLite)."""
    import threading

    post_all(desk, [entries.opening(date(2020, 1, 1), RES, CITY, XIANGQIAO, y("1000"))])
    barrier = threading.Barrier(10)
    outcomes: list[bool] = []

    def draw(k: int) -> None:
        t = entries.disbursement(date(2020, 1, 31), RES, CITY, XIANGQIAO, y("300"), f"draw{k}")
        barrier.wait()
        try:
            post_all(desk, [t])
            outcomes.append(True)
        except InputError:
            outcomes.append(False)

    threads = [threading.Thread(target=draw, args=(k,)) for k in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert outcomes.count(True) == 3
    assert bal(desk, acct(AccountKind.FISCAL_SPECIAL, RES, CITY)) == y("100")
    all_ok(desk)
