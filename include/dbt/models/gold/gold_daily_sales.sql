with

silver_sales as (

    select * from {{ ref('silver_sales') }}

),

final as (

    select
        sale_date,
        sum(sale_value)::numeric(14, 2) as revenue,
        sum(quantity)::bigint as items_sold,
        count(*)::bigint as sales_count
    from silver_sales
    group by sale_date

)

select * from final
