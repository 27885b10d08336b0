"""Statements of the real-time path, built once and run on PostgreSQL on the driver's cursor.

SQLAlchemy's Core path costs about as much CPU as psycopg itself for each of the ~30 short
statements of an outpatient flow: execution context, parameter processing, cursor description
(psycopg builds a Column object per column per result), result metadata and row objects
(bench/serve_profile.py). A :class:`Direct` statement is compiled by SQLAlchemy once per
dialect and set of parameter names; on PostgreSQL it then runs in the session's transaction
on the session's own psycopg connection, with its rows as plain named tuples; the cursor is a
``RawCursor`` and the placeholders are numbered once as PostgreSQL's ``$n`` (psycopg's usual cursor
parses a long statement's text for them on every call). Everything else — SQLite, a statement
whose parameters or columns need SQLAlchemy's processing that is not reproduced here — runs
through ``session.execute`` unchanged. Both paths answer the same.

What SQLAlchemy would have done around a statement and is done here too: pending ORM changes
are flushed first; Python-side scalar column defaults are filled in and bind processors are
applied; a driver error is raised as SQLAlchemy's exception (``IntegrityError`` and the rest),
with the parameters hidden (they may hold personal data); a lost connection is invalidated
so the pool does not hand it out again. Not done: the engine's ``before/after_cursor_execute``
events do not fire for these statements.

Writes whose outcome the transaction does not read (no rows, no row count: a message row, fee
lines, a settlement and its details, a balance change) go through :meth:`Direct.later`. On
PostgreSQL they are held and sent together, as one statement whose writes are data-modifying
``WITH`` parts (``WITH w0 AS (INSERT …), w1 AS (UPDATE …) INSERT …``), just before the
transaction's next statement of any kind — this module's, SQLAlchemy's (ORM flush, ``execute``)
— or its commit; a rollback drops them. One statement costs the client and the server about a
quarter of what each of its writes cost as a round trip of its own (bench/serve_profile.py). It
is the same as sending them one by one because: the parts of one statement see the same
snapshot, so two writes to one table are never put into one statement (the first goes ahead)
and a write that reads another table is not held at all; foreign keys are checked at the end of
the statement, so a child written beside its parent is accepted and a missing parent is still
refused; and a failing write fails the whole statement, inside the transaction that is then
rolled back. What differs: an error is raised at the next statement or the commit, not at the
call; and a child held before its parent in the same statement is accepted where, sent alone, it
would have been refused (the real-time path writes parents first). Elsewhere (SQLite) a write is
sent at once. tests/test_store_direct.py holds random programs of held writes to the answers,
rows and outcome of the same programs sent one by one.
"""

from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from psycopg import RawCursor
from sqlalchemy import Engine, Float, Numeric, event, exc
from sqlalchemy.orm import Session
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.pool import Pool
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.util import find_tables

_CURSOR = "yibao.direct.cursor"
_HELD = "yibao.direct.held"
#: the writes held for the connection's transaction (in the pool's per-connection info)
_LATER = "yibao.direct.later"
#: at most this many writes in one statement (each part costs the planner a little)
MAX_HELD = 32
_M = TypeVar("_M")


@dataclass(frozen=True, eq=False)  # compared and hashed as itself: a key of _COMBINED
class _Plan:
    #: the statement with PostgreSQL's own placeholders ($1, $2, …), for psycopg's RawCursor
    sql: str
    #: the parameter of each placeholder, in order
    names: tuple[str, ...]
    #: the statement as SQLAlchemy compiled it (pyformat), from which combined statements are built
    pyformat: str
    dialect: Any
    #: values of bind parameters the caller does not give (literals, scalar column defaults)
    fixed: dict[str, Any]
    #: SQLAlchemy's bind processors by parameter name (Boolean's, ARRAY's, …)
    processors: dict[str, Any]
    row: type | None
    #: the table an INSERT/UPDATE/DELETE without RETURNING writes (it may be held: Direct.later)
    writes: str | None = None


