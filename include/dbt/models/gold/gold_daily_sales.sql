{{
    config(
        materialized='incremental',
        unique_key='sale_date',
        incremental_strategy='delete+insert',
        pre_hook="{{ delete_run_days('sale_date') }}",
    )
}}

-- Revenue, items and number of sales per day (the dashboard's sales-over-time chart and KPIs).

with

silver_sales as (

    select * from {{ ref('silver_sales') }}
    {{ in_run_window('sale_date') }}

),

final as (

    select
        sale_date,
        sum(sale_value)::numeric(14, 2) as revenue,
        sum(quantity)::bigint as items_sold,
        count(*)::bigint as sales_count,
        count(distinct product_id)::bigint as distinct_products,
        count(distinct customer_id)::bigint as distinct_customers
    from silver_sales
    group by sale_date

)

select * from final
