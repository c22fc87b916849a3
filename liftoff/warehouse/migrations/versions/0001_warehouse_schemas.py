"""The warehouse's own schemas as they were before migrations: raw (Airbyte-shaped tables, the
quarantine, the load ledger), quality (the gate's findings) and campaign (its state and consent).

Until this revision the three were `create ... if not exists` files (include/sql/raw_tables.sql,
quality_tables.sql, campaign_tables.sql) applied before every load, gate and campaign. This
revision is their text at that point, statement for statement, and every statement is idempotent
(`if not exists`, `or replace`): on an empty warehouse it creates everything; on a warehouse those
files built it changes nothing (one built by an older version of them gets what they added since,
as their next run would have) and Alembic records the revision, so such a warehouse is adopted in
place and moves on with the next revisions, data kept.

Revision ID: 0001
Revises: (none: the first)
Create Date: 2026-12-02 03:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RAW = """
-- Raw layer: the shape an Airbyte Postgres destination (Destinations V2) writes, so bronze models
-- read one shape whether Airbyte or the embedded loader filled the table:
--   _airbyte_raw_id, _airbyte_extracted_at, _airbyte_meta, _airbyte_generation_id + typed columns.
-- _liftoff_logical_date is the embedded loader's own partition key: a rerun for a logical date
-- replaces exactly the rows that date loaded (Airbyte-filled rows leave it null).
-- Columns follow the contracts in liftoff/contracts/entities.py (a test keeps them in step).
create schema if not exists raw;

create table if not exists raw.suppliers (
    _airbyte_raw_id uuid not null default gen_random_uuid(),
    _airbyte_extracted_at timestamptz not null default now(),
    _airbyte_meta jsonb not null default '{"changes": []}',
    _airbyte_generation_id bigint,
    _liftoff_logical_date date,
    supplier_id bigint,
    company_name text,
    contact_name text,
    email text,
    phone_number text,
    website text,
    address text,
    product_categories text,
    primary_product text,
    created_at timestamptz,
    updated_at timestamptz
);

create table if not exists raw.products (
    _airbyte_raw_id uuid not null default gen_random_uuid(),
    _airbyte_extracted_at timestamptz not null default now(),
    _airbyte_meta jsonb not null default '{"changes": []}',
    _airbyte_generation_id bigint,
    _liftoff_logical_date date,
    product_id bigint,
    supplier_id bigint,
    name text,
    description text,
    categoria text,
    price numeric,
    email_fornecedor text,
    created_at timestamptz,
    updated_at timestamptz
);

create table if not exists raw.employees (
    _airbyte_raw_id uuid not null default gen_random_uuid(),
    _airbyte_extracted_at timestamptz not null default now(),
    _airbyte_meta jsonb not null default '{"changes": []}',
    _airbyte_generation_id bigint,
    _liftoff_logical_date date,
    employee_id bigint,
    manager_id bigint,
    first_name text,
    last_name text,
    email text,
    phone_number text,
    hire_date date,
    department_id bigint,
    job_title text,
    location text,
    gender text,
    nationality text,
    birth_date date,
    start_date date,
    termination_date date,
    salary numeric,
    created_at timestamptz,
    updated_at timestamptz
);

create table if not exists raw.customers (
    _airbyte_raw_id uuid not null default gen_random_uuid(),
    _airbyte_extracted_at timestamptz not null default now(),
    _airbyte_meta jsonb not null default '{"changes": []}',
    _airbyte_generation_id bigint,
    _liftoff_logical_date date,
    customer_id bigint,
    first_name text,
    last_name text,
    email text,
    phone_number text,
    city text,
    state text,
    telegram_chat_id bigint,
    created_at timestamptz,
    updated_at timestamptz
);

create table if not exists raw.sales (
    _airbyte_raw_id uuid not null default gen_random_uuid(),
    _airbyte_extracted_at timestamptz not null default now(),
    _airbyte_meta jsonb not null default '{"changes": []}',
    _airbyte_generation_id bigint,
    _liftoff_logical_date date,
    sale_id bigint,
    customer_id bigint,
    product_id bigint,
    seller_id bigint,
    email_employee text,
    email_customer text,
    first_name text,
    last_name text,
    phone_number text,
    name_product text,
    unit_price numeric,
    quantity bigint,
    price numeric,
    -- "date" is the CRM's own column name, kept as Airbyte would.
    date timestamptz,
    created_at timestamptz
);

-- Records that failed their contract: kept with every reason, never dropped.
create table if not exists raw.quarantine (
    quarantine_id bigserial primary key,
    entity text not null,
    natural_key text,
    field text not null,
    reason text not null,
    violations jsonb not null,
    payload jsonb,
    source_file text not null,
    logical_date date not null,
    run_id text not null,
    quarantined_at timestamptz not null default now()
);

