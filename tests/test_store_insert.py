"""``insert_rows``: rows the real-time path writes and does not read back (fee lines, settlement
details) go in as one statement — on PostgreSQL ``INSERT … SELECT FROM json_populate_recordset(…)``, on
SQLite a multi-row ``VALUES``. Both must store exactly what was given, in the order given (the
serial key follows it: settlement reads fee lines back by it), and refuse what the column cannot
hold instead of cutting it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DataError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from harness import database
from yibao.store.db import insert_rows, make_engine, session_factory


class Base(DeclarativeBase):
    pass


class Line(Base):
    __tablename__ = "probe_line"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(sa.String(5))
    price: Mapped[Decimal] = mapped_column(sa.Numeric(16, 4))
    amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    approved: Mapped[bool] = mapped_column(sa.Boolean)
    note: Mapped[str] = mapped_column(sa.String(20), default="")
    day: Mapped[date | None] = mapped_column(sa.Date)
    at: Mapped[datetime | None] = mapped_column(sa.DateTime)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path):
    with database(request.param, tmp_path) as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        try:
            yield session_factory(engine)
        finally:
            engine.dispose()


def rows(n: int, start: int = 0) -> list[dict[str, object]]:
    # codes in descending order, so an insert that sorted by value would be caught
    return [
        {
            "code": f"C{999 - start - i:03d}",
            "price": Decimal(f"{i}.{(7 * i) % 10000:04d}"),
            "amount": None if i % 3 == 0 else 10**12 + i,  # beyond 32 bits, and NULLs among them
            "approved": i % 2 == 0,
            "note": "医保" * (i % 4) + ('"\\' if i % 5 == 1 else ""),  # quotes and backslashes survive
            "day": None if i % 4 == 3 else date(2026, 1 + i % 12, 1 + i % 28),
            "at": datetime(2026, 12, 7, i % 24, i % 60, i % 60, 1000 * i % 10**6),
        }
        for i in range(n)
    ]


def stored(sessions) -> list[dict[str, object]]:
    with sessions() as s:
        got = s.execute(
            sa.select(Line.code, Line.price, Line.amount, Line.approved, Line.note, Line.day, Line.at).order_by(Line.id)
        )
        return [dict(r._mapping) for r in got]


@pytest.mark.parametrize("n", [1, 2, 37])
def test_rows_are_stored_exactly_and_in_the_order_given(sessions, n: int) -> None:
    first, second = rows(n), rows(n, start=n)
    with sessions() as s, s.begin():
        insert_rows(s, Line, first)
        insert_rows(s, Line, second)  # a second call of another size reuses the statement
    assert stored(sessions) == first + second


# SQLite does not enforce VARCHAR lengths (the service checks lengths before it writes)
@pytest.mark.parametrize("sessions", ["postgresql"], indirect=True)
def test_a_value_too_long_for_its_column_is_refused_and_nothing_is_written(sessions) -> None:
    bad = rows(3)
    bad[1]["code"] = "C12345"  # six characters for VARCHAR(5)
    with pytest.raises(DataError), sessions() as s, s.begin():
        insert_rows(s, Line, bad)
    assert stored(sessions) == []
