"""``yibao serve --workers N``: one listening socket per worker process (SO_REUSEPORT), so
connections opened at once spread over the workers instead of landing on whichever accepted
first; the supervisor stops them all on SIGTERM; a second server cannot join the port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from harness import KEY, ROOT, build, database, free_port

YIBAO = str(Path(sys.executable).parent / "yibao")  # the console script beside this Python


ENV = {**os.environ, "YIBAO_PII_KEY": KEY, "YIBAO_ADMDVS": "445100"}


def command(url: str, port: int, workers: int) -> list[str]:
    return [YIBAO, "serve", "--db", url, "--port", str(port), "--workers", str(workers), "--policy-dir",
            str(ROOT / "policies")]  # fmt: skip


def serve(url: str, port: int, workers: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command(url, port, workers), env=ENV, stdout=log, stderr=subprocess.STDOUT)


def wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def health(conn: socket.socket) -> dict[str, object]:
    """GET /health over an open keep-alive connection."""
    conn.sendall(b"GET /health HTTP/1.1\r\nHost: yibao\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < length(data):
        data += conn.recv(65536)
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    return next((int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.startswith("content-length:")), 0)


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_connections_spread_over_the_workers_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    with database("postgresql", tmp_path) as url, (tmp_path / "server.log").open("ab") as log:
        build(url).engine.dispose()
        port = free_port()
        proc = serve(url, port, 2, log)
        try:
            wait_until_up(port, proc)
            time.sleep(2.0)  # both workers listening
            # 16 connections opened at once and kept open, as an HIS opens its pool
            conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
            try:
                workers = [health(c)["worker"] for c in conns]
                assert len(set(workers)) == 2, workers
                assert [health(c)["worker"] for c in conns] == workers  # each connection stays with its worker
            finally:
                for c in conns:
                    c.close()
            # a second server on the same port is refused rather than sharing it
            second = subprocess.run(command(url, port, 2), env=ENV, capture_output=True, timeout=120)
            assert second.returncode != 0 and "端口" in (second.stdout + second.stderr).decode()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
            assert refused(port)  # no worker left holding the port
            for pid in set(workers):
                assert not Path(f"/proc/{pid}").exists()
        finally:
            if proc.poll() is None:
                proc.kill()