class Direct:
    """A statement built once; see the module's docstring for how it runs."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan | None] = {}

    # -- answers ---------------------------------------------------------------------------

    def rows(self, session: Session, params: dict[str, Any]) -> list[Any]:
        """All rows, each with its columns by name (attribute) and position."""
        cursor = self._run(session, params)
        if isinstance(cursor, _Fallback):
            return list(cursor.result.all())
        row = cursor.plan.row
        assert row is not None, "statement returns no rows"
        return [row._make(t) for t in cursor.cursor.fetchall()]  # type: ignore[attr-defined]

    def first(self, session: Session, params: dict[str, Any]) -> Any | None:
        found = self.rows(session, params)
        return found[0] if found else None

    def scalar(self, session: Session, params: dict[str, Any]) -> Any | None:
        found = self.rows(session, params)
        return found[0][0] if found else None

    def scalars(self, session: Session, params: dict[str, Any]) -> list[Any]:
        return [r[0] for r in self.rows(session, params)]

    def run(self, session: Session, params: dict[str, Any]) -> int:
        """Execute a statement without rows; the number of rows it changed."""
        cursor = self._run(session, params)
        if isinstance(cursor, _Fallback):
            return int(cursor.result.rowcount)
        return int(cursor.cursor.rowcount)

    def later(self, session: Session, params: dict[str, Any]) -> None:
        """Execute a write whose outcome this transaction does not read, held on PostgreSQL until
        the transaction's next statement or its commit (see the module's docstring)."""
        plan = self._plan_for(session, tuple(params))
        if plan is None or plan.writes is None:
            self._run(session, params)
            return
        held, values = self._prepare(session, plan, params)
        if held.later and (len(held.later) >= MAX_HELD or any(p.writes == plan.writes for p, _ in held.later)):
            _send(held.later, held.cursor, held.connection, plan.dialect)
        held.later.append((plan, values))

    def on_driver(self, session: Session, names: tuple[str, ...]) -> bool:
        """Whether the statement with parameters ``names`` runs on the driver's cursor here."""
        return self._plan_for(session, names) is not None

    # -- running ---------------------------------------------------------------------------

    def _plan_for(self, session: Session, names: tuple[str, ...]) -> _Plan | None:
        dialect = (session.bind if session.bind is not None else session.get_bind()).dialect
        key = (dialect.name, names)
        try:
            return self._plans[key]
        except KeyError:
            plan = self._plans[key] = _plan(self.statement, dialect, names)
            return plan

    def _run(self, session: Session, params: dict[str, Any]) -> _Done | _Fallback:
        plan = self._plan_for(session, tuple(params))
        if plan is None:
            return _Fallback(session.execute(self.statement, params))
        held, values = self._prepare(session, plan, params)
        if held.later:
            _send(held.later, held.cursor, held.connection, plan.dialect)
        _execute(held.cursor, held.connection, plan.dialect, plan.sql, values)
        return _Done(plan, held.cursor)

    @staticmethod
    def _prepare(session: Session, plan: _Plan, params: dict[str, Any]) -> tuple[_Held, list[Any]]:
        """The transaction's connection and cursor, and the placeholders' values as the driver
        takes them; pending ORM changes are flushed first, as SQLAlchemy's autoflush would."""
        if session.autoflush and (session.new or session.deleted or session.identity_map.check_modified()):
            session.flush()
        if plan.fixed:
            params = {**plan.fixed, **params}
        if plan.processors:
            params = {k: (plan.processors[k](v) if k in plan.processors else v) for k, v in params.items()}
        held = session.info.get(_HELD)
        if held is None or held.transaction is not session.get_transaction():
            held = session.info[_HELD] = _hold(session)
        return held, [params[name] for name in plan.names]


@dataclass
class _Held:
    """The session's transaction, its connection, that connection's cursor and the writes held
    for it, kept in the session until the transaction ends (asking the session for its
    connection costs more than psycopg's part of a short statement)."""

    transaction: Any
    connection: Any
    cursor: Any
    later: list[tuple[_Plan, list[Any]]] = field(default_factory=list)


