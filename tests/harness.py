"""A real server for the tests: a fresh database (SQLite file or a new PostgreSQL database), the
shipped policy, the example registry, uvicorn on a free loopback port, and a client that speaks
the national envelope over real HTTP.

PostgreSQL is at ``YIBAO_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``).
When it is unreachable the PostgreSQL half of the suite is skipped — unless
``YIBAO_REQUIRE_PG=1`` (set by ``.ci/run``), in which case that is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from yibao.api.app import create_app
from yibao.api.auth import GatewayKeys
from yibao.io.policy_dir import load_policy_dir
from yibao.service.platform import Platform
from yibao.service.registry import load_registry
from yibao.store.db import make_engine, transaction
from yibao.store.migrate import upgrade
from yibao.store.models import Region
from yibao.store.pii import PiiCipher

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("YIBAO_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
KEY = PiiCipher.generate_key()


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'yibao.db'}"
        return
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    name = f"yibao_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as e:
        admin.dispose()
        if os.environ.get("YIBAO_REQUIRE_PG") == "1":
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG}: {e.__class__.__name__}")
    try:
        yield f"{PG}/{name}"
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def build(url: str) -> Platform:
    engine = make_engine(url)
    upgrade(engine)
    snapshot = load_policy_dir(ROOT / "policies")
    platform = Platform(
        engine=engine, snapshot=snapshot, cipher=PiiCipher.from_env({"YIBAO_PII_KEY": KEY}), admdvs="445100"
    )
    with transaction(platform.sessions) as session:
        for r in snapshot.tree:
            session.merge(Region(code=r.code, name=r.name, parent_code=r.parent, pooling=r.pooling))
        load_registry(session, platform.cipher, json.loads((ROOT / "examples" / "registry.json").read_text("utf-8")))
    return platform


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(platform: Platform, keys: GatewayKeys | None = None) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(platform, keys), host="127.0.0.1", port=port, log_level="error", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


_seq = itertools.count(1)
_clients: dict[str, httpx.Client] = {}


def close_clients() -> None:
    for c in _clients.values():
        c.close()
    _clients.clear()


class Client:
    """Sends envelopes as a hospital information system would."""

    def __init__(self, base: str, fixmedins_code: str = "H44510000001", admvs: str = "445100") -> None:
        self.base = base
        self.fixmedins_code = fixmedins_code
        self.admvs = admvs
        if base not in _clients:
            _clients[base] = httpx.Client(base_url=base, timeout=60)
        self.http = _clients[base]

    def msgid(self) -> str:
        return f"{self.fixmedins_code}{datetime.now():%Y%m%d%H%M%S}{next(_seq) % 10000:04d}"[:30]

    def envelope(self, infno: str, input_: object, msgid: str | None = None) -> dict[str, object]:
        return {
            "infno": infno,
            "msgid": msgid or self.msgid(),
            "mdtrtarea_admvs": self.admvs,
            "insuplc_admdvs": "445100",
            "recer_sys_code": "YBXT",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "0001",
            "opter_name": "收费员",
            "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}",
            "fixmedins_code": self.fixmedins_code,
            "fixmedins_name": "测试机构",
            "sign_no": "",
            "input": input_,
        }

    def post(self, body: object, path: str = "/fsi/api/rsfComIfsService/callService", **kw: object) -> httpx.Response:
        content = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
        return self.http.post(path, content=content, **kw)  # type: ignore[arg-type]

    def call(self, infno: str, input_: object, msgid: str | None = None) -> dict:
        r = self.post(self.envelope(infno, input_, msgid))
        assert r.status_code == 200, r.text
        return r.json()

    def ok(self, infno: str, input_: object, msgid: str | None = None) -> dict:
        doc = self.call(infno, input_, msgid)
        assert doc["infcode"] == 0, doc["err_msg"]
        return doc["output"]

    def refused(self, infno: str, input_: object, msgid: str | None = None) -> str:
        doc = self.call(infno, input_, msgid)
        assert doc["infcode"] == -1, doc
        assert isinstance(doc["infcode"], int)
        return str(doc["err_msg"])
