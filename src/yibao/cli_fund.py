"""`yibao check` and `yibao fund …`: the fund's books from the command line.

These commands read and write the books only; they touch no personal data, so they need no
``YIBAO_PII_KEY``. ``--db`` takes a database URL or the path of a SQLite file (``out/demo/yibao.db``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from yibao.cli_errors import fail as _fail
from yibao.errors import InputError, YibaoError

if TYPE_CHECKING:
    from yibao.fund.chart import Fund
    from yibao.service.books import FundDesk

fund_app = typer.Typer(help="基金账务：月度结账、收支月报与可支付月数、缺口分担、省级调剂金。", no_args_is_help=True)
console = Console()

Db = Annotated[
    str | None, typer.Option("--db", help="数据库地址或 SQLite 文件路径（默认 $YIBAO_DB 或 sqlite:///yibao.db）")
]


def _url(db: str | None) -> str:
    from yibao.settings import Settings

    url = Settings.from_env(db_url=db).db_url
    if "://" not in url:
        path = Path(url)
        if not path.exists():
            raise InputError("--db", f"数据库文件不存在：{path}")
        url = f"sqlite:///{path.resolve()}"
    return url


def check(db: Db = None) -> None:
    """核对基金账务的全部不变量；任何一项不符即以非零状态退出。例：yibao check --db out/demo/yibao.db"""
    from yibao.service.check import run_checks
    from yibao.store.db import make_engine

    try:
        engine = make_engine(_url(db))
    except YibaoError as e:
        raise _fail(e) from None
    try:
        results = run_checks(engine)
    finally:
        engine.dispose()
    table = Table(title="基金账务核对", title_justify="left")
    table.add_column("核对项目")
    table.add_column("核对数", justify="right")
    table.add_column("结果")
    for r in results:
        table.add_row(
            r.name, f"{r.checked:,}", "[green]通过[/]" if r.ok else f"[bold red]不符 {r.total_breaches} 处[/]"
        )
    console.print(table)
    for r in results:
        for line in r.breaches:
            console.print(f"[red]✗[/] {r.name}：{line}", soft_wrap=True, highlight=False)
        if r.total_breaches > len(r.breaches):
            console.print(f"  …… 另有 {r.total_breaches - len(r.breaches)} 处未列出")
    if not all(r.ok for r in results):
        raise typer.Exit(1)
    console.print("全部核对通过。")


PolicyDir = Annotated[Path, typer.Option("--policy-dir", "-p", help="政策参数目录（默认 ./policies）")]
Entity = Annotated[str, typer.Option("--entity", help="统筹地区（市级统收统支的市，如 445100）")]
FundOpt = Annotated[str, typer.Option("--fund", help="基金编码：310100 职工统筹、390100 居民医保 …")]
Year = Annotated[int, typer.Option("--year", help="年度")]


def _desk(db: str | None, policy_dir: Path) -> FundDesk:
    from yibao.io.policy_dir import load_policy_dir
    from yibao.service.books import FundDesk
    from yibao.store.db import make_engine
    from yibao.store.migrate import upgrade

    engine = make_engine(_url(db))
    upgrade(engine)
    return FundDesk(engine, load_policy_dir(policy_dir))


def _fund(code: str) -> Fund:
    from yibao.fund.chart import Fund

    try:
        return Fund(code)
    except ValueError:
        raise InputError("--fund", f"未知的基金编码：{code!r}（可用：{', '.join(f.value for f in Fund)}）") from None


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        raise InputError("--month", f"月份格式应为 YYYY-MM：{text!r}") from None


@fund_app.command("report")
def fund_report(
    entity: Entity,
    year: Year,
    db: Db = None,
    month: Annotated[int, typer.Option("--month", help="截至月份（1–12）")] = 12,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="另存为 Excel 收支月报")] = None,
    unit: Annotated[str, typer.Option("--unit", help="Excel 金额单位：wan（万元）或 yuan（元）")] = "wan",
    policy_dir: PolicyDir = Path("policies"),
) -> None:
    """基金收支月报：全市分基金与各县区分账的收入、支出、累计结余、预算进度、可支付月数与预警。
    例：yibao fund report --db out/demo/yibao.db --entity 445100 --year 2020 --xlsx out/demo/fund-2020.xlsx"""
    from yibao.fund.monitor import format_months, format_percent
    from yibao.money import fen_to_yuan
    from yibao.service.fund_report import fund_tables, write_workbook

    if unit not in ("wan", "yuan"):
        raise _fail(InputError("--unit", f"应为 wan 或 yuan：{unit!r}"))
    if not 1 <= month <= 12:
        raise _fail(InputError("--month", f"应为 1–12：{month}"))
    try:
        desk = _desk(db, policy_dir)
        tables = fund_tables(desk, entity, year, month)
    except YibaoError as e:
        raise _fail(e) from None
    if not tables:
        raise _fail(InputError("--entity", f"{entity} {year} 年没有账务数据"))
    summary = Table(title=f"{year}年 截至{month}月 基金运行（元）", title_justify="left")
    for name in (
        "基金",
        "区划",
        "本年收入",
        "本年支出",
        "累计结余",
        "收入预算进度",
        "支出预算进度",
        "可支付月数",
        "预警",
    ):
        summary.add_column(name, justify="right" if name not in ("基金", "区划", "预警") else "left")
    for t in tables:
        r = t.rows[-1]
        summary.add_row(t.fund_name, t.region_name, fen_to_yuan(r.ytd_income), fen_to_yuan(r.ytd_expense),
                        fen_to_yuan(r.accumulated), format_percent(r.income_progress),
                        format_percent(r.expense_progress), format_months(r.months_payable), r.level.label if t.monitored else "—")  # fmt: skip
    console.print(summary)
    for t in tables:
        for a in t.alerts:
            if not t.whole:  # the city as a whole is the sum of these
                console.print(f"[yellow]预警[/] {a.message}", soft_wrap=True, highlight=False)
    if xlsx is not None:
        path = write_workbook(tables, year, xlsx, "wan" if unit == "wan" else "yuan")
        console.print(f"Excel 收支月报：{path}")


@fund_app.command("close")
def fund_close(
    entity: Entity,
    month: Annotated[str, typer.Option("--month", help="结账月份 YYYY-MM")],
    db: Db = None,
    policy_dir: PolicyDir = Path("policies"),
) -> None:
    """月末结账：保存各科目余额与各分账月报，越过预警等级时记录预警。例：yibao fund close --entity 445100 --month 2020-03"""
    from yibao.service.books import close_month

    try:
        closed = close_month(_desk(db, policy_dir), entity, _month(month))
    except YibaoError as e:
        raise _fail(e) from None
    console.print(f"{closed.month:%Y-%m} 已结账：{closed.accounts} 个科目，{len(closed.rows)} 个分账。")
    for line in closed.alerts:
        console.print(f"[yellow]预警[/] {line}", soft_wrap=True, highlight=False)


@fund_app.command("reopen")
def fund_reopen(
    entity: Entity,
    month: Annotated[str, typer.Option("--month", help="反结账月份 YYYY-MM（其后已结账的月份一并反结账）")],
    db: Db = None,
    policy_dir: PolicyDir = Path("policies"),
) -> None:
    """反结账：撤销该月及以后各月的结账，使其可以补记账务；补记后须重新结账。例：yibao fund reopen --entity 445100 --month 2020-11"""
    from yibao.service.books import reopen_month

    try:
        n = reopen_month(_desk(db, policy_dir), entity, _month(month))
    except YibaoError as e:
        raise _fail(e) from None
    console.print(f"已反结账 {n} 个月（自 {month} 起）。")


@fund_app.command("budget")
def fund_budget(
    file: Annotated[Path, typer.Argument(help="CSV：年度,基金编码,区划,收入预算,支出预算（元）")],
    db: Db = None,
    policy_dir: PolicyDir = Path("policies"),
) -> None:
    """装载年度基金预算（收入即征缴目标，支出即支出预算）。例：yibao fund budget budgets-2020.csv"""
    from yibao.io.fund_csv import read_budgets
    from yibao.service.books import set_budget

    try:
        desk = _desk(db, policy_dir)
        budgets = read_budgets(file)
        for b in budgets:
            set_budget(desk, b.year, _fund(b.fund), b.region, b.income, b.expense)
    except YibaoError as e:
        raise _fail(e) from None
    console.print(f"已装载 {len(budgets)} 条预算。")


@fund_app.command("share")
def fund_share(
    entity: Entity, fund: FundOpt, year: Year, db: Db = None, policy_dir: PolicyDir = Path("policies")
) -> None:
    """年终县区缺口分担（按政策 fund.pooling.county_share.*）。例：yibao fund share --entity 445100 --fund 390100 --year 2020"""
    from yibao.service.year_end import share_year

    try:
        shares = share_year(_desk(db, policy_dir), entity, _fund(fund), year)
    except YibaoError as e:
        raise _fail(e) from None
    for s in shares:
        for line in s.explain():
            console.print(line, soft_wrap=True, highlight=False)


@fund_app.command("adjust")
def fund_adjust(
    province: Annotated[str, typer.Option("--province", help="省级区划，如 440000")],
    fund: FundOpt,
    year: Year,
    scores: Annotated[Path, typer.Option("--scores", help="CSV：区划,考核得分（0–100）")],
    interest: Annotated[str, typer.Option("--interest", help="调剂金本年利息（元）")] = "0",
    db: Db = None,
    policy_dir: PolicyDir = Path("policies"),
) -> None:
    """省级调剂金年度核定：按上年收入计提上解，按合理缺口与考核得分下拨，不足时按比例分配。
    例：yibao fund adjust --province 440000 --fund 390100 --year 2021 --scores scores.csv"""
    from yibao.io.fund_csv import read_scores
    from yibao.money import yuan_to_fen
    from yibao.service.year_end import adjustment_year

    try:
        result = adjustment_year(_desk(db, policy_dir), province, _fund(fund), year, read_scores(scores),
                                 yuan_to_fen(interest, "--interest"))  # fmt: skip
    except YibaoError as e:
        raise _fail(e) from None
    for line in result.explain():
        console.print(line, soft_wrap=True, highlight=False)