def _hold(session: Session) -> _Held:
    connection = session.connection()
    fairy = connection.connection
    cursor = fairy.info.get(_CURSOR)
    if cursor is None:  # one cursor per connection; the pool drops info when it replaces one
        # a RawCursor takes $n placeholders as they are: psycopg's pyformat cursor parses each
        # statement's text for its placeholders (cached only for short ones with few parameters)
        cursor = fairy.info[_CURSOR] = RawCursor(cast(Any, fairy.driver_connection))
    held = _Held(session.get_transaction(), connection, cursor)
    # where the connection's events find them (a rollback empties the list in place)
    fairy.info[_LATER] = held.later
    return held


def _execute(cursor: Any, connection: Any, dialect: Any, sql: str, values: list[Any]) -> None:
    """``cursor.execute``; a driver error raised as SQLAlchemy's, a lost connection invalidated."""
    try:
        cursor.execute(sql, values)
    except dialect.loaded_dbapi.Error as e:
        lost = dialect.is_disconnect(e, cursor.connection, cursor)
        if lost:
            connection.invalidate(e)
        raise exc.DBAPIError.instance(
            sql, None, e, dialect.loaded_dbapi.Error, hide_parameters=True, connection_invalidated=lost, dialect=dialect
        ) from e


def _send(later: list[tuple[_Plan, list[Any]]], cursor: Any, connection: Any, dialect: Any) -> None:
    """Send the held writes as one statement, and forget them (also when it fails: the
    transaction is then rolled back)."""
    items = list(later)
    later.clear()
    if len(items) == 1:
        sql, values = items[0][0].sql, items[0][1]
    else:
        sql = _combined(tuple(p for p, _ in items))
        values = [v for _, part in items for v in part]
    _execute(cursor, connection, dialect, sql, values)


#: keyed by the plans themselves (not their ids, which a plan dropped with its Direct would free)
_COMBINED: dict[tuple[_Plan, ...], str] = {}
_PARAM = re.compile(r"%\(([^)]+)\)s")


def _combined(plans: tuple[_Plan, ...]) -> str:
    """``WITH w0 AS (…), w1 AS (…) …`` for these writes, each part's placeholders numbered on
    from the last part's (built once per sequence of statements)."""
    sql = _COMBINED.get(plans)
    if sql is None:
        parts, start = [], 0
        for plan in plans:
            parts.append(_numbered(plan.pyformat, start)[0])
            start += len(plan.names)
        heads = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(parts[:-1]))
        sql = _COMBINED[plans] = f"WITH {heads} {parts[-1]}"
    return sql


def _numbered(pyformat: str, start: int = 0) -> tuple[str, tuple[str, ...]]:
    """``%(name)s`` placeholders as ``$n`` (a name used twice keeps its number), numbered from
    ``start`` + 1, and the names in their numbers' order."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${start + names.setdefault(match.group(1), len(names) + 1)}"

    return _PARAM.sub(number, pyformat), tuple(names)


def _held_on(conn: Any) -> list[tuple[_Plan, list[Any]]] | None:
    """The writes held for a SQLAlchemy connection's transaction, if any."""
    info = conn.info if not conn.invalidated else None
    return info.get(_LATER) if info else None


@event.listens_for(Engine, "before_cursor_execute")
def _before_statement(conn: Any, _cursor: Any, _sql: Any, _params: Any, _context: Any, _many: bool) -> None:
    # a statement of SQLAlchemy's (an ORM flush, session.execute) sees the held writes
    later = _held_on(conn)
    if later:
        _send(later, conn.info[_CURSOR], conn, conn.dialect)


@event.listens_for(Engine, "commit")
def _before_commit(conn: Any) -> None:
    later = _held_on(conn)
    if later:
        _send(later, conn.info[_CURSOR], conn, conn.dialect)


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Any) -> None:
    later = _held_on(conn)
    if later:
        later.clear()


