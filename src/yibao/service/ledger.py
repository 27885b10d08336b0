"""Posting transfers to the books, in the caller's database transaction.

:meth:`Ledger.post` is what a use case calls next to its own writes (a settlement posts its
entries in the same transaction as the settlement row, DESIGN.md §2), so the books and the
business tables commit or roll back together. Posting is idempotent by transfer id: a repeat
with the same postings changes nothing; a different transfer under a used id is refused.

Accounts are created on first use. The set of accounts known to exist is cached per process and
only grows after a commit (``after_commit``), so a rolled-back first posting cannot leave the
cache believing in an account the database does not have.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from yibao.errors import InputError
from yibao.fund.chart import AccountRef
from yibao.fund.transfer import Posting, Transfer, TransferType
from yibao.money import fen_to_yuan
from yibao.store.db import core_table, insert_rows
from yibao.store.direct import Direct
from yibao.store.ledger import LedgerAccount, LedgerPosting, LedgerTransfer

_PENDING = "yibao.ledger.pending_accounts"


def account_row(ref: AccountRef) -> dict[str, object]:
    return {
        "code": ref.code,
        "kind": ref.kind.value,
        "fund": ref.fund.value,
        "region": ref.region,
        "entity": ref.entity,
        "party": ref.party,
    }


def transfer_row(t: Transfer, at: datetime) -> dict[str, object]:
    return {"id": t.id, "type": t.type.value, "ref": t.ref, "booked_on": t.booked_on, "at": at, "memo": t.memo[:400]}


def posting_rows(t: Transfer) -> list[dict[str, object]]:
    return [
        {"transfer_id": t.id, "account": p.account.code, "booked_on": t.booked_on, "amount": p.amount}
        for p in t.postings
    ]


def _upsert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def ensure_accounts(conn: Connection | Session, refs: Iterable[AccountRef], dialect: str) -> None:
    rows = [account_row(r) for r in sorted(set(refs))]
    if rows:
        conn.execute(_upsert(dialect)(LedgerAccount).values(rows).on_conflict_do_nothing())


_TRANSFERS = core_table(LedgerTransfer)
#: built once, over the table (yibao.store.db.core_table says why)
_NEW_TRANSFER = {
    dialect: Direct(_upsert(dialect)(_TRANSFERS).on_conflict_do_nothing().returning(_TRANSFERS.c.id))
    for dialect in ("postgresql", "sqlite")
}


class Ledger:
    """The books' writer for one process (thread-safe)."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def post(self, session: Session, transfer: Transfer, at: datetime) -> bool:
        """Post ``transfer`` in ``session``'s transaction; False when it was already posted."""
        dialect = session.get_bind().dialect.name
        new = [p.account for p in transfer.postings if p.account.code not in self._known]
        if new:
            ensure_accounts(session, new, dialect)
            pending: set[str] = session.info.setdefault(_PENDING, set())
            pending.update(a.code for a in new)
            session.info["yibao.ledger"] = self
        # RETURNING says whether this call inserted the row
        if _NEW_TRANSFER[dialect].first(session, transfer_row(transfer, at)) is None:
            _same_or_refuse(session, transfer)
            return False
        insert_rows(session, LedgerPosting, posting_rows(transfer))
        return True

    def learn(self, codes: Iterable[str]) -> None:
        with self._lock:
            self._known.update(codes)


@event.listens_for(Session, "after_commit")
def _learn_accounts(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    ledger = session.info.pop("yibao.ledger", None)
    if pending and isinstance(ledger, Ledger):
        ledger.learn(pending)


@event.listens_for(Session, "after_rollback")
def _forget_accounts(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop("yibao.ledger", None)


def stored_postings(session: Session, transfer_id: str) -> list[Posting]:
    rows = session.execute(
        select(LedgerPosting.account, LedgerPosting.amount).where(LedgerPosting.transfer_id == transfer_id)
    )
    return [Posting(AccountRef.parse(code), amount) for code, amount in rows]


def stored_transfer(session: Session, transfer_id: str) -> Transfer | None:
    row = session.get(LedgerTransfer, transfer_id)
    if row is None:
        return None
    postings = tuple(sorted(stored_postings(session, transfer_id), key=lambda p: (p.account, p.amount)))
    return Transfer(row.id, TransferType(row.type), row.ref, row.booked_on, postings, row.memo)


def _same_or_refuse(session: Session, transfer: Transfer) -> None:
    def key(ps: Iterable[Posting]) -> list[tuple[str, int]]:
        return sorted((p.account.code, p.amount) for p in ps)

    if key(stored_postings(session, transfer.id)) != key(transfer.postings):
        raise InputError("transfer.id", f"转账编号 {transfer.id} 已用于内容不同的转账，拒绝重复记账")


def balances(
    conn: Connection | Session, upto: date | None = None, codes: Sequence[str] | None = None
) -> dict[str, int]:
    """Account balances (debit positive) from their postings, booked on or before ``upto``."""
    stmt = select(LedgerPosting.account, func.sum(LedgerPosting.amount)).group_by(LedgerPosting.account)
    if upto is not None:
        stmt = stmt.where(LedgerPosting.booked_on <= upto)
    if codes is not None:
        stmt = stmt.where(LedgerPosting.account.in_(list(codes)))
    return {code: int(total) for code, total in conn.execute(stmt)}


def require_floors(session: Session, transfer: Transfer) -> None:
    """Refuse a transfer that would take a floored account below zero on its normal side
    (a special account overdrawn, a hospital paid more than it is owed)."""
    risky = [p for p in transfer.postings if p.account.kind.floor and (p.amount < 0) != p.account.kind.credit_normal]
    if not risky:
        return
    if session.get_bind().dialect.name == "postgresql":
        # two transfers drawing on one account at once must not both see the balance before the other:
        # a transaction-scoped advisory lock per account, taken in code order (no deadlock). SQLite's
        # BEGIN IMMEDIATE serialises writers already. Settlements never draw on these accounts.
        for code in sorted({p.account.code for p in risky}):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:code))"), {"code": code})
    now = balances(session, codes=[p.account.code for p in risky])
    for p in risky:
        after = now.get(p.account.code, 0) + p.amount
        normal = -after if p.account.kind.credit_normal else after
        if normal < 0:
            raise InputError(
                "amount",
                f"{transfer.type.label}：{p.account.kind.label} {p.account.code} 余额不足"
                f"（现有 {fen_to_yuan(abs(now.get(p.account.code, 0)))} 元，需 {fen_to_yuan(abs(p.amount))} 元）",
            )
