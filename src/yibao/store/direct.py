"""Statements of the real-time path, built once and run on PostgreSQL on the driver's cursor.

SQLAlchemy's Core path costs about as much CPU as psycopg itself for each of the ~30 short
statements of an outpatient flow: execution context, parameter processing, cursor description
(psycopg builds a Column object per column per result), result metadata and row objects
(bench/serve_profile.py). A :class:`Direct` statement is compiled by SQLAlchemy once per
dialect and set of parameter names; on PostgreSQL it then runs in the session's transaction
on the session's own psycopg connection, with its rows as plain named tuples. Everything else
— SQLite, a statement whose parameters or columns need SQLAlchemy's processing that is not
reproduced here — runs through ``session.execute`` unchanged. Both paths answer the same.

What SQLAlchemy would have done around a statement and is done here too: pending ORM changes
are flushed first; Python-side scalar column defaults are filled in and bind processors are
applied; a driver error is raised as SQLAlchemy's exception (``IntegrityError`` and the rest),
with the parameters hidden (they may hold personal data); a lost connection is invalidated
so the pool does not hand it out again. Not done: the engine's ``before/after_cursor_execute``
events do not fire for these statements.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Float, Numeric, exc
from sqlalchemy.orm import Session
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql import Executable

_CURSOR = "yibao.direct.cursor"
_HELD = "yibao.direct.held"
_M = TypeVar("_M")


@dataclass(frozen=True)
class _Plan:
    sql: str
    dialect: Any
    #: values of bind parameters the caller does not give (literals, scalar column defaults)
    fixed: dict[str, Any]
    #: SQLAlchemy's bind processors by parameter name (Boolean's, ARRAY's, …)
    processors: dict[str, Any]
    row: type | None


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
        if session.autoflush and (session.new or session.deleted or session.identity_map.check_modified()):
            session.flush()
        if plan.fixed:
            params = {**plan.fixed, **params}
        if plan.processors:
            params = {k: (plan.processors[k](v) if k in plan.processors else v) for k, v in params.items()}
        held = session.info.get(_HELD)
        if held is None or held[0] is not session.get_transaction():
            held = session.info[_HELD] = _hold(session)
        _, connection, cursor = held
        try:
            cursor.execute(plan.sql, params)
        except plan.dialect.loaded_dbapi.Error as e:
            dialect = plan.dialect
            lost = dialect.is_disconnect(e, cursor.connection, cursor)
            if lost:
                connection.invalidate(e)
            raise exc.DBAPIError.instance(
                plan.sql,
                None,
                e,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=lost,
                dialect=dialect,
            ) from e
        return _Done(plan, cursor)


def _hold(session: Session) -> tuple[Any, Any, Any]:
    """The session's transaction, its connection and that connection's cursor, kept in the
    session until the transaction ends (asking the session for its connection costs more than
    psycopg's part of a short statement)."""
    connection = session.connection()
    fairy = connection.connection
    cursor = fairy.info.get(_CURSOR)
    if cursor is None:  # one cursor per connection; the pool drops info when it replaces one
        cursor = fairy.info[_CURSOR] = fairy.driver_connection.cursor()  # type: ignore[union-attr]
    return session.get_transaction(), connection, cursor


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
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
    if compiled.escaped_bind_names or compiled.post_compile_params or compiled.literal_execute_params:
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
    return _Plan(compiled.string, dialect, fixed, processors, shape)


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
