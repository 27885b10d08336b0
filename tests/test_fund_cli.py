"""`yibao check` and `yibao fund …` as a user runs them, on a small demo database: the monthly
report with its Excel workbook, a month's close, budgets from CSV (and a bad line refused with its
line and column), deficit sharing, the adjustment fund (and its refusal to run a year twice), and
`yibao check` failing with status 1 once a posting is corrupted.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import ROOT
from yibao.demo.run import DemoOptions, run_demo

YIBAO = str(Path(sys.executable).parent / "yibao")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([YIBAO, *args], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})  # fmt: skip


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    run_demo(DemoOptions(out=out, scale=Fraction(1, 2000), seed=2, policy_dir=ROOT / "policies"))
    return out / "yibao.db"


def test_report_close_and_workbook(db: Path, tmp_path: Path) -> None:
    xlsx = tmp_path / "fund.xlsx"
    done = run("fund", "report", "--db", str(db), "--entity", "445100", "--year", "2020", "--month", "6",
               "--xlsx", str(xlsx), "--unit", "yuan")  # fmt: skip
    assert done.returncode == 0, done.stderr
    for shown in ("截至6月", "居民医保基金", "潮州市（全市）", "湘桥区", "可支付月数"):
        assert shown in done.stdout
    assert xlsx.exists()
    closed = run("fund", "close", "--db", str(db), "--entity", "445100", "--month", "2020-06")
    assert closed.returncode == 0 and "2020-06 已结账" in closed.stdout
    assert run("check", "--db", str(db)).returncode == 0
    bad = run("fund", "close", "--db", str(db), "--entity", "445100", "--month", "2020-13")
    assert bad.returncode == 2 and "--month" in bad.stderr


def test_budgets_from_csv(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "budgets.csv"
    f.write_text("年度,基金编码,区划,收入预算,支出预算\n2021,390100,445102,1000000.00,900000\n"
                 "2021,390100,445103,1000000.005,1\n", encoding="utf-8-sig")  # fmt: skip
    done = run("fund", "budget", str(f), "--db", str(db))
    assert done.returncode == 2 and "budgets.csv:3:收入预算" in done.stderr
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as c:  # all or nothing: the good first line was not loaded either
        assert c.execute(sa.text("SELECT count(*) FROM fund_budget WHERE year = 2021")).scalar() == 0
    f.write_text("年度,基金编码,区划,收入预算,支出预算\n2021,390100,445102,1000000.00,900000\n", encoding="utf-8")
    assert run("fund", "budget", str(f), "--db", str(db)).returncode == 0
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT income, expense FROM fund_budget WHERE year = 2021")).one() == (
            100000000, 90000000)  # fmt: skip
    engine.dispose()


def test_share_and_adjust(db: Path, tmp_path: Path) -> None:
    again = run("fund", "share", "--db", str(db), "--entity", "445100", "--fund", "310100", "--year", "2020")
    assert (
        again.returncode == 0 and "县区承担" in again.stdout
    )  # the demo already shared: the same transfers, nothing new
    scores = tmp_path / "scores.csv"
    scores.write_text("区划,考核得分\n445100,92.5\n", encoding="utf-8")
    adjust = ("fund", "adjust", "--db", str(db), "--province", "440000", "--fund", "390100", "--year", "2021",
              "--scores", str(scores))  # fmt: skip
    first = run(*adjust)
    assert first.returncode == 0, first.stderr
    assert "上解" in first.stdout
    twice = run(*adjust)
    assert twice.returncode == 2 and "已核定" in twice.stderr
    unknown = run("fund", "share", "--db", str(db), "--entity", "445100", "--fund", "999999", "--year", "2020")
    assert unknown.returncode == 2 and "--fund" in unknown.stderr
    assert run("check", "--db", str(db)).returncode == 0


def test_check_fails_on_a_corrupted_posting(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    engine = sa.create_engine(f"sqlite:///{copy}")
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE ledger_posting SET amount = amount + 1 WHERE id = (SELECT min(id) FROM ledger_posting)")
        )
    engine.dispose()
    done = run("check", "--db", str(copy))
    assert done.returncode == 1
    assert "借贷差额" in done.stdout
    missing = run("check", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and "--db" in missing.stderr
