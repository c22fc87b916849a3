"""API keys get a scope: `standard` (every key so far) or `admin` (may also read soft-deleted records).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The default gives every existing key the ordinary scope: none gains a right by the migration.
    op.add_column(
        "api_keys",
        sa.Column("scope", sa.Text(), server_default=sa.text("'standard'"), nullable=False),
        schema="crm",
    )
    op.create_check_constraint(
        "api_keys_scope_check", "api_keys", "scope in ('standard', 'admin')", schema="crm"
    )


def downgrade() -> None:
    op.drop_constraint("api_keys_scope_check", "api_keys", schema="crm", type_="check")
    op.drop_column("api_keys", "scope", schema="crm")
