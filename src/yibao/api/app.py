"""The ASGI application: the national interface's ``callService`` endpoint.

Every request is one database transaction. A repeated ``msgid`` gets the answer it got the
first time and changes nothing; a refusal (``infcode = -1``) rolls back everything the
request had done; an unexpected failure does the same and says so without details. Every
business answer — success or refusal — is HTTP 200 with the envelope.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Mapping
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from yibao.api import envelope
from yibao.api.auth import GatewayAuthError, GatewayKeys, NonceCache, authenticate, require_institution
from yibao.api.catalogue import FileAnswer
from yibao.api.front import PATH, InterfaceFront
from yibao.api.jsonout import dumps
from yibao.api.transactions import TRANSACTIONS, Call
from yibao.errors import InputError, YibaoError
from yibao.service.messages import TOMBSTONE, recall, remember
from yibao.service.platform import Platform
from yibao.store.models import Message
from yibao.store.pii import PiiLogFilter

log = logging.getLogger("yibao.api")
log.addFilter(PiiLogFilter())

_READ_ONLY = {"postgresql_readonly": True}


class Gateway:
    """Processes one message end to end (synchronous: runs in the server's thread pool)."""

    def __init__(self, platform: Platform, keys: GatewayKeys | None = None) -> None:
        self.platform = platform
        self.keys = keys if keys is not None and len(keys) else None
        self.nonces = NonceCache()
        self._seq = itertools.count(1)
        # psycopg drops every prepared statement of a connection on ROLLBACK (and sends DEALLOCATE
        # ALL), so a read-only message ended by ROLLBACK made PostgreSQL parse and plan the next
        # messages' statements afresh: read-only messages run as BEGIN READ ONLY (a write fails
        # there) and end with COMMIT — PostgreSQL CPU per outpatient flow 8.3 → 5.7 ms
        # (bench/serve_profile.py, docs/benchmarks.md). SQLite has no such cache: ROLLBACK there.
        self._read_only = platform.engine.dialect.name == "postgresql"

    def refmsgid(self) -> str:
        now = self.platform.clock()
        return f"{self.platform.admdvs}{now:%Y%m%d%H%M%S}{next(self._seq) % 10**10:010d}"

    def handle(self, body: bytes, headers: Mapping[str, str], infno_in_path: str | None = None) -> str | FileAnswer:
        """Never raises: every outcome is an envelope (or, for 9102, the file)."""
        received = self.platform.clock()
        refmsgid = self.refmsgid()
        try:
            return self._handle(body, headers, infno_in_path, refmsgid, received)
        except Exception:
            log.exception("message failed outside any transaction")
            return self._refusal(refmsgid, received, "平台内部错误，交易未处理，请稍后重试")

    def _handle(
        self, body: bytes, headers: Mapping[str, str], infno_in_path: str | None, refmsgid: str, received: datetime
    ) -> str | FileAnswer:
        auth = None
        if self.keys is not None:
            # the gateway stands in front of the service: who is calling is settled before the body is read
            try:
                auth = authenticate(headers, self.keys, int(time.time() * 1000), nonces=self.nonces)
            except GatewayAuthError as e:
                return self._refusal(refmsgid, received, e.message)
        try:
            env = envelope.parse(body, infno_in_path)
        except InputError as e:
            return self._refusal(refmsgid, received, e.message)
        if auth is not None:
            try:
                require_institution(auth, env.fixmedins_code)
            except GatewayAuthError as e:
                return self._refusal(refmsgid, received, e.message)
        tx = TRANSACTIONS.get(env.infno)
        if tx is None:
            return self._refusal(refmsgid, received, f"字段 infno：未知的交易编号 {env.infno}")
        for attempt in (1, 2):
            try:
                # the first try does not look the msgid up: a repeat is rare and is caught anyway,
                # by the message row's primary key on success or by the look-up before a refusal
                return self._run(env, tx.writes, tx.scratch, refmsgid, received, recall_first=attempt == 2)
            except IntegrityError:
                # the msgid is stored already (a repeat, a reused or reversed msgid, or the same
                # msgid committed concurrently) or an id collided: the second try answers from the store
                if attempt == 2:
                    log.exception("transaction %s failed twice on integrity", env.infno)
        return self._refusal(refmsgid, received, "平台繁忙，交易未处理，请以同一报文ID重试")

    def _run(
        self,
        env: envelope.Envelope,
        writes: bool,
        scratch: bool,
        refmsgid: str,
        received: datetime,
        recall_first: bool,
    ) -> str | FileAnswer:
        platform = self.platform
        session = platform.sessions()
        read_only = self._read_only and not writes and not scratch
        try:
            session.begin()
            if read_only:
                session.connection(execution_options=_READ_ONLY)
            known = recall(session, env.msgid) if writes and recall_first else None
            if known is not None:
                session.rollback()
                return self._known(known, env, refmsgid, received)
            call = Call(platform, session, env, received)
            try:
                output = TRANSACTIONS[env.infno].handler(call)
                if isinstance(output, FileAnswer):  # 9102 streams the file itself
                    session.commit() if read_only else session.rollback()
                    return output
                answer = dumps(envelope.answer(0, refmsgid, received, platform.clock(), output))
                if writes:
                    remember(session, env.msgid, env.infno, env.fixmedins_code, received, answer,
                             call.setl_id, call.mdtrt_id)  # fmt: skip
                    session.commit()
                elif read_only:
                    session.commit()  # nothing to keep: READ ONLY refused any write
                else:
                    session.rollback()
                return answer
            except YibaoError as e:
                session.rollback()
                refused = self._refusal(refmsgid, received, e.message)
            except IntegrityError:
                session.rollback()
                raise
            except Exception:
                # a database error at flush or commit, or a bug: nothing was written; not remembered,
                # so the client's retry with the same msgid is processed afresh
                session.rollback()
                log.exception("transaction %s failed", env.infno)
                return self._refusal(refmsgid, received, "平台内部错误，交易未处理，请稍后以同一报文ID重试")
            if writes:
                session.begin()
                known = recall(session, env.msgid)
                if known is not None:
                    # refused because the first time changed things (a repeated 2207 finds its visit
                    # settled): the repeat gets the first answer
                    session.rollback()
                    return self._known(known, env, refmsgid, received)
                # remember a business refusal too, so a repeat of this msgid gets the same answer
                remember(session, env.msgid, env.infno, env.fixmedins_code, received, refused)
                session.commit()
            return refused
        finally:
            session.close()

    def _known(self, known: Message, env: envelope.Envelope, refmsgid: str, received: datetime) -> str:
        """The answer to a msgid that is stored already."""
        if known.status == TOMBSTONE:
            return self._refusal(refmsgid, received, "该报文已被冲正（2601），不再处理")
        if known.fixmedins_code != env.fixmedins_code:
            return self._refusal(refmsgid, received, "字段 msgid：报文ID已被其他机构使用")
        if known.infno != env.infno:
            return self._refusal(refmsgid, received, f"字段 msgid：报文ID已用于交易 {known.infno}")
        return known.response

    def _refusal(self, refmsgid: str, received: datetime, message: str) -> str:
        return dumps(envelope.answer(-1, refmsgid, received, self.platform.clock(), {}, message))


def create_app(platform: Platform, keys: GatewayKeys | None = None) -> InterfaceFront:
    """The server's ASGI application: ``callService`` (yibao.api.front) in front of FastAPI."""
    gateway = Gateway(platform, keys)
    app = FastAPI(
        title="yibao",
        description=f"医疗保障信息平台 定点医药机构接口：POST {PATH}（及 {PATH}/{{infno}}）",
        version="0.1.0",
    )

    @app.get("/health")
    def health() -> dict[str, object]:
        # the worker process that answered: with --workers N, which of them a connection reached
        return {"status": "ok", "policy_snapshot": platform.snapshot.id, "worker": os.getpid()}

    return InterfaceFront(gateway.handle, app)
