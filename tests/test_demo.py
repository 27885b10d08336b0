"""`yibao demo`: the synthetic 潮州 2020 year, its calibration and the books it leaves in the database.

The calibration targets are the published figures of 《潮州市医疗保障事业发展“十四五”规划》
(../shared/seeds/001_2ccf5f778733905c.txt): counts and money per capita within ±10%, shares
within ±3 percentage points (the assistance share, which the issue does not list, ±5).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from harness import database
from yibao.demo.run import DemoOptions, DemoResult, run_demo
from yibao.demo.summary import measured
from yibao.errors import InputError
from yibao.io.payments_csv import HEADERS, read_payments
from yibao.sim.targets import CHAOZHOU_2020, scaled, within

ROOT = Path(__file__).resolve().parent.parent
SCALE = Fraction(1, 100)  # the default scale (26,630 insured); see docs/demo.md for the spread across seeds


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    out = tmp_path_factory.mktemp("demo")
    return run_demo(DemoOptions(out=out, scale=SCALE, seed=1, policy_dir=ROOT / "policies"))


@pytest.fixture(scope="module")
def db(demo: DemoResult) -> sa.Engine:
    return sa.create_engine(demo.db_url)


@pytest.fixture(scope="module")
def figures(demo: DemoResult, db: sa.Engine) -> dict[str, Fraction | None]:
    """The calibration quantities read back from the demo's database."""
    from yibao.demo.indicators import read_figures
    from yibao.store.pii import PiiCipher

    key = (demo.summary_path.parent / "pii.key").read_text(encoding="ascii").strip()
    return measured(read_figures(db, 2020, PiiCipher.from_env({"YIBAO_PII_KEY": key})))


@pytest.mark.parametrize("target", CHAOZHOU_2020, ids=lambda t: t.key)
def test_calibration_target(figures: dict[str, Fraction | None], target: Any) -> None:
    result = figures[target.key]
    assert result is not None
    expected = scaled(target, SCALE)
    assert within(target, result, SCALE), f"{target.name}: {float(result):.4f} vs {float(expected):.4f}"


def test_summary_json_has_the_per_capita_comparable_fields(demo: DemoResult) -> None:
    s = json.loads(demo.summary_path.read_text(encoding="utf-8"))
    for key in ("insured_total", "insured_employee", "insured_resident", "retiree_share", "fund_income_yuan",
                "fund_expenditure_yuan", "policy_range_inpatient_fund_share", "assistance_share_for_key_groups",
                "settlements_total", "scale", "seed"):  # fmt: skip
        assert s[key] is not None, key
    assert s["insured_total"] == s["insured_employee"] + s["insured_resident"]
    for money in ("fund_income_yuan", "fund_expenditure_yuan"):
        parts = s[money]
        assert set(parts) == {"total", "employee", "resident"}
        assert Fraction(parts["total"]) == Fraction(parts["employee"]) + Fraction(parts["resident"])
    # per capita: income per insured person is the city's (28.44亿 / 266.30万 = 1067.97 元) within 10%
    per_capita = Fraction(s["fund_income_yuan"]["total"]) / s["insured_total"]
    assert abs(per_capita / (Fraction(2844_000_000) / 2_663_000) - 1) <= Fraction(1, 10)
    assert Fraction(s["scale"]) == SCALE and s["seed"] == 1


def test_every_visit_is_stored_and_settled(demo: DemoResult, db: sa.Engine) -> None:
    with db.connect() as c:
        visits = c.execute(sa.text("select count(*) from visit")).scalar_one()
        settled = c.execute(sa.text("select count(*) from settlement where status = 'settled'")).scalar_one()
        lines = c.execute(sa.text("select count(*) from fee_line where setl_id is not null")).scalar_one()
    assert visits == settled == demo.summary["settlements_total"]
    assert lines > visits


def test_settlement_identities_hold_to_the_fen(db: sa.Engine) -> None:
    with db.connect() as c:
        bad = c.execute(sa.text("""
            select count(*) from settlement s
            where s.medfee_sumamt != s.fund_pay_sumamt + s.psn_part_amt + s.hosp_part_amt
               or s.psn_part_amt != s.acct_pay + s.psn_cash_pay
               or s.medfee_sumamt != s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.inscp_scp_amt
               or s.fund_pay_sumamt != (select coalesce(sum(d.fund_payamt), 0) from settlement_detail d
                                        where d.setl_id = s.setl_id and d.fund_pay_type != '310200')
               or s.medfee_sumamt != (select sum(f.amount) from fee_line f where f.setl_id = s.setl_id)
        """)).scalar_one()  # fmt: skip
    assert bad == 0


