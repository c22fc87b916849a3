-- Raw layer: the shape an Airbyte Postgres destination (Destinations V2) writes, so bronze models
-- read one shape whether Airbyte or the embedded loader filled the table:
--   _airbyte_raw_id, _airbyte_extracted_at, _airbyte_meta, _airbyte_generation_id + typed columns.
-- _liftoff_logical_date is the embedded loader's own partition key: a rerun for a logical date
-- replaces exactly the rows that date loaded (Airbyte-filled tables leave it null).
create schema if not exists raw;

create table if not exists raw.sales (
    _airbyte_raw_id uuid not null default gen_random_uuid(),
    _airbyte_extracted_at timestamptz not null,
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

create index if not exists sales_logical_date_idx on raw.sales (_liftoff_logical_date);
