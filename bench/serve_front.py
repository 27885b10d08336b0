"""What the HTTP side of the server costs per message, without the message's own work.

Drives the ASGI application in-process (no sockets; the same request scope and body uvicorn
would hand it) with a gateway stand-in that answers at once, so the CPU measured is the web
stack's: routing, reading the body, handing the message to a thread and back, the response.
Variants, side by side in one run (alternating rounds) and as ratios to the shipped one:

- ``fastapi route + anyio``: the endpoint as a FastAPI route, ``run_in_threadpool`` (before 2026-12-07)
- ``front + anyio``: yibao.api.front's ASGI callable, AnyIO's worker threads
- ``front + executor`` (shipped): the front with its own ThreadPoolExecutor through asyncio
- ``front inline``: no thread at all — the floor; it would block the event loop on the database

    .venv/bin/python bench/serve_front.py [--requests 4000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from yibao.api.catalogue import FileAnswer
from yibao.api.front import PATH, InterfaceFront

#: about the size of a 2207 answer and of a 2204 upload of ten lines
ANSWER = '{"infcode":0,"inf_refmsgid":"4451002026120712000000000001","output":{"setlinfo":{}}}'.ljust(3000)
BODY = b'{"infno":"2204","msgid":"H4451000000120261207120000000001","input":{}}'.ljust(4000)
HEADERS = [
    (b"host", b"127.0.0.1:8080"),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"connection", b"keep-alive"),
    (b"user-agent", b"python-httpx/0.28.1"),
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


def answer_at_once(_body: bytes, _headers: Mapping[str, str], _infno: str | None) -> str:
    return ANSWER


def fastapi_route() -> Any:
    app = FastAPI()

    async def call(request: Request, infno: str | None = None) -> Response:
        body = await request.body()
        answer = await run_in_threadpool(answer_at_once, body, dict(request.headers), infno)
        return Response(content=answer, media_type="application/json; charset=utf-8")

    app.add_api_route(PATH, call, methods=["POST"])
    app.add_api_route(PATH + "/{infno}", call, methods=["POST"])
    return app


class AnyioFront(InterfaceFront):
    async def process(self, body: bytes, headers: Mapping[str, str], infno: str | None) -> str | FileAnswer:
        return await to_thread.run_sync(self.handle, body, headers, infno)


class InlineFront(InterfaceFront):
    async def process(self, body: bytes, headers: Mapping[str, str], infno: str | None) -> str | FileAnswer:
        return self.handle(body, headers, infno)


VARIANTS: dict[str, Callable[[], Any]] = {
    "fastapi route + anyio": fastapi_route,
    "front + anyio": lambda: AnyioFront(answer_at_once, FastAPI()),
    "front + executor": lambda: InterfaceFront(answer_at_once, FastAPI()),
    "front inline": lambda: InlineFront(answer_at_once, FastAPI()),
}
SHIPPED = "front + executor"


async def drive(app: Any, requests: int, concurrency: int) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": HEADERS,
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
    }

    async def one() -> None:
        pending = [{"type": "http.request", "body": BODY, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return pending.pop() if pending else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        if sent[0]["status"] != 200 or len(sent[1]["body"]) != len(ANSWER):
            raise SystemExit(f"unexpected answer: {sent[:1]}")

    for _ in range(requests // concurrency):
        await asyncio.gather(*(one() for _ in range(concurrency)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=4000, help="requests per variant and round")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = ap.parse_args(argv)
    apps = {name: make() for name, make in VARIANTS.items()}
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():  # warm-up: imports, thread pools, caches
        asyncio.run(drive(app, 400, args.concurrency))
    for _ in range(args.rounds):
        for name, app in apps.items():
            t0 = time.process_time()
            asyncio.run(drive(app, args.requests, args.concurrency))
            cpu[name].append(1e6 * (time.process_time() - t0) / args.requests)
    shipped = statistics.median(cpu[SHIPPED])
    print(f"HTTP side of the server, CPU per request (process time, {args.requests} requests × {args.rounds} rounds,")
    print(f"{args.concurrency} in flight; median of rounds; ratio to '{SHIPPED}'):")
    for name, values in cpu.items():
        median = statistics.median(values)
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(f"  {name:24s} {median:6.0f} µs   ×{median / shipped:4.2f}   rounds: {rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
