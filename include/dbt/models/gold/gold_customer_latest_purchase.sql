{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="
            delete from {{ this }} as recorded
            where
                recorded.sale_date > {{ logical_date() }}
                or (
                    recorded.sale_date >= {{ since_date() }}
                    and not exists (
                        select from {{ ref('silver_sales') }} as sales
                        where sales.sale_id = recorded.sale_id and sales.sale_date <= {{ logical_date() }}
                    )
                )
        ",
    )
}}

-- Cross-sell input: each customer's most recent purchase up to the logical date (ties on the same
-- instant: the higher sale id), with the product and its category.
--
-- Incremental, so a daily run costs the day, not the sales history. After a run over
-- [since_date, logical_date] only these customers can have another answer:
-- - those who bought in the window: their latest purchase is their latest in the window (it is
--   the most recent stretch up to the logical date), read from the window's rows alone;
-- - those who bought after the logical date (a backfill of an older day) or whose recorded
--   purchase lies in the window but who bought nothing there now: each is looked up in silver
--   through its (customer_id, sold_at) index, one row each.
-- Everyone else's latest purchase is older than the window and unchanged. A backfill of an old day
-- therefore leaves the table as of that day. The post-hook drops what no longer holds: purchases
-- after the logical date, and purchases silver no longer has, for customers left with nothing.

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
        where sale_date between {{ since_date() }} and {{ logical_date() }}

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

    customers_to_look_up as (

        select later.customer_id
        from sales as later
        where later.sale_date > {{ logical_date() }}
        union
        select recorded.customer_id
        from {{ this }} as recorded
        where recorded.sale_date >= {{ since_date() }}
        except
        select window_latest.customer_id
        from window_latest

    ),

    looked_up as (

        select found.*
        from customers_to_look_up
        cross join lateral (
            select
                history.customer_id,
                history.sale_id,
                history.product_id,
                history.sale_date,
                history.sold_at
            from sales as history
            where
                history.customer_id = customers_to_look_up.customer_id
                and history.sale_date <= {{ logical_date() }}
            order by history.sold_at desc, history.sale_id desc
            limit 1
        ) as found

    ),

    latest as (

        select * from window_latest
        union all
        select * from looked_up

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
