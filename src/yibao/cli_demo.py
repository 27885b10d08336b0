"""``yibao demo`` (the main job) and ``yibao sim`` (the synthetic city on its own)."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yibao.errors import YibaoError

err = Console(stderr=True)

Scale = Annotated[str, typer.Option("--scale", help="规模：全市（266.30万参保人）的比例，如 0.01 或 1/100")]
Seed = Annotated[int, typer.Option("--seed", help="随机种子：同一种子同一结果")]


def _fail(e: YibaoError) -> typer.Exit:
    err.print(f"[red]错误[/]：{e}")
    return typer.Exit(2)


def _scale(text: str) -> Fraction:
    from yibao.errors import InputError

    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise InputError("--scale", f"应为小数或分数，收到 {text!r}") from None
    if not 0 < value <= 2:
        raise InputError("--scale", f"应在 (0, 2] 之间（1 = 全市），收到 {text}")
    return value


class _Bar:
    """Rich progress bar behind the demo's Progress protocol."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: object = None

    def stage(self, name: str, total: int | None = None) -> None:
        self.finish()
        self.task = self.progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.progress.tasks[-1].id, n)

    def finish(self) -> None:
        """Show the current stage as complete (a stage without a count has total 1)."""
        if self.task is not None:
            t = self.progress.tasks[-1]
            self.progress.update(t.id, completed=t.total or 1, total=t.total or 1)


def demo(
    scale: Scale = "0.01",
    out: Annotated[Path, typer.Option("--out", help="输出目录（summary.json、report.html、演示数据库）")] = Path(
        "out/demo"
    ),
    db: Annotated[str | None, typer.Option("--db", help="数据库地址（默认输出目录中的 SQLite 文件 yibao.db）")] = None,
    seed: Seed = 1,
    policy_dir: Annotated[Path, typer.Option("--policy-dir", "-p", help="政策参数目录")] = Path("policies"),
) -> None:
    """主任务：生成合成潮州市（2020年），参保登记、征缴、逐笔结算全年就诊，写出指标与报告。

    例：yibao demo                      （默认规模 0.01，约 2.7 万参保人）
    例：yibao demo --scale 0.1 --out out/demo-0.1 --db postgresql+psycopg://postgres@127.0.0.1/test
    """
    from yibao.demo.run import DemoOptions, run_demo

    try:
        opts = DemoOptions(out=out, scale=_scale(scale), seed=seed, db=db, policy_dir=policy_dir)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=False) as progress:
            bar = _Bar(progress)
            result = run_demo(opts, bar)
            bar.finish()
    except YibaoError as e:
        raise _fail(e) from None
    s = result.summary
    table = Table(title=f"合成潮州市 2020 年（规模 {float(opts.scale):g}，种子 {seed}）", show_header=False)
    income, spending = s["fund_income_yuan"], s["fund_expenditure_yuan"]
    assert isinstance(income, dict) and isinstance(spending, dict)
    shares = s["policy_range_inpatient_fund_share"]
    assert isinstance(shares, dict)
    for label, value in (
        ("参保人数（职工 / 居民）", f"{s['insured_total']:,}（{s['insured_employee']:,} / {s['insured_resident']:,}）"),
        ("基金收入（元）", f"{income['total']}（职工 {income['employee']} / 居民 {income['resident']}）"),
        ("基金支出（元）", f"{spending['total']}（职工 {spending['employee']} / 居民 {spending['resident']}）"),
        ("政策范围内住院基金支付比例", f"职工 {_pct(shares['employee'])} / 居民 {_pct(shares['resident'])}"),
        ("重点救助对象住院救助比例", _pct(s["assistance_share_for_key_groups"])),
        ("结算笔数", f"{s['settlements_total']:,}"),
        ("用时", f"{result.elapsed:.1f} 秒"),
    ):
        table.add_row(label, value)
    console = Console()
    console.print(table)
    console.print(f"报告：{result.report_path}\n指标：{result.summary_path}\n数据库：{_safe_url(result.db_url)}")
    console.print(result.key_note)


