"""`yibao batch settle | compare | explain`: whole years of claims from files (docs/batch.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from yibao.cli_errors import err
from yibao.cli_errors import fail as _fail
from yibao.errors import InputError, YibaoError

if TYPE_CHECKING:
    from yibao.policy.snapshot import PolicySnapshot

batch_app = typer.Typer(help="批量结算：整年理赔重算、政策模拟与比较、单笔说明。", no_args_is_help=True)
console = Console()
ENGINES = ("scalar", "duckdb", "spark")


def _snapshot(policy_dir: Path, overlays: list[Path], catalogs: list[str]) -> PolicySnapshot:
    from yibao.io.catalog_files import read_catalog
    from yibao.io.policy_dir import load_policy_dir
    from yibao.policy.snapshot import PolicySnapshot as Snapshot

    base = load_policy_dir(policy_dir, overlays or None)
    extra = {}
    for spec in catalogs:
        region, _, file = spec.partition("=")
        if not (len(region) == 6 and region.isdigit() and file):
            raise InputError("--catalog", f"应为 区划=文件，如 445100=catalog.csv：{spec!r}")
        extra[region] = read_catalog(Path(file), region)
    return Snapshot(base.tree, base.layers, {**base.catalogs, **extra}) if extra else base


def _yuan(fen: int) -> str:
    from yibao.money import fen_to_yuan

    return fen_to_yuan(fen)


@batch_app.command("settle")
def batch_settle(
    claims: Annotated[Path, typer.Option("--claims", help="理赔目录：claims.parquet 与 lines.parquet（或 .csv）")],
    persons: Annotated[Path, typer.Option("--persons", help="人员状态与期初累计（persons.parquet 或 .csv）")],
    out: Annotated[Path, typer.Option("--out", help="输出目录：results.parquet、accumulators.parquet、manifest.json")],
    policy_dir: Annotated[Path, typer.Option("--policy-dir", "-p", help="政策参数目录")] = Path("policies"),
    overlay: Annotated[list[Path] | None, typer.Option("--overlay", help="政策调整方案 YAML，可多次给出")] = None,
    catalog: Annotated[
        list[str] | None, typer.Option("--catalog", help="区划=目录文件（补充或替换该区划目录）")
    ] = None,
    engine: Annotated[
        str,
        typer.Option("--engine", help="执行器：duckdb（向量化，默认）、scalar（逐笔）、spark（按人分桶的分布式执行）"),
    ] = "duckdb",
    buckets: Annotated[
        int | None, typer.Option("--buckets", min=1, help="spark：分桶数（默认为 Spark 默认并行度的 2 倍）")
    ] = None,
    stage: Annotated[
        Path | None, typer.Option("--stage", help="spark：分桶中间文件目录（集群上应为共享存储；默认 OUT/_stage）")
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option("--spark-master", help="spark：集群地址（默认取环境变量 YIBAO_SPARK_MASTER，否则 local[*]）"),
    ] = None,
    spark_conf: Annotated[
        list[str] | None, typer.Option("--spark-conf", help="spark：键=值，如 spark.driver.memory=8g，可多次给出")
    ] = None,
) -> None:
    """整年批量结算：按每人每年的结算顺序逐笔结算（含冲正），输出每笔结果与期末累计。
    例：yibao batch settle --claims out/batch-in --persons out/batch-in/persons.parquet --catalog 445100=out/batch-in/catalog.csv --out out/batch-base"""
    try:
        if engine not in ENGINES:
            raise InputError("--engine", f"应为 {'、'.join(ENGINES)} 之一：{engine!r}")
        started = time.perf_counter()
        snapshot = _snapshot(policy_dir, overlay or [], catalog or [])
        if engine == "spark":
            from yibao.batch.spark import PolicyArgs, SparkOptions, settle_spark

            policy = PolicyArgs.of(policy_dir, overlay or [], catalog or [], snapshot.id)
            options = SparkOptions(buckets, stage, spark_master, tuple(spark_conf or ()))
            settled, fund, burden = settle_spark(claims, persons, policy, out, options)
        else:
            settled, fund, burden = (_settle_duckdb if engine == "duckdb" else _settle_scalar)(
                claims, persons, snapshot, out
            )
    except YibaoError as e:
        raise _fail(e) from None
    elapsed = time.perf_counter() - started
    manifest = {
        "engine": engine,
        "claims": str(claims.resolve()),
        "persons": str(persons.resolve()),
        "policy_dir": str(policy_dir.resolve()),
        "overlays": [str(p.resolve()) for p in overlay or []],
        "catalogs": [f"{s.partition('=')[0]}={Path(s.partition('=')[2]).resolve()}" for s in catalog or []],
        "snapshot_id": snapshot.id,
        "settled": settled,
        "elapsed_seconds": round(elapsed, 2),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    console.print(
        f"已结算 {settled:,} 笔（{settled / max(elapsed, 1e-9):,.0f} 笔/秒，{elapsed:.1f} 秒）；基金支付 {_yuan(fund)} 元，"
        f"个人负担 {_yuan(burden)} 元；政策快照 {snapshot.id} → {out}/"
    )


def _settle_scalar(claims: Path, persons: Path, snapshot: PolicySnapshot, out: Path) -> tuple[int, int, int]:
    from yibao.batch.scalar import settle_scalar
    from yibao.io.batch_files import read_claims, read_persons, result_row, state_row, write_rows

    batch = read_claims(claims)
    people = read_persons(persons)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("逐笔结算", total=len(batch))
        outcome = settle_scalar(batch, people, snapshot, on_each=lambda: progress.advance(task))
    rows = [result_row(s, who.person, bc.claim.hospital_level, bc.reverses) for bc, s, who in outcome.settled]
    closing = {k: p.state for k, p in people.items()} | outcome.closing
    write_rows(out / "results.parquet", rows)
    write_rows(out / "accumulators.parquet", (state_row(a) for _, a in sorted(closing.items())))
    fund = sum(s.fund_pay_total for _, s, _ in outcome.settled)
    burden = sum(s.personal_burden for _, s, _ in outcome.settled)
    return len(rows), fund, burden


def _settle_duckdb(claims: Path, persons: Path, snapshot: PolicySnapshot, out: Path) -> tuple[int, int, int]:
    import duckdb

    from yibao.batch.vector import settle_vectorised
    from yibao.batch.vector_files import tables_from_files

    con = duckdb.connect()
    tables_from_files(con, claims, persons)
    run = settle_vectorised(con, snapshot)
    run.write(out)
    return run.summary()


@batch_app.command("compare")
def batch_compare(
    base: Annotated[Path, typer.Argument(help="基准结果目录（或 results.parquet）")],
    new: Annotated[Path, typer.Argument(help="调整后结果目录（或 results.parquet）")],
    by: Annotated[str, typer.Option("--by", help="分组，逗号分隔：region, scheme, level, category")] = "region,scheme",
    csv_out: Annotated[Path | None, typer.Option("--csv", help="另存为 CSV")] = None,
) -> None:
    """比较两次批量结算（政策调整前后）：分组的基金支出、个人负担及负担上升的人数。
    例：yibao batch compare out/batch-base out/batch-new --by region,scheme,level"""
    import csv

    from yibao.batch.compare import compare

    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    try:
        rows = compare(base, new, keys)
    except YibaoError as e:
        raise _fail(e) from None
    names = {"region": "区划", "scheme": "险种", "level": "医院等级", "category": "人员类别"}
    head = [*(names[k] for k in keys), "理赔笔数", "人数", "基金支出·基准", "基金支出·调整后", "基金支出变化",
            "个人负担·基准", "个人负担·调整后", "个人负担变化", "负担上升人数"]  # fmt: skip
    table = Table(title="政策调整测算（元）", title_justify="left")
    for h in head:
        table.add_column(h, justify="left" if h in names.values() else "right")
    lines = []
    for r in rows:
        line = [*r.keys, f"{r.claims:,}", f"{r.persons:,}", _yuan(r.base_fund), _yuan(r.new_fund),
                _yuan(r.new_fund - r.base_fund), _yuan(r.base_burden), _yuan(r.new_burden),
                _yuan(r.new_burden - r.base_burden), f"{r.burden_up:,}"]  # fmt: skip
        table.add_row(*line)
        lines.append(line)
    console.print(table)
    if csv_out is not None:
        with csv_out.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(head)
            w.writerows(lines)
        console.print(f"CSV：{csv_out}")


@batch_app.command("explain")
def batch_explain(
    results: Annotated[Path, typer.Option("--results", help="批量结算输出目录")],
    claim: Annotated[str, typer.Option("--claim", help="理赔编号")],
) -> None:
    """重新生成一笔批量结算理赔的完整计算说明（按记录的政策快照），并核对与批量结果一致。
    例：yibao batch explain --results out/batch-base --claim MDT2020..."""
    from yibao.batch.explain import explain

    try:
        report = explain(results, claim)
    except YibaoError as e:
        raise _fail(e) from None
    console.print_json(json.dumps(report["trace"], ensure_ascii=False))
    for name, stored, again in report["amounts"]:
        mark = "[green]一致[/]" if stored == again else "[bold red]不一致[/]"
        console.print(f"{name}: 批量 {_yuan(stored)} 元，重算 {_yuan(again)} 元 {mark}", highlight=False)
    if not report["agrees"]:
        raise typer.Exit(1)
    console.print(f"理赔 {claim} 重算结果与批量结果逐项一致（政策快照 {report['snapshot_id']}）。")
