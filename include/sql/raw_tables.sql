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
    name text,  -- noqa: RF04
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
    location text,  -- noqa: RF04
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
    date timestamptz,  -- noqa: RF04
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
