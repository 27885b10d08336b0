"""The Alembic migrations build exactly the schema the models declare, on both backends: a model
changed without its migration (or the reverse) would let tests pass on one schema while a
production database, which only ever gets the migrations, has another."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import yibao.store.funding
import yibao.store.ledger  # noqa: F401  (their tables join Base.metadata)
from harness import database
from yibao.store.migrate import upgrade
from yibao.store.models import Base


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_build_the_models_schema(backend: str, tmp_path) -> None:
    with database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            upgrade(engine)
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
                indexes = {i["name"] for i in inspect(conn).get_indexes("fee_line")}
        finally:
            engine.dispose()
    assert diff == []
    # a look-up by visit uses the unique (mdtrt_id, feedetl_sn) index; the single-column one is gone
    assert "ix_fee_line_mdtrt_id" not in indexes and "ix_fee_line_setl_id" in indexes