def test_accounts_reconcile_with_their_movements(db: sa.Engine) -> None:
    """Every employee account: closing balance = carried-over + monthly credits − payments, all as movements."""
    with db.connect() as c:
        off = c.execute(sa.text("""
            select count(*) from account a
            where a.balance != (select coalesce(sum(m.amount), 0) from account_movement m where m.psn_no = a.psn_no)
               or a.balance < 0
        """)).scalar_one()  # fmt: skip
        paid = c.execute(sa.text("select coalesce(sum(acct_pay), 0) from settlement")).scalar_one()
        moved = c.execute(sa.text("select -sum(amount) from account_movement where kind = 'settlement'")).scalar_one()
        kinds = {k for (k,) in c.execute(sa.text("select distinct kind from account_movement"))}
    assert off == 0
    assert paid == moved > 0
    assert kinds == {"carry_over", "credit", "settlement"}


def test_collections_are_remitted_in_full(db: sa.Engine) -> None:
    with db.connect() as c:
        collected = c.execute(sa.text(
            "select region_code, insutype, sum(employer_amount + personal_amount + assistance_amount + late_fee)"
            " from collection group by region_code, insutype order by 1, 2"
        )).all()  # fmt: skip
        remitted = c.execute(sa.text(
            "select region_code, insutype, sum(amount) from remittance group by region_code, insutype order by 1, 2"
        )).all()  # fmt: skip
        late = c.execute(sa.text("select count(*), sum(late_fee) from collection where late_fee > 0")).one()
        subsidy = c.execute(sa.text("select sum(amount) from fiscal_subsidy")).scalar_one()
        residents = c.execute(sa.text("select count(*) from enrolment where insutype = '390'")).scalar_one()
    assert collected == remitted and len(collected) == 6  # 3 counties × 2 schemes
    assert late[0] > 0 and late[1] > 0  # some employers paid late, with the statutory fee
    assert subsidy == residents * 55_000  # 550 元 per resident (医保发〔2020〕24号)


def test_pii_is_encrypted_in_the_database(demo: DemoResult, db: sa.Engine) -> None:
    from yibao.sim.city import generate_city

    with db.connect() as c:
        blob, hashed = c.execute(sa.text("select certno_enc, certno_hash from person limit 1")).one()
    assert isinstance(blob, bytes) and len(hashed) == 64
    raw = Path(db.url.database or "").read_bytes()
    people = generate_city(SCALE, 1).people[:20]  # the same seed gives the same people
    secrets = [p.certno for p in people] + [p.name for p in people if len(p.name) == 3]
    assert not [x for x in secrets if x.encode() in raw], "an ID number or name is stored in clear"
    html = demo.report_path.read_text(encoding="utf-8")
    assert not [p.certno for p in people if p.certno in html]


def test_same_seed_same_year(tmp_path: Path) -> None:
    a = run_demo(DemoOptions(out=tmp_path / "a", scale=Fraction(1, 2000), seed=3, policy_dir=ROOT / "policies"))
    b = run_demo(DemoOptions(out=tmp_path / "b", scale=Fraction(1, 2000), seed=3, policy_dir=ROOT / "policies"))
    c = run_demo(DemoOptions(out=tmp_path / "c", scale=Fraction(1, 2000), seed=4, policy_dir=ROOT / "policies"))
    assert a.summary == b.summary
    assert a.summary != c.summary


@pytest.mark.parametrize("backend", ["postgresql"])
def test_demo_on_postgresql(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path) as url:
        pg = run_demo(DemoOptions(out=tmp_path / "pg", scale=Fraction(1, 2000), seed=3, db=url,
                                  policy_dir=ROOT / "policies"))  # fmt: skip
        lite = run_demo(
            DemoOptions(out=tmp_path / "lite", scale=Fraction(1, 2000), seed=3, policy_dir=ROOT / "policies")
        )
        assert pg.summary == lite.summary  # the same year whatever the database
        from yibao.service.check import run_checks

        pg_engine = sa.create_engine(url)
        try:
            assert [r.name for r in run_checks(pg_engine) if not r.ok] == []  # the books hold on PostgreSQL too
        finally:
            pg_engine.dispose()
        with pytest.raises(InputError) as e:  # a database with data is refused, not overwritten
            run_demo(DemoOptions(out=tmp_path / "again", scale=Fraction(1, 2000), seed=3, db=url,
                                 policy_dir=ROOT / "policies"))  # fmt: skip
        assert e.value.field == "--db"


