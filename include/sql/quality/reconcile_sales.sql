-- Reconciliation of one data day's sales, raw against silver (the gate's `reconcile_sales` suite).
--
-- Checked keys: every sale of raw.sales dated on the day (Brasília calendar) and every sale the
-- day's loads delivered whatever its date (a late record): loader rows stamped with the day,
-- Airbyte rows (no stamp) extracted in [airbyte_from, airbyte_until), an open end when null.
-- raw.sales holds no quarantined record (those are in raw.quarantine), so every key must reach
-- silver. A key's expected version is its winning raw row among the rows of its business day:
-- latest extraction, then the highest _airbyte_raw_id (silver's own precedence).
--
-- One row per problem, key ascending: `missing` (not in silver), `duplicated` (more than once),
-- `outdated` (in silver, not at its latest version), `extra` (a silver sale of the day that raw
-- does not date on the day); then one `checked` row whose detail counts the checked keys.
-- Index use: raw.sales by "date" and by _liftoff_logical_date, silver.sales by sale_id and sale_date.
with

dated as (

    select raw_sales.sale_id
    from raw.sales as raw_sales
    where
        raw_sales.date >= %(day)s::date::timestamp at time zone 'America/Sao_Paulo'
        and raw_sales.date < (%(day)s::date + 1)::timestamp at time zone 'America/Sao_Paulo'

),

loaded as (

    select
        raw_sales.sale_id,
        (raw_sales.date at time zone 'America/Sao_Paulo')::date as sale_date
    from raw.sales as raw_sales
    where raw_sales._liftoff_logical_date = %(day)s::date

    union all

    select
        raw_sales.sale_id,
        (raw_sales.date at time zone 'America/Sao_Paulo')::date as sale_date
    from raw.sales as raw_sales
    where
        raw_sales._liftoff_logical_date is null
        and raw_sales._airbyte_extracted_at >= %(airbyte_from)s::timestamptz
        and raw_sales._airbyte_extracted_at < coalesce(%(airbyte_until)s::timestamptz, 'infinity')

),

checked as (

    select dated.sale_id from dated
    union
    select loaded.sale_id from loaded

),

checked_days as (

    select %(day)s::date as sale_date
    union
    select loaded.sale_date from loaded

),

candidates as (

    select
        day_rows.sale_id,
        day_rows.customer_id,
        day_rows.product_id,
        day_rows.seller_id,
        day_rows.quantity,
        day_rows.price,
        day_rows.sold_at,
        day_rows._liftoff_logical_date,
        day_rows._airbyte_extracted_at,
        day_rows._airbyte_raw_id
    from checked_days
    cross join
        lateral (

            -- One index range scan per checked day ("offset 0" keeps the planner from folding the
            -- days into a single join over the whole of raw.sales).
            select
                raw_sales.sale_id,
                raw_sales.customer_id,
                raw_sales.product_id,
                raw_sales.seller_id,
                raw_sales.quantity,
                raw_sales.price,
                raw_sales.date as sold_at,
                raw_sales._liftoff_logical_date,
                raw_sales._airbyte_extracted_at,
                raw_sales._airbyte_raw_id
            from raw.sales as raw_sales
            where
                raw_sales.date >= checked_days.sale_date::timestamp at time zone 'America/Sao_Paulo'
                and raw_sales.date < (checked_days.sale_date + 1)::timestamp at time zone 'America/Sao_Paulo'
            offset 0  -- noqa: AM09

        ) as day_rows
    where day_rows.sale_id in (select checked.sale_id from checked)

),

latest as (

    select distinct on (candidates.sale_id)
        candidates.sale_id,
        candidates.customer_id::bigint as customer_id,
        candidates.product_id::bigint as product_id,
        candidates.seller_id::bigint as seller_id,
        candidates.quantity::integer as quantity,
        candidates.price::numeric(12, 2) as sale_value,
        candidates.sold_at,
        (candidates.sold_at at time zone 'America/Sao_Paulo')::date as sale_date,
        candidates._liftoff_logical_date as loaded_on
    from candidates
    order by
        candidates.sale_id asc,
        candidates._airbyte_extracted_at desc,
        candidates._airbyte_raw_id desc

),

silver_rows as (

    select
        silver_sales.sale_id,
        silver_sales.customer_id,
        silver_sales.product_id,
        silver_sales.seller_id,
        silver_sales.quantity,
        silver_sales.sale_value,
        silver_sales.sold_at,
        silver_sales.sale_date
    from silver.sales as silver_sales
    where
        silver_sales.sale_id = any(array(select checked.sale_id from checked))
        or silver_sales.sale_date = %(day)s::date

),

problems as (

    select
        'missing' as problem,
        latest.sale_id,
        jsonb_build_object('sale_date', latest.sale_date, 'loaded_on', latest.loaded_on) as detail
    from latest
    where
        not exists (
            select from silver_rows
            where silver_rows.sale_id = latest.sale_id
        )

    union all

    select
        'duplicated' as problem,
        silver_rows.sale_id,
        jsonb_build_object('sale_date', min(silver_rows.sale_date), 'copies', count(*)) as detail
    from silver_rows
    group by silver_rows.sale_id
    having count(*) > 1

    union all

    select
        'outdated' as problem,
        latest.sale_id,
        jsonb_build_object(
            'sale_date', latest.sale_date, 'raw', to_jsonb(latest), 'silver', to_jsonb(silver_rows)
        ) as detail
    from latest
    inner join silver_rows on latest.sale_id = silver_rows.sale_id
    where
        (
            latest.customer_id, latest.product_id, latest.seller_id, latest.quantity,
            latest.sale_value, latest.sold_at, latest.sale_date
        ) is distinct from (
            silver_rows.customer_id, silver_rows.product_id, silver_rows.seller_id, silver_rows.quantity,
            silver_rows.sale_value, silver_rows.sold_at, silver_rows.sale_date
        )

    union all

    select
        'extra' as problem,
        silver_rows.sale_id,
        jsonb_build_object('sale_date', silver_rows.sale_date) as detail
    from silver_rows
    where
        silver_rows.sale_date = %(day)s::date
        and not exists (
            select from dated
            where dated.sale_id = silver_rows.sale_id
        )

)

select
    problems.problem,
    problems.sale_id as natural_key,
    problems.detail
from problems

union all

select
    'checked' as problem,
    null::bigint as natural_key,
    jsonb_build_object('keys', count(*)) as detail
from checked

order by problem, natural_key
