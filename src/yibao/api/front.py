"""The national interface's endpoint as a plain ASGI callable, in front of the FastAPI app.

``POST /fsi/api/rsfComIfsService/callService`` (and ``…/callService/{infno}``) carries every
message a hospital sends. Its answer is always HTTP 200 with a JSON envelope, whatever the body
(:class:`~yibao.api.app.Gateway` never raises), so nothing of a web framework's routing,
parameter parsing, validation or response classes is of use to it — and on the real-time path
they cost about as much CPU as PostgreSQL's work for a message (bench/serve_load.py --py-spy).
Here the body is read (no more than the envelope's limit is kept: a larger one is refused
without holding it), the message is processed in a thread of the front's own pool (the database
work blocks), and the answer is sent. Every
other path — ``/health``, the API documentation — goes on to FastAPI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yibao.api.catalogue import FileAnswer
from yibao.api.envelope import MAX_BODY

PATH = "/fsi/api/rsfComIfsService/callService"
_JSON = (b"content-type", b"application/json; charset=utf-8")
#: messages processed at once per server process (the database pool allows 20 connections);
#: asyncio's executor hands a message to a thread for about half of AnyIO's CPU (bench/serve_front.py)
THREADS = 20
#: body, headers, the infno in the path → the answer (Gateway.handle; never raises)
Handle = Callable[[bytes, Mapping[str, str], str | None], str | FileAnswer]


class InterfaceFront:
    """ASGI: the callService endpoint for ``handle(body, headers, infno_in_path)``; the rest to ``inner``."""

    def __init__(self, handle: Handle, inner: ASGIApp, threads: int = THREADS) -> None:
        self.handle = handle
        self.inner = inner
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        infno = _infno(scope["path"]) if scope["type"] == "http" else None
        if infno is None:
            await self.inner(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send(send, 405, b'{"detail":"Method Not Allowed"}', [_JSON, (b"allow", b"POST")])
            return
        body = await _body(receive)
        if body is None:
            return
        # header names come lower-cased from the server (ASGI); values as Latin-1, as Starlette reads them
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        answer = await self.process(body, headers, infno or None)
        if isinstance(answer, FileAnswer):
            disposition = f'attachment; filename="{answer.filename}"'.encode("latin-1", "replace")
            extra = [(b"content-type", b"application/octet-stream"), (b"content-disposition", disposition)]
            await _send(send, 200, answer.content, extra)
            return
        await _send(send, 200, answer.encode("utf-8"), [_JSON])

    async def process(self, body: bytes, headers: Mapping[str, str], infno: str | None) -> str | FileAnswer:
        """The message's answer, from a thread of the front's pool (the database work blocks)."""
        if self._pool is None:  # made in the worker process that serves, not in the one that built the app
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="yibao-message")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.handle, body, headers, infno)


def _infno(path: str) -> str | None:
    """``""`` for the endpoint, the ``infno`` for ``…/callService/{infno}``, None for another path."""
    if path == PATH:
        return ""
    if path.startswith(PATH + "/"):
        rest = path[len(PATH) + 1 :]
        return rest if "/" not in rest else None
    return None


async def _body(receive: Receive) -> bytes | None:
    """The request body, or None when the client went away before sending all of it (then the
    message is not processed). Past MAX_BODY the rest is read and dropped (the envelope refuses it)."""
    chunks: list[bytes] = []
    kept = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if kept <= MAX_BODY:
            chunks.append(chunk)
            kept += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Send, status: int, content: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
