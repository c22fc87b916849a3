"""Customers deleted in the CRM are excluded from every campaign, like an opt-out of all channels.

The CRM API's DELETE soft-deletes a record (`deleted_at`): the person is no longer a customer to
contact. The ingest's Airbyte connector reads deletions but raw has no deletion column (raw keeps
the Airbyte shape the dbt models read, docs/ingest.md), so a customer landed on an earlier day
would stay in silver and in the cross-sell audience. The campaign therefore copies the CRM's
deleted customers at its consent step, from the CRM itself like its opt-outs (freshest source,
same `crm` connection), into campaign.crm_deleted_customers, and consent_exclusions reads them as
one more `union all`: the audience model and the send-time check keep reading that view only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OPT_OUTS = """
select
    customer_id,
    channel,
    reason,
    source,
    created_at
from campaign.opt_outs
union all
select
    customer_id,
    channel,
    coalesce(reason, 'opted out in the CRM') as reason,
    'crm' as source,
    created_at
from campaign.crm_opt_outs
where customer_id is not null"""

_DELETED = """
union all
select
    customer_id,
    'all' as channel,
    'deleted in the CRM' as reason,
    'crm' as source,
    deleted_at as created_at
from campaign.crm_deleted_customers"""


def upgrade() -> None:
    op.execute(
        """
        create table if not exists campaign.crm_deleted_customers (
            customer_id bigint primary key,
            deleted_at timestamptz not null,
            synced_at timestamptz not null default now()
        )
        """
    )
    op.execute(
        "comment on table campaign.crm_deleted_customers is"
        " 'Customers soft-deleted in the CRM, copied at each campaign''s consent step (replaced whole)'"
    )
    op.execute(f"create or replace view campaign.consent_exclusions as {_OPT_OUTS}{_DELETED}")


def downgrade() -> None:
    op.execute(f"create or replace view campaign.consent_exclusions as {_OPT_OUTS}")
    op.execute("drop table if exists campaign.crm_deleted_customers")
