"""Alembic environment: run against the connection yibao passes in (see yibao.store.migrate)."""

from __future__ import annotations

from alembic import context

import yibao.store.funding
import yibao.store.ledger  # noqa: F401  (registers the ledger tables on Base.metadata)
from yibao.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only programmatic use is supported
    raise RuntimeError("run migrations through yibao.store.migrate.upgrade(engine)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
