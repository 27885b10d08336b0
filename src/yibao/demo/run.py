"""`yibao demo`: a synthetic city's year of medical insurance, end to end, into a database.

Stages: generate the city and its visits → create the database and enrol everyone → assess
contributions, write the tax bureau's payment file and import it, remit each county's
receipts to the city, book fiscal subsidies → settle every visit through the engine in date
order (accounts credited monthly) → write the year-end accumulators → read the indicators
back with SQL → ``summary.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from yibao.demo import persist
from yibao.demo.books import DemoBooks
from yibao.demo.indicators import read_figures
from yibao.demo.summary import report_data, summary
from yibao.demo.year import YearRun, benefits_from
from yibao.errors import InputError
from yibao.io.claim_json import SCHEME_INSUTYPE
from yibao.io.payments_csv import read_payments, remittances, write_payments
from yibao.io.policy_dir import load_policy_dir
from yibao.policy.snapshot import PolicySnapshot
from yibao.report import write_report
from yibao.service.fund_report import fund_tables, report_section, write_workbook
from yibao.sim.catalog import generate_catalog
from yibao.sim.city import CITY, COUNTIES, City, generate_city
from yibao.sim.dues import DueBook
from yibao.sim.payments import fiscal_subsidies, payments
from yibao.sim.visits import VisitGenerator
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.pii import ENV_KEY, PiiCipher

DEFAULT_SCALE = Fraction(1, 100)


class Progress(Protocol):
    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class Quiet:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass(frozen=True, slots=True)
class DemoOptions:
    out: Path
    scale: Fraction = DEFAULT_SCALE
    seed: int = 1
    db: str | None = None  # default: sqlite file in ``out``
    policy_dir: Path = Path("policies")


@dataclass(frozen=True, slots=True)
class DemoResult:
    summary: dict[str, object]
    summary_path: Path
    report_path: Path
    db_url: str
    elapsed: float
    key_note: str


def _cipher(out: Path) -> tuple[PiiCipher, str]:
    """The PII key from the environment, else a key generated for this demo database and kept beside it."""
    if os.environ.get(ENV_KEY, "").strip():
        return PiiCipher.from_env(), f"个人信息使用环境变量 {ENV_KEY} 的密钥加密"
    key_file = out / "pii.key"
    if not key_file.exists():
        key_file.write_text(PiiCipher.generate_key() + "\n", encoding="ascii")
        key_file.chmod(0o600)
    key = key_file.read_text(encoding="ascii").strip()
    return PiiCipher.from_env({ENV_KEY: key}), f"未设置 {ENV_KEY}：已为演示库生成密钥 {key_file}（仅供演示）"


def run_demo(
    opts: DemoOptions, progress: Progress | None = None, clock: Callable[[], float] = time.perf_counter
) -> DemoResult:
    progress = progress or Quiet()
    started = clock()
    opts.out.mkdir(parents=True, exist_ok=True)
    url = opts.db or f"sqlite:///{(opts.out / 'yibao.db').resolve()}"

    progress.stage("生成合成城市")
    city = generate_city(opts.scale, opts.seed)
    items, priced = generate_catalog(opts.seed)
    base = load_policy_dir(opts.policy_dir)
    snapshot = PolicySnapshot(base.tree, base.layers, {**base.catalogs, CITY: items})
    progress.stage("生成全年就诊")
    visits = VisitGenerator(city, priced).visits()

    progress.stage("建库与参保登记", len(city.people))
    engine = make_engine(url)
    try:
        upgrade(engine)
        if not persist.is_empty(engine):
            if opts.db is not None:
                raise InputError("--db", "数据库中已有参保数据；演示只写入空库（或省略 --db 使用输出目录中的演示库）")
            persist.clear(engine)
        cipher, key_note = _cipher(opts.out)
        benefits = {p.psn_no: benefits_from(p, snapshot, city.year) for p in city.people}
        persist.write_city(engine, city, snapshot, cipher, benefits)
        progress.advance(len(city.people))

        progress.stage("核定缴费、税务征收导入与区县上解")
        book = DueBook(city, snapshot)
        persist.write_dues(engine, book.all())
        payment_file = opts.out / f"collections-{city.year}.csv"
        write_payments(payment_file, payments(city, book))
        enrolled = {p.psn_no: frozenset({SCHEME_INSUTYPE[p.scheme]}) for p in city.people}
        received = read_payments(payment_file, enrolled, frozenset(code for code, _, _ in COUNTIES))
        remitted, subsidies = remittances(received), fiscal_subsidies(city, book)
        persist.write_collections(engine, received, remitted, subsidies, payment_file.name)
        persist.write_credits(engine, city, book.account_credit)

        progress.stage("逐笔结算", len(visits))
        run = YearRun(city, visits, snapshot, book.account_credit, keep_lines=True)
        writer = persist.SettlementWriter(engine)
        for done in run.settlements():
            writer.add(done)
            progress.advance()
        writer.flush()
        persist.write_year_end(engine, run.accumulators)

        progress.stage("基金记账、月度清算与结账", 12)
        books = DemoBooks(engine, snapshot, city)
        dues = book.all()
        credits = _credits(city, book)
        books.income(received, remitted, subsidies, dues, credits)
        books.run(_account_openings(city), progress.advance)

        progress.stage("汇总指标与报告")
        figures = read_figures(engine, city.year, cipher)
        fund_page = report_section(books.desk, CITY, city.year)
        write_workbook(fund_tables(books.desk, CITY, city.year), city.year, opts.out / f"fund-{city.year}.xlsx")
    finally:
        engine.dispose()
    elapsed = clock() - started
    meta: dict[str, object] = {
        "city": "潮州市（合成）",
        "region": CITY,
        "policy_snapshot": snapshot.id,
        "generated_at": datetime.now().isoformat(timespec="seconds"),
        "yibao_version": _version(),
        "elapsed_seconds": round(elapsed, 1),
    }
    result = summary(figures, opts.scale, opts.seed)
    summary_path = opts.out / "summary.json"
    summary_path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    data = report_data(figures, opts.scale, opts.seed, meta)
    data["fund"] = fund_page
    report_path = write_report(data, opts.out / "report.html")
    return DemoResult(result, summary_path, report_path, url, elapsed, key_note)


def _credits(city: City, book: DueBook) -> dict[tuple[str, int], int]:
    """个人账户划入 per county and month (what :func:`persist.write_credits` writes per person)."""
    out: dict[tuple[str, int], int] = defaultdict(int)
    for p in city.people:
        if p.scheme == "employee":
            for month in range(1, 13):
                out[(p.region, month)] += book.account_credit(p, month)
    return out


def _account_openings(city: City) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in city.people:
        if p.scheme == "employee":
            out[p.region] += p.account_opening
    return out


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yibao")
    except PackageNotFoundError:
        return "dev"
