"""The callService endpoint in front of FastAPI (yibao.api.front), at the ASGI level: which
requests reach the gateway, with what body and headers, and what goes back. The whole service
behind it is driven over real HTTP in tests/test_service_*.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import FastAPI

from yibao.api.catalogue import FileAnswer
from yibao.api.envelope import MAX_BODY
from yibao.api.front import PATH, InterfaceFront


class Recorder:
    """A gateway stand-in that remembers what it was handed and answers an envelope."""

    def __init__(self, answer: str | FileAnswer = '{"infcode":0}') -> None:
        self.calls: list[tuple[bytes, dict[str, str], str | None]] = []
        self.answer = answer

    def __call__(self, body: bytes, headers: Any, infno: str | None) -> str | FileAnswer:
        self.calls.append((body, dict(headers), infno))
        return self.answer


def front(handle: Recorder) -> InterfaceFront:
    inner = FastAPI()

    @inner.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return InterfaceFront(handle, inner)


def request(app: InterfaceFront, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://yibao") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def test_the_endpoint_hands_body_headers_and_path_infno_to_the_gateway() -> None:
    handle = Recorder('{"infcode":0,"err_msg":"成功"}')
    app = front(handle)
    body = json.dumps({"infno": "1101"}, ensure_ascii=False).encode()
    r = request(app, "POST", PATH, content=body, headers={"X-Tif-Paasid": "p1", "content-type": "text/plain"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"infcode": 0, "err_msg": "成功"} and r.headers["content-length"] == str(len(r.content))
    r2 = request(app, "POST", f"{PATH}/2207", content=b"{}")
    assert r2.status_code == 200
    (b1, h1, i1), (b2, _, i2) = handle.calls
    assert (b1, h1["x-tif-paasid"], i1) == (body, "p1", None)
    assert (b2, i2) == (b"{}", "2207")


def test_other_methods_and_paths_do_not_reach_the_gateway() -> None:
    handle = Recorder()
    app = front(handle)
    assert request(app, "GET", PATH).status_code == 405
    assert request(app, "POST", f"{PATH}/2207/x", content=b"{}").status_code == 404
    assert request(app, "POST", PATH + "Other", content=b"{}").status_code == 404
    assert request(app, "GET", "/health").json() == {"status": "ok"}  # FastAPI behind it
    assert handle.calls == []


def test_a_file_answer_goes_out_as_the_file() -> None:
    app = front(Recorder(FileAnswer("1301.zip", b"PK\x03\x04data")))
    r = request(app, "POST", PATH, content=b"{}")
    assert r.content == b"PK\x03\x04data" and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="1301.zip"'


def asgi(app: InterfaceFront, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drive the app with these request messages; what it sent back."""
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": PATH, "headers": [(b"host", b"yibao")]}
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_client_gone_before_the_whole_body_is_not_processed() -> None:
    handle = Recorder()
    sent = asgi(front(handle), [{"type": "http.request", "body": b'{"infno":"2207",', "more_body": True}])
    assert handle.calls == [] and sent == []


def test_an_oversized_body_is_not_held_beyond_the_limit() -> None:
    handle = Recorder()
    chunk = b"x" * 65536
    n = 3 * MAX_BODY // len(chunk)
    messages = [{"type": "http.request", "body": chunk, "more_body": i < n - 1} for i in range(n)]
    sent = asgi(front(handle), messages)
    ((body, _, _),) = handle.calls
    assert MAX_BODY < len(body) <= MAX_BODY + len(chunk)  # enough to be refused, no more
    assert sent[0]["status"] == 200