create index if not exists suppliers_logical_date_idx on raw.suppliers (_liftoff_logical_date);
create index if not exists products_logical_date_idx on raw.products (_liftoff_logical_date);
create index if not exists employees_logical_date_idx on raw.employees (_liftoff_logical_date);
create index if not exists customers_logical_date_idx on raw.customers (_liftoff_logical_date);
create index if not exists sales_logical_date_idx on raw.sales (_liftoff_logical_date);
-- What dbt's incremental runs filter on: sales by time of sale, the rest by extraction time.
create index if not exists sales_sold_at_idx on raw.sales (date);
-- Sales Airbyte wrote (no load date), by extraction: the quality gate's reconciliation and the
-- Airbyte contract check find a sync's rows here; loader rows never enter this index.
create index if not exists sales_airbyte_extracted_at_idx on raw.sales (_airbyte_extracted_at)
where _liftoff_logical_date is null;
create index if not exists suppliers_extracted_at_idx on raw.suppliers (_airbyte_extracted_at);
create index if not exists products_extracted_at_idx on raw.products (_airbyte_extracted_at);
create index if not exists employees_extracted_at_idx on raw.employees (_airbyte_extracted_at);
create index if not exists customers_extracted_at_idx on raw.customers (_airbyte_extracted_at);
-- Keys other records reference: the loader checks references against them.
create index if not exists suppliers_key_idx on raw.suppliers (supplier_id);
create index if not exists products_key_idx on raw.products (product_id);
create index if not exists employees_key_idx on raw.employees (employee_id);
create index if not exists customers_key_idx on raw.customers (customer_id);
create index if not exists quarantine_entity_date_idx on raw.quarantine (entity, logical_date);

-- The load ledger: one row per (entity, logical date) partition, written in the transaction that
-- loads it. data_days are the business days (Brasília) whose records the load touched: for sales
-- the days of the sales it wrote or replaced, for the other entities the logical date. The
-- transform rebuilds the data days of every load it has not yet covered (transformed_at null):
-- a late or re-delivered record reaches silver and gold in the next transform, whatever its date.
-- A new load of the partition (a rerun, another Airbyte sync) makes it pending again.
create table if not exists raw.loads (
    entity text not null,
    logical_date date not null,
    run_id text not null,
    loaded_at timestamptz not null default clock_timestamp(),
    rows_loaded bigint not null,
    data_days date[] not null default '{}',
    transformed_at timestamptz,
    transform_run_id text,
    primary key (entity, logical_date)
);
"""

QUALITY = """
-- The quality gate's findings: one row per expectation of each suite for a logical date (the
-- latest run of that date replaces the earlier one), failing samples included, for analysts.
create schema if not exists quality;

create table if not exists quality.results (
    logical_date date not null,
    suite text not null,
    expectation text not null,
    column_name text,
    success boolean not null,
    observed_value jsonb,
    unexpected_count bigint,
    failing_samples jsonb,
    arguments jsonb not null,
    run_id text not null,
    checked_at timestamptz not null default now()
);

create index if not exists results_logical_date_idx on quality.results (logical_date, suite);
"""

CAMPAIGN = """
-- Campaign state, kept in the warehouse next to the data it is computed from. dbt reads consent,
-- Telegram links and the send log as sources: every load upgrades the warehouse first
-- (liftoff.ingest.loader.ensure_raw_tables), so they exist before any transform.
create schema if not exists campaign;

-- One row per campaign (a data day): what the DAG decided and when.
-- status: 'dry run' (only dry runs so far), 'planned', 'finished', 'skipped: stale day'.
create table if not exists campaign.campaigns (
    campaign_id text primary key,
    logical_date date not null,
    created_at timestamptz not null default now()
);
alter table campaign.campaigns
add column if not exists status text not null default 'planned',
add column if not exists status_detail text,
add column if not exists contact_cap_days integer not null default 7,
add column if not exists finished_at timestamptz;

-- The audience snapshot of a campaign: who gets which recommendation. Recipients' addresses
-- come from the CRM (silver.customers) only, never from copywriter output.
create table if not exists campaign.recipients (
    campaign_id text not null references campaign.campaigns (campaign_id),
    customer_id bigint not null,
    first_name text not null,
    customer_email text,
    telegram_chat_id bigint,
    last_sale_id bigint not null,
    last_product_name text not null,
    last_category text not null,
    recommended_product_id bigint not null,
    recommended_product_name text not null,
    recommended_description text,
    recommended_price numeric(12, 2) not null,
    segment_key text not null,
    batch_number integer not null,
    primary key (campaign_id, customer_id)
);

-- Each send task reads its batch: without this, every batch scanned the whole audience, and
-- sending slowed as the audience grew (464 e-mails/s at 9k recipients, 261/s at 91k).
create index if not exists recipients_batch on campaign.recipients (campaign_id, batch_number);

