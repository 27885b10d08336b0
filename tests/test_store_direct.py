"""``yibao.store.direct``: the real-time path's statements run on PostgreSQL on the driver's
cursor, elsewhere through SQLAlchemy. Each test holds the driver path to what SQLAlchemy does
with the same statement: the same rows and values, defaults filled in, pending ORM changes
flushed first, SQLAlchemy's exceptions (without the parameters, which may hold personal data),
and a lost connection invalidated."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from harness import database
from yibao.store.db import core_table, make_engine, session_factory
from yibao.store.direct import Direct, record


class Base(DeclarativeBase):
    pass


class Probe(Base):
    __tablename__ = "probe_direct"
    id: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))
    amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    price: Mapped[Decimal] = mapped_column(sa.Numeric(16, 6))
    flag: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    day: Mapped[date | None] = mapped_column(sa.Date)
    at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    blob: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    note: Mapped[str] = mapped_column(sa.Text, default="{}")


class Child(Base):
    __tablename__ = "probe_child"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    probe_id: Mapped[str] = mapped_column(sa.ForeignKey("probe_direct.id"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)


class Stamped(Base):
    __tablename__ = "probe_stamped"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime, default=lambda: datetime(2026, 12, 7))


T = core_table(Probe)
INSERT = Direct(sa.insert(T))
BY_ID = sa.select(T).where(T.c.id == sa.bindparam("id"))
SELECT = Direct(BY_ID)
LOCKED = Direct(BY_ID.with_for_update())
FLAGGED = Direct(sa.select(T.c.id, T.c.price).where(T.c.flag == sa.true()).order_by(T.c.id))
ADD = Direct(sa.update(T).where(T.c.id == sa.bindparam("b_id")).values(amount=T.c.amount + sa.bindparam("b_add")))
C = core_table(Child)
INSERT_CHILD = Direct(sa.insert(C))


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path):
    with database(request.param, tmp_path) as url:
        engine = make_engine(url, pool_size=1)
        Base.metadata.create_all(engine)
        try:
            yield session_factory(engine)
        finally:
            engine.dispose()


def full(i: int) -> dict[str, object]:
    return {
        "id": f"P{i}",
        "name": "张三" if i % 2 else "李四",
        "amount": None if i % 3 == 0 else 10**12 + i,
        "price": Decimal(f"{i}.{(7 * i) % 10**6:06d}"),
        "flag": i % 2 == 0,
        "day": date(2026, 1, 1 + i % 28),
        "at": datetime(2026, 12, 7, 12, i % 60, 5, 123456),
        "blob": bytes([i % 256, 0, 255]),
        "note": "医保" * (i % 3),
    }


def on_driver(sessions, direct: Direct, names: tuple[str, ...]) -> bool:
    with sessions() as s:
        return direct.on_driver(s, names)


def test_the_driver_path_answers_what_sqlalchemy_answers(sessions) -> None:
    given = [full(i) for i in range(7)]
    with sessions() as s, s.begin():
        for row in given:
            assert INSERT.run(s, row) == 1
    with sessions() as s, s.begin():
        for row in given:
            ours = SELECT.first(s, {"id": row["id"]})
            theirs = s.execute(BY_ID, {"id": row["id"]}).one()
            assert tuple(ours) == tuple(theirs) == tuple(row.values())
            assert [type(v) for v in ours] == [type(v) for v in theirs]
            assert ours._asdict() == row and ours.price == row["price"]
        assert FLAGGED.rows(s, {}) == [(r["id"], r["price"]) for r in given if r["flag"]]
        assert SELECT.first(s, {"id": "none"}) is None and SELECT.scalar(s, {"id": "none"}) is None
        assert LOCKED.scalar(s, {"id": "P1"}) == "P1"
        assert ADD.run(s, {"b_id": "P1", "b_add": 5}) == 1 and ADD.run(s, {"b_id": "none", "b_add": 5}) == 0
        assert SELECT.first(s, {"id": "P1"}).amount == 10**12 + 6
    # on PostgreSQL these ran on the driver; elsewhere SQLAlchemy ran them
    driver = sessions.kw["bind"].dialect.name == "postgresql"
    assert on_driver(sessions, SELECT, ("id",)) is driver
    assert on_driver(sessions, INSERT, tuple(given[0])) is driver
    assert on_driver(sessions, ADD, ("b_id", "b_add")) is driver


def test_scalar_defaults_are_filled_in_and_a_callable_one_goes_through_sqlalchemy(sessions) -> None:
    with sessions() as s, s.begin():
        INSERT.run(s, {"id": "D1", "name": "n", "price": Decimal("1.5")})
    with sessions() as s:
        got = SELECT.first(s, {"id": "D1"})
        assert (got.flag, got.note, got.amount) == (True, "{}", None)

    stamped = Direct(sa.insert(core_table(Stamped)))
    assert not on_driver(sessions, stamped, ("id",))  # the driver path cannot call it
    with sessions() as s, s.begin():
        stamped.run(s, {"id": 1})
    with sessions() as s:
        assert s.scalar(sa.select(Stamped.at)) == datetime(2026, 12, 7)


def test_pending_orm_changes_are_flushed_before_the_statement(sessions) -> None:
    with sessions() as s, s.begin():
        s.add(Probe(id="O1", name="orm", price=Decimal(2)))
        assert SELECT.scalar(s, {"id": "O1"}) == "O1"


def test_a_driver_error_is_sqlalchemys_and_does_not_show_the_parameters(sessions) -> None:
    with sessions() as s, s.begin():
        INSERT.run(s, full(1))
    again = {**full(1), "name": "王秘密"}
    with pytest.raises(IntegrityError) as caught, sessions() as s, s.begin():
        INSERT.run(s, again)
    assert "王秘密" not in str(caught.value)
    with sessions() as s:  # nothing of the failed transaction stayed; the session works on
        assert SELECT.first(s, {"id": "P1"}).name == "张三"


@pytest.mark.parametrize("sessions", ["postgresql"], indirect=True)
def test_a_lost_connection_is_invalidated_and_not_handed_out_again(sessions) -> None:
    engine = sessions.kw["bind"]
    with sessions() as s, s.begin():
        INSERT.run(s, full(2))
    with sessions() as s:
        pid = s.scalar(sa.text("SELECT pg_backend_pid()"))
        SELECT.first(s, {"id": "P2"})  # the connection and its cursor are held by the session
        with engine.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as caught:
            SELECT.first(s, {"id": "P2"})
        assert caught.value.connection_invalidated
        s.rollback()
        assert SELECT.first(s, {"id": "P2"}).id == "P2"  # a new connection (the pool holds one)
        assert s.scalar(sa.text("SELECT pg_backend_pid()")) != pid


def test_a_record_holds_the_row_outside_the_session(sessions) -> None:
    with sessions() as s, s.begin():
        INSERT.run(s, full(3))
        row = SELECT.first(s, {"id": "P3"})
        probe = record(Probe, row._asdict())
        assert sa.inspect(probe).transient and probe not in s
        assert (probe.id, probe.price, probe.blob) == ("P3", full(3)["price"], full(3)["blob"])


# -- writes held until the next statement or the commit (Direct.later) ----------------------------


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """The statements psycopg's cursors execute (on SQLite none: nothing goes through psycopg)."""
    seen: list[str] = []
    execute = psycopg.Cursor.execute

    def counting(self, query, *args, **kwargs):
        seen.append(query if isinstance(query, str) else str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    return seen


def table(sessions, model) -> list[tuple[object, ...]]:
    with sessions() as s:
        return [tuple(r) for r in s.execute(sa.select(model.__table__).order_by(model.__table__.c.id))]


def test_held_writes_store_what_writes_sent_one_by_one_store(sessions, sent) -> None:
    with sessions() as s, s.begin():
        INSERT.run(s, full(10))
        INSERT.run(s, full(20))

    def writes(way: str, parent: str, child: int, other: str) -> None:
        with sessions() as s, s.begin():
            getattr(INSERT, way)(s, {**full(11), "id": parent})
            getattr(INSERT_CHILD, way)(s, {"id": child, "probe_id": parent, "amount": -7})  # beside its parent
            getattr(ADD, way)(s, {"b_id": other, "b_add": 10**12})  # the table again: its own statement

    del sent[:]
    writes("later", "L", 1, "P10")
    held = list(sent)
    writes("run", "R", 2, "P20")
    probes = {r[0]: r[1:] for r in table(sessions, Probe)}
    assert probes["L"] == probes["R"] and probes["P10"][1] == probes["P20"][1] - 10  # P20's own + 10
    assert [r[1:] for r in table(sessions, Child)] == [("L", -7), ("R", -7)]
    if sessions.kw["bind"].dialect.name == "postgresql":
        # parent and child as one statement, the update of the same table in one of its own
        assert len(held) == 2 and held[0].startswith("WITH w0 AS (INSERT INTO probe_direct")
        assert held[1].startswith("UPDATE probe_direct")


def test_writes_to_one_table_keep_their_order(sessions) -> None:
    with sessions() as s, s.begin():
        INSERT.later(s, full(4))
        ADD.later(s, {"b_id": "P4", "b_add": 5})  # sees the row inserted before it
    with sessions() as s:
        assert SELECT.first(s, {"id": "P4"}).amount == full(4)["amount"] + 5


@pytest.mark.parametrize("reader", ["direct", "core", "orm"])
def test_a_held_write_is_seen_by_the_next_statement_of_any_kind(sessions, reader: str) -> None:
    with sessions() as s, s.begin():
        INSERT.later(s, full(5))
        if reader == "direct":
            assert SELECT.scalar(s, {"id": "P5"}) == "P5"
        elif reader == "core":
            assert s.execute(BY_ID, {"id": "P5"}).one().id == "P5"
        else:
            assert s.get(Probe, "P5") is not None


def test_pending_orm_changes_go_before_a_held_write_and_held_writes_before_an_orm_flush(sessions) -> None:
    with sessions() as s, s.begin():
        s.add(Probe(id="O2", name="orm", price=Decimal(2)))
        INSERT_CHILD.later(s, {"id": 3, "probe_id": "O2", "amount": 1})  # its parent is flushed first
        INSERT.later(s, full(6))
        s.add(Child(id=4, probe_id="P6", amount=2))  # flushed at commit, after its held parent
    assert [r[1] for r in table(sessions, Child)] == ["O2", "P6"]


def test_a_rollback_drops_the_held_writes(sessions, sent) -> None:
    with sessions() as s:
        s.begin()
        INSERT.later(s, full(7))
        s.rollback()
        with s.begin():  # the same connection (the pool holds one): nothing of before is sent
            assert s.execute(BY_ID, {"id": "P7"}).first() is None
    with sessions() as s:
        s.begin()
        INSERT.later(s, full(8))  # closed without commit
    assert table(sessions, Probe) == []
    assert not any("INSERT" in q for q in sent)


def test_a_failing_held_write_fails_the_commit_and_nothing_of_the_transaction_stays(sessions) -> None:
    with sessions() as s, s.begin():
        INSERT.run(s, full(1))
    with pytest.raises(IntegrityError) as caught, sessions() as s, s.begin():
        INSERT_CHILD.later(s, {"id": 5, "probe_id": "P1", "amount": 3})
        INSERT.later(s, {**full(1), "name": "王秘密"})  # the same key again
    assert "王秘密" not in str(caught.value)
    with pytest.raises(IntegrityError), sessions() as s, s.begin():
        INSERT_CHILD.later(s, {"id": 6, "probe_id": "none", "amount": 3})  # no such parent
    assert table(sessions, Child) == []
    assert [r[1] for r in table(sessions, Probe)] == ["张三"]


def test_a_parameter_used_twice_in_a_held_write_is_one_value(sessions) -> None:
    rename = Direct(sa.update(T).where(T.c.id == sa.bindparam("b_id")).values(name=sa.bindparam("b_id")))
    with sessions() as s, s.begin():
        INSERT.run(s, full(9))
        INSERT_CHILD.later(s, {"id": 7, "probe_id": "P9", "amount": 1})
        rename.later(s, {"b_id": "P9"})  # the second part of one statement: its numbers follow the first's
    with sessions() as s:
        assert SELECT.first(s, {"id": "P9"}).name == "P9"
    assert [r[1:] for r in table(sessions, Child)] == [("P9", 1)]


def test_a_write_that_reads_another_table_is_not_held_beside_the_writes_before_it(sessions) -> None:
    # held beside the child's insert it would read the table as it was before the statement
    clear_parents = Direct(sa.update(T).where(T.c.id.in_(sa.select(C.c.probe_id))).values(amount=0))
    with sessions() as s, s.begin():
        INSERT.run(s, full(1))
        INSERT_CHILD.later(s, {"id": 8, "probe_id": "P1", "amount": 1})
        clear_parents.later(s, {})
    with sessions() as s:
        assert SELECT.first(s, {"id": "P1"}).amount == 0


# -- held and one-by-one writes agree (PostgreSQL; elsewhere every write is sent at once) ---------

# few keys, so that writes meet: an insert and an update of one row, a child and its parent's drop
_PROBES = ("P0", "N0", "none")
DROP_CHILDREN = Direct(sa.delete(C).where(C.c.probe_id == sa.bindparam("b_probe_id")))
_OPS = st.one_of(
    st.tuples(st.just("insert"), st.sampled_from(_PROBES[:2])),  # P0 exists: its key refused
    st.tuples(st.just("add"), st.sampled_from(_PROBES), st.integers(-5, 5)),
    st.tuples(st.just("child"), st.sampled_from(_PROBES)),  # "none": no such parent
    st.tuples(st.just("drop"), st.sampled_from(_PROBES)),
    st.tuples(st.just("read"), st.sampled_from(_PROBES)),
    st.tuples(st.just("core"), st.sampled_from(_PROBES)),
)


def _play(sessions, program: list[tuple], held: list[bool]) -> tuple[object, ...]:
    """Run ``program`` in one transaction after a fixed start, each write held or not; what the
    reads saw, how the transaction ended, and the tables after it."""
    with sessions() as s, s.begin():
        s.execute(sa.delete(C))
        s.execute(sa.delete(T))
        INSERT.run(s, {**full(0), "id": "P0"})
    seen: list[object] = []
    children = iter(range(100, 1000))
    try:
        with sessions() as s, s.begin():
            for (op, probe, *rest), hold in zip(program, held, strict=True):
                if op == "insert":
                    (INSERT.later if hold else INSERT.run)(s, {**full(7), "id": probe})
                elif op == "add":
                    (ADD.later if hold else ADD.run)(s, {"b_id": probe, "b_add": rest[0]})
                elif op == "child":
                    (INSERT_CHILD.later if hold else INSERT_CHILD.run)(
                        s, {"id": next(children), "probe_id": probe, "amount": 1}
                    )
                elif op == "drop":
                    (DROP_CHILDREN.later if hold else DROP_CHILDREN.run)(s, {"b_probe_id": probe})
                elif op == "read":
                    seen.append(tuple(SELECT.first(s, {"id": probe}) or ()))
                else:
                    seen.append(tuple(s.execute(BY_ID, {"id": probe}).first() or ()))
        ended = "committed"
    except IntegrityError:
        ended = "refused"
    return tuple(seen), ended, table(sessions, Probe), table(sessions, Child)


def _parents_first(program: list[tuple]) -> bool:
    """No child of a probe this program inserts comes before the insert (held beside its parent
    in one statement such a child is accepted; sent alone it is refused)."""
    inserted: set[str] = set()
    for op, probe, *_ in program:
        if op == "insert":
            inserted.add(probe)
        elif op == "child" and probe.startswith("N") and probe not in inserted:
            return False
    return True


@st.composite
def _cases(draw) -> tuple[list[tuple], list[bool]]:
    """A program and, for each step, whether its write is held (mostly: as on the real-time path)."""
    program = draw(st.lists(_OPS, min_size=2, max_size=12).filter(_parents_first))
    held = draw(st.lists(st.sampled_from([True, True, True, False]), min_size=len(program), max_size=len(program)))
    return program, held


@pytest.mark.parametrize("sessions", ["postgresql"], indirect=True)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_cases())
# the dangers by name: an update of a row inserted before it, a drop of children written before it,
# a refused key among held writes, a read between held writes
@example(case=([("insert", "N0"), ("add", "N0", 5)], [True, True]))
@example(case=([("child", "P0"), ("drop", "P0"), ("child", "P0")], [True, True, True]))
@example(case=([("child", "P0"), ("insert", "P0"), ("add", "P0", 1)], [True, True, True]))
@example(case=([("insert", "N0"), ("core", "N0"), ("child", "N0"), ("read", "N0")], [True, True, True, True]))
def test_held_writes_and_writes_sent_one_by_one_agree_on_any_program(sessions, case) -> None:
    program, held = case
    assert _play(sessions, program, held) == _play(sessions, program, [False] * len(program))