def test_yibao_check_passes_on_the_demo_database(demo: DemoResult) -> None:
    """The command a bureau runs: every invariant of the books holds after the demo year."""
    import subprocess
    import sys

    db_file = demo.db_url.removeprefix("sqlite:///")
    yibao = str(Path(sys.executable).parent / "yibao")
    done = subprocess.run([yibao, "check", "--db", db_file], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "全部核对通过" in done.stdout
    for name in (
        "每笔转账借贷平衡",
        "结算形成的应付医疗机构款等于结算基金支付",
        "县区分账结余合计等于市（省）级账面净资产",
    ):
        assert name in done.stdout


def test_the_books_follow_the_year(db: sa.Engine) -> None:
    """Every settlement with a fund payment posted its entries; twelve months closed per county; the
    payables all cleared by year end; the deficit sharing explained."""
    with db.connect() as c:
        paying = c.execute(sa.text("SELECT count(*) FROM settlement WHERE fund_pay_sumamt + acct_pay <> 0")).scalar()
        posted = c.execute(sa.text("SELECT count(*) FROM ledger_transfer WHERE type = 'settlement'")).scalar()
        assert paying == posted and posted > 50_000
        months = c.execute(sa.text("SELECT region, count(DISTINCT month) FROM fund_month WHERE fund = '390100' "
                                   "GROUP BY region")).all()  # fmt: skip
        assert sorted(months) == [("445102", 12), ("445103", 12), ("445122", 12)]
        owed = c.execute(sa.text(
            "SELECT sum(p.amount) FROM ledger_posting p JOIN ledger_account a ON a.code = p.account "
            "WHERE a.kind = 'pay' AND p.booked_on <= '2020-12-31'")).scalar()  # fmt: skip
        assert owed == 0  # December's clearing paid every institution what it was owed
        shares = c.execute(sa.text("SELECT deficit, county + city, explanation FROM deficit_share")).all()
        assert shares and all(d == total for d, total, _ in shares)
        assert any("县区承担" in text for *_, text in shares)


def test_the_fund_workbook(demo: DemoResult) -> None:
    from openpyxl import load_workbook

    book = load_workbook(demo.summary_path.parent / "fund-2020.xlsx")
    assert book.sheetnames[0] == "汇总"
    assert any("湘桥区" in name and "居民" in name for name in book.sheetnames)


def test_payment_file_errors_name_the_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "pay.csv"
    good = "SW1,P1,310,202003,181.50,66.00,0.00,0.00,2020-03-20,445102"
    f.write_text(
        ",".join(HEADERS) + "\n" + good + "\nSW2,P1,310,202013,1.00,0,0,0,2020-03-20,445102\n", encoding="utf-8"
    )
    enrolled = {"P1": frozenset({"310"})}
    with pytest.raises(InputError) as e:
        read_payments(f, enrolled, frozenset({"445102"}))
    assert e.value.field == "pay.csv:3 费款所属期"
    f.write_text(",".join(HEADERS) + "\n" + good.replace("181.50", "181.505") + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_payments(f, enrolled, frozenset({"445102"}))
    assert e.value.field == "pay.csv:2 单位缴费"
    f.write_text(",".join(HEADERS) + "\n" + good.replace("P1", "P2") + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_payments(f, enrolled, frozenset({"445102"}))
    assert e.value.field == "pay.csv:2 个人编号"
    f.write_text(",".join(HEADERS) + "\n" + good + "\n", encoding="utf-8")
    [p] = read_payments(f, enrolled, frozenset({"445102"}))
    assert (p.employer, p.personal, p.amount) == (18150, 6600, 24750)


def test_the_demo_report_renders_in_headless_chromium(demo: DemoResult, tmp_path: Path) -> None:
    """Opening report.html shows the run's own figures (not a sample's)."""
    from test_report import _chromium, _require_browser

    browser = _require_browser()
    done = _chromium(browser, tmp_path / "profile", "--dump-dom", demo.report_path.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    s = demo.summary
    for shown in (
        f"{s['insured_total']:,} 人",
        f"{s['settlements_total']:,} 笔",
        f"{Decimal(str(s['policy_range_inpatient_fund_share']['employee'])) * 100:.2f}%",
        "校准目标与本次结果",
        "个人负担最重的参保人",
        "基金账务：收支、累计结余与可支付月数",
        "各县区分账 累计结余可支付月数",
        "年终县区缺口分担",
        "季度分析",
    ):
        assert shown in done.stdout, shown