-- The copy of each segment (recommended product × category of the last purchase).
create table if not exists campaign.segment_copy (
    campaign_id text not null references campaign.campaigns (campaign_id),
    segment_key text not null,
    subject text not null,
    email_copy text not null,
    telegram_text text not null,
    copy_source text not null check (copy_source in ('llm', 'llm-cache', 'template')),
    fallback_reason text,
    primary key (campaign_id, segment_key)
);

-- The send log: at most one message per (campaign, customer, channel), ever.
-- pending: claimed for the campaign, not yet attempted; sending: handed to the server, outcome
-- not yet recorded; sent / failed / skipped: final.
create table if not exists campaign.send_log (
    campaign_id text not null references campaign.campaigns (campaign_id),
    customer_id bigint not null,
    channel text not null check (channel in ('email', 'telegram')),
    logical_date date not null,
    status text not null default 'pending'
    check (status in ('pending', 'sending', 'sent', 'failed', 'skipped')),
    detail text,
    message_id text,
    attempts integer not null default 0,
    updated_at timestamptz not null default now(),
    sent_at timestamptz,
    primary key (campaign_id, customer_id, channel)
);
-- Why a row is skipped (the summaries count each reason).
alter table campaign.send_log
add column if not exists skip_reason text
check (
    skip_reason in (
        'opted out', 'contact cap', 'already bought', 'no channel', 'stale day', 'not in audience'
    )
);

-- The contact cap counts messages by when they were sent, whatever day their campaign was for.
drop index if exists campaign.send_log_recent_contacts;
create index if not exists send_log_sent_at
on campaign.send_log (customer_id, sent_at) where status = 'sent';

-- Opt-outs recorded by the campaign's own unsubscribe link/command. channel 'all' covers both.
create table if not exists campaign.opt_outs (
    customer_id bigint not null,
    channel text not null check (channel in ('email', 'telegram', 'all')),
    reason text not null,
    source text not null,
    created_at timestamptz not null default now(),
    primary key (customer_id, channel)
);

-- The CRM's opt-outs (crm.opt_outs, entered through the CRM API), copied by the campaign's plan
-- step through the `crm` connection: replaced as a whole on each sync, so a withdrawn (deleted)
-- CRM opt-out disappears here too. An opt-out given by e-mail only is matched to the customer
-- with that address (customer_id null when none matches yet).
create table if not exists campaign.crm_opt_outs (
    opt_out_id bigint primary key,
    customer_id bigint,
    email text,
    channel text not null check (channel in ('email', 'telegram', 'all')),
    reason text,
    created_at timestamptz not null,
    synced_at timestamptz not null default now()
);

-- Every source of "do not contact", whichever door it came in by: the audience (dbt source) and
-- the send-time checks read this view only; a future import joins as one more `union all`.
create or replace view campaign.consent_exclusions as
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
where customer_id is not null;

-- Telegram chats linked outside the CRM (a bot's /start flow, support): they win over the CRM's
-- customers.telegram_chat_id. Filled by `python -m liftoff.campaign.telegram_links`.
create table if not exists campaign.telegram_links (
    customer_id bigint primary key,
    chat_id bigint not null,
    linked_at timestamptz not null default now()
);

-- LLM answers by prompt hash: the same prompt (segment, model, persona) is paid for once.
create table if not exists campaign.llm_cache (
    prompt_hash text primary key,
    llm_model text not null,
    response jsonb not null,
    created_at timestamptz not null default now()
);

-- Every LLM call a campaign made or avoided, with its tokens and cost (the budget reads it).
create table if not exists campaign.llm_calls (
    campaign_id text not null,
    segment_key text not null,
    prompt_hash text not null,
    llm_model text not null,
    outcome text not null,
    prompt_tokens integer not null default 0,
    completion_tokens integer not null default 0,
    cost_usd numeric(12, 6) not null default 0,
    created_at timestamptz not null default now()
);

-- Per campaign and channel, what it reached is the dbt model gold.campaign_summaries (built by the
-- campaign's summarise step). Before it was a dbt model it was a view over campaign.run_summaries:
-- drop that view (only if it is one) so dbt can create its table.
do $$
begin
    if exists (
        select from pg_catalog.pg_class as c
        inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
        where n.nspname = 'gold' and c.relname = 'campaign_summaries' and c.relkind = 'v'
    ) then
        drop view gold.campaign_summaries;
    end if;
end
$$;
"""


def upgrade() -> None:
    op.execute(RAW)
    op.execute(QUALITY)
    op.execute(CAMPAIGN)


def downgrade() -> None:
    raise NotImplementedError(
        "0001 adopts tables that may hold years of raw data and campaign history: "
        "it is never undone by dropping them"
    )
