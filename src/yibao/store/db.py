"""Database engines and transactions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged settlement survives a
crash), foreign keys on, and every write transaction opened with ``BEGIN IMMEDIATE`` so
concurrent writers queue instead of failing half-way. PostgreSQL uses psycopg 3; the
service serialises one person's settlements by locking the accumulator row
(``yibao.service.holdings``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Engine, Numeric, String, Table, bindparam, create_engine, event, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeEngine

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
_UNNEST_INSERTS: dict[tuple[Table, tuple[str, ...]], Direct] = {}


def insert_rows(
    session: Session, model: type[DeclarativeBase], rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> None:
    """INSERT rows that this transaction does not read back, through Core rather than the unit of
    work: building, tracking and flushing ORM objects cost several times the statement itself on
    the real-time path (bench/serve_profile.py). Pending ORM changes are flushed first, so foreign
    keys see their parents.

    Several rows on PostgreSQL go as one fixed statement, ``INSERT … SELECT FROM unnest(arrays)``:
    its text does not depend on the number of rows, so psycopg converts it once and the server
    can keep it prepared. A multi-row ``INSERT … VALUES`` has a new text for every row count, and
    psycopg re-parses a long one on every call (≈ 9 % of the CPU of a fee upload of 10 lines);
    an executemany is prepared and then dropped with ``DEALLOCATE ALL`` after the next ROLLBACK.
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
        built[0].run(session, dict(rows))
        return
    rows = list(rows)
    names = tuple(rows[0])
    if session.get_bind().dialect.name != "postgresql" or any(tuple(r) != names for r in rows):
        session.execute(built[1], rows)
        return
    stmt = _UNNEST_INSERTS.get((table, names))
    if stmt is None:
        stmt = _UNNEST_INSERTS[(table, names)] = Direct(_unnest_insert(table, names))
    stmt.run(session, {f"a_{n}": [r[n] for r in rows] for n in names})


def _unnest_insert(table: Table, names: tuple[str, ...]) -> Any:
    """``INSERT INTO t (names) SELECT … FROM unnest(:a_name::type[], …) WITH ORDINALITY ORDER BY ord``:
    rows keep their order (serial keys follow it). The arrays are of the unbounded type, so a
    value too long for its column fails on assignment as it would in ``VALUES`` (an explicit cast
    to ``VARCHAR(n)`` would cut it silently)."""

    def loose(kind: TypeEngine[Any]) -> TypeEngine[Any]:
        if isinstance(kind, String):
            return String()
        if isinstance(kind, Numeric):
            return Numeric()
        return kind

    arrays = [bindparam(f"a_{n}", type_=ARRAY(loose(table.c[n].type))) for n in names]
    source = func.unnest(*arrays).table_valued(*names, with_ordinality="ord").render_derived()
    return insert(table).from_select(list(names), select(*(source.c[n] for n in names)).order_by(source.c.ord))
