"""Load test of the real-time server: complete outpatient and inpatient flows against PostgreSQL.

Target (the issue): on this 2-core machine — server, database and load generator together —
≥ 500 complete outpatient flows per second (2201→2203→2204→2206→2207, each ending in one
settlement) sustained for 60 s, with p99 ≤ 50 ms per request. The same run measures the
ceiling: pgbench (TPC-B-like) against the same PostgreSQL, and yibao's figures as ratios of it.
For scale: the whole country averages about 220 settlements per second (≈ 1,800万 a day, 2022).

What it does:

1. creates a fresh database ``yibao_bench_<random>`` and loads a generated registry of
   ``--persons`` insured persons of 潮州 (445100, 445102/445103/445122) and 8 hospitals of
   levels 1–3 plus a pharmacy with ``yibao db load`` (see ``bench/hisload.py``);
2. measures the ceiling: ``pgbench -i -s SCALE`` in a scratch database, then
   ``pgbench -c 8 -j 2 -T 30`` (TPC-B-like);
3. for each ``--workers`` × ``--concurrency`` × ``--mix``: starts ``yibao serve`` as its own
   process, waits for ``/health``, runs ``--procs`` load-generating processes with the virtual
   HIS clients shared among them (each client one institution, one keep-alive connection,
   complete flows back to back, every answer checked), and measures over a steady window
   (``--warmup`` excluded, then ``--duration`` seconds): flows/s (= settlements/s), requests/s,
   per-request latency p50/p95/p99/max overall and per infno, the CPU of the server, PostgreSQL,
   the load generator and the machine, and the database transactions from ``pg_stat_database``;
4. stops the server and drops the scratch databases (also on Ctrl-C or failure).

Every answer that is not ``infcode`` 0, and every ``infcode`` 0 answer that fails a check (see
``bench/hisload.py``), is counted and the first few are printed with request and response.

The machine may not be ours alone: the CPU of everything else during the window is printed
("other"), ``--wait-idle`` waits for quiet before each run and ``--retries`` measures a
configuration again when other work took more than ``--other-limit`` % of a core. "CPU per flow"
(server + PostgreSQL + load generator) and the throughput it implies on the whole machine do not
depend on what else ran. ``--server-env PYTHONPATH=…`` runs the server with extra modules (an
experiment, e.g. uvloop/httptools, without changing the project).

    .venv/bin/python bench/serve_load.py                                   # 60 s window, workers 1 and 2
    .venv/bin/python bench/serve_load.py --duration 15 --warmup 5 --workers 2 --concurrency 16
    .venv/bin/python bench/serve_load.py --mix outpatient=0.9,inpatient=0.1 --workers 2
    .venv/bin/python bench/serve_load.py --py-spy --workers 2 --concurrency 16   # + server profile (py-spy)
    .venv/bin/python bench/serve_load.py --client httpx      # httpx.AsyncClient instead of the raw client

It reports; it does not assert (exit 0 unless it could not run).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hisload import FLOWS, INFNOS, make_registry, worker_main

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
TARGET_FLOWS = 500.0
TARGET_P99_MS = 50.0
NATIONAL_AVG = 220.0  # settlements per second, whole country, 2022


# -- small helpers ------------------------------------------------------------------------------


def pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(q * len(sorted_values) + 0.999999) - 1))
    return sorted_values[k]


def bench_env() -> dict[str, str]:
    """The environment a benchmark's platform runs with: a PII key (generated if unset) and 潮州's 区划."""
    env = dict(os.environ)
    env["YIBAO_PII_KEY"] = (
        env.get("YIBAO_PII_KEY")
        or subprocess.run(
            [str(VENV_BIN / "yibao"), "keygen"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    env["YIBAO_ADMDVS"] = "445100"
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_dsn(base: str, db: str) -> str:
    return f"{base} dbname={db}"


def sqlalchemy_url(args: argparse.Namespace, db: str) -> str:
    return f"postgresql+psycopg://{args.pg_user}@{args.pg_host}:{args.pg_port}/{db}"


def find_pgbench() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(cand)
    return None


def print_machine(info: dict[str, Any]) -> None:
    """The lines under a benchmark's title that say where it ran (``machine``)."""
    print(f"  machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; Python {info['python']}")
    print(f"  {info['postgresql']}")
    print(f"  PostgreSQL settings: {info['pg_settings']}")
    print(f"  packages: {info['packages']}")


def machine(admin: psycopg.Connection) -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for mod in ("uvicorn", "fastapi", "starlette", "sqlalchemy", "psycopg", "httpx", "uvloop", "httptools"):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod)
        except Exception:
            versions[mod] = "absent"
    pg = admin.execute("select version()").fetchone()
    settings = {
        name: admin.execute(f"show {name}").fetchone()[0]  # type: ignore[index]
        for name in ("max_connections", "shared_buffers", "synchronous_commit", "fsync", "wal_sync_method")
    }
    commit = ""
    with contextlib.suppress(Exception):
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "postgresql": pg[0] if pg else "",
        "pg_settings": settings,
        "packages": versions,
        "commit": commit,
    }


# -- CPU accounting -----------------------------------------------------------------------------


