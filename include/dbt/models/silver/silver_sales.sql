{{
    config(
        materialized='incremental',
        unique_key='sale_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ delete_run_days('sale_date') }}",
        indexes=[
            {'columns': ['sale_date']},
            {'columns': ['sale_id'], 'unique': True},
            {'columns': ['customer_id', 'sold_at']},
        ],
    )
}}

-- One row per sale, deduplicated, dated on the store's calendar (Brasília), flagged when its value
-- is an outlier for its product. Incremental by sale date: a run empties and rebuilds exactly its
-- run days (the `run_days` var: the days loads touched since the last transform, late ones
-- included, and the days whose outlier flags those change), so a daily run costs a day of sales,
-- a late sale costs its day, and a rerun replaces, never duplicates.
-- Indexes: sale_date for the window; a unique sale_id, so uniqueness over the whole history is
-- checked per inserted row (a sale its source re-dated fails the build naming the key) instead of
-- by a test scanning history every run; customer_id for the latest-purchase mart's lookups.
--
-- Outlier rule (per product, robust, not a fixed cap): a sale is an outlier when its value lies
-- above Q3 + 3 × IQR of that product's sale values over the 28 days ending on the sale's date,
-- given at least 8 such sales. The reference window depends on the sale's date only, so the flag
-- is the same whichever run computes it (daily, backfill or full refresh).

with

bronze_sales as (

    select * from {{ ref('bronze_sales') }}
    {% if is_incremental() %}
        -- Each run day and the 27 days before it feed the rule (28 days; keep in step with
        -- OUTLIER_REFERENCE_DAYS in liftoff/transform/window.py), by the sold_at index.
        where {{ within_reference_days('sold_at', 28) }}
    {% endif %}

),

dated as (

    select
        *,
        {{ store_date('sold_at') }} as sale_date
    from bronze_sales

),

deduplicated as (

    -- A sale extracted more than once keeps its latest extraction; two rows of one extraction
    -- (an Airbyte sync can write a sale twice; the embedded loader keeps one per key and day)
    -- by the higher raw row id, so the choice never depends on the plan. (The record's text
    -- would survive a reload too, but costs 5× this sort: measured on a million sales.)
    select distinct on (sale_id) *
    from dated
    order by sale_id asc, extracted_at desc, raw_id desc

),

in_window as (

    select * from deduplicated
    {% if is_incremental() %}
        where {{ run_day_condition('sale_date') }}
    {% endif %}

),

product_days as (

    select distinct
        product_id,
        sale_date
    from in_window

),

value_bounds as (

    select
        product_days.product_id,
        product_days.sale_date,
        count(*) as reference_sales,
        percentile_cont(0.25) within group (order by cast(reference.sale_value as double precision)) as q1,
        percentile_cont(0.75) within group (order by cast(reference.sale_value as double precision)) as q3
    from product_days
    inner join deduplicated as reference
        on
            product_days.product_id = reference.product_id
            and reference.sale_date
            between {{ add_days('product_days.sale_date', -27) }} and product_days.sale_date
    group by product_days.product_id, product_days.sale_date

),

final as (

    select
        -- ids
        in_window.sale_id,
        in_window.customer_id,
        in_window.product_id,
        in_window.seller_id,

        -- strings
        in_window.seller_email,
        in_window.customer_email,
        in_window.product_name,

        -- numerics
        in_window.unit_price,
        in_window.quantity,
        in_window.sale_value,

        -- booleans
        coalesce(
            value_bounds.reference_sales >= 8
            and in_window.sale_value > value_bounds.q3 + 3 * (value_bounds.q3 - value_bounds.q1),
            false
        ) as is_value_outlier,

        -- dates
        in_window.sale_date,

        -- timestamps
        in_window.sold_at

    from in_window
    left join value_bounds
        on
            in_window.product_id = value_bounds.product_id
            and in_window.sale_date = value_bounds.sale_date

)

select * from final
