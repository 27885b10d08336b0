"""What posting to the fund's books costs the real-time settlement service, on PostgreSQL.

Each settlement (2207 outpatient, 2304 inpatient) posts its double-entry transfer in the same
database transaction as the settlement row (``_post_settlement`` in ``yibao.service.settling``,
``Ledger.post``: one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` into ``ledger_transfer``, one
executemany into ``ledger_posting``, plus an account upsert the first time the process meets an
account). The issue asks for postings per second under concurrent settlement load, and that the
ledger does not halve the real-time service's throughput.

What it does: one fresh PostgreSQL database ``yibao_bench_<random>`` with the generated 潮州 registry
(``bench/hisload.py``, loaded by ``yibao db load``), one platform built exactly as ``yibao serve``
builds it (``bench/serve_profile.py``: ``build``), and ``--threads`` Python threads, each a virtual
HIS of its own institution with its own households (nobody else touches its persons' accounts or
accumulators), running complete flows back to back — outpatient 2201→2203→2204→2206→2207 and
inpatient 2401→2301→2402→2303→2304 in the ``--mix`` — every message handed to ``Gateway.handle``
in-process (no HTTP; production calls the same method from uvicorn's thread pool) and every answer
checked. Two variants, alternating round after round (ABAB…, or ``--order abba``) for ``--seconds``
each, so that drift on a shared machine touches both alike; between rounds only
``platform.ledger`` changes (a ``CHECKPOINT`` starts every round):

- A, ledger on: ``platform.ledger`` = the platform's ``Ledger`` (as shipped);
- B, ledger off: ``platform.ledger = None`` (posting skipped; the switch exists only for this).

Per round and per variant: complete flows/s, settlements/s (rows of ``settlement``), ledger
transfers/s and postings/s (rows of ``ledger_transfer``/``ledger_posting`` counted before and after
with psycopg), postings per settlement, p50/p95/p99 of the 2207 (and 2304) message and of a whole
flow, failed flows and wrong answers, and per settlement: SQL statements sent by SQLAlchemy,
database transactions (``pg_stat_database``), WAL bytes and the CPU of this process and of
PostgreSQL. Then ledger on ÷ ledger off (median of the paired rounds, min–max), and, for scale, the
pgbench TPC-B-like ceiling of the same server (``bench/serve_load.py``: ``run_pgbench``).

The threads share one GIL: the Python side is at most one core, as one server worker process is
in production; what this isolates is the ledger's cost (its Python and its database round trips)
inside concurrent settlement transactions.

    .venv/bin/python bench/ledger.py                    # 8 threads, 3 rounds × 20 s per variant (≈ 3 min)
    .venv/bin/python bench/ledger.py --quick            # smoke run: 2 threads, 1 round × 3 s, no pgbench
    .venv/bin/python bench/ledger.py --threads 16 --seconds 30 --rounds 4 --mix outpatient=1

It reports; it does not assert (exit 0 unless it could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hisload import FLOWS, IDX, FlowAborted, Recorder, VirtualHis, client_institutions
from serve_load import (
    ROOT,
    CpuWindow,
    bench_env,
    cluster_processes,
    create_db,
    drop_db,
    find_pgbench,
    load_registry,
    machine,
    parse_mix,
    pct,
    pg_dsn,
    print_machine,
    refresh_balances,
    run_pgbench,
    sqlalchemy_url,
)
from serve_profile import _CLIENT_NO, InProcess, build

VARIANTS = (("A", "ledger on"), ("B", "ledger off"))

_SNAPSHOT = """
select d.xact_commit, d.xact_rollback, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
       (select count(*) from ledger_transfer), (select count(*) from ledger_posting),
       (select count(*) from settlement)
  from pg_stat_database d where d.datname = current_database()
"""


def snapshot(dsn: str) -> dict[str, int]:
    """Transactions so far, WAL position and row counts, in one statement (one transaction)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute(_SNAPSHOT).fetchone()
    assert row is not None
    keys = ("commits", "rollbacks", "wal", "transfers", "postings", "settlements")
    return dict(zip(keys, (int(v) for v in row), strict=True))


