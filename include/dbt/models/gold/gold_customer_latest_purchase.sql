{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="
            delete from {{ this }} as recorded
            where
                (recorded.sale_date > {{ logical_date() }} or {{ run_day_condition('recorded.sale_date') }})
                and not exists (
                    select 1 from {{ ref('silver_sales') }} as sales
                    where
                        sales.sale_id = recorded.sale_id
                        and sales.customer_id = recorded.customer_id
                        and sales.sale_date <= {{ logical_date() }}
                )
        ",
    )
}}

-- Cross-sell input: each customer's most recent purchase up to the logical date (ties on the same
-- instant: the higher sale id), with the product and its category.
--
-- Incremental, so a daily run costs the day, not the sales history. The table held each
-- customer's latest purchase as of an earlier run; since then silver changed on the run days
-- only (run_days: the days loaded since, late sales included) and gained the days after the
-- newest purchase the table holds. The run reads those days' sales ("the window", up to the
-- logical date) and decides per customer:
-- - a recorded purchase on an unchanged day, not after the logical date, still holds: the answer
--   is the later of it and the customer's latest in the window (a late sale is usually older);
-- - a recorded purchase on a run day settles by the window when the window's latest is as recent
--   (no unchanged day after the recorded one had a purchase of the customer);
-- - otherwise (a purchase after the logical date, a backfill of an older day; or the recorded
--   purchase gone) the customer is looked up in silver through its (customer_id, sold_at) index.
-- Customers with neither a window purchase nor an outdated record keep their row. A backfill of
-- an old day therefore leaves the table as of that day. The post-hook drops the rows left with
-- nothing: purchases after the logical date or gone from silver, for customers with no other.

with

sales as (

    select * from {{ ref('silver_sales') }}

),

products as (

    select * from {{ ref('silver_products') }}

),

{% if is_incremental() %}

    window_sales as (

        select * from sales
        where
            sale_date <= {{ logical_date() }}
            and (
                {{ run_day_condition('sale_date') }}
                or sale_date
                > (select coalesce(max(newest.sale_date), '-infinity'::date) from {{ this }} as newest)
            )

    ),

    window_latest as (

        select distinct on (customer_id)
            customer_id,
            sale_id,
            product_id,
            sale_date,
            sold_at
        from window_sales
        order by customer_id asc, sold_at desc, sale_id desc

    ),

    recorded as (

        select
            recorded.customer_id,
            recorded.sale_id,
            recorded.product_id,
            recorded.sale_date,
            recorded.sold_at,
            (
                recorded.sale_date > {{ logical_date() }} or {{ run_day_condition('recorded.sale_date') }}
            ) as outdated
        from {{ this }} as recorded
        where
            recorded.sale_date > {{ logical_date() }}
            or {{ run_day_condition('recorded.sale_date') }}
            or recorded.customer_id in (select window_latest.customer_id from window_latest)

    ),

    checked as (

        select
            recorded.*,
            recorded.outdated
            and (
                recorded.sale_date > {{ logical_date() }}
                or window_latest.customer_id is null
                or window_latest.sale_date < recorded.sale_date
            ) as needs_look_up
        from recorded
        left join window_latest on recorded.customer_id = window_latest.customer_id

    ),

    looked_up as (

        select found.*
        from checked
        cross join
            lateral (
                select
                    history.customer_id,
                    history.sale_id,
                    history.product_id,
                    history.sale_date,
                    history.sold_at
                from sales as history
                where
                    history.customer_id = checked.customer_id
                    and history.sale_date <= {{ logical_date() }}
                order by history.sold_at desc, history.sale_id desc
                limit 1
            ) as found
        where checked.needs_look_up

    ),

    candidates as (

        select * from window_latest
        where
            not exists (
                select 1 from checked
                where checked.customer_id = window_latest.customer_id and checked.needs_look_up
            )
        union all
        select
            customer_id,
            sale_id,
            product_id,
            sale_date,
            sold_at
        from checked
        where not outdated
        union all
        select * from looked_up

    ),

    latest as (

        select distinct on (customer_id) *
        from candidates
        order by customer_id asc, sold_at desc, sale_id desc

    ),

{% else %}

    latest as (

        select distinct on (customer_id)
            customer_id,
            sale_id,
            product_id,
            sale_date,
            sold_at
        from sales
        where sale_date <= {{ logical_date() }}
        order by customer_id asc, sold_at desc, sale_id desc

    ),

{% endif %}

final as (

    select
        latest.customer_id,
        latest.sale_id,
        latest.product_id,
        products.product_name,
        products.category,
        latest.sale_date,
        latest.sold_at
    from latest
    inner join products on latest.product_id = products.product_id

)

select * from final

-- The product's current name and category, after a rename too (macros/dimensions.sql).
{{ config(post_hook="
    {{ refresh_dimension_names('product_id', 'silver_products', 'product_id',
    {'product_name': 'current_version.product_name', 'category': 'current_version.category'}) }}
") }}
