"""The ``yibao`` command.

Exit status: 0 on success, 2 when the input or the policy is refused (the message
names the field, or the file and the path inside it), 1 on an unexpected failure.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yibao import cli_batch, cli_demo, cli_fund
from yibao.cli_errors import fail as _fail
from yibao.errors import InputError, YibaoError

app = typer.Typer(
    help="yibao：基本医疗保险核心平台（结算引擎、政策参数、目录）。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="政策参数：校验、查询、比较。", no_args_is_help=True)
catalog_app = typer.Typer(help="三目录：校验目录文件。", no_args_is_help=True)
db_app = typer.Typer(help="数据库：迁移、装载参保人与定点机构。", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")
app.command("demo")(cli_demo.demo)
app.command("sim")(cli_demo.sim)
app.command("check")(cli_fund.check)
app.add_typer(cli_fund.fund_app, name="fund")
app.add_typer(cli_batch.batch_app, name="batch")
DbUrl = Annotated[str | None, typer.Option("--db", help="数据库地址（默认 $YIBAO_DB 或 sqlite:///yibao.db）")]


DEFAULT_POLICY_DIR = Path(os.environ.get("YIBAO_POLICY_DIR", "policies"))
PolicyDir = Annotated[
    Path, typer.Option("--policy-dir", "-p", help="政策参数目录（默认 $YIBAO_POLICY_DIR 或 ./policies）")
]
Overlays = Annotated[list[Path] | None, typer.Option("--overlay", help="覆盖方案 YAML，可多次给出")]


def _read_json(path: Path, what: str) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(what, f"无法读取文件 {path}：{e.strerror}") from None
    except json.JSONDecodeError as e:
        raise InputError(what, f"{path} 不是合法的 JSON（第 {e.lineno} 行第 {e.colno} 列：{e.msg}）") from None


def _print_json(doc: object) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


@app.command()
def settle(
    policy_dir: PolicyDir = DEFAULT_POLICY_DIR,
    claim: Annotated[
        Path | None, typer.Option("--claim", "-c", help="就诊与费用 JSON（格式见 docs/claim-format.md）")
    ] = None,
    state: Annotated[Path | None, typer.Option("--state", "-s", help="本年累计 JSON（上一次输出的 state）")] = None,
    reverse_of: Annotated[Path | None, typer.Option("--reverse", help="冲销：原结算的输出 JSON")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="输出每个金额的计算说明")] = False,
    lines: Annotated[bool, typer.Option("--lines", help="输出每条费用明细的分割结果")] = False,
    overlay: Overlays = None,
) -> None:
    """结算一次就诊，输出 setlinfo、setldetail、state（以及 --trace 的计算说明）。

    例：yibao settle -p policies -c examples/claims/chaozhou-resident-inpatient.json --trace
    """
    from yibao.engine import reverse, settle, tracing
    from yibao.io.claim_json import read_claim, read_state
    from yibao.io.policy_dir import load_policy_dir
    from yibao.io.settlement_json import feedetail, read_settlement, setldetail, setlinfo, settlement_json, state_json

    try:
        if (claim is None) == (reverse_of is None):
            raise InputError("--claim", "请给出 --claim（结算）或 --reverse（冲销）之一")
        snapshot = load_policy_dir(policy_dir, overlay)
        with tracing() as t:
            if reverse_of is not None:
                if state is None:
                    raise InputError("--state", "冲销必须给出当前的本年累计 --state")
                original = read_settlement(_read_json(reverse_of, "--reverse"))
                result, after = reverse(original, read_state(_read_json(state, "--state")))
            else:
                assert claim is not None
                c, person = read_claim(_read_json(claim, "--claim"))
                st = read_state(_read_json(state, "--state")) if state else None
                result, after = settle(c, person, st, snapshot, keep_lines=lines)
        doc: dict[str, object] = {
            "setlinfo": setlinfo(result),
            "setldetail": setldetail(result),
            "settlement": settlement_json(result),
            "state": state_json(after),
        }
        if lines:
            doc["feedetail"] = feedetail(result)
        if trace:
            doc["trace"] = t.to_json()
        _print_json(doc)
    except YibaoError as e:
        raise _fail(e) from None


@app.command()
def examples(
    policy_dir: PolicyDir = DEFAULT_POLICY_DIR,
    examples: Annotated[Path, typer.Option("--examples", help="示例就诊目录（按文件名顺序结算）")] = Path(
        "examples/claims"
    ),
    states: Annotated[Path, typer.Option("--states", help="期初累计目录（<psn_no>.json），可无")] = Path(
        "examples/states"
    ),
    out: Annotated[Path | None, typer.Option("--out", help="把每次结算的完整输出写到此目录")] = None,
) -> None:
    """依次结算随附的示例就诊（同一参保人的多次就诊按顺序累计），打印结算汇总。例：yibao examples --out out/examples"""
    from yibao.engine import settle, tracing
    from yibao.engine.state import Accumulators
    from yibao.io.claim_json import read_claim, read_state
    from yibao.io.policy_dir import load_policy_dir
    from yibao.io.settlement_json import setldetail, setlinfo, settlement_json, state_json
    from yibao.money import fen_to_yuan

    try:
        snapshot = load_policy_dir(policy_dir)
        files = sorted(examples.glob("*.json"))
        if not files:
            raise InputError("--examples", f"{examples} 中没有示例就诊 JSON")
        states_dir = states
        running: dict[tuple[str, str], Accumulators] = {}
        table = Table(title=f"示例结算（政策快照 {snapshot.id}）")
        for col in ("就诊", "统筹区", "类别", "总额", "统筹", "大病/大额", "救助", "个人账户", "现金"):
            table.add_column(col, justify="right" if col not in ("就诊", "统筹区", "类别") else "left")
        if out:
            out.mkdir(parents=True, exist_ok=True)
        for f in files:
            c, person = read_claim(_read_json(f, str(f)))
            key = (person.person_id, c.insured_region)
            opening = states_dir / f"{person.person_id}.json"
            if key not in running and opening.exists():
                running[key] = read_state(_read_json(opening, str(opening)))
            with tracing() as t:
                result, after = settle(c, person, running.get(key), snapshot)
            running[key] = after
            info = setlinfo(result)
            table.add_row(
                f.stem,
                result.region,
                c.visit_type,
                fen_to_yuan(result.total),
                str(info["hifp_pay"]),
                fen_to_yuan(result.setlinfo_amount("hifmi_pay") + result.setlinfo_amount("hifob_pay")),
                str(info["maf_pay"]),
                str(info["acct_pay"]),
                str(info["psn_cash_pay"]),
            )
            if out:
                doc = {
                    "setlinfo": info,
                    "setldetail": setldetail(result),
                    "settlement": settlement_json(result),
                    "state": state_json(after),
                    "trace": t.to_json(),
                }
                (out / f.name).write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
        Console(width=160).print(table)
        if out:
            Console().print(f"每次结算的完整输出（含计算说明）已写入 {out}/")
    except YibaoError as e:
        raise _fail(e) from None


@policy_app.command("validate")
def policy_validate(
    policy_dir: Annotated[Path, typer.Argument(help="政策参数目录")] = DEFAULT_POLICY_DIR,
    overlay: Overlays = None,
) -> None:
    """校验政策目录（及覆盖方案）：格式、来源、例外规则、国家待遇清单。例：yibao policy validate policies"""
    from yibao.io.policy_dir import load_policy_dir
    from yibao.policy.validate import validate

    try:
        snapshot = load_policy_dir(policy_dir, overlay)
        report = validate(snapshot)
    except YibaoError as e:
        raise _fail(e) from None
    Console().print(
        f"[green]通过[/]：{report.regions} 个区划，{report.parameters} 个参数（{report.values} 个取值），"
        f"{report.exceptions} 条例外规则，{report.catalog_items} 个目录项目；"
        f"检查了 {report.checked_intervals} 个政策区间。快照 {snapshot.id}",
        highlight=False,
        soft_wrap=True,
    )


@policy_app.command("show")
def policy_show(
    region: Annotated[str, typer.Option("--region", "-r", help="医保区划代码，如 445100")],
    on: Annotated[str, typer.Option("--date", "-d", help="日期 YYYY-MM-DD")],
    prefix: Annotated[str, typer.Argument(help="参数路径前缀，如 resident.inpatient")] = "",
    policy_dir: PolicyDir = DEFAULT_POLICY_DIR,
    overlay: Overlays = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """显示某统筹区某日生效的参数值及其来源。例：yibao policy show -r 445100 -d 2024-06-01 resident.inpatient"""
    from yibao.io.policy_dir import load_policy_dir
    from yibao.policy.values import describe

    try:
        day = _date(on, "--date")
        snapshot = load_policy_dir(policy_dir, overlay)
        policy = snapshot.at(region, day, "--region")
    except YibaoError as e:
        raise _fail(e) from None
    rows = []
    for path in sorted(policy.values):
        if not path.startswith(prefix):
            continue
        param, dv = policy.values[path]
        rules = [r.rule_id for r, _ in policy.exceptions if r.covers(path)]
        rows.append((path, describe(param.kind, dv.value), dv.start.isoformat(), dv.source, dv.region, rules))
    if as_json:
        _print_json(
            [
                {"path": p, "value": v, "effective_from": f, "source": s, "defined_in": r, "exceptions": e}
                for p, v, f, s, r, e in rows
            ]
        )
        return
    table = Table(title=f"{region} 在 {day} 生效的参数（快照 {snapshot.id}）")
    for col in ("参数", "取值", "生效日期", "来源", "定义于", "可适用的例外"):
        table.add_column(col, overflow="fold")
    for path, shown, start, source, defined_in, rules in rows:
        table.add_row(path, shown, start, source, defined_in, "、".join(rules))
    Console(width=200).print(table)


@policy_app.command("diff")
def policy_diff(
    base_dir: Annotated[Path, typer.Argument(help="基准政策目录")],
    other_dir: Annotated[Path | None, typer.Argument(help="另一政策目录（省略则与 --overlay 后的自身比较）")] = None,
    overlay: Overlays = None,
    region: Annotated[str | None, typer.Option("--region", "-r", help="只比较该区划")] = None,
    on: Annotated[str | None, typer.Option("--date", "-d", help="只比较该日生效的值")] = None,
) -> None:
    """比较两套政策（或一套政策与覆盖方案）的参数差异。例：yibao policy diff policies --overlay overlays/unify.yaml"""
    from yibao.io.policy_dir import load_policy_dir
    from yibao.policy.diff import diff_snapshots

    try:
        base = load_policy_dir(base_dir)
        other = load_policy_dir(other_dir or base_dir, overlay)
        day = _date(on, "--date") if on else None
        changes = diff_snapshots(base, other, region, day)
    except YibaoError as e:
        raise _fail(e) from None
    table = Table(title=f"政策差异：{base.id} → {other.id}")
    for col in ("区划", "参数", "生效日期", "原值", "新值", "新来源"):
        table.add_column(col, overflow="fold")
    for c in changes:
        table.add_row(c.region, c.path, c.valid_from, c.before, c.after, c.source)
    Console(width=200).print(table)
    Console().print(f"共 {len(changes)} 处差异。")


@catalog_app.command("check")
def catalog_check(
    file: Annotated[Path, typer.Argument(help="目录文件（.csv 或 .xlsx）")],
    region: Annotated[str, typer.Option("--region", "-r", help="所属医保区划")] = "000000",
) -> None:
    """校验一个目录文件并汇总其内容。例：yibao catalog check policies/national/catalog/national.csv"""
    from yibao.io.catalog_files import read_catalog

    try:
        items = read_catalog(file, region)
    except YibaoError as e:
        raise _fail(e) from None
    counts = {1: 0, 2: 0, 3: 0}
    for item in items:
        counts[item.item_class] += 1
    Console().print(
        f"[green]通过[/]：{len(items)} 个项目（甲类 {counts[1]}，乙类 {counts[2]}，丙类 {counts[3]}），"
        f"其中有支付标准 {sum(1 for i in items if i.payment_standard is not None)} 个、"
        f"有限定条件 {sum(1 for i in items if i.restricted)} 个。",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def keygen() -> None:
    """生成一把新的个人信息加密密钥（base64），用于 YIBAO_PII_KEY。例：export YIBAO_PII_KEY=$(yibao keygen)"""
    from yibao.store.pii import PiiCipher

    sys.stdout.write(PiiCipher.generate_key() + "\n")


@db_app.command("upgrade")
def db_upgrade(db: DbUrl = None) -> None:
    """把数据库迁移到最新结构。例：yibao db upgrade --db postgresql+psycopg://postgres@127.0.0.1/yibao"""
    from yibao.settings import Settings
    from yibao.store.db import make_engine
    from yibao.store.migrate import upgrade

    settings = Settings.from_env(db_url=db)
    upgrade(make_engine(settings.db_url))
    Console().print(f"数据库已迁移到最新结构：{make_engine(settings.db_url).url.render_as_string(hide_password=True)}")