class Statements:
    """What the engine sends: SQL statements (``before_cursor_execute``; an executemany counts
    once), commits and rollbacks (of the DBAPI connection, as SQLAlchemy issues them)."""

    EVENTS = ("before_cursor_execute", "commit", "rollback")

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.counters = {name: itertools.count() for name in self.EVENTS}
        self.hooks = {name: self._hook(self.counters[name]) for name in self.EVENTS}
        for name, hook in self.hooks.items():
            event.listen(engine, name, hook)

    @staticmethod
    def _hook(counter: Any) -> Any:
        def hook(*_: Any) -> None:
            next(counter)  # atomic under the GIL

        return hook

    def read(self) -> dict[str, int]:
        return {name: next(c) for name, c in self.counters.items()}

    def close(self) -> None:
        for name, hook in self.hooks.items():
            event.remove(self.engine, name, hook)


class Client(threading.Thread):
    """One virtual HIS in its own thread (and event loop): complete flows until the deadline.

    The deadline is looked at only between flows (``stop_at`` of the VirtualHis is infinite), so
    a round counts complete flows only; the flow running at the deadline finishes.
    """

    def __init__(
        self,
        gateway: Any,
        households: list[Any],
        institution: tuple[str, int, str],
        mix: list[tuple[str, float]],
        seed: int,
        go: threading.Event,
        clock: dict[str, float],
    ) -> None:
        super().__init__(daemon=True)
        self.rec = Recorder()
        self.his = VirtualHis(
            next(_CLIENT_NO), institution, households, InProcess(gateway, {}, {"current": 0}), self.rec, mix, seed, 1e18
        )
        self.mix = mix
        self.go = go
        self.clock = clock
        self.flow_lat: dict[str, list[float]] = {k: [] for k in FLOWS}
        self.failed = 0
        self.error = ""

    def run(self) -> None:
        try:
            self.go.wait()
            asyncio.run(self._flows(self.clock["deadline"]))
        except BaseException as e:  # reported by the main thread
            self.error = f"{e.__class__.__name__}: {e}"

    async def _flows(self, deadline: float) -> None:
        his = self.his
        names = [m for m, _ in self.mix]
        weights = [w for _, w in self.mix]
        while time.perf_counter() < deadline:
            kind = his.rnd.choices(names, weights)[0]
            psn = his.rnd.choice(his.persons)
            t0 = time.perf_counter()
            try:
                await (his.outpatient(psn) if kind == "outpatient" else his.inpatient(psn))
            except FlowAborted:  # an answer that was not infcode 0 (recorded by the Recorder)
                self.failed += 1
                continue
            self.flow_lat[kind].append(time.perf_counter() - t0)


def run_round(
    platform: Any,
    gateway: Any,
    shares: list[list[Any]],
    mix: list[tuple[str, float]],
    seconds: float,
    seed: int,
    dsn: str,
    admin_dsn: str,
    db: str,
    stmts: Statements,
) -> dict[str, Any]:
    """One timed round of ``len(shares)`` threads; everything measured between two snapshots."""
    insts = client_institutions(len(shares))
    go = threading.Event()
    clock: dict[str, float] = {}
    clients = [Client(gateway, hh, insts[i], mix, seed * 7919 + i, go, clock) for i, hh in enumerate(shares)]
    for c in clients:
        c.start()
    with psycopg.connect(admin_dsn, autocommit=True) as c:  # not counted in the benchmark database's statistics
        c.execute("CHECKPOINT")  # every round starts right after a checkpoint
    s0 = snapshot(dsn)
    cpu = CpuWindow({"me": lambda: [psutil.Process()], "postgres": lambda: cluster_processes(admin_dsn, db)})
    cpu.start()
    q0 = stmts.read()
    t0 = time.perf_counter()
    clock["deadline"] = t0 + seconds
    go.set()
    for c in clients:
        c.join()
    elapsed = time.perf_counter() - t0
    q1 = stmts.read()
    usage = cpu.stop()
    platform.engine.dispose()  # backends that exit flush their statistics to pg_stat_database
    time.sleep(0.5)
    s1 = snapshot(dsn)
    d = {k: s1[k] - s0[k] for k in s0}
    d["commits"] -= 1  # the first snapshot's own transaction
    lat: dict[str, list[float]] = {"2207": [], "2304": []}
    fails: dict[str, int] = {}
    wrong: dict[str, int] = {}
    for c in clients:
        r = c.rec
        for infno in lat:
            k = IDX[infno]
            lat[infno].extend(x for x, kind, ok in zip(r.lat, r.kind, r.ok, strict=True) if kind == k and ok)
        for key, v in r.failure_counts.items():
            fails[key] = fails.get(key, 0) + v
        for key, v in r.wrong_counts.items():
            wrong[key] = wrong.get(key, 0) + v
    return {
        "elapsed": elapsed,
        "flows": {k: sum(len(c.flow_lat[k]) for c in clients) for k in FLOWS},
        "flow_lat": {k: [x for c in clients for x in c.flow_lat[k]] for k in FLOWS},
        "lat": lat,
        "failed": sum(c.failed for c in clients),
        "errors": [c.error for c in clients if c.error],
        "fail_counts": fails,
        "wrong_counts": wrong,
        "statements": q1["before_cursor_execute"] - q0["before_cursor_execute"] - 1,
        "app_commits": q1["commit"] - q0["commit"] - 1,
        "app_rollbacks": q1["rollback"] - q0["rollback"] - 1,
        "db": d,
        "cpu": usage,
    }


