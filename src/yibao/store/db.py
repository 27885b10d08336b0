"""Database engines and transactions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged settlement survives a
crash), foreign keys on, and every write transaction opened with ``BEGIN IMMEDIATE`` so
concurrent writers queue instead of failing half-way. PostgreSQL uses psycopg 3; the
service serialises one person's settlements by locking the accumulator row
(``yibao.service.holdings``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Engine,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from yibao.store.direct import Direct

DEFAULT_URL = "sqlite:///yibao.db"


#: a statement's parameters stay out of SQLAlchemy's exceptions, and so out of the logs that print
#: them: they hold names, answers with names in them and other personal data
HIDE_PARAMETERS = True


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, hide_parameters=HIDE_PARAMETERS
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # the driver must not open transactions itself: we issue BEGIN IMMEDIATE
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    # no pre-ping: it costs a round trip per checkout; a connection that died is invalidated on its
    # first error (that request is refused and not remembered, so the client's retry succeeds)
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, hide_parameters=HIDE_PARAMETERS
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit if the block returns, roll back if it raises."""
    with factory() as session, session.begin():
        yield session


def core_table(model: type[DeclarativeBase]) -> Table:
    """The mapped class's table. The real-time path builds its statements over tables, not mapped
    classes: a statement over a mapped class runs through the ORM's compile and load (or bulk)
    steps even when it reads or writes plain columns (bench/serve_profile.py)."""
    return cast(Table, model.__table__)


_INSERTS: dict[Table, tuple[Direct, Any]] = {}
_JSON_INSERTS: dict[tuple[Table, tuple[str, ...]], Direct] = {}


def insert_rows(
    session: Session, model: type[DeclarativeBase], rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> None:
    """INSERT rows that this transaction does not read back, through Core rather than the unit of
    work: building, tracking and flushing ORM objects cost several times the statement itself on
    the real-time path (bench/serve_profile.py). Pending ORM changes are flushed first, so foreign
    keys see their parents. On PostgreSQL the statement is held and sent with the transaction's
    other held writes (``Direct.later``): an error shows at the next statement or the commit.

    Several rows on PostgreSQL go as one fixed statement with the rows as one JSON parameter,
    ``INSERT … SELECT … FROM json_populate_recordset(NULL::table, :rows) WITH ORDINALITY``: its
    text does not depend on the number of rows, so psycopg converts it once and the server keeps
    it prepared (a multi-row ``INSERT … VALUES`` has a new text for every row count, and psycopg
    re-parsed a long one on every call), and the C JSON encoder builds the parameter for a
    fraction of what psycopg spent dumping one array per column (``unnest``, before 2026-12-07).
    Elsewhere (SQLite) several rows go as a multi-row ``INSERT … VALUES`` ("insertmanyvalues",
    which SQLAlchemy uses when the statement has ``RETURNING``). The statements are built once."""
    if not rows:
        return
    table = core_table(model)
    built = _INSERTS.get(table)
    if built is None:
        one = insert(table)
        built = _INSERTS[table] = (Direct(one), one.returning(*table.primary_key.columns))
    if isinstance(rows, Mapping):
        built[0].later(session, dict(rows))
        return
    rows = list(rows)
    names = tuple(rows[0])
    if session.get_bind().dialect.name != "postgresql" or any(tuple(r) != names for r in rows):
        session.execute(built[1], rows)
        return
    stmt = _JSON_INSERTS.get((table, names))
    if stmt is None:
        stmt = _JSON_INSERTS[(table, names)] = Direct(_json_insert(table, names))
    stmt.later(session, {"rows": json.dumps(rows, ensure_ascii=False, default=_json_value, separators=(",", ":"))})


def _json_insert(table: Table, names: tuple[str, ...]) -> Any:
    """``INSERT INTO t (names) SELECT r.name, … FROM json_populate_recordset(NULL::t, :rows)
    WITH ORDINALITY AS r ORDER BY r.ordinality``: rows keep their order (serial keys follow it).
    Each value goes through its column type's input, with the column's length and scale, as in
    ``VALUES``: a value too long for its column fails."""
    rows = cast(Any, bindparam("rows", type_=Text()))
    source = func.json_populate_recordset(literal_column(f"NULL::{table.name}"), sql_cast(rows, JSON)).table_valued(
        *names, with_ordinality="ordinality"
    )
    return insert(table).from_select(list(names), select(*(source.c[n] for n in names)).order_by(source.c.ordinality))


def _json_value(value: object) -> str:
    """Decimals as their exact digits, dates and times in ISO form: PostgreSQL reads a JSON string
    with the column type's input (``NUMERIC(16,6)`` from ``"12.345600"`` exactly)."""
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not stored through JSON: {type(value).__name__}")
