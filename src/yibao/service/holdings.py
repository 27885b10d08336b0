"""What a settlement reads and changes of a person besides the visit: the year's accumulators
(累计, one row per person × scheme × pooling region × year) and personal account balances (个人账户).

Both are handled as plain rows through prebuilt Core statements, not ORM objects: the real-time
path reads them once, hands them to the engine and writes the engine's answer back, so the
ORM's identity map and change tracking would only cost CPU (bench/serve_profile.py).

Locking (settling.py gives the order): on PostgreSQL the accumulator row is created if missing
and locked by one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` — the conflicting row is locked
as ``SELECT … FOR UPDATE`` would, and a waiter gets the row as the holder committed it. Account
rows are read ``FOR UPDATE`` and changed by a relative ``UPDATE`` next to their movement row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from yibao.engine.state import COUNTERS, Accumulators
from yibao.store.db import core_table, insert_rows
from yibao.store.direct import Direct
from yibao.store.models import Account, AccountMovement, Accumulator

ACC_KEY = ("psn_no", "insutype", "region_code", "year")
_ACC = core_table(Accumulator)
_ACCOUNT = core_table(Account)
_COLUMNS = [_ACC.c[c] for c in (*ACC_KEY, *COUNTERS, "chronic")]
_NEW = {**dict.fromkeys(COUNTERS, 0), "chronic": "{}"}

#: statements built once (constructing one costs more CPU than PostgreSQL spends running it)
_ACC_READ = Direct(select(*_COLUMNS).where(*(_ACC.c[k] == bindparam(k) for k in ACC_KEY)))
# the no-op SET makes the conflicting row locked and returned; a new row is created with zeros
_ACC_HOLD = {
    dialect: Direct(
        insert(_ACC)
        .values(**_NEW)
        .on_conflict_do_update(index_elements=list(ACC_KEY), set_={"psn_no": insert(_ACC).excluded.psn_no})
        .returning(*_COLUMNS)
    )
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
# "b_": column-named bind parameters are reserved in UPDATE
_ACC_WRITE = Direct(
    update(_ACC)
    .where(*(_ACC.c[k] == bindparam(f"b_{k}") for k in ACC_KEY))
    .values({c: bindparam(f"b_{c}") for c in (*COUNTERS, "chronic")})
)
_BALANCE_OF = select(_ACCOUNT.c.balance).where(_ACCOUNT.c.psn_no == bindparam("psn_no"))
_BALANCE = Direct(_BALANCE_OF)
_BALANCE_LOCKED = Direct(_BALANCE_OF.with_for_update())
_ADD = Direct(
    update(_ACCOUNT)
    .where(_ACCOUNT.c.psn_no == bindparam("b_psn_no"))
    .values(balance=_ACCOUNT.c.balance + bindparam("b_amount"))
)


def hold_accumulators(session: Session, key: dict[str, object], lock: bool) -> Mapping[str, Any]:
    """The accumulator row of ``key``; with ``lock`` created when missing and locked until commit.
    Without it a missing row reads as the zeros a new year starts from, and nothing is written."""
    if lock:
        held = _ACC_HOLD[session.get_bind().dialect.name].first(session, key)
        assert held is not None  # the upsert returns the row it inserted or locked
        return held._asdict()  # type: ignore[no-any-return]
    found = _ACC_READ.first(session, key)
    return found._asdict() if found is not None else {**key, **_NEW}


def to_engine(row: Mapping[Any, Any], scheme: str, balance: int) -> Accumulators:
    acc = Accumulators(row["psn_no"], scheme, row["region_code"], row["year"], account_balance=balance)
    for name in COUNTERS:
        setattr(acc, name, row[name] or 0)
    acc.chronic = {k: dict(v) for k, v in json.loads(row["chronic"] or "{}").items()}
    return acc


def store_accumulators(session: Session, row: Mapping[Any, Any], acc: Accumulators) -> None:
    """Write the engine's accumulators back to the (locked) row read as ``row``, if they changed."""
    values: dict[str, object] = {name: getattr(acc, name) for name in COUNTERS}
    values["chronic"] = json.dumps(acc.chronic, sort_keys=True)
    if all(row[name] == v for name, v in values.items()):
        return
    _ACC_WRITE.later(session, {**{f"b_{k}": row[k] for k in ACC_KEY}, **{f"b_{k}": v for k, v in values.items()}})


def account_balance(session: Session, psn_no: str, lock: bool) -> int:
    """A personal account's balance; with ``lock`` the row is created when missing and locked."""
    found = (_BALANCE_LOCKED if lock else _BALANCE).scalar(session, {"psn_no": psn_no})
    if found is None:
        if lock:
            insert_rows(session, Account, {"psn_no": psn_no, "balance": 0})
        return 0
    return int(found)


def move(
    session: Session, psn_no: str, amount: int, kind: str, setl_id: str, beneficiary: str | None, at: datetime
) -> None:
    """Change a (locked) account's balance by ``amount`` and record the movement (账户变动)."""
    if amount == 0:
        return
    _ADD.later(session, {"b_psn_no": psn_no, "b_amount": amount})
    insert_rows(
        session,
        AccountMovement,
        {
            "psn_no": psn_no,
            "amount": amount,
            "kind": kind,
            "setl_id": setl_id,
            "beneficiary_psn_no": beneficiary,
            "at": at,
        },
    )
