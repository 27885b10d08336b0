"""Several server processes on one port (``yibao serve --workers N``), each with a listening
socket of its own (``SO_REUSEPORT``), so the kernel spreads new connections over them.

uvicorn's own ``--workers`` shares one listening socket: the worker whose event loop wakes first
accepts every connection waiting, so a burst of keep-alive connections (a hospital's HIS opening
its pool) lands on one process while the others idle — bench/serve_load.py saw 8 + 0, 10 + 2 and
8 + 4 + 0. With a socket per worker the kernel picks the worker by the connection's addresses.

The supervisor starts the workers, replaces one that dies, and stops them all on SIGINT/SIGTERM;
a worker stops by itself when the supervisor is gone (killed), so none is left holding the port.
Linux lets only sockets of the same user share a port; to keep a second server from joining a
running one silently, the port is first bound without ``SO_REUSEPORT``, which fails if it is taken.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from typing import Any

log = logging.getLogger("yibao.api")

#: the listen backlog uvicorn uses by default
BACKLOG = 2048


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def run_workers(host: str, port: int, workers: int, options: dict[str, object]) -> None:
    """Serve ``yibao.api.server:app`` from ``workers`` processes until SIGINT or SIGTERM."""
    if not port_is_free(host, port):
        raise OSError(f"端口 {port} 已被占用")
    context = multiprocessing.get_context("spawn")
    me = os.getpid()

    def start() -> Any:
        process = context.Process(target=_worker, args=(host, port, options, me), name="yibao-worker")
        process.start()
        return process

    stopping = threading.Event()

    def stop(_signum: int, _frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    try:
        while not stopping.wait(0.5):
            for i, process in enumerate(processes):
                if not process.is_alive():
                    log.warning("工作进程 %s 已退出（退出码 %s），重新启动", process.pid, process.exitcode)
                    time.sleep(1.0)  # a worker that cannot start must not be restarted in a tight loop
                    processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # uvicorn finishes the requests in flight, then exits
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _worker(host: str, port: int, options: dict[str, Any], supervisor: int) -> None:
    import uvicorn

    threading.Thread(target=_stop_without, args=(supervisor,), daemon=True).start()
    config = uvicorn.Config("yibao.api.server:app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def _stop_without(supervisor: int) -> None:
    """SIGTERM this worker once its supervisor is gone (its parent changes)."""
    while os.getppid() == supervisor:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
