-- New customers per day: customers whose first purchase (on the store's calendar) falls on that
-- day, up to the logical date. A customer is new once, so a period's new customers are the sum
-- of its days (the assistant's "clientes novos esta semana"); the day's returning customers are
-- gold_daily_sales.distinct_customers minus these.
--
-- A table rebuilt each run: a late or re-dated sale can move a customer's first day backwards,
-- which changes a day the run did not load, and one pass over silver.sales' (customer_id,
-- sold_at) index per run is cheap next to tracking that incrementally.

with

sales as (

    select * from {{ ref('silver_sales') }}
    where sale_date <= {{ logical_date() }}

),

first_purchases as (

    select
        customer_id,
        min(sale_date) as first_purchase_date
    from sales
    group by customer_id

),

final as (

    select
        first_purchase_date as sale_date,
        count(*)::bigint as new_customers
    from first_purchases
    group by first_purchase_date

)

select * from final
