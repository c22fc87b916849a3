{{
    config(
        materialized='incremental',
        unique_key='sale_date',
        incremental_strategy='delete+insert',
        pre_hook="{{ delete_run_days('sale_date') }}",
    )
}}

-- Sales per day and seller, with the seller's name (top sellers, the 7-day seller marts).

with

silver_sales as (

    select * from {{ ref('silver_sales') }}
    {{ in_run_window('sale_date') }}

),

silver_employees as (

    select * from {{ ref('silver_employees') }}

),

final as (

    select
        silver_sales.sale_date,
        silver_sales.seller_id,
        silver_employees.first_name || ' ' || silver_employees.last_name as seller_name,
        sum(silver_sales.sale_value)::numeric(14, 2) as revenue,
        sum(silver_sales.quantity)::bigint as items_sold,
        count(*)::bigint as sales_count
    from silver_sales
    inner join silver_employees on silver_sales.seller_id = silver_employees.employee_id
    group by
        silver_sales.sale_date,
        silver_sales.seller_id,
        silver_employees.first_name,
        silver_employees.last_name

)

select * from final

-- The seller's current name on every day, after a rename too (macros/dimensions.sql).
{{ config(post_hook="
    {{ refresh_dimension_names('seller_id', 'silver_employees', 'employee_id',
    {'seller_name': \"current_version.first_name || ' ' || current_version.last_name\"}) }}
") }}