@db_app.command("load")
def db_load(
    file: Annotated[Path, typer.Argument(help="参保人、定点机构 JSON（格式见 docs/service.md）")],
    db: DbUrl = None,
    policy_dir: PolicyDir = DEFAULT_POLICY_DIR,
) -> None:
    """装载参保人、参保记录、个人账户、电子凭证与定点机构。例：yibao db load examples/registry.json"""
    from yibao.service.bootstrap import build_platform
    from yibao.service.registry import load_registry
    from yibao.settings import Settings
    from yibao.store.db import transaction

    try:
        platform = build_platform(Settings.from_env(db_url=db, policy_dir=policy_dir))
        with transaction(platform.sessions) as session:
            counts = load_registry(session, platform.cipher, _read_json(file, "FILE"))
    except YibaoError as e:
        raise _fail(e) from None
    Console().print(
        f"已装载：{counts['institutions']} 个定点机构，{counts['persons']} 名参保人，{counts['enrolments']} 条参保记录。",
        soft_wrap=True,
    )


@app.command()
def serve(
    db: DbUrl = None,
    host: Annotated[str, typer.Option("--host", help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="监听端口")] = 8080,
    policy_dir: PolicyDir = DEFAULT_POLICY_DIR,
    workers: Annotated[int, typer.Option("--workers", help="工作进程数（SQLite 请用 1）")] = 1,
) -> None:
    """启动国家医保接口服务（POST /fsi/api/rsfComIfsService/callService）。例：yibao serve --port 8080"""
    import uvicorn

    from yibao.api.server import app_from_env
    from yibao.settings import Settings

    settings = Settings.from_env(db_url=db, policy_dir=policy_dir)
    try:
        app_from_env(settings)  # fail fast here, before the server forks or binds
    except YibaoError as e:
        raise _fail(e) from None
    os.environ["YIBAO_DB"] = settings.db_url
    os.environ["YIBAO_POLICY_DIR"] = str(settings.policy_dir)
    options: dict[str, object] = {"log_level": "warning", "access_log": False}
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):  # a socket per worker: connections spread (api.workers)
        from yibao.api.workers import run_workers

        try:
            run_workers(host, port, workers, options)
        except OSError as e:
            raise _fail(YibaoError(f"无法监听 {host}:{port}：{e}")) from None
        return
    uvicorn.run(
        "yibao.api.server:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(field, f"日期格式应为 YYYY-MM-DD：{text!r}") from None


def main() -> None:
    app()