def _pct(share: object) -> str:
    return "—" if share is None else f"{float(str(share)) * 100:.2f}%"


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def sim(
    scale: Scale = "0.01",
    out: Annotated[Path, typer.Option("--out", help="输出目录（CSV 文件）")] = Path("out/sim"),
    seed: Seed = 1,
    batch: Annotated[
        Path | None,
        typer.Option("--batch", help="另写批量结算输入（claims/lines/persons.parquet 与 catalog.csv）到此目录"),
    ] = None,
    policy_dir: Annotated[Path, typer.Option("--policy-dir", "-p", help="政策参数目录（--batch 用）")] = Path(
        "policies"
    ),
) -> None:
    """只生成合成城市：参保人、单位、定点医药机构、目录与全年就诊，写成 CSV。

    例：yibao sim --scale 0.001 --out out/sim --batch out/batch-in
    """
    from yibao.money import fen_to_yuan
    from yibao.sim.catalog import generate_catalog
    from yibao.sim.city import generate_city
    from yibao.sim.visits import VisitGenerator

    try:
        city = generate_city(_scale(scale), seed)
    except YibaoError as e:
        raise _fail(e) from None
    _, priced = generate_catalog(seed)
    visits = VisitGenerator(city, priced).visits()
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "persons.csv", ("psn_no", "sex", "birth_date", "region", "scheme", "person_type", "assistance",
           "employer", "wage_yuan", "chronic"),
           ((p.psn_no, p.sex, p.birth, p.region, p.scheme, p.person_type, p.category, p.employer or "",
             fen_to_yuan(p.wage), "+".join(p.chronic)) for p in city.people))  # fmt: skip
    _write(out / "employers.csv", ("code", "name", "region", "public"),
           ((e.code, e.name, e.region, e.public) for e in city.employers))  # fmt: skip
    _write(out / "institutions.csv", ("code", "name", "kind", "level", "region"),
           ((i.code, i.name, i.kind, i.level, i.region) for i in city.institutions))  # fmt: skip
    _write(out / "catalog.csv", ("code", "name", "kind", "class", "price"),
           ((p.code, p.name, p.kind, p.item_class, p.price) for p in priced))  # fmt: skip
    _write(out / "visits.csv", ("mdtrt_id", "psn_no", "date", "visit_type", "institution", "level", "lines",
           "total_yuan", "diagnoses"),
           ((v.claim.claim_id, v.person.psn_no, v.day, v.claim.visit_type, v.institution, v.claim.hospital_level,
             len(v.claim.fee_lines or ()), fen_to_yuan(sum(f.amount for f in v.claim.fee_lines or ())),
             "+".join(c for c, _ in v.diagnoses)) for v in visits))  # fmt: skip
    Console().print(
        f"合成城市：{len(city.people):,} 名参保人，{len(city.employers):,} 家单位，{len(city.institutions):,} 家定点机构，"
        f"{len(visits):,} 次就诊 → {out}/"
    )
    if batch is not None:
        from yibao.batch.export import write_batch_inputs
        from yibao.io.policy_dir import load_policy_dir
        from yibao.policy.snapshot import PolicySnapshot
        from yibao.sim.city import CITY

        items, _ = generate_catalog(seed)
        try:
            base = load_policy_dir(policy_dir)
        except YibaoError as e:
            raise _fail(e) from None
        snapshot = PolicySnapshot(base.tree, base.layers, {**base.catalogs, CITY: items})
        counts = write_batch_inputs(batch, city, visits, snapshot, items)
        Console().print(
            f"批量结算输入：{counts['claims']:,} 笔理赔，{counts['lines']:,} 条费用明细，{counts['persons']:,} 名人员，"
            f"目录 {counts['catalog']:,} 项 → {batch}/（结算时加 --catalog {CITY}={batch}/catalog.csv）"
        )


def _write(path: Path, header: tuple[str, ...], rows: object) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)  # type: ignore[arg-type]
