"""Concurrency and crashes: the cap holds under 100 concurrent settlements of one person, and a server
killed with SIGKILL mid-load loses nothing it acknowledged and half-writes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import func, select

from conftest import new_person
from harness import KEY, ROOT, Client, build, database, free_port
from yibao.store.models import Accumulator, FeeLine, Message, Settlement, SettlementDetail, Visit

NOW = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
YEAR = datetime.now().year


def visit_with_lines(c: Client, psn: str, price: str = "10.00", qty: str = "10") -> str:
    out = c.ok("2201", {"data": {"psn_no": psn, "insutype": "310", "begntime": NOW, "ipt_otp_no": "x"}})
    mdtrt_id = str(out["data"]["mdtrt_id"])
    c.ok("2204", {"feedetail": [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn,
                                 "med_list_codg": "DEMO-S0001", "pric": price, "cnt": qty}]})  # fmt: skip
    return mdtrt_id


def settle_body(c: Client, psn: str, mdtrt_id: str, msgid: str | None = None) -> dict[str, object]:
    return c.envelope("2207", {"data": {"psn_no": psn, "mdtrt_id": mdtrt_id, "insutype": "310", "acct_used_flag": "0",
                                        "med_type": "11"}}, msgid)  # fmt: skip


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_one_person_100_concurrent_settlements_never_overshoot_the_cap(service) -> None:
    """潮州 employee outpatient pooling: cap 3000 a year, 60% at a level-1 clinic. The person has
    2950 of it used; 100 visits that would each draw 60 are settled at once."""
    platform, base = service
    clinic = Client(base, "H44510200002")
    psn = new_person(platform)
    with platform.sessions() as s, s.begin():
        s.add(Accumulator(psn_no=psn, insutype="310", region_code="445100", year=YEAR, outpatient_deductible_paid=20000,
                          outpatient_pooled_paid=295000, chronic="{}"))  # fmt: skip
    visits = [visit_with_lines(clinic, psn) for _ in range(100)]
    bodies = [settle_body(clinic, psn, v) for v in visits]
    with httpx.Client(base_url=base, timeout=120, limits=httpx.Limits(max_connections=100)) as http:

        def send(body: dict[str, object]) -> dict:
            r = http.post("/fsi/api/rsfComIfsService/callService", content=json.dumps(body, ensure_ascii=False))
            return r.json()

        with ThreadPoolExecutor(max_workers=100) as pool:
            answers = list(pool.map(send, bodies))
    assert all(a["infcode"] == 0 for a in answers), [a["err_msg"] for a in answers if a["infcode"]][:3]
    paid = sum(round(a["output"]["setlinfo"]["hifp_pay"] * 100) for a in answers)
    assert paid == 5000  # exactly the 50 yuan left under the cap, however the 100 interleaved
    with platform.sessions() as s:
        acc = s.get(Accumulator, (psn, "310", "445100", YEAR))
        assert acc.outpatient_pooled_paid == 300000
        rows = list(s.scalars(select(Settlement).where(Settlement.psn_no == psn)))
        assert len(rows) == 100
        assert (
            295000 + sum(json.loads(r.deltas).get("outpatient_pooled_paid", 0) for r in rows)
            == acc.outpatient_pooled_paid
        )


# -- crashes ----------------------------------------------------------------------------------------


def start_server(url: str, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "YIBAO_DB": url, "YIBAO_PII_KEY": KEY, "YIBAO_POLICY_DIR": str(ROOT / "policies"),
           "YIBAO_ADMDVS": "445100"}  # fmt: skip
    cmd = [sys.executable, "-m", "uvicorn", "yibao.api.server:app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("server did not start")


def test_sigkill_during_load_loses_nothing_acknowledged(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path) as url, (tmp_path / "server.log").open("ab") as log:
        platform = build(url)
        port = free_port()
        server = start_server(url, port, log)
        base = f"http://127.0.0.1:{port}"
        c = Client(base)
        people = [new_person(platform, balance="200.00") for _ in range(6)]
        work = [(p, visit_with_lines(c, p, price="20.00", qty=str(1 + i % 5))) for i, p in enumerate(people * 5)]
        bodies = {m: settle_body(c, p, m) for p, m in work}
        acked: dict[str, str] = {}  # mdtrt_id → setl_id the client saw
        stop = threading.Event()

        def load() -> None:
            pending = list(bodies)
            with httpx.Client(base_url=base, timeout=5) as http:
                while pending and not stop.is_set():
                    m = pending[0]
                    try:
                        doc = http.post("/fsi/api/rsfComIfsService/callService",
                                        content=json.dumps(bodies[m], ensure_ascii=False)).json()  # fmt: skip
                    except (httpx.HTTPError, ValueError):
                        time.sleep(0.05)  # the server is down: retry the same msgid
                        continue
                    assert doc["infcode"] == 0, doc["err_msg"]
                    acked[m] = doc["output"]["setlinfo"]["setl_id"]
                    pending.pop(0)

        loader = threading.Thread(target=load)
        loader.start()
        try:
            for _ in range(4):
                time.sleep(0.4)
                server.send_signal(signal.SIGKILL)
                server.wait()
                server = start_server(url, port, log)
            loader.join(timeout=120)
        finally:
            stop.set()
            server.send_signal(signal.SIGKILL)
            server.wait()
        assert len(acked) == len(bodies)
        with platform.sessions() as s:
            for m, setl_id in acked.items():
                rows = list(s.scalars(select(Settlement).where(Settlement.mdtrt_id == m)))
                assert [r.setl_id for r in rows] == [setl_id]  # exactly once, the one acknowledged
                row = rows[0]
                details = s.scalar(select(func.sum(SettlementDetail.fund_payamt)).where(
                    SettlementDetail.setl_id == setl_id, SettlementDetail.fund_pay_type != "310200"))  # fmt: skip
                assert (details or 0) == row.fund_pay_sumamt
                assert s.get(Visit, m).status == "settled"
                assert s.scalar(select(func.count()).select_from(FeeLine).where(FeeLine.setl_id == setl_id)) == 1
                assert s.get(Message, row.msgid) is not None
            for p in people:
                acc = s.get(Accumulator, (p, "310", "445100", YEAR))
                settled = list(s.scalars(select(Settlement).where(Settlement.psn_no == p)))
                for counter in ("outpatient_pooled_paid", "outpatient_deductible_paid", "outpatient_eligible"):
                    assert getattr(acc, counter) == sum(json.loads(r.deltas).get(counter, 0) for r in settled)
        platform.engine.dispose()
