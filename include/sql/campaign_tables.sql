-- Campaign state, kept in the warehouse next to the data it is computed from. Applied before
-- every load (liftoff.ingest.loader.ensure_raw_tables: dbt reads consent, Telegram links and the send log
-- as sources, so they exist before any transform) and by the campaign DAG's first task
-- (idempotent: create ... if not exists / or replace).
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
    source text not null,  -- noqa: RF04
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
    source,  -- noqa: RF04
    created_at
from campaign.opt_outs
union all
select
    customer_id,
    channel,
    coalesce(reason, 'opted out in the CRM') as reason,
    'crm' as source,  -- noqa: RF04
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
