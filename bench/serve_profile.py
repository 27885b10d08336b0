"""Where the server's time goes per request, without HTTP: ``Gateway.handle`` called in-process.

Companion of ``bench/serve_load.py``. Builds a fresh PostgreSQL database with the same generated
registry, builds the platform exactly as ``yibao serve`` does (``build_platform``), and runs the
same virtual-HIS flows (``bench/hisload.py``) one after another in this one thread, each message
handed straight to ``Gateway.handle`` — so what is measured is the application (parsing,
services, engine, SQLAlchemy, psycopg, PostgreSQL round trips, answer JSON), not uvicorn.

Per infno it reports wall time and this thread's CPU time per message (wall − CPU ≈ waiting for
PostgreSQL), the SQL statements sent, the database transactions, and the CPU of this process and
of PostgreSQL per flow. Variants that estimate gains without touching ``src/`` (the engine without
``pool_pre_ping``, now a control: build_platform has none either) run in alternating rounds, so that drift on a shared machine touches each alike.
Then the SQL of one flow, and a cProfile (thread CPU clock) of a batch of flows: own time by
package, top functions by own and by cumulative time, with file:line.

    .venv/bin/python bench/serve_profile.py                    # ≈ 1 min
    .venv/bin/python bench/serve_profile.py --flows 400 --mix outpatient=1,inpatient=0.1

It reports; it does not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import json
import os
import pstats
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hisload import INFNOS, FlowAborted, Recorder, VirtualHis, client_institutions
from serve_load import (
    ROOT,
    CpuWindow,
    bench_env,
    cluster_processes,
    create_db,
    db_counters,
    drop_db,
    load_registry,
    parse_mix,
    pg_dsn,
)

_CLIENT_NO = itertools.count(1)


class InProcess:
    """Stands in for the HTTP client: hands the body to ``Gateway.handle`` and times it."""

    def __init__(self, gateway: Any, stats: dict[str, dict[str, float]], counter: dict[str, int]) -> None:
        self.gateway = gateway
        self.stats = stats
        self.counter = counter

    async def post(self, body: bytes) -> tuple[int, bytes]:
        infno = json.loads(body)["infno"]
        self.counter["current"] = 0
        self.counter["driver"] = 0.0
        c0, w0 = time.thread_time(), time.perf_counter()
        text = self.gateway.handle(body, {})
        w1, c1 = time.perf_counter(), time.thread_time()
        s = self.stats.setdefault(infno, {"n": 0, "wall": 0.0, "cpu": 0.0, "sql": 0, "driver": 0.0})
        s["n"] += 1
        s["driver"] += self.counter["driver"]
        s["wall"] += w1 - w0
        s["cpu"] += c1 - c0
        s["sql"] += self.counter["current"]
        return 200, text.encode()

    async def close(self) -> None:
        pass


def build(url: str, env: dict[str, str], pre_ping: bool) -> Any:
    from sqlalchemy import create_engine

    from yibao.api.app import Gateway
    from yibao.service.bootstrap import build_platform
    from yibao.settings import Settings

    settings = Settings.from_env(env, db_url=url, policy_dir=ROOT / "policies")
    platform = build_platform(settings)
    if not pre_ping:
        platform.engine.dispose()
        platform.engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False)
        platform.__post_init__()  # sessions bound to the new engine
    return platform, Gateway(platform)


def run_flows(
    gateway: Any, households: list[Any], mix: list[tuple[str, float]], flows: int, seed: int
) -> tuple[dict[str, dict[str, float]], Recorder, float]:
    stats: dict[str, dict[str, float]] = {}
    counter: dict[str, Any] = {"current": 0, "driver": 0.0, "t0": 0.0}

    def count(_query: Any, _many: bool) -> None:
        counter["current"] += 1
        counter["t0"] = time.thread_time()

    def driver() -> None:
        # CPU of this thread inside the DBAPI call: parameters out, the round trip, rows in
        counter["driver"] += time.thread_time() - counter["t0"]

    rec = Recorder()
    # a new client number per batch: msgids (time to the second + client + sequence) stay unique
    his = VirtualHis(
        next(_CLIENT_NO),
        client_institutions(1)[0],
        households,
        InProcess(gateway, stats, counter),
        rec,
        mix,
        seed,
        1e18,
    )
    names = [m for m, _ in mix]
    weights = [w for _, w in mix]
    t0 = time.perf_counter()

    async def go() -> None:
        for _ in range(flows):
            kind = his.rnd.choices(names, weights)[0]
            psn = his.rnd.choice(his.persons)
            try:
                await (his.outpatient(psn) if kind == "outpatient" else his.inpatient(psn))
            except FlowAborted:
                rec.aborted_flows += 1

    with on_driver_execute(count, driver):
        asyncio.run(go())
    return stats, rec, time.perf_counter() - t0


@contextmanager
def on_driver_execute(before: Callable[[Any, bool], None], after: Callable[[], None]) -> Iterator[None]:
    """Call ``before(query, executemany)`` and ``after()`` around every execute of psycopg's
    cursors: statements sent through SQLAlchemy and those yibao.store.direct runs on the cursor
    itself (SQLAlchemy's cursor events see only the former)."""
    originals = {name: getattr(psycopg.Cursor, name) for name in ("execute", "executemany")}

    def wrapped(name: str, method: Any) -> Any:
        def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            before(query, name == "executemany")
            try:
                return method(self, query, *args, **kwargs)
            finally:
                after()

        return execute

    for name, method in originals.items():
        setattr(psycopg.Cursor, name, wrapped(name, method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(psycopg.Cursor, name, method)


def report(title: str, stats: dict[str, dict[str, float]], rec: Recorder, secs: float, flows: int, xacts: int) -> None:
    print(f"\n== {title}: {flows} flows in {secs:.1f} s = {flows / secs:.1f} flows/s on one thread")
    print("   infno      n   wall ms   CPU ms   wait ms   SQL statements   CPU in driver ms")
    tot = {"n": 0, "wall": 0.0, "cpu": 0.0, "sql": 0, "driver": 0.0}
    for infno in INFNOS:
        s = stats.get(infno)
        if not s:
            continue
        n = s["n"]
        print(
            f"   {infno}  {n:6d}  {1000 * s['wall'] / n:8.2f}  {1000 * s['cpu'] / n:7.2f}  "
            f"{1000 * (s['wall'] - s['cpu']) / n:7.2f}   {s['sql'] / n:6.1f}   {1000 * s['driver'] / n:14.2f}"
        )
        for k in tot:
            tot[k] += s[k]
    n = tot["n"]
    if n:
        print(
            f"   all    {n:6d}  {1000 * tot['wall'] / n:8.2f}  {1000 * tot['cpu'] / n:7.2f}  "
            f"{1000 * (tot['wall'] - tot['cpu']) / n:7.2f}   {tot['sql'] / n:6.1f}   {1000 * tot['driver'] / n:14.2f}"
        )
        print(
            f"   per flow: {1000 * tot['cpu'] / flows:.1f} ms CPU in the application, {tot['sql'] / flows:.1f} SQL "
            f"statements, {xacts / flows:.2f} database transactions ({n / flows:.0f} messages); "
            f"{1000 * tot['driver'] / flows:.1f} ms of the CPU inside the database driver's execute"
        )
    fails = sum(rec.failure_counts.values())
    wrong = sum(rec.wrong_counts.values())
    print(f"   failed answers: {fails}   incorrect answers: {wrong}")
    for k, v in list(rec.failure_counts.items())[:5] + list(rec.wrong_counts.items())[:5]:
        print(f"     {v:5d}  {k}")


def print_buckets(prof: cProfile.Profile) -> None:
    """Own time by package (where the CPU goes, whoever called it)."""
    from serve_load import _bucket

    st = pstats.Stats(prof)
    total = 0.0
    buckets: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if file == "~":
            name = "builtins/C (" + ("socket/select" if "select" in func or "socket" in func else "other") + ")"
            if "psycopg" in func or "pq" in func:
                name = "psycopg"
        else:
            name = _bucket(file)
        buckets[name] = buckets.get(name, 0.0) + tt
        total += tt
    print("\n== own time by package (cProfile; C functions are counted apart)")
    for name, tt in sorted(buckets.items(), key=lambda kv: -kv[1]):
        print(f"   {100 * tt / total:5.1f}%  {name}")


def sql_of_one_flow(gateway: Any, households: list[Any], mix: list[tuple[str, float]], seed: int) -> None:
    """The SQL statements each message of one flow sends (first 110 characters of each)."""
    current = {"infno": ""}
    seen: list[tuple[str, str, bool]] = []

    def log(query: Any, executemany: bool) -> None:
        text = query if isinstance(query, str) else query.as_string(None) if hasattr(query, "as_string") else str(query)
        text = " ".join(text.split())
        if text.startswith("WITH w0 AS ("):  # writes held and sent as one statement (Direct.later)
            parts = re.findall(r"INSERT INTO \w+|UPDATE \w+ SET|DELETE FROM \w+", text)
            text = "[one statement] " + " + ".join(p.removesuffix(" SET") for p in parts)
        seen.append((current["infno"], text[:110], executemany))

    class Tagging(InProcess):
        async def post(self, body: bytes) -> tuple[int, bytes]:
            current["infno"] = json.loads(body)["infno"]
            return await super().post(body)

    rec = Recorder()
    his = VirtualHis(
        next(_CLIENT_NO),
        client_institutions(1)[0],
        households,
        Tagging(gateway, {}, {"current": 0}),
        rec,
        mix,
        seed,
        1e18,
    )
    with on_driver_execute(log, lambda: None):
        asyncio.run(his.outpatient(his.persons[0]) if mix[0][0] == "outpatient" else his.inpatient(his.persons[0]))
    print("\n== SQL sent by one flow (after warm-up; one line per execute; * = executemany)")
    for infno, text, many in seen:
        print(f"   {infno} {'*' if many else ' '} {text}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flows", type=int, default=600, help="timed flows per variant (default 600)")
    ap.add_argument("--profile-flows", type=int, default=300, help="flows under cProfile (default 300)")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds of the variants (default 4)")
    ap.add_argument("--mix", default="outpatient=1")
    ap.add_argument("--persons", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="cProfile timer (default: thread CPU time)")
    ap.add_argument("--out", help="folder for the .prof file")
    args = ap.parse_args(argv)
    mix = parse_mix(args.mix)
    base = f"host={args.pg_host} port={args.pg_port} user={args.pg_user}"
    admin = psycopg.connect(pg_dsn(base, "postgres"), autocommit=True)
    name = f"yibao_bench_{secrets.token_hex(4)}"
    url = f"postgresql+psycopg://{args.pg_user}@{args.pg_host}:{args.pg_port}/{name}"
    dsn = pg_dsn(base, name)
    env = bench_env()
    os.environ["YIBAO_PII_KEY"] = env["YIBAO_PII_KEY"]
    tmp = Path(tempfile.mkdtemp(prefix="yibao-profile-"))
    create_db(admin, name)
    try:
        households, load_s = load_registry(args, url, env, tmp)
        print(f"database {name}: {sum(len(h) for h in households)} persons loaded in {load_s:.1f} s; mix {mix}")
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("VACUUM ANALYZE")
        # build_platform has had no pre-ping since 610ee27: the second variant is a control (a plain engine)
        variants = (("as shipped (build_platform)", True), ("plain create_engine, pool 10+10", False))
        built = {label: build(url, env, pre_ping) for label, pre_ping in variants}
        for label, _ in variants:  # warm-up: statement caches, prepared statements, pool
            platform, gateway = built[label]
            run_flows(gateway, households, mix, max(50, args.flows // 6), args.seed + 1)
        per_round = max(1, args.flows // args.rounds)
        acc: dict[str, dict[str, Any]] = {
            label: {
                "stats": {},
                "rec": Recorder(),
                "secs": 0.0,
                "xacts": 0,
                "wal": 0,
                "me": 0.0,
                "pg": 0.0,
                "other": [],
            }
            for label, _ in variants
        }
        # the variants alternate, round after round, so that drift on a shared machine touches both alike
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for i, (label, _) in enumerate(order):
                platform, gateway = built[label]
                d0 = db_counters(dsn)
                cpu = CpuWindow({"postgres": lambda: cluster_processes(dsn, name), "me": lambda: [psutil.Process()]})
                cpu.start()
                stats, rec, secs = run_flows(gateway, households, mix, per_round, args.seed + 10 * r + i)
                usage = cpu.stop()
                platform.engine.dispose()  # a backend that exits flushes its statistics
                time.sleep(1.0)
                d1 = db_counters(dsn)
                a = acc[label]
                for infno, st in stats.items():
                    into = a["stats"].setdefault(infno, dict.fromkeys(st, 0))
                    for k, v in st.items():
                        into[k] += v
                for k, v in rec.failure_counts.items():
                    a["rec"].failure_counts[k] = a["rec"].failure_counts.get(k, 0) + v
                for k, v in rec.wrong_counts.items():
                    a["rec"].wrong_counts[k] = a["rec"].wrong_counts.get(k, 0) + v
                a["secs"] += secs
                a["xacts"] += (d1["xact_commit"] - d0["xact_commit"]) + (d1["xact_rollback"] - d0["xact_rollback"]) - 1
                a["wal"] += d1["wal_bytes"] - d0["wal_bytes"]
                a["me"] += usage["me"] * secs / 100
                a["pg"] += usage["postgres"] * secs / 100
                a["other"].append(round(usage["other"]))
        flows = per_round * args.rounds
        for label, _ in variants:
            a = acc[label]
            report(f"{label} ({args.rounds} rounds)", a["stats"], a["rec"], a["secs"], flows, a["xacts"])
            print(
                f"   CPU during the batches: this process {1000 * a['me'] / flows:.1f} ms per flow, "
                f"PostgreSQL {1000 * a['pg'] / flows:.1f} ms per flow, WAL {a['wal'] / flows / 1024:.1f} KiB per flow "
                f"(other work on the machine, % of one core, per round: {a['other']})"
            )
        for label, pre_ping in variants:
            platform, gateway = built[label]
            if pre_ping:
                sql_of_one_flow(gateway, households, mix, args.seed + 4)
                # thread CPU time, not wall time: waiting for PostgreSQL is not a cost of the Python code
                prof = cProfile.Profile(time.thread_time) if args.clock == "cpu" else cProfile.Profile()
                prof.enable()
                run_flows(gateway, households, mix, args.profile_flows, args.seed + 3)
                prof.disable()
                if args.out:
                    Path(args.out).mkdir(parents=True, exist_ok=True)
                    prof.dump_stats(str(Path(args.out) / "serve_profile.prof"))
                print_buckets(prof)
                for key, label2 in (("tottime", "own time"), ("cumulative", "cumulative time")):
                    buf = io.StringIO()
                    st = pstats.Stats(prof, stream=buf)
                    st.sort_stats(key).print_stats(args.top)
                    text = buf.getvalue()
                    text = text.replace(str(ROOT / "src") + "/", "").replace(
                        str(ROOT / ".venv/lib/python3.11/site-packages") + "/", ""
                    )
                    print(
                        f"\n== cProfile ({args.clock} clock) of {args.profile_flows} flows, by {label2} "
                        "(cProfile slows Python ~2×; the shares are what matter)"
                    )
                    print("\n".join(line for line in text.splitlines() if line.strip())[:12000])
            platform.engine.dispose()
    finally:
        drop_db(admin, name)
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
