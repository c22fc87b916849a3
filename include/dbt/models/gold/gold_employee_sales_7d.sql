-- The original mart: each seller's revenue, items and transactions over the 7 days ending on the
-- logical date, with the seller's name (sellers without sales in the window are listed with 0).

with

daily_seller_sales as (

    select * from {{ ref('gold_daily_seller_sales') }}
    where sale_date between {{ add_days(logical_date(), -6) }} and {{ logical_date() }}

),

sellers as (

    select * from {{ ref('silver_employees') }}
    where
        job_title in ('Vendedor', 'Gerente de Vendas')
        and hire_date <= {{ logical_date() }}
        and (termination_date is null or termination_date > {{ add_days(logical_date(), -7) }})

),

final as (

    select
        sellers.employee_id as seller_id,
        sellers.first_name || ' ' || sellers.last_name as seller_name,
        coalesce(sum(daily_seller_sales.revenue), 0)::numeric(14, 2) as revenue,
        coalesce(sum(daily_seller_sales.items_sold), 0)::bigint as items_sold,
        coalesce(sum(daily_seller_sales.sales_count), 0)::bigint as transaction_count
    from sellers
    left join daily_seller_sales on sellers.employee_id = daily_seller_sales.seller_id
    group by sellers.employee_id, sellers.first_name, sellers.last_name

)

select * from final
