"""Messages by ``msgid``: a repeat gets the first answer; 2601 reverses by the original ``msgid``.

A reversal of a message that never arrived leaves a tombstone, so the original — should it
arrive late — is refused rather than settled after the client gave up on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from yibao.errors import InputError
from yibao.service.platform import Platform
from yibao.service.settling import cancel_settlement
from yibao.service.visits import cancel_visit, visit_of
from yibao.store.db import insert_rows
from yibao.store.models import Message
from yibao.store.models import Settlement as SettlementRow

REVERSIBLE = {"2102": ("pharmacy",), "2207": ("outpatient", "chronic"), "2304": ("inpatient",), "2401": ()}
DONE, REVERSED, TOMBSTONE = "done", "reversed", "tombstone"


_MESSAGE = select(Message).where(Message.msgid == bindparam("msgid"))


def recall(session: Session, msgid: str) -> Message | None:
    # a built statement, not session.get: every message asks this once, in a session of its own
    return session.scalar(_MESSAGE, {"msgid": msgid})


def remember(
    session: Session,
    msgid: str,
    infno: str,
    fixmedins_code: str,
    at: datetime,
    response: str,
    setl_id: str | None = None,
    mdtrt_id: str | None = None,
) -> None:
    insert_rows(
        session,
        Message,
        {
            "msgid": msgid,
            "infno": infno,
            "fixmedins_code": fixmedins_code,
            "received_at": at,
            "status": DONE,
            "response": response,
            "setl_id": setl_id,
            "mdtrt_id": mdtrt_id,
        },
    )


def reverse_message(
    session: Session, platform: Platform, omsgid: str, oinfno: str, psn_no: str, fixmedins_code: str, msgid: str
) -> str:
    """2601 冲正: undo what ``omsgid`` did (a settlement or an admission). Returns what happened."""
    if oinfno not in REVERSIBLE:
        raise InputError("oinfno", f"交易 {oinfno} 不能冲正（仅 2102、2207、2304、2401）")
    original = session.get(Message, omsgid)
    if original is None:
        session.add(
            Message(
                msgid=omsgid,
                infno=oinfno,
                fixmedins_code=fixmedins_code,
                received_at=platform.clock(),
                status=TOMBSTONE,
                response="",
            )
        )
        return "原交易未到达平台，已登记冲正，原报文此后到达将被拒绝"
    if original.fixmedins_code != fixmedins_code:
        raise InputError("omsgid", "原报文不属于本机构")
    if original.infno != oinfno:
        raise InputError("oinfno", f"原报文的交易编号为 {original.infno}")
    if original.status in (REVERSED, TOMBSTONE):
        return "原交易已冲正"
    if original.setl_id is None and original.mdtrt_id is None:
        original.status = REVERSED
        return "原交易未成功，无需冲正"
    if oinfno == "2401":
        assert original.mdtrt_id is not None
        cancel_visit(session, visit_of(session, original.mdtrt_id, psn_no, fixmedins_code, lock=True))
    else:
        assert original.setl_id is not None
        row = session.get(SettlementRow, original.setl_id)
        if row is not None and row.status == "settled":
            cancel_settlement(
                session, platform, original.setl_id, "", psn_no, fixmedins_code, msgid, REVERSIBLE[oinfno]
            )
    original.status = REVERSED
    return "冲正成功"
