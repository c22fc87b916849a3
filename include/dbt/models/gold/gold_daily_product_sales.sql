{{
    config(
        materialized='incremental',
        unique_key='sale_date',
        incremental_strategy='delete+insert',
        pre_hook="{{ delete_run_days('sale_date') }}",
    )
}}

-- Sales per day and product (sales by product, the 7-day and 30-day product marts).

with

silver_sales as (

    select * from {{ ref('silver_sales') }}
    {{ in_run_window('sale_date') }}

),

silver_products as (

    select * from {{ ref('silver_products') }}

),

final as (

    select
        silver_sales.sale_date,
        silver_sales.product_id,
        silver_products.product_name,
        silver_products.category,
        sum(silver_sales.sale_value)::numeric(14, 2) as revenue,
        sum(silver_sales.quantity)::bigint as items_sold,
        count(*)::bigint as sales_count,
        sum(case when not silver_sales.is_value_outlier then silver_sales.sale_value end)::numeric(14, 2)
            as revenue_without_outliers,
        count(case when not silver_sales.is_value_outlier then 1 end)::bigint as sales_without_outliers
    from silver_sales
    inner join silver_products on silver_sales.product_id = silver_products.product_id
    group by
        silver_sales.sale_date,
        silver_sales.product_id,
        silver_products.product_name,
        silver_products.category

)

select * from final

-- The product's current name and category on every day, after a rename too (macros/dimensions.sql).
{{ config(post_hook="
    {{ refresh_dimension_names('product_id', 'silver_products', 'product_id',
    {'product_name': 'current_version.product_name', 'category': 'current_version.category'}) }}
") }}