@event.listens_for(Pool, "reset")
def _on_reset(_dbapi_connection: Any, record: Any, _state: Any) -> None:
    # a connection going back to the pool ends its transaction: nothing held outlives it
    later = record.info.get(_LATER)
    if later:
        later.clear()


def record(model: type[_M], values: dict[str, Any]) -> _M:
    """An instance of ``model`` holding column ``values``, outside any session: what the real-time
    path reads and hands on without changing it through the ORM. Built without the mapped
    class's constructor, which costs about 2 µs per column in attribute events (bench/serve_profile.py);
    the values are the instance's state as a loaded object's are."""
    instance: _M = manager_of_class(model).new_instance()
    instance.__dict__.update(values)
    return instance


@dataclass
class _Done:
    plan: _Plan
    cursor: Any


@dataclass
class _Fallback:
    result: Any


def _plan(statement: Executable, dialect: Any, names: tuple[str, ...]) -> _Plan | None:
    """How to run ``statement`` with parameters ``names`` on the driver, or None where
    SQLAlchemy must run it (not PostgreSQL, or something this module does not reproduce)."""
    if dialect.name != "postgresql":
        return None
    # a write without RETURNING of its own is compiled as for executemany: otherwise SQLAlchemy adds
    # "RETURNING id" to learn a new row's key, which nothing here asks for (and a write that
    # returns rows cannot be held: Direct.later)
    plain_write = isinstance(statement, UpdateBase) and not statement._returning
    compiled: Any = statement.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=list(names), for_executemany=plain_write
    )
    if compiled.escaped_bind_names or compiled.post_compile_params or compiled.literal_execute_params:
        return None
    if "%%" in compiled.string:  # a literal "%": its escape would have to be undone around $n
        return None
    fixed: dict[str, Any] = {}
    for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
        default = column.default if column in compiled.insert_prefetch else column.onupdate
        if default is None or not default.is_scalar:
            return None  # a callable default: SQLAlchemy calls it
        fixed[column.key] = default.arg
    for name, value in compiled.construct_params(_check=False).items():
        if name in names or name in fixed:
            continue
        bound = compiled.binds[name]
        if bound.required or bound.callable is not None:
            return None
        fixed[name] = value
    if any(name not in compiled.binds for name in names):
        return None
    processors = {k: p for k, p in compiled._bind_processors.items() if p is not None}
    shape: type | None = None
    if compiled._result_columns:
        if any(_processed(c[3], dialect) for c in compiled._result_columns):
            return None
        try:
            shape = namedtuple("Row", [c[0] for c in compiled._result_columns])  # type: ignore[misc,no-redef]
        except ValueError:  # a name that is not an identifier, or twice
            return None
    # a write that may be held: one part of a combined statement. Not one that reads another
    # table (the parts see the statement's snapshot, not each other's writes), nor one with a WITH
    # of its own (a part cannot hold one)
    writes: str | None = None
    if isinstance(statement, UpdateBase) and plain_write and shape is None:
        target = statement.table.name  # type: ignore[union-attr]
        alone = {t.name for t in find_tables(statement, include_crud=True)} == {target}
        if alone and not compiled.string.lstrip().upper().startswith("WITH"):
            writes = target
    sql, order = _numbered(compiled.string)
    return _Plan(sql, order, compiled.string, dialect, fixed, processors, shape, writes)


#: PostgreSQL's type oid of NUMERIC: a Numeric (not Float) column comes back as one, and psycopg
#: answers it as Decimal, which is what SQLAlchemy answers too (no processor for that oid)
_NUMERIC_OID = 1700


def _processed(kind: Any, dialect: Any) -> bool:
    """Whether SQLAlchemy would change this column's values after the driver (then it runs them)."""
    oid = _NUMERIC_OID if isinstance(kind, Numeric) and not isinstance(kind, Float) else None
    try:
        return kind._cached_result_processor(dialect, oid) is not None
    except Exception:  # a processor that depends on what the driver says the column is
        return True