def per_s(r: dict[str, Any], key: str) -> float:
    return r["db"][key] / r["elapsed"]


def ms(values: list[float], q: float) -> str:
    return f"{1000 * pct(sorted(values), q):.1f}" if values else "—"


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}" if values else "—"


def summary(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    secs = sum(r["elapsed"] for r in runs)
    setl = sum(r["db"]["settlements"] for r in runs) or 1
    cpu_me = sum(r["cpu"]["me"] * r["elapsed"] / 100 for r in runs)
    cpu_pg = sum(r["cpu"]["postgres"] * r["elapsed"] / 100 for r in runs)
    return {
        "label": label,
        "secs": secs,
        "flows_s": sum(sum(r["flows"].values()) for r in runs) / secs,
        "setl_s": [per_s(r, "settlements") for r in runs],
        "transfers_s": sum(r["db"]["transfers"] for r in runs) / secs,
        "postings_s": sum(r["db"]["postings"] for r in runs) / secs,
        "postings_per_setl": sum(r["db"]["postings"] for r in runs) / setl,
        "transfers_per_setl": sum(r["db"]["transfers"] for r in runs) / setl,
        "stmts_per_setl": sum(r["statements"] for r in runs) / setl,
        "commits_per_setl": sum(r["db"]["commits"] for r in runs) / setl,
        "app_commits_per_setl": sum(r["app_commits"] for r in runs) / setl,
        "app_rollbacks_per_setl": sum(r["app_rollbacks"] for r in runs) / setl,
        "rollbacks": sum(r["db"]["rollbacks"] for r in runs),
        "wal_per_setl": sum(r["db"]["wal"] for r in runs) / setl,
        "cpu_me_ms": 1000 * cpu_me / setl,
        "cpu_pg_ms": 1000 * cpu_pg / setl,
        "other": [round(r["cpu"]["other"]) for r in runs],
        "lat2207": [x for r in runs for x in r["lat"]["2207"]],
        "lat2304": [x for r in runs for x in r["lat"]["2304"]],
        "flow_out": [x for r in runs for x in r["flow_lat"]["outpatient"]],
        "flow_in": [x for r in runs for x in r["flow_lat"]["inpatient"]],
        "failed": sum(r["failed"] for r in runs),
        "wrong": sum(sum(r["wrong_counts"].values()) for r in runs),
        "setl_total": setl,
    }


def print_table(sums: dict[str, dict[str, Any]]) -> None:
    a, b = sums["A"], sums["B"]
    rows: list[tuple[str, str, str]] = [
        (
            "settlements/s 结算笔数/秒 (median of rounds)",
            f"{statistics.median(a['setl_s']):.1f}",
            f"{statistics.median(b['setl_s']):.1f}",
        ),
        ("  spread across rounds (min–max)", spread(a["setl_s"]), spread(b["setl_s"])),
        ("complete flows/s 完整流程/秒 (all rounds)", f"{a['flows_s']:.1f}", f"{b['flows_s']:.1f}"),
        ("ledger transfers/s 记账凭证/秒", f"{a['transfers_s']:.1f}", f"{b['transfers_s']:.1f}"),
        ("ledger postings/s 分录/秒", f"{a['postings_s']:.1f}", f"{b['postings_s']:.1f}"),
        ("transfers per settlement", f"{a['transfers_per_setl']:.3f}", f"{b['transfers_per_setl']:.3f}"),
        ("postings per settlement 每笔结算分录数", f"{a['postings_per_setl']:.2f}", f"{b['postings_per_setl']:.2f}"),
        ("2207 latency p50 / p95 / p99 ms", _lat3(a["lat2207"]), _lat3(b["lat2207"])),
        ("2304 latency p50 / p95 / p99 ms", _lat3(a["lat2304"]), _lat3(b["lat2304"])),
        ("outpatient flow p50 / p95 / p99 ms", _lat3(a["flow_out"]), _lat3(b["flow_out"])),
        ("inpatient flow p50 / p95 / p99 ms", _lat3(a["flow_in"]), _lat3(b["flow_in"])),
        ("failed flows / wrong answers", f"{a['failed']} / {a['wrong']}", f"{b['failed']} / {b['wrong']}"),
        ("SQL statements per settlement (whole flow)", f"{a['stmts_per_setl']:.2f}", f"{b['stmts_per_setl']:.2f}"),
        ("DB commits per settlement (whole flow)", f"{a['commits_per_setl']:.2f}", f"{b['commits_per_setl']:.2f}"),
        (
            "  of which SQLAlchemy issued none (see note)",
            f"{a['commits_per_setl'] - a['app_commits_per_setl']:.2f}",
            f"{b['commits_per_setl'] - b['app_commits_per_setl']:.2f}",
        ),
        (
            "SQLAlchemy commits / rollbacks per settlement",
            f"{a['app_commits_per_setl']:.2f} / {a['app_rollbacks_per_setl']:.2f}",
            f"{b['app_commits_per_setl']:.2f} / {b['app_rollbacks_per_setl']:.2f}",
        ),
        ("DB rollbacks (all rounds)", str(a["rollbacks"]), str(b["rollbacks"])),
        ("WAL bytes per settlement (cluster-wide)", f"{a['wal_per_setl']:.0f}", f"{b['wal_per_setl']:.0f}"),
        ("CPU ms per settlement: this process", f"{a['cpu_me_ms']:.2f}", f"{b['cpu_me_ms']:.2f}"),
        ("CPU ms per settlement: PostgreSQL", f"{a['cpu_pg_ms']:.2f}", f"{b['cpu_pg_ms']:.2f}"),
        ("other work on the machine, % of a core, per round", str(a["other"]), str(b["other"])),
        ("settlements measured (rows)", str(a["setl_total"]), str(b["setl_total"])),
    ]
    w = max(len(r[0]) for r in rows) + 2
    wa = max(len(r[1]) for r in rows) + 2
    wb = max(len(r[2]) for r in rows) + 2
    print(f"  {'':<{w}}{'A ledger on':>{wa}}{'B ledger off':>{wb}}")
    for name, x, y in rows:
        print(f"  {name:<{w}}{x:>{wa}}{y:>{wb}}")


def _lat3(values: list[float]) -> str:
    return f"{ms(values, 0.50)} / {ms(values, 0.95)} / {ms(values, 0.99)}"


def git_dirty() -> bool:
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # read only: no index refresh
    )
    return bool(proc.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=8, help="concurrent virtual HIS threads (default 8)")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of one round (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per variant (default 3)")
    ap.add_argument("--order", choices=("abab", "abba"), default="abab", help="order of the variants (default abab)")
    ap.add_argument("--warmup", type=float, default=10.0, help="warm-up per variant before the rounds, s (default 10)")
    ap.add_argument("--mix", default="outpatient=1,inpatient=0.1", help="flow mix (default outpatient=1,inpatient=0.1)")
    ap.add_argument("--persons", type=int, default=4000, help="insured persons to generate (default 4000)")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument(
        "--pgbench",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure the pgbench TPC-B-like ceiling (default: on when pgbench is found)",
    )
    ap.add_argument("--pgbench-seconds", type=int, default=15, help="pgbench -T (default 15)")
    ap.add_argument("--pgbench-scale", type=int, default=10, help="pgbench -i -s (default 10)")
    ap.add_argument("--pgbench-jobs", type=int, default=2, help="pgbench -j (default 2)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 threads, 3 s, 1 round, 1 s warm-up, no pgbench")
    args = ap.parse_args(argv)
    if args.quick:
        args.threads, args.seconds, args.rounds, args.warmup, args.persons = 2, 3.0, 1, 1.0, 600
        if args.pgbench is None:
            args.pgbench = False
    if args.pgbench is None:
        args.pgbench = find_pgbench() is not None
    # what run_pgbench reads besides the connection
    args.pgbench_clients, args.pgbench_variants, args.wait_idle = args.threads, False, 0
    mix = parse_mix(args.mix)
    command = shlex.join(
        [os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable, *sys.argv]
    )

    base = f"host={args.pg_host} port={args.pg_port} user={args.pg_user}"
    admin_dsn = pg_dsn(base, "postgres")
    admin = psycopg.connect(admin_dsn, autocommit=True)
    info = machine(admin)
    commit = info["commit"] + (" + uncommitted changes" if git_dirty() else "")
    print(f"yibao ledger benchmark — {info['date']}  (commit {commit})")
    print(f"  command: {command}")
    print_machine(info)
    order = "".join(("AB" if args.order == "abab" or r % 2 == 0 else "BA") for r in range(args.rounds))
    print(
        f"  plan: {args.threads} threads × complete flows, mix {dict(mix)}, {args.rounds} rounds × {args.seconds:g} s per "
        f"variant in the order {order} (A = ledger on, B = ledger off), warm-up {args.warmup:g} s per variant; "
        f"{args.persons} persons"
    )
    print(
        "  note: the threads share one GIL (one core of Python, like one server worker process); PostgreSQL's "
        "backends run beside it on the other cores"
    )

    name = f"yibao_bench_{secrets.token_hex(4)}"
    url = sqlalchemy_url(args, name)
    dsn = pg_dsn(base, name)
    env = bench_env()
    env.pop("YIBAO_GATEWAY_KEYS", None)  # Gateway.handle is called without headers
    tmp = Path(tempfile.mkdtemp(prefix="yibao-ledger-"))
    created = False
    platform = None
    stmts = None
    try:
        create_db(admin, name)
        created = True
        households, load_s = load_registry(args, url, env, tmp)
        n = sum(len(h) for h in households)
        print(f"  database {name}: {n} persons in {len(households)} households loaded in {load_s:.1f} s")
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("VACUUM ANALYZE")
        refresh_balances(dsn, households)
        platform, gateway = build(url, env, True)  # as yibao serve builds it
        ledger = platform.ledger
        if ledger is None:
            raise SystemExit("the platform was built without a ledger")
        stmts = Statements(platform.engine)
        # each thread its own households (a mutual-aid payer lives in the dependant's household)
        shares = [households[i :: args.threads] for i in range(args.threads)]
        switch = {"A": ledger, "B": None}

        if args.warmup > 0:  # statement caches, pool, the ledger's known accounts
            for key, _ in VARIANTS:
                platform.ledger = switch[key]
                run_round(platform, gateway, shares, mix, args.warmup, args.seed - 1, dsn, admin_dsn, name, stmts)

        runs: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
        print("\n== rounds (settlements/s from rows of settlement; postings/s from rows of ledger_posting)")
        for no, key in enumerate(order):
            platform.ledger = switch[key]
            r = run_round(platform, gateway, shares, mix, args.seconds, args.seed + no, dsn, admin_dsn, name, stmts)
            runs[key].append(r)
            print(
                f"  round {no // 2 + 1} {key} {dict(VARIANTS)[key]:<10}  {r['elapsed']:5.1f} s  "
                f"settlements/s {per_s(r, 'settlements'):7.1f}  flows/s {sum(r['flows'].values()) / r['elapsed']:7.1f}  "
                f"postings/s {per_s(r, 'postings'):7.1f}  2207 p99 {ms(r['lat']['2207'], 0.99):>6} ms  "
                f"failed {r['failed']}  wrong {sum(r['wrong_counts'].values())}  "
                f"CPU me {r['cpu']['me']:.0f}% pg {r['cpu']['postgres']:.0f}% other {r['cpu']['other']:.0f}%"
            )
            for e in r["errors"]:
                print(f"    thread error: {e}")
            for k, v in list(r["fail_counts"].items())[:5] + list(r["wrong_counts"].items())[:5]:
                print(f"    {v:5d}  {k}")
        platform.ledger = ledger

        pgb: list[dict[str, Any]] = []
        if args.pgbench:
            print("\n== context: pgbench against the same PostgreSQL (scratch database, nothing else of ours running)")
            pgb = run_pgbench(args, admin, base, dict(os.environ))

        sums = {key: summary(label, runs[key]) for key, label in VARIANTS}
        pairs = [
            per_s(a, "settlements") / per_s(b, "settlements")
            for a, b in zip(runs["A"], runs["B"], strict=True)
            if per_s(b, "settlements") > 0
        ]
        a, b = sums["A"], sums["B"]
        print(
            f"\n== summary — {info['date']}, commit {commit}\n  {command}\n"
            f"  {info['cpu']}, {info['cores']} cores; {info['postgresql'].split(' on ')[0]}; "
            f"{args.threads} threads (one GIL), mix {args.mix}, {args.rounds} × {args.seconds:g} s per variant ({order})"
        )
        print_table(sums)
        if pairs:
            print(
                f"\n  settlements/s ledger on ÷ ledger off: {statistics.median(pairs):.3f} (median of {len(pairs)} "
                f"paired rounds; spread {spread(pairs, '{:.3f}')}; ratio of the medians "
                f"{statistics.median(a['setl_s']) / statistics.median(b['setl_s']):.3f}) — the issue's bound: ≥ 0.5"
            )
            print(
                f"  the ledger's cost per settlement: "
                f"{a['stmts_per_setl'] - b['stmts_per_setl']:+.2f} SQL statements, "
                f"{a['commits_per_setl'] - b['commits_per_setl']:+.2f} commits, "
                f"{a['wal_per_setl'] - b['wal_per_setl']:+.0f} WAL bytes, "
                f"{a['cpu_me_ms'] - b['cpu_me_ms']:+.2f} ms CPU here, {a['cpu_pg_ms'] - b['cpu_pg_ms']:+.2f} ms CPU in PostgreSQL"
            )
        if pgb and pgb[0]["tps"] == pgb[0]["tps"]:
            tps = pgb[0]["tps"]
            print(
                f"  pgbench TPC-B-like -c {args.pgbench_clients} -j {args.pgbench_jobs} -T {args.pgbench_seconds}: "
                f"{tps:.0f} tps; settlements/s ÷ pgbench tps: ledger on "
                f"{statistics.median(a['setl_s']) / tps:.1%}, ledger off {statistics.median(b['setl_s']) / tps:.1%}"
            )
        print(
            "  notes: Python threads share one GIL, so the application side is one core at most, as in one server"
            " worker;\n  latencies include waiting for the GIL behind the other threads. DB commits are"
            " pg_stat_database's: besides\n  SQLAlchemy's COMMITs they count each new connection's start-up and"
            " psycopg's DEALLOCATE ALL, which it sends\n  after a ROLLBACK once it holds a prepared statement (its"
            " executemany prepares one). Reported, not asserted."
        )
        print(f"  finished {datetime.now():%Y-%m-%d %H:%M:%S}")
    finally:
        if stmts is not None:
            stmts.close()
        if platform is not None:
            platform.engine.dispose()
        if created:
            try:
                drop_db(admin, name)
            except Exception as e:
                print(f"  could not drop {name}: {e}")
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