_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> tuple[int, float] | None:
    """(start time in ticks since boot, user + system CPU seconds) from ``/proc/PID/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[19]), (int(fields[11]) + int(fields[12])) / _TICKS


class CpuWindow:
    """CPU seconds of groups of processes between :meth:`start` and :meth:`stop` (100% = one core).

    A process is known by (pid, start time), so one that started during the window counts whole.
    """

    def __init__(self, groups: dict[str, Any]) -> None:
        self.groups = groups  # name → callable returning processes now
        self.before: dict[str, dict[tuple[int, int], float]] = {}
        self.by_pid: dict[str, dict[int, float]] = {}

    def _sample(self) -> dict[str, dict[tuple[int, int], float]]:
        out: dict[str, dict[tuple[int, int], float]] = {}
        for name, find in self.groups.items():
            seen: dict[tuple[int, int], float] = {}
            for p in find():
                got = _proc_cpu(p.pid)
                if got is not None:
                    seen[(p.pid, got[0])] = got[1]
            out[name] = seen
        return out

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.sys0 = psutil.cpu_times()
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        elapsed = time.perf_counter() - self.t0
        sys1 = psutil.cpu_times()
        out = {}
        for name, now in after.items():
            was = self.before.get(name, {})
            per = {k[0]: 100.0 * (v - was.get(k, 0.0)) / elapsed for k, v in now.items()}
            self.by_pid[name] = per
            out[name] = sum(per.values())
        busy0 = sum(self.sys0) - self.sys0.idle - getattr(self.sys0, "iowait", 0.0)
        busy1 = sum(sys1) - sys1.idle - getattr(sys1, "iowait", 0.0)
        out["machine"] = 100.0 * (busy1 - busy0) / elapsed
        out["steal"] = 100.0 * (getattr(sys1, "steal", 0.0) - getattr(self.sys0, "steal", 0.0)) / elapsed
        out["other"] = out["machine"] - sum(v for k, v in out.items() if k not in ("machine", "postgres_all", "steal"))
        out["machine_capacity"] = 100.0 * (os.cpu_count() or 1)
        return out


def postgres_processes() -> list[psutil.Process]:
    """Every process of the PostgreSQL cluster (other databases' backends included)."""
    out = []
    for p in psutil.process_iter(["name"]):
        if p.info["name"] in ("postgres", "postmaster"):
            out.append(p)
    return out


def cluster_processes(dsn: str, db: str) -> list[psutil.Process]:
    """The cluster's own processes (postmaster, WAL writer, checkpointer, …) and the backends
    connected to ``db`` — not the backends of other databases (another test run on the machine)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        pids = [
            int(r[0])
            for r in c.execute(
                "select pid from pg_stat_activity where (datname = %s or backend_type <> 'client backend')"
                " and pid <> pg_backend_pid()",
                (db,),
            )
        ]
    out = []
    parents = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            out.append(p)
            parents.add(p.ppid())
    for pid in parents:
        with contextlib.suppress(psutil.Error):
            out.append(psutil.Process(pid))
    return out


def wait_idle(limit_s: float, threshold: float = 25.0) -> float:
    """Wait (at most ``limit_s``) until the machine is nearly idle for 3 s; return its last busy %."""
    deadline = time.time() + limit_s
    busy = 100.0 * (os.cpu_count() or 1)
    while True:
        busy = psutil.cpu_percent(interval=3.0) * (os.cpu_count() or 1)
        if busy < threshold or time.time() > deadline:
            return busy


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


# -- database set-up ----------------------------------------------------------------------------


def create_db(admin: psycopg.Connection, name: str) -> None:
    admin.execute(f"CREATE DATABASE {name}")


def drop_db(admin: psycopg.Connection, name: str) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    admin.execute(f"DROP DATABASE IF EXISTS {name}")


def load_registry(args: argparse.Namespace, url: str, env: dict[str, str], tmp: Path) -> tuple[list[Any], float]:
    registry, households = make_registry(args.persons, args.seed)
    path = tmp / "registry.json"
    path.write_text(json.dumps(registry, ensure_ascii=False), encoding="utf-8")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(VENV_BIN / "yibao"), "db", "load", str(path), "--db", url, "--policy-dir", str(ROOT / "policies")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"yibao db load failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return households, time.perf_counter() - t0


# -- pgbench ---------------------------------------------------------------------------------------


def run_pgbench(
    args: argparse.Namespace, admin: psycopg.Connection, base: str, base_env: dict[str, str]
) -> list[dict[str, Any]]:
    exe = find_pgbench()
    if exe is None:
        print("pgbench: not found — ceiling not measured")
        return []
    name = f"yibao_pgbench_{secrets.token_hex(4)}"
    conn = ["-h", args.pg_host, "-p", str(args.pg_port), "-U", args.pg_user]
    variants = [("TPC-B-like", args.pgbench_clients, [], {})]
    if args.pgbench_variants:
        variants += [
            ("TPC-B-like", 32, [], {}),
            (
                "TPC-B-like, synchronous_commit=off",
                args.pgbench_clients,
                [],
                {"PGOPTIONS": "-c synchronous_commit=off"},
            ),
            ("select-only (-S)", args.pgbench_clients, ["-S"], {}),
        ]
    out = []
    create_db(admin, name)
    try:
        init = subprocess.run(
            [exe, *conn, "-i", "-q", "-s", str(args.pgbench_scale), name],
            capture_output=True,
            text=True,
            check=False,
        )
        if init.returncode != 0:
            print(f"pgbench -i failed: {init.stderr.strip()[-400:]}")
            return []
        for label, clients, extra, env_extra in variants:
            admin.execute("CHECKPOINT")
            if args.wait_idle > 0:
                wait_idle(args.wait_idle)
            cmd = [
                exe,
                *conn,
                "-c",
                str(clients),
                "-j",
                str(args.pgbench_jobs),
                "-T",
                str(args.pgbench_seconds),
                *extra,
                name,
            ]
            holder: dict[str, Any] = {}
            cpu = CpuWindow(
                {
                    "postgres": lambda: cluster_processes(pg_dsn(base, "postgres"), name),
                    "postgres_all": postgres_processes,
                    "pgbench": lambda h=holder: tree(h["pid"]) if "pid" in h else [],
                }
            )
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**base_env, **env_extra}
            )
            holder["pid"] = proc.pid
            time.sleep(1.0)  # past connection set-up
            cpu.start()
            time.sleep(max(1.0, args.pgbench_seconds - 2.0))
            usage = cpu.stop()
            text, _ = proc.communicate()
            m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
            lat = re.search(r"latency average = ([0-9.]+) ms", text)
            row = {
                "label": label,
                "command": " ".join(["pgbench", *cmd[1:]])
                + (f"  (PGOPTIONS={env_extra['PGOPTIONS']!r})" if env_extra else ""),
                "tps": float(m.group(1)) if m else float("nan"),
                "latency_ms": float(lat.group(1)) if lat else float("nan"),
                "cpu": usage,
            }
            if not m:
                row["output"] = text[-800:]
            out.append(row)
            print(
                f"  pgbench {label:<36} -c {clients:<3} {row['tps']:9.1f} tps   latency avg {row['latency_ms']:6.2f} ms"
                f"   CPU postgres {usage['postgres']:5.1f}%  pgbench {usage['pgbench']:5.1f}%"
                f"  machine {usage['machine']:5.1f}% of {usage['machine_capacity']:.0f}%  other {usage['other']:5.1f}%"
            )
    finally:
        drop_db(admin, name)
    return out


# -- the server -----------------------------------------------------------------------------------


@contextlib.contextmanager
def server(
    args: argparse.Namespace, url: str, env: dict[str, str], workers: int, log: Path
) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = dict(env)
    for item in args.server_env or []:
        key, _, value = item.partition("=")
        env[key] = value
    cmd = [
        str(VENV_BIN / "yibao"),
        "serve",
        "--db",
        url,
        "--workers",
        str(workers),
        "--port",
        str(port),
        "--policy-dir",
        str(ROOT / "policies"),
    ]
    with started(cmd, env, port, workers, log) as srv:
        yield srv


@contextlib.contextmanager
def started(cmd: list[str], env: dict[str, str] | None, port: int, workers: int, log: Path) -> Iterator[dict[str, Any]]:
    """Run a server command until its ``workers`` answer ``/health`` on ``port``; stop it (SIGINT)
    and any worker that outlives it when the block ends."""
    with open(log, "ab") as logf:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        healthy = 0
        while healthy < 3 * workers:
            if proc.poll() is not None:
                raise SystemExit(f"server exited ({proc.returncode}):\n{log.read_text('utf-8', 'replace')[-3000:]}")
            if time.time() > deadline:
                raise SystemExit(f"server did not answer /health in 60 s:\n{log.read_text('utf-8', 'replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    healthy += r.status == 200
            except OSError:
                time.sleep(0.2)
        # uvicorn's workers start one after another: wait until all of them run
        t_end = time.time() + 30
        while len(tree(proc.pid)) < (1 if workers == 1 else workers + 1) and time.time() < t_end:
            time.sleep(0.2)
        yield {"pid": proc.pid, "port": port, "cmd": cmd}
    finally:
        if proc.poll() is None:
            procs = tree(proc.pid)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for p in procs[1:]:  # workers that outlived their supervisor, by pid
                with contextlib.suppress(psutil.Error):
                    if p.is_running():
                        p.kill()


# -- one measured run -----------------------------------------------------------------------------


def parse_mix(text: str) -> list[tuple[str, float]]:
    out = []
    for part in text.split(","):
        name, _, w = part.partition("=")
        name = name.strip()
        if name not in FLOWS:
            raise SystemExit(f"--mix: unknown flow {name!r} (outpatient, inpatient)")
        out.append((name, float(w or 1)))
    return out


def refresh_balances(dsn: str, households: list[Any]) -> None:
    """The virtual clients check ``balc`` against their own copy of each account: start it from the database."""
    with psycopg.connect(dsn, autocommit=True) as c:
        balances = {str(k): int(v) for k, v in c.execute("select psn_no, balance from account")}
    for home in households:
        for p in home:
            p.balance = balances.get(p.psn_no, 0)


def db_counters(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute(
            "select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched, blks_hit, blks_read,"
            " pg_current_wal_lsn() - '0/0'"  # WAL written so far, by the whole cluster
            " from pg_stat_database where datname = current_database()"
        ).fetchone()
    assert row is not None
    keys = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_fetched", "blks_hit", "blks_read",
            "wal_bytes")  # fmt: skip
    return dict(zip(keys, (int(v) for v in row), strict=True))


def run_load(
    args: argparse.Namespace,
    srv: dict[str, Any],
    households: list[Any],
    concurrency: int,
    mix: list[tuple[str, float]],
    dsn: str,
    tmp: Path,
    label: str,
) -> dict[str, Any]:
    procs = max(1, min(args.procs, concurrency))
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter() + 3.0  # the children need ~1 s to start
    w0 = start + args.warmup
    w1 = w0 + args.duration
    children = []
    for j in range(procs):
        cfg = {
            "households": households,
            "clients": list(range(j, concurrency, procs)),
            "total_clients": concurrency,
            "host": "127.0.0.1",
            "port": srv["port"],
            "start": start,
            "stop": w1,
            "mix": mix,
            "seed": args.seed,
            "client": args.client,
        }
        parent_end, child_end = ctx.Pipe(duplex=False)
        p = ctx.Process(target=worker_main, args=(cfg, child_end), daemon=True)
        p.start()
        child_end.close()
        children.append((p, parent_end))
    loadgen_pids = [p.pid for p, _ in children]
    me = os.getpid()
    cpu = CpuWindow(
        {
            "server": lambda: tree(srv["pid"]),
            "postgres": lambda: cluster_processes(dsn, dsn.rsplit("dbname=", 1)[1]),
            "postgres_all": postgres_processes,
            "loadgen": lambda: [q for pid in loadgen_pids for q in tree(pid)],
            "orchestrator": lambda: [psutil.Process(me)],
        }
    )
    spy = None
    time.sleep(max(0.0, w0 - time.perf_counter()))
    conns = connections_per_process(srv["pid"], srv["port"])
    db0 = db_counters(dsn)
    cpu.start()
    if args.py_spy:
        spy_out = tmp / f"py-spy-{label}.txt"
        spy = subprocess.Popen(
            [
                str(VENV_BIN / "py-spy"),
                "record",
                "--pid",
                str(srv["pid"]),
                "--subprocesses",
                "--nonblocking",
                "--full-filenames",
                "--rate",
                str(args.py_spy_rate),
                "--duration",
                str(int(args.duration)),
                "--format",
                "raw",
                "--output",
                str(spy_out),
                *args.py_spy_args.split(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    time.sleep(max(0.0, w1 - time.perf_counter()))
    usage = cpu.stop()
    db1 = db_counters(dsn)
    workers_cpu = sorted((round(v, 1) for v in cpu.by_pid.get("server", {}).values()), reverse=True)
    results = []
    for p, conn in children:
        if conn.poll(args.duration + args.warmup + 120):
            results.append(conn.recv())
        else:
            results.append({"error": "load generator did not report"})
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise SystemExit(f"load generator failed: {errors}")
    spy_text = ""
    if spy is not None:
        _, err = spy.communicate(timeout=120)
        spy_file = tmp / f"py-spy-{label}.txt"
        if spy_file.exists():
            spy_text = spy_file.read_text("utf-8", "replace")
            if args.out:
                shutil.copy(spy_file, Path(args.out) / spy_file.name)
        else:
            print(f"py-spy produced nothing: {err.strip()[-500:]}")
    res = summarise(results, w0, w1, usage, db0, db1, procs, concurrency, mix, spy_text, args)
    res["server_process_cpu"] = workers_cpu
    res["server_connections_per_process"] = conns
    return res


def connections_per_process(pid: int, port: int) -> list[int]:
    """How many of the clients' keep-alive connections each server process holds (a worker serves
    the connections it accepted for as long as they live)."""
    out = []
    for p in tree(pid):
        try:
            n = sum(1 for c in p.net_connections(kind="tcp") if c.laddr and c.laddr.port == port and c.raddr)
        except psutil.Error:
            n = -1
        out.append(n)
    return sorted(out, reverse=True)


def _arr(code: str, raw: bytes) -> array:
    a = array(code)
    a.frombytes(raw)
    return a


def summarise(
    results: list[dict[str, Any]],
    w0: float,
    w1: float,
    usage: dict[str, float],
    db0: dict[str, int],
    db1: dict[str, int],
    procs: int,
    concurrency: int,
    mix: list[tuple[str, float]],
    spy_text: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    secs = w1 - w0
    lat_all: list[float] = []
    per: dict[str, list[float]] = {n: [] for n in INFNOS}
    req_ok = req_bad = 0
    req_total = req_bad_total = 0
    flows = dict.fromkeys(FLOWS, 0)
    failures: list[dict[str, Any]] = []
    failure_counts: dict[str, int] = {}
    wrong: list[dict[str, Any]] = []
    wrong_counts: dict[str, int] = {}
    aborted = 0
    loadgen_cpu = 0.0
    for r in results:
        t, lat, kind, ok = _arr("d", r["t"]), _arr("d", r["lat"]), _arr("b", r["kind"]), _arr("b", r["ok"])
        req_total += len(t)
        req_bad_total += len(ok) - sum(ok)
        for ti, li, ki, oi in zip(t, lat, kind, ok, strict=True):
            if w0 <= ti < w1:
                if oi:
                    req_ok += 1
                else:
                    req_bad += 1
                lat_all.append(li)
                per[INFNOS[ki]].append(li)
        for ti, fk in zip(_arr("d", r["flow_t"]), _arr("b", r["flow_kind"]), strict=True):
            if w0 <= ti < w1:
                flows[FLOWS[fk]] += 1
        failures += r["failures"]
        for k, v in r["failure_counts"].items():
            failure_counts[k] = failure_counts.get(k, 0) + v
        wrong += r["wrong"]
        for k, v in r["wrong_counts"].items():
            wrong_counts[k] = wrong_counts.get(k, 0) + v
        aborted += r["aborted_flows"]
        loadgen_cpu += r["cpu"]
    lat_all.sort()

    def stats(values: list[float]) -> dict[str, float]:
        values = sorted(values)
        return {
            "n": len(values),
            "p50": 1000 * pct(values, 0.50),
            "p95": 1000 * pct(values, 0.95),
            "p99": 1000 * pct(values, 0.99),
            "max": 1000 * (values[-1] if values else float("nan")),
            "mean": 1000 * (sum(values) / len(values) if values else float("nan")),
        }

    total_flows = sum(flows.values())
    xacts = (db1["xact_commit"] - db0["xact_commit"]) + (db1["xact_rollback"] - db0["xact_rollback"])
    return {
        "procs": procs,
        "concurrency": concurrency,
        "mix": mix,
        "window_s": secs,
        "flows_per_s": total_flows / secs,
        "flows_by_kind_per_s": {k: v / secs for k, v in flows.items()},
        "requests_per_s": (req_ok + req_bad) / secs,
        "requests_ok": req_ok,
        "requests_failed": req_bad,
        "requests_total_incl_warmup": req_total,
        "requests_failed_incl_warmup": req_bad_total,
        "aborted_flows_incl_warmup": aborted,
        "latency_ms": stats(lat_all),
        "latency_by_infno_ms": {n: stats(v) for n, v in per.items() if v},
        "cpu_percent": usage,
        "db": {
            "xacts_per_s": xacts / secs,
            "commits_per_s": (db1["xact_commit"] - db0["xact_commit"]) / secs,
            "rollbacks_per_s": (db1["xact_rollback"] - db0["xact_rollback"]) / secs,
            "xacts_per_flow": xacts / total_flows if total_flows else float("nan"),
            "tup_inserted_per_flow": (db1["tup_inserted"] - db0["tup_inserted"]) / total_flows if total_flows else 0,
            "tup_updated_per_flow": (db1["tup_updated"] - db0["tup_updated"]) / total_flows if total_flows else 0,
            "blks_read": db1["blks_read"] - db0["blks_read"],
            "wal_kib_per_flow": (db1["wal_bytes"] - db0["wal_bytes"]) / 1024 / total_flows if total_flows else 0,
        },
        "failures": failures,
        "failure_counts": failure_counts,
        "wrong": wrong,
        "wrong_counts": wrong_counts,
        "loadgen_cpu_s": loadgen_cpu,
        "profile": summarise_py_spy(spy_text, args.py_spy_rate, req_ok + req_bad) if spy_text else None,
    }


# -- py-spy summary ---------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

_BUCKETS = (
    ("yibao.api.jsonout", "/yibao/api/jsonout.py"),
    ("yibao.engine", "/yibao/engine/"),
    ("yibao.policy", "/yibao/policy/"),
    ("yibao.api", "/yibao/api/"),
    ("yibao.service", "/yibao/service/"),
    ("yibao.store", "/yibao/store/"),
    ("yibao.io", "/yibao/io/"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("psycopg", "/psycopg"),
    ("uvicorn/h11", "/uvicorn/"),
    ("uvicorn/h11", "/h11/"),
    ("starlette/fastapi", "/starlette/"),
    ("starlette/fastapi", "/fastapi/"),
    ("pydantic", "/pydantic"),
    ("anyio/threads", "/anyio/"),
    ("anyio/threads", "concurrent/futures"),
    ("asyncio", "/asyncio/"),
    ("json", "/json/"),
    ("threading (GIL hand-over)", "/threading.py"),
    ("decimal", "decimal"),
    ("cryptography", "/cryptography/"),
    ("logging", "/logging/"),
)


def _bucket(path: str) -> str:
    for name, needle in _BUCKETS:
        if needle in path:
            return name
    return "other"


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3.11/", "/bench/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarise_py_spy(text: str, rate: int, requests: int) -> dict[str, Any]:
    """Self time by line and by function, inclusive time by function, self time by package."""
    self_line: dict[str, int] = {}
    self_func: dict[str, int] = {}
    incl_func: dict[str, int] = {}
    bucket_self: dict[str, int] = {}
    bucket_incl: dict[str, int] = {}
    total = 0
    for raw in text.splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for fr in stack.split(";"):
            m = _FRAME.match(fr)
            if m:
                frames.append((m["func"], m["file"], m["line"] or "?"))
        # drop the "process NNN" / "thread" pseudo frames py-spy adds
        frames = [f for f in frames if f[1] and not f[1].startswith("0x")]
        if not frames:
            continue
        total += count
        func, file, line = frames[-1]
        short = _short(file)
        key_line = f"{func}  {short}:{line}"
        self_line[key_line] = self_line.get(key_line, 0) + count
        key_func = f"{func}  {short}"
        self_func[key_func] = self_func.get(key_func, 0) + count
        b = _bucket(file)
        bucket_self[b] = bucket_self.get(b, 0) + count
        seen_f, seen_b = set(), set()
        for f_func, f_file, _ in frames:
            k = f"{f_func}  {_short(f_file)}"
            if k not in seen_f:
                seen_f.add(k)
                incl_func[k] = incl_func.get(k, 0) + count
            bb = _bucket(f_file)
            if bb not in seen_b:
                seen_b.add(bb)
                bucket_incl[bb] = bucket_incl.get(bb, 0) + count

    def top(d: dict[str, int], n: int) -> list[tuple[str, int, float]]:
        return [(k, v, 100.0 * v / total) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n]]

    cpu_s = total / rate
    return {
        "samples": total,
        "cpu_s_sampled": cpu_s,
        "cpu_ms_per_request": 1000 * cpu_s / requests if requests else float("nan"),
        "buckets_self": top(bucket_self, 30),
        "buckets_inclusive": top(bucket_incl, 30),
        "self_lines": top(self_line, 40),
        "self_functions": top(self_func, 40),
        "inclusive_functions": top(incl_func, 60),
    }


# -- printing -------------------------------------------------------------------------------------


def print_run(workers: int, res: dict[str, Any], ceiling: float | None) -> None:
    lat = res["latency_ms"]
    mix = ",".join(f"{k}={v:g}" for k, v in res["mix"])
    print(
        f"\n== workers={workers} concurrency={res['concurrency']} loadgen procs={res['procs']} mix={mix} "
        f"window={res['window_s']:.0f} s"
    )
    kinds = "  ".join(f"{k} {v:.1f}/s" for k, v in res["flows_by_kind_per_s"].items() if v)
    print(
        f"  flows/s (= settlements/s): {res['flows_per_s']:8.1f}   [{kinds}]   "
        f"target 500: {res['flows_per_s'] / TARGET_FLOWS:6.1%}   national average 220/s: "
        f"{res['flows_per_s'] / NATIONAL_AVG:5.2f}×"
    )
    print(
        f"  requests/s: {res['requests_per_s']:8.1f}   ok {res['requests_ok']}  failed {res['requests_failed']} "
        f"(whole run incl. warm-up: {res['requests_total_incl_warmup']} requests, "
        f"{res['requests_failed_incl_warmup']} failed, {res['aborted_flows_incl_warmup']} flows aborted)"
    )
    ok99 = "meets" if lat["p99"] <= TARGET_P99_MS else "MISSES"
    print(
        f"  latency ms: p50 {lat['p50']:7.2f}  p95 {lat['p95']:7.2f}  p99 {lat['p99']:7.2f}  max {lat['max']:8.2f}"
        f"  mean {lat['mean']:7.2f}   (p99 ≤ 50 ms: {ok99})"
    )
    print("  per infno     n       p50      p95      p99      max   (ms)")
    for n, s in res["latency_by_infno_ms"].items():
        print(f"    {n}  {s['n']:7d}  {s['p50']:7.2f}  {s['p95']:7.2f}  {s['p99']:7.2f}  {s['max']:8.2f}")
    c = res["cpu_percent"]
    print(
        f"  CPU (100% = one core): server {c['server']:5.1f}%  postgres {c['postgres']:5.1f}%  "
        f"load generator {c['loadgen']:5.1f}%  orchestrator {c['orchestrator']:4.1f}%  "
        f"machine {c['machine']:5.1f}% of {c['machine_capacity']:.0f}%"
    )
    print(
        f"  server processes: CPU {res.get('server_process_cpu')} %, client connections held "
        f"{res.get('server_connections_per_process')}"
    )
    print(
        f"  (all of PostgreSQL, other databases' backends included: {c['postgres_all']:5.1f}%; "
        f"everything else on the machine: {c['other']:5.1f}%, of which hypervisor steal {c['steal']:4.1f}%"
        + ("  ← the machine was not to ourselves" if c["other"] > 15 else "")
        + ")"
    )
    rq = res["requests_per_s"]
    if rq:
        print(
            f"  CPU per request: server {10 * c['server'] / rq:.2f} ms  postgres {10 * c['postgres'] / rq:.2f} ms  "
            f"load generator {10 * c['loadgen'] / rq:.2f} ms"
        )
    fl = res["flows_per_s"]
    if fl:
        per_flow = {k: 10 * c[k] / fl for k in ("server", "postgres", "loadgen")}
        total = sum(per_flow.values())
        print(
            f"  CPU per flow: server {per_flow['server']:.1f} ms + postgres {per_flow['postgres']:.1f} ms + load generator "
            f"{per_flow['loadgen']:.1f} ms = {total:.1f} ms → with both cores to ourselves at most "
            f"{1000 * c['machine_capacity'] / 100 / total:.0f} flows/s (the target needs ≤ "
            f"{1000 * c['machine_capacity'] / 100 / TARGET_FLOWS:.1f} ms per flow)"
        )
        res["projected_flows_per_s"] = 1000 * c["machine_capacity"] / 100 / total
    d = res["db"]
    print(
        f"  database: {d['xacts_per_s']:.1f} transactions/s ({d['commits_per_s']:.1f} commits, "
        f"{d['rollbacks_per_s']:.1f} rollbacks), {d['xacts_per_flow']:.2f} per flow; per flow "
        f"{d['tup_inserted_per_flow']:.1f} rows inserted, {d['tup_updated_per_flow']:.1f} updated, "
        f"{d['wal_kib_per_flow']:.1f} KiB of WAL"
    )
    if ceiling:
        print(
            f"  vs pgbench {ceiling:.0f} tps: settlements/s {res['flows_per_s'] / ceiling:6.2%}  "
            f"requests/s {rq / ceiling:6.2%}  DB transactions/s {d['xacts_per_s'] / ceiling:6.2%}"
        )
    if res["failure_counts"]:
        print("  FAILED ANSWERS (infcode ≠ 0 or no answer), by infno and message:")
        for k, v in sorted(res["failure_counts"].items(), key=lambda kv: -kv[1]):
            print(f"    {v:6d}  {k}")
        for f in res["failures"][:3]:
            print(
                f"    e.g. {f['infno']}: {f['why']}\n      request:  {f['request'][:1500]}\n      response: {f['response'][:1500]}"
            )
    if res["wrong_counts"]:
        print("  INCORRECT ANSWERS (infcode 0 but a check failed):")
        for k, v in sorted(res["wrong_counts"].items(), key=lambda kv: -kv[1]):
            print(f"    {v:6d}  {k}")
        for f in res["wrong"][:3]:
            print(
                f"    e.g. {f['infno']}: {f['check']}\n      request:  {f['request'][:1500]}\n      response: {f['response'][:1500]}"
            )
    prof = res.get("profile")
    if prof:
        print(
            f"  py-spy: {prof['samples']} samples = {prof['cpu_s_sampled']:.1f} CPU s sampled, "
            f"{prof['cpu_ms_per_request']:.2f} ms per request"
        )
        print("   self time by package:")
        for k, _v, p in prof["buckets_self"]:
            print(f"     {p:5.1f}%  {k}")
        print("   inclusive by package:")
        for k, _v, p in prof["buckets_inclusive"]:
            print(f"     {p:5.1f}%  {k}")
        print("   top self lines:")
        for k, _v, p in prof["self_lines"][:25]:
            print(f"     {p:5.1f}%  {k}")
        print("   top inclusive functions:")
        for k, _v, p in prof["inclusive_functions"][:45]:
            print(f"     {p:5.1f}%  {k}")


# -- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=60.0, help="measured window, seconds (default 60)")
    ap.add_argument("--warmup", type=float, default=10.0, help="warm-up before the window, seconds (default 10)")
    ap.add_argument("--workers", default="1,2", help="server worker processes, comma-separated list (default 1,2)")
    ap.add_argument("--concurrency", default="16", help="virtual HIS clients, comma-separated list (default 16)")
    ap.add_argument(
        "--mix", action="append", help="flow mix, e.g. outpatient=0.9,inpatient=0.1 (repeatable; default outpatient=1)"
    )
    ap.add_argument("--procs", type=int, default=1, help="load-generating processes (default 1)")
    ap.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="HTTP client (default raw asyncio streams)"
    )
    ap.add_argument("--persons", type=int, default=6000, help="insured persons to generate (default 6000)")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument("--pgbench-seconds", type=int, default=30, help="0 skips the ceiling (default 30)")
    ap.add_argument("--pgbench-clients", type=int, default=8)
    ap.add_argument("--pgbench-jobs", type=int, default=2)
    ap.add_argument("--pgbench-scale", type=int, default=10)
    ap.add_argument("--pgbench-variants", action="store_true", help="also -c 32, synchronous_commit=off, select-only")
    ap.add_argument("--py-spy", action="store_true", help="profile the server with py-spy during each window")
    ap.add_argument("--py-spy-rate", type=int, default=200)
    ap.add_argument(
        "--py-spy-args",
        default="--gil",
        help="extra py-spy record arguments (default --gil: only samples holding the GIL, i.e. Python CPU; "
        "'' for every active thread, '--idle' for waiting too)",
    )
    ap.add_argument("--out", help="folder for a JSON report (and py-spy raw stacks)")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        help="before each run, wait up to this many seconds for other work on the machine to stop (default 120)",
    )
    ap.add_argument(
        "--server-env",
        action="append",
        metavar="KEY=VALUE",
        help="extra environment for the server process (repeatable), e.g. PYTHONPATH=/tmp/extras for an experiment",
    )
    ap.add_argument(
        "--retries",
        type=int,
        default=0,
        help="measure a configuration again (up to this many times) when other work on the machine took more than "
        "--other-limit %% CPU during its window",
    )
    ap.add_argument("--other-limit", type=float, default=20.0)
    ap.add_argument("--keep-db", action="store_true", help="do not drop the yibao database at the end")
    args = ap.parse_args(argv)
    workers_list = [int(x) for x in args.workers.split(",")]
    conc_list = [int(x) for x in args.concurrency.split(",")]
    mixes = [parse_mix(m) for m in (args.mix or ["outpatient=1"])]
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)

    base = f"host={args.pg_host} port={args.pg_port} user={args.pg_user}"
    admin = psycopg.connect(pg_dsn(base, "postgres"), autocommit=True)
    info = machine(admin)
    print(f"yibao serve load test — {info['date']}  (commit {info['commit']})")
    print_machine(info)
    print(
        f"  plan: workers {workers_list} × concurrency {conc_list} × mix {[dict(m) for m in mixes]}; "
        f"warm-up {args.warmup:g} s, window {args.duration:g} s; load generator: {args.procs} process(es), "
        f"{args.client} client; {args.persons} persons"
        + (f"; server environment {args.server_env}" if args.server_env else "")
    )

    name = f"yibao_bench_{secrets.token_hex(4)}"
    url = sqlalchemy_url(args, name)
    dsn = pg_dsn(base, name)
    env = bench_env()
    env.pop("YIBAO_GATEWAY_KEYS", None)
    report: dict[str, Any] = {"machine": info, "args": vars(args), "runs": []}
    tmp = Path(tempfile.mkdtemp(prefix="yibao-bench-"))
    created = False
    try:
        create_db(admin, name)
        created = True
        households, load_s = load_registry(args, url, env, tmp)
        n_persons = sum(len(h) for h in households)
        print(f"  database {name}: {n_persons} persons in {len(households)} households loaded in {load_s:.1f} s")
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("VACUUM ANALYZE")

        ceiling = None
        if args.pgbench_seconds > 0:
            print("\n== ceiling: pgbench against the same PostgreSQL (nothing else running)")
            pgb = run_pgbench(args, admin, base, dict(os.environ))
            report["pgbench"] = pgb
            if pgb and pgb[0]["tps"] == pgb[0]["tps"]:
                ceiling = pgb[0]["tps"]

        log = tmp / "server.log"
        for label_no, (workers, conc, mix) in enumerate(itertools.product(workers_list, conc_list, mixes)):
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("VACUUM ANALYZE")
                c.execute("CHECKPOINT")
            log_before = log.stat().st_size if log.exists() else 0
            if args.wait_idle > 0:
                busy = wait_idle(args.wait_idle)
                if busy >= 25.0:
                    print(f"\n  (machine still {busy:.0f}% busy with other work after {args.wait_idle:g} s: going on)")
            refresh_balances(dsn, households)  # earlier runs spent from the accounts
            attempts: list[float] = []
            for attempt in range(args.retries + 1):
                with server(args, url, env, workers, log) as srv:
                    res = run_load(
                        args, srv, households, conc, mix, dsn, tmp, f"{label_no}-w{workers}-c{conc}-{attempt}"
                    )
                attempts.append(res["cpu_percent"]["other"])
                if res["cpu_percent"]["other"] <= args.other_limit or attempt == args.retries:
                    break
                print(
                    f"\n  (workers={workers} concurrency={conc}: other work took {attempts[-1]:.0f}% CPU during the window;"
                    " measuring again)"
                )
                if args.wait_idle > 0:
                    wait_idle(args.wait_idle)
                refresh_balances(dsn, households)
            res["other_cpu_of_attempts"] = attempts
            text = log.read_text("utf-8", "replace")[log_before:] if log.exists() else ""
            res["server_tracebacks"] = text.count("Traceback")
            res["server_log_tail"] = text[-3000:]
            res["workers"] = workers
            print_run(workers, res, ceiling)
            if res["server_tracebacks"]:
                print(f"  server log: {res['server_tracebacks']} tracebacks; tail:\n{res['server_log_tail']}")
            report["runs"].append(res)

        print("\n== summary")
        if ceiling:
            print(f"  pgbench TPC-B-like -c {args.pgbench_clients} -j {args.pgbench_jobs}: {ceiling:.0f} tps")
        print(
            "  workers conc mix                      flows/s  req/s   p50    p95    p99   fails  wrong  vs500   "
            "DBxact/flow  other%  2-core proj.  flows/pgbench  xacts/pgbench"
        )
        for r in report["runs"]:
            mix = ",".join(f"{k}={v:g}" for k, v in r["mix"])
            lat = r["latency_ms"]
            pg = f"{r['flows_per_s'] / ceiling:12.2%}  {r['db']['xacts_per_s'] / ceiling:12.2%}" if ceiling else ""
            print(
                f"  {r['workers']:7d} {r['concurrency']:4d} {mix:<24} {r['flows_per_s']:8.1f} {r['requests_per_s']:6.0f} "
                f"{lat['p50']:6.1f} {lat['p95']:6.1f} {lat['p99']:6.1f} {r['requests_failed_incl_warmup']:6d} "
                f"{sum(r['wrong_counts'].values()):6d} {r['flows_per_s'] / TARGET_FLOWS:6.1%}   "
                f"{r['db']['xacts_per_flow']:8.2f}  {r['cpu_percent']['other']:6.0f}  "
                f"{r.get('projected_flows_per_s', float('nan')):9.0f}/s   {pg}"
            )
        if args.out:
            out = Path(args.out) / f"serve_load-{datetime.now():%Y%m%d-%H%M%S}.json"
            out.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            print(f"  report: {out}")
    finally:
        if created and not args.keep_db:
            with contextlib.suppress(Exception):
                drop_db(admin, name)
        elif created:
            print(f"  kept database {name}")
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
