"""drop fee_line's single-column mdtrt_id index: the unique (mdtrt_id, feedetl_sn) index serves it

Every fee line inserted, and every line a settlement links (an UPDATE of ``setl_id``, an indexed
column, so a new index entry in every index of the table), paid for an index that the unique
constraint's index already provides: its leading column is ``mdtrt_id``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fee_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fee_line_mdtrt_id"))


def downgrade() -> None:
    with op.batch_alter_table("fee_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fee_line_mdtrt_id"), ["mdtrt_id"], unique=False)
